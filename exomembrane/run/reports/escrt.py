"""Report of an MVB patch with ESCRT-III-like filaments: the filament's shape per frame (radius,
pitch, tilt, bound subunits) and the stage timeline of the membrane under it (flat, buckled, bud,
neck, fission), printed by ``exomembrane analyze``."""
from __future__ import annotations

from typing import Any

import numpy as np

from exomembrane.analysis.escrt import STAGES, filament_shape, first_times, stages
from exomembrane.analysis.selection import lipid_indices
from exomembrane.run.report import Part, RunData, finite, report
from exomembrane.run.reports.budding import budding_of

LABELS = {"filament_radius": "filament radius (sigma)", "filament_pitch": "filament pitch (sigma/turn)",
          "filament_tilt": "filament tilt (deg)", "filament_bound": "bound subunits",
          "filament_assembled": "subunits still joined"}


def escrt_report(e: dict[str, Any]) -> str:
    """The stage timeline and the filament's last shape, from ``summary["escrt"]``."""
    def num(x: float | None, fmt: str) -> str:
        return "-" if x is None else format(x, fmt)

    times = ", ".join(f"{name} {'-' if t is None else f'{t:.0f} tau'}" for name, t in e["stages"].items())
    shape = ("disassembled (fewer than 3 subunits joined)" if e["radius_sigma"] is None else
             f"radius {num(e['radius_sigma'], '.1f')} sigma, pitch {num(e['pitch_sigma'], '.1f')} sigma/turn, "
             f"tilt {num(e['tilt_deg'], '.0f')} deg")
    return "\n".join([
        f"ESCRT-III filament ({e['subunits']} subunits):",
        f"  stages          {times}",
        f"  last frame      {shape}; {e['assembled']} subunits joined, {e['bound']} bound"])


@report("mvb_patch", text=("escrt", escrt_report))
def escrt(run: RunData) -> Part:
    """Filament shape series and the ``escrt`` scalars of a patch run with filaments (none: nothing)."""
    if not getattr(run.scenario.builder, "filaments", None):
        return Part()
    f = run.scenario.build().filaments
    traj = run.traj
    lipid_head = lipid_indices(traj.topology)[0]
    first = f.subunits[f.filament == 0]
    names = [traj.topology.atom(int(i)).name for i in first[0]]
    binding = np.array([k for k, n in enumerate(names) if n.startswith("MB")])
    lumen = run.manifest["sides"]["lumen"]
    shape = filament_shape(traj, first, binding, lipid_head, lumen, f.contact + f.w)
    b = budding_of(run)
    fission = b.scission_frame if b.separation.event == "fission" else -1
    stage = stages(b.lumen_height, b.direction, b.neck_radius, fission)
    scalars = {"subunits": len(first), "stages": first_times(stage, traj.time),
               "stage_final": STAGES[int(stage[-1])], "lumen_height_max_sigma": finite(np.nanmax(b.lumen_height)),
               "radius_sigma": finite(shape.radius[-1]), "pitch_sigma": finite(shape.pitch[-1]),
               "tilt_deg": finite(shape.tilt[-1]), "bound": int(shape.bound[-1]),
               "assembled": int(shape.assembled[-1])}
    series = {"filament_radius": shape.radius, "filament_pitch": shape.pitch, "filament_tilt": shape.tilt,
              "filament_bound": shape.bound.astype(float), "filament_assembled": shape.assembled.astype(float)}
    return Part({"escrt": scalars}, series, LABELS)
