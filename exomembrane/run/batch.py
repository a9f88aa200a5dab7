"""Replica batches: several independent runs of one scenario (different seeds) in one OpenMM Context.

A GPU integrates a small system (~20k beads) far below its capacity; stacking ``k`` copies in
one Context fills it. The copies sit in slabs stacked along z (box ``Lx x Ly x k Lz``); a
per-bead replica index in the pair force keeps copies from interacting, walls act per slab, and
each copy keeps its own x-y periodicity. Each replica still is an ordinary run directory
(:class:`exomembrane.run.Run`): its own scenario (seed), starting velocities (those of the single
run with that seed), trajectory, thermo table (energies per term evaluated for that replica
alone), checkpoints and analysis; ``exomembrane resume`` continues one on its own.

What a batch cannot hold, refused with the reason: a barostat (the copies share one box, so they
would share its moves), the DPD thermostat (it acts on pairs the mask does not see), and molecules
that cross a z face of their slab (a run stops with :class:`SimulationError` if one does).

Example
-------
>>> from exomembrane.scenario import load_scenario
>>> base = load_scenario("vesicle", {"run.steps": 2000})
>>> with Batch.create([base.with_overrides({"run.seed": s}) for s in (1, 2, 3, 4)],
...                   [f"runs/v/seed-{s}" for s in (1, 2, 3, 4)]) as batch:   # doctest: +SKIP
...     batch.advance(batch.remaining)
"""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import openmm as mm

from exomembrane.config import ConfigError
from exomembrane.engine.health import SimulationError, diagnose
from exomembrane.engine.simulation import Simulation
from exomembrane.model.structure import Structure
from exomembrane.model.tethers import Tethers
from exomembrane.run.directory import Run, checkpoint_steps
from exomembrane.scenario import SEED_MAX, Scenario


def stack(structure: Structure, replicas: int) -> Structure:
    """``replicas`` copies of ``structure`` in slabs stacked along z (copy ``r`` shifted by ``r Lz``)."""
    lz = structure.box[2]
    shifts = np.repeat(np.arange(replicas) * lz, structure.n_beads)
    positions = np.tile(structure.positions, (replicas, 1))
    positions[:, 2] += shifts
    t = structure.tethers
    offsets = np.repeat(np.arange(replicas) * structure.n_beads, len(t))[:, None]
    tethers = Tethers(np.tile(t.pairs, (replicas, 1)) + offsets, *(np.tile(v, replicas) for v in (t.start, t.end, t.k)))
    f = structure.filaments
    n = structure.n_beads
    copies = [f.shifted(r * n) for r in range(replicas)]
    filaments = dataclasses.replace(
        f, **{name: np.concatenate([getattr(c, name) for c in copies]) for name in (
            "pairs", "a", "b", "arc", "k", "off", "binding", "binding_off", "subunits", "filament", "subunit_off")})
    return dataclasses.replace(
        structure, filaments=filaments, molecule_species=np.tile(structure.molecule_species, replicas),
        positions=positions,
        box=structure.box * [1, 1, replicas], leaflet=np.tile(structure.leaflet, replicas),
        membrane=np.tile(structure.membrane, replicas),
        confined=np.tile(structure.confined, replicas), tethers=tethers)


