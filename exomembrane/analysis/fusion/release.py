"""What fusion delivers: lipid mixing per leaflet, content mixing, ILV release, and leaks.

- **Lipid mixing** of leaflet L (as built) of membrane A into membrane B: the fraction of A's
  lipids of L with a head of B within ``contact`` whose orientation is parallel (the two lipids
  lie in one monolayer). Heads facing each other across a docked contact are antiparallel and do
  not count, so the proximal (cytosolic) leaflets mix from the stalk on and the distal ones only
  through a pore.
- **Content mixing**: the distal compartments (MVB lumen, extracellular space) joined by free space
  (:class:`~exomembrane.analysis.topology.Topology`).
- **Release**: an ILV is released in a frame when its membrane is one closed membrane of its own
  (a topology cluster holds at least ``whole`` of its lipids; its own lipids and proteins leave no
  hole in their coverage of its sphere, a test that holds for ILVs whose lumen is too small to
  resolve; and it shares no monolayer with another membrane: fewer than ``mixed`` lipids of other
  membranes have a parallel head of the ILV within ``contact``, so an ILV that merely touches
  another membrane, its heads facing theirs, stays closed, and one joined by a stalk does not),
  the compartment its outer leaflet looks into is (joined to) the extracellular space, and it is
  **exposed**: no head of another membrane lies on the extracellular side of it (along the plane
  membrane's normal) within its outer radius, so it has an open way out of the cell (it has
  passed the fusion pore, or the MVB has collapsed into the plasma membrane under it).
- **Leaks**: compartments that must stay apart joined by free space (cytosol with the extracellular
  space, the MVB lumen or an ILV lumen; an ILV lumen with the MVB lumen or the extracellular space),
  and pores of any membrane but the fused one.

Lengths in nm (= sigma), times in ps (= tau).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import mdtraj
import numpy as np

from exomembrane.checks import check_positive

from ..clusters import TAIL_CONTACT
from ..frames import map_frames
from ..pbc import box_of, minimum_image, periodic_centre, periodic_tree, wrap
from ..selection import lipid_geometry, lipid_indices, tail_ends
from ..surface import frame_base
from ..topology import MIN_RADIUS, Topology, coverage_holes

#: A molecule belongs to an ILV while its centre lies within the ILV's outer radius plus this (nm).
CARGO_MARGIN = 1.5


@dataclass(frozen=True)
class Release:
    """ILV release per frame (see the module docstring).

    Attributes
    ----------
    time
        (n_frames,) ps.
    ilvs
        Membrane indices (into the run's membranes) of the ILVs.
    closed, extracellular, exposed
        (n_frames, n_ilvs) bool: the ILV is one closed membrane of its own; its outer leaflet looks
        into the extracellular space; no other membrane covers it on the extracellular side.
    height
        (n_frames, n_ilvs) nm: the ILV centre's height above the plane membrane's midplane (the
        median of its lipids' last tail beads), towards the extracellular space.
    cargo
        (n_frames, n_ilvs) int: how many of the molecules that are not lipids and lie within the
        ILV's outer radius (+ ``CARGO_MARGIN``) in the first frame (its cargo: RNA in its lumen,
        proteins in its membrane) lie within it in each frame.
    """

    time: np.ndarray
    ilvs: tuple[int, ...]
    closed: np.ndarray
    extracellular: np.ndarray
    exposed: np.ndarray
    height: np.ndarray
    cargo: np.ndarray

    @property
    def released(self) -> np.ndarray:
        """(n_frames, n_ilvs) bool."""
        return self.closed & self.extracellular & self.exposed

    def count(self) -> np.ndarray:
        """(n_frames,) int: ILVs released in each frame."""
        return self.released.sum(axis=1)

    def times(self) -> np.ndarray:
        """(n_ilvs,) ps: first frame each ILV is released (NaN: never)."""
        r = self.released
        return np.where(r.any(axis=0), self.time[np.argmax(r, axis=0)], np.nan)


def release(traj: mdtraj.Trajectory, membranes: Sequence[Mapping[str, str]], membrane: np.ndarray, topo: Topology,
            plane: int = 0, ilvs: Sequence[int] | None = None, *, outside: str = "extracellular",
            whole: float = 0.9, mixed: int = 5, contact: float = 1.5, parallel: float = 0.5) -> Release:
    """ILV release per frame.

    Parameters
    ----------
    traj
        Trajectory, nm; z must not be periodic across the plane membrane (the builders' walls).
    membranes, membrane
        Faces of each membrane and each lipid's membrane as built (n_lipids,).
    topo
        The run's :class:`~exomembrane.analysis.topology.Topology`.
    plane
        Index of the flat membrane (the plasma membrane) the ILVs leave through.
    ilvs
        Indices of the ILV membranes; default: the closed membranes whose inside no other membrane
        faces and that do not face ``outside`` as built (the ILVs of an MVB at a plasma membrane).
    outside
        The compartment the ILVs are released into.
    whole
        Fraction of an ILV's lipids its own cluster must hold; lipids of other membranes in that
        cluster must number fewer than ``1 - whole`` of its own.
    mixed, contact, parallel
        An ILV with ``mixed`` or more lipids of other membranes within ``contact`` nm of its heads,
        oriented with a cosine above ``parallel`` with them (one monolayer, as in
        :func:`lipid_mixing`), is fused to them, not closed.
    """
    if not 0 < whole <= 1:
        raise ValueError(f"whole: must lie in (0, 1] (got {whole!r})")
    if mixed < 1:
        raise ValueError(f"mixed: must be at least 1 lipid (got {mixed!r})")
    check_positive(contact=contact)
    faces = [dict(m) for m in membranes]
    membrane = np.asarray(membrane, np.int64)
    if "+z" not in faces[plane]:
        raise ValueError(f"plane: membrane {plane} ({faces[plane]}) is not a flat patch")
    if outside not in topo.compartments:
        raise ValueError(f"outside: {outside!r} is none of the compartments {topo.compartments}")
    up = 1.0 if faces[plane]["+z"] == outside else -1.0
    if ilvs is None:
        ilvs = [k for k, f in enumerate(faces) if "inside" in f
                and sum(f["inside"] in g.values() for g in faces) == 1
                and k != plane and outside not in f.values()]
    ilvs = tuple(int(k) for k in ilvs)
    i_out = topo.compartments.index(outside)
    heads, tails = lipid_indices(traj.topology)
    in_plane = membrane == plane
    ends = tail_ends(tails)  # last tail beads, by the midplane
    boxes = box_of(traj)
    lipid_bead = np.zeros(traj.n_atoms, bool)
    lipid_bead[heads] = True
    lipid_bead[tails[tails >= 0]] = True
    non_lipid = np.flatnonzero(~lipid_bead)
    molecules = [np.array([a.index for a in r.atoms]) for r in traj.topology.residues
                 if not lipid_bead[next(iter(r.atoms)).index]]

    def frame(f: int) -> tuple[np.ndarray, ...]:
        lab = topo.membranes[f]
        box = boxes[f]
        x = traj.xyz[f].astype(np.float64)
        mid = float(np.median(x[ends[in_plane], 2])) if in_plane.any() else 0.0  # within 0.5 of the midplane
        n = len(ilvs)
        closed, out, exposed, height = np.zeros(n, bool), np.zeros(n, bool), np.zeros(n, bool), np.zeros(n)
        inside = np.zeros((n, len(molecules)), bool)
        centres, orient = (a[0] for a in lipid_geometry(traj, heads, tails, slice(f, f + 1)))
        hx = x[heads]
        middles = np.array([x[m[0]] + minimum_image(x[m] - x[m[0]], box).mean(axis=0) for m in molecules])
        for i, k in enumerate(ilvs):
            own = membrane == k
            labels, counts = np.unique(lab[own], return_counts=True)
            c = labels[np.argmax(counts)]
            mine = own & (lab == c) if c >= 0 else own
            # its cluster holds (nearly) all of it and (nearly) nothing else: one shared with a membrane
            # it touches tail to tail is not a vesicle of its own
            foreign = int(((lab == c) & ~own & (membrane >= 0)).sum()) if c >= 0 else 0
            whole_ok = c >= 0 and counts.max() >= whole * own.sum() and foreign < (1 - whole) * own.sum()
            a, b = np.flatnonzero(own), np.flatnonzero((membrane >= 0) & ~own)
            fused = np.unique(_monolayer_pairs(hx, orient, a, b, box, contact, parallel)[1]).size >= mixed
            holes = _holes(x, heads, tails, mine, centres, orient, non_lipid, box)
            closed[i] = bool(whole_ok and not fused and not holes)
            looks = topo.facing[f, mine]
            looks = looks[looks >= 0]
            if looks.size:
                out[i] = bool(topo.connected[f, np.bincount(looks).argmax(), i_out])
            centre = periodic_centre(x[heads[mine]], box)[0]
            # its outer radius, robust to a few of its lipids gone astray (into a membrane it touches)
            reach = float(np.percentile(np.linalg.norm(minimum_image(x[heads[mine]] - centre, box), axis=1), 90))
            others = x[heads[~own]]
            lateral = np.linalg.norm(minimum_image(others[:, :2] - centre[:2], box[:2]), axis=1)
            exposed[i] = not np.any((lateral < reach) & (up * (others[:, 2] - centre[2]) > 0))
            height[i] = up * (centre[2] - mid)
            if molecules:
                inside[i] = np.linalg.norm(minimum_image(middles - centre, box), axis=1) < reach + CARGO_MARGIN
        return closed, out, exposed, height, inside

    rows = list(map_frames(frame, range(traj.n_frames)))
    closed, ext, exposed, height = (np.array([r[j] for r in rows]).reshape(-1, len(ilvs)) for j in range(4))
    inside = np.array([r[4] for r in rows]).reshape(len(rows), len(ilvs), len(molecules))
    cargo = (inside & inside[:1]).sum(axis=2) if len(rows) else np.zeros((0, len(ilvs)), int)
    return Release(np.asarray(traj.time, float), ilvs, closed.astype(bool), ext.astype(bool), exposed.astype(bool),
                   height.astype(float), cargo.astype(np.int64))


def _monolayer_pairs(x: np.ndarray, orient: np.ndarray, a: np.ndarray, b: np.ndarray, box: np.ndarray,
                     contact: float, parallel: float) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (positions into ``a``, into ``b``) of lipids whose heads (``x`` (n_lipids, 3) nm) lie within
    ``contact`` and whose orientations make a cosine above ``parallel``: lipids in one monolayer."""
    if not a.size or not b.size:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    near = periodic_tree(x[a], box).sparse_distance_matrix(periodic_tree(x[b], box), contact, output_type="ndarray")
    same = np.einsum("ij,ij->i", orient[a[near["i"]]], orient[b[near["j"]]]) > parallel
    return near["i"][same], near["j"][same]


def _holes(x: np.ndarray, heads: np.ndarray, tails: np.ndarray, mine: np.ndarray, centres: np.ndarray,
           orient: np.ndarray, non_lipid: np.ndarray, box: np.ndarray) -> bool:
    """Does the closed membrane of lipids ``mine`` (with the other beads within tail contact of its
    beads: its proteins) leave a hole of at least ``MIN_RADIUS`` in its coverage of its sphere?"""
    base = frame_base(centres[mine], orient[mine], box, True, 1.0)
    beads = np.concatenate([heads[mine], tails[mine][tails[mine] >= 0]])
    if non_lipid.size:
        near = periodic_tree(x[beads], box).query(wrap(x[non_lipid], box), distance_upper_bound=TAIL_CONTACT)[0]
        beads = np.concatenate([beads, non_lipid[np.isfinite(near)]])
    holes = coverage_holes(x[beads], box, True, base.origin, float(base.radius))
    return any(r >= MIN_RADIUS for _, r, _ in holes)


def lipid_mixing(traj: mdtraj.Trajectory, membrane: np.ndarray, leaflet: np.ndarray, first: int = 0,
                 second: int = 1, *, contact: float = 1.5, parallel: float = 0.5) -> np.ndarray:
    """(n_frames, 2) fraction of ``first``'s lipids of its upper (column 0) and lower (column 1)
    leaflet, as built, with a head of ``second`` within ``contact`` nm whose orientation makes a
    cosine above ``parallel`` with theirs (one monolayer; see the module docstring)."""
    check_positive(contact=contact)
    membrane = np.asarray(membrane, np.int64)
    lf = np.asarray(leaflet, np.int64)
    lf = lf if lf.ndim == 1 else lf[0]
    heads, tails = lipid_indices(traj.topology)
    a, b = np.flatnonzero(membrane == first), np.flatnonzero(membrane == second)
    if not a.size or not b.size:
        raise ValueError(f"first, second: membranes {first} and {second} must both have lipids")

    boxes = box_of(traj)

    def frame(f: int) -> np.ndarray:
        _, orient = lipid_geometry(traj, heads, tails, slice(f, f + 1))
        o = orient[0]
        x = traj.xyz[f, heads].astype(np.float64)
        mixed = np.zeros(len(a), bool)
        mixed[_monolayer_pairs(x, o, a, b, boxes[f], contact, parallel)[0]] = True
        return np.array([mixed[lf[a] == s].mean() if (lf[a] == s).any() else 0.0 for s in (1, -1)])

    return np.array(list(map_frames(frame, range(traj.n_frames))), float).reshape(-1, 2)


@dataclass(frozen=True)
class Leaks:
    """Leaks per frame: ``joined`` maps "a|b" to (n_frames,) bool for compartments that must stay
    apart; ``stray_pores`` (n_frames,) counts the pores of membranes other than the fused one (the
    plasma membrane or the MVB alone, an ILV)."""

    joined: dict[str, np.ndarray]
    stray_pores: np.ndarray

    @property
    def any(self) -> np.ndarray:
        """(n_frames,) bool: a leak of either kind."""
        out = self.stray_pores > 0
        for v in self.joined.values():
            out = out | v
        return out


def leaks(topo: Topology, membrane: np.ndarray, first: int = 0, second: int = 1, apart: Sequence[tuple[str, str]] = (
        ("cytosol", "extracellular"), ("cytosol", "mvb_lumen"), ("cytosol", "ilv_lumen"),
        ("ilv_lumen", "mvb_lumen"), ("ilv_lumen", "extracellular"))) -> Leaks:
    """Leaks of a fusion run: ``apart`` compartment pairs joined (an ILV's lumen is topologically
    cytosol: joined to the MVB lumen or the extracellular space, an ILV spills its content, as when
    it fuses back into the MVB membrane or opens), and pores of every membrane but
    the one that holds lipids of both ``first`` and ``second`` (the fused membrane, whose fusion pore
    joins the distal compartments; a tear of it elsewhere joins the cytosol to one of them).
    ``membrane``: (n_lipids,) each lipid's membrane as built."""
    membrane = np.asarray(membrane, np.int64)
    joined = {f"{a}|{b}": topo.leaky(a, b) for a, b in apart if a in topo.compartments and b in topo.compartments}
    stray = np.zeros(len(topo.time), int)
    for f in range(len(topo.time)):
        lab = topo.membranes[f]
        fused = set(np.unique(lab[membrane == first])) & set(np.unique(lab[membrane == second])) - {-1}
        stray[f] = sum(p.membrane not in fused for p in topo.pores_of(f))
    return Leaks(joined, stray)
