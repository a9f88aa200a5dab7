"""Scenario checks that need files or the force field: paths, species names, protocol parameters,
integrator."""
from __future__ import annotations

from pathlib import Path

from exomembrane.builders.registry import Section
from exomembrane.config import ConfigError
from exomembrane.model.forcefield import ForceField
from exomembrane.scenario.sections import ForceFieldSection, Keyframes, RunSection


def check_files(forcefield: ForceFieldSection, source: str) -> None:
    """The force-field and species files named in ``forcefield`` exist; ConfigError naming the key otherwise."""
    name = forcefield.name
    files = {"forcefield.name": name} if name.endswith((".yaml", ".yml")) else {}
    files.update({f"forcefield.species.{i}": p for i, p in enumerate(forcefield.species)})
    for key, file in files.items():
        if not Path(file).is_file():
            raise ConfigError(f"{source}: {key}: file not found: {file}")


def check_semantics(ff: ForceField, forcefield: ForceFieldSection, builder: Section, protocol: dict[str, Keyframes],
                    run: RunSection, source: str) -> None:
    """Checks that need the force field ``ff`` (loaded from ``forcefield``): species names, protocol
    parameters, integrator; ConfigError naming ``source`` and the key otherwise."""
    compositions = builder.compositions()
    for key, p in builder.placements().items():
        sp = ff.species.get(p.species)
        if sp is None or sp.kind == "lipid" and key not in builder.ANCHORED:
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
    for name in protocol:
        if name not in allowed + list(builder.parameters()):
            raise ConfigError(f"{source}: protocol.{name}: not a parameter of this force field or builder; "
                              f"allowed: {allowed + list(builder.parameters())}")
    for name in forcefield.params:
        if name not in allowed[2:]:
            raise ConfigError(f"{source}: forcefield.params.{name}: not a pair-table parameter of this force field; "
                              f"allowed: {allowed[2:]}")
    for name, frames in protocol.items():
        times = [t for t, _ in frames]
        if any(b <= a for a, b in zip(times, times[1:])):
            raise ConfigError(f"{source}: protocol.{name}: keyframe times must strictly increase (got {times})")
    if protocol and run.integrator != "langevin":
        raise ConfigError(f"{source}: run.integrator: protocols run with integrator 'langevin' only "
                          f"(got {run.integrator!r}); remove protocol or change the integrator")
