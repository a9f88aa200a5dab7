"""The coarse-grained model as data: bead types, the pair table and molecule species.

A force field is ``forcefields/<name>.yaml`` (bead types, pair table, bonded parameters) plus one
file per species in ``forcefields/species/``. A species file may bring its own bead types and
pair-table entries, so a new lipid, protein, cargo or polymer is one YAML file, not code. This
module imports nothing else of the package's model: :mod:`exomembrane.system` turns a
:class:`~exomembrane.structure.Structure` of these molecules into an OpenMM System.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field, NonNegativeFloat, PositiveFloat, model_validator

from exomembrane.config import ConfigError, Strict, load_yaml, parse
from exomembrane.resources import data_dir

FORCEFIELD_DIR = data_dir("forcefields")
WCA_FACTOR = 2.0 ** (1.0 / 6.0)
BOND = 0.97  # sigma, straight-chain spacing near the FENE+WCA bond minimum (no minimisation needed)
#: Bead roles. Heads set the WCA size of every pair they are in (Cooke's mixing); lipids are the
#: molecules with head and tail beads; analysis selects lipids by role and the rest by species.
Role = Literal["head", "tail", "protein", "cargo"]
Kind = Literal["lipid", "protein", "cargo", "polymer"]
NAME = r"^[A-Za-z][A-Za-z0-9]*$"


class BeadType(Strict):
    role: Role
    size: PositiveFloat  # sigma
    mass: PositiveFloat = 1.0  # amu


class PairEntry(Strict):
    """One entry of the pair table: types ``[A, B]`` attract with a cos^2 well of depth ``eps``
    (eps; global parameter ``param``, default ``eps_A_B``) and range ``w`` (sigma; None: the
    global ``w_c``), and/or have the WCA size ``b`` (sigma; None: the mixing rule)."""

    types: tuple[str, str]
    eps: NonNegativeFloat = 0.0
    w: PositiveFloat | None = None
    b: PositiveFloat | None = None
    param: str | None = Field(default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")

    @property
    def attracts(self) -> bool:
        return self.eps > 0 or self.param is not None

    @property
    def parameter(self) -> str:
        """Name of the global parameter holding this entry's depth."""
        a, b = self.types
        return self.param or f"eps_{a}_{b}"


class Fene(Strict):
    k: PositiveFloat  # eps / sigma^2
    r_inf: PositiveFloat  # sigma


class Bend(Strict):
    k: float = Field(ge=0)  # eps / sigma^2
    r0: PositiveFloat  # sigma


class Bead(Strict):
    name: str = Field(min_length=1, max_length=4, pattern=NAME)
    type: str
    xyz: tuple[float, float, float] | None = None  # sigma, template position in the molecule frame


class Harmonic(Strict):
    """Harmonic bond 1/2 k (r - r0)^2 between beads ``i`` and ``j``."""

    i: int
    j: int
    r0: PositiveFloat | None = None  # sigma; None: the template distance
    k: PositiveFloat  # eps / sigma^2


class Angle(Strict):
    """Harmonic angle 1/2 k (theta - theta0)^2 at bead ``j`` of ``i``-``j``-``l``."""

    i: int
    j: int
    l: int  # noqa: E741
    theta0: float = Field(ge=0, le=180)  # degrees
    k: PositiveFloat  # eps / rad^2


class Elastic(Strict):
    """Elastic network: harmonic bonds (rest length = template distance) between every pair of
    beads closer than ``cutoff`` in the template; they keep a protein's shape."""

    k: PositiveFloat  # eps / sigma^2
    cutoff: PositiveFloat  # sigma


