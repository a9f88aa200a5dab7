"""Orientational order of the lipids: the nematic order parameter and director per frame."""
from __future__ import annotations

import mdtraj
import numpy as np

from .selection import lipid_geometry, lipid_indices


def lipid_order(traj: mdtraj.Trajectory) -> tuple[np.ndarray, np.ndarray]:
    """Nematic order parameter S and director n of the lipid orientations (tail centroid -> head).

    S is the largest eigenvalue of Q = <(3 u u^T - I) / 2> over all lipids, n its eigenvector.
    A flat bilayer (both leaflets, any undulation small) has S near 1 whichever way it lies in
    the box; a lipid gas or spherical micelles near 0; S falls as a membrane melts or crumples.
    Closed vesicles also give ~0 (their lipids point every way): use it for sheets.

    Returns
    -------
    S
        (n_frames,) float in [-0.5, 1].
    director
        (n_frames, 3) unit vectors, sign arbitrary.

    Example
    -------
    >>> s, n = lipid_order(traj); flat = s > 0.8
    """
    heads, tails = lipid_indices(traj.topology)
    if heads.size == 0:
        raise ValueError("traj: has no lipids (residues whose first atom is named H)")
    _, u = lipid_geometry(traj, heads, tails)
    q = 1.5 * np.einsum("fli,flj->fij", u, u) / heads.size - 0.5 * np.eye(3)
    values, vectors = np.linalg.eigh(q)
    return values[:, -1], vectors[:, :, -1]
