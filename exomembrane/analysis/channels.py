"""Pores found as channels of free space through a membrane, for holes that a projection onto the
membrane's reference surface cannot see because other parts of the same membrane cover them (the
side of a deep invagination, the underside of a large bud). Lengths in nm (= sigma).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from .clusters import components
from .pbc import minimum_image, periodic_centre, periodic_tree, wrap

#: A channel through a membrane: free space with at least ``CHANNEL_HEADS`` heads of each of its
#: leaflets within ``CHANNEL_REACH`` (sigma). Free space beside an intact bilayer lies ~1 sigma from
#: one leaflet's heads and ~6 sigma from the other's; a pore's channel runs between both.
CHANNEL_REACH = 3.0
CHANNEL_HEADS = 3
#: Free space within this distance (sigma) of a channel's rim measures its bottleneck; it faces a
#: leaflet where at least SIDE_SHARE of its SIDE_HEADS nearest heads are that leaflet's.
AROUND = 10.0
SIDE_HEADS, SIDE_SHARE = 8, 0.875


def channel_pores(labels: np.ndarray, regions: Sequence[int], x: np.ndarray, box: np.ndarray, up: np.ndarray,
                  down: np.ndarray, up_dir: np.ndarray, down_dir: np.ndarray, reach: float = CHANNEL_REACH,
                  least: int = CHANNEL_HEADS, around: float = AROUND) -> list[tuple[np.ndarray, float, float]]:
    """Pores of one membrane found as channels of free space between its two leaflets.

    A channel's **rim** is free space lined by both leaflets: ``least`` heads of each within
    ``reach`` nm (beside an intact bilayer free space lies ~1 nm from one leaflet's heads and ~6 nm
    from the other's), somewhere facing opposite ways (the mean orientations of the two leaflets'
    heads there at more than 90 degrees: lipids that crossed to the other leaflet through a pore,
    labelled as built, lie among the others and face their way). Its radius is the bottleneck of
    the free space through it: the largest clearance (distance to the nearest bead centre) at which
    free space within ``around`` nm of the rim still joins the side facing one leaflet to the side
    facing the other: free space nearer its heads by 2 nm or more, with at least ``SIDE_SHARE`` of
    its ``SIDE_HEADS`` nearest heads in it (so such crossed lipids make no side of their own).

    Parameters
    ----------
    labels
        (nx, ny, nz) int: free-space regions (:func:`~exomembrane.analysis.topology.free_space`).
    regions
        The regions that both leaflets look into (only their voxels are searched).
    x
        (n, 3) nm: every bead.
    box
        (3,) nm.
    up, down, up_dir, down_dir
        (n_up, 3), (n_down, 3) nm: the head beads of the membrane's two leaflets, and the unit
        orientations (tails to head) of their lipids.
    reach, least, around
        As above (nm, heads, nm).

    Returns
    -------
    [(centre (3,) nm, radius nm, area nm^2)] of each channel (rim voxels within ``reach`` of each
    other joined; the widest of channels closer than its radius + ``reach``): centre the middle of
    its waist (the voxels between the two sides that pass at the bottleneck; else of its rim),
    radius its bottleneck (the free channel's radius to the bead centres lining it, as
    :func:`~exomembrane.analysis.topology.coverage_holes`; 0 where free space does not pass), area
    ``pi radius^2``.
    """
    if not len(up) or not len(down) or not len(regions):
        return []
    n = np.asarray(labels.shape)
    spacing = box / n
    idx = np.argwhere(np.isin(labels, np.asarray(regions)))
    centres = wrap((idx + 0.5) * spacing, box)
    tree_up, tree_down = periodic_tree(up, box), periodic_tree(down, box)
    near = np.flatnonzero(np.isfinite(tree_up.query(centres, distance_upper_bound=reach)[0]))
    near = near[np.isfinite(tree_down.query(centres[near], distance_upper_bound=reach)[0])]
    lined = [(i, j) for i, j in zip(tree_up.query_ball_point(centres[near], reach),
                                    tree_down.query_ball_point(centres[near], reach))]
    keep = np.array([len(i) >= least and len(j) >= least for i, j in lined], bool)
    rim = near[keep]
    if not rim.size:
        return []
    comp = components(centres[rim], box, reach, np.arange(rim.size), rim.size)
    facing = np.array([np.dot(up_dir[i].mean(axis=0), down_dir[j].mean(axis=0)) < 0
                       for (i, j), k in zip(lined, keep) if k])
    beads, heads_tree = periodic_tree(x, box), periodic_tree(np.concatenate([up, down]), box)
    out = []
    for c in np.unique(comp[facing]):
        middle = np.mod(periodic_centre(centres[rim[comp == c]], box)[0], box)
        local = np.flatnonzero(np.linalg.norm(minimum_image(centres - middle, box), axis=1) <= around)
        at = centres[local]
        d_up, d_down = tree_up.query(at)[0], tree_down.query(at)[0]
        share_up = (heads_tree.query(at, k=SIDE_HEADS)[1] < len(up)).mean(axis=1)
        side = np.where((d_up + 2.0 <= d_down) & (share_up >= SIDE_SHARE), 1,
                        np.where((d_down + 2.0 <= d_up) & (share_up <= 1 - SIDE_SHARE), -1, 0))
        radius, where = _bottleneck(at, side, beads.query(at)[0], middle, box, spacing)
        out.append((where, radius, float(np.pi * radius**2)))
    out.sort(key=lambda h: -h[1])
    kept: list[tuple[np.ndarray, float, float]] = []
    for h in out:  # rims of one pore found apart: the widest channel through it
        if all(np.linalg.norm(minimum_image(h[0] - k[0], box)) > k[1] + reach for k in kept):
            kept.append(h)
    return kept


def _bottleneck(at: np.ndarray, side: np.ndarray, clear: np.ndarray, middle: np.ndarray, box: np.ndarray,
                spacing: np.ndarray) -> tuple[float, np.ndarray]:
    """The widest clearance at which free-space voxels (centres ``at`` (m, 3) nm about ``middle``, on
    the grid of ``spacing``; ``side`` +1/-1 facing one leaflet or the other, 0 between; clearance
    ``clear`` nm) still join a +1 voxel to a -1 one, and the middle of the voxels between the sides
    that do at that clearance; (0, ``middle``) where none join."""
    cell = np.round(minimum_image(at - middle, box) / spacing).astype(int)
    cell -= cell.min(axis=0)
    shape = tuple(cell.max(axis=0) + 1)
    present, grid_clear, grid_side = np.zeros(shape, bool), np.zeros(shape), np.zeros(shape, np.int8)
    present[tuple(cell.T)], grid_clear[tuple(cell.T)], grid_side[tuple(cell.T)] = True, clear, side

    def passing(r: float) -> tuple[np.ndarray, np.ndarray]:
        lab = ndimage.label(present & (grid_clear >= r))[0]
        return lab, np.intersect1d(lab[(grid_side > 0) & (lab > 0)], lab[(grid_side < 0) & (lab > 0)])

    levels = np.unique(clear)
    lo, hi = -1, len(levels) - 1  # bisect for the widest level that still joins (monotone in r)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if passing(levels[mid])[1].size else (lo, mid - 1)
    if lo < 0:
        return 0.0, middle
    lab, both = passing(levels[lo])
    waist = np.isin(lab[tuple(cell.T)], both) & (side == 0)
    return float(levels[lo]), (np.mod(periodic_centre(at[waist], box)[0], box) if waist.any() else middle)
