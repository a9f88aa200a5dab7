"""Run directories: create one from a scenario, advance it in chunks, stop it, resume it.

A run directory holds

========================  ==============================================================
``scenario.yaml``         the resolved scenario (every default filled, seed and platform)
``manifest.json``         versions, platform (and why), device, precision, seed, segments
                          (start/end time and steps of each session), steps done
``topology.h5``           one-frame mdtraj HDF5 file: beads, residues, bonds, start box
``trajectory.xtc``        frames: positions (sigma = nm), time (tau = ps), step, box
``thermo.csv``            step, time, energies, temperature, box, per-term energies
``checkpoint.chk``        latest checkpoint (``.prev``: the one before)
========================  ==============================================================

``mdtraj.load("trajectory.xtc", top="topology.h5")`` reads the frames with names, box and time.
After :meth:`Run.advance` returns, or when the process is killed at any moment, the directory
can be resumed: :meth:`Run.open` cuts the trajectory and table back to the last good checkpoint
(dropping a torn last record) and continues bitwise as if never interrupted (same platform).

Example
-------
>>> from exomembrane.scenario import load_scenario
>>> from exomembrane.run import Run
>>> with Run.create(load_scenario("systems/vesicle.yaml"), "runs/v") as run:
...     run.advance(1000)
>>> with Run.open("runs/v") as run:          # later, or after a crash
...     run.advance(run.remaining)
"""
from __future__ import annotations

import contextlib
import json
import os
import platform as host
import shutil
import threading
import warnings
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import mdtraj
import numpy as np
import openmm as mm

from exomembrane.analysis.selection import lipid_residues
from exomembrane.config import ConfigError
from exomembrane.engine.platform import cpu_model
from exomembrane.engine.simulation import Simulation
from exomembrane.model.compartments import Membrane, from_sides
from exomembrane.model.stored import (
    CHECKPOINT,
    MANIFEST,
    MEMBRANES,
    SCENARIO,
    THERMO,
    TOPOLOGY,
    TRAJECTORY,
    load_membranes,
    load_trajectory,  # noqa: F401  (re-exported: the run layer's readers)
)
from exomembrane.run.reporters import (
    CheckpointReporter,
    ThermoReporter,
    TrajectoryReporter,
    atomic_write,
    previous_path,
    read_checkpoint,
)
from exomembrane.scenario import Scenario, load_scenario
from exomembrane.version import __version__


