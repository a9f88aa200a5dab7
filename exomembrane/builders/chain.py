"""The life cycle chains: a vesicle taken, as it was, from the last frame of a run directory, to be
the next act's ILV or exosome.

- From a **budding run**: the ILV is the largest closed vesicle (a membrane of the run's topology
  that is not open and does not span the box) apart from the parent membrane (the largest one
  spanning the box, else the largest) in the last frame
  (:func:`~exomembrane.analysis.topology.topology` of the recorded compartments).
- From a **fusion run** (one of its membranes faces the extracellular space): the exosome is the
  largest ILV that the release analysis (:func:`~exomembrane.analysis.fusion.release.release`)
  finds released (closed, in the extracellular space, out of the cell) in the last frame that
  holds one, as the topology cluster that holds most of its lipids, as it was in that frame (an
  ILV out of a wide pore may drift back under its rim). An ILV never released is not an exosome.

With it go every molecule that is not a lipid whose centre lies within its midplane radius plus
``CARGO_REACH`` of its centre (membrane cargo, and the RNA and cargo in its lumen). Positions are
taken whole (minimum image) around that centre; leaflets from the lipids' orientations.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import mdtraj
import numpy as np

from exomembrane.analysis.clusters import MIN_LIPIDS
from exomembrane.analysis.fusion.release import release
from exomembrane.analysis.pbc import box_of, minimum_image, periodic_centre
from exomembrane.analysis.selection import lipid_indices, lipid_residues, tail_ends
from exomembrane.analysis.topology import Topology, topology
from exomembrane.config import ConfigError
from exomembrane.model.forcefield import ForceField
from exomembrane.model.stored import MANIFEST, MEMBRANES, TRAJECTORY, load_membranes, load_trajectory
from exomembrane.model.structure import Structure

#: Non-lipid molecules whose centre lies within the ILV's midplane radius plus this (sigma) go with it.
CARGO_REACH = 3.0


#: The compartment a fusion run releases its ILVs into.
OUTSIDE = "extracellular"


def ilv_from_run(ff: ForceField, directory: str | Path, field: str = "run") -> tuple[Structure, float]:
    """The ILV of a budding run's last frame, or the ILV a fusion run released (its last frame that
    holds one), as a :class:`Structure` centred in its own box, and its midplane radius (sigma).

    ConfigError naming ``field`` if ``directory`` is not a run directory with recorded membranes,
    if its last frame holds no closed membrane apart from the parent (no scission) or, for a fusion
    run, no released ILV, or if its molecules are species ``ff`` lacks.
    """
    directory = Path(directory)
    for name in (MANIFEST, TRAJECTORY, MEMBRANES):
        if not (directory / name).is_file():
            raise ConfigError(f"{field}: {directory} is not a run directory with recorded membranes (no {name})")
    membranes, membrane, leaflet = load_membranes(directory)
    if not membranes or membrane is None or leaflet is None:
        raise ConfigError(f"{field}: {directory} records no membranes and compartments; the ILV cannot be told")
    whole = load_trajectory(directory)
    lipid = lipid_residues(whole.topology)
    faces = [m.faces for m in membranes]
    heads, tails = lipid_indices(whole.topology)
    if any(OUTSIDE in f.values() for f in faces):
        traj, labels, ilv = _released(whole, faces, membrane[lipid], leaflet[lipid], directory, field)
    else:
        traj = whole[-1]
        topo = topology(traj, faces, membrane[lipid], leaflet[lipid], workers=1)
        labels = topo.membranes[0]
        ilv = _budded(traj.xyz[0].astype(np.float64), heads, labels, topo, box_of(traj)[0], directory, field,
                      traj.time[0])
    box = box_of(traj)[0]
    x = traj.xyz[0].astype(np.float64)
    top = traj.topology
    centre = periodic_centre(x[heads[ilv]], box)[0]
    ends = tail_ends(tails)
    radius = float(np.linalg.norm(minimum_image(x[ends[ilv]] - centre, box), axis=1).mean())

    residues = list(top.residues)
    lipid_of = np.cumsum(lipid) - 1  # residue -> index among lipids
    keep, names = [], []
    for r in residues:
        atoms = np.array([a.index for a in r.atoms])
        first = x[atoms[0]]
        whole = first + minimum_image(x[atoms] - first, box)
        if lipid[r.index]:
            take = bool(ilv[lipid_of[r.index]])
        else:
            take = bool(np.linalg.norm(minimum_image(whole.mean(0) - centre, box)) <= radius + CARGO_REACH)
        if take:
            keep.append(centre + minimum_image(whole - centre, box))
            names.append(r.name)
    unknown = sorted(set(names) - set(ff.species))
    if unknown:
        raise ConfigError(f"{field}: the ILV of {directory} holds species {unknown} this force field lacks; add them "
                          f"with forcefield.species")
    species = tuple(dict.fromkeys(names))
    codes = np.array([species.index(n) for n in names], np.int32)
    positions = np.concatenate(keep) - centre
    extent = float(np.abs(positions).max()) + 2.0
    positions += extent
    s = Structure(ff, species, codes, positions, np.full(3, 2 * extent))
    if s.n_beads != len(positions):
        raise ConfigError(f"{field}: the molecules of {directory} do not match this force field's species files")
    # leaflets from orientation: head farther from the centre than the last tail bead: outer
    mol = s.is_lipid()
    last = s.molecule_start[1:] - 1 if s.n_molecules > 1 else np.empty(0, np.int64)
    last = np.r_[last, s.n_beads - 1][mol]
    head, tail = s.positions[s.molecule_start[mol]] - extent, s.positions[last] - extent
    leaf = np.zeros(s.n_molecules, np.int8)
    leaf[mol] = np.where(np.linalg.norm(head, axis=1) > np.linalg.norm(tail, axis=1), 1, -1)
    return replace(s, leaflet=leaf), radius


def _budded(x: np.ndarray, heads: np.ndarray, labels: np.ndarray, topo: Topology, box: np.ndarray, directory: Path,
            field: str, time: float) -> np.ndarray:
    """(n_lipids,) bool: the lipids of the largest closed vesicle apart from the parent membrane."""
    sizes = np.bincount(labels[labels >= 0])
    finite = []  # clusters that are vesicles (not spanning the box like a flat parent patch)
    for k in range(len(sizes)):
        h = x[heads[labels == k]]
        reach = np.linalg.norm(minimum_image(h - periodic_centre(h, box)[0], box), axis=1).max()
        finite.append(bool(reach < 0.45 * box.min()))
    spanning = [k for k in range(len(sizes)) if not finite[k]]
    parent = max(spanning or range(len(sizes)), key=lambda k: sizes[k])
    candidates = [k for k in range(len(sizes)) if k != parent and finite[k] and sizes[k] >= MIN_LIPIDS
                  and not topo.open[0, k]]
    if not candidates:
        raise ConfigError(f"{field}: {directory} has no scission: its last frame (t = {time:.0f} tau) holds no "
                          f"closed vesicle apart from the parent membrane ({len(sizes)} membrane(s), "
                          f"{int(topo.open[0, :len(sizes)].sum())} open)")
    return labels == max(candidates, key=lambda k: sizes[k])


def _released(whole: mdtraj.Trajectory, faces: Sequence[Mapping[str, str]], membrane: np.ndarray,
              leaflet: np.ndarray, directory: Path, field: str) -> tuple[mdtraj.Trajectory, np.ndarray, np.ndarray]:
    """The last frame of a fusion run that holds a released ILV, its topology's membrane labels, and
    (n_lipids,) bool: the lipids of its largest released ILV (the cluster holding most of them)."""
    plane = next(k for k, f in enumerate(faces) if "+z" in f and OUTSIDE in f.values())
    states = ""
    for f in reversed(range(whole.n_frames)):
        traj = whole[f]
        topo = topology(traj, faces, membrane, leaflet, workers=1)
        r = release(traj, faces, membrane, topo, plane, outside=OUTSIDE)
        out = [k for k, ok in zip(r.ilvs, r.released[0]) if ok]
        if out:
            own = membrane == max(out, key=lambda k: int((membrane == k).sum()))
            labels = topo.membranes[0]
            ks, counts = np.unique(labels[own], return_counts=True)
            return traj, labels, labels == ks[np.argmax(counts)]
        states = states or ", ".join(f"ILV {k}: closed {bool(c)}, extracellular {bool(e)}, out of the cell {bool(x)}"
                                     for k, c, e, x in zip(r.ilvs, r.closed[0], r.extracellular[0], r.exposed[0]))
    raise ConfigError(f"{field}: {directory} released no ILV: in none of its {whole.n_frames} frame(s) (to t = "
                      f"{whole.time[-1]:.0f} tau) is one closed and out in the {OUTSIDE} space (last frame: "
                      f"{states or 'no ILV'})")
