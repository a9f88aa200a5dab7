"""Structure: the molecules of a system (which species), their positions, the box, and the membranes
with the compartments their faces touch."""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import mdtraj
import numpy as np
import openmm.app as app

from exomembrane.config import ConfigError
from exomembrane.model.compartments import Membrane, check_membranes, compartments
from exomembrane.model.filaments import PARAMETERS as FILAMENT_PARAMETERS
from exomembrane.model.filaments import Filaments
from exomembrane.model.forcefield import ForceField
from exomembrane.model.tethers import ZIPPER, Tethers

#: Where a compartment lies relative to a membrane: along +z / -z of a flat patch, or inside /
#: outside a closed membrane.
SIDES = ("+z", "-z", "inside", "outside")


@dataclass(frozen=True, eq=False)
class Structure:
    """Molecules (lipids, proteins, cargo, polymers) laid out in a periodic box.

    Attributes
    ----------
    forcefield
        The force field whose species the molecules are.
    species
        Names of the species present; ``molecule_species`` indexes into it.
    molecule_species
        (n_molecules,) int, species index of each molecule.
    positions
        (n_beads, 3) float, bead positions in nm (= sigma), molecules contiguous, in species-file order.
    box
        (3,) float, orthorhombic box lengths in nm.
    leaflet
        (n_molecules,) int, +1 upper/outer, -1 lower/inner, 0 unassigned (and non-lipids), as built.
    membranes
        The membranes and the compartments their faces touch (:class:`~exomembrane.model.compartments.Membrane`);
        empty for a structure that declares none (a plain bilayer, a lipid gas).
    membrane
        (n_molecules,) int, index into ``membranes`` of each molecule's membrane as built; -1 for
        molecules of no membrane (and for all when ``membranes`` is empty).
    confined
        (n_molecules,) bool, soluble molecules held between walls at the box's z faces (so that the
        two compartments of a flat periodic patch do not meet through the z boundary).
    """

    forcefield: ForceField
    species: tuple[str, ...]
    molecule_species: np.ndarray
    positions: np.ndarray
    box: np.ndarray
    leaflet: np.ndarray = None  # type: ignore[assignment]  # filled in by __post_init__
    membranes: tuple[Membrane, ...] = ()
    membrane: np.ndarray = None  # type: ignore[assignment]  # filled in by __post_init__
    confined: np.ndarray = None  # type: ignore[assignment]  # filled in by __post_init__
    tethers: Tethers = None  # type: ignore[assignment]  # filled in by __post_init__
    filaments: Filaments = None  # type: ignore[assignment]  # filled in by __post_init__

    def __post_init__(self) -> None:
        object.__setattr__(self, "molecule_species", np.asarray(self.molecule_species, dtype=np.int32))
        object.__setattr__(self, "positions", np.asarray(self.positions, dtype=np.float64))
        object.__setattr__(self, "box", np.asarray(self.box, dtype=np.float64))
        object.__setattr__(self, "membranes", tuple(self.membranes))
        check_membranes(self.membranes)
        if self.membrane is None:
            default = 0 if len(self.membranes) == 1 else -1
            object.__setattr__(self, "membrane", np.where(self.is_lipid(), default, -1).astype(np.int16))
        object.__setattr__(self, "membrane", np.asarray(self.membrane, dtype=np.int16))
        if self.leaflet is None:
            object.__setattr__(self, "leaflet", np.zeros(self.n_molecules, np.int8))
        if self.confined is None:
            object.__setattr__(self, "confined", np.zeros(self.n_molecules, bool))
        if self.tethers is None:
            object.__setattr__(self, "tethers", Tethers.none())
        if len(self.tethers) and not (0 <= self.tethers.pairs.min() and self.tethers.pairs.max() < self.n_beads):
            raise ValueError(f"tethers: bead indices must lie in [0, {self.n_beads})")
        if self.filaments is None:
            object.__setattr__(self, "filaments", Filaments.none())
        if len(self.filaments) and not (0 <= self.filaments.subunits.min()
                                        and self.filaments.subunits.max() < self.n_beads):
            raise ValueError(f"filaments: bead indices must lie in [0, {self.n_beads})")
        if self.positions.shape != (self.n_beads, 3):
            raise ValueError(f"positions: shape {self.positions.shape} != ({self.n_beads}, 3)")
        if self.membrane.shape != (self.n_molecules,) or self.membrane.max(initial=-1) >= len(self.membranes):
            raise ValueError(f"membrane: must be (n_molecules,) = ({self.n_molecules},) indices into the "
                             f"{len(self.membranes)} membranes or -1 (got shape {self.membrane.shape})")

    @property
    def sides(self) -> dict[str, str]:
        """Compartment -> face (one of :data:`SIDES`) of a structure with one membrane, e.g. an MVB
        patch ``{"lumen": "+z", "cytosol": "-z"}``; empty for none or several membranes."""
        if len(self.membranes) != 1:
            return {}
        return {comp: face for face, comp in self.membranes[0].faces.items()}

    @property
    def parameters(self) -> tuple[str, ...]:
        """Global parameters the structure adds to its System beyond the pair table's (``zipper``
        with tethers; the filament geometry, binding and ``disassembly`` with filaments)."""
        return ((ZIPPER,) if len(self.tethers) else ()) + (FILAMENT_PARAMETERS if len(self.filaments) else ())

    @property
    def compartments(self) -> tuple[str, ...]:
        """The compartments the membranes separate."""
        return compartments(self.membranes)

    def membrane_named(self, name: str) -> int:
        """Index of the membrane called ``name``; ConfigError naming the known ones otherwise."""
        for k, m in enumerate(self.membranes):
            if m.name == name:
                return k
        raise ConfigError(f"membrane: no membrane named {name!r}; membranes: {[m.name for m in self.membranes]}")

    @property
    def n_molecules(self) -> int:
        return len(self.molecule_species)

    @property
    def n_lipids(self) -> int:
        """Number of lipid molecules."""
        return int(self.is_lipid().sum())

    @property
    def n_beads(self) -> int:
        return int(self.molecule_start[-1] + self._sizes[-1]) if self.n_molecules else 0

    @cached_property
    def _sizes(self) -> np.ndarray:
        per_species = np.array([len(self.forcefield.get(n).beads) for n in self.species])
        return per_species[self.molecule_species]

    @cached_property
    def molecule_start(self) -> np.ndarray:
        """(n_molecules,) int, index of each molecule's first bead (a lipid's head)."""
        return np.concatenate([[0], np.cumsum(self._sizes)[:-1]]).astype(np.int64)

    @cached_property
    def types(self) -> list[str]:
        """Bead type names present, in the force field's order (per-bead type indices refer to it)."""
        present = {b.type for n in self.species for b in self.forcefield.get(n).beads}
        return [t for t in self.forcefield.bead_types if t in present]

    def is_lipid(self) -> np.ndarray:
        """(n_molecules,) bool, molecules whose species is a lipid."""
        kinds = np.array([self.forcefield.get(n).kind == "lipid" for n in self.species], bool)
        return kinds[self.molecule_species]

    def of_species(self, name: str) -> np.ndarray:
        """(n_molecules,) bool, molecules of species ``name`` (all False if absent)."""
        return self.molecule_species == (self.species.index(name) if name in self.species else -1)

    def bead_molecule(self) -> np.ndarray:
        """(n_beads,) int, the molecule each bead belongs to."""
        return np.repeat(np.arange(self.n_molecules), self._sizes)

    def bead_species(self) -> np.ndarray:
        """(n_beads,) int, species index of each bead."""
        return np.repeat(self.molecule_species, self._sizes)

    def _per_bead(self, values: list[np.ndarray]) -> np.ndarray:
        """Scatter per-species template arrays (one per species) to all beads."""
        out = np.empty(self.n_beads, dtype=np.result_type(*values))
        within = np.arange(self.n_beads) - np.repeat(self.molecule_start, self._sizes)
        sp = self.bead_species()
        for k, v in enumerate(values):
            sel = sp == k
            out[sel] = v[within[sel]]
        return out

    def bead_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per-bead (type index into :attr:`types`, is_head bool, size sigma, mass amu), each (n_beads,)."""
        tables = [self.forcefield.bead_table(n) for n in self.species]
        index = {t: k for k, t in enumerate(self.types)}
        codes = [np.array([index[t] for t in tab[0]], np.int64) for tab in tables]
        head, size, mass = (self._per_bead([t[k] for t in tables]) for k in (1, 2, 3))
        return self._per_bead(codes), head, size, mass

    def bead_names(self) -> np.ndarray:
        """(n_beads,) str, bead names from the species files."""
        return self._per_bead([np.array([b.name for b in self.forcefield.get(n).beads]) for n in self.species])

    def _gather(self, per_species: list[np.ndarray], width: int) -> np.ndarray:
        """Per-species bead-index tuples (m_k, width) offset to every molecule of each species."""
        out = []
        for k, local in enumerate(per_species):
            starts = self.molecule_start[self.molecule_species == k]
            out.append((starts[:, None, None] + local.reshape(-1, width)[None]).reshape(-1, width))
        return np.concatenate(out) if out else np.empty((0, width), np.int64)

    def _repeat(self, per_species: list[np.ndarray]) -> np.ndarray:
        counts = np.bincount(self.molecule_species, minlength=len(self.species))
        return np.concatenate([np.tile(v, c) for v, c in zip(per_species, counts)] or [np.empty(0)])

    def fene_bonds(self) -> np.ndarray:
        """(n_bonds, 2) int, bead pairs joined by FENE bonds."""
        return self._gather([np.asarray(self.forcefield.get(n).fene, np.int64) for n in self.species], 2)

    def bend_bonds(self) -> np.ndarray:
        """(n_springs, 2) int, bead pairs joined by the harmonic bending spring."""
        return self._gather([np.asarray(self.forcefield.get(n).bend, np.int64) for n in self.species], 2)

    def harmonic_bonds(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Harmonic bonds and elastic networks: (pairs (m, 2) int, r0 (m,) sigma, k (m,) eps/sigma^2)."""
        tabs = [self.forcefield.get(n).harmonic() for n in self.species]
        pairs = self._gather([t[0] for t in tabs], 2)
        return pairs, self._repeat([t[1] for t in tabs]), self._repeat([t[2] for t in tabs])

    def angles(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Harmonic angles: (triples (m, 3) int, theta0 (m,) degrees, k (m,) eps/rad^2)."""
        sps = [self.forcefield.get(n).angles for n in self.species]
        return (self._gather([np.array([(a.i, a.j, a.l) for a in s], np.int64) for s in sps], 3),
                self._repeat([np.array([a.theta0 for a in s]) for s in sps]),
                self._repeat([np.array([a.k for a in s]) for s in sps]))

    def bonds(self) -> np.ndarray:
        """(n, 2) int, the bonds a viewer draws: FENE, harmonic and elastic-network bonds."""
        return np.concatenate([self.fene_bonds(), self.harmonic_bonds()[0]])

    def to_openmm_topology(self) -> app.Topology:
        """OpenMM Topology: one chain, one residue per molecule (name = species), bonds = :meth:`bonds`."""
        top = app.Topology()
        chain = top.addChain("M")
        names = self.bead_names().tolist()
        atoms = []
        add_res, add_atom = top.addResidue, top.addAtom
        res_names = [self.species[k] for k in self.molecule_species.tolist()]
        for mol, (start, size) in enumerate(zip(self.molecule_start.tolist(), self._sizes.tolist())):
            res = add_res(res_names[mol], chain, str(mol + 1))
            for i in range(start, start + size):
                atoms.append(add_atom(names[i], None, res))
        for i, j in self.bonds().tolist():
            top.addBond(atoms[i], atoms[j])
        top.setPeriodicBoxVectors(np.diag(self.box))
        return top

    def to_mdtraj(self) -> mdtraj.Trajectory:
        """A one-frame mdtraj Trajectory (nm) of this structure."""
        top = mdtraj.Topology.from_openmm(self.to_openmm_topology())
        return mdtraj.Trajectory(self.positions[None].astype(np.float32), top,
                                 unitcell_lengths=self.box[None], unitcell_angles=np.full((1, 3), 90.0))
