"""Report of an MVB–plasma-membrane fusion run: the stage timeline (separate, docked, stalk,
hemifusion, pore), pore radius, lipid and content mixing, ILV release with its times, leaks away
from the fusion site, and the release cut open with every compartment labelled."""
from __future__ import annotations

from typing import Any

import numpy as np

from exomembrane.analysis.fusion import STAGES, fusion_stages, leaks, lipid_mixing, release
from exomembrane.run.plots import cut_open, figure, save
from exomembrane.run.report import Part, RunData, finite, report

LABELS = {"stage": "fusion stage", "pore_radius": "fusion pore radius (sigma)",
          "contact_area": "PM-MVB contact area (sigma^2)", "mixing_proximal": "lipid mixing, cytosolic leaflets",
          "mixing_distal": "lipid mixing, luminal/extracellular leaflets", "released": "ILVs released"}


def fusion_report(s: dict[str, Any]) -> str:
    """A few lines from ``summary["fusion"]``: the stage timeline, the pore, release and leaks."""
    def at(t: float | None) -> str:
        return "never" if t is None else f"t = {t:.0f} tau"

    lines = [f"fusion ({s['first']} with {s['second']}): final stage {s['final_stage']}"]
    lines += [f"  {stage:<11} {at(s['first_tau'][stage])}" + (" (not seen in a frame of its own)" if s.get(
        "seen", {}).get(stage) == 0 and s["first_tau"][stage] is not None else "") for stage in STAGES[1:]]
    pore = f"largest {s['pore_radius_max_sigma']:.1f} sigma, final {s['pore_radius_final_sigma']:.1f} sigma"
    lines.append(f"  pore            {pore if s['pore_radius_max_sigma'] else 'none'}")
    lines.append(f"  lipid mixing    cytosolic leaflets {s['mixing_proximal_final']:.2f}, "
                 f"distal leaflets {s['mixing_distal_final']:.2f} (final)")
    lines.append(f"  content mixing  MVB lumen and extracellular space joined from {at(s['content_mixing_tau'])}")
    rel = s["release"]
    lines.append(f"  release         {rel['released_final']} of {rel['ilvs']} ILV(s) released and closed at the end"
                 + ("" if not rel["times_tau"] else ", first at " + ", ".join(
                     at(t) for t in rel["times_tau"])))
    for k, (built, kept) in enumerate(zip(rel.get("cargo_built", []), rel.get("cargo_released", []))):
        if kept is not None and built:
            lines.append(f"  cargo           ILV {k}: {kept} of its {built} cargo molecules with it when released")
    if rel["reopened"]:
        lines.append(f"  RELEASED ILV OPEN: {rel['reopened']} ILV(s) released closed were open later")
    if rel.get("closed_final", rel["ilvs"]) < rel["ilvs"]:
        lines.append(f"  ILV NOT CLOSED  {rel['ilvs'] - rel['closed_final']} of {rel['ilvs']} ILV(s) open or merged "
                     "with another membrane at the end")
    leak = s["leaks"]
    if leak["frames"]:
        what = ", ".join(f"{k.replace('|', ' and ')} joined in {v} frame(s)" for k, v in leak["joined"].items() if v)
        stray = f"pores in a membrane other than the fused one in {leak['stray_pore_frames']} frame(s)"
        lines.append(f"  LEAK            {what + '; ' if what else ''}{stray if leak['stray_pore_frames'] else ''}"
                     .rstrip("; "))
    else:
        lines.append("  leaks           none: no pore but the fusion pore, the cytosol sealed from every other "
                     "compartment")
    return "\n".join(lines)


