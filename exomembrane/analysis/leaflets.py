"""Leaflets: connected sheets of similarly oriented head beads, labelled upper/outer first."""
from __future__ import annotations

import mdtraj
import numpy as np

from ._pbc import box_of, minimum_image, periodic_centre
from .clusters import components, periodic_tree, rank_components, tail_components
from .selection import _lipid_geometry, lipid_indices

#: A leaflet whose mean lipid orientation has at least this length is treated as flat (sheet
#: spanning the box): its side is the sign of that mean along its dominant axis (+z: upper).
#: Closed leaflets (vesicles) average to ~0 and are sided by pointing away from their centre.
PLANAR = 0.5
#: Neighbouring heads are in one leaflet only if their lipids' orientations are within ~45 degrees
#: (cos > 0.7): lipids half-way through a flip-flop (lying in the core) do not bridge the leaflets.
#: At 60 degrees a chain of tilted lipids still merged both leaflets of a 24 sigma tensionless
#: Cooke bilayer in 1 of 321 frames.
ALIGN = 0.7


def _frame_leaflets(head: np.ndarray, orient: np.ndarray, membrane: np.ndarray, box: np.ndarray,
                    cutoff: float, min_lipids: int) -> np.ndarray:
    n = len(head)
    tree = periodic_tree(head, box)
    comp = components(head, box, cutoff, np.arange(n), n, tree=tree,
                      keep=lambda i, j: np.einsum("ij,ij->i", orient[i], orient[j]) > ALIGN)
    n_comp = int(comp.max(initial=-1)) + 1
    size = np.bincount(comp, minlength=n_comp)
    mean_o = np.stack([np.bincount(comp, orient[:, k], n_comp) for k in range(3)], 1) / np.maximum(size, 1)[:, None]
    norm = np.linalg.norm(mean_o, axis=1)
    axis_val = mean_o[np.arange(n_comp), np.argmax(np.abs(mean_o), axis=1)]
    centre = periodic_centre(head, box, comp, n_comp)
    radial = np.einsum("ij,ij->i", minimum_image(head - centre[comp], box), orient)
    outward = np.bincount(comp, radial, n_comp)
    side = np.where(norm >= PLANAR, np.sign(axis_val), np.sign(outward))
    n_memb = int(membrane.max(initial=-1)) + 2
    votes = np.bincount(comp * n_memb + membrane + 1, minlength=n_comp * n_memb).reshape(n_comp, n_memb)
    memb = votes.argmax(axis=1) - 1
    ok = (size >= min_lipids) & (memb >= 0)
    cand = np.flatnonzero(ok)
    order = cand[np.lexsort((-size[cand], -side[cand], memb[cand]))]
    label = np.full(n_comp, -1, np.int64)
    label[order] = np.arange(order.size)
    lipid_label = label[comp]
    # Lipids cut off from their leaflet (head > cutoff from all others, e.g. protruding) join the
    # nearest labelled head within 2 cutoff that points the same way; lone lipids stay -1.
    stray = np.flatnonzero((lipid_label < 0) & (membrane >= 0))
    if stray.size and order.size:
        k = min(8, n)
        dist, nb = tree.query(tree.data[stray], k=k, distance_upper_bound=2 * cutoff)
        dist, nb = dist.reshape(stray.size, k), nb.reshape(stray.size, k)
        found = np.isfinite(dist)
        nb = np.where(found, nb, 0)
        ok = found & (lipid_label[nb] >= 0) & (np.einsum("skd,sd->sk", orient[nb], orient[stray]) > 0)
        first = ok.argmax(axis=1)
        hit = ok[np.arange(stray.size), first]
        lipid_label[stray[hit]] = lipid_label[nb[hit, first[hit]]]
    return lipid_label


def assign_leaflets(traj: mdtraj.Trajectory, cutoff: float = 1.5, min_lipids: int = 10,
                    membrane_cutoff: float = 1.5) -> np.ndarray:
    """Leaflet label of each lipid in each frame, for flat bilayers, vesicles and several membranes.

    A leaflet is a connected component of the head-bead graph: heads within ``cutoff`` of each other
    (periodic) whose lipid orientations (tail centroid -> head) are within ~45 degrees of each
    other (``ALIGN``), so lipids lying in the core half-way through a flip-flop do not bridge the
    two leaflets. Each leaflet is attached to the membrane (:func:`membrane_clusters`) most of its
    lipids belong to.

    Label convention: membranes in order of size (largest first); within a membrane, the
    upper (flat bilayer: lipids pointing +z, or along the dominant axis of the mean orientation)
    or outer (closed vesicle: lipids pointing away from the leaflet's centre) leaflet first, then
    the lower/inner one. Labels are consecutive from 0: one flat bilayer gives 0 = upper,
    1 = lower; one vesicle 0 = outer, 1 = inner; two vesicles 0/1 and 2/3. A pore or open edge
    joins the two leaflets of a membrane into one component, hence one label.

    Head clusters smaller than ``min_lipids`` are not leaflets: their lipids (e.g. protruding
    ones whose head is > ``cutoff`` from all others) take the label of the nearest labelled head
    within ``2 cutoff`` that points the same way (dot > 0). -1 is left for lipids with no such head
    (lone lipids of the gas, lipids half-way through a flip-flop) and for lipids of aggregates
    smaller than ``min_lipids``.

    Parameters
    ----------
    traj
        Trajectory, nm, orthorhombic periodic box; lipids may be split across the boundary.
    cutoff
        Head-head neighbour distance in nm (sigma); 1.5 lies between the in-leaflet neighbour
        distance (~1.1) and the bilayer thickness (~5).
    min_lipids
        Smallest leaflet (and membrane) that gets a label.
    membrane_cutoff
        Tail-contact distance of :func:`membrane_clusters`, which groups leaflets into membranes.

    Returns
    -------
    (n_frames, n_lipids) int, lipids ordered as in :func:`lipid_indices`.

    Example
    -------
    >>> leaflet = assign_leaflets(traj)
    >>> n_upper = (leaflet == 0).sum(axis=1)
    """
    heads, tails = lipid_indices(traj.topology)
    box = box_of(traj)
    valid = tails >= 0
    idx, lipid = tails[valid], np.nonzero(valid)[0]
    ends = np.flatnonzero(np.r_[lipid[1:] != lipid[:-1], True]) if lipid.size else lipid
    out = np.empty((traj.n_frames, heads.size), np.int64)
    chunk = max(1, 2_000_000 // max(heads.size, 1))
    for f0 in range(0, traj.n_frames, chunk):
        _, orient = _lipid_geometry(traj, heads, tails, slice(f0, f0 + chunk))
        for k, o in enumerate(orient):
            f = f0 + k
            memb = (rank_components(tail_components(traj.xyz[f, idx].astype(np.float64), lipid, ends, box[f],
                                                    membrane_cutoff, heads.size), min_lipids)
                    if idx.size else np.full(heads.size, -1))
            out[f] = _frame_leaflets(traj.xyz[f, heads].astype(np.float64), o, memb, box[f], cutoff, min_lipids)
    return out
