"""OpenMM reporters (duck-typed: ``describeNextReport``/``report``) for headless runs.

- :class:`TrajectoryReporter`: frames appended to a GROMACS XTC file (positions nm = sigma,
  time ps = tau, step, box), molecules kept whole.
- :class:`ThermoReporter`: a CSV row per report: step, time, energies, temperature, box and the
  energy of each force term (groups of :data:`exomembrane.system.TERMS`).
- :class:`CheckpointReporter`: OpenMM checkpoints written atomically, with the byte sizes of the
  output files at that step, so a resumed run can cut them back to exactly that step.

Each output file is append-only and every record is self-contained, so cutting a file at a
recorded byte offset removes a torn last record and everything after the checkpoint.

Example
-------
>>> traj = TrajectoryReporter("traj.xtc", 1000)
>>> thermo = ThermoReporter("thermo.csv", 100)
>>> sim.reporters += [traj, thermo, CheckpointReporter("state.chk", 10000, [traj, thermo])]
"""
from __future__ import annotations

import io
import json
import os
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import mdtraj
import numpy as np
import openmm as mm
import openmm.app as app

from exomembrane.engine.health import SimulationError
from exomembrane.engine.simulation import KB
from exomembrane.engine.system import TERMS


class Output(Protocol):
    """An append-only output whose size a checkpoint records."""

    path: Path
    records: int

    @property
    def nbytes(self) -> int: ...

    def flush(self) -> None: ...


def _schedule(interval: int, simulation: app.Simulation) -> int:
    return interval - simulation.currentStep % interval


def _box_lengths(state: mm.State) -> np.ndarray:
    """(3,) diagonal of the periodic box in nm (sigma)."""
    vectors = state.getPeriodicBoxVectors(asNumpy=True)._value
    return np.diagonal(vectors).copy()


class _AppendFile:
    """A binary file opened for appending, with its size and a durable flush."""

    def __init__(self, path: str | Path, records: int) -> None:
        self.path = Path(path)
        self.records = records
        self._file = open(self.path, "ab")

    @property
    def nbytes(self) -> int:
        """Bytes written so far (file size once flushed)."""
        return self._file.seek(0, os.SEEK_END)

    def append(self, record: bytes) -> None:
        """Append one record and hand it to the OS (readers see it; a killed process keeps it)."""
        self._file.write(record)
        self._file.flush()
        self.records += 1

    def flush(self) -> None:
        """Push written records to disk (``fsync``)."""
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()

    @property
    def closed(self) -> bool:
        return self._file.closed


class TrajectoryReporter(_AppendFile):
    """Append a frame to an XTC file every ``interval`` steps.

    Parameters
    ----------
    path
        XTC file; created if absent, else appended to.
    interval
        Steps between frames.
    records
        Frames already in the file (when appending).

    Frames hold positions (nm, 1e-3 nm precision, molecules whole inside the box), the time in ps
    (= tau), the step and the box; ``mdtraj.load(path, top=...)`` reads them back.
    """

    def __init__(self, path: str | Path, interval: int, records: int = 0) -> None:
        super().__init__(path, records)
        self.interval = int(interval)

    def describeNextReport(self, simulation: app.Simulation) -> dict[str, Any]:
        return {"steps": _schedule(self.interval, simulation), "periodic": True, "include": ["positions"]}

    def report(self, simulation: app.Simulation, state: mm.State) -> None:
        xyz = state.getPositions(asNumpy=True)._value[None].astype(np.float32)
        box = state.getPeriodicBoxVectors(asNumpy=True)._value[None].astype(np.float32)
        # mdtraj writes XTC only to a new file: encode the frame in a scratch file, append its bytes.
        with tempfile.TemporaryDirectory(prefix="exomembrane-") as scratch:
            frame = Path(scratch) / "frame.xtc"
            with mdtraj.formats.XTCTrajectoryFile(str(frame), "w") as f:
                f.write(xyz, time=np.array([state.getTime()._value], np.float32),
                        step=np.array([simulation.currentStep], np.int32), box=box)
            self.append(frame.read_bytes())


