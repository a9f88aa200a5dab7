"""The coarse-grained force field: bead types, lipid species and the OpenMM System they make.

A force field is data: ``forcefields/<name>.yaml`` (bead types, bonded and pair parameters) plus
one file per species in ``forcefields/species/``. Users add a species by writing a YAML file and
passing it to :func:`load_forcefield`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import openmm as mm
from pydantic import Field, PositiveFloat, field_validator, model_validator

from .config import ConfigError, Strict, load_yaml, parse
from .resources import data_dir

if TYPE_CHECKING:
    from .structure import Structure

FORCEFIELD_DIR = data_dir("forcefields")
WCA_FACTOR = 2.0 ** (1.0 / 6.0)

# Force groups, one per term, so energies and failures can be attributed to a term.
TERMS = {"pair": 0, "fene": 1, "bend": 2}


class BeadType(Strict):
    role: Literal["head", "tail"]
    size: PositiveFloat  # sigma
    mass: PositiveFloat = 1.0  # amu


class Fene(Strict):
    k: PositiveFloat  # eps / sigma^2
    r_inf: PositiveFloat  # sigma


class Bend(Strict):
    k: float = Field(ge=0)  # eps / sigma^2
    r0: PositiveFloat  # sigma


class Bead(Strict):
    name: str = Field(min_length=1, max_length=4, pattern=r"^[A-Za-z][A-Za-z0-9]*$")
    type: str
    size: PositiveFloat | None = None  # overrides the bead type's size


class Species(Strict):
    """One molecule type (a lipid); its name is the residue name in topologies."""

    name: str = Field(min_length=1, max_length=4, pattern=r"^[A-Z][A-Z0-9]*$")
    description: str = ""
    beads: list[Bead] = Field(min_length=2)
    fene: list[tuple[int, int]]
    bend: list[tuple[int, int]] = []
    attraction: float = Field(default=1.0, ge=0)  # default of global parameter eps_<name>

    @model_validator(mode="after")
    def _check_indices(self) -> "Species":
        n = len(self.beads)
        for key in ("fene", "bend"):
            for pair in getattr(self, key):
                if not all(0 <= i < n for i in pair) or pair[0] == pair[1]:
                    raise ValueError(f"{key} pair {list(pair)} must name two different beads 0..{n - 1}")
        return self


class ForceFieldFile(Strict):
    name: str
    citation: str = ""
    epsilon: PositiveFloat = 1.0
    w_c: PositiveFloat
    bead_types: dict[str, BeadType] = Field(min_length=1)
    fene: Fene
    bend: Bend

    @field_validator("bead_types")
    @classmethod
    def _names(cls, v: dict[str, BeadType]) -> dict[str, BeadType]:
        for name in v:
            if not (1 <= len(name) <= 4 and name.isalnum()):
                raise ValueError(f"bead type name {name!r} must be 1-4 letters or digits")
        return v


@dataclass(frozen=True)
class ForceField:
    """Parameters of the model and the species it knows.

    Global parameters users may steer live (``context.setParameter``): ``w_c`` (sigma) and
    ``eps_<SPECIES>`` (attraction strength of each species' tails, eps).
    """

    params: ForceFieldFile
    species: dict[str, Species] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for sp in self.species.values():
            for i, bead in enumerate(sp.beads):
                if bead.type not in self.params.bead_types:
                    raise ConfigError(
                        f"species {sp.name}: beads.{i}.type: unknown bead type {bead.type!r}; "
                        f"allowed: {sorted(self.params.bead_types)}")

    def get(self, name: str) -> Species:
        """The species called ``name``; a clear error lists the known ones."""
        try:
            return self.species[name]
        except KeyError:
            raise ConfigError(f"unknown species {name!r}; known species: {sorted(self.species)} "
                              f"(add one by writing a species YAML file)") from None

    def bead_table(self, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-bead (is_head, size sigma, mass amu) arrays of species ``name``, each shape (n_beads,)."""
        sp = self.get(name)
        types = [self.params.bead_types[b.type] for b in sp.beads]
        head = np.array([t.role == "head" for t in types])
        size = np.array([b.size or t.size for b, t in zip(sp.beads, types)])
        mass = np.array([t.mass for t in types])
        return head, size, mass


def load_species(path: str | Path) -> Species:
    """Read one species file."""
    return parse(Species, load_yaml(path), str(path))


def load_forcefield(name: str | Path = "cooke", species: tuple[str | Path, ...] = ()) -> ForceField:
    """Load a force field by name (``forcefields/<name>.yaml``) or path, with its species.

    Species come from ``species/*.yaml`` next to the force-field file, then from ``species``
    (extra files; a later file with the same name replaces an earlier one).

    Example
    -------
    >>> ff = load_forcefield()
    >>> sorted(ff.species)
    ['CER', 'LIP', 'LYSO']
    """
    path = Path(name)
    if path.suffix not in (".yaml", ".yml"):
        path = FORCEFIELD_DIR / f"{name}.yaml"
        if not path.is_file():
            known = sorted(p.stem for p in FORCEFIELD_DIR.glob("*.yaml"))
            raise ConfigError(f"forcefield: unknown force field {str(name)!r}; known: {known} "
                              f"or give a path to a .yaml file")
    params = parse(ForceFieldFile, load_yaml(path), str(path))
    files = sorted((path.parent / "species").glob("*.yaml")) + [Path(p) for p in species]
    table = {}
    for f in files:
        sp = load_species(f)
        table[sp.name] = sp
    return ForceField(params, table)


def pair_expression(species_names: list[str], epsilon: float) -> str:
    """OpenMM expression of the pair potential for the species present (see cooke.yaml)."""
    if len(species_names) == 1:
        eps_of = f"eps_{species_names[0]}"
        eps1, eps2 = eps_of, eps_of
    else:
        terms = "+".join(f"eps_{n}*delta(s{{i}}-{k})" for k, n in enumerate(species_names))
        eps1, eps2 = f"({terms.format(i=1)})", f"({terms.format(i=2)})"
    return (
        f"{epsilon!r}*max(0, 2*(b/r)^6 - 1)^2"
        f" - ea*0.5*(1 + cos(3.141592653589793*min(1, max(0, r - {WCA_FACTOR!r}*b)/w_c)));"
        "b = select(h1 + h2, (h1*b1 + h2*b2)/(h1 + h2), 0.5*(b1 + b2));"
        f"ea = sqrt((1 - h1)*(1 - h2)*{eps1}*{eps2})"
    )


def create_system(structure: "Structure", w_c_max: float | None = None) -> mm.System:
    """Build the OpenMM System of ``structure`` with its force field.

    Parameters
    ----------
    structure
        Beads, bonds and box (nm) from a builder.
    w_c_max
        Largest attraction range (sigma) the run will use; sets the cutoff
        ``2^(1/6) b_TT + w_c_max``. Defaults to the force field's ``w_c``. ``w_c`` may be
        steered live up to this value.

    Returns
    -------
    openmm.System with forces named ``pair`` (group 0), ``fene`` (1) and ``bend`` (2).
    """
    ff = structure.forcefield
    p = ff.params
    w_c = p.w_c
    w_c_max = w_c if w_c_max is None else w_c_max
    if not w_c_max >= w_c:
        raise ConfigError(f"w_c_max: {w_c_max} must be >= the force field's w_c = {w_c}")
    head, size, mass = structure.bead_arrays()
    tails = size[~head]
    cutoff = max(WCA_FACTOR * tails.max() + w_c_max if tails.size else 0.0, WCA_FACTOR * size.max())
    box = structure.box
    if np.any(box < 2 * cutoff):
        raise ConfigError(f"box: {box.round(3).tolist()} sigma is smaller than twice the pair "
                          f"cutoff ({cutoff:.3f} sigma) in some direction; every box length must "
                          f"be >= {2 * cutoff:.3f}")

    system = mm.System()
    system.setDefaultPeriodicBoxVectors(mm.Vec3(box[0], 0, 0), mm.Vec3(0, box[1], 0), mm.Vec3(0, 0, box[2]))
    for m in mass.tolist():
        system.addParticle(m)

    names = list(structure.species)
    pair = mm.CustomNonbondedForce(pair_expression(names, p.epsilon))
    pair.setName("pair")
    pair.addGlobalParameter("w_c", w_c)
    for n in names:
        pair.addGlobalParameter(f"eps_{n}", ff.get(n).attraction)
    pair.addPerParticleParameter("h")
    pair.addPerParticleParameter("b")
    params = np.stack([head.astype(float), size], axis=1)
    if len(names) > 1:
        pair.addPerParticleParameter("s")
        params = np.concatenate([params, structure.bead_species()[:, None].astype(float)], axis=1)
    # Few distinct parameter rows: pass shared tuples, not one new list per bead.
    rows, inverse = np.unique(params, axis=0, return_inverse=True)
    row_tuples = [tuple(r) for r in rows.tolist()]
    add = pair.addParticle
    for k in inverse.ravel().tolist():
        add(row_tuples[k])
    pair.setNonbondedMethod(mm.CustomNonbondedForce.CutoffPeriodic)
    pair.setCutoffDistance(cutoff)
    pair.setUseLongRangeCorrection(False)
    pair.setForceGroup(TERMS["pair"])
    system.addForce(pair)

    fene = mm.CustomBondForce(f"-0.5*{p.fene.k!r}*{p.fene.r_inf!r}^2*log(1 - (r/{p.fene.r_inf!r})^2)")
    fene.setName("fene")
    fene.setUsesPeriodicBoundaryConditions(True)
    add = fene.addBond
    for i, j in structure.fene_bonds().tolist():
        add(i, j)
    fene.setForceGroup(TERMS["fene"])
    system.addForce(fene)

    bend = mm.HarmonicBondForce()
    bend.setName("bend")
    bend.setUsesPeriodicBoundaryConditions(True)
    add = bend.addBond
    r0, k = p.bend.r0, p.bend.k
    for i, j in structure.bend_bonds().tolist():
        add(i, j, r0, k)
    bend.setForceGroup(TERMS["bend"])
    system.addForce(bend)
    return system
