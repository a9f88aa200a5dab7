"""Report of an exosome-uptake run: the outcome with its time (unbound, bound, wrapped, engulfed,
merged), the wrapped fraction, contact area and ligand-receptor bonds against time."""
from __future__ import annotations

from typing import Any

import numpy as np

from exomembrane.analysis.uptake import STAGES, cargo_species, cargo_whereabouts, uptake
from exomembrane.run.plots import cut_open, figure, save
from exomembrane.run.report import Part, RunData, report

LABELS = {"uptake_stage": "uptake stage", "wrapped_fraction": "wrapped fraction of the exosome",
          "contact_area": "exosome-target contact area (sigma^2)", "bound_pairs": "ligand-receptor bonds"}


def uptake_report(s: dict[str, Any]) -> str:
    """A few lines from ``summary["uptake"]``: the outcome, when each stage was first reached, wrapping."""
    lines = [f"uptake (exosome at the target): {s['outcome']} from t = {s['outcome_tau']:.0f} tau"]
    lines += [f"  {stage:<9} " + ("never" if s["first_tau"][stage] is None else f"t = {s['first_tau'][stage]:.0f} tau")
              for stage in STAGES[1:]]
    most, last = s["wrapped_fraction_max"], s["wrapped_fraction_final"]
    lines.append(f"  wrapped   largest fraction {most:.2f}, final {last:.2f}; "
                 f"contact area largest {s['contact_area_max_sigma2']:.0f} sigma^2")
    lines.append(f"  bonds     largest {s['bound_pairs_max']}, final {s['bound_pairs_final']} ligand-receptor pairs")
    for name, where in s.get("cargo", {}).items():
        counts = ", ".join(f"{n} {place}" for place, n in where.items())
        lines.append(f"  cargo     {name}: {counts} (last frame)")
    if s.get("torn_frames"):
        lines.append(f"  torn      the exosome's membrane open (a pore, not merged) in {s['torn_frames']} frame(s)")
    if s.get("target_holed_frames"):
        lines.append("  holed     the target membrane open (a pore, or its two sides joined) in "
                     f"{s['target_holed_frames']} frame(s), first at "
                     f"t = {s['target_holed_first_tau']:.0f} tau")
    return "\n".join(lines)


@report("exosome_uptake", text=("uptake", uptake_report))
def uptake_part(run: RunData) -> Part:
    """Uptake series and the ``uptake`` scalars of an exosome-at-cell run, ``uptake.png`` and the last
    frame cut open (``uptake_cut.png``)."""
    membranes, membrane, _ = run.membranes
    names = [m.name for m in membranes]
    topo = run.topology
    assert topo is not None  # an exosome_uptake structure records its membranes
    exosome, target = membrane == names.index("exosome"), membrane == names.index("target")
    u = uptake(run.traj, exosome, target, topo)
    summary = {"outcome": u.outcome, "outcome_tau": u.outcome_tau, "first_tau": u.first_tau,
               "reached": {k: float(v is not None) for k, v in u.first_tau.items()},
               "ends": {k: float(u.outcome == k) for k in (*STAGES, "torn")},
               "torn_frames": int(u.torn.sum()),
               "target_holed_frames": int(u.target_holed.sum()),
               "target_holed_first_tau": float(u.time[np.argmax(u.target_holed)]) if u.target_holed.any() else None,
               "wrapped_fraction_max": float(u.wrapped_fraction.max()),
               "wrapped_fraction_final": float(u.wrapped_fraction[-1]),
               "contact_area_max_sigma2": float(u.contact_area.max()),
               "bound_pairs_max": int(u.bound_pairs.max()), "bound_pairs_final": int(u.bound_pairs[-1]),
               "stage_series": [STAGES[k] for k in u.stage],
               "cargo": cargo_whereabouts(run.traj, exosome, target, cargo_species(run.traj.topology))}
    fig, axes = figure(3, 7.0)
    axes[0].plot(u.time, u.stage, drawstyle="steps-post")
    axes[0].set_yticks(range(len(STAGES)), STAGES)
    axes[0].set_ylim(-0.5, len(STAGES) - 0.5)
    axes[0].set_ylabel("stage")
    axes[1].plot(u.time, u.wrapped_fraction)
    axes[1].set_ylim(0, 1)
    axes[1].set_ylabel("wrapped fraction")
    axes[2].plot(u.time, u.bound_pairs)
    axes[2].set_ylabel("ligand-receptor bonds")
    axes[2].set_xlabel("time (tau)")
    axes[0].set_title(f"{run.scenario.name}: uptake")
    series = {"uptake_stage": u.stage.astype(float), "wrapped_fraction": u.wrapped_fraction,
              "contact_area": u.contact_area, "bound_pairs": u.bound_pairs.astype(float)}
    plots = [save(fig, run.out / "uptake.png"), cut_open(run, -1, exosome, "uptake_cut.png")]
    return Part({"uptake": summary}, series, LABELS, plots)

