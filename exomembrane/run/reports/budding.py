"""Report of an MVB membrane (ILV budding): bud height and direction from the recorded sides, neck
radius, scission, ILV diameter, cargo enrichment with its interval, and the membrane cut open."""
from __future__ import annotations

from typing import Any

import numpy as np

from exomembrane import analysis
from exomembrane.run.plots import save
from exomembrane.run.report import Part, RunData, finite, report
from exomembrane.run.section import cross_section

LABELS = {"bud_height": "bud height (sigma)", "neck_radius": "neck radius (sigma)",
          "ilv_diameter": "ILV diameter (sigma)", "parent_pore": "parent membrane's largest pore (sigma)"}


def budding_report(b: dict[str, Any]) -> str:
    """A few lines that tell what happened to the membrane, from ``summary["budding"]``."""
    def num(x: float | None, unit: str = " sigma") -> str:
        return "-" if x is None else f"{x:.1f}{unit}"

    lines = [f"budding (lumen on the {b['lumen']} side):",
             f"  bud height      {num(b['bud_height_max_sigma'])} (largest), direction: {b['direction']}",
             f"  neck radius     {num(b['neck_radius_min_sigma'])} (narrowest)",
             "  scission        " + (_torn(b) if b["scission_frame"] < 0 else
                                      f"at t = {b['scission_time_tau']:.0f} tau: "
                                      + ("a separate membrane" if b.get("ilv_closed") is False else "an ILV")
                                      + f" of diameter {num(b['ilv_diameter_sigma'])} in the {b['ilv_side']}")]
    if "event" in b:  # summaries written before the parent's leak was measured lack it
        if b["scission_frame"] >= 0:
            again = b.get("ilv_reopened_frames") or 0  # summaries written before it was measured lack it
            lines.append("  ILV             " + ("closed" if b["ilv_closed"] else
                                                 "OPEN: its two leaflets see one space (an open cup, not a vesicle)")
                         + (f"; open in {again} brief frame(s) after the scission (transient pores)" if again else ""))
        lines.append(f"  parent membrane {_parent(b)}")
    for name, e in b["enrichment"].items():
        low, high = e["ci"]  # JSON holds an infinite upper end (none left outside in a resample) as null
        ci = "-" if low is None else f"[{low:.2f}, " + ("inf]" if high is None else f"{high:.2f}]")
        leaked = f", {e['leaked']} leaked into the MVB lumen" if "leaked" in e else ""
        lines.append(f"  {name:<6} enrichment in the bud/ILV: {num(e['ratio'], '')} ({e['confidence']:.0%} CI {ci}, "
                     f"{e['molecules']} molecules, {e['kind']}{leaked})")
    return "\n".join(lines)


def _torn(b: dict[str, Any]) -> str:
    """No closed vesicle: none, or the piece that tore off and did not close."""
    t = b.get("torn_off_tau")  # summaries written before torn pieces were measured lack it
    return "none" if t is None else f"none; a piece of the bud TORE OFF at t = {t:.0f} tau and did not close"


def _parent(b: dict[str, Any]) -> str:
    """What happened to the parent membrane, named for what its topology shows."""
    event, start, end, pore = b["event"], b["leak_start_tau"], b["leak_end_tau"], b["largest_pore_sigma"]
    if start is None:
        return f"{event}: sealed in every frame" if event == "fission" else "sealed in every frame"
    leak = f"open from t = {start:.0f} tau to " + ("the end of the run" if end is None else f"t = {end:.0f} tau")
    if b.get("parent_open_frames") is not None:
        leak += f" in {b['parent_open_frames']} frames"
    if event == "fission":
        size = f"largest pore {pore:.1f} sigma" if pore > 0 else "no pore wider than the grid resolves"
        later = b.get("parent_reopened_frames") or 0
        again = f"; once sealed, open again in {later} brief frame(s)" if later else ""
        return f"fission: the neck's pore resealed ({leak}, {size}{again})"
    if event == "rupture" and not b["parent_resealed"]:
        return f"RUPTURE, not fission: {leak}, largest pore {pore:.1f} sigma (the lumen and cytosol are connected)"
    if event == "rupture":
        return f"rupture, not fission: {leak}, largest pore {pore:.1f} sigma"
    return f"{event}: {leak}, largest pore {pore:.1f} sigma"


