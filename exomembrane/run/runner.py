"""The headless runner: a background thread that alone owns a run's OpenMM Context.

:class:`Runner` advances a :class:`~exomembrane.run.Run` in chunks, applies queued edits
(parameter changes) between chunks, pauses, resumes and stops at a checkpoint, and hands
:class:`Sample` s of the state to a callback. The notebook panel
(:class:`exomembrane.notebook.live.LiveRun`) is built on it; scripts can use it alone.

Example
-------
>>> from exomembrane.run import Run
>>> from exomembrane.run.runner import Runner
>>> runner = Runner(Run.open("runs/v"), on_sample=lambda s: print(s.step, s.kT))
>>> runner.start(5_000); runner.wait()
"""
from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import openmm as mm

from exomembrane.engine.simulation import KB, set_kT, set_tension, tension_of
from exomembrane.engine.system import w_c_limit
from exomembrane.model.filaments import LIMITS as FILAMENT_LIMITS
from exomembrane.model.tethers import ZIPPER
from exomembrane.run.directory import Run

State = Literal["ready", "running", "paused", "stopped", "finished", "failed"]
ACTIVE = ("running", "paused")


@dataclass(frozen=True)
class Sample:
    """The state of a run at the end of a chunk, as the runner thread read it.

    Attributes
    ----------
    step, time
        Step count and simulated time (tau).
    wall
        ``time.perf_counter()`` when taken (s).
    potential, kinetic
        Energies (eps).
    kT
        Kinetic temperature 2 K / (3 N) (eps).
    box
        (3,) box lengths (sigma).
    positions
        (n_beads, 3) positions (sigma), molecules whole inside the box.
    parameters
        Global parameters of the Context at this step, plus ``"kT"``: the thermostat's kT (eps).
    """

    step: int
    time: float
    wall: float
    potential: float
    kinetic: float
    kT: float
    box: np.ndarray
    positions: np.ndarray
    parameters: dict[str, float]


def thermostat_kT(simulation: Any) -> float:
    """The thermostat's kT (eps) of ``simulation``'s integrator; NaN without a thermostat."""
    integ = simulation.integrator
    if isinstance(integ, mm.CustomIntegrator):
        return integ.getGlobalVariableByName("kT")
    if hasattr(integ, "getTemperature"):
        return integ.getTemperature()._value * KB
    return math.nan


def current_parameters(simulation: Any) -> dict[str, float]:
    """``kT`` (eps) and, with a membrane barostat, ``tension`` (eps/sigma^2) of ``simulation`` now."""
    out = {"kT": thermostat_kT(simulation)}
    tension = tension_of(simulation)
    if tension is not None:
        out["tension"] = tension
    return out


def steerable(run: Run) -> dict[str, tuple[float, float]]:
    """Parameters a live run can change: name -> (min, max).

    ``kT`` (eps; not for NVE), ``tension`` (eps/sigma^2; with a membrane barostat), ``zipper``
    (with tethers), the filament geometry, binding and ``disassembly`` (with filaments), ``w_c``
    (sigma, up to the largest the pair cutoff allows) and each pair-table
    depth (``eps_T_T``, ..., eps). Reads only the System and integrator, not the
    Context. A protocol that ramps a parameter inside the integrator overrides changes to it.
    """
    sim = run.simulation
    out = {"kT": (0.3, 2.0)} if math.isfinite(thermostat_kT(sim)) else {}
    tension = tension_of(sim)
    if tension is not None:
        out["tension"] = (0.0, max(5.0, 2 * tension))
    if ZIPPER in sim.structure.parameters:
        out[ZIPPER] = (0.0, 1.0)
    out.update({name: FILAMENT_LIMITS[name] for name in sim.structure.parameters if name in FILAMENT_LIMITS})
    for name, default in sim.structure.forcefield.parameters(set(sim.structure.types)).items():
        if name == "w_c":
            out[name] = (0.5, round(w_c_limit(sim.structure, sim.pair_cutoff), 6))
        else:  # a pair-table depth (eps)
            out[name] = (0.0, max(2.0, 2 * default))
    return out