class Species(Strict):
    """One molecule type; its name is the residue name in topologies.

    Lipid bead names start with ``H`` (head beads, the first bead is ``H``) or ``T`` (tail beads),
    so analysis of a saved trajectory finds lipids and their tails by name. Bead positions
    (``xyz``, sigma) give the template: its +z axis points along the membrane normal towards the
    side a builder is asked for (lipids: towards the head), its origin sits on the placement point
    (membrane proteins: the midplane). Without ``xyz`` the beads are a straight chain down the
    z axis ending at the origin (lipids: head on top, last tail bead at the origin).

    Pairs joined by ``bonds`` or the elastic network are excluded from the pair potential;
    FENE and ``bend`` pairs keep it (the Cooke model). ``cargo``: a lipid that stands for cargo
    (e.g. a GPI-anchored protein), counted like placed cargo where a run is analysed.
    """

    name: str = Field(min_length=1, max_length=4, pattern=r"^[A-Z][A-Z0-9]*$")
    description: str = ""
    kind: Kind = "lipid"
    cargo: bool = False
    source: str = ""  # citation of the design
    bead_types: dict[str, BeadType] = {}
    pairs: list[PairEntry] = []
    beads: list[Bead] = Field(min_length=1)
    fene: list[tuple[int, int]] = []
    bend: list[tuple[int, int]] = []
    bonds: list[Harmonic] = []
    angles: list[Angle] = []
    elastic: Elastic | None = None

    @model_validator(mode="after")
    def _check(self) -> Species:
        if self.cargo and self.kind != "lipid":
            raise ValueError(f"cargo: marks a lipid as cargo; a {self.kind} is counted as cargo where it is placed")
        n = len(self.beads)
        links = {key: [tuple(p) for p in getattr(self, key)] for key in ("fene", "bend")}
        links["bonds"] = [(b.i, b.j) for b in self.bonds]
        links["angles"] = [(a.i, a.j, a.l) for a in self.angles]
        for key, tuples in links.items():
            for k, t in enumerate(tuples):
                if not all(0 <= i < n for i in t) or len(set(t)) != len(t):
                    raise ValueError(f"{key}.{k}: {list(t)} must name different beads 0..{n - 1}")
        given = [b.xyz is not None for b in self.beads]
        if any(given) and not all(given):
            raise ValueError("beads: give xyz for every bead or for none")
        if self.elastic is not None and not all(given):
            raise ValueError("elastic: needs the template: give xyz for every bead")
        if self.kind == "lipid" and self.beads[0].name != "H":
            raise ValueError(f"beads.0.name: a lipid's first bead must be named 'H' (got {self.beads[0].name!r})")
        if self.kind != "lipid" and self.beads[0].name == "H":
            raise ValueError(f"beads.0.name: 'H' first marks a lipid; name the first bead of a {self.kind} otherwise")
        return self

    @cached_property
    def template(self) -> np.ndarray:
        """(n_beads, 3) sigma, bead positions in the molecule frame."""
        if self.beads[0].xyz is not None:
            return np.array([b.xyz for b in self.beads], dtype=float)
        n = len(self.beads)
        return np.stack([np.zeros(n), np.zeros(n), (n - 1 - np.arange(n)) * BOND], axis=1)

    def harmonic(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Harmonic bonds and the elastic network: (pairs (m, 2) int, r0 (m,) sigma, k (m,) eps/sigma^2)."""
        x = self.template
        pairs = [(b.i, b.j) for b in self.bonds]
        r0 = [b.r0 if b.r0 is not None else float(np.linalg.norm(x[b.i] - x[b.j])) for b in self.bonds]
        k = [b.k for b in self.bonds]
        if self.elastic is not None:
            have = {frozenset(p) for p in pairs}
            for i, j in itertools.combinations(range(len(x)), 2):
                d = float(np.linalg.norm(x[i] - x[j]))
                if d < self.elastic.cutoff and frozenset((i, j)) not in have:
                    pairs.append((i, j))
                    r0.append(d)
                    k.append(self.elastic.k)
        return np.array(pairs, np.int64).reshape(-1, 2), np.array(r0, float), np.array(k, float)


class ForceFieldFile(Strict):
    name: str
    citation: str = ""
    epsilon: PositiveFloat = 1.0  # WCA energy scale, eps
    w_c: PositiveFloat  # default attraction range (sigma); global parameter "w_c"
    bead_types: dict[str, BeadType] = Field(min_length=1)
    pairs: list[PairEntry] = []
    fene: Fene
    bend: Bend


@dataclass(frozen=True)
class ForceField:
    """Bead types, the pair table and the species of a model.

    ``bead_types`` and ``pairs`` hold the force-field file's entries merged with those the species
    files bring. Every attraction entry is an OpenMM global parameter (``eps_<A>_<B>`` unless the
    entry names it) that users may steer live, as is ``w_c`` (sigma).
    """

    params: ForceFieldFile
    species: dict[str, Species] = field(default_factory=dict)
    bead_types: dict[str, BeadType] = field(init=False)
    pairs: dict[frozenset[str], PairEntry] = field(init=False)

    def __post_init__(self) -> None:
        types = dict(self.params.bead_types)
        entries = [(e, "pairs") for e in self.params.pairs]
        for sp in self.species.values():
            for name, bt in sp.bead_types.items():
                if name in types and types[name] != bt:
                    raise ConfigError(f"species {sp.name}: bead_types.{name}: redefines bead type {name!r} "
                                      f"differently; give it another name")
                types[name] = bt
            entries += [(e, f"species {sp.name}: pairs") for e in sp.pairs]
        for name in types:
            if not (1 <= len(name) <= 4 and name.isalnum()):
                raise ConfigError(f"bead_types.{name}: a bead type name must be 1-4 letters or digits")
        pairs: dict[frozenset[str], PairEntry] = {}
        names: dict[str, frozenset[str]] = {}
        for e, where in entries:
            for t in e.types:
                if t not in types:
                    raise ConfigError(f"{where}: types {list(e.types)}: unknown bead type {t!r}; "
                                      f"known: {sorted(types)}")
            key = frozenset(e.types)
            if key in pairs and pairs[key] != e:
                raise ConfigError(f"{where}: types {list(e.types)}: the pair table already has an entry for this "
                                  f"pair ({pairs[key].model_dump(exclude_defaults=True)})")
            if e.attracts:
                if e.parameter in names and names[e.parameter] != key or e.parameter in ("w_c", "kT"):
                    raise ConfigError(f"{where}: param {e.parameter!r} names two entries or a reserved parameter")
                names[e.parameter] = key
            pairs[key] = e
        object.__setattr__(self, "bead_types", types)
        object.__setattr__(self, "pairs", pairs)
        for sp in self.species.values():
            for i, bead in enumerate(sp.beads):
                found = types.get(bead.type)
                if found is None:
                    raise ConfigError(f"species {sp.name}: beads.{i}.type: unknown bead type {bead.type!r}; "
                                      f"allowed: {sorted(types)}")
                bt = found
                if sp.kind == "lipid" and i and not bead.name.startswith({"head": "H", "tail": "T"}.get(bt.role, "")):
                    raise ConfigError(f"species {sp.name}: beads.{i}.name: lipid {bt.role} beads are named "
                                      f"{'H' if bt.role == 'head' else 'T'}... (got {bead.name!r})")
                if sp.kind == "lipid" and bt.role not in ("head", "tail"):
                    raise ConfigError(f"species {sp.name}: beads.{i}.type: a lipid has head and tail beads only "
                                      f"(got {bead.type!r} of role {bt.role!r})")

    def get(self, name: str) -> Species:
        """The species called ``name``; a clear error lists the known ones."""
        try:
            return self.species[name]
        except KeyError:
            raise ConfigError(f"unknown species {name!r}; known species: {sorted(self.species)} "
                              f"(add one by writing a species YAML file)") from None

    def bead_table(self, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per-bead (type name, is_head, size sigma, mass amu) arrays of species ``name``, each (n_beads,)."""
        sp = self.get(name)
        types = [self.bead_types[b.type] for b in sp.beads]
        return (np.array([b.type for b in sp.beads]), np.array([t.role == "head" for t in types]),
                np.array([t.size for t in types]), np.array([t.mass for t in types]))

    def pair_size(self, a: str, b: str) -> float:
        """WCA size (sigma) of bead types ``a``, ``b``: the table's ``b``, else the mixing rule (mean
        of the heads' sizes if either is a head, else mean of both; Cooke: b_HT = b_H)."""
        entry = self.pairs.get(frozenset((a, b)))
        if entry is not None and entry.b is not None:
            return entry.b
        return mixed_size(self.bead_types[a], self.bead_types[b])

    def parameters(self, types: set[str] | None = None) -> dict[str, float]:
        """Global parameters of the pair table (among bead ``types``, default all) -> default value."""
        out = {"w_c": self.params.w_c}
        for key, e in self.pairs.items():
            if e.attracts and (types is None or key <= types):
                out[e.parameter] = e.eps
        return out


def mixed_size(a: BeadType, b: BeadType) -> float:
    """Mixing rule of WCA sizes: mean over the head beads of the pair, or over both if none is."""
    ha, hb = a.role == "head", b.role == "head"
    if ha or hb:
        return (ha * a.size + hb * b.size) / (ha + hb)
    return 0.5 * (a.size + b.size)


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
    >>> sorted(ff.species)[:3]
    ['ADM', 'ADP', 'CARG']
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
