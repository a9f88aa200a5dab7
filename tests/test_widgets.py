"""Live runs without a browser: runner states, Context ownership, edits between chunks, files on stop."""
from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mdtraj
import numpy as np
import pytest

from exomembrane import analysis, cli
from exomembrane.engine.health import SimulationError
from exomembrane.engine.simulation import KB
from exomembrane.notebook.live import LiveRun, sparkline
from exomembrane.run import CHECKPOINT, Run, load_thermo, load_trajectory
from exomembrane.run.reporters import read_checkpoint
from exomembrane.run.runner import Runner
from exomembrane.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]
CHUNK = 50


class RecordingContext:
    """Stands in for an OpenMM Context: forwards every call, recording the calling thread and step."""

    def __init__(self, context: Any) -> None:
        self._context = context
        self.calls: list[tuple[int, str, int]] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._context, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((threading.get_ident(), name, self._context.getStepCount()))
            return attr(*args, **kwargs)
        return call


@pytest.fixture
def run(tmp_path: Path) -> Iterator[Run]:
    """A small tension-free bilayer (294 beads) on the CPU platform, reports every 100 steps."""
    scenario = load_scenario(ROOT / "systems" / "flat_bilayer.yaml",
                             {"builder.size": 8.0, "run.platform": "CPU", "run.seed": 7, "run.report.trajectory": 100,
                              "run.report.thermo": 100, "run.report.checkpoint": 1000})
    run = Run.create(scenario, tmp_path / "run")
    yield run
    run.close()  # no-op when the test closed it


