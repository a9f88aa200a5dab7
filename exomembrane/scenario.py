"""Scenarios: one YAML file that fully describes a run.

A scenario names the force field (and its overrides), the builder of the starting structure, the
run settings (thermostat, barostat, time step, steps, report intervals, seed, platform) and the
protocols that ramp global parameters. :func:`load_scenario` validates all of it, the species
and files it names included, and raises :class:`~exomembrane.ConfigError` naming the file, the
key path, the value and what is allowed, before anything is written or any Context exists.

Example
-------
>>> from exomembrane.scenario import load_scenario
>>> sc = load_scenario("systems/vesicle.yaml", {"builder.radius": "6", "run.platform": "CPU"})
>>> sim = sc.simulation()          # an openmm.app.Simulation
>>> sim.step(100)
"""
from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

import yaml
from pydantic import (AfterValidator, BeforeValidator, Field, NonNegativeFloat, NonNegativeInt, PositiveFloat,
                      PositiveInt, PrivateAttr, ValidationError, model_validator)

from . import build
from .config import ConfigError, Strict, load_yaml
from .engine import Simulation, create_simulation
from .build import Domain, Placement
from .forcefield import ForceField, load_forcefield
from .platform import ALL
from .resources import data_dir
from .structure import Structure

SEED_MAX = 2**31 - 1  # OpenMM seeds are 32-bit ints; 0 would mean "pick one at random"


def _composition(value: Any) -> Any:
    return {value: 1.0} if isinstance(value, str) else value


def _fractions(value: dict[str, float]) -> dict[str, float]:
    if not value:
        raise ValueError("composition is empty; give a species name or fractions like {LIP: 0.9, CER: 0.1}")
    negative = {k: v for k, v in value.items() if v < 0}
    if negative:
        raise ValueError(f"fractions must be >= 0 (got {negative})")
    total = sum(value.values())
    if abs(total - 1.0) > 1e-6:
        raise ValueError(f"fractions must add up to 1 (got {total:g})")
    return value


def _repeat(n: int):
    return lambda v: (v,) * n if isinstance(v, (int, float)) and not isinstance(v, bool) else v


def _platform_name(value: Any) -> Any:
    return {p.lower(): p for p in ALL}.get(value.lower(), value) if isinstance(value, str) else value


#: A species name (100 %) or ``{species: fraction}`` with fractions adding up to 1.
Composition = Annotated[dict[str, float], BeforeValidator(_composition), AfterValidator(_fractions)]


class _TwoLeaflets(Strict):
    """A builder with two leaflet compositions (``LEAFLETS``); the second, if None, is the first."""

    LEAFLETS: ClassVar[tuple[str, str]]

    @model_validator(mode="after")
    def _symmetric(self) -> _TwoLeaflets:
        first, second = self.LEAFLETS
        if getattr(self, second) is None:
            object.__setattr__(self, second, getattr(self, first))  # frozen model: fill the default once
        return self

    def compositions(self) -> dict[str, dict[str, float]]:
        return {name: getattr(self, name) for name in self.LEAFLETS}


class Bilayer(_TwoLeaflets):
    """Flat bilayer in the xy-plane (:func:`exomembrane.build.bilayer`); lengths in sigma."""

    kind: Literal["bilayer"]
    size: Annotated[tuple[PositiveFloat, PositiveFloat], BeforeValidator(_repeat(2))] = (20.0, 20.0)
    upper: Composition = {"LIP": 1.0}
    lower: Composition | None = None  # None: same as ``upper`` (filled in on validation)
    area_per_lipid: PositiveFloat = 1.2
    box_z: PositiveFloat = 20.0
    seed: NonNegativeInt = 0
    LEAFLETS: ClassVar[tuple[str, str]] = ("upper", "lower")

    def build(self, ff: ForceField) -> Structure:
        return build.bilayer(ff, self.size, upper=self.upper, lower=self.lower, area_per_lipid=self.area_per_lipid,
                             box_z=self.box_z, seed=self.seed)


