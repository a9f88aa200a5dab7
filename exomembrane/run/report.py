"""The report of a run directory: ``analysis/summary.json`` and plots, assembled from the reports
registered for the run's builder kind.

Every run gets energies, kinetic temperature, box and the number of membranes per frame. Each act
adds a module to :mod:`exomembrane.run.reports` with a function under ``@report(kind, ...)``:
it receives the loaded run (:class:`RunData`) and returns a :class:`Part` (scalars for the
summary, per-frame series with their axis labels, extra plots); ``text=`` gives the lines that
``exomembrane analyze`` prints for its summary key. The modules are found and imported here, so a
new act edits no existing file.

Example
-------
>>> from exomembrane.run.report import analyze
>>> summary = analyze("runs/demo")          # writes runs/demo/analysis/summary.json and PNGs
>>> summary["budding"]["scission_time_tau"]
"""
from __future__ import annotations

import importlib
import json
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import Any

import mdtraj
import numpy as np

from exomembrane import analysis
from exomembrane.analysis.selection import lipid_residues
from exomembrane.model.compartments import Membrane
from exomembrane.run.directory import MANIFEST, SCENARIO, load_compartments, load_thermo, load_trajectory
from exomembrane.run.plots import plot_box, plot_energies, plot_series
from exomembrane.scenario import Scenario, load_scenario

ANALYSIS = "analysis"
SUMMARY = "summary.json"


