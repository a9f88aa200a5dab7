"""Exosome uptake by a target membrane: contact, wrapping, ligand-receptor bonds and the outcome.

Per frame, for an exosome (a closed vesicle) over a target membrane:

- **wrapped fraction**: the share of the exosome's outer-leaflet lipids whose head lies within
  ``contact`` sigma of a head of the target membrane (the default 4 sigma spans the gap that
  ligand-receptor bonds hold: two tethers of ~1.4 sigma beyond the heads, plus contact), and the
  **contact area**, that share of the exosome's outer head surface (sigma^2);
- **bound pairs**: ligands whose binding bead has a receptor's binding bead within ``bond`` sigma
  (transmembrane rods LIG/REC, bead TIP; lipid-anchored LGL/RCL/RCR, their head H);
- **merged**: exosome and target lipids in one membrane (a stalk, hemifusion or a fusion pore: the
  fusion stage classifier tells which), joined by at least ``stalk`` exosome lipids whose tails
  touch target tails: one splayed lipid bridging two adhering bilayers for a frame is not a stalk;
- **engulfed**: the exosome, a membrane of its own and sealed, inside another closed, sealed
  membrane made of target lipids (an endosome) that lies on the target's cytosolic side and
  surrounds it on all sides (its heads seen from the exosome's centre in every one of ``ENCLOSED``
  equal solid angles: a deep cup still open to the patch is not), with the target patch sealed
  too: by :func:`~exomembrane.analysis.topology.topology`.

The stage of a frame is the furthest that holds: merged, engulfed, wrapped (wrapped fraction at
least ``wrapped``), bound (at least one bond), unbound. Apart from the stages, the exosome is
**torn** in a frame where its own membrane (not merged) is open or has a pore, or its lumen is
joined by free space to another compartment; the target is **holed** where its membrane (the
cluster holding most of its lipids) is open or has a pore, or the compartments on its two sides are
joined by free space (through a channel narrower than a pore); a run whose last
``TORN_FRAMES`` frames are all torn ends "torn", whatever its stage (adhesion strong enough to burst
a vesicle). Lengths in sigma, times in tau.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import mdtraj
import numpy as np

from .clusters import TAIL_CONTACT
from .frames import map_frames
from .pbc import box_of, minimum_image, periodic_centre, periodic_tree
from .selection import is_lipid_residue, lipid_indices
from .topology import Topology, spans_box

#: The stages of uptake, in order.
STAGES = ("unbound", "bound", "wrapped", "engulfed", "merged")
#: Head-head distance (sigma) within which the target covers the exosome.
CONTACT = 4.0
#: Tip-tip distance (sigma) of a ligand-receptor bond (within the cos^2 well: contact 1.12, range 1.0 beyond).
BOND = 2.0
#: Wrapped fraction from which the exosome counts as wrapped.
WRAPPED = 0.9
#: Exosome lipids in tail contact with target lipids that make a stalk (a hydrophobic bridge ~1 sigma
#: in radius holds ~5 lipids of each membrane).
STALK = 5
#: Depth (sigma) beyond the target's median head height from which a molecule is in its cytosol.
HEAD_DEPTH = 5.0
#: Equal solid angles (bands of cos(theta) x sectors of phi) that an endosome must all cover.
ENCLOSED = (6, 8)
#: Consecutive frames, to the end, of an open exosome that make the outcome "torn".
TORN_FRAMES = 3
#: Binding bead of each ligand and receptor species: residue name -> bead name.
LIGANDS = {"LIG": "TIP", "LGL": "H"}
RECEPTORS = {"REC": "TIP", "RCL": "H", "RCR": "H"}
#: The machinery shipped species stand for, never cargo: SNARE-like tether anchors, ESCRT-III subunits.
MACHINERY = ("TMA", "ESC3")


@dataclass(frozen=True)
class Uptake:
    """Uptake of an exosome by a target membrane, per frame (see the module docstring).

    Attributes
    ----------
    time
        (n_frames,) tau.
    wrapped_fraction, contact_area
        (n_frames,) share of the exosome's outer lipids covered by the target, and that share of its
        outer head surface (sigma^2).
    bound_pairs
        (n_frames,) int: ligands bound to a receptor.
    merged, engulfed, torn, target_holed
        (n_frames,) bool.
    stage
        (n_frames,) int index into :data:`STAGES`.
    first_tau
        Stage name -> first time reached (tau), None if never.
    outcome, outcome_tau
        The last frame's stage, or "torn", and the time it was first reached, held from then to the end.
    """

    time: np.ndarray
    wrapped_fraction: np.ndarray
    contact_area: np.ndarray
    bound_pairs: np.ndarray
    merged: np.ndarray
    engulfed: np.ndarray
    torn: np.ndarray
    target_holed: np.ndarray
    stage: np.ndarray
    first_tau: dict[str, float | None]
    outcome: str
    outcome_tau: float


def uptake(traj: mdtraj.Trajectory, exosome: np.ndarray, target: np.ndarray, topo: Topology, *,
           cytosol: str = "-z", lumen: str = "exosome_lumen", sides: tuple[str, str] = ("extracellular", "cytosol"),
           ligands: Mapping[str, str] = LIGANDS,
           receptors: Mapping[str, str] = RECEPTORS,
           contact: float = CONTACT, bond: float = BOND, wrapped: float = WRAPPED, stalk: int = STALK,
           workers: int | None = None) -> Uptake:
    """Contact, wrapping, bonds and stage of an exosome at a target membrane, per frame.

    Parameters
    ----------
    traj
        Trajectory, nm (= sigma), orthorhombic periodic box.
    exosome, target
        (n_lipids,) bool over lipids (in :func:`~exomembrane.analysis.lipid_indices` order): the
        exosome's lipids and the target membrane's, as built.
    topo
        :func:`~exomembrane.analysis.topology.topology` of the same trajectory (its membrane
        clusters and which of them are sealed).
    cytosol
        The target's cytosolic side, "-z" or "+z" (the builder's target faces the extracellular
        space at +z).
    lumen
        The compartment inside the exosome (joined to another one: torn); absent from ``topo``: not
        checked.
    sides
        The compartments on the target's two faces (joined: the target is holed); absent from
        ``topo``: not checked.
    ligands, receptors
        Residue name -> binding bead name of the ligand and receptor species; a species absent from
        the topology has no bonds.
    contact, bond, wrapped, stalk
        Head-head cover distance, binding-bead bond distance (sigma), the wrapped threshold and the
        exosome lipids in tail contact with the target that merge the two.
    workers
        Threads working on frames at once (default: one per CPU).

    Example
    -------
    >>> u = uptake(traj, membrane == 1, membrane == 0, topo)
    >>> u.outcome, u.outcome_tau, u.wrapped_fraction.max()
    """
    heads, tails = lipid_indices(traj.topology)
    exosome, target = (np.asarray(a, bool) for a in (exosome, target))
    for name, a in (("exosome", exosome), ("target", target)):
        if a.shape != heads.shape:
            raise ValueError(f"{name}: must be (n_lipids,) = ({heads.size},) bool (got shape {a.shape})")
        if not a.any():
            raise ValueError(f"{name}: selects no lipid")
    if cytosol not in ("-z", "+z"):
        raise ValueError(f"cytosol: must be '-z' or '+z' (got {cytosol!r})")
    down = -1.0 if cytosol == "-z" else 1.0
    if (exosome & target).any():
        raise ValueError("exosome, target: a lipid cannot be in both")
    if topo.membranes.shape != (traj.n_frames, heads.size):
        raise ValueError(f"topo: must be the topology of this trajectory ({traj.n_frames} frames, {heads.size} "
                         f"lipids; got membranes of shape {topo.membranes.shape})")
    for name, v in (("contact", contact), ("bond", bond)):
        if not v > 0:
            raise ValueError(f"{name}: must be > 0 sigma (got {v!r})")
    if not 0 < wrapped <= 1:
        raise ValueError(f"wrapped: must be in (0, 1] (got {wrapped!r})")
    if not stalk >= 1:
        raise ValueError(f"stalk: must be >= 1 lipid (got {stalk!r})")
    ends = np.where(tails >= 0, tails, heads[:, None]).max(axis=1)  # the last tail bead of each lipid
    lig, rec = _binding_beads(traj.topology, ligands), _binding_beads(traj.topology, receptors)
    exo_tails, tgt_tails = tails[exosome], tails[target]
    box = box_of(traj)
    sealed = topo.sealed()
    sides_joined = np.zeros(traj.n_frames, bool)
    if set(sides) <= set(topo.compartments):
        sides_joined = np.asarray(topo.leaky(*sides), bool)
    lumen_joined: np.ndarray = np.zeros(traj.n_frames, bool)
    if lumen in topo.compartments:
        joined = topo.connected[:, topo.compartments.index(lumen)].copy()
        joined[:, topo.compartments.index(lumen)] = False
        lumen_joined = np.asarray(joined.any(axis=1), bool)

    def frame(f: int) -> tuple[float, float, int, bool, bool, bool, bool]:
        x = traj.xyz[f].astype(np.float64)
        b = box[f]
        share, area, centre = _cover(x, b, heads, ends, exosome, target, contact)
        bonds = 0
        if lig.size and rec.size:
            d = periodic_tree(x[rec], b).query(x[lig], distance_upper_bound=bond)[0]
            bonds = int(np.isfinite(d).sum())
        labels = topo.membranes[f]
        merged, engulfed = _merged_or_engulfed(labels, exosome, target, sealed[f], x, heads, centre, b, down)
        if merged:  # one cluster: a stalk only if enough lipids bridge
            tt = tgt_tails[tgt_tails >= 0]
            d = periodic_tree(x[tt], b).query(x[np.maximum(exo_tails, 0)], distance_upper_bound=TAIL_CONTACT)[0]
            merged = int((np.isfinite(d) & (exo_tails >= 0)).any(axis=1).sum()) >= stalk
        own = labels[exosome]
        own = own[own >= 0]
        torn = not merged and (not own.size or not _is_sealed(sealed[f], int(np.bincount(own).argmax()))
                               or bool(lumen_joined[f]))
        theirs = labels[target]
        theirs = theirs[theirs >= 0]
        holed = bool(sides_joined[f]) or (bool(theirs.size)
                                          and not _is_sealed(sealed[f], int(np.bincount(theirs).argmax())))
        return share, area, bonds, merged, engulfed, torn, holed

    rows = list(map_frames(frame, range(traj.n_frames), workers=workers))
    share, area, bonds, merged, engulfed, torn, holed = (np.array(c) for c in zip(*rows))
    stage = np.where(merged, 4, np.where(engulfed, 3, np.where(share >= wrapped, 2, np.where(bonds > 0, 1, 0))))
    t = np.asarray(traj.time, float)
    first = {name: (float(t[np.argmax(stage >= k)]) if (stage >= k).any() else None) for k, name in enumerate(STAGES)}
    ends_torn = len(torn) >= TORN_FRAMES and bool(torn[-TORN_FRAMES:].all())
    last = int(stage[-1])
    held = np.flatnonzero(~torn if ends_torn else stage != last)
    since = int(held[-1]) + 1 if held.size else 0
    return Uptake(t, share.astype(float), area.astype(float), bonds.astype(int), merged.astype(bool),
                  engulfed.astype(bool), torn.astype(bool), holed.astype(bool), stage.astype(int), first,
                  "torn" if ends_torn else STAGES[last], float(t[since]))


def cargo_species(topology: mdtraj.Topology, machinery: Sequence[str] = MACHINERY) -> list[str]:
    """Residue names of the cargo: molecules that are neither lipids, ligands or receptors, nor
    ``machinery`` (residue names of tether anchors and filament subunits)."""
    skip = set(LIGANDS) | set(RECEPTORS) | set(machinery)
    return sorted({r.name for r in topology.residues if not is_lipid_residue(r) and r.name not in skip})


def cargo_whereabouts(traj: mdtraj.Trajectory, exosome: np.ndarray, target: np.ndarray, species: Sequence[str], *,
                      frame: int = -1, cytosol: str = "-z") -> dict[str, dict[str, int]]:
    """Where each cargo molecule is in one frame: ``inside`` the exosome (its centre within the exosome's
    mean head radius of the exosome's centre), else in the target's ``cytosol`` (beyond the target
    patch's median head height on the cytosolic side) or ``extracellular``.

    ``exosome``, ``target``: (n_lipids,) bool as in :func:`uptake`; ``species``: residue names of
    the cargo (absent ones count nothing). Returns species -> {"inside", "cytosol", "extracellular"} -> count.
    """
    heads, _ = lipid_indices(traj.topology)
    b = box_of(traj)[frame]
    x = traj.xyz[frame].astype(np.float64)
    h_exo = x[heads[np.asarray(exosome, bool)]]
    centre = periodic_centre(h_exo, b)[0]
    radius = float(np.linalg.norm(minimum_image(h_exo - centre, b), axis=1).mean())
    z_patch = float(np.median(x[heads[np.asarray(target, bool)], 2]))
    down = -1.0 if cytosol == "-z" else 1.0
    out: dict[str, dict[str, int]] = {}
    for name in species:
        atoms = [[a.index for a in r.atoms] for r in traj.topology.residues if r.name == name]
        counts = {"inside": 0, "cytosol": 0, "extracellular": 0}
        for ix in atoms:
            c = periodic_centre(x[ix], b)[0]
            if np.linalg.norm(minimum_image(c - centre, b)) < radius:
                counts["inside"] += 1
            elif down * minimum_image(np.array([0.0, 0.0, c[2] - z_patch]), b)[2] > HEAD_DEPTH:
                counts["cytosol"] += 1
            else:
                counts["extracellular"] += 1
        out[name] = counts
    return out


def wrapped_fraction(traj: mdtraj.Trajectory, exosome: np.ndarray, target: np.ndarray,
                     contact: float = CONTACT) -> np.ndarray:
    """(n_frames,) share of the exosome's outer-leaflet lipids whose head lies within ``contact`` sigma
    of a head of the target (the wrapped fraction of :func:`uptake`, without the topology: cheap
    enough for a live plot). ``exosome``, ``target``: (n_lipids,) bool as in :func:`uptake`."""
    heads, tails = lipid_indices(traj.topology)
    ends = np.where(tails >= 0, tails, heads[:, None]).max(axis=1)
    box = box_of(traj)
    exosome, target = np.asarray(exosome, bool), np.asarray(target, bool)
    return np.array([_cover(traj.xyz[f].astype(np.float64), box[f], heads, ends, exosome, target, contact)[0]
                     for f in range(traj.n_frames)])


def _cover(x: np.ndarray, box: np.ndarray, heads: np.ndarray, ends: np.ndarray, exosome: np.ndarray,
           target: np.ndarray, contact: float) -> tuple[float, float, np.ndarray]:
    """(wrapped fraction, contact area sigma^2, the exosome's centre (3,)) in one frame ``x``."""
    h_exo, h_tgt = x[heads[exosome]], x[heads[target]]
    centre = periodic_centre(h_exo, box)[0]
    r_head = np.linalg.norm(minimum_image(h_exo - centre, box), axis=1)
    r_end = np.linalg.norm(minimum_image(x[ends[exosome]] - centre, box), axis=1)
    outer = r_head > r_end
    if not outer.any():
        return 0.0, 0.0, centre
    near = periodic_tree(h_tgt, box).query(h_exo[outer], distance_upper_bound=contact)[0]
    share = float(np.isfinite(near).mean())
    return share, share * 4 * np.pi * float(np.mean(r_head[outer])) ** 2, centre


def _binding_beads(top: mdtraj.Topology, beads: Mapping[str, str]) -> np.ndarray:
    """Atom indices of the binding bead ``beads[name]`` of every residue ``name`` (empty if none)."""
    return np.array([a.index for r in top.residues if r.name in beads for a in r.atoms if a.name == beads[r.name]],
                    np.int64)


def _merged_or_engulfed(labels: np.ndarray, exosome: np.ndarray, target: np.ndarray, sealed: np.ndarray,
                        x: np.ndarray, heads: np.ndarray, centre: np.ndarray, box: np.ndarray,
                        down: float) -> tuple[bool, bool]:
    """Whether the exosome's membrane has merged with a target membrane, or has been engulfed (see the
    module docstring), in one frame of cluster ``labels`` (n_lipids,), ``sealed`` per cluster, the
    exosome's ``centre`` (3,) and the cytosol's direction ``down`` along z (-1 or +1)."""
    own = labels[exosome]
    own = own[own >= 0]
    if not own.size:
        return False, False
    mine = int(np.bincount(own).argmax())
    theirs = labels[target]
    tgt = np.unique(theirs[theirs >= 0])
    if mine in tgt and (theirs == mine).sum() >= 0.1 * (own == mine).sum():
        return True, False
    if tgt.size < 2 or not _is_sealed(sealed, mine):
        return False, False
    spanning = [int(k) for k in tgt if spans_box(x[heads[labels == k]], box)]
    if len(spanning) != 1 or not _is_sealed(sealed, spanning[0]):
        return False, False
    patch = spanning[0]
    z_patch = periodic_centre(x[heads[labels == patch]], box)[0][2]
    for k in tgt[(tgt != patch) & (tgt != mine)]:  # a shell of target lipids, not the exosome itself
        shell = x[heads[labels == k]]
        if len(shell) < 4 or not _is_sealed(sealed, int(k)):
            continue
        mid = periodic_centre(shell, box)[0]
        below = down * minimum_image(np.array([0.0, 0.0, mid[2] - z_patch]), box)[2] > 0
        if below and _encloses(minimum_image(shell - centre, box)):
            return False, True
    return False, False


def _encloses(d: np.ndarray, bins: tuple[int, int] = ENCLOSED) -> bool:
    """Whether points at offsets ``d`` (m, 3) from a centre lie in every one of the equal solid angles
    of ``bins`` (bands of cos(theta) x sectors of phi) around it."""
    r = np.linalg.norm(d, axis=1)
    d = d[r > 0] / r[r > 0, None]
    band = np.minimum(((d[:, 2] + 1.0) / 2.0 * bins[0]).astype(int), bins[0] - 1)
    sector = np.minimum(((np.arctan2(d[:, 1], d[:, 0]) + np.pi) / (2 * np.pi) * bins[1]).astype(int), bins[1] - 1)
    return np.unique(band * bins[1] + sector).size == bins[0] * bins[1]


def _is_sealed(sealed: np.ndarray, k: int) -> bool:
    return 0 <= k < sealed.size and bool(sealed[k])