def budding_scalars(b: analysis.BuddingSummary, lumen: str) -> dict[str, Any]:
    """The JSON scalars of ``summary["budding"]`` from a :func:`~exomembrane.analysis.budding_summary`
    of a membrane whose lumen lies on the ``lumen`` side."""
    sep = b.separation
    frame = b.scission_frame
    peak = int(np.nanargmax(b.bud_height))
    return {
        "lumen": lumen,
        "bud_height_max_sigma": float(np.nanmax(b.bud_height)),
        "direction": {1: "into the lumen", -1: "into the cytosol", 0: "none"}[int(b.direction[peak])],
        "neck_radius_min_sigma": None if np.all(np.isnan(b.neck_radius)) else float(np.nanmin(b.neck_radius)),
        "scission_frame": frame, "scission_time_tau": None if frame < 0 else b.scission_time,
        "ilv_side": {1: "lumen", -1: "cytosol", 0: None}[b.ilv_side],
        "ilv_diameter_sigma": None if frame < 0 else float(np.nanmean(b.ilv_diameter[frame:])),
        "event": sep.event, "leak_start_tau": finite(sep.leak_start), "leak_end_tau": finite(sep.leak_end),
        "leak_duration_tau": finite(sep.leak_duration), "largest_pore_sigma": sep.largest_pore,
        "parent_resealed": sep.resealed, "ilv_closed": sep.vesicle_closed if frame >= 0 else None,
        "parent_open_frames": int(sep.parent_open.sum()),
        "parent_reopened_frames": sep.reopened, "torn_off_tau": finite(sep.detached),
        "ilv_reopened_frames": b.ilv_reopened,
        "enrichment": {name: {"ratio": finite(e.ratio), "ci": [finite(v) for v in e.ci],
                              "confidence": e.confidence, "kind": e.kind, "molecules": e.n_molecules,
                              **({"leaked": b.leaked[name]} if name in b.leaked else {})}
                       for name, e in b.enrichment.items()},
    }


def budding_of(run: RunData) -> analysis.BuddingSummary:
    """The run's :func:`~exomembrane.analysis.budding_summary` (its placed molecules as cargo), computed once."""
    if "budding" not in run.shared:
        ff = run.scenario.load_forcefield()
        # soluble species (polymers, cargo) count inside the bud/ILV, even placed next to the membrane
        # (``at``); membrane and adsorbed proteins count on its membrane
        cargo = {p.species: "lumen" if p.where != "membrane" and (p.at is None or ff.get(p.species).kind in
                                                                 ("polymer", "cargo")) else "membrane"
                 for p in run.scenario.builder.placements().values()}
        # lipids that stand for cargo (a GPI-anchored protein, say) count on their membrane
        present = {r.name for r in run.traj.topology.residues}
        cargo |= {name: "membrane" for name, sp in ff.species.items() if sp.cargo and name in present}
        membranes, membrane, leaflet = run.membranes
        faces = [m.faces for m in membranes] or None
        run.shared["budding"] = analysis.budding_summary(run.traj, run.manifest["sides"]["lumen"], cargo,
                                                         topo=run.topology, membranes=faces,
                                                         membrane=membrane if faces else None,
                                                         leaflet=leaflet if faces else None)
    return run.shared["budding"]


@report("mvb_patch", "mvb_vesicle", text=("budding", budding_report))
def budding(run: RunData) -> Part:
    """Budding series and the ``budding`` scalars of an MVB run, and its cut-open picture (``section.png``)."""
    traj, scenario, sides = run.traj, run.scenario, run.manifest["sides"]
    lumen = sides["lumen"]
    b = budding_of(run)
    sep = b.separation
    scalars = budding_scalars(b, lumen)
    fig = cross_section(traj, -1, sides=sides, title=f"{scenario.name}: last frame, t = {traj.time[-1]:.0f} tau")
    series = {k: getattr(b, k) for k in ("bud_height", "neck_radius", "ilv_diameter")}
    series["parent_pore"] = sep.parent_pore
    return Part({"budding": scalars}, series, LABELS, [save(fig, run.out / "section.png")])