class Vesicle(_TwoLeaflets):
    """Closed spherical vesicle (:func:`exomembrane.build.vesicle`); lengths in sigma."""

    kind: Literal["vesicle"]
    radius: float = Field(default=10.0, ge=5.0)
    outer: Composition = {"LIP": 1.0}
    inner: Composition | None = None  # None: same as ``outer`` (filled in on validation)
    area_per_lipid: PositiveFloat = 1.2
    padding: PositiveFloat = 6.0
    seed: NonNegativeInt = 0
    LEAFLETS: ClassVar[tuple[str, str]] = ("outer", "inner")

    def build(self, ff: ForceField) -> Structure:
        return build.vesicle(ff, self.radius, outer=self.outer, inner=self.inner,
                             area_per_lipid=self.area_per_lipid, padding=self.padding, seed=self.seed)


class _Mvb(_TwoLeaflets):
    """An MVB membrane: leaflets named by the compartment they face, domains, placed molecules."""

    cytosolic: Composition = {"LIP": 1.0}
    luminal: Composition | None = None  # None: same as ``cytosolic``
    domains: list[Domain] = []
    proteins: list[Placement] = []
    area_per_lipid: PositiveFloat = 1.2
    seed: NonNegativeInt = 0
    LEAFLETS: ClassVar[tuple[str, str]] = ("cytosolic", "luminal")

    def _common(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("cytosolic", "luminal", "domains", "proteins", "area_per_lipid", "seed")}


class MvbPatch(_Mvb):
    """Flat MVB limiting-membrane patch with sides, domains and proteins (:func:`exomembrane.build.mvb_patch`)."""

    kind: Literal["mvb_patch"]
    size: Annotated[tuple[PositiveFloat, PositiveFloat], BeforeValidator(_repeat(2))] = (40.0, 40.0)
    lumen: Literal["+z", "-z"] = "+z"
    box_z: PositiveFloat = 40.0

    def build(self, ff: ForceField) -> Structure:
        return build.mvb_patch(ff, self.size, lumen=self.lumen, box_z=self.box_z, **self._common())


class MvbVesicle(_Mvb):
    """Closed MVB, lumen inside, with domains and proteins (:func:`exomembrane.build.mvb_vesicle`)."""

    kind: Literal["mvb_vesicle"]
    radius: float = Field(default=20.0, ge=5.0)
    padding: PositiveFloat = 6.0

    def build(self, ff: ForceField) -> Structure:
        return build.mvb_vesicle(ff, self.radius, padding=self.padding, **self._common())


class Gas(Strict):
    """Random lipid gas for self-assembly (:func:`exomembrane.build.gas`); lengths in sigma."""

    kind: Literal["gas"]
    n_lipids: PositiveInt
    box: Annotated[tuple[PositiveFloat, PositiveFloat, PositiveFloat], BeforeValidator(_repeat(3))]
    composition: Composition = {"LIP": 1.0}
    seed: NonNegativeInt = 0

    def compositions(self) -> dict[str, dict[str, float]]:
        return {"composition": self.composition}

    def build(self, ff: ForceField) -> Structure:
        return build.gas(ff, self.n_lipids, self.box, composition=self.composition, seed=self.seed)


Builder = Annotated[Bilayer | Vesicle | MvbPatch | MvbVesicle | Gas, Field(discriminator="kind")]
BUILDER_KINDS = ("bilayer", "vesicle", "mvb_patch", "mvb_vesicle", "gas")


class ForceFieldSection(Strict):
    """Force field by name (``forcefields/<name>.yaml``) or path, extra species files, w_c override
    and starting values of pair-table parameters (``{eps_T_T: 1.1, ...}``, eps)."""

    name: str = "cooke"
    species: list[str] = []
    w_c: PositiveFloat | None = None  # sigma; None: the force field's
    params: dict[str, NonNegativeFloat] = {}


class Report(Strict):
    """Steps between trajectory frames, thermo rows and checkpoints."""

    trajectory: PositiveInt = 1000
    thermo: PositiveInt = 100
    checkpoint: PositiveInt = 10000