@dataclass(frozen=True)
class RunData:
    """A run directory loaded for its report: scenario, manifest, thermo table, trajectory (nm, ps)."""

    directory: Path
    scenario: Scenario
    manifest: dict[str, Any]
    thermo: dict[str, np.ndarray]
    traj: mdtraj.Trajectory
    out: Path  # the analysis folder, where plots go

    @cached_property
    def late(self) -> slice:
        """The second half of the frames: where means are taken."""
        return slice(self.traj.n_frames // 2, None)

    @cached_property
    def membranes(self) -> tuple[tuple[Membrane, ...], np.ndarray, np.ndarray]:
        """The run's membranes and, per lipid, its membrane index and leaflet as built (:func:`load_compartments`)."""
        membranes, membrane, leaflet = load_compartments(self.directory)
        lipid = lipid_residues(self.traj.topology)
        return membranes, membrane[lipid], leaflet[lipid]

    @cached_property
    def shared(self) -> dict[str, Any]:
        """Analyses that several reports use, kept by the first that computes one (by name)."""
        return {}

    @cached_property
    def topology(self) -> analysis.Topology | None:
        """Compartments, open membranes, pores and events of the run (None without membranes), computed once."""
        membranes, membrane, leaflet = self.membranes
        if not membranes:
            return None
        return analysis.topology(self.traj, [m.faces for m in membranes], membrane, leaflet)


@dataclass(frozen=True)
class Part:
    """What one report adds: ``summary`` scalars, per-frame ``series`` (n_frames,) with axis
    ``labels``, and ``plots`` it drew itself."""

    summary: dict[str, Any] = field(default_factory=dict)
    series: dict[str, np.ndarray] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    plots: list[Path] = field(default_factory=list)


Report = Callable[[RunData], Part]
#: ``@report(ANY)``: a report for the runs of every builder kind.
ANY = "*"
_REPORTS: dict[str, list[Report]] = {}
_TEXTS: dict[str, Callable[[Any], str]] = {}


def report(*kinds: str, text: tuple[str, Callable[[Any], str]] | None = None) -> Callable[[Report], Report]:
    """Decorator: run the function in the report of every run whose ``builder.kind`` is in ``kinds``.

    ``text``: ``(summary key, function)`` that turns ``summary[key]`` into the lines
    ``exomembrane analyze`` prints.
    """
    def register(fn: Report) -> Report:
        for kind in kinds:
            _REPORTS.setdefault(kind, []).append(fn)
        if text is not None:
            _TEXTS[text[0]] = text[1]
        return fn
    return register


def reports(kind: str) -> list[Report]:
    """The reports registered for a builder kind, then those for every kind (``@report("*")``),
    after importing every module of :mod:`.reports`."""
    _discover()
    return list(_REPORTS.get(kind, [])) + [r for r in _REPORTS.get(ANY, []) if r not in _REPORTS.get(kind, [])]


def describe(summary: Mapping[str, Any]) -> list[str]:
    """The printed account of each summary key that a report gave a ``text`` for."""
    _discover()
    return [fn(summary[key]) for key, fn in _TEXTS.items() if key in summary]


@cache
def _discover() -> None:
    from exomembrane.run import reports as package

    for info in pkgutil.iter_modules(package.__path__):
        importlib.import_module(f"{package.__name__}.{info.name}")


def load(directory: str | Path) -> RunData:
    """Load a run directory for its report (creates its ``analysis`` folder)."""
    directory = Path(directory)
    if not (directory / MANIFEST).is_file():
        raise FileNotFoundError(f"{directory}: not a run directory (no {MANIFEST})")
    out = directory / ANALYSIS
    data = RunData(directory, load_scenario(directory / SCENARIO), json.loads((directory / MANIFEST).read_text()),
                   load_thermo(directory), load_trajectory(directory), out)
    out.mkdir(exist_ok=True)
    return data


def analyze(directory: str | Path, movie: bool = False) -> dict[str, Any]:
    """Analyse a run directory; writes ``analysis/summary.json`` and PNG plots there.

    Always: energies and kinetic temperature, box, number of membranes (per frame); then the
    reports registered for the builder kind (e.g. flat bilayers: lipid order, area per lipid,
    bending rigidity (kT) and lateral diffusion (sigma^2/tau); vesicles: radius and asphericity;
    MVB membranes: bud height and direction, neck, scission, ILV, cargo enrichment and a picture
    of the membrane cut open). Estimates that need more data than the run has are null, with the
    reason.

    ``movie``: also write the run cut open as ``section.gif`` (:func:`exomembrane.run.movie.movie`),
    with the topology computed once for both.

    Returns
    -------
    The summary: scalars (means over the second half of the frames), per-frame ``series`` and
    the ``plots`` written.
    """
    run = load(directory)
    traj, kind = run.traj, run.scenario.builder.kind
    membranes = analysis.count_membranes(traj)
    series: dict[str, np.ndarray] = {"time": traj.time, "membranes": membranes}
    labels = {"membranes": "separate membranes"}
    summary: dict[str, Any] = {
        "run": str(run.directory), "scenario": run.scenario.name, "builder": kind, "n_beads": traj.n_atoms,
        "steps_done": run.manifest["steps_done"], "frames": traj.n_frames,
        "time_tau": [float(traj.time[0]), float(traj.time[-1])],
        "platform": run.manifest["segments"][-1]["platform"],
        "thermo_second_half_mean": {k: float(v[len(v) // 2:].mean()) for k, v in run.thermo.items()
                                    if k not in ("step", "time")},
        "membranes": {"first": int(membranes[0]), "last": int(membranes[-1]),
                      "changes_at_tau": traj.time[1:][np.diff(membranes) != 0].tolist()},
    }
    plots: list[Path] = []
    for fn in reports(kind):
        part = fn(run)
        summary.update(part.summary)
        series.update(part.series)
        labels.update(part.labels)
        plots += part.plots
    plots += [plot_energies(run.thermo, run.scenario.run.kT, run.out), plot_box(run.thermo, run.out)]
    plots += [plot_series(traj.time, series[key], labels[key], run.out, key, integer=key == "membranes")
              for key in series if key != "time"]
    if movie:
        from exomembrane.run.movie import movie as write_movie

        plots.append(write_movie(run.directory, topo=run.topology))
    summary["plots"] = [p.name for p in plots]
    summary["series"] = {k: [x if np.isfinite(x) else None for x in np.asarray(v, float).tolist()]
                         for k, v in series.items()}
    (run.out / SUMMARY).write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def mean_std(values: np.ndarray) -> dict[str, float]:
    """``{"mean", "std"}`` of values."""
    return {"mean": float(np.mean(values)), "std": float(np.std(values))}


def estimate(function: Callable[[mdtraj.Trajectory], tuple[float, float]], traj: mdtraj.Trajectory) -> dict[str, Any]:
    """``{"value", "err"}`` of an estimator, or ``{"value": None, "reason"}`` if the data are too few."""
    try:
        value, err = function(traj)
    except ValueError as why:
        return {"value": None, "reason": str(why)}
    return {"value": value, "err": err}


def finite(x: float) -> float | None:
    """``x`` as a float, or None (JSON null) if not finite."""
    return float(x) if np.isfinite(x) else None