class Run:
    """A run directory and the :class:`exomembrane.Simulation` that advances it.

    Make one with :meth:`create` or :meth:`open`. One thread drives it (:meth:`advance`);
    :meth:`stop` may be called from any other thread.

    Attributes
    ----------
    directory
        The run directory.
    scenario
        The resolved scenario (seed and platform filled in).
    simulation
        The OpenMM simulation; its reporters write the directory's files. Touch its Context only
        from the thread that calls :meth:`advance` (e.g. in the ``callback``).
    """

    def __init__(self, directory: Path, scenario: Scenario, simulation: Simulation, manifest: dict[str, Any],
                 records: dict[str, int]) -> None:
        self.directory = directory
        self.scenario = scenario
        self.simulation = simulation
        self._manifest = manifest
        self._stop = threading.Event()
        report = scenario.run.report
        self._trajectory = TrajectoryReporter(directory / TRAJECTORY, report.trajectory, records.get(TRAJECTORY, 0))
        self._thermo = ThermoReporter(directory / THERMO, report.thermo, records.get(THERMO, 0))
        self._checkpoint = CheckpointReporter(directory / CHECKPOINT, report.checkpoint,
                                              [self._trajectory, self._thermo], on_save=self._saved)
        simulation.reporters += [self._trajectory, self._thermo, self._checkpoint]

    @classmethod
    def create(cls, scenario: Scenario, directory: str | Path, *, overwrite: bool = False) -> Run:
        """Start a run of ``scenario`` in ``directory`` at step 0.

        The structure is built and the simulation created before anything is written, so a bad
        scenario leaves no trace. Writes the step-0 frame, thermo row and checkpoint.

        Parameters
        ----------
        directory
            Created if absent; an existing non-empty directory is refused unless ``overwrite``,
            which replaces only a previous run directory (one with a ``manifest.json``).
        """
        directory = Path(directory)
        scenario = scenario.resolved()
        structure = scenario.build()
        _check_target(directory, overwrite)
        simulation = scenario.simulation(structure)
        scenario = scenario.with_overrides({"run.platform": simulation.platform_choice.name})
        if overwrite and directory.is_dir() and any(directory.iterdir()):
            shutil.rmtree(directory)
        directory.mkdir(parents=True, exist_ok=True)
        (directory / SCENARIO).write_text(scenario.to_yaml())
        structure.to_mdtraj().save_hdf5(str(directory / TOPOLOGY))
        with open(directory / MEMBRANES, "wb") as f:
            np.savez_compressed(f, membrane=structure.membrane, leaflet=structure.leaflet)
        manifest: dict[str, Any] = {
            "scenario": scenario.name, "seed": scenario.run.seed, "n_beads": structure.n_beads,
            "n_lipids": structure.n_lipids, "sides": structure.sides,
            "membranes": [m.to_dict() for m in structure.membranes], "created": _now(), "steps_done": 0,
            "steps_target": scenario.run.steps, "segments": []}
        run = cls(directory, scenario, simulation, manifest, {})
        run._begin_segment()
        state = simulation.context.getState(getPositions=True, getEnergy=True, enforcePeriodicBox=True)
        run._trajectory.report(simulation, state)
        run._thermo.report(simulation, state)
        run._checkpoint.save(simulation, state)
        return run

    @classmethod
    def open(cls, directory: str | Path, *, platform: str | None = None, step: int | None = None) -> Run:
        """Reopen a run directory at its last good checkpoint, to continue it.

        The trajectory and thermo table are cut back to that checkpoint's step. If the latest
        checkpoint is damaged, the previous one is used (with a warning).

        Parameters
        ----------
        platform
            Must match the platform that wrote the checkpoint (OpenMM checkpoints do not move
            between platforms); None uses that platform. A mismatch raises ConfigError saying why.
        step
            Reopen at the kept checkpoint of this step (the latest or the one before), e.g. to
            bring the replicas of a batch back to a common step.
        """
        directory = Path(directory)
        meta, data = _latest_checkpoint(directory, step)
        scenario = load_scenario(directory / SCENARIO)
        written_on = meta["platform"]
        if platform is not None and platform.lower() != written_on.lower():
            raise ConfigError(f"{directory}: its checkpoint was written on the {written_on} platform and OpenMM "
                              f"checkpoints only load on the platform that wrote them; resume on {written_on} "
                              f"(got platform {platform!r})")
        structure = scenario.build()
        if structure.n_beads != meta["n_beads"]:
            raise ConfigError(f"{directory}: {SCENARIO} builds {structure.n_beads} beads but the checkpoint has "
                              f"{meta['n_beads']}; the scenario or the builders changed since the run started")
        try:
            simulation = scenario.simulation(structure)
        except ConfigError as err:
            raise ConfigError(f"cannot resume {directory} on its checkpoint's platform {written_on}: {err}") from None
        try:
            simulation.context.loadCheckpoint(data)
        except mm.OpenMMException as err:
            raise ConfigError(f"{directory}: cannot load its checkpoint here ({str(err).strip()}); it was written "
                              f"by OpenMM {meta['openmm']} on {written_on}") from None
        records = _cut_outputs(directory, meta)
        manifest = json.loads((directory / MANIFEST).read_text())
        manifest["steps_done"] = meta["step"]
        run = cls(directory, scenario, simulation, manifest, records)
        run._checkpoint.last_step = meta["step"]
        run._begin_segment()
        return run

    @property
    def step(self) -> int:
        """Steps done since the run was created."""
        return self.simulation.currentStep

    @property
    def time(self) -> float:
        """Simulated time in tau (= ps)."""
        return self.step * self.scenario.run.dt

    @property
    def target_steps(self) -> int:
        """Step count the run is meant to reach (``run.steps`` unless changed); stored in the manifest."""
        return int(self._manifest["steps_target"])

    @target_steps.setter
    def target_steps(self, steps: int) -> None:
        if not (isinstance(steps, int) and steps >= 0):
            raise ConfigError(f"steps: must be an integer >= 0 (got {steps!r})")
        self._manifest["steps_target"] = steps
        self._write_manifest()

    @property
    def remaining(self) -> int:
        """Steps left to :attr:`target_steps` (0 when reached or passed)."""
        return max(self.target_steps - self.step, 0)

    @property
    def frames(self) -> int:
        """Frames in the trajectory so far."""
        return self._trajectory.records

    def advance(self, n_steps: int, callback: Callable[[Run], None] | None = None,
                chunk: int | None = None) -> int:
        """Integrate up to ``n_steps`` steps, in chunks, then checkpoint.

        Parameters
        ----------
        n_steps
            Steps to run (>= 0).
        callback
            Called as ``callback(run)`` after each chunk, in this thread (the one that owns the
            Context): the place to read progress or apply queued parameter changes.
        chunk
            Steps per chunk (default: the thermo interval). Frames, rows and periodic checkpoints
            fall on the same steps whatever the chunking.

        Returns
        -------
        Steps done; fewer than ``n_steps`` if :meth:`stop` was called. On return the directory
        holds a checkpoint at :attr:`step`, with trajectory and table flushed to it. A
        :class:`~exomembrane.SimulationError` leaves the last periodic checkpoint in place.
        """
        if not (isinstance(n_steps, (int, np.integer)) and n_steps >= 0):
            raise ConfigError(f"steps: must be an integer >= 0 (got {n_steps!r})")
        chunk = int(chunk or self.scenario.run.report.thermo)
        if chunk < 1:
            raise ConfigError(f"chunk: must be >= 1 (got {chunk})")
        self._stop.clear()
        start, end = self.step, self.step + int(n_steps)
        while self.step < end and not self._stop.is_set():
            self.simulation.step(min(chunk, end - self.step))
            if callback is not None:
                callback(self)
        if self._checkpoint.last_step != self.step:
            self.checkpoint()
        return self.step - start

    def write_due(self) -> None:
        """Write the frame, row and checkpoint due at the current step from the Context's state
        (for a run whose steps another Context integrates, as in :class:`exomembrane.run.batch.Batch`)."""
        due = [r for r in (self._trajectory, self._thermo, self._checkpoint) if self.step % r.interval == 0]
        if due:
            state = self.simulation.context.getState(getPositions=True, getEnergy=True, enforcePeriodicBox=True)
            for reporter in due:
                reporter.report(self.simulation, state)

    def note(self, key: str, value: Any) -> None:
        """Record ``value`` under ``key`` in the manifest (e.g. the batch a replica ran in)."""
        self._manifest[key] = value
        self._write_manifest()

    @property
    def intervals(self) -> tuple[int, int, int]:
        """Steps between frames, thermo rows and checkpoints."""
        return self._trajectory.interval, self._thermo.interval, self._checkpoint.interval

    def stop(self) -> None:
        """Ask a running :meth:`advance` to return after its current chunk (thread-safe)."""
        self._stop.set()

    def checkpoint(self) -> None:
        """Flush the outputs and write a checkpoint at the current step (call from the driving thread)."""
        self._checkpoint.save(self.simulation)

    def close(self) -> None:
        """Flush and close the output files (again: no-op); the run can be reopened with :meth:`open`."""
        for out in (self._trajectory, self._thermo):
            if not out.closed:
                out.flush()
                out.close()
        self.simulation.reporters[:] = [r for r in self.simulation.reporters
                                        if r not in (self._trajectory, self._thermo, self._checkpoint)]

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _begin_segment(self) -> None:
        sim = self.simulation
        choice = sim.platform_choice
        plat = sim.context.getPlatform()
        names = plat.getPropertyNames()
        segment = {
            "started": _now(), "ended": None, "from_step": self.step, "to_step": self.step,
            "platform": choice.name, "platform_reason": choice.reason, "device": _device(sim),
            "pair_kernel": sim.pair_kernel,
            "precision": plat.getPropertyValue(sim.context, "Precision") if "Precision" in names
            else f"fixed by the {choice.name} platform",
            "host": host.node(), "pid": os.getpid(),
            "versions": {"exomembrane": __version__, "openmm": mm.__version__, "mdtraj": mdtraj.__version__,
                         "numpy": np.__version__, "python": host.python_version()},
        }
        self._manifest["segments"].append(segment)
        self._write_manifest()

    def _saved(self, meta: dict[str, Any]) -> None:
        self._manifest["steps_done"] = meta["step"]
        self._manifest["frames"] = meta["outputs"][TRAJECTORY]["records"]
        segment = self._manifest["segments"][-1]
        segment["to_step"], segment["ended"] = meta["step"], _now()
        self._write_manifest()

    def _write_manifest(self) -> None:
        atomic_write(self.directory / MANIFEST, (json.dumps(self._manifest, indent=1) + "\n").encode())


