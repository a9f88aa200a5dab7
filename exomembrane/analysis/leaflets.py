"""Leaflets: connected sheets of head beads with a common local normal, labelled upper/outer first."""
from __future__ import annotations

import mdtraj
import numpy as np
from scipy.sparse import coo_matrix
from scipy.spatial import cKDTree

from .clusters import MIN_LIPIDS, TAIL_CONTACT, link_components, rank_components, tail_components
from .frames import map_frames
from .pbc import box_of, minimum_image, periodic_centre, periodic_tree
from .selection import lipid_geometry, lipid_indices

#: A leaflet whose mean lipid orientation has at least this length is treated as flat (sheet
#: spanning the box): its side is the sign of that mean along its dominant axis (+z: upper).
#: Closed leaflets (vesicles) average to ~0 and are sided by pointing away from their centre.
PLANAR = 0.5
#: Neighbouring heads are in one leaflet only if their local normals (mean orientation of the
#: lipids around each) are within ~32 degrees (cos > 0.85). At 0.8 a bilayer at kT 1.3 (near
#: melting) had both leaflets joined by tilted lipids in 1 of 200 frames; 0.85 and 0.9 in none.
ALIGN = 0.85
#: A piece of a leaflet with fewer than this fraction of its membrane's lipids may be a fragment
#: and is checked for joining a larger piece (a leaflet has about half; checking only the smaller
#: pieces keeps the cost of that search low).
WHOLE = 0.45
#: A fragment joins a larger piece through head pairs within 2 cutoff whose normals are within 60
#: degrees (cos > 0.5): on a tightly bent leaflet (the inner leaflet of a small vesicle, the inside
#: of a bud's neck) normals 3 sigma apart differ by more than ALIGN allows, while the heads of
#: opposite leaflets point apart (cos < 0) and lie ~5 sigma apart.
JOIN = 0.5


def sheet_components(points: np.ndarray, orient: np.ndarray, membrane: np.ndarray, box: np.ndarray,
                     cutoff: float, tree: cKDTree | None = None) -> np.ndarray:
    """Connected sheets of heads with a common local normal: (n,) component id of each point.

    points (n, 3) nm heads, orient (n, 3) unit lipid orientations, membrane (n,) the membrane of
    each lipid (-1: none). A head's local normal is the mean orientation of the heads within
    ``cutoff`` (periodic) that point its way (dot > 0), itself included. Heads within ``cutoff``
    whose normals are within ~32 degrees (``ALIGN``) are linked into pieces. Averaging takes out
    the lipids' own tilt, so a leaflet holds together, while a lipid part-way through a flip-flop
    (or a thread of them) has a normal between those of the two leaflets and links to neither.

    Then each piece with fewer than ``WHOLE`` of its membrane's lipids joins the larger piece of
    its membrane with which it has the most aligned head pairs within 2 ``cutoff``, if at least as
    many as it has lipids: a leaflet cut by a fluctuation or a crease is made whole, while
    opposite leaflets, which point apart, never join.
    """
    n = len(points)
    tree = periodic_tree(points, box) if tree is None else tree
    i, j = tree.query_pairs(cutoff, output_type="ndarray").T
    same = np.einsum("ij,ij->i", orient[i], orient[j]) > 0
    normal = orient + np.stack([np.bincount(i[same], orient[j[same], k], n)
                                + np.bincount(j[same], orient[i[same], k], n) for k in range(3)], axis=1)
    normal /= np.linalg.norm(normal, axis=1, keepdims=True)
    linked = np.einsum("ij,ij->i", normal[i], normal[j]) > ALIGN
    piece = link_components(i[linked], j[linked], n)
    m = int(piece.max(initial=-1)) + 1
    size = np.bincount(piece, minlength=m)
    n_memb = int(membrane.max(initial=-1)) + 2
    votes = np.bincount(piece * n_memb + membrane + 1, minlength=m * n_memb).reshape(m, n_memb)
    piece_memb = votes.argmax(axis=1) - 1  # the membrane most of its lipids are in
    memb_size = np.bincount(membrane + 1, minlength=n_memb)  # index 0: lipids in no membrane
    small = (piece_memb >= 0) & (size < WHOLE * memb_size[piece_memb + 1])
    minor = np.flatnonzero(small[piece] & (membrane >= 0))
    if minor.size == 0:
        return piece
    pairs = periodic_tree(points[minor], box).sparse_distance_matrix(tree, 2 * cutoff, output_type="ndarray")
    i, j = minor[pairs["i"]], pairs["j"]
    src, dst = piece[i], piece[j]
    ok = ((src != dst) & (membrane[i] == membrane[j]) & (np.einsum("ij,ij->i", normal[i], normal[j]) > JOIN)
          & ((size[dst] > size[src]) | ((size[dst] == size[src]) & (dst < src))))
    counts = coo_matrix((np.ones(ok.sum(), np.int64), (src[ok], dst[ok])), shape=(m, m))
    counts.sum_duplicates()
    src, dst, w = counts.row, counts.col, counts.data
    keep = w >= size[src]
    src, dst, w = src[keep], dst[keep], w[keep]
    best = np.lexsort((-size[dst], -w, src))
    src, first = np.unique(src[best], return_index=True)
    return link_components(src, dst[best][first], m)[piece]


def _frame_leaflets(head: np.ndarray, orient: np.ndarray, membrane: np.ndarray, box: np.ndarray,
                    cutoff: float, min_lipids: int) -> np.ndarray:
    n = len(head)
    tree = periodic_tree(head, box)
    comp = sheet_components(head, orient, membrane, box, cutoff, tree)
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


def assign_leaflets(traj: mdtraj.Trajectory, cutoff: float = TAIL_CONTACT, min_lipids: int = MIN_LIPIDS,
                    membrane_cutoff: float = TAIL_CONTACT, workers: int | None = None) -> np.ndarray:
    """Leaflet label of each lipid in each frame, for flat bilayers, vesicles and several membranes.

    A leaflet is a connected sheet of heads (:func:`sheet_components`): heads within ``cutoff`` of
    each other (periodic) whose local normals (the mean orientation, tail centroid -> head, of the
    lipids around each) are within ~32 degrees (``ALIGN``); fragments cut off by a fluctuation
    rejoin their leaflet, and lipids in the core part-way through a flip-flop, alone or in a
    thread, do not bridge the two leaflets. Each leaflet is attached to the membrane
    (:func:`membrane_clusters`) most of its lipids belong to.

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
    workers
        Threads working on frames at once (default: one per CPU).

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

    def frame(f: int) -> np.ndarray:
        memb = (rank_components(tail_components(traj.xyz[f, idx].astype(np.float64), lipid, ends, box[f],
                                                membrane_cutoff, heads.size), min_lipids)
                if idx.size else np.full(heads.size, -1))
        _, orient = lipid_geometry(traj, heads, tails, slice(f, f + 1))
        return _frame_leaflets(traj.xyz[f, heads].astype(np.float64), orient[0], memb, box[f], cutoff, min_lipids)

    out = np.empty((traj.n_frames, heads.size), np.int64)
    for f, labels in enumerate(map_frames(frame, range(traj.n_frames), workers=workers)):
        out[f] = labels
    return out
