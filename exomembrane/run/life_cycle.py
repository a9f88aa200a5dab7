"""The exosome life cycle chained: each act's scenario takes its vesicle, as it was, from the run of
the act before it, and the cargo is counted from act to act.

The shipped chain (:data:`LIFE_CYCLE`): an ILV buds off an MVB patch (``ilv_ceramide_small``), is
put into an MVB that fuses with the plasma membrane and releases it (``mvb_fusion_chained``), and
meets a target cell as an exosome (``exosome_uptake_released``). Each act runs in ``out/<act>``;
the act after it reads that directory through its builder's chain field (:data:`CHAIN_FIELD`),
where :func:`~exomembrane.builders.chain.ilv_from_run` takes the closed ILV of a budding run or
the released ILV of a fusion run, and refuses, naming the field, a run that has none.

Example
-------
>>> from exomembrane.run.life_cycle import life_cycle, cargo_through
>>> directories = life_cycle("runs/life_cycle")         # three runs, one after the other
>>> cargo_through(directories)                          # a pandas DataFrame: the cargo act by act
"""
from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mdtraj
import numpy as np
import pandas as pd

from exomembrane.analysis.uptake import MACHINERY, cargo_species
from exomembrane.builders.chain import ilv_from_run
from exomembrane.config import ConfigError
from exomembrane.model.stored import MANIFEST, SCENARIO, TOPOLOGY
from exomembrane.run.directory import Run
from exomembrane.run.report import analyze
from exomembrane.scenario import load_scenario

#: Builder kind -> the scenario field that names the run directory its vesicle is taken from.
CHAIN_FIELD = {"mvb_fusion": "builder.ilvs.0.run", "exosome_uptake": "builder.exosome_run"}


@dataclass(frozen=True)
class Act:
    """One act of a chain: its ``name`` (the run's folder under the chain's directory), its
    ``scenario`` (a file or the name of a shipped one) and ``overrides`` ({"key.path": value})."""

    name: str
    scenario: str | Path
    overrides: Mapping[str, Any] = field(default_factory=dict)


#: ILV budding -> MVB fusion and release -> uptake by a target cell.
LIFE_CYCLE = (Act("budding", "ilv_ceramide_small"), Act("release", "mvb_fusion_chained"),
              Act("uptake", "exosome_uptake_released"))


def life_cycle(out: str | Path, acts: Sequence[Act] = LIFE_CYCLE, *,
               progress: Callable[[Run], None] | None = None) -> list[Path]:
    """Run ``acts`` one after the other in ``out/<act.name>``, each taking its vesicle from the run
    before it; returns the run directories.

    An act whose directory holds a finished run is kept, an unfinished one resumed from its last
    checkpoint, so an interrupted chain goes on where it stopped. ``progress`` is called with the
    run after each chunk of steps. ConfigError naming ``acts.<k>`` for an act after the first whose
    builder takes no vesicle from a run, for a repeated name, or (raised while building) for a run
    before it that holds no vesicle to take.
    """
    out = Path(out)
    names = [a.name for a in acts]
    if len(set(names)) != len(names):
        raise ConfigError(f"acts: the names {names} repeat; each act needs a folder of its own")
    directories: list[Path] = []
    for k, act in enumerate(acts):
        overrides = dict(act.overrides)
        if directories:
            kind = load_scenario(act.scenario, act.overrides).builder.kind
            if kind not in CHAIN_FIELD:
                raise ConfigError(f"acts.{k}.scenario: a {kind} scenario takes no vesicle from a run; acts after the "
                                  f"first must be one of {sorted(CHAIN_FIELD)}")
            overrides[CHAIN_FIELD[kind]] = str(directories[-1])
        directory = out / act.name
        directories.append(directory)
        manifest = directory / MANIFEST
        if manifest.is_file():
            done = json.loads(manifest.read_text())
            if done.get("steps_done", 0) >= done.get("steps_target", 1):
                continue
            run = Run.open(directory)
        else:
            run = Run.create(load_scenario(act.scenario, overrides), directory, overwrite=directory.exists())
        with run:
            run.advance(run.remaining, callback=progress)
    return directories


def cargo_through(directories: Sequence[str | Path]) -> pd.DataFrame:
    """The cargo of a chain act by act (one row per act and cargo species).

    Columns: ``act`` (the run's folder name), ``builder`` (its builder kind), ``event`` (what the
    act hands on: ``ILV`` for a closed ILV apart from its parent, ``released`` for an ILV out of
    the cell, else the refusal; for an uptake run the outcome and its time), ``species``, ``total``
    (molecules in the run), ``carried`` (in the vesicle it hands on, or inside the exosome at the
    end of an uptake run), and for an uptake run ``cytosol`` and ``extracellular`` (in the target
    cell's cytosol, outside both).
    """
    rows: list[dict[str, Any]] = []
    for d in map(Path, directories):
        scenario = load_scenario(d / SCENARIO)
        kind = scenario.builder.kind
        top = mdtraj.load_topology(str(d / TOPOLOGY))
        names = [r.name for r in top.residues]
        tethers = getattr(scenario.builder, "tethers", None)  # the fusion builder's, whatever species it names
        cargo = cargo_species(top, MACHINERY + ((tethers.species,) if tethers is not None else ()))
        total = {n: names.count(n) for n in cargo}
        where: dict[str, dict[str, float]] = {}
        if kind == "exosome_uptake":
            u = analyze(d)["uptake"]
            event = f"{u['outcome']} (from {u['outcome_tau']:g} tau)"
            for n in cargo:
                c = u["cargo"].get(n, {})
                where[n] = {"carried": c.get("inside", np.nan), "cytosol": c.get("cytosol", np.nan),
                            "extracellular": c.get("extracellular", np.nan)}
        else:
            try:
                vesicle, _ = ilv_from_run(scenario.load_forcefield(), d, d.name)
                event = "released" if kind == "mvb_fusion" else "ILV"
                where = {n: {"carried": int(vesicle.of_species(n).sum())} for n in cargo if n in vesicle.species}
            except ConfigError as e:
                event = str(e)
        for n in cargo:
            rows.append({"act": d.name, "builder": kind, "event": event, "species": n, "total": total[n],
                         "carried": 0, **where.get(n, {})})
    return pd.DataFrame(rows, columns=["act", "builder", "event", "species", "total", "carried", "cytosol",
                                       "extracellular"])
