"""Fusion stage of two membranes per frame: separate, docked, stalk, hemifusion, pore.

The stages are read from lipid connectivity and from which compartment each lipid's head looks
into (``Topology.facing``), never from a distance between surfaces:

- **pore**: the two membranes' distal compartments (those they do not share: extracellular and
  MVB lumen) are joined by free space (:func:`~exomembrane.analysis.topology.topology`);
- **hemifusion**: lipids of the first membrane looking into its distal compartment touch, tail to
  tail, lipids of the second looking into its own distal compartment: one bilayer (the diaphragm,
  at least ``min_diaphragm`` in area) made of the two distal monolayers separates them;
- **stalk**: the two membranes are one lipid cluster (their hydrophobic cores touch) without a
  diaphragm or a pore;
- **docked**: still two clusters, but heads of the two membranes' leaflets that face the
  compartment they share (the cytosol; leaflets as built) lie within ``contact`` of each other
  over at least ``min_contact``;
- **separate**: none of these.

Areas count lipids of the first membrane at ``area_per_lipid``. Lengths in nm (= sigma), times in
ps (= tau).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import mdtraj
import numpy as np

from exomembrane.checks import check_positive

from ..clusters import MIN_LIPIDS, TAIL_CONTACT
from ..frames import map_frames
from ..pbc import box_of, periodic_tree, wrap
from ..selection import lipid_indices
from ..topology import Topology, topology, upper_of

#: The stages, in the order fusion passes through them.
STAGES = ("separate", "docked", "stalk", "hemifusion", "pore")


@dataclass(frozen=True)
class FusionStages:
    """Stage and measures per frame (see the module docstring).

    Attributes
    ----------
    time
        (n_frames,) ps.
    stage
        (n_frames,) int index into :data:`STAGES`.
    contact_area
        (n_frames,) nm^2: area of the first membrane's heads in contact with the second's across
        the shared compartment.
    diaphragm_radius
        (n_frames,) nm: equivalent radius of the hemifusion diaphragm (0 without one).
    pore_radius
        (n_frames,) nm: the largest pore of the fused membrane while the distal compartments are
        joined (0 otherwise).
    mixed
        (n_frames,) fraction of the first membrane's lipids in one cluster with the second's lipids.
    topology
        The :class:`~exomembrane.analysis.topology.Topology` the stages were read with.
    """

    time: np.ndarray
    stage: np.ndarray
    contact_area: np.ndarray
    diaphragm_radius: np.ndarray
    pore_radius: np.ndarray
    mixed: np.ndarray
    topology: Topology

    def names(self) -> list[str]:
        """The stage of each frame by name."""
        return [STAGES[k] for k in self.stage]

    def first(self, stage: str) -> float:
        """Time (ps) of the first frame at ``stage`` or beyond; NaN if never reached."""
        reached = self.stage >= STAGES.index(stage)
        return float(self.time[np.argmax(reached)]) if reached.any() else np.nan


def fusion_stages(traj: mdtraj.Trajectory, membranes: Sequence[Mapping[str, str]], membrane: np.ndarray,
                  leaflet: np.ndarray, first: int = 0, second: int = 1, *, contact: float = 2.0,
                  min_contact: float = 10.0, min_diaphragm: float = 4 * np.pi, area_per_lipid: float = 1.2,
                  topo: Topology | None = None, workers: int | None = None) -> FusionStages:
    """Fusion stage of membranes ``first`` and ``second`` in every frame.

    Parameters
    ----------
    traj
        Trajectory, nm, orthorhombic periodic box.
    membranes, membrane, leaflet
        The compartments as a run records them (see :func:`~exomembrane.analysis.topology.topology`);
        the two membranes must share one compartment (the one between them).
    first, second
        Indices of the two membranes into ``membranes`` (e.g. the plasma membrane and the MVB).
    contact
        Head-head distance (nm) across the shared compartment that counts as contact (docking).
    min_contact, min_diaphragm
        Smallest contact area for docking and diaphragm area for hemifusion (nm^2).
    area_per_lipid
        nm^2 per lipid, to turn lipid counts into areas.
    topo
        The run's topology if already computed.
    workers
        Threads working on frames at once (default: one per CPU).

    Returns
    -------
    :class:`FusionStages`.

    Example
    -------
    >>> s = fusion_stages(traj, faces, membrane, leaflet, first=1, second=0)
    >>> s.names(), s.first("pore"), s.pore_radius
    """
    check_positive(contact=contact, min_contact=min_contact, min_diaphragm=min_diaphragm,
                   area_per_lipid=area_per_lipid)
    faces = [dict(m) for m in membranes]
    for name, k in (("first", first), ("second", second)):
        if not 0 <= k < len(faces):
            raise ValueError(f"{name}: must index one of the {len(faces)} membranes (got {k})")
    shared = set(faces[first].values()) & set(faces[second].values())
    if first == second or len(shared) != 1:
        raise ValueError(f"first, second: two membranes that share exactly one compartment (got {faces[first]} "
                         f"and {faces[second]})")
    (between,) = shared
    distal_a = next(c for c in faces[first].values() if c != between)
    distal_b = next(c for c in faces[second].values() if c != between)
    membrane = np.asarray(membrane, np.int64)
    if topo is None:
        topo = topology(traj, faces, membrane, leaflet, workers=workers)
    looks = topo.facing
    ia, ib = topo.compartments.index(distal_a), topo.compartments.index(distal_b)
    heads, tails = lipid_indices(traj.topology)
    box = box_of(traj)
    a, b = membrane == first, membrane == second
    joined = topo.connected[:, ia, ib]
    # the leaflets facing the shared compartment, as built: they meet first (the space between them
    # closes as they dock, so what they look into cannot tell)
    lf = np.asarray(leaflet, np.int64)
    lf = lf if lf.ndim == 1 else lf[0]
    near_a = a & (lf == (1 if upper_of(faces[first]) == between else -1))
    near_b = b & (lf == (1 if upper_of(faces[second]) == between else -1))

    def frame(f: int) -> tuple[int, float, float, float, float]:
        x = traj.xyz[f].astype(np.float64)
        lab = topo.membranes[f]
        merged = [c for c in np.unique(lab[a & (lab >= 0)])
                  if (a & (lab == c)).sum() >= MIN_LIPIDS and (b & (lab == c)).sum() >= MIN_LIPIDS]
        mixed = float(np.isin(lab[a], merged).mean()) if a.any() else 0.0
        da = a & (looks[f] == ia)
        db = b & (looks[f] == ib)
        diaphragm = _touching(x, box[f], tails, da, db, TAIL_CONTACT) * area_per_lipid
        touch = _touching(x, box[f], heads[:, None], near_a, near_b, contact) * area_per_lipid
        pore = max((p.radius for p in topo.pores if p.frame == f and p.membrane in merged), default=0.0)
        if joined[f]:
            stage = STAGES.index("pore")
        elif merged and diaphragm >= min_diaphragm:
            stage = STAGES.index("hemifusion")
        elif merged:
            stage = STAGES.index("stalk")
        elif touch >= min_contact:
            stage = STAGES.index("docked")
        else:
            stage = STAGES.index("separate")
        return stage, touch, diaphragm, pore if joined[f] else 0.0, mixed

    rows = np.array(list(map_frames(frame, range(traj.n_frames), workers=workers)), float).reshape(-1, 5)
    dia = rows[:, 2]
    return FusionStages(np.asarray(traj.time, float), rows[:, 0].astype(int), rows[:, 1],
                        np.where(rows[:, 0] == STAGES.index("hemifusion"), np.sqrt(dia / np.pi), 0.0), rows[:, 3],
                        rows[:, 4], topo)


def _touching(x: np.ndarray, box: np.ndarray, beads: np.ndarray, a: np.ndarray, b: np.ndarray, reach: float) -> int:
    """How many lipids of mask ``a`` have a bead (of ``beads`` (n_lipids, k), -1 padded) within ``reach``
    of a bead of a lipid of mask ``b``."""
    pa, pb = beads[a], beads[b]
    pa_flat, pb_flat = pa[pa >= 0], pb[pb >= 0]
    if pa_flat.size == 0 or pb_flat.size == 0:
        return 0
    owner = np.broadcast_to(np.arange(len(pa))[:, None], pa.shape)[pa >= 0]
    dist, _ = periodic_tree(x[pb_flat], box).query(wrap(x[pa_flat], box), distance_upper_bound=reach)
    return int(np.unique(owner[np.isfinite(dist)]).size)
