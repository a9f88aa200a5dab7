"""Plots of a run directory's report: energies, box and per-frame series (matplotlib, no pyplot)."""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from exomembrane.engine.system import TERMS


def figure(rows: int, height: float) -> tuple[Any, Any]:
    """A figure of ``rows`` panels sharing x, 7 inches wide (no pyplot: no global state or display)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, height))
    return fig, fig.subplots(rows, 1, sharex=True)


def save(fig: Any, path: Path) -> Path:
    """Write ``fig`` to ``path`` (PNG, 100 dpi) and return the path."""
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return path


def plot_energies(thermo: Mapping[str, np.ndarray], kT: float, out: Path) -> Path:
    """``energies.png``: potential, kinetic and per-term energies (eps), and kinetic kT against the thermostat's."""
    fig, (top, bottom) = figure(2, 6)
    for key in ("potential", "kinetic", *TERMS):
        top.plot(thermo["time"], thermo[key], label=key)
    top.set_ylabel("energy (eps)")
    top.legend(fontsize="small")
    bottom.plot(thermo["time"], thermo["kT"], label="kinetic")
    bottom.axhline(kT, color="grey", linestyle="--", label="thermostat")
    bottom.set_ylabel("kT (eps)")
    bottom.legend(fontsize="small")
    bottom.set_xlabel("time (tau)")
    return save(fig, out / "energies.png")


def plot_box(thermo: Mapping[str, np.ndarray], out: Path) -> Path:
    """``box.png``: box lengths and lateral area (sigma, sigma^2) against time."""
    fig, (top, bottom) = figure(2, 5)
    for key in ("box_x", "box_y", "box_z"):
        top.plot(thermo["time"], thermo[key], label=key)
    top.set_ylabel("box length (sigma)")
    top.legend(fontsize="small")
    bottom.plot(thermo["time"], thermo["box_x"] * thermo["box_y"])
    bottom.set_ylabel("box area xy (sigma^2)")
    bottom.set_xlabel("time (tau)")
    return save(fig, out / "box.png")


def plot_series(time: np.ndarray, values: np.ndarray, label: str, out: Path, name: str,
                integer: bool = False) -> Path:
    """``<name>.png``: one per-frame series against time (tau); ``integer``: a step plot with integer ticks."""
    from matplotlib.ticker import MaxNLocator

    fig, ax = figure(1, 3.5)
    ax.plot(time, values, drawstyle="steps-post" if integer else "default")
    if integer:
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("time (tau)")
    ax.set_ylabel(label)
    return save(fig, out / f"{name}.png")