def wait_for(condition: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def test_runner_owns_the_context_and_goes_through_its_states(run: Run) -> None:
    samples = []
    states = []
    runner = Runner(run, chunk=CHUNK, every=0.0, on_sample=samples.append, on_state=states.append)
    context = run.simulation.context = RecordingContext(run.simulation.context)
    assert runner.state == "ready"
    runner.start(200_000)
    assert runner.state == "running" and runner.thread is not None
    runner.pause()
    wait_for(lambda: runner.state == "paused")
    held = samples[-1].step
    time.sleep(0.3)
    assert samples[-1].step == held and held % CHUNK == 0
    in_thread = runner.submit(lambda sim: threading.get_ident()).result(timeout=10)  # applied while paused
    assert in_thread == runner.thread.ident
    runner.resume()
    wait_for(lambda: samples[-1].step > held)
    runner.stop()
    assert runner.state == "stopped" and states[:3] == ["running", "paused", "running"] and states[-1] == "stopped"
    owners = [ident for ident, _, _ in context.calls]
    first, last = owners.index(runner.thread.ident), len(owners) - owners[::-1].index(runner.thread.ident)
    assert set(owners[first:last]) == {runner.thread.ident}  # nobody else while the runner ran
    assert not runner.thread.is_alive()
    assert runner.submit(lambda sim: threading.get_ident()).result() == threading.get_ident()  # no runner: inline
    assert all(s.positions.shape == (294, 3) for s in samples)


def test_parameter_changes_apply_between_chunks(run: Run) -> None:
    samples = []
    runner = Runner(run, chunk=CHUNK, every=0.0, on_sample=samples.append)
    context = run.simulation.context = RecordingContext(run.simulation.context)
    with pytest.raises(ValueError, match="not a parameter"):
        runner.set_parameter("eps_XYZ", 1.0)
    with pytest.raises(ValueError, match="outside"):
        runner.set_parameter("w_c", 1.7)  # beyond the pair cutoff made for w_c = 1.6
    runner.start(200_000)
    wait_for(lambda: len(samples) > 2)
    runner.set_parameter("w_c", 1.2).result(timeout=10)
    runner.set_parameter("eps_T_T", 0.8).result(timeout=10)
    runner.set_parameter("kT", 1.3).result(timeout=10)
    wait_for(lambda: samples[-1].parameters["kT"] == pytest.approx(1.3))
    runner.stop()
    assert all(step % CHUNK == 0 for _, name, step in context.calls if name == "setParameter")
    last = samples[-1].parameters
    assert last["w_c"] == 1.2 and last["eps_T_T"] == 0.8 and last["kT"] == pytest.approx(1.3)
    assert samples[0].parameters["w_c"] == 1.6
    changed = next(s for s in samples if s.parameters["w_c"] == 1.2)
    assert changed.step % CHUNK == 0
    assert last["MembraneMonteCarloTemperature"] == pytest.approx(1.3 / KB)  # set_kT moves the barostat too


def test_stop_leaves_files_that_resume_and_analyze_accept(run: Run) -> None:
    runner = Runner(run, chunk=CHUNK)
    runner.start(1_000_000)
    wait_for(lambda: run.frames >= 4)
    runner.stop()
    directory = run.directory
    meta, _ = read_checkpoint(directory / CHECKPOINT)
    step = meta["step"]
    assert runner.state == "stopped" and 0 < step < 1_000_000 and step % CHUNK == 0
    run.close()
    traj = load_trajectory(directory)
    assert traj.n_frames == meta["outputs"]["trajectory.xtc"]["records"] and traj.n_frames >= 4
    assert load_thermo(directory)["step"][-1] <= step
    assert cli.main(["analyze", str(directory), "--quiet"]) == 0
    assert cli.main(["resume", str(directory), "--steps", str(step + 200), "--quiet"]) == 0
    assert read_checkpoint(directory / CHECKPOINT)[0]["step"] == step + 200


def test_a_failing_run_reports_its_error(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def broken(steps: int) -> None:
        calls.append(steps)
        if len(calls) == 3:
            raise SimulationError("step 150: the simulation blew up")
    monkeypatch.setattr(run.simulation, "step", broken)
    live = LiveRun(run, chunk=CHUNK, every=0.0)
    live.start(10_000)
    with pytest.raises(SimulationError, match="blew up"):
        live.wait(timeout=60)
    assert live.runner.state == "failed"
    assert "blew up" in live.status.value and live.stop_button.disabled


def test_live_run_updates_view_progress_plots(run: Run) -> None:
    live = LiveRun(run, chunk=CHUNK, every=0.0, history=5, observables={"membranes": analysis.count_membranes})
    assert set(live.sliders) == {"kT", "tension", "w_c", "eps_T_T"} and live.sliders["w_c"].value == 1.6
    assert live.sliders["tension"].value == pytest.approx(live.run.scenario.run.tension)
    assert live.sliders["w_c"].max == pytest.approx(1.6)
    assert live.panel.children[0] is live.view
    live.start(600)
    live.wait(timeout=120)
    assert live.runner.state == "finished" and live.progress.value == live.progress.max == 600
    n = len(live.series["time"])
    assert n >= 12 and len(live.series["potential"]) == len(live.series["area"]) == n
    assert live.series["membranes"][-1] == 1 and len(live.series["membranes_time"]) >= 1
    assert 1 < live.frames.n_frames <= 5 and live.view.max_frame == live.view.frame == live.frames.n_frames - 1
    np.testing.assert_allclose(live.frames.frames[-1], run.simulation.context.getState(
        getPositions=True, enforcePeriodicBox=True).getPositions(asNumpy=True)._value, rtol=1e-6)
    assert live.plots.value.count("<polyline") == 4 and "finished" in live.status.value
    assert live.pause_button.disabled and live.stop_button.disabled
    live.sliders["w_c"].value = 1.4  # no runner thread: applied at once
    assert run.simulation.context.getParameter("w_c") == 1.4
    assert "exomembrane resume" in live.status.value


def test_buttons_pause_resume_and_stop_while_a_cell_awaits(run: Run) -> None:
    live = LiveRun(run, chunk=CHUNK, every=0.0)
    live.start(1_000_000)

    async def cell_and_clicks() -> str:
        waiting = asyncio.ensure_future(live.wait_async())
        live.pause_button.click()
        while live.runner.state != "paused" or live.pause_button.description != "Resume":
            await asyncio.sleep(0.01)
        live.pause_button.click()
        while live.runner.state != "running":
            await asyncio.sleep(0.01)
        assert not waiting.done()
        live.stop_button.click()
        return await asyncio.wait_for(waiting, 60)
    assert asyncio.run(cell_and_clicks()) == "stopped"


def test_sparkline_draws_the_series() -> None:
    svg = sparkline([0, 1, 2], [3.0, np.nan, 5.0], "energy")
    assert "energy: <b>5</b>" in svg and svg.count(",") == 2  # two finite points
    assert "–" in sparkline([], [], "empty")


def test_observables_get_one_frame_trajectories(run: Run) -> None:
    seen = []
    live = LiveRun(run, chunk=CHUNK, every=0.0, observables={"n": lambda t: seen.append(t) or t.n_atoms})
    live.start(100)
    live.wait(timeout=60)
    assert seen and all(isinstance(t, mdtraj.Trajectory) and t.n_frames == 1 for t in seen)
    assert live.series["n"][-1] == 294
