"""Which beads are lipids: heads and tails from the topology, and per-lipid vectors in a frame."""
from __future__ import annotations

import mdtraj
import numpy as np

from .pbc import box_of, minimum_image

#: Name of the first (lowest-index) bead of every lipid, and of no other molecule.
LIPID_HEAD = "H"


def is_lipid_residue(residue: mdtraj.core.topology.Residue) -> bool:
    """Whether an mdtraj residue is a lipid: its first atom is named ``H`` (:data:`LIPID_HEAD`)."""
    return residue.n_atoms > 0 and next(iter(residue.atoms)).name == LIPID_HEAD


def lipid_residues(top: mdtraj.Topology) -> np.ndarray:
    """(n_residues,) bool: which residues (molecules) are lipids (:func:`is_lipid_residue`), e.g. to
    take per-lipid values from per-molecule ones."""
    return np.fromiter((is_lipid_residue(r) for r in top.residues), bool, top.n_residues)


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
    is_lipid = names[order[start]] == LIPID_HEAD
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


def tail_ends(tails: np.ndarray) -> np.ndarray:
    """(n_lipids,) atom index of each lipid's last tail bead (the one nearest the bilayer midplane),
    from the padded ``tails`` of :func:`lipid_indices`."""
    return tails[np.arange(len(tails)), (tails >= 0).sum(axis=1) - 1]


def lipid_geometry(traj: mdtraj.Trajectory, heads: np.ndarray, tails: np.ndarray,
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


def lipid_mask(lipids: np.ndarray | None, n_frames: int, n_lipids: int) -> np.ndarray:
    """(n_frames, n_lipids) bool from None (all), a mask (n_lipids,) or (n_frames, n_lipids), or indices."""
    if lipids is None:
        return np.ones((n_frames, n_lipids), bool)
    a = np.asarray(lipids)
    if a.dtype == bool and a.shape in ((n_lipids,), (n_frames, n_lipids)):
        return np.broadcast_to(a, (n_frames, n_lipids))
    if a.dtype != bool and np.issubdtype(a.dtype, np.integer) and a.ndim == 1:
        if a.size and (a.min() < 0 or a.max() >= n_lipids):
            raise ValueError(f"lipids: indices must lie in [0, {n_lipids}) (got {a.min()} .. {a.max()})")
        mask = np.zeros(n_lipids, bool)
        mask[a] = True
        return np.broadcast_to(mask, (n_frames, n_lipids))
    raise ValueError(f"lipids: must be a bool mask of shape (n_lipids,) = ({n_lipids},) or (n_frames, n_lipids) = "
                     f"({n_frames}, {n_lipids}), or 1-D lipid indices; got a {a.dtype} array of shape {a.shape}")


def species_residues(top: mdtraj.Topology, species: str, lipids: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(atom indices, molecule number of each) of the residues named ``species`` that are not lipids
    (with ``lipids``: lipids too, e.g. a lipid-anchored cargo)."""
    res = [r for r in top.residues if r.name == species and r.n_atoms and (lipids or not is_lipid_residue(r))]
    if not res:
        names = sorted({r.name for r in top.residues})
        kind = "residue" if lipids else "non-lipid residue"
        raise ValueError(f"species: no {kind} named {species!r} in the topology "
                         f"(residue names present: {', '.join(names) or 'none'})")
    atoms = [np.array([a.index for a in r.atoms]) for r in res]
    return np.concatenate(atoms), np.repeat(np.arange(len(res)), [a.size for a in atoms])
