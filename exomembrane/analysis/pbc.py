"""Periodic boundaries (orthorhombic boxes only): box lengths of a trajectory, minimum images,
wrapping, periodic centres and neighbour trees. Every layer uses these; nothing else writes them."""
from __future__ import annotations

import mdtraj
import numpy as np
from scipy.spatial import cKDTree


def box_of(traj: mdtraj.Trajectory) -> np.ndarray:
    """(n_frames, 3) float64 box lengths in nm; ValueError if missing or not orthorhombic."""
    if traj.unitcell_lengths is None:
        raise ValueError("traj: has no unit cell; the analysis needs the periodic box "
                         "(pass unitcell_lengths and unitcell_angles to mdtraj.Trajectory)")
    if traj.unitcell_angles is not None and not np.allclose(traj.unitcell_angles, 90.0, atol=1e-3):
        raise ValueError("traj: unit cell angles must be 90 degrees (orthorhombic box); "
                         f"got {traj.unitcell_angles[0].tolist()}")
    return np.asarray(traj.unitcell_lengths, dtype=np.float64)


def minimum_image(d: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Displacements ``d`` (..., 3) folded into [-box/2, box/2) (box broadcasts against d)."""
    return d - box * np.round(d / box)


def wrap(x: np.ndarray, box: np.ndarray) -> np.ndarray:
    """Positions folded into [0, box) exactly (as scipy's periodic cKDTree requires)."""
    x = np.mod(x, box)
    return np.where(x >= box, 0.0, x)


def periodic_centre(x: np.ndarray, box: np.ndarray, labels: np.ndarray | None = None,
                    n_labels: int = 1) -> np.ndarray:
    """Centre of points in a periodic box, per label.

    Circular mean per axis (Bai & Breen 2008), then one refinement step: the mean of the minimum
    images around it (exact for any object smaller than half the box).

    x (n, 3), box (3,), labels (n,) in [0, n_labels) or None; returns (n_labels, 3).
    """
    lab = np.zeros(len(x), np.int64) if labels is None else labels
    theta = 2 * np.pi * x / box
    cnt = np.maximum(np.bincount(lab, minlength=n_labels), 1)[:, None]
    s = np.stack([np.bincount(lab, np.sin(theta[:, k]), n_labels) for k in range(3)], 1)
    c = np.stack([np.bincount(lab, np.cos(theta[:, k]), n_labels) for k in range(3)], 1)
    centre = (np.arctan2(-s, -c) + np.pi) * box / (2 * np.pi)
    d = minimum_image(x - centre[lab], box)
    shift = np.stack([np.bincount(lab, d[:, k], n_labels) for k in range(3)], 1) / cnt
    return centre + shift


def periodic_tree(points: np.ndarray, box: np.ndarray) -> cKDTree:
    """cKDTree of points (n, 3) nm in the periodic orthorhombic box (3,)."""
    return cKDTree(wrap(points, box), boxsize=box, balanced_tree=False, compact_nodes=False)
