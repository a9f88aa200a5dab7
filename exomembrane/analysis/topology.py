"""Membrane topology per frame: which compartments the free space connects, which membranes are open
(pores), and how membranes divide and merge over time.

The model has implicit solvent, so a compartment is free space: space farther than ``probe`` from
every bead. It is labelled on a voxel grid, periodic in x and y, and in z too unless a membrane is
a flat patch spanning the box: then the box's z faces separate its two sides, as the builders lay
such patches (mid-box) and keep soluble molecules apart (walls at the z faces).

Which compartment a region of free space is, is read from the membranes' recorded faces, never
guessed from coordinates: every lipid looks from its head into free space, and a
lipid of leaflet +1 (upper/outer as built) of a membrane names that membrane's ``upper`` (``+z``
or ``outside``) compartment, a lipid of leaflet -1 its ``lower`` one. A region is the compartment
most of its lipids name; it **connects** the compartments that each hold at least ``share`` of
them, or at least ``share`` of whose own looking lipids look into it (a small membrane opening
into a large space: an MVB's lumen through a fusion pore), at least 10 lipids either way.

A membrane (a :func:`~exomembrane.analysis.membrane_clusters` cluster) is **open** when its two
leaflets look into the same region of free space (at least ``OPEN_SHARE`` of each leaflet's lipids).
Each **pore** is a hole in its coverage: its lipid beads, projected onto its reference surface (the
plane of a flat patch, the sphere of a closed membrane, :mod:`~exomembrane.analysis.surface`), with
the beads of other molecules within ``cutoff`` of them (proteins in the membrane), leave an uncovered
patch whose equivalent radius (the radius of the free channel, lined by head beads) is at least
``min_radius``. A projection cannot see a hole in a part of a membrane that other parts of it cover
(the side of a deep invagination of a patch, the underside of a large bud), so a membrane whose two
leaflets look into one region of free space is searched for **channels** too
(:func:`~exomembrane.analysis.channels.channel_pores`): free space lined by heads of both its leaflets, a pore when its
bottleneck radius is at least ``min_radius`` too (narrower channels still join the compartments:
``connected`` shows them). Lengths in nm (= sigma), times in ps (= tau).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import mdtraj
import numpy as np
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from exomembrane.checks import check_fraction, check_positive

from .channels import channel_pores
from .clusters import MIN_LIPIDS, TAIL_CONTACT, membrane_clusters
from .frames import map_frames
from .pbc import box_of, minimum_image, periodic_centre, periodic_tree, wrap
from .selection import lipid_geometry, lipid_indices
from .surface import frame_base

#: Voxel edge (sigma) of the free-space grid.
VOXEL = 0.6
#: Free space lies farther than this (sigma) from every bead centre (a bead radius plus a probe radius).
PROBE = 1.0
#: Distances (sigma) from a head bead, along the lipid's orientation, where it looks into free space.
LOOK = (1.0, 1.5, 2.0, 2.5, 3.0)
#: Head-to-head distance (sigma) within which lipids of one membrane share a monolayer (in-plane
#: neighbours lie ~1.1 sigma apart, the other monolayer's heads ~4.5 sigma across the bilayer).
NEIGHBOURS = 2.0
#: Coverage of the reference surface: grid spacing and the radius of each projected bead (sigma).
GRID = 0.5
COVER = 0.8
#: A membrane is open when at least this share of each of its leaflets' lipids looks into one region
#: (lipids that see no free space count against it: the crowded inner leaflet of a vesicle too small
#: for the grid to resolve its lumen does not open it through a few lipids flipped outward).
OPEN_SHARE = 0.5
#: Slabs along x and along y that a patch's lipids all occupy (it spans the box) and a closed one does not.
SPAN_BINS = 16
#: Smallest equivalent radius (sigma) of an uncovered patch reported as a pore.
MIN_RADIUS = 1.5
#: A hole found in one frame: (cluster label, centre (3,), radius, area).
_Hole = tuple[int, np.ndarray, float, float]


@dataclass(frozen=True)
class Pore:
    """A hole in a membrane in one frame: centre (3,) nm in the box, equivalent radius nm of the free
    channel, the membrane's cluster label in that frame, and the hole's area on the reference surface (nm^2)."""

    frame: int
    membrane: int
    centre: np.ndarray
    radius: float
    area: float


@dataclass(frozen=True)
class Event:
    """A change of topology: ``kind`` is ``division`` (one membrane became several), ``merger``
    (several became one), ``pore opened`` or ``pore closed``; ``membranes`` are the cluster labels
    involved (before, then after, for divisions and mergers), ``time`` in ps."""

    frame: int
    time: float
    kind: str
    membranes: tuple[int, ...]


@dataclass(frozen=True)
class Topology:
    """Topology of a trajectory (see the module docstring).

    Attributes
    ----------
    time
        (n_frames,) ps.
    compartments
        The compartment names, indexing ``connected``.
    membranes
        (n_frames, n_lipids) int: membrane cluster of each lipid (-1: none), as :func:`membrane_clusters`.
    n_membranes
        (n_frames,) int.
    open
        (n_frames, n_membranes_max) bool: cluster k of frame f is open (its leaflets see one region);
        False where there is no cluster k.
    connected
        (n_frames, n_compartments, n_compartments) bool: compartments joined by free space
        (diagonal True where the compartment has a region).
    regions
        (n_frames,) int: regions of free space that membrane lipids look into (pockets inside
        membranes left out), each with its compartment in ``region_compartment``.
    region_compartment
        Per frame, the compartment most lipids looking into each region name.
    pores
        Every pore of every frame.
    largest_pore
        (n_frames,) nm: the largest pore radius of each frame (0 without a pore).
    events
        Divisions, mergers and pores opening and closing, in time order.
    facing
        (n_frames, n_lipids) int: index into ``compartments`` of the compartment each lipid's head
        looks into (the region's most named one; -1 where the head sees no free space). It follows
        lipids that flip or move to another membrane.
    """

    time: np.ndarray
    compartments: tuple[str, ...]
    membranes: np.ndarray
    n_membranes: np.ndarray
    open: np.ndarray
    connected: np.ndarray
    regions: np.ndarray
    region_compartment: list[list[str]]
    pores: list[Pore] = field(default_factory=list)
    largest_pore: np.ndarray = field(default_factory=lambda: np.zeros(0))
    events: list[Event] = field(default_factory=list)
    facing: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.int64))

    def leaky(self, a: str, b: str) -> np.ndarray:
        """(n_frames,) bool: compartments ``a`` and ``b`` are joined by free space."""
        i, j = self.compartments.index(a), self.compartments.index(b)
        return self.connected[:, i, j]

    def sealed(self) -> np.ndarray:
        """(n_frames, n_membranes_max) bool: membrane k of frame f exists, is not open and has no pore."""
        out = ~self.open & (np.arange(self.open.shape[1])[None, :] < self.n_membranes[:, None])
        for p in self.pores:
            out[p.frame, p.membrane] = False
        return out

    def pores_of(self, frame: int, membrane: int | None = None) -> list[Pore]:
        """The pores of a frame (of one cluster label, if given)."""
        return [p for p in self.pores if p.frame == frame and (membrane is None or p.membrane == membrane)]


def free_space(x: np.ndarray, box: np.ndarray, voxel: float = VOXEL, probe: float = PROBE,
               z_periodic: bool = True) -> np.ndarray:
    """Connected regions of free space on a voxel grid.

    Parameters
    ----------
    x
        (n, 3) nm bead positions.
    box
        (3,) nm orthorhombic box.
    voxel, probe
        Voxel edge (the grid divides each box edge into whole voxels of about this size) and the
        distance from every bead centre beyond which a voxel centre is free (nm).
    z_periodic
        False: the z faces of the box are walls (free space does not continue through them).

    Returns
    -------
    (nx, ny, nz) int: region label of each voxel, 0..n_regions-1, or -1 where occupied.

    Example
    -------
    >>> labels = free_space(traj.xyz[0], traj.unitcell_lengths[0]); labels.max() + 1
    """
    check_positive(voxel=voxel, probe=probe)
    box = np.asarray(box, float)
    n = np.maximum(np.round(box / voxel).astype(int), 1)
    axes = [(np.arange(k) + 0.5) * b / k for k, b in zip(n, box)]
    centres = np.stack(np.meshgrid(*axes, indexing="ij"), -1).reshape(-1, 3)
    if len(x):
        dist, _ = periodic_tree(np.asarray(x, float), box).query(wrap(centres, box), distance_upper_bound=probe)
        free = ~np.isfinite(dist).reshape(n)
    else:
        free = np.ones(n, bool)
    labels, count = ndimage.label(free)
    parent = np.arange(count + 1)

    def root(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for axis in (0, 1, 2) if z_periodic else (0, 1):
        first = np.take(labels, 0, axis=axis).ravel()
        last = np.take(labels, -1, axis=axis).ravel()
        for a, b in np.unique(np.c_[first, last][(first > 0) & (last > 0)], axis=0):
            ra, rb = root(int(a)), root(int(b))
            if ra != rb:
                parent[max(ra, rb)] = min(ra, rb)
    roots = np.array([root(a) for a in range(count + 1)])
    _, compact = np.unique(roots, return_inverse=True)
    out = compact[labels] - 1  # label 0 (occupied) has root 0 -> -1
    return out.astype(np.int32)


def _voxel_of(points: np.ndarray, box: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """(m, 3) int voxel indices of points (m, 3) nm in a grid of ``shape`` over ``box``."""
    n = np.asarray(shape)
    return np.minimum((wrap(points, box) / box * n).astype(int), n - 1)


def look(labels: np.ndarray, box: np.ndarray, heads: np.ndarray, orient: np.ndarray,
         steps: Sequence[float] = LOOK) -> np.ndarray:
    """(n,) int: the region of free space each head (n, 3) sees along its orientation (n, 3): the
    first free voxel at ``steps`` nm from the head; -1 if none is free."""
    out = np.full(len(heads), -1, np.int32)
    for s in steps:
        todo = out < 0
        if not todo.any():
            break
        idx = _voxel_of(heads[todo] + s * orient[todo], box, labels.shape)
        out[todo] = labels[idx[:, 0], idx[:, 1], idx[:, 2]]
    return out


def _mode(values: np.ndarray) -> tuple[int, float]:
    """(most common value >= 0, its share of the values >= 0); (-1, 0) if none."""
    v = values[values >= 0]
    if v.size == 0:
        return -1, 0.0
    counts = np.bincount(v)
    return int(counts.argmax()), float(counts.max() / v.size)


def coverage_holes(points: np.ndarray, box: np.ndarray, closed: bool, centre: np.ndarray, radius: float,
                   plane_z: float = 0.0, grid: float = GRID, cover: float = COVER
                   ) -> list[tuple[np.ndarray, float, float]]:
    """Holes in a membrane's coverage of its reference surface.

    Parameters
    ----------
    points
        (n, 3) nm: the membrane's bead positions.
    box
        (3,) nm.
    closed, centre, radius, plane_z
        The reference surface: a sphere (``closed``; ``centre`` (3,), midplane ``radius``) or the plane
        z = ``plane_z`` of a flat periodic patch (beads projected along z, periodic in x and y).
    grid, cover
        Sample spacing on the surface and the radius each projected bead covers (nm).

    Returns
    -------
    [(centre (3,) nm, equivalent radius nm, area nm^2)] of each uncovered patch: radius
    ``sqrt(area / pi) + cover``, the channel radius to the beads lining it.
    """
    if closed:
        n = max(int(4 * np.pi * radius**2 / grid**2), 12)
        k = np.arange(n) + 0.5
        z = 1 - 2 * k / n
        phi = np.pi * (1 + 5**0.5) * k
        unit = np.c_[np.sqrt(1 - z**2) * np.cos(phi), np.sqrt(1 - z**2) * np.sin(phi), z]
        d = minimum_image(points - centre, box)
        dirs = d / np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-9)
        covered = np.isfinite(cKDTree(dirs).query(unit, distance_upper_bound=cover / radius)[0])
        holes = np.flatnonzero(~covered)
        if holes.size == 0:
            return []
        pairs = cKDTree(unit[holes]).query_pairs(1.8 * grid / radius, output_type="ndarray")
        cell = 4 * np.pi * radius**2 / n
        samples = centre + radius * unit[holes]
    else:
        nx, ny = np.maximum(np.round(box[:2] / grid).astype(int), 1)
        gx, gy = np.meshgrid((np.arange(nx) + 0.5) * box[0] / nx, (np.arange(ny) + 0.5) * box[1] / ny, indexing="ij")
        sample = np.c_[gx.ravel(), gy.ravel()]
        tree = cKDTree(wrap(points[:, :2], box[:2]), boxsize=box[:2])
        covered = np.isfinite(tree.query(sample, distance_upper_bound=cover)[0])
        holes = np.flatnonzero(~covered)
        if holes.size == 0:
            return []
        step = float(max(box[0] / nx, box[1] / ny))
        pairs = cKDTree(sample[holes], boxsize=box[:2]).query_pairs(1.5 * step, output_type="ndarray")
        cell = box[0] * box[1] / (nx * ny)
        samples = np.c_[sample[holes], np.full(holes.size, plane_z)]
    m = holes.size
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(m, m)) if len(pairs) else \
        coo_matrix((m, m))
    n_comp, comp = connected_components(graph, directed=False)
    out = []
    for c in range(n_comp):
        sel = comp == c
        area = float(sel.sum() * cell)
        where = periodic_centre(samples[sel], box)[0]
        out.append((np.mod(where, box), float(np.sqrt(area / np.pi) + cover), area))
    return out


def topology(traj: mdtraj.Trajectory, membranes: Sequence[Mapping[str, str]], membrane: np.ndarray,
             leaflet: np.ndarray, *, voxel: float = VOXEL, probe: float = PROBE, share: float = 0.2,
             min_radius: float = MIN_RADIUS, cutoff: float = TAIL_CONTACT, min_lipids: int = MIN_LIPIDS,
             workers: int | None = None) -> Topology:
    """Compartments, open membranes, pores and events of a trajectory.

    Parameters
    ----------
    traj
        Trajectory, nm, orthorhombic periodic box.
    membranes
        The faces of each membrane as built: ``{face: compartment}`` with faces ``+z``/``-z`` (patch)
        or ``inside``/``outside`` (closed), e.g. a run's ``manifest["membranes"][k]["faces"]``.
    membrane
        (n_lipids,) int: each lipid's membrane as built (index into ``membranes``, -1 none).
    leaflet
        (n_lipids,) or (n_frames, n_lipids) int: each lipid's leaflet as built (+1 upper/outer,
        -1 lower/inner; 0: unknown, then measured in the first frame from the lipid's orientation),
        or per frame (hand-built trajectories whose lipids are laid afresh in every frame).
    voxel, probe
        Free-space grid (see :func:`free_space`).
    share
        Smallest share of a region's looking lipids, or of a compartment's own, that makes the
        compartment part of the region (:func:`members`).
    min_radius
        Smallest pore radius reported (nm): of a hole in a membrane's coverage, or of a channel's bottleneck.
    cutoff, min_lipids
        As in :func:`membrane_clusters`.
    workers
        Threads working on frames at once (default: one per CPU).

    Returns
    -------
    :class:`Topology`.

    Example
    -------
    >>> t = topology(traj, [{"+z": "lumen", "-z": "cytosol"}], membrane, leaflet)
    >>> t.leaky("lumen", "cytosol"), t.largest_pore, [e.kind for e in t.events]
    """
    check_fraction("share", share)
    check_positive(min_radius=min_radius)
    faces = [dict(m) for m in membranes]
    for k, fc in enumerate(faces):
        if set(fc) not in ({"+z", "-z"}, {"inside", "outside"}):
            raise ValueError(f"membranes[{k}]: faces must be {{'+z', '-z'}} or {{'inside', 'outside'}} "
                             f"(got {sorted(fc)})")
    box = box_of(traj)
    heads, tails = lipid_indices(traj.topology)
    membrane, leaflet = np.asarray(membrane, np.int64), np.asarray(leaflet, np.int64)
    if membrane.shape != heads.shape or leaflet.shape not in (heads.shape, (traj.n_frames, heads.size)):
        raise ValueError(f"membrane, leaflet: must be (n_lipids,) = ({heads.size},), leaflet also (n_frames, "
                         f"n_lipids) (got {membrane.shape}, {leaflet.shape})")
    if membrane.max(initial=-1) >= len(faces):
        raise ValueError(f"membrane: indices must be < {len(faces)} membranes or -1")
    if leaflet.ndim == 1:
        leaflet = np.broadcast_to(_known_leaflets(traj, heads, tails, membrane, leaflet, faces),
                                  (traj.n_frames, heads.size))
    names = _naming(faces, membrane, leaflet)[0]
    clusters = membrane_clusters(traj, cutoff, min_lipids, workers)

    sheet = next((k for k, fc in enumerate(faces) if "+z" in fc), -1)
    lipid_bead = np.zeros(traj.n_atoms, bool)
    lipid_bead[heads] = True
    lipid_bead[tails[tails >= 0]] = True
    others = np.flatnonzero(~lipid_bead)

    def frame(f: int) -> tuple[np.ndarray, np.ndarray, int, list[str], list[_Hole], np.ndarray]:
        x = traj.xyz[f].astype(np.float64)
        lab = clusters[f]
        centre, orient = (a[0] for a in lipid_geometry(traj, heads, tails, slice(f, f + 1)))
        now = current_leaflets(x[heads], box[f], membrane, leaflet[f])
        says = _naming(faces, membrane, now)[1]
        labels, seen, votes = _regions(x, box[f], heads, orient, says, lab, sheet < 0, voxel, probe, len(names))
        named = np.where(votes.sum(axis=1) > 0, votes.argmax(axis=1), -1)
        faced = np.where(seen >= 0, named[np.maximum(seen, 0)], -1)
        votes = votes[votes.sum(axis=1) > 0]  # the regions lipids look into (not pockets inside membranes)
        member = members(votes, share)
        connected = np.zeros((len(names), len(names)), bool)
        for row in member:
            idx = np.flatnonzero(row)
            connected[np.ix_(idx, idx)] = True
        region_comp = [names[int(v.argmax())] for v in votes]
        n_reg = len(votes)
        n_cl = int(lab.max(initial=-1)) + 1
        is_open = np.zeros(n_cl, bool)
        found = []
        for c in range(n_cl):
            sel = lab == c
            u, d = sel & (now > 0), sel & (now < 0)
            up, down = seen[u], seen[d]
            region, _ = _mode(up)
            is_open[c] = region >= 0 and region == _mode(down)[0] and min(
                np.mean(up == region), np.mean(down == region)) >= OPEN_SHARE
            closed_shape, plane_z, middle, radius = _reference(centre[sel], orient[sel], sel, membrane, faces, box[f])
            beads = np.concatenate([heads[sel], tails[sel][tails[sel] >= 0]])
            if others.size:  # proteins in the membrane fill its coverage too
                near = periodic_tree(x[beads], box[f]).query(wrap(x[others], box[f]), distance_upper_bound=cutoff)[0]
                beads = np.concatenate([beads, others[np.isfinite(near)]])
            holes = [h for h in coverage_holes(x[beads], box[f], closed_shape, middle, radius, plane_z)
                     if h[1] >= min_radius]
            both = _both_sides(up, down)
            if both:  # its two faces share free space: a pore the projection may hide
                for ch in channel_pores(labels, both, x, box[f], x[heads[u]], x[heads[d]], orient[u], orient[d]):
                    if ch[1] >= min_radius and not any(np.linalg.norm(minimum_image(ch[0] - h[0], box[f]))
                                                       < ch[1] + h[1] + 1.0 for h in holes):
                        holes.append(ch)
            found += [(c, where, r, area) for where, r, area in holes]
        return connected, is_open, n_reg, region_comp, found, faced

    results = list(map_frames(frame, range(traj.n_frames), workers=workers))
    n_f = traj.n_frames
    width = max((len(r[1]) for r in results), default=0)
    opened = np.zeros((n_f, max(width, 1)), bool)
    pores, largest = [], np.zeros(n_f)
    for fr, (_, is_open, _, _, found, _) in enumerate(results):
        opened[fr, :len(is_open)] = is_open
        for c, where, r, area in found:
            pores.append(Pore(fr, c, where, r, area))
            largest[fr] = max(largest[fr], r)
    time = np.asarray(traj.time, float)
    connected = np.stack([r[0] for r in results]) if n_f else np.zeros((0, len(names), len(names)), bool)
    return Topology(time, names, clusters, clusters.max(axis=1, initial=-1) + 1, opened, connected,
                    np.array([r[2] for r in results], np.int64), [r[3] for r in results], pores, largest,
                    membrane_events(clusters, time, pores, opened, min_lipids),
                    np.stack([r[5] for r in results]) if n_f else np.zeros((0, heads.size), np.int64))


def _both_sides(up: np.ndarray, down: np.ndarray, least: int = 10) -> list[int]:
    """The regions that at least ``least`` lipids of each leaflet (the regions they look into:
    ``up`` and ``down``, -1 none) look into."""
    count_up = np.bincount(up[up >= 0]) if (up >= 0).any() else np.zeros(0, np.int64)
    count_down = np.bincount(down[down >= 0]) if (down >= 0).any() else np.zeros(0, np.int64)
    k = min(count_up.size, count_down.size)
    return np.flatnonzero((count_up[:k] >= least) & (count_down[:k] >= least)).tolist()


def _regions(x: np.ndarray, box: np.ndarray, heads: np.ndarray, orient: np.ndarray, says: np.ndarray,
             clusters: np.ndarray, z_periodic: bool, voxel: float, probe: float, n_names: int
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Free space of one frame (beads ``x`` (n, 3), lipid orientations (n_lipids, 3)): the voxel labels,
    the region each lipid looks into (n_lipids,), and the votes (n_regions, n_names): how many lipids
    of a membrane (``clusters`` >= 0) name each compartment."""
    labels = free_space(x, box, voxel, probe, z_periodic)
    seen = look(labels, box, x[heads], orient)
    votes = np.zeros((int(labels.max()) + 1, n_names), np.int64)
    ok = (seen >= 0) & (says >= 0) & (clusters >= 0)  # lipids of a membrane, looking into free space
    np.add.at(votes, (seen[ok], says[ok]), 1)
    return labels, seen, votes


def current_leaflets(heads: np.ndarray, box: np.ndarray, membrane: np.ndarray, leaflet: np.ndarray,
                     radius: float = NEIGHBOURS, passes: int = 2) -> np.ndarray:
    """(n_lipids,) int: each lipid's leaflet in one frame: the leaflet that most of its head
    neighbours (``heads`` (n_lipids, 3) nm) of the same membrane within ``radius`` hold, or its own
    where they tie or it has none; ``passes`` rounds, starting from ``leaflet`` as built. A lipid
    that flip-flopped into the other monolayer so names the compartment it now faces (checked with
    30 % of an ILV's inner leaflet flipped); lipids in place keep their leaflet."""
    membrane = np.asarray(membrane, np.int64)
    leaflet = np.asarray(leaflet, np.int64)
    i, j = periodic_tree(heads, box).query_pairs(radius, output_type="ndarray").T
    same = (membrane[i] == membrane[j]) & (membrane[i] >= 0)
    i, j = i[same], j[same]
    for _ in range(passes):
        vote = np.zeros(leaflet.size, np.int64)
        np.add.at(vote, i, leaflet[j])
        np.add.at(vote, j, leaflet[i])
        leaflet = np.where(vote != 0, np.sign(vote), leaflet)
    return leaflet


def _naming(faces: Sequence[Mapping[str, str]], membrane: np.ndarray, leaflet: np.ndarray
            ) -> tuple[tuple[str, ...], np.ndarray]:
    """The compartment names, and the index of the compartment each lipid names (its leaflet's face
    of its membrane as built; -1 for none), of shape ``leaflet.shape``."""
    names = tuple(dict.fromkeys(c for fc in faces for c in (upper_of(fc), lower_of(fc))))
    says = np.full(leaflet.shape, -1, np.int64)
    for k, fc in enumerate(faces):
        mine = membrane == k
        says[(leaflet > 0) & mine] = names.index(upper_of(fc))
        says[(leaflet < 0) & mine] = names.index(lower_of(fc))
    return names, says


def _named(traj: mdtraj.Trajectory, frame: int, membranes: Sequence[Mapping[str, str]], membrane: np.ndarray,
           leaflet: np.ndarray, voxel: float, probe: float, cutoff: float, min_lipids: int
           ) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Free-space labels, the votes per region and the compartment names of one frame (``leaflet``
    (n_lipids,) as built, or (n_frames, n_lipids))."""
    faces = [dict(m) for m in membranes]
    heads, tails = lipid_indices(traj.topology)
    membrane = np.asarray(membrane, np.int64)
    leaflet = np.asarray(leaflet, np.int64)
    lf = leaflet[frame] if leaflet.ndim == 2 else _known_leaflets(traj, heads, tails, membrane, leaflet, faces)
    lf = current_leaflets(traj.xyz[frame][heads].astype(np.float64), box_of(traj)[frame], membrane, lf)
    names, says = _naming(faces, membrane, lf)
    clusters = membrane_clusters(traj[frame], cutoff, min_lipids, workers=1)[0]
    _, orient = lipid_geometry(traj, heads, tails, slice(frame, frame + 1))
    labels, _, votes = _regions(traj.xyz[frame].astype(np.float64), box_of(traj)[frame], heads, orient[0], says,
                                clusters, not any("+z" in fc for fc in faces), voxel, probe, len(names))
    return labels, votes, names


def compartment_grid(traj: mdtraj.Trajectory, frame: int, membranes: Sequence[Mapping[str, str]],
                     membrane: np.ndarray, leaflet: np.ndarray, *, voxel: float = VOXEL, probe: float = PROBE,
                     share: float = 0.2, cutoff: float = TAIL_CONTACT, min_lipids: int = MIN_LIPIDS
                     ) -> tuple[np.ndarray, tuple[str, ...]]:
    """The compartment of every voxel of free space in one frame (for pictures).

    Parameters as :func:`topology` (``leaflet`` (n_lipids,) as built, or (n_frames, n_lipids)).

    Returns
    -------
    ((nx, ny, nz) int index into the names, -1 where occupied or no lipid looks into the region;
    the names: the compartments, then ``"a + b"`` for regions that join several).
    """
    labels, votes, names = _named(traj, frame, membranes, membrane, leaflet, voxel, probe, cutoff, min_lipids)
    member = members(votes, share)
    shown = list(names)
    comp = np.full(len(votes), -1)
    for r, row in enumerate(member):
        joined = " + ".join(names[i] for i in np.flatnonzero(row))
        if joined and joined not in shown:
            shown.append(joined)  # compartments joined by free space are drawn as one
        comp[r] = shown.index(joined) if joined else -1
    return np.where(labels >= 0, comp[np.maximum(labels, 0)], -1), tuple(shown)


def molecule_compartments(traj: mdtraj.Trajectory, frame: int, atoms: np.ndarray, mol: np.ndarray,
                          membranes: Sequence[Mapping[str, str]], membrane: np.ndarray, leaflet: np.ndarray,
                          **grid: Any) -> list[str]:
    """The compartment each molecule lies in, in one frame: the one its beads' nearest named free space
    belongs to, by majority over its beads.

    ``atoms`` (n,) the molecules' bead indices, ``mol`` (n,) the molecule (0..m-1) of each, grouped;
    ``membranes``, ``membrane``, ``leaflet`` and ``grid`` (voxel, probe, share, cutoff, min_lipids)
    as :func:`compartment_grid`. Returns m names: a compartment, ``"a + b"`` where free space joins
    several (an open pore), or ``""`` where no named free space is near.
    """
    n_mol = int(mol.max()) + 1 if len(mol) else 0
    labels, names = compartment_grid(traj, frame, membranes, membrane, leaflet, **grid)
    free = labels >= 0
    if not free.any():
        return [""] * n_mol
    idx = ndimage.distance_transform_edt(~free, return_distances=False, return_indices=True)
    nearest = labels[tuple(idx)]  # every voxel: the label of the nearest named free voxel
    box = box_of(traj)[frame]
    v = _voxel_of(wrap(traj.xyz[frame, atoms].astype(np.float64), box), box, labels.shape)
    seen = nearest[v[:, 0], v[:, 1], v[:, 2]]
    votes = np.zeros((n_mol, len(names)), np.int64)
    np.add.at(votes, (mol, seen), 1)
    return [names[int(np.argmax(row))] if row.any() else "" for row in votes]


def members(votes: np.ndarray, share: float, least: int = 10) -> np.ndarray:
    """(n_regions, n_compartments) bool: the compartments each region joins, from ``votes`` (lipids
    looking into each region naming each compartment): those named by at least ``least`` of its
    lipids that are at least ``share`` of the region's lipids or of the compartment's own looking
    lipids (a small membrane opening into a large space counts as well), and the compartment most
    of them name. A compartment seen into a region by fewer than ``least`` lipids (a pocket between
    crowded membranes) is not joined by it."""
    by_region = votes >= share * votes.sum(axis=1, keepdims=True)
    by_compartment = votes >= share * votes.sum(axis=0, keepdims=True)
    member = (by_region | by_compartment) & (votes >= least)
    seen = votes.sum(axis=1) > 0
    member[np.flatnonzero(seen), votes[seen].argmax(axis=1)] = True  # a region is always its own compartment
    return member


def settled(flags: np.ndarray) -> int | None:
    """The first index from which ``flags`` (n,) bool stay False to the end (0 if never True); None if
    the last is True. E.g. the frame from which a membrane stays closed."""
    flags = np.asarray(flags, bool)
    if flags.size and flags[-1]:
        return None
    true = np.flatnonzero(flags)
    return int(true[-1]) + 1 if true.size else 0


def runs(flags: np.ndarray) -> np.ndarray:
    """(k, 2) int, start and stop (exclusive) of each run of True in ``flags`` (n,)."""
    edges = np.diff(np.r_[0, np.asarray(flags, int), 0])
    return np.stack([np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)], axis=1)


def frame_step(time: np.ndarray) -> float:
    """The time between frames (the median spacing of ``time`` (n,); 0 for a single frame)."""
    return float(np.median(np.diff(time))) if len(time) > 1 else 0.0


def upper_of(faces: Mapping[str, str]) -> str:
    """The compartment a membrane's upper/outer leaflet faces (its ``+z`` or ``outside`` face)."""
    return faces["+z"] if "+z" in faces else faces["outside"]


def lower_of(faces: Mapping[str, str]) -> str:
    """The compartment a membrane's lower/inner leaflet faces (its ``-z`` or ``inside`` face)."""
    return faces["-z"] if "-z" in faces else faces["inside"]


def _known_leaflets(traj: mdtraj.Trajectory, heads: np.ndarray, tails: np.ndarray, membrane: np.ndarray,
                    leaflet: np.ndarray, faces: list[dict[str, str]]) -> np.ndarray:
    """Leaflets as built, measured in the first frame where unknown (0): a patch lipid pointing up
    (+z) is upper, a closed membrane's lipid pointing away from its centre is outer."""
    out = leaflet.copy()
    todo = (out == 0) & (membrane >= 0)
    if not todo.any():
        return out
    box = box_of(traj)[0]
    centre, orient = lipid_geometry(traj, heads, tails, slice(0, 1))
    for k, f in enumerate(faces):
        sel = todo & (membrane == k)
        if not sel.any():
            continue
        if "+z" in f:
            out[sel] = np.where(orient[0, sel, 2] >= 0, 1, -1)
        else:
            c = periodic_centre(centre[0, membrane == k], box)[0]
            radial = np.einsum("ij,ij->i", minimum_image(centre[0, sel] - c, box), orient[0, sel])
            out[sel] = np.where(radial >= 0, 1, -1)
    return out


def _reference(centre: np.ndarray, orient: np.ndarray, sel: np.ndarray, membrane: np.ndarray,
               faces: list[dict[str, str]], box: np.ndarray) -> tuple[bool, float, np.ndarray, float]:
    """(closed?, plane z, sphere centre, sphere radius) of the reference surface of cluster ``sel``
    (its lipids' centres and orientations (m, 3)): the plane of a cluster built mostly of a patch
    membrane's lipids that spans the box laterally (a bud or a vesicle pinched off a patch does not,
    however many lipids it took), else a sphere."""
    built = membrane[sel]
    k = int(np.bincount(built[built >= 0]).argmax()) if (built >= 0).any() else -1
    patch = k >= 0 and "+z" in faces[k] and spans_box(centre, box)
    base = frame_base(centre, orient, box, not patch, 1.0)
    return (not patch), float(base.origin[2]), base.origin, float(base.radius)


def spans_box(x: np.ndarray, box: np.ndarray, bins: int = SPAN_BINS) -> bool:
    """Whether points (m, 3) fill every one of ``bins`` slabs of the box along x and along y."""
    for k in (0, 1):
        slab = np.floor(np.mod(x[:, k], box[k]) / box[k] * bins).astype(np.int64)
        if np.unique(np.clip(slab, 0, bins - 1)).size < bins:
            return False
    return True


def membrane_events(clusters: np.ndarray, time: np.ndarray, pores: Sequence[Pore], opened: np.ndarray,
                    min_lipids: int = MIN_LIPIDS) -> list[Event]:
    """Divisions and mergers of membranes (lipid clusters followed by overlap from frame to frame)
    and pores opening and closing in a membrane, in time order.

    ``clusters`` (n_frames, n_lipids) int labels (-1: none); a membrane of frame f-1 that gives at
    least ``min_lipids`` lipids to each of several membranes of frame f divided; several that give
    as many to one merged. A pore opens in a membrane when it has a pore (or is open) and its
    predecessor had none, and closes in the reverse case.
    """
    events: list[Event] = []
    holed = {(p.frame, p.membrane) for p in pores}
    for f in range(1, len(clusters)):
        a, b = clusters[f - 1], clusters[f]
        both = (a >= 0) & (b >= 0)
        na, nb = int(a.max(initial=-1)) + 1, int(b.max(initial=-1)) + 1
        if na == 0 or nb == 0:
            continue
        overlap = np.zeros((na, nb), np.int64)
        np.add.at(overlap, (a[both], b[both]), 1)
        big = overlap >= min_lipids
        for i in np.flatnonzero(big.sum(axis=1) > 1):
            events.append(Event(f, float(time[f]), "division", (int(i), *np.flatnonzero(big[i]).tolist())))
        for j in np.flatnonzero(big.sum(axis=0) > 1):
            events.append(Event(f, float(time[f]), "merger", (*np.flatnonzero(big[:, j]).tolist(), int(j))))
        for j in range(nb):
            i = int(overlap[:, j].argmax())
            now = (f, j) in holed or (j < opened.shape[1] and opened[f, j])
            before = (f - 1, i) in holed or (i < opened.shape[1] and opened[f - 1, i])
            if now and not before:
                events.append(Event(f, float(time[f]), "pore opened", (j,)))
            elif before and not now:
                events.append(Event(f, float(time[f]), "pore closed", (j,)))
    return events