class Runner:
    """Advance a :class:`~exomembrane.run.Run` in a background thread that alone owns its Context.

    Parameters
    ----------
    run
        An open run (from ``Run.create`` or ``Run.open``).
    chunk
        Steps between chances to apply edits, pause or stop (default: the run's thermo interval).
    every
        Seconds between :class:`Sample` s passed to ``on_sample`` (0: after every chunk).
    on_sample
        Called in the runner thread with each :class:`Sample`; keep it short (hand it over).
    on_state
        Called with the new :attr:`state` on each change, from the thread that changed it.

    Calls into the Context from other threads go through :meth:`submit`: queued while the
    thread runs, applied between chunks; run at once when no thread runs.

    ``busy`` counts the wall seconds the runner thread spent between chunks on this layer's own
    work (edits, samples, ``on_sample``; not time held paused): the live path's cost to the run.
    """

    def __init__(self, run: Run, *, chunk: int | None = None, every: float = 1.0,
                 on_sample: Callable[[Sample], None] | None = None,
                 on_state: Callable[[State], None] | None = None) -> None:
        self.run = run
        self.chunk = chunk
        self.every = every
        self.on_sample = on_sample
        self.on_state = on_state
        self.state: State = "ready"
        self.error: BaseException | None = None
        self.thread: threading.Thread | None = None
        self.limits = steerable(run)
        self._cond = threading.Condition()
        self._queue: deque[tuple[Callable[[Any], Any], Future]] = deque()
        self._paused = False
        self._stopping = False
        self._last_sample = -math.inf
        self.busy = 0.0

    def start(self, steps: int | None = None) -> None:
        """Run ``steps`` more steps (default: up to the run's target) in the background; returns at once."""
        with self._cond:
            if self.state in ACTIVE:
                raise RuntimeError(f"the run is already {self.state}")
            if steps is not None:
                self.run.target_steps = self.run.step + int(steps)
            self._paused = self._stopping = False
            self.error = None
            self.thread = threading.Thread(target=self._main, name="exomembrane-runner", daemon=True)
            self._set_state("running")
        self.thread.start()

    @property
    def pause_requested(self) -> bool:
        """True from :meth:`pause` until :meth:`resume`."""
        return self._paused

    def pause(self) -> None:
        """Hold the run after its current chunk (edits still apply while paused)."""
        with self._cond:
            self._paused = True

    def resume(self) -> None:
        """Continue a paused run."""
        with self._cond:
            self._paused = False
            self._cond.notify_all()

    def stop(self, wait: bool = True) -> None:
        """End the run after its current chunk, with a checkpoint at that step; ``wait`` for it."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self.run.stop()
        if wait:
            self.wait()

    def wait(self, timeout: float | None = None) -> State:
        """Block until the runner thread ends (or ``timeout`` s); re-raises its error."""
        if self.thread is not None:
            self.thread.join(timeout)
        if self.error is not None:
            raise self.error
        return self.state

    def submit(self, fn: Callable[[Any], Any]) -> Future:
        """Call ``fn(simulation)`` in the thread that owns the Context; returns its Future.

        While the runner runs, ``fn`` waits for the end of the current chunk.
        """
        future: Future = Future()
        with self._cond:
            if self.state in ACTIVE:
                self._queue.append((fn, future))
                self._cond.notify_all()
                return future
            _call(fn, future, self.run.simulation)  # no runner thread: the caller may use the Context
        return future

    def set_parameter(self, name: str, value: float) -> Future:
        """Set ``kT`` (eps, thermostat and barostat) or a global parameter (``w_c``, a pair-table
        depth such as ``eps_T_T``) between chunks; no rebuild. Raises ValueError for unknown names or
        values out of range."""
        if name not in self.limits:
            raise ValueError(f"{name}: not a parameter of this run; allowed: {sorted(self.limits)}")
        low, high = self.limits[name]
        if not low <= value <= high:
            raise ValueError(f"{name}: {value!r} is outside [{low}, {high}]")
        if name == "kT":
            return self.submit(lambda sim: set_kT(sim, value))
        if name == "tension":
            return self.submit(lambda sim: set_tension(sim, value))
        return self.submit(lambda sim: sim.context.setParameter(name, value))

    def _set_state(self, state: State) -> None:
        self.state = state
        if self.on_state is not None:
            self.on_state(state)

    def _main(self) -> None:
        end: State = "finished"
        try:
            self._timed(self._sample, force=True)
            if not self._stopping:
                self.run.advance(self.run.remaining, callback=self._between_chunks, chunk=self.chunk)
            self._timed(self._sample, force=True)
            end = "stopped" if self._stopping else "finished"
        except BaseException as err:  # noqa: BLE001 - reported through .error and wait()
            self.error, end = err, "failed"
        with self._cond:  # drain edits queued meanwhile, still as the owner, then hand the Context back
            while self._queue:
                _call(*self._queue.popleft(), self.run.simulation)
            self._set_state(end)

    def _apply_pending(self) -> None:
        with self._cond:
            items = list(self._queue)
            self._queue.clear()
        for fn, future in items:
            _call(fn, future, self.run.simulation)

    def _timed(self, fn: Callable[..., None], *args: Any, **kwargs: Any) -> None:
        t0 = time.perf_counter()
        fn(*args, **kwargs)
        self.busy += time.perf_counter() - t0

    def _between_chunks(self, run: Run) -> None:
        self._timed(self._apply_pending)
        self._timed(self._sample, force=self._paused or self._stopping)
        while self._hold():
            self._apply_pending()
            self._sample(force=True)
        if self._stopping:
            run.stop()  # again: Run.advance clears a stop that came before it started

    def _hold(self) -> bool:
        """While paused, wait for resume, stop or an edit; True if still paused (an edit arrived)."""
        with self._cond:
            if self._paused and not self._stopping and self.state != "paused":
                self._set_state("paused")
            while self._paused and not self._stopping and not self._queue:
                self._cond.wait()
            holding = self._paused and not self._stopping
            if not holding and self.state == "paused":
                self._set_state("running")
            return holding

    def _sample(self, force: bool = False) -> None:
        now = time.perf_counter()
        if self.on_sample is None or (not force and now - self._last_sample < self.every):
            return
        self._last_sample = now
        sim = self.run.simulation
        state = sim.context.getState(getPositions=True, getEnergy=True, enforcePeriodicBox=True)
        kinetic = state.getKineticEnergy()._value
        params = {k: float(v) for k, v in sim.context.getParameters().items()}
        params.update(current_parameters(sim))
        self.on_sample(Sample(
            step=sim.currentStep, time=state.getTime()._value, wall=now, potential=state.getPotentialEnergy()._value,
            kinetic=kinetic, kT=2.0 * kinetic / (3 * sim.system.getNumParticles()),
            box=np.diagonal(state.getPeriodicBoxVectors(asNumpy=True)._value).copy(),
            positions=state.getPositions(asNumpy=True)._value, parameters=params))


def _call(fn: Callable[[Any], Any], future: Future, simulation: Any) -> None:
    try:
        future.set_result(fn(simulation))
    except BaseException as err:  # noqa: BLE001 - delivered through the Future
        future.set_exception(err)
