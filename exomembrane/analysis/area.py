"""Area per lipid of a flat bilayer in the xy-plane."""
from __future__ import annotations

import mdtraj
import numpy as np

from .pbc import box_of
from .selection import lipid_indices


def area_per_lipid(traj: mdtraj.Trajectory, leaflets: np.ndarray | None = None) -> np.ndarray:
    """Projected area per lipid of a flat bilayer spanning the box in x and y.

    ``A_L = L_x L_y / N_leaflet`` with ``N_leaflet`` the mean number of lipids per leaflet.

    Parameters
    ----------
    traj
        Trajectory, nm, bilayer normal along z.
    leaflets
        Optional (n_frames, n_lipids) labels from :func:`assign_leaflets`: then
        ``N_leaflet = (N_0 + N_1) / 2`` counts lipids of leaflets 0 and 1 only (strays and other
        membranes excluded). Default: all lipids, ``N_leaflet = n_lipids / 2``.

    Returns
    -------
    (n_frames,) float, nm^2 (sigma^2) per lipid.

    Example
    -------
    >>> area_per_lipid(traj).mean()
    """
    box = box_of(traj)
    if leaflets is None:
        n = np.full(traj.n_frames, lipid_indices(traj.topology)[0].size / 2.0)
    else:
        leaflets = np.asarray(leaflets)
        if leaflets.shape[0] != traj.n_frames:
            raise ValueError(f"leaflets: shape {leaflets.shape} does not match {traj.n_frames} frames")
        n = ((leaflets == 0) | (leaflets == 1)).sum(axis=1) / 2.0
    with np.errstate(divide="ignore"):
        return box[:, 0] * box[:, 1] / n
