"""Analysis benchmark (``exomembrane bench --analysis``): wall time of each analysis function on a
synthetic ~100k-bead trajectory."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from exomembrane.bench.raw import Mode
from exomembrane.builders import bilayer
from exomembrane.model.forcefield import load_forcefield

#: Lateral size (sigma) of the analysed bilayer: ~100k beads.
SIZE = 141.0


def analysis_timings(size: float = SIZE, n_frames: int = 100, seed: int = 0) -> dict[str, float]:
    """Wall seconds of each analysis function on a synthetic trajectory of a bilayer of lateral
    ``size`` sigma (~100k beads at the default) with ``n_frames`` jittered frames.

    Returns
    -------
    dict
        ``beads`` and ``frames`` (as floats), then wall time (s) per analysis function name.
    """
    import mdtraj

    from exomembrane import analysis

    s = bilayer(load_forcefield(), size)
    rng = np.random.default_rng(seed)
    xyz = (s.positions[None] + rng.normal(scale=0.1, size=(n_frames, *s.positions.shape))).astype(np.float32)
    traj = mdtraj.Trajectory(xyz, s.to_mdtraj().topology, time=np.arange(n_frames) * 10.0,
                             unitcell_lengths=np.tile(s.box, (n_frames, 1)),
                             unitcell_angles=np.full((n_frames, 3), 90.0))
    calls: dict[str, Callable[[mdtraj.Trajectory], object]] = {
        "count_membranes": analysis.count_membranes, "assign_leaflets": analysis.assign_leaflets,
        "area_per_lipid": analysis.area_per_lipid, "bending_rigidity": analysis.bending_rigidity,
        "diffusion_coefficient": analysis.diffusion_coefficient, "vesicle_shape": analysis.vesicle_shape}
    out = {"beads": float(s.n_beads), "frames": float(n_frames)}
    for name, fn in calls.items():
        t0 = time.perf_counter()
        fn(traj)
        out[name] = time.perf_counter() - t0
    return out


def line(r: dict[str, Any]) -> str:
    """Title, then one line per analysis function with its wall seconds."""
    timings = {k: v for k, v in r.items() if k not in ("beads", "frames")}
    return "\n".join([f"analysis of {int(r['beads'])} beads x {int(r['frames'])} frames (wall s):",
                      *(f"  {name:<24}{seconds:8.2f}" for name, seconds in timings.items())])


def rows(platform: str | None, size: float, seconds: float, precision: str) -> list[dict[str, Any]]:
    """The one :func:`analysis_timings` row of ``size`` (sigma); platform, seconds and precision unused."""
    return [analysis_timings(size)]


def sizes(platform: str | None) -> tuple[float, ...]:
    """:data:`SIZE` (sigma)."""
    return (SIZE,)


MODE = Mode(name="analysis", help="time the analysis functions on a 100k-bead, 100-frame trajectory instead",
            rows=rows, sizes=sizes, header="", line=line, per_platform=False)
