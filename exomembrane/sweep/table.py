"""The results table of a sweep (CSV and Parquet, nested keys joined by dots) and its plots."""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from exomembrane.run.reporters import atomic_write
from exomembrane.sweep.spec import TABLE, Sweep, point_text


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


def write_table(rows: list[dict[str, Any]], directory: Path) -> Any:
    import pandas as pd

    table = pd.DataFrame(rows).convert_dtypes(dtype_backend="numpy_nullable")
    if len(table):
        table = table.sort_values(["point", "seed"], kind="stable").reset_index(drop=True)
    tmp = directory / f".{TABLE}.parquet.tmp"
    table.to_parquet(tmp, index=False)
    os.replace(tmp, directory / f"{TABLE}.parquet")
    atomic_write(directory / f"{TABLE}.csv", table.to_csv(index=False).encode())
    return table


def statistics(table: Any, sweep: Sweep) -> Any:
    """Per point (the swept keys' values): for each observable, the runs that gave a value (``n``),
    their mean, median and standard error, over the runs that ended ``ok``; a 0/1 observable's mean
    is the fraction of runs where it holds."""
    import pandas as pd

    ok = table[table["status"] == "ok"] if len(table) else table
    keys = [k for k in sweep.swept if k in ok]
    rows = []
    groups = ok.groupby([_key(ok[k]) for k in keys]) if keys else [((), ok)]
    for label, group in groups:
        row: dict[str, Any] = dict(zip(keys, np.atleast_1d(label).tolist()))
        row["runs"] = len(group)
        for name in sweep.observables or _default_observables(ok):
            column = _column(group, name)
            if column is None:
                continue
            values = group[column].astype("float64").dropna()
            row[f"{name}.n"] = len(values)
            row[f"{name}.mean"] = float(values.mean()) if len(values) else np.nan
            row[f"{name}.median"] = float(values.median()) if len(values) else np.nan
            row[f"{name}.sem"] = float(values.std() / np.sqrt(len(values))) if len(values) > 1 else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def write_statistics(table: Any, sweep: Sweep, directory: Path) -> Any:
    """``statistics.csv`` (:func:`statistics`) in the sweep directory; returns the table."""
    stats = statistics(table, sweep)
    atomic_write(directory / "statistics.csv", stats.to_csv(index=False).encode())
    return stats


def flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, name + "."))
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
    return series.map(lambda v: point_text(v) if isinstance(v, (dict, list)) else v)


def _positions(index: Any) -> list[Any]:
    values = list(index)
    return values if all(isinstance(v, (int, float)) for v in values) else [str(v) for v in values]
