"""Live runs in Jupyter: a background thread advances a run while widgets show and steer it.

:class:`Runner` is the thread that owns the OpenMM Context of a :class:`~exomembrane.run.Run`:
it advances the run in chunks, applies queued edits (parameter changes) between chunks, pauses,
resumes and stops at a checkpoint. :class:`LiveRun` puts an nglview view, a progress bar, live
plots, pause/resume/stop buttons and parameter sliders around a Runner; a separate display
thread feeds the widgets, so the runner only pays for one ``getState`` every ``every`` seconds.

Example
-------
>>> from exomembrane.scenario import load_scenario
>>> from exomembrane.run import Run
>>> from exomembrane.notebook.live import LiveRun
>>> live = LiveRun(Run.create(load_scenario("systems/vesicle.yaml"), "runs/live"))
>>> live.start(20_000)   # returns at once
>>> live                 # the panel: view, progress, plots, buttons, sliders
"""
from __future__ import annotations

import asyncio
import html
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

import ipywidgets
import mdtraj
import numpy as np

from exomembrane.notebook.view import BeadTrajectory, load, show
from exomembrane.run.directory import TOPOLOGY, Run
from exomembrane.run.runner import ACTIVE, Runner, Sample, State, current_parameters

HISTORY_BYTES = 200e6  # memory for the frames a live view keeps
#: Observable: one-frame mdtraj.Trajectory (nm) -> a number (or a one-element array).
Observable = Callable[[mdtraj.Trajectory], Any]


