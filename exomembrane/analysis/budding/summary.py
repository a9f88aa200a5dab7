"""Everything about one budding event, for printing and plotting."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import mdtraj
import numpy as np

from exomembrane.checks import check_fraction, check_positive

from ..clusters import TAIL_CONTACT
from ..enrichment import Enrichment
from ..pbc import box_of
from ..selection import lipid_indices, species_residues
from ..topology import Topology, molecule_compartments, topology
from .cargo import cargo_of, check_cargo
from .fission import RESEAL, Separation, separation, torn_off
from .geometry import SLAB
from .state import budding_state


@dataclass(frozen=True)
class BuddingSummary:
    """One budding event (see :func:`budding_summary`); times in ps (= tau), lengths in nm (= sigma).

    Attributes
    ----------
    time
        (n_frames,) frame times.
    lumen_height, cytosol_height, bud_height
        (n_frames,) largest displacement toward the lumen, the cytosol, and their max.
    direction
        (n_frames,) int: +1 into the lumen, -1 into the cytosol, 0 no bud.
    neck_radius, bud_radius
        (n_frames,) NaN without a neck and from scission on.
    n_membranes, n_closed
        (n_frames,) int: all membranes; closed vesicles besides the parent.
    ilv_diameter
        (n_frames,) midplane diameter of the ILV, NaN before scission.
    scission_frame, scission_time
        First frame with the ILV and its time (-1 and NaN: no scission).
    ilv_side
        +1 the ILV formed in the lumen, -1 in the cytosol, 0 no scission.
    enrichment
        ``{species: Enrichment}`` as returned by :func:`cargo_enrichment`.
    separation
        Fission, rupture, a transient pore or nothing: what happened to the parent membrane, with
        its leak and pores (:func:`~exomembrane.analysis.budding.fission.separation`).
    topology
        The run's compartments, open membranes, pores and events (:func:`~exomembrane.analysis.topology.topology`).
    leaked
        ``{species: n}`` for lumen cargo: molecules in the MVB lumen and not in the ILV in the last frame
        (they crossed the parent membrane through a pore; never counted as packed).
    ilv_reopened
        Frames after scission in which the ILV was open (brief openings, each shorter than ``reseal``).
    """

    time: np.ndarray
    lumen_height: np.ndarray
    cytosol_height: np.ndarray
    bud_height: np.ndarray
    direction: np.ndarray
    neck_radius: np.ndarray
    bud_radius: np.ndarray
    n_membranes: np.ndarray
    n_closed: np.ndarray
    ilv_diameter: np.ndarray
    scission_frame: int
    scission_time: float
    ilv_side: int
    enrichment: dict[str, Enrichment]
    separation: Separation
    topology: Topology
    leaked: dict[str, int] = field(default_factory=dict)
    ilv_reopened: int = 0


def budding_summary(traj: mdtraj.Trajectory, lumen: str, cargo: str | Sequence[str] | Mapping[str, str] = (), *,
                    lipids: np.ndarray | None = None, threshold: float = 5.0, slab: float = SLAB,
                    max_asphericity: float = 0.15, contact: float = 2.0, n_boot: int = 2000,
                    confidence: float = 0.95, seed: int = 0, membranes: Sequence[Mapping[str, str]] | None = None,
                    membrane: np.ndarray | None = None, leaflet: np.ndarray | None = None, reseal: float = RESEAL,
                    topo: Topology | None = None, workers: int | None = None) -> BuddingSummary:
    """Everything about one budding event, for printing and plotting (e.g. by the CLI ``analyze``).

    Combines :func:`bud_geometry`, :func:`scission` and :func:`cargo_enrichment` (computing the
    membranes once). After scission the neck radius is NaN and the bud is the ILV.

    Parameters
    ----------
    traj
        Trajectory, nm, orthorhombic periodic box.
    lumen
        Side of the lumen: "+z", "-z", "inside" or "outside" (see :func:`bud_geometry`).
    cargo
        Cargo species: residue names (transmembrane, kind "membrane"), or ``{name: kind}`` with
        kind "membrane" or "lumen".
    lipids, threshold, slab, max_asphericity, contact, n_boot, confidence, seed, workers
        As in :func:`bud_geometry`, :func:`scission` and :func:`cargo_enrichment`.
    membranes, membrane, leaflet
        The compartments as a run records them (:func:`~exomembrane.analysis.topology.topology`);
        default: one membrane whose ``lumen`` face touches ``lumen`` and other face ``cytosol``,
        every lipid in it, leaflets measured in the first frame.
    reseal
        Time (tau) after separation by which the parent must be closed for fission; openings of the
        parent (once sealed) and of the ILV each shorter than this are brief (:func:`scission`).
    topo
        The run's topology if already computed (then ``membranes``, ``membrane``, ``leaflet`` only name
        the compartment of lumen cargo).

    Returns
    -------
    :class:`BuddingSummary`.

    Example
    -------
    >>> s = budding_summary(traj, "+z", cargo={"CD63": "membrane", "RNA": "lumen"})
    >>> s.scission_time, s.ilv_diameter[-1], s.enrichment["CD63"].ci
    """
    kinds = check_cargo(cargo)
    check_positive(contact=contact, n_boot=n_boot)
    check_fraction("confidence", confidence)
    for name, kind in kinds.items():
        species_residues(traj.topology, name, lipids=kind == "membrane")
    n_lipids = len(lipid_indices(traj.topology)[0])
    if membranes is None:
        other = {"+z": "-z", "-z": "+z", "inside": "outside", "outside": "inside"}[lumen]
        membranes = [{lumen: "lumen", other: "cytosol"}]
    membrane = np.zeros(n_lipids, int) if membrane is None else membrane
    leaflet = np.zeros(n_lipids, int) if leaflet is None else leaflet
    if topo is None:
        topo = topology(traj, membranes, membrane, leaflet, workers=workers)
    state = budding_state(traj, lumen, lipids, threshold, slab, max_asphericity, TAIL_CONTACT, workers, topo.sealed(),
                          reseal)
    g, split = state.geometry, state.split
    frame = split.scission_frame
    side = 0
    item = state.frames[frame] if frame >= 0 else None
    if item is not None:
        base = item[1].base
        side = int(np.sign(base.displacement(split.ilv_centre[frame][None], box_of(traj)[frame])[0]))
    packed = {name: cargo_of(traj, state, name, kind, None, contact, n_boot, confidence, seed)
              for name, kind in kinds.items()}
    soluble = [name for name, kind in kinds.items() if kind == "lumen"]
    leaked = {}
    if soluble:  # the last frame's compartments, labelled once for every lumen cargo species
        picked = [species_residues(traj.topology, name) for name in soluble]
        first = np.cumsum([0] + [int(mol.max()) + 1 if len(mol) else 0 for _, mol in picked])
        where = molecule_compartments(traj, traj.n_frames - 1, np.concatenate([a for a, _ in picked]),
                                      np.concatenate([m + k for (_, m), k in zip(picked, first)]),
                                      membranes, membrane, leaflet)
        mvb_lumen = dict(membranes[0]).get(lumen, "lumen")
        for name, lo, hi in zip(soluble, first[:-1], first[1:]):
            # in the MVB lumen, and not inside the ILV (a small ILV crowded by its cargo holds no free space)
            leaked[name] = int(sum(w == mvb_lumen and m != 1 for w, m in zip(where[lo:hi], packed[name][1][:, -1])))
    return BuddingSummary(
        np.asarray(traj.time, float), g.lumen_height, g.cytosol_height, g.bud_height, g.direction,
        np.where(state.post, np.nan, g.neck_radius), np.where(state.post, np.nan, g.bud_radius), split.n_membranes,
        split.n_closed, split.ilv_diameter, frame, float(traj.time[frame]) if frame >= 0 else np.nan, side,
        {name: e for name, (e, _) in packed.items()}, separation(topo, split.parent, frame, reseal, split.ilv,
                                                  torn_off(split.n_membranes, frame)), topo,
        leaked, split.reopened)