class RunSection(Strict):
    """Thermostat, barostat, time step, length, seed and platform of a run."""

    kT: PositiveFloat = 1.1  # eps
    dt: PositiveFloat = 0.01  # tau
    friction: NonNegativeFloat = 1.0  # 1/tau
    integrator: Literal["langevin", "dpd", "verlet"] = "langevin"
    tension: NonNegativeFloat | None = None  # eps/sigma^2; None: constant area
    barostat_interval: PositiveInt = 100
    steps: NonNegativeInt = 10000
    seed: int | None = Field(default=None, ge=1, le=SEED_MAX)  # None: drawn when a run is created
    platform: Annotated[Literal["CUDA", "OpenCL", "CPU", "Reference"] | None, BeforeValidator(_platform_name)] = None
    precision: Literal["single", "mixed", "double"] = "mixed"
    device: NonNegativeInt | None = None  # GPU index (CUDA/OpenCL DeviceIndex); None: EXOMEMBRANE_DEVICE or OpenMM's
    deterministic: bool = False
    health_interval: NonNegativeInt = 1000
    report: Report = Report()


Keyframes = Annotated[list[tuple[NonNegativeFloat, float]], Field(min_length=1)]


class Scenario(Strict):
    """A validated scenario; see ``systems/*.yaml`` for annotated examples.

    ``protocol`` maps a global parameter (``kT``, ``w_c``, a pair-table entry such as ``eps_T_T``) to keyframes
    ``[[time tau, value], ...]`` followed piecewise-linearly inside the integrator.
    """

    name: str = "scenario"
    description: str = ""
    forcefield: ForceFieldSection = ForceFieldSection()
    builder: Builder
    run: RunSection = RunSection()
    protocol: dict[str, Keyframes] = {}
    _source: str = PrivateAttr(default="scenario")

    def load_forcefield(self) -> ForceField:
        """The force field with its extra species; errors name the scenario file."""
        try:
            return load_forcefield(self.forcefield.name, tuple(self.forcefield.species))
        except ConfigError as err:
            raise ConfigError(f"{self._source}: {err}") from None

    def build(self) -> Structure:
        """The starting structure (deterministic under ``builder.seed``)."""
        ff = self.load_forcefield()
        try:
            return self.builder.build(ff)
        except ConfigError as err:
            raise ConfigError(f"{self._source}: builder.{err}") from None

    def simulation(self, structure: Structure | None = None, replicas: int = 1) -> Simulation:
        """A ready :class:`exomembrane.Simulation` of ``structure`` (default: :meth:`build`;
        ``replicas``: see :func:`exomembrane.create_simulation`).

        With ``run.seed`` None, OpenMM picks random seeds (not reproducible); a
        :class:`exomembrane.run.Run` draws and records one instead. Pair-table parameters (start
        values, protocols) of bead types the structure does not hold are left out: they act on
        nothing (e.g. a control run without the molecules they are for).
        """
        structure = self.build() if structure is None else structure
        r = self.run
        w_c = self.forcefield.w_c
        reach = [structure.forcefield.params.w_c, w_c or 0.0] + [v for _, v in self.protocol.get("w_c", [])]
        acting = {"kT", *structure.forcefield.parameters(set(structure.types))}
        protocol = {k: v for k, v in self.protocol.items() if k in acting}
        try:
            return create_simulation(
                structure, kT=r.kT, dt=r.dt, friction=r.friction, integrator=r.integrator, tension=r.tension,
                barostat_interval=r.barostat_interval, protocol=protocol or None, platform=r.platform,
                precision=r.precision, device=r.device, seed=r.seed or 0, w_c=w_c, w_c_max=max(reach),
                health_interval=r.health_interval, deterministic=r.deterministic,
                params={k: v for k, v in self.forcefield.params.items() if k in acting}, replicas=replicas)
        except ConfigError as err:
            raise ConfigError(f"{self._source}: {err}") from None

    def with_overrides(self, overrides: Mapping[str, Any]) -> Scenario:
        """A re-validated copy with ``{"key.path": value}`` replaced (string values are read as YAML)."""
        return _validate(_apply(self.model_dump(mode="json"), overrides, self._source), self._source, overrides)

    def resolved(self) -> Scenario:
        """This scenario with a seed drawn if ``run.seed`` is None (as recorded in run directories)."""
        if self.run.seed is not None:
            return self
        return self.with_overrides({"run.seed": secrets.randbelow(SEED_MAX) + 1})

    def to_yaml(self) -> str:
        """All settings, defaults filled, as YAML that :func:`load_scenario` reads back."""
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False, default_flow_style=None)