class Batch:
    """Runs that differ only in ``run.seed``, integrated together in one Context.

    Make one with :meth:`create` or :meth:`open`; drive it with :meth:`advance`.

    Attributes
    ----------
    runs
        One :class:`~exomembrane.run.Run` per replica; its Context evaluates that replica's
        outputs (and holds its state at each output step), the batch Context integrates.
    simulation
        The Simulation of all replicas.
    """

    def __init__(self, runs: list[Run]) -> None:
        self.runs = runs
        first = runs[0]
        scenario = first.scenario
        structure = first.simulation.structure
        self._n = structure.n_beads
        self._lz = float(structure.box[2])
        seeds = [r.scenario.run.seed or 0 for r in runs]  # runs draw and record a seed: never 0 here
        seed = int(np.random.SeedSequence([*seeds, first.step]).generate_state(1)[0]) % (SEED_MAX - 1) + 1
        self.simulation: Simulation = scenario.with_overrides(
            {"run.seed": seed, "run.platform": first.simulation.platform_choice.name}
        ).simulation(stack(structure, len(runs)), replicas=len(runs))
        #: context parameters of the batch that the replicas' Contexts have too (pair table, w_c, ...)
        self._shared = sorted(set(self.simulation.context.getParameters())
                              & set(first.simulation.context.getParameters()))
        self._gather()
        for k, r in enumerate(runs):
            r.note("batch", {"replica": k, "replicas": len(runs), "seeds": seeds,
                             "directories": [str(x.directory) for x in runs]})

    @classmethod
    def create(cls, scenarios: Sequence[Scenario], directories: Sequence[str | Path], *,
               overwrite: bool = False) -> Batch:
        """Start one run directory per scenario (they may differ only in ``run.seed``) at step 0."""
        check(scenarios, directories)
        runs: list[Run] = []
        try:
            for scenario, directory in zip(scenarios, directories):
                runs.append(Run.create(scenario, directory, overwrite=overwrite))
            return cls(runs)
        except BaseException:
            for r in runs:
                r.close()
            raise

    @classmethod
    def open(cls, directories: Sequence[str | Path]) -> Batch:
        """Reopen the replicas of a batch at the latest checkpoint step they all kept."""
        common = set.intersection(*(set(checkpoint_steps(d)) for d in directories))
        if not common:
            raise FileNotFoundError(f"{', '.join(map(str, directories))}: no checkpoint step common to all "
                                    f"replicas; start the batch again")
        step = max(common)
        runs: list[Run] = []
        try:
            for d in directories:
                runs.append(Run.open(d, step=step))
            check([r.scenario for r in runs], directories)
            return cls(runs)
        except BaseException:
            for r in runs:
                r.close()
            raise

    @property
    def step(self) -> int:
        return self.simulation.currentStep

    @property
    def remaining(self) -> int:
        """Steps left to the replicas' target."""
        return max(self.runs[0].target_steps - self.step, 0)

    def advance(self, n_steps: int) -> int:
        """Integrate ``n_steps`` steps; each replica writes its frames, rows and checkpoints on
        its own schedule, and a final checkpoint."""
        end = self.step + int(n_steps)
        intervals = self.runs[0].intervals
        while self.step < end:
            due = min(end, *((self.step // i + 1) * i for i in intervals))
            try:
                self.simulation.step(due - self.step)
            except SimulationError as err:
                raise SimulationError(f"in a batch of {len(self.runs)} replicas of {self._n} beads (bead i "
                                      f"is bead i mod {self._n} of replica i // {self._n}): {err}") from None
            self._scatter()
            for r in self.runs:
                r.write_due()
        if self.step % intervals[2]:
            for r in self.runs:
                r.checkpoint()
        return int(n_steps)

    def close(self) -> None:
        for r in self.runs:
            r.close()

    def __enter__(self) -> Batch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _gather(self) -> None:
        """Batch Context <- the replicas' Contexts (positions shifted into their slabs, velocities,
        box, step, time, integrator variables)."""
        ctx = self.simulation.context
        positions, velocities = [], []
        for k, r in enumerate(self.runs):
            state = r.simulation.context.getState(getPositions=True, getVelocities=True, enforcePeriodicBox=True)
            positions.append(state.getPositions(asNumpy=True)._value + [0.0, 0.0, k * self._lz])
            velocities.append(state.getVelocities(asNumpy=True)._value)
        first = self.runs[0].simulation
        ctx.setPositions(np.concatenate(positions))
        ctx.setVelocities(np.concatenate(velocities))
        ctx.setTime(first.context.getTime())
        ctx.setStepCount(first.context.getStepCount())
        _copy_integrator(first.integrator, self.simulation.integrator)
        values = first.context.getParameters()
        for name in self._shared:
            ctx.setParameter(name, values[name])

    def _scatter(self) -> None:
        """The replicas' Contexts <- their slabs of the batch Context."""
        ctx = self.simulation.context
        state = ctx.getState(getPositions=True, getVelocities=True)
        xyz = state.getPositions(asNumpy=True)._value
        vel = state.getVelocities(asNumpy=True)._value
        a, b, _ = state.getPeriodicBoxVectors()
        if not np.isfinite(xyz).all():
            structure = self.simulation.structure
            raise SimulationError(diagnose(ctx, self.step, structure.fene_bonds(),
                                           structure.forcefield.params.fene.r_inf, tethers=structure.tethers,
                                           filaments=structure.filaments))
        slab = np.floor(np.mod(xyz[:, 2], len(self.runs) * self._lz) / self._lz).astype(int)
        owner = np.arange(len(xyz)) // self._n
        stray = np.flatnonzero(slab != owner)
        if stray.size:
            i = int(stray[0])
            raise SimulationError(
                f"step {self.step}: {stray.size} bead(s) left their replica's slab, e.g. bead {i % self._n} of "
                f"replica {owner[i]} at z = {xyz[i, 2] - owner[i] * self._lz:.2f} sigma (slab 0..{self._lz:g}); "
                f"a batch needs molecules to stay off the box's z faces: run this scenario unbatched (batch: 1)")
        params = dict(ctx.getParameters())
        for k, r in enumerate(self.runs):
            rc = r.simulation.context
            part = slice(k * self._n, (k + 1) * self._n)
            rc.setPeriodicBoxVectors(a, b, mm.Vec3(0, 0, self._lz))
            rc.setPositions(xyz[part] - [0.0, 0.0, k * self._lz])
            rc.setVelocities(vel[part])
            rc.setTime(state.getTime())
            rc.setStepCount(ctx.getStepCount())
            for name in self._shared:
                rc.setParameter(name, params[name])
            _copy_integrator(self.simulation.integrator, r.simulation.integrator)


def _copy_integrator(source: mm.Integrator, target: mm.Integrator) -> None:
    """Global variables of a CustomIntegrator (protocol clock, kT) from ``source`` to ``target``."""
    if isinstance(source, mm.CustomIntegrator) and isinstance(target, mm.CustomIntegrator):
        for k in range(source.getNumGlobalVariables()):
            target.setGlobalVariableByName(source.getGlobalVariableName(k), source.getGlobalVariable(k))


def check(scenarios: Sequence[Scenario], directories: Sequence[str | Path]) -> None:
    """Raise :class:`ConfigError` saying why these scenarios cannot run as one batch."""
    if len(scenarios) != len(directories) or len(scenarios) < 2:
        raise ConfigError(f"batch: needs >= 2 scenarios and one directory each (got {len(scenarios)} scenarios, "
                          f"{len(directories)} directories)")
    base = scenarios[0]
    dumps = [s.with_overrides({"run.seed": 1}).model_dump() for s in scenarios]
    for s, d in zip(scenarios[1:], dumps[1:]):
        if d != dumps[0]:
            raise ConfigError(f"batch: replicas must differ only in run.seed; {s.name} (seed {s.run.seed}) differs "
                              f"from {base.name} (seed {base.run.seed}) in other settings")
    seeds = [s.run.seed for s in scenarios]
    if None in seeds or len(set(seeds)) != len(seeds):
        raise ConfigError(f"batch: every replica needs its own run.seed (got {seeds})")
    if base.run.tension is not None:
        raise ConfigError(f"batch: run.tension = {base.run.tension}: the replicas share one box, so a barostat would "
                          f"couple them; set run.tension: null (constant area) or run them unbatched (batch: 1)")
    if base.run.integrator == "dpd":
        raise ConfigError("batch: run.integrator 'dpd' couples beads of different replicas (its pair thermostat "
                          "ignores the replica mask); use 'langevin' or 'verlet', or run them unbatched (batch: 1)")
