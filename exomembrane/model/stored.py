"""The files of a run directory: their names, shared by the writer (:mod:`exomembrane.run.directory`)
and by readers below it (a builder that starts one act from where an earlier run ended), and
readers of its frames and recorded membranes."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import mdtraj
import numpy as np

from exomembrane.model.compartments import Membrane

SCENARIO = "scenario.yaml"
MANIFEST = "manifest.json"
TOPOLOGY = "topology.h5"
TRAJECTORY = "trajectory.xtc"
THERMO = "thermo.csv"
CHECKPOINT = "checkpoint.chk"
MEMBRANES = "membranes.npz"  # per molecule: membrane index and leaflet as built


def load_trajectory(directory: str | Path, **kwargs: Any) -> mdtraj.Trajectory:
    """The trajectory of a run directory (sigma, tau), with its topology; kwargs go to ``mdtraj.load``."""
    directory = Path(directory)
    return mdtraj.load(str(directory / TRAJECTORY), top=str(directory / TOPOLOGY), **kwargs)


def load_membranes(directory: str | Path) -> tuple[tuple[Membrane, ...] | None, np.ndarray | None, np.ndarray | None]:
    """The membranes a run's manifest records and, per molecule, the membrane index (-1: none) and
    leaflet as built from ``membranes.npz``; None for what the run did not record."""
    directory = Path(directory)
    manifest = json.loads((directory / MANIFEST).read_text())
    membranes = tuple(Membrane.from_dict(m) for m in manifest["membranes"]) if "membranes" in manifest else None
    if not (directory / MEMBRANES).is_file():
        return membranes, None, None
    with np.load(directory / MEMBRANES) as data:
        return membranes, data["membrane"].astype(np.int64), data["leaflet"].astype(np.int64)