def load_scenario(path: str | Path, overrides: Mapping[str, Any] | None = None) -> Scenario:
    """Read and validate a scenario file.

    Parameters
    ----------
    path
        YAML file (read with ``yaml.safe_load``: tags that construct Python objects are refused),
        or the name of a shipped scenario (``"vesicle"`` for ``systems/vesicle.yaml``).
    overrides
        ``{"key.path": value}``, e.g. from ``--set run.kT=1.0``; string values are read as YAML
        (``"1.5"`` is a float, ``"null"`` None, ``"{LIP: 0.5, CER: 0.5}"`` a mapping).

    Relative force-field and species paths are taken relative to the scenario file and stored
    absolute. Raises :class:`ConfigError` naming the file and key path on any problem.
    """
    path = Path(path)
    if path.suffix not in (".yaml", ".yml") and not path.exists() and path.name == str(path):
        shipped = data_dir("systems")
        known = sorted(p.stem for p in shipped.glob("*.yaml"))
        if path.name not in known:
            raise ConfigError(f"scenario: {path.name!r} is neither a file nor a shipped scenario; shipped: {known}")
        path = shipped / f"{path.name}.yaml"
    source = str(path)
    data = load_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of keys to values, got {type(data).__name__}")
    data = _apply(data, overrides or {}, source)
    data.setdefault("name", path.stem)
    ff = data.get("forcefield")
    if isinstance(ff, dict):
        ff = dict(ff)
        name = ff.get("name")
        if isinstance(name, str) and name.endswith((".yaml", ".yml")):
            ff["name"] = str((path.parent / name).resolve())
        if isinstance(ff.get("species"), list):
            ff["species"] = [str((path.parent / s).resolve()) if isinstance(s, str) else s for s in ff["species"]]
        data["forcefield"] = ff
    return _validate(data, source, overrides or {})


def _apply(data: dict, overrides: Mapping[str, Any], source: str) -> dict:
    """``data`` with each ``"a.b.c": value`` set, intermediate mappings created as needed; a
    number indexes a list (``builder.proteins.0.count``)."""
    out = dict(data)
    for key, value in overrides.items():
        parts = key.split(".")
        if not all(parts):
            raise ConfigError(f"{source}: --set {key}: key path must be dot-separated names, e.g. run.kT")
        if isinstance(value, str):
            try:
                value = yaml.safe_load(value)
            except yaml.YAMLError as err:
                raise ConfigError(f"{source}: --set {key}={value}: not a valid YAML value ({err})") from None
        node: dict | list = out
        for depth, part in enumerate(parts):
            where = ".".join(parts[:depth])
            if isinstance(node, list):
                if not (part.isdigit() and int(part) < len(node)):
                    raise ConfigError(f"{source}: --set {key}: {where} is a list of {len(node)}; "
                                      f"{part!r} is not an index in 0..{len(node) - 1}")
                part = int(part)
            elif not isinstance(node, dict):
                raise ConfigError(f"{source}: --set {key}: {where} is {node!r}, not a section with keys")
            if depth == len(parts) - 1:
                node[part] = value
                break
            child = node[part] if isinstance(node, list) else node.get(part, {})
            node[part] = child = list(child) if isinstance(child, list) else dict(child) if isinstance(child, dict) \
                else child
            node = child
    return out


