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
    batch: 1                            # seeds of a point per OpenMM Context (exomembrane.batch)
    cluster: {kind: local}              # see exomembrane.cluster

The sweep directory holds ``sweep.yaml`` (the resolved file), one run directory per point and
seed (``<point>/seed-<s>/``, each with ``result.json`` once done), ``results.csv`` and
``results.parquet`` (one row per run: swept values, seed, status, error, directory and the
scalars of :func:`exomembrane.cli.analyze`, nested keys joined by dots) and ``plots/``.

Faults: a task whose worker dies is run again by Dask and resumes from the run's last
checkpoint; a run that blows up or is misconfigured is recorded as ``failed`` with its error;
:func:`run_sweep` with ``resume=True`` (``exomembrane sweep --resume DIR``) runs only what has
no ``result.json`` yet.

Example
-------
>>> from exomembrane.sweep import run_sweep
>>> table = run_sweep("systems/sweeps/tension_scan.yaml", "runs/tension_scan")   # doctest: +SKIP
>>> table.groupby("run.tension")["area_per_lipid_sigma2.mean"].mean()             # doctest: +SKIP
"""
from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import yaml
from pydantic import Field, NonNegativeInt, PositiveInt, field_validator

from .batch import Batch, check
from .cluster import DEVICE_ENV, ClusterSection, open_client, slots
from .config import ConfigError, Strict, load_yaml, parse
from .health import SimulationError
from .reporters import atomic_write
from .run import CHECKPOINT, MANIFEST, Run
from .scenario import SEED_MAX, load_scenario

SWEEP = "sweep.yaml"
RESULT = "result.json"
TABLE = "results"
PLOTS = "plots"


class Sweep(Strict):
    """A validated sweep file (see the module docstring)."""

    name: str = "sweep"
    scenario: str
    fixed: dict[str, Any] = Field(default={}, alias="set")
    grid: dict[str, list[Any]] = {}
    points: list[dict[str, Any]] = []
    seeds: PositiveInt | Annotated[list[Annotated[int, Field(ge=1, le=SEED_MAX)]], Field(min_length=1)] = 1
    observables: list[str] = []
    x: str | None = None
    batch: PositiveInt = 1
    retries: NonNegativeInt = 1
    cluster: ClusterSection = ClusterSection()

    @field_validator("grid")
    @classmethod
    def _non_empty(cls, grid: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for key, values in grid.items():
            if not values:
                raise ValueError(f"grid.{key}: needs at least one value")
        return grid

    @property
    def seed_list(self) -> list[int]:
        return list(range(1, self.seeds + 1)) if isinstance(self.seeds, int) else list(self.seeds)

    @property
    def swept(self) -> list[str]:
        """Keys that vary between points, in order of appearance."""
        keys = list(self.grid)
        for point in self.points:
            keys += [k for k in point if k not in keys]
        return keys

    def combinations(self) -> list[dict[str, Any]]:
        """Every point: the grid's cartesian product, then the listed points (at least one, ``{}``)."""
        grid = [dict(zip(self.grid, values)) for values in itertools.product(*self.grid.values())] if self.grid else []
        return grid + [dict(p) for p in self.points] or [{}]


@dataclass(frozen=True)
class Task:
    """One run of a sweep: its point, seed, directory (absolute) and scenario overrides."""

    point: str
    seed: int
    values: dict[str, Any]
    directory: Path
    overrides: dict[str, Any]

    def row(self, **fields: Any) -> dict[str, Any]:
        """A results-table row of this run (``directory`` relative to the sweep directory)."""
        return {"point": self.point, "seed": self.seed, **self.values,
                "directory": f"{self.point}/{self.directory.name}", **fields}


def load_sweep(path: str | Path) -> Sweep:
    """Read and validate a sweep file; the scenario path is made absolute (shipped names stay)."""
    path = Path(path)
    sweep = parse(Sweep, load_yaml(path), str(path))
    candidate = (path.parent / sweep.scenario).resolve()
    if candidate.is_file():
        sweep = sweep.model_copy(update={"scenario": str(candidate)})
    return sweep


