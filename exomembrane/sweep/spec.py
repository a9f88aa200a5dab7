"""The sweep file: grid, points, seeds, observables, cluster; and its run directories (tasks)."""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import Field, NonNegativeInt, PositiveInt, field_validator

from exomembrane.config import ConfigError, Strict, load_yaml, parse
from exomembrane.run.batch import check
from exomembrane.scenario import SEED_MAX, load_scenario
from exomembrane.sweep.cluster import ClusterSection

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
        label = ",".join(f"{key.rsplit('.', 1)[-1]}={point_text(v)}" for key, v in values.items())
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


def check_sweep(sweep: Sweep) -> None:
    swept = sweep.swept
    if sweep.x is not None and sweep.x not in swept:
        raise ConfigError(f"x: {sweep.x!r} is not a swept key; allowed: {swept}")
    if "run.seed" in swept or "run.seed" in sweep.fixed:
        raise ConfigError("grid/points/set: run.seed is set by 'seeds' (a count or a list of seeds)")


def point_text(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()