class ThermoReporter(_AppendFile):
    """Append a CSV row every ``interval`` steps.

    Columns: ``step``, ``time`` (tau), ``potential``, ``kinetic`` (eps), ``temperature`` (K),
    ``kT`` (kinetic temperature in eps), ``box_x``, ``box_y``, ``box_z`` (sigma), then one column
    per force term (eps) of :data:`~exomembrane.engine.system.TERMS`. Floats are written in full
    precision. A table continued on resume keeps the columns of its header (a run begun before a
    term existed goes on without it).
    """

    COLUMNS = ("step", "time", "potential", "kinetic", "temperature", "kT", "box_x", "box_y", "box_z", *TERMS)

    def __init__(self, path: str | Path, interval: int, records: int = 0) -> None:
        super().__init__(path, records)
        self.interval = int(interval)
        self.columns: tuple[str, ...] = self.COLUMNS
        if self.nbytes == 0:
            self._file.write((",".join(self.COLUMNS) + "\n").encode())  # a header, not a record
        else:
            with open(self.path, "rb") as f:
                self.columns = tuple(f.readline().decode().strip().split(","))

    def describeNextReport(self, simulation: app.Simulation) -> dict[str, Any]:
        return {"steps": _schedule(self.interval, simulation), "periodic": None, "include": ["energy"]}

    def report(self, simulation: app.Simulation, state: mm.State) -> None:
        system = simulation.system
        dof = 3 * system.getNumParticles() - system.getNumConstraints()
        if any(isinstance(f, mm.CMMotionRemover) for f in system.getForces()):
            dof -= 3
        kinetic = state.getKineticEnergy()._value
        kT = 2.0 * kinetic / dof
        present = {f.getForceGroup() for f in system.getForces()}  # a term the system lacks is 0, not evaluated
        terms = {name: simulation.context.getState(getEnergy=True, groups={g}).getPotentialEnergy()._value
                 if g in present else 0.0 for name, g in TERMS.items() if name in self.columns}
        values = dict(zip(self.COLUMNS, [simulation.currentStep, state.getTime()._value,
                                         state.getPotentialEnergy()._value, kinetic, kT / KB, kT,
                                         *_box_lengths(state).tolist()]), **terms)
        self.append((",".join(repr(values.get(c, 0.0)) for c in self.columns) + "\n").encode())


class CheckpointReporter:
    """Write an OpenMM checkpoint every ``interval`` steps, atomically, keeping the previous one.

    Parameters
    ----------
    path
        Checkpoint file; the previous one is kept as ``<path>.prev``.
    interval
        Steps between checkpoints.
    outputs
        Reporters whose files are flushed to disk first; their sizes (bytes, records) go into the
        checkpoint's metadata, keyed by file name.
    on_save
        Called with the metadata after each checkpoint (e.g. to update a manifest).

    A checkpoint is a ZIP file (``meta.json`` + ``openmm.chk``) written to a temporary file,
    fsynced and renamed over ``path``. A state with non-finite energy is never saved:
    :class:`~exomembrane.SimulationError` is raised instead.
    """

    def __init__(self, path: str | Path, interval: int, outputs: Sequence[Output] = (),
                 on_save: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.path = Path(path)
        self.interval = int(interval)
        self.outputs = list(outputs)
        self.on_save = on_save
        self.last_step: int | None = None

    def describeNextReport(self, simulation: app.Simulation) -> dict[str, Any]:
        return {"steps": _schedule(self.interval, simulation), "periodic": None, "include": ["energy"]}

    def report(self, simulation: app.Simulation, state: mm.State) -> None:
        self.save(simulation, state)

    def save(self, simulation: app.Simulation, state: mm.State | None = None) -> dict[str, Any]:
        """Checkpoint now; returns the metadata written."""
        state = simulation.context.getState(getEnergy=True) if state is None else state
        energy = state.getPotentialEnergy()._value
        if not np.isfinite(energy):
            raise SimulationError(f"step {simulation.currentStep}: potential energy is {energy}; "
                                  f"not checkpointing a broken state")
        for out in self.outputs:
            out.flush()
        platform = simulation.context.getPlatform()
        meta = {
            "step": simulation.currentStep,
            "time": state.getTime()._value,
            "n_beads": simulation.system.getNumParticles(),
            "platform": platform.getName(),
            "openmm": mm.__version__,
            "outputs": {out.path.name: {"bytes": out.nbytes, "records": out.records} for out in self.outputs},
        }
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as z:
            z.writestr("meta.json", json.dumps(meta, indent=1))
            z.writestr("openmm.chk", simulation.context.createCheckpoint())
        atomic_write(self.path, buffer.getvalue(), keep=previous_path(self.path))
        self.last_step = meta["step"]
        if self.on_save is not None:
            self.on_save(meta)
        return meta


def previous_path(path: Path) -> Path:
    """Where the checkpoint before ``path`` is kept."""
    return path.with_name(path.name + ".prev")


def read_checkpoint(path: str | Path) -> tuple[dict[str, Any], bytes]:
    """(metadata, OpenMM checkpoint bytes) of a checkpoint file.

    Raises ValueError if the file is damaged (ZIP CRCs are checked) or not a checkpoint.
    """
    try:
        with zipfile.ZipFile(path) as z:
            return json.loads(z.read("meta.json")), z.read("openmm.chk")
    except (zipfile.BadZipFile, KeyError, json.JSONDecodeError) as err:
        raise ValueError(f"{path}: not a valid checkpoint ({err})") from None


def atomic_write(path: Path, data: bytes, keep: Path | None = None) -> None:
    """Replace ``path`` by ``data`` atomically: temp file, fsync, rename, fsync of the folder.

    With ``keep``, the file being replaced stays available there (a hard link where possible), so
    a valid file exists under ``path`` or ``keep`` at every moment.
    """
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    if keep is not None and path.exists():
        keep.unlink(missing_ok=True)
        try:
            os.link(path, keep)
        except OSError:  # no hard links on this file system
            os.replace(path, keep)
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
