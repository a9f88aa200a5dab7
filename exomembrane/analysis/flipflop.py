"""Flip-flop: lipids that move from one leaflet of a membrane to the other."""
from __future__ import annotations

import mdtraj
import numpy as np

from .leaflets import assign_leaflets


def flip_flops(traj: mdtraj.Trajectory, leaflets: np.ndarray | None = None,
               workers: int | None = None) -> dict[str, np.ndarray | float]:
    """Count leaflet changes of each lipid in a trajectory of one bilayer (flat or closed).

    A flip-flop is a change of a lipid's leaflet label (0: upper/outer, 1: lower/inner, from
    :func:`assign_leaflets`) between the last frame it was assigned and the next frame it is;
    frames in which it is in neither (-1, part-way through) are skipped, so a lipid that lingers
    in the core and returns to its leaflet is not counted.

    Parameters
    ----------
    traj
        Trajectory of one membrane, nm.
    leaflets
        (n_frames, n_lipids) labels if already computed; default :func:`assign_leaflets`.

    Returns
    -------
    dict: ``flips`` (n_lipids,) int per lipid; ``total`` int; ``per_lipid_per_1000tau`` float, the
    rate (total / lipids / duration x 1000 tau; NaN for a single frame); ``fraction_flipped``
    float, lipids whose last leaflet differs from their first.

    Example
    -------
    >>> f = flip_flops(traj); f["per_lipid_per_1000tau"]
    """
    labels = assign_leaflets(traj, workers=workers) if leaflets is None else np.asarray(leaflets)
    if labels.shape[0] != traj.n_frames:
        raise ValueError(f"leaflets: {labels.shape[0]} frames, the trajectory has {traj.n_frames}")
    lab = np.where(np.isin(labels, (0, 1)), labels, -1)
    # carry the last assigned label forward over unassigned frames
    idx = np.where(lab >= 0, np.arange(lab.shape[0])[:, None], 0)
    np.maximum.accumulate(idx, axis=0, out=idx)
    held = np.take_along_axis(lab, idx, axis=0)
    flips = ((held[1:] != held[:-1]) & (held[:-1] >= 0) & (held[1:] >= 0)).sum(axis=0)
    duration = float(traj.time[-1] - traj.time[0]) if traj.n_frames > 1 else 0.0
    n = labels.shape[1]
    first = held[np.argmax(lab >= 0, axis=0), np.arange(n)]
    ever = (lab >= 0).any(axis=0)
    return {"flips": flips, "total": int(flips.sum()),
            "per_lipid_per_1000tau": float(flips.sum() / n / duration * 1000) if duration > 0 and n else np.nan,
            "fraction_flipped": float(((held[-1] != first) & ever).mean()) if n else np.nan}