def load_compartments(directory: str | Path) -> tuple[tuple[Membrane, ...], np.ndarray, np.ndarray]:
    """The membranes of a run and, per molecule, its membrane index (-1: none) and leaflet as built
    (+1 upper/outer, -1 lower/inner, 0 none).

    Run directories written before compartments were recorded give the one membrane of their
    ``sides`` (all lipids in it) and leaflets 0 (unknown: the analysis measures them in the first
    frame).
    """
    directory = Path(directory)
    membranes, membrane, leaflet = load_membranes(directory)
    if membranes is None:
        membranes = from_sides(json.loads((directory / MANIFEST).read_text()).get("sides", {}))
    if membrane is not None and leaflet is not None:
        return membranes, membrane, leaflet
    top = mdtraj.load_topology(str(directory / TOPOLOGY))
    lipid = lipid_residues(top)
    return membranes, np.where(lipid & bool(membranes), 0, -1), np.zeros(top.n_residues, np.int64)


def load_thermo(directory: str | Path) -> dict[str, np.ndarray]:
    """Columns of a run's ``thermo.csv`` as arrays (see :class:`~exomembrane.run.reporters.ThermoReporter`)."""
    table = np.genfromtxt(Path(directory) / THERMO, delimiter=",", names=True, ndmin=1)
    return {name: table[name] for name in table.dtype.names or ()}