def sparkline(x: list[float], y: list[float], title: str, width: int = 230, height: int = 70,
              color: str = "#4C72B0", max_points: int = 400) -> str:
    """HTML: ``title``, the last value and an SVG line of ``y`` against ``x``."""
    x_arr, y_arr = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x_arr) & np.isfinite(y_arr)
    x_arr, y_arr = x_arr[ok], y_arr[ok]
    last = f"{y_arr[-1]:.4g}" if y_arr.size else "–"
    points = ""
    if y_arr.size:
        k = max(1, -(-y_arr.size // max_points))
        x_arr, y_arr = x_arr[::k], y_arr[::k]
        span_x = (x_arr.max() - x_arr.min()) or 1.0
        span_y = (y_arr.max() - y_arr.min()) or 1.0
        px = 2 + (x_arr - x_arr.min()) / span_x * (width - 4)
        py = height - 2 - (y_arr - y_arr.min()) / span_y * (height - 4)
        points = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(px, py))
    return (f'<div style="margin:0 12px 6px 0"><div style="font-size:11px">{html.escape(title)}: <b>{last}</b></div>'
            f'<svg width="{width}" height="{height}" style="background:#f7f7f7">'
            f'<polyline fill="none" stroke="{color}" stroke-width="1.5" points="{points}"/></svg></div>')


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "–"
    minutes, sec = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{sec:02d}s" if minutes else f"{sec}s"


class LiveRun:
    """A run advancing in the background, with a live view, progress, plots and controls.

    Parameters
    ----------
    run
        An open :class:`~exomembrane.run.Run`; its files are written as in a headless run.
    every
        Seconds between refreshes of the view and plots (one ``getState`` each).
    chunk
        Steps between chances to apply slider changes, pause or stop (see :class:`Runner`).
    history
        Recent frames kept for the view's player (default: up to 100, within about 200 MB).
    observables
        Extra live plots: name -> function of a one-frame :class:`mdtraj.Trajectory` (e.g.
        :func:`exomembrane.analysis.count_membranes`), evaluated at each refresh in the display
        thread.
    **view_options
        Passed to :func:`exomembrane.notebook.view.show` (``cutaway``, ``scale``, ...).

    Attributes
    ----------
    runner
        The :class:`Runner` (state, pause/resume/stop, set_parameter).
    view
        The :class:`nglview.NGLWidget`; ``frames`` its :class:`~exomembrane.notebook.view.BeadTrajectory`.
    sliders
        Parameter name -> :class:`ipywidgets.FloatSlider` (``kT``, ``w_c``, pair-table depths such as ``eps_T_T``).
    panel
        The :class:`ipywidgets.VBox` shown when the object is displayed.
    series
        Plotted values: ``time`` (tau), ``potential`` (eps/bead), ``kT`` (eps), ``area`` (sigma^2),
        and ``<observable>`` with ``<observable>_time``.
    busy
        Wall seconds the display thread spent updating the view, plots and observables (it runs
        beside the runner; with a GPU it competes only for Python's GIL).
    """

    def __init__(self, run: Run, *, every: float = 1.0, chunk: int | None = None, history: int | None = None,
                 observables: Mapping[str, Observable] | None = None, **view_options: Any) -> None:
        self.run = run
        self.observables = dict(observables or {})
        self.runner = Runner(run, chunk=chunk, every=every, on_sample=self._on_sample, on_state=self._on_state)
        self.frames: BeadTrajectory = load(run.simulation)
        n_beads = len(self.frames.beads.names)
        self.frames.history = history or int(np.clip(HISTORY_BYTES // (12 * n_beads), 1, 100))
        self.view = show(self.frames, **view_options)
        self.view.observe(self._view_ready, "n_components")
        self._topology = mdtraj.load_topology(str(run.directory / TOPOLOGY)) if self.observables else None
        self.series: dict[str, list[float]] = {"time": [], "potential": [], "kT": [], "area": []}
        for name in self.observables:
            self.series[name], self.series[f"{name}_time"] = [], []
        self._dt = run.scenario.run.dt
        self._speed: deque[tuple[float, int]] = deque(maxlen=10)
        self._inbox: list[Sample] = []
        self._ui_cond = threading.Condition()
        self._ui: threading.Thread | None = None
        self.busy = 0.0
        self._last: Sample | None = None

        current = self.runner.submit(lambda sim: {**sim.context.getParameters(), **current_parameters(sim)}).result()
        self.sliders = {}
        for name, (low, high) in self.runner.limits.items():
            low, high = self.runner.limits[name] = (min(low, current[name]), max(high, current[name]))
            slider = ipywidgets.FloatSlider(value=float(current[name]), min=low, max=high, step=0.01, description=name,
                                            continuous_update=False, readout_format=".2f",
                                            layout=ipywidgets.Layout(width="260px"))
            slider.observe(lambda change, name=name: self.runner.set_parameter(name, change["new"]), "value")
            self.sliders[name] = slider
        self.pause_button = ipywidgets.Button(description="Pause", icon="pause",
                                              layout=ipywidgets.Layout(width="110px"))
        self.stop_button = ipywidgets.Button(description="Stop", icon="stop", button_style="danger",
                                             layout=ipywidgets.Layout(width="90px"))
        self.pause_button.on_click(lambda _: self._toggle_pause())
        self.stop_button.on_click(lambda _: self.runner.stop(wait=False))
        self.progress = ipywidgets.IntProgress(value=run.step, min=0, max=max(run.target_steps, 1),
                                               layout=ipywidgets.Layout(width="260px"))
        self.status = ipywidgets.HTML()
        self.plots = ipywidgets.HTML()
        self.panel = ipywidgets.VBox([
            self.view, self.view.legend,
            ipywidgets.HBox([self.pause_button, self.stop_button, self.progress]), self.status,
            ipywidgets.HBox(list(self.sliders.values()), layout=ipywidgets.Layout(flex_flow="row wrap")),
            self.plots])
        self._show_state()

    def start(self, steps: int | None = None) -> None:
        """Run ``steps`` more steps (default: to the run's target) in the background; returns at once."""
        self.runner.start(steps)
        self.progress.max = max(self.run.target_steps, 1)
        self._speed.clear()
        self._ui = threading.Thread(target=self._ui_loop, name="exomembrane-display", daemon=True)
        self._ui.start()

    def wait(self, timeout: float | None = None) -> State:
        """Block until the run ends (or ``timeout`` s) and the widgets show its last state.

        Re-raises a run error. The kernel handles no widget messages meanwhile: in a notebook use
        ``await live.wait_async()`` to keep the sliders and buttons working.
        """
        deadline = math.inf if timeout is None else time.monotonic() + timeout
        for thread in (self.runner.thread, self._ui):
            if thread is not None:
                thread.join(None if timeout is None else max(0.0, deadline - time.monotonic()))
        return self.runner.wait(0)

    async def wait_async(self, timeout: float | None = None, poll: float = 0.2) -> State:
        """:meth:`wait` for ``await`` in a notebook cell: later cells wait for the run, while the
        kernel (ipykernel >= 7) keeps handling the widgets (sliders, Pause, Stop)."""
        deadline = math.inf if timeout is None else time.monotonic() + timeout
        threads = [t for t in (self.runner.thread, self._ui) if t is not None]
        while any(t.is_alive() for t in threads) and time.monotonic() < deadline:
            await asyncio.sleep(poll)
        return self.wait(0)

    def stop(self) -> State:
        """Stop at the end of the current chunk with a checkpoint; returns when the files are written."""
        self.runner.stop(wait=False)
        return self.wait()

    def close(self) -> None:
        """Stop if running, then close the run's files (``Run.close``)."""
        if self.runner.state in ACTIVE:
            self.stop()
        self.run.close()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.panel._repr_mimebundle_(**kwargs)

    def _toggle_pause(self) -> None:
        if not self.runner.pause_requested:
            self.runner.pause()
        else:
            self.runner.resume()
            self._speed.clear()
        self._show_state()

    def _view_ready(self, change: dict[str, Any]) -> None:
        # Coordinates sent before a browser has loaded the structure are lost: resend the newest.
        if change["new"]:
            self.view.set_coordinates({0: self.frames.get_coordinates(-1)})

    def _on_sample(self, sample: Sample) -> None:
        with self._ui_cond:
            self._inbox.append(sample)
            self._ui_cond.notify()

    def _on_state(self, state: State) -> None:
        with self._ui_cond:
            self._ui_cond.notify()

    def _ui_loop(self) -> None:
        while True:
            with self._ui_cond:
                while not self._inbox and self.runner.state in ACTIVE:
                    self._ui_cond.wait(1.0)
                batch, self._inbox = self._inbox, []
                done = self.runner.state not in ACTIVE
            t0 = time.perf_counter()
            if batch:
                self._show(batch)
            self._show_state()
            self.busy += time.perf_counter() - t0
            if done:
                return

    def _show(self, batch: list[Sample]) -> None:
        n_beads = len(self.frames.beads.names)
        for s in batch:
            self.series["time"].append(s.time)
            self.series["potential"].append(s.potential / n_beads)
            self.series["kT"].append(s.kT)
            self.series["area"].append(float(s.box[0] * s.box[1]))
            self._speed.append((s.wall, s.step))
        last = batch[-1]
        if self.observables:
            frame = mdtraj.Trajectory(last.positions[None].astype(np.float32), self._topology,
                                      unitcell_lengths=last.box[None], unitcell_angles=np.full((1, 3), 90.0))
            for name, function in self.observables.items():
                self.series[name].append(float(np.ravel(function(frame))[0]))
                self.series[f"{name}_time"].append(last.time)
        following = self.view.frame >= self.view.max_frame
        self.frames.append(last.positions.astype(np.float32), last.box)
        newest = self.frames.n_frames - 1
        self.view.max_frame = newest
        if following and self.view.frame != newest:
            self.view.frame = newest  # nglview sends the frame's coordinates
        elif following:
            self.view.set_coordinates({0: self.frames.get_coordinates(newest)})
        self.progress.value = min(last.step, self.progress.max)
        self._last = last
        t = self.series["time"]
        plots = [sparkline(t, self.series["potential"], "potential energy (eps/bead)"),
                 sparkline(t, self.series["kT"], "kinetic kT (eps)", color="#C44E52"),
                 sparkline(t, self.series["area"], "box area xy (sigma^2)", color="#55A868")]
        plots += [sparkline(self.series[f"{name}_time"], self.series[name], name, color="#8172B3")
                  for name in self.observables]
        self.plots.value = f'<div style="display:flex;flex-wrap:wrap">{"".join(plots)}</div>'

    def _show_state(self) -> None:
        state = self.runner.state
        active = state in ACTIVE
        self.pause_button.disabled = self.stop_button.disabled = not active
        paused = state == "paused" or (active and self.runner.pause_requested)
        self.pause_button.description, self.pause_button.icon = ("Resume", "play") if paused else ("Pause", "pause")
        step = self._last.step if self._last else self.progress.value
        text = f"<b>{state}</b> · step {step:,} / {self.progress.max:,}"
        if state == "running" and len(self._speed) > 1:
            (w0, s0), (w1, s1) = self._speed[0], self._speed[-1]
            speed = (s1 - s0) / (w1 - w0) if w1 > w0 else math.nan
            ns_day = speed * self._dt * 86400.0 / 1000.0
            eta = (self.progress.max - s1) / speed if speed > 0 else math.inf
            text += f" · {speed:,.0f} steps/s · {ns_day:.3g} ns/day · ETA {_duration(eta)}"
        elif state in ("stopped", "finished"):
            d = html.escape(str(self.run.directory))
            text += (f" · checkpoint written: <code>exomembrane resume {d}</code> continues it, "
                     f"<code>exomembrane analyze {d}</code> analyses it")
        elif state == "failed":
            text += f' · <span style="color:#C44E52">{html.escape(str(self.runner.error))}</span>'
        self.status.value = f'<span style="font-size:12px">{text}</span>'
