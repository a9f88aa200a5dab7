"""Scenarios: one YAML file that fully describes a run.

A scenario names the force field (and its overrides), the builder of the starting structure (a
registered builder section, :mod:`exomembrane.builders.registry`), the run settings (thermostat,
barostat, time step, steps, report intervals, seed, platform) and the protocols that ramp global
parameters. :func:`load_scenario` validates all of it, the species and files it names included,
and raises :class:`~exomembrane.ConfigError` naming the file, the key path, the value and what is
allowed, before anything is written or any Context exists.

Example
-------
>>> from exomembrane.scenario import load_scenario
>>> sc = load_scenario("systems/vesicle.yaml", {"builder.radius": "6", "run.platform": "CPU"})
>>> sim = sc.simulation()          # an openmm.app.Simulation
>>> sim.step(100)
"""
from exomembrane.scenario.load import load_scenario
from exomembrane.scenario.schema import SEED_MAX, Scenario

__all__ = ["SEED_MAX", "Scenario", "load_scenario"]