def _check_target(directory: Path, overwrite: bool) -> None:
    if directory.exists() and not directory.is_dir():
        raise FileExistsError(f"{directory}: exists and is not a directory")
    if directory.is_dir() and any(directory.iterdir()):
        if not overwrite:
            raise FileExistsError(f"{directory}: directory is not empty; choose another output directory, "
                                  f"resume it, or overwrite it")
        if not (directory / MANIFEST).is_file():
            raise FileExistsError(f"{directory}: not a run directory (no {MANIFEST}); refusing to overwrite it")


def checkpoint_steps(directory: str | Path) -> list[int]:
    """Steps of the readable checkpoints kept in a run directory (latest first)."""
    steps = []
    for path in (Path(directory) / CHECKPOINT, previous_path(Path(directory) / CHECKPOINT)):
        with contextlib.suppress(OSError, ValueError):
            steps.append(read_checkpoint(path)[0]["step"])
    return steps


def _latest_checkpoint(directory: Path, step: int | None = None) -> tuple[dict[str, Any], bytes]:
    if not (directory / SCENARIO).is_file():
        raise FileNotFoundError(f"{directory}: not a run directory (no {SCENARIO})")
    current = directory / CHECKPOINT
    problems = []
    for path in (current, previous_path(current)):
        if not path.is_file():
            problems.append(f"{path.name}: missing")
            continue
        try:
            meta, data = read_checkpoint(path)
        except ValueError as err:
            problems.append(str(err))
            continue
        if step is not None and meta["step"] != step:
            problems.append(f"{path.name}: at step {meta['step']}, not {step}")
            continue
        if path != current and step is None:
            warnings.warn(f"{directory}: latest checkpoint unusable ({problems[0]}); resuming from the previous "
                          f"one at step {meta['step']}", stacklevel=3)
        return meta, data
    raise FileNotFoundError(f"{directory}: no usable checkpoint ({'; '.join(problems)}); the run was probably "
                            f"interrupted while being created: start it again")


def _cut_outputs(directory: Path, meta: dict[str, Any]) -> dict[str, int]:
    """Truncate each output file to its size at the checkpoint; returns records per file."""
    records = {}
    for name, info in meta["outputs"].items():
        path = directory / name
        size = path.stat().st_size if path.is_file() else -1
        if size < info["bytes"]:
            raise OSError(f"{path}: {'missing' if size < 0 else f'{size} bytes'}, but the checkpoint at step "
                          f"{meta['step']} recorded {info['bytes']} bytes; the run directory is damaged")
        with open(path, "r+b") as f:
            f.truncate(info["bytes"])
        records[name] = info["records"]
    return records


def _device(simulation: Simulation) -> str:
    plat = simulation.context.getPlatform()
    if "DeviceName" in plat.getPropertyNames():
        return plat.getPropertyValue(simulation.context, "DeviceName")
    cpu = cpu_model()
    if "Threads" in plat.getPropertyNames():
        return f"{cpu} ({plat.getPropertyValue(simulation.context, 'Threads')} threads)"
    return cpu


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
