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


def cut_open(run: Any, frame: int, around: np.ndarray, name: str, centre: np.ndarray | None = None) -> Path:
    """``name`` in the report folder of ``run`` (a RunData): frame ``frame`` cut open through ``centre``
    (default: the centre of the heads of the lipids ``around``, (n_lipids,) bool), every compartment
    coloured and named, every membrane named."""
    from matplotlib.figure import Figure

    from exomembrane.analysis.pbc import box_of, periodic_centre
    from exomembrane.analysis.selection import lipid_indices
    from exomembrane.run.movie import draw_frame

    membranes, membrane, leaflet = run.membranes
    traj = run.traj
    frame = frame % traj.n_frames
    box = box_of(traj)[frame]
    if centre is None:
        heads, _ = lipid_indices(traj.topology)
        centre = periodic_centre(traj.xyz[frame, heads[around]].astype(float), box)[0]
    fig = Figure(figsize=(7, max(3.5, 7 * box[2] / box[0])))
    draw_frame(fig.subplots(), traj, frame, [m.faces for m in membranes], membrane, leaflet, run.topology, frame,
               [m.name for m in membranes], centre, title=f"{run.scenario.name}: t = {traj.time[frame]:.0f} tau")
    return save(fig, run.out / name)


def plot_energies(thermo: Mapping[str, np.ndarray], kT: float, out: Path) -> Path:
    """``energies.png``: potential, kinetic and per-term energies (eps), and kinetic kT against the thermostat's.
    Terms a run's thermo file lacks (written before the term existed) are left out."""
    fig, (top, bottom) = figure(2, 6)
    for key in ("potential", "kinetic", *TERMS):
        if key in thermo:
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
