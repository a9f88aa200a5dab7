"""Ensemble benchmark (``exomembrane bench --replicas K ...``): K replicas batched in one Context
against one run at a time."""
from __future__ import annotations

import argparse
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from exomembrane.bench.raw import GPU_SIZES, Mode, advance_rate, bench_scenario


def ensemble_throughput(platform: str, size: float, seconds: float, replicas: int,
                        precision: str = "mixed") -> dict[str, Any]:
    """Ensemble throughput of a fixed-area bilayer of lateral ``size`` sigma: ``replicas`` seeds
    run as one batch (:class:`~exomembrane.run.batch.Batch`; 1: a single run), each writing its own
    run directory with production output intervals (frame every 5000 steps, thermo row every 1000,
    checkpoint every 50000). Timed over about ``seconds`` (s) after a warm-up.

    Returns
    -------
    dict
        ``platform``, ``precision``, ``beads_per_replica``, ``replicas``, ``steps_per_s`` (of the
        batch, 1/s), ``replica_steps_per_s`` and ``particle_steps_per_s`` (summed over replicas, 1/s).
    """
    from exomembrane.run.batch import Batch
    from exomembrane.run.directory import Run

    scenario = bench_scenario("bench-ensemble", platform, size, precision)
    with tempfile.TemporaryDirectory() as tmp:
        dirs = [Path(tmp) / f"seed-{k + 1}" for k in range(replicas)]
        runner = Run.create(scenario, dirs[0]) if replicas == 1 else Batch.create(
            [scenario.with_overrides({"run.seed": k + 1}) for k in range(replicas)], dirs)
        with runner:
            n_beads = runner.simulation.system.getNumParticles() // replicas
            rate = advance_rate(runner, seconds)
    return {"platform": platform, "precision": precision, "beads_per_replica": n_beads, "replicas": replicas,
            "steps_per_s": rate, "replica_steps_per_s": rate * replicas,
            "particle_steps_per_s": rate * replicas * n_beads}


def rows(platform: str, size: float, seconds: float, precision: str,
         replicas: Sequence[int] = (1,)) -> Iterator[dict[str, Any]]:
    """One :func:`ensemble_throughput` row per number of replicas, in order, each with ``gain``: its
    replica-steps/s over that of the last single-run row before it (None before any)."""
    single = None
    for k in replicas:
        r = ensemble_throughput(platform, size, seconds, k, precision)
        single = r["replica_steps_per_s"] if k == 1 else single
        r["gain"] = r["replica_steps_per_s"] / single if single else None
        yield r


def options(args: argparse.Namespace) -> dict[str, Any]:
    """The numbers of replicas of ``--replicas``."""
    return {"replicas": args.replicas}


HEADER = (f"{'platform':<10}{'beads/replica':>14}{'replicas':>9}{'steps/s':>9}{'replica-steps/s':>16}"
          f"{'part-steps/s':>14}{'gain':>6}")


def line(r: dict[str, Any]) -> str:
    """The table line of one row of :func:`rows`."""
    gain = f"{r['gain']:>6.2f}" if r["gain"] else f"{'-':>6}"
    return (f"{r['platform']:<10}{r['beads_per_replica']:>14}{r['replicas']:>9}{r['steps_per_s']:>9.1f}"
            f"{r['replica_steps_per_s']:>16.1f}{r['particle_steps_per_s']:>14.3e}{gain}")


def sizes(platform: str | None) -> tuple[float, ...]:
    """The smallest GPU size on every platform (sigma)."""
    return GPU_SIZES[:1]


MODE = Mode(name="replicas", help="ensemble throughput of K replicas batched in one Context (1: one run at a time) "
                                  "instead; e.g. --replicas 1 4 16",
            rows=rows, sizes=sizes, header=HEADER, line=line, options=options)
