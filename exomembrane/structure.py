"""Structure: the beads of a system (which molecule, which species), their positions and the box."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import mdtraj
import numpy as np
import openmm.app as app

from .forcefield import ForceField

LEAFLET_NAMES = {1: "upper/outer", -1: "lower/inner", 0: "none"}


@dataclass(frozen=True, eq=False)
class Structure:
    """Lipids laid out in a periodic box.

    Attributes
    ----------
    forcefield
        The force field whose species the lipids are.
    species
        Names of the species present; ``lipid_species`` indexes into it.
    lipid_species
        (n_lipids,) int, species index of each lipid.
    positions
        (n_beads, 3) float, bead positions in nm (= sigma), lipids contiguous, head first.
    box
        (3,) float, orthorhombic box lengths in nm.
    leaflet
        (n_lipids,) int, +1 upper/outer, -1 lower/inner, 0 unassigned, as built.
    """

    forcefield: ForceField
    species: tuple[str, ...]
    lipid_species: np.ndarray
    positions: np.ndarray
    box: np.ndarray
    leaflet: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        object.__setattr__(self, "lipid_species", np.asarray(self.lipid_species, dtype=np.int32))
        object.__setattr__(self, "positions", np.asarray(self.positions, dtype=np.float64))
        object.__setattr__(self, "box", np.asarray(self.box, dtype=np.float64))
        if self.leaflet is None:
            object.__setattr__(self, "leaflet", np.zeros(len(self.lipid_species), np.int8))
        if self.positions.shape != (self.n_beads, 3):
            raise ValueError(f"positions: shape {self.positions.shape} != ({self.n_beads}, 3)")

    @property
    def n_lipids(self) -> int:
        return len(self.lipid_species)

    @property
    def n_beads(self) -> int:
        return int(self.lipid_start[-1] + self._sizes[-1]) if self.n_lipids else 0

    @cached_property
    def _sizes(self) -> np.ndarray:
        per_species = np.array([len(self.forcefield.get(n).beads) for n in self.species])
        return per_species[self.lipid_species]

    @cached_property
    def lipid_start(self) -> np.ndarray:
        """(n_lipids,) int, index of each lipid's first (head) bead."""
        return np.concatenate([[0], np.cumsum(self._sizes)[:-1]]).astype(np.int64)

    def bead_lipid(self) -> np.ndarray:
        """(n_beads,) int, the lipid each bead belongs to."""
        return np.repeat(np.arange(self.n_lipids), self._sizes)

    def bead_species(self) -> np.ndarray:
        """(n_beads,) int, species index of each bead."""
        return np.repeat(self.lipid_species, self._sizes)

    def _per_bead(self, values: list[np.ndarray]) -> np.ndarray:
        """Scatter per-species template arrays (one per species) to all beads."""
        out = np.empty(self.n_beads, dtype=np.result_type(*values))
        within = np.arange(self.n_beads) - np.repeat(self.lipid_start, self._sizes)
        sp = self.bead_species()
        for k, v in enumerate(values):
            sel = sp == k
            out[sel] = v[within[sel]]
        return out

    def bead_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-bead (is_head bool, size sigma, mass amu), each (n_beads,)."""
        tables = [self.forcefield.bead_table(n) for n in self.species]
        return tuple(self._per_bead([t[k] for t in tables]) for k in range(3))  # type: ignore[return-value]

    def bead_names(self) -> np.ndarray:
        """(n_beads,) str, bead names from the species files."""
        return self._per_bead([np.array([b.name for b in self.forcefield.get(n).beads]) for n in self.species])

    def _bonds(self, key: str) -> np.ndarray:
        out = []
        for k, n in enumerate(self.species):
            pairs = np.asarray(getattr(self.forcefield.get(n), key), dtype=np.int64).reshape(-1, 2)
            starts = self.lipid_start[self.lipid_species == k]
            out.append((starts[:, None, None] + pairs[None]).reshape(-1, 2))
        return np.concatenate(out) if out else np.empty((0, 2), np.int64)

    def fene_bonds(self) -> np.ndarray:
        """(n_bonds, 2) int, bead pairs joined by FENE bonds."""
        return self._bonds("fene")

    def bend_bonds(self) -> np.ndarray:
        """(n_springs, 2) int, bead pairs joined by the harmonic bending spring."""
        return self._bonds("bend")

    def to_openmm_topology(self) -> app.Topology:
        """OpenMM Topology: one chain, one residue per lipid (name = species), bonds = FENE bonds."""
        top = app.Topology()
        chain = top.addChain("M")
        names = self.bead_names().tolist()
        atoms = []
        add_res, add_atom = top.addResidue, top.addAtom
        res_names = [self.species[k] for k in self.lipid_species.tolist()]
        for lipid, (start, size) in enumerate(zip(self.lipid_start.tolist(), self._sizes.tolist())):
            res = add_res(res_names[lipid], chain, str(lipid + 1))
            for i in range(start, start + size):
                atoms.append(add_atom(names[i], None, res))
        for i, j in self.fene_bonds().tolist():
            top.addBond(atoms[i], atoms[j])
        top.setPeriodicBoxVectors(np.diag(self.box))
        return top

    def to_mdtraj(self) -> mdtraj.Trajectory:
        """A one-frame mdtraj Trajectory (nm) of this structure."""
        top = mdtraj.Topology.from_openmm(self.to_openmm_topology())
        return mdtraj.Trajectory(self.positions[None].astype(np.float32), top,
                                 unitcell_lengths=self.box[None], unitcell_angles=np.full((1, 3), 90.0))