def tasks(sweep: Sweep, directory: Path) -> list[Task]:
    """The runs of ``sweep`` under ``directory``, each scenario validated (raises ConfigError)."""
    out = []
    for index, values in enumerate(sweep.combinations()):
        label = ",".join(f"{key.rsplit('.', 1)[-1]}={_text(v)}" for key, v in values.items())
        point = re.sub(r"[^A-Za-z0-9_.,=+-]", "_", f"p{index:03d}" + (f"-{label}" if label else ""))[:120]
        for seed in sweep.seed_list:
            overrides = {**sweep.fixed, **values, "run.seed": seed}
            try:
                load_scenario(sweep.scenario, overrides)
            except ConfigError as err:
                raise ConfigError(f"sweep point {point} (seed {seed}): {err}") from None
            out.append(Task(point, seed, values, directory / point / f"seed-{seed}", overrides))
        if sweep.batch > 1 and len(sweep.seed_list) > 1:
            members = out[-len(sweep.seed_list):][:sweep.batch]
            try:
                check([load_scenario(sweep.scenario, t.overrides) for t in members], [t.directory for t in members])
            except ConfigError as err:
                raise ConfigError(f"sweep point {point}: {err}") from None
    return out


def run_tasks(group: list[Task], scenario: str, devices: list[int] | None = None) -> list[dict[str, Any]]:
    """Run (or resume) the run directories of ``group`` to their target, analyse them and record
    each one's ``result.json``: one run alone, or several seeds of one point as a replica batch
    (:class:`exomembrane.batch.Batch`) in one Context.

    ``devices``: GPUs of a local cluster; worker ``k`` (its Dask name) runs on ``devices[k % n]``.
    A blow-up or bad input is recorded as ``status: failed`` with the error; other exceptions
    propagate (Dask retries the task). Returns the rows of the results table.
    """
    from .cli import analyze

    if devices:
        os.environ[DEVICE_ENV] = str(devices[_worker_index() % len(devices)])
    try:
        with _open(group, scenario) as runner:
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
            rows.append(task.row(status="ok", error="", **_flatten({k: v for k, v in summary.items()
                                                                   if k not in ("series", "plots", "run")})))
    for task, row in zip(group, rows):
        task.directory.mkdir(parents=True, exist_ok=True)  # a run refused before it started has none yet
        atomic_write(task.directory / RESULT, (json.dumps(row, indent=1) + "\n").encode())
    return rows