def _validate(data: dict, source: str, overrides: Mapping[str, Any]) -> Scenario:
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format(err, source, overrides)) from None
    scenario._source = source
    _check_semantics(scenario, source)
    return scenario


def _format(err: ValidationError, source: str, overrides: Mapping[str, Any]) -> str:
    """One line per problem: ``file: key.path: problem (got value)``."""
    lines = []
    for e in err.errors():
        loc = [str(p) for p in e["loc"]]
        if loc[:1] == ["builder"] and len(loc) > 1 and loc[1] in BUILDER_KINDS:
            del loc[1]  # pydantic names the union member; the file has no such level
        path = ".".join(loc) or "(top level)"
        if e["type"] == "extra_forbidden":
            msg = "unknown key; remove it or check its spelling"
        elif e["type"] in ("union_tag_invalid", "union_tag_not_found"):
            path, msg = "builder.kind", f"must be one of {list(BUILDER_KINDS)}"
            e = {**e, "input": e.get("ctx", {}).get("tag", "nothing")}
        else:
            msg = e["msg"]
        got = e.get("input")
        shown = "" if isinstance(got, dict) or e["type"] == "missing" else f" (got {got!r})"
        origin = " [from --set]" if path in overrides else ""
        lines.append(f"{source}: {path}: {msg}{shown}{origin}")
    return "\n".join(lines)


def _check_semantics(scenario: Scenario, source: str) -> None:
    """Checks that need files or the force field: paths, species names, protocol parameters, integrator."""
    name = scenario.forcefield.name
    files = {"forcefield.name": name} if name.endswith((".yaml", ".yml")) else {}
    files.update({f"forcefield.species.{i}": p for i, p in enumerate(scenario.forcefield.species)})
    for key, file in files.items():
        if not Path(file).is_file():
            raise ConfigError(f"{source}: {key}: file not found: {file}")
    ff = scenario.load_forcefield()
    compositions = scenario.builder.compositions()
    for k, spec in enumerate(getattr(scenario.builder, "domains", [])):
        compositions[f"domains.{k}.composition"] = spec.composition
    for k, p in enumerate(getattr(scenario.builder, "proteins", [])):
        sp = ff.species.get(p.species)
        if sp is None or sp.kind == "lipid":
            others = sorted(n for n, s in ff.species.items() if s.kind != "lipid")
            what = "unknown species" if sp is None else "a lipid, not a protein or cargo:"
            raise ConfigError(f"{source}: builder.proteins.{k}.species: {what} {p.species!r}; proteins and cargo: "
                              f"{others} (add one with forcefield.species: [path/to/species.yaml])")
    for field, comp in compositions.items():
        for name in comp:
            lipids = sorted(n for n, sp in ff.species.items() if sp.kind == "lipid")
            if name not in lipids:
                what = "unknown species" if name not in ff.species else f"{ff.get(name).kind}, not a lipid:"
                raise ConfigError(f"{source}: builder.{field}.{name}: {what} {name!r}; lipid species: {lipids} "
                                  f"(add one with forcefield.species: [path/to/species.yaml])")
    allowed = ["kT"] + list(ff.parameters())  # those of absent bead types are accepted and left out
    for name in scenario.protocol:
        if name not in allowed:
            raise ConfigError(f"{source}: protocol.{name}: not a parameter of this force field; allowed: {allowed}")
    for name in scenario.forcefield.params:
        if name not in allowed[2:]:
            raise ConfigError(f"{source}: forcefield.params.{name}: not a pair-table parameter of this force field; "
                              f"allowed: {allowed[2:]}")
    for name, frames in scenario.protocol.items():
        times = [t for t, _ in frames]
        if any(b <= a for a, b in zip(times, times[1:])):
            raise ConfigError(f"{source}: protocol.{name}: keyframe times must strictly increase (got {times})")
    if scenario.protocol and scenario.run.integrator != "langevin":
        raise ConfigError(f"{source}: run.integrator: protocols run with integrator 'langevin' only "
                          f"(got {scenario.run.integrator!r}); remove protocol or change the integrator")
