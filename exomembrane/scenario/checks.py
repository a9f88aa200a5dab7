"""Scenario checks that need files or the force field: paths, species names, protocol parameters,
integrator."""
from __future__ import annotations

from pathlib import Path

from exomembrane.config import ConfigError
from exomembrane.scenario.schema import Scenario


def check_semantics(scenario: Scenario, source: str) -> None:
    """Checks that need files or the force field: paths, species names, protocol parameters, integrator."""
    name = scenario.forcefield.name
    files = {"forcefield.name": name} if name.endswith((".yaml", ".yml")) else {}
    files.update({f"forcefield.species.{i}": p for i, p in enumerate(scenario.forcefield.species)})
    for key, file in files.items():
        if not Path(file).is_file():
            raise ConfigError(f"{source}: {key}: file not found: {file}")
    ff = scenario.load_forcefield()
    compositions = scenario.builder.compositions()
    for key, p in scenario.builder.placements().items():
        sp = ff.species.get(p.species)
        if sp is None or sp.kind == "lipid":
            others = sorted(n for n, s in ff.species.items() if s.kind != "lipid")
            what = "unknown species" if sp is None else "a lipid, not a protein or cargo:"
            raise ConfigError(f"{source}: builder.{key}.species: {what} {p.species!r}; proteins and cargo: "
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
