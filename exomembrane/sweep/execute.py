"""Parameter sweeps and seed ensembles of a scenario, one run directory per point and seed, run as
Dask tasks, analysed, and collected into one table and plots.

A sweep file (YAML; ``systems/sweeps/*.yaml`` are examples):

.. code-block:: yaml

    name: tension_scan
    scenario: flat_bilayer              # shipped name, or a path relative to this file
    set: {run.steps: 50000}             # --set-style overrides for every point
    grid: {run.tension: [0.0, 0.5]}     # every combination of these values ...
    points: [{run.kT: 1.0}]             # ... and/or these points
    seeds: 3                            # run.seed 1, 2, 3 per point (or a list of seeds)
    observables: [area_per_lipid_sigma2] # plotted against x, mean +- standard error over seeds
    x: run.tension                      # default: the first swept key
    batch: 1                            # seeds of a point per OpenMM Context (exomembrane.run.batch)
    cluster: {kind: local}              # see exomembrane.sweep.cluster

The sweep directory holds ``sweep.yaml`` (the resolved file), one run directory per point and
seed (``<point>/seed-<s>/``, each with ``result.json`` once done), ``results.csv`` and
``results.parquet`` (one row per run: swept values, seed, status, error, directory and the
scalars of :func:`exomembrane.run.report.analyze`, nested keys joined by dots) and ``plots/``.

Faults: a task whose worker dies is run again by Dask and resumes from the run's last
checkpoint; a run that blows up or is misconfigured is recorded as ``failed`` with its error;
:func:`run_sweep` with ``resume=True`` (``exomembrane sweep --resume DIR``) runs only what has
no ``result.json`` yet; with ``steps`` (``--resume DIR --steps N``) it also carries every run on to
``N`` steps from its last checkpoint and analyses it again.

Example
-------
>>> from exomembrane.sweep import run_sweep
>>> table = run_sweep("systems/sweeps/tension_scan.yaml", "runs/tension_scan")   # doctest: +SKIP
>>> table.groupby("run.tension")["area_per_lipid_sigma2.mean"].mean()             # doctest: +SKIP
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from exomembrane.config import ConfigError
from exomembrane.engine.health import SimulationError
from exomembrane.run.batch import Batch
from exomembrane.run.directory import CHECKPOINT, MANIFEST, Run
from exomembrane.run.reporters import atomic_write
from exomembrane.scenario import load_scenario
from exomembrane.sweep.cluster import DEVICE_ENV, open_client, slots
from exomembrane.sweep.spec import PLOTS, RESULT, SWEEP, Sweep, Task, check_sweep, load_sweep, tasks
from exomembrane.sweep.table import flatten, plot_sweep, write_statistics, write_table


def run_tasks(group: list[Task], scenario: str, devices: list[int] | None = None) -> list[dict[str, Any]]:
    """Run (or resume) the run directories of ``group`` to their target, analyse them and record
    each one's ``result.json``: one run alone, or several seeds of one point as a replica batch
    (:class:`exomembrane.run.batch.Batch`) in one Context.

    ``devices``: GPUs of a local cluster; worker ``k`` (its Dask name) runs on ``devices[k % n]``.
    A blow-up or bad input is recorded as ``status: failed`` with the error; other exceptions
    propagate (Dask retries the task). Returns the rows of the results table.
    """
    from exomembrane.run.report import analyze

    if devices:
        os.environ[DEVICE_ENV] = str(devices[_worker_index() % len(devices)])
    try:
        with _open(group, scenario) as runner:
            for task, run in zip(group, runner.runs if isinstance(runner, Batch) else [runner]):
                run.target_steps = max(run.target_steps, load_scenario(scenario, task.overrides).run.steps)
            runner.advance(runner.remaining)
    except (SimulationError, ConfigError) as err:
        rows = [t.row(status="failed", error=f"{type(err).__name__}: {err}") for t in group]
    else:
        rows = []
        for task in group:
            try:
                summary = analyze(task.directory)
            except (SimulationError, ConfigError) as err:
                rows.append(task.row(status="failed", error=f"{type(err).__name__}: {err}"))
                continue
            rows.append(task.row(status="ok", error="", **flatten({k: v for k, v in summary.items()
                                                                   if k not in ("series", "plots", "run")})))
    for task, row in zip(group, rows):
        task.directory.mkdir(parents=True, exist_ok=True)  # a run refused before it started has none yet
        atomic_write(task.directory / RESULT, (json.dumps(row, indent=1) + "\n").encode())
    return rows


def run_sweep(sweep: Sweep | str | Path | None, directory: str | Path, *, resume: bool = False,
              steps: int | None = None, client: Any = None, progress: bool = True) -> Any:
    """Run a sweep into ``directory`` and return the results table (a :class:`pandas.DataFrame`).

    Parameters
    ----------
    sweep
        A :class:`Sweep` or a sweep file; ignored with ``resume`` (the directory's copy is used).
    directory
        The sweep directory: new or empty, or with ``resume`` one a sweep has already used.
    steps
        With ``resume``: carry every run on to this many steps in all (the sweep's ``run.steps``
        becomes ``steps``); runs short of it continue from their last checkpoint and are analysed
        again, so an ensemble grows longer without repeating what it has.
    client
        A :class:`dask.distributed.Client` to use; None starts the sweep's ``cluster``.
    progress
        A progress bar over finished runs (a widget in a notebook).
    """
    directory = Path(directory).resolve()
    if resume:
        if not (directory / SWEEP).is_file():
            raise FileNotFoundError(f"{directory}: not a sweep directory (no {SWEEP}); nothing to resume")
        sweep = load_sweep(directory / SWEEP)
        if steps is not None:
            sweep = _extended(sweep, steps)
    else:
        if steps is not None:
            raise ConfigError(f"steps: {steps!r} extends a sweep that has run (with resume); a new sweep takes "
                              f"run.steps from its file's set")
        if sweep is None:
            raise ValueError("sweep: give a sweep file or Sweep (or resume=True to finish a sweep directory)")
        sweep = sweep if isinstance(sweep, Sweep) else load_sweep(sweep)
        if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
            raise FileExistsError(f"{directory}: exists and is not empty; choose a new sweep directory or resume "
                                  f"it with --resume")
    todo = tasks(sweep, directory)
    check_sweep(sweep)
    rows = {t.directory: json.loads((t.directory / RESULT).read_text()) for t in todo
            if (t.directory / RESULT).is_file() and _stands(t, sweep.scenario)}
    pending = [t for t in todo if t.directory not in rows]
    devices = slots(sweep.cluster)[2] if client is None and sweep.cluster.kind == "local" else []
    with _client(sweep, client) as c:  # a cluster that cannot start leaves no directory behind
        if not resume or steps is not None:
            directory.mkdir(parents=True, exist_ok=True)
            atomic_write(directory / SWEEP, yaml.safe_dump(sweep.model_dump(mode="json", by_alias=True),
                                                           sort_keys=False).encode())
        if progress and pending:
            print(f"{sweep.name}: {len(pending)} runs to do ({len(rows)} done) on {c}; dashboard {c.dashboard_link}")
        rows.update(_execute(c, sweep, pending, devices, directory, rows, progress))
    table = write_table([rows[t.directory] for t in todo], directory)
    plot_sweep(table, sweep, directory / PLOTS)
    write_statistics(table, sweep, directory)
    return table


def _extended(sweep: Sweep, steps: int) -> Sweep:
    """``sweep`` with ``run.steps`` raised to ``steps`` (ConfigError if that would shorten or is swept)."""
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise ConfigError(f"steps: must be an integer >= 1 (got {steps!r})")
    if "run.steps" in sweep.swept:
        raise ConfigError("steps: run.steps is swept in this sweep; extend its points in the sweep file instead")
    before = load_scenario(sweep.scenario, sweep.fixed).run.steps
    if steps < before:
        raise ConfigError(f"steps: {steps} is fewer than the sweep's run.steps {before}; a sweep that has run can "
                          f"be extended, not shortened")
    return sweep.model_copy(update={"fixed": {**sweep.fixed, "run.steps": steps}})


def _stands(task: Task, scenario: str) -> bool:
    """Whether ``task``'s recorded result stands: a failure does, a run only once it has reached the
    steps its scenario now asks (the result of a run since extended is stale)."""
    try:
        if json.loads((task.directory / RESULT).read_text()).get("status") != "ok":
            return True
        done = int(json.loads((task.directory / MANIFEST).read_text())["steps_done"])
    except (OSError, ValueError, KeyError):
        return True
    return done >= load_scenario(scenario, task.overrides).run.steps


def _execute(client: Any, sweep: Sweep, pending: list[Task], devices: list[int], directory: Path,
             rows: dict[Path, Any], progress: bool) -> Iterator[tuple[Path, dict[str, Any]]]:
    from distributed import as_completed
    from tqdm.auto import tqdm

    groups: dict[str, list[Task]] = {}
    for task in pending:
        groups.setdefault(task.point, []).append(task)
    futures = {}
    for point, members in groups.items():
        for start in range(0, len(members), sweep.batch):
            group = members[start:start + sweep.batch]
            seeds = "-".join(str(t.seed) for t in group)
            future = client.submit(run_tasks, group, sweep.scenario, devices, retries=sweep.retries, pure=False,
                                   key=f"exomembrane-{sweep.name}-{point}-seed-{seeds}")
            futures[future] = group
    done = dict(rows)
    bar = tqdm(total=len(pending) + len(rows), initial=len(rows), desc=sweep.name, unit="run", disable=not progress)
    with bar:
        for future in as_completed(futures):
            group = futures[future]
            try:
                results = future.result()
            except Exception as err:  # noqa: BLE001 - a lost worker (KilledWorker) or a bug, kept as the row's error
                results = [t.row(status="failed", error=f"{type(err).__name__}: {err}") for t in group]
            for task, row in zip(group, results):
                done[task.directory] = row
                yield task.directory, row
            bar.update(len(group))
            write_table(list(done.values()), directory)


def _worker_index() -> int:
    """The Dask name of the worker running this task (0, 1, ... in a local cluster), else 0."""
    from distributed import get_worker

    try:
        name = get_worker().name
    except ValueError:  # not in a worker
        return 0
    return name if isinstance(name, int) else int(name) if str(name).isdigit() else 0


@contextlib.contextmanager
def _client(sweep: Sweep, client: Any) -> Iterator[Any]:
    if client is not None:
        yield client
    else:
        with open_client(sweep.cluster) as c:
            yield c


def _open(group: list[Task], scenario: str) -> Run | Batch:
    """Resume the group's run directories from their last common checkpoint, or start afresh."""
    directories = [t.directory for t in group]
    if all((d / CHECKPOINT).is_file() and (d / MANIFEST).is_file() for d in directories):
        with contextlib.suppress(FileNotFoundError):
            return Run.open(directories[0]) if len(group) == 1 else Batch.open(directories)
    for d in directories:  # killed while being created: nothing to keep
        if d.exists():
            shutil.rmtree(d)
    scenarios = [load_scenario(scenario, t.overrides) for t in group]
    return Run.create(scenarios[0], directories[0]) if len(group) == 1 else Batch.create(scenarios, directories)
