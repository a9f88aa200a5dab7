"""Which beads are lipids: heads and tails from the topology, and per-lipid vectors in a frame."""
from __future__ import annotations

import mdtraj
import numpy as np

from ._pbc import box_of, minimum_image


def lipid_indices(top: mdtraj.Topology) -> tuple[np.ndarray, np.ndarray]:
    """Head and tail bead indices of every lipid.

    A lipid is a residue whose first atom (lowest index) is named ``H``; its atoms named ``T...``
    are its tail beads, in index order (further head beads, ``H2``, ..., are neither). Other
    residues (proteins, cargo, ...) are ignored.

    Parameters
    ----------
    top
        The topology (e.g. ``traj.topology``).

    Returns
    -------
    heads
        (n_lipids,) int, atom index of each lipid's head bead, in residue order.
    tails
        (n_lipids, n_tail_max) int, atom indices of each lipid's tail beads, padded with -1 for
        lipids with fewer than ``n_tail_max`` tail beads.

    Example
    -------
    >>> heads, tails = lipid_indices(traj.topology)
    >>> tail_xyz = traj.xyz[:, tails[tails >= 0]]
    """
    names = np.array([a.name for a in top.atoms])
    res = np.fromiter((a.residue.index for a in top.atoms), dtype=np.int64, count=top.n_atoms)
    if res.size == 0:
        return np.empty(0, np.int64), np.empty((0, 0), np.int64)
    order = np.argsort(res, kind="stable")
    rs = res[order]
    start = np.flatnonzero(np.r_[True, rs[1:] != rs[:-1]])
    size = np.diff(np.r_[start, rs.size])
    is_lipid = names[order[start]] == "H"
    heads = order[start[is_lipid]]
    group = np.repeat(np.arange(start.size), size)
    sel = is_lipid[group] & np.char.startswith(names[order].astype(str), "T")
    count = np.cumsum(sel)
    rank = count - 1 - np.r_[0, count][start][group]  # index among the tail beads of its residue
    n_tail = np.bincount(group[sel], minlength=start.size)[is_lipid]
    tails = np.full((heads.size, int(n_tail.max(initial=0))), -1, np.int64)
    lipid_of_group = np.cumsum(is_lipid) - 1
    tails[lipid_of_group[group[sel]], rank[sel]] = order[sel]
    return heads, tails


def _lipid_geometry(traj: mdtraj.Trajectory, heads: np.ndarray, tails: np.ndarray,
                    frames: slice = slice(None)) -> tuple[np.ndarray, np.ndarray]:
    """(centre (F, L, 3), orientation (F, L, 3)) of each lipid in ``frames``.

    Periodic-safe: tail beads are taken at their minimum image from the head, so lipids split
    across the box boundary are whole. ``centre`` is the bead centroid (all Cooke beads have the
    same mass), near the head's image (may lie outside the box); ``orientation`` is the unit vector
    from the tail centroid to the head.
    """
    xyz = traj.xyz[frames]
    box = box_of(traj)[frames][:, None, None, :]
    h = xyz[:, heads].astype(np.float64)
    valid = tails >= 0
    d = minimum_image(xyz[:, np.where(valid, tails, heads[:, None])] - h[:, :, None], box)
    d *= valid[None, :, :, None]
    n_t = np.maximum(valid.sum(1), 1)[None, :, None]
    tail_sum = d.sum(2)
    centre = h + tail_sum / (n_t + 1)
    orient = -tail_sum / n_t
    orient /= np.maximum(np.linalg.norm(orient, axis=-1, keepdims=True), 1e-12)
    return centre, orient