@report("mvb_fusion", text=("fusion", fusion_report))
def fusion(run: RunData) -> Part:
    """Fusion series and the ``fusion`` scalars of an MVB-at-PM run, the stage/pore plot and the
    release cut open (``release.png``)."""
    membranes, membrane, leaflet = run.membranes
    faces = [m.faces for m in membranes]
    names = [m.name for m in membranes]
    first, second = names.index("plasma"), names.index("mvb")
    topo = run.topology
    assert topo is not None  # an mvb_fusion structure records its membranes
    traj = run.traj
    stages = fusion_stages(traj, faces, membrane, leaflet, first, second, topo=topo)
    rel = release(traj, faces, membrane, topo, plane=first)
    mixing = lipid_mixing(traj, membrane, leaflet, first, second)
    near = 0 if faces[first]["+z"] == "cytosol" else 1  # column of the PM leaflet facing the cytosol (0: upper)
    content = topo.leaky("mvb_lumen", "extracellular")
    leak = leaks(topo, membrane, first, second)
    released = rel.released
    # ILVs released closed that were open in a later frame
    reopened = sum(bool((~rel.closed[np.argmax(released[:, k]):, k]).any()) for k in np.flatnonzero(released.any(0)))
    summary = {
        "first": names[first], "second": names[second],
        "final_stage": STAGES[int(stages.stage[-1])],
        "first_tau": {stage: finite(stages.first(stage)) for stage in STAGES[1:]},
        "reached": {**{stage: int(np.isfinite(stages.first(stage))) for stage in STAGES[1:]},
                    "release": int(released.any())},
        # a stage seen in a frame of its own (hemifusion seen: a metastable diaphragm before the pore;
        # reached but not seen: passed between two frames, e.g. stalk -> pore directly)
        "seen": {stage: int((stages.stage == k).any()) for k, stage in enumerate(STAGES) if k},
        "stage_series": stages.names(),
        "pore_radius_max_sigma": float(stages.pore_radius.max(initial=0.0)),
        "pore_radius_final_sigma": float(stages.pore_radius[-1]),
        "contact_area_max_sigma2": float(stages.contact_area.max(initial=0.0)),
        "mixing_proximal_final": float(mixing[-1, near]),
        "mixing_distal_final": float(mixing[-1, 1 - near]),
        "content_mixing_tau": finite(float(traj.time[np.argmax(content)]) if content.any() else np.nan),
        "release": {"ilvs": len(rel.ilvs), "released_final": int(rel.count()[-1]),
                    "first_tau": finite(float(np.nanmin(rel.times())) if released.any() else np.nan),
                    "times_tau": [finite(t) for t in rel.times()], "reopened": reopened,
                    "closed_final": int(rel.closed[-1].sum()),
                    # per ILV: its cargo molecules (first frame), those with it when first released, at the end
                    "cargo_built": rel.cargo[0].tolist(),
                    "cargo_released": [int(rel.cargo[np.argmax(released[:, k]), k]) if released[:, k].any() else None
                                       for k in range(len(rel.ilvs))],
                    "cargo_final": rel.cargo[-1].tolist()},
        "leaks": {"frames": int(leak.any.sum()), "stray_pore_frames": int((leak.stray_pores > 0).sum()),
                  "joined": {k: int(v.sum()) for k, v in leak.joined.items()}},
    }
    plots = [_stage_plot(stages.time, stages.stage, stages.pore_radius, rel.count(), run)]
    frame = int(np.argmax(released.any(axis=1))) if released.any() else traj.n_frames - 1
    plots.append(_release_picture(run, frame, topo, second, bool(content[frame])))
    series = {"stage": stages.stage.astype(float), "pore_radius": stages.pore_radius,
              "contact_area": stages.contact_area, "mixing_proximal": mixing[:, near],
              "mixing_distal": mixing[:, 1 - near], "released": rel.count().astype(float)}
    return Part({"fusion": summary}, series, LABELS, plots)


def _stage_plot(time: np.ndarray, stage: np.ndarray, pore: np.ndarray, released: np.ndarray, run: RunData) -> Any:
    """``fusion.png``: the stage (steps, named), the fusion pore radius and the ILVs released against time."""
    fig, axes = figure(3, 7.0)
    axes[0].plot(time, stage, drawstyle="steps-post")
    axes[0].set_yticks(range(len(STAGES)), STAGES)
    axes[0].set_ylim(-0.5, len(STAGES) - 0.5)
    axes[0].set_ylabel("stage")
    axes[1].plot(time, pore)
    axes[1].set_ylabel("pore radius (sigma)")
    axes[2].plot(time, released, drawstyle="steps-post")
    axes[2].set_ylabel("ILVs released")
    axes[2].set_xlabel("time (tau)")
    axes[0].set_title(f"{run.scenario.name}: fusion")
    return save(fig, run.out / "fusion.png")


def _release_picture(run: RunData, frame: int, topo: Any, mvb: int, fused: bool) -> Any:
    """``release.png``: the run cut open through the fusion pore (``fused``) or else the centre of
    membrane ``mvb`` at ``frame``."""
    pores = topo.pores_of(frame)
    centre = max(pores, key=lambda p: p.radius).centre if fused and pores else None
    return cut_open(run, frame, run.membranes[1] == mvb, "release.png", centre)
