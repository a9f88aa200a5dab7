"""The scenario schema: force field, builder (the union of the registered builder sections), run
settings and protocols. Loading and checks: :mod:`exomembrane.scenario.load`."""
from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated, Any, Union

import yaml
from pydantic import Field, PrivateAttr, ValidationError

from exomembrane import builders  # noqa: F401  (registers the builders' sections)
from exomembrane.builders.registry import Section, kinds, sections
from exomembrane.config import ConfigError, Strict, format_validation_error
from exomembrane.engine.simulation import Simulation, create_simulation
from exomembrane.model.forcefield import ForceField, load_forcefield
from exomembrane.model.structure import Structure
from exomembrane.scenario.checks import check_files, check_semantics
from exomembrane.scenario.overrides import apply_overrides
from exomembrane.scenario.sections import SEED_MAX, ForceFieldSection, Keyframes, RunSection

#: ``builder:``: one of the registered builder sections, chosen by ``kind``.
if TYPE_CHECKING:
    Builder = Section
else:
    Builder = Annotated[Union[sections()], Field(discriminator="kind")]  # noqa: UP007 (a runtime tuple)


class Scenario(Strict):
    """A validated scenario; see ``systems/*.yaml`` for annotated examples.

    ``protocol`` maps a global parameter (``kT``, ``w_c``, a pair-table entry such as ``eps_T_T``, the
    builder's own such as ``zipper``) to keyframes
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
        acting = {"kT", *structure.forcefield.parameters(set(structure.types)), *structure.parameters}
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
        return validate(apply_overrides(self.model_dump(mode="json"), overrides, self._source), self._source,
                        overrides)

    def resolved(self) -> Scenario:
        """This scenario with a seed drawn if ``run.seed`` is None (as recorded in run directories)."""
        if self.run.seed is not None:
            return self
        return self.with_overrides({"run.seed": secrets.randbelow(SEED_MAX) + 1})

    def to_yaml(self) -> str:
        """All settings, defaults filled, as YAML that :func:`load_scenario` reads back."""
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False, default_flow_style=None)


def validate(data: dict, source: str, overrides: Mapping[str, Any]) -> Scenario:
    """``data`` as a :class:`Scenario` from ``source``, checked; ConfigError naming file, key and value otherwise."""
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, source, overrides, unions={"builder": kinds()})) from None
    scenario._source = source
    check_files(scenario.forcefield, source)
    check_semantics(scenario.load_forcefield(), scenario.forcefield, scenario.builder, scenario.protocol,
                    scenario.run, source)
    return scenario