def run_sweep(sweep: Sweep | str | Path, directory: str | Path, *, resume: bool = False, client: Any = None,
              progress: bool = True) -> Any:
    """Run a sweep into ``directory`` and return the results table (a :class:`pandas.DataFrame`).

    Parameters
    ----------
    sweep
        A :class:`Sweep` or a sweep file; ignored with ``resume`` (the directory's copy is used).
    directory
        The sweep directory: new or empty, or with ``resume`` one a sweep has already used.
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
    else:
        sweep = sweep if isinstance(sweep, Sweep) else load_sweep(sweep)
        if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
            raise FileExistsError(f"{directory}: exists and is not empty; choose a new sweep directory or resume "
                                  f"it with --resume")
    todo = tasks(sweep, directory)
    _check_sweep(sweep)
    rows = {t.directory: json.loads((t.directory / RESULT).read_text()) for t in todo
            if (t.directory / RESULT).is_file()}
    pending = [t for t in todo if t.directory not in rows]
    devices = slots(sweep.cluster)[2] if client is None and sweep.cluster.kind == "local" else []
    with _client(sweep, client) as c:  # a cluster that cannot start leaves no directory behind
        if not resume:
            directory.mkdir(parents=True, exist_ok=True)
            atomic_write(directory / SWEEP, yaml.safe_dump(sweep.model_dump(mode="json", by_alias=True),
                                                           sort_keys=False).encode())
        if progress and pending:
            print(f"{sweep.name}: {len(pending)} runs to do ({len(rows)} done) on {c}; dashboard {c.dashboard_link}")
        rows.update(_execute(c, sweep, pending, devices, directory, rows, progress))
    table = _table([rows[t.directory] for t in todo], directory)
    plot_sweep(table, sweep, directory / PLOTS)
    return table


def plot_sweep(table: Any, sweep: Sweep, out: Path) -> list[Path]:
    """One PNG per observable: mean +- standard error over seeds against ``x``, a line per
    combination of the other swept keys. Failed runs are left out."""
    from matplotlib.figure import Figure

    out.mkdir(parents=True, exist_ok=True)
    swept = sweep.swept
    x = sweep.x or (swept[0] if swept else None)
    ok = table[table["status"] == "ok"] if len(table) else table
    paths = []
    for name in sweep.observables or _default_observables(ok):
        column = _column(ok, name)
        if column is None or x is None or ok[column].isna().all():
            continue
        data = ok.assign(**{column: ok[column].astype("float64")})
        fig = Figure(figsize=(6, 4))
        ax = fig.subplots()
        others = [k for k in swept if k != x and k in data]
        groups = data.groupby([_key(data[k]) for k in others]) if others else [((), data)]
        for label, group in groups:
            stats = group.groupby(_key(group[x]))[column].agg(["mean", "std", "count"])
            error = stats["std"].fillna(0) / np.sqrt(stats["count"].clip(lower=1))
            positions = _positions(stats.index)
            ax.errorbar(positions, stats["mean"].to_numpy(float), yerr=error.to_numpy(float), marker="o", capsize=3,
                        label=", ".join(f"{k}={v}" for k, v in zip(others, np.atleast_1d(label))) or None)
            if not all(isinstance(p, (int, float)) for p in positions):
                ax.set_xticks(range(len(positions)), positions)
        ax.set_xlabel(x)
        ax.set_ylabel(column)
        ax.set_title(f"{sweep.name}: mean \u00b1 standard error over seeds")
        if others:
            ax.legend(fontsize=8)
        fig.tight_layout()
        path = out / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', column)}.png"
        fig.savefig(path, dpi=100)
        paths.append(path)
    return paths


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
            _table(list(done.values()), directory)


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


def _table(rows: list[dict[str, Any]], directory: Path) -> Any:
    import pandas as pd

    table = pd.DataFrame(rows).convert_dtypes(dtype_backend="numpy_nullable")
    if len(table):
        table = table.sort_values(["point", "seed"], kind="stable").reset_index(drop=True)
    tmp = directory / f".{TABLE}.parquet.tmp"
    table.to_parquet(tmp, index=False)
    os.replace(tmp, directory / f"{TABLE}.parquet")
    atomic_write(directory / f"{TABLE}.csv", table.to_csv(index=False).encode())
    return table


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, name + "."))
        elif value is None or isinstance(value, (bool, int, float, str)):
            flat[name] = value
    return flat


def _column(table: Any, name: str) -> str | None:
    for candidate in (name, f"{name}.mean", f"{name}.value"):
        if candidate in table and _numeric(table[candidate]):
            return candidate
    return None


def _default_observables(table: Any) -> list[str]:
    """The analysis means and estimates present (thermo columns and counts left out)."""
    return [c for c in table.columns if (c.endswith(".mean") or c.endswith(".value"))
            and not c.startswith("thermo_") and _numeric(table[c])]


def _numeric(column: Any) -> bool:
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    return is_numeric_dtype(column) and not is_bool_dtype(column)


def _key(series: Any) -> Any:
    """Swept values usable as group keys (mappings and lists as their YAML text)."""
    return series.map(lambda v: _text(v) if isinstance(v, (dict, list)) else v)


def _positions(index: Any) -> list[Any]:
    values = list(index)
    return values if all(isinstance(v, (int, float)) for v in values) else [str(v) for v in values]


def _text(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


def _check_sweep(sweep: Sweep) -> None:
    swept = sweep.swept
    if sweep.x is not None and sweep.x not in swept:
        raise ConfigError(f"x: {sweep.x!r} is not a swept key; allowed: {swept}")
    if "run.seed" in swept or "run.seed" in sweep.fixed:
        raise ConfigError("grid/points/set: run.seed is set by 'seeds' (a count or a list of seeds)")
