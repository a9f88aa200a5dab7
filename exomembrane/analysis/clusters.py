"""Separate membranes: connected pieces of the tail-bead contact graph (fission/fusion counting)."""
from __future__ import annotations

import mdtraj
import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from .frames import map_frames
from .pbc import box_of, periodic_tree
from .selection import lipid_indices

#: Tail-bead contact distance (sigma) that joins lipids into one membrane.
TAIL_CONTACT = 1.5
#: Smallest cluster of lipids that counts as a membrane.
MIN_LIPIDS = 10


def rank_components(labels: np.ndarray, min_size: int) -> np.ndarray:
    """Relabel components by size, largest 0; members of components smaller than ``min_size`` get -1."""
    sizes = np.bincount(labels)
    order = np.argsort(-sizes, kind="stable")
    rank = np.empty_like(order)
    rank[order] = np.arange(order.size)
    rank[sizes < min_size] = -1
    return rank[labels]


def components(points: np.ndarray, box: np.ndarray, cutoff: float, node: np.ndarray, n_nodes: int) -> np.ndarray:
    """Connected components of ``n_nodes`` nodes linked where two of their points lie within ``cutoff``.

    points (n, 3) nm; node (n,) node of each point. Returns (n_nodes,) component id.
    """
    pairs = periodic_tree(points, box).query_pairs(cutoff, output_type="ndarray")
    return link_components(node[pairs[:, 0]], node[pairs[:, 1]], n_nodes)


def link_components(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """(n,) component id of n nodes linked pairwise by the equal-length index arrays a and b."""
    graph = coo_matrix((np.ones(a.size, np.int8), (a, b)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


#: :func:`tail_components` gives each of the ``MAX_BIG`` largest first-stage pieces that have at
#: least ``BIG`` tail beads its own tree; the other pieces share one.
MAX_BIG, BIG = 8, 64


def tail_components(points: np.ndarray, lipid: np.ndarray, ends: np.ndarray, box: np.ndarray, cutoff: float,
                    n_lipids: int) -> np.ndarray:
    """Components of lipids linked where any of their tail beads are within ``cutoff``; exact, fast.

    points (n, 3) tail beads, lipid (n,) their lipid, ends: indices into points of one bead per
    lipid. First the components of the sparse sub-graph of ``ends``; then only the pairs that can
    join two of those: within and across the pooled small ones, small-to-large, and between large
    ones (each large piece's internal pairs, the bulk of all pairs, are never listed).
    Returns (n_lipids,) component id.
    """
    sub = components(points[ends], box, cutoff, lipid[ends], n_lipids)
    n_sub = int(sub.max()) + 1
    size = np.bincount(sub[lipid], minlength=n_sub)
    big = np.argsort(-size, kind="stable")[:MAX_BIG]
    big = big[size[big] >= BIG]
    which = np.full(n_sub, -1)
    which[big] = np.arange(big.size)
    w = which[sub[lipid]]
    groups = [np.flatnonzero(w == k) for k in range(big.size)] + [np.flatnonzero(w < 0)]
    trees = [periodic_tree(points[g], box) for g in groups]  # an empty group's tree is never queried
    pairs = []  # (i, j) point indices that may join two pieces
    if groups[-1].size:
        pp = trees[-1].query_pairs(cutoff, output_type="ndarray")
        pairs.append(groups[-1][pp])
    for i in range(len(groups)):
        for j in range(i + 1, len(groups)):
            if groups[i].size and groups[j].size:
                m = trees[i].sparse_distance_matrix(trees[j], cutoff, output_type="ndarray")
                pairs.append(np.stack([groups[i][m["i"]], groups[j][m["j"]]], axis=1))
    if not pairs:
        return sub
    u, v = sub[lipid[np.concatenate(pairs)]].T
    graph = coo_matrix((np.ones(u.size, np.int8), (u, v)), shape=(n_sub, n_sub))
    return connected_components(graph, directed=False)[1][sub]


def membrane_clusters(traj: mdtraj.Trajectory, cutoff: float = TAIL_CONTACT, min_lipids: int = MIN_LIPIDS,
                      workers: int | None = None) -> np.ndarray:
    """Label of the membrane (connected lipid aggregate) each lipid belongs to, per frame.

    Two lipids are connected when any of their tail beads are within ``cutoff`` (periodic, via
    ``scipy.spatial.cKDTree(boxsize=...)``); membranes are the connected components. Membranes
    apposed head to head (adhesion) stay separate; a stalk or fusion pore joins them.

    Parameters
    ----------
    traj
        Trajectory, nm, orthorhombic periodic box.
    cutoff
        Tail-bead contact distance in nm (sigma); 1.5 lies between the tail-tail contact
        (~1.1) and the head layer that separates apposed membranes.
    min_lipids
        Aggregates of fewer lipids (lone lipids of the gas, small clusters) get label -1.
    workers
        Threads working on frames at once (default: one per CPU).

    Returns
    -------
    (n_frames, n_lipids) int: 0 for the largest membrane, 1 for the next, ... (ties in an arbitrary
    but fixed order), -1 for lipids in aggregates smaller than ``min_lipids``. Lipids are ordered
    as in :func:`lipid_indices`.

    Example
    -------
    >>> labels = membrane_clusters(traj)
    >>> sizes = [np.bincount(f[f >= 0]) for f in labels]
    """
    heads, tails = lipid_indices(traj.topology)
    box = box_of(traj)
    valid = tails >= 0
    idx, lipid = tails[valid], np.nonzero(valid)[0]
    ends = np.flatnonzero(np.r_[lipid[1:] != lipid[:-1], True]) if lipid.size else lipid
    out = np.full((traj.n_frames, heads.size), -1, np.int64)

    def frame(f: int) -> np.ndarray:
        comp = tail_components(traj.xyz[f, idx].astype(np.float64), lipid, ends, box[f], cutoff, heads.size)
        return rank_components(comp, min_lipids)

    for f, labels in enumerate(map_frames(frame, range(traj.n_frames if idx.size else 0), workers=workers)):
        out[f] = labels
    return out


def count_membranes(traj: mdtraj.Trajectory, cutoff: float = TAIL_CONTACT, min_lipids: int = MIN_LIPIDS,
                    workers: int | None = None) -> np.ndarray:
    """Number of separate membranes (bilayers, vesicles, micelles of >= ``min_lipids`` lipids) per frame.

    A fission or fusion event is a change of this number. See :func:`membrane_clusters`.

    Returns
    -------
    (n_frames,) int.

    Example
    -------
    >>> n = count_membranes(traj); events = np.flatnonzero(np.diff(n))
    """
    labels = membrane_clusters(traj, cutoff, min_lipids, workers)
    return labels.max(axis=1, initial=-1) + 1


def parent_labels(memb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(n_frames,) the membrane label holding most of the selected lipids (ties: the larger), -1 if none."""
    n_f = memb.shape[0]
    n_lab = int(memb.max(initial=-1)) + 1
    if n_lab == 0:
        return np.full(n_f, -1)
    sel = mask & (memb >= 0)
    key = (np.arange(n_f)[:, None] * n_lab + memb)[sel]
    counts = np.bincount(key, minlength=n_f * n_lab).reshape(n_f, n_lab)
    return np.where(counts.max(axis=1) > 0, counts.argmax(axis=1), -1)
