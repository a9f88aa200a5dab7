"""Engine benchmark (``exomembrane bench``, the default mode): our full simulation next to the raw
OpenMM build of the same model and, where installed, LAMMPS, on flat Cooke bilayers."""
from __future__ import annotations

import argparse
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import openmm as mm

from exomembrane.bench import lammps as peer
from exomembrane.bench.raw import CPU_SIZES, GPU_SIZES, Mode, advance_rate, bench_scenario, on_gpu, rate, raw_system
from exomembrane.engine.platform import cpu_model, properties, select_platform
from exomembrane.engine.simulation import temperature
from exomembrane.model.structure import Structure


def lammps_rates(s: Structure, seconds: float, ranks: Sequence[int]) -> dict[int, float]:
    """Steps/s of LAMMPS on the same structure per number of MPI ranks, after checking that its
    pair and bond energies equal ours (Reference platform, relative 1e-9).

    Parameters
    ----------
    s : Structure
        The system to time.
    seconds : float
        Wall time (s) of each timed LAMMPS run, estimated from a 100-step probe.
    ranks : sequence of int
        Numbers of MPI ranks to time.

    Returns
    -------
    dict
        Steps per second (1/s) per number of ranks.

    Raises
    ------
    RuntimeError
        If LAMMPS's energies differ from ours.
    """
    from exomembrane.engine.system import TERMS, create_system

    ctx = mm.Context(create_system(s), mm.VerletIntegrator(0.01), mm.Platform.getPlatformByName("Reference"))
    ctx.setPositions(s.positions)
    ours = {k: ctx.getState(getEnergy=True, groups={g}).getPotentialEnergy()._value for k, g in TERMS.items()}
    rates = {}
    for n in ranks:
        probe = peer.run(s, 100, n)
        for theirs, mine in ((probe["pair"], ours["pair"]), (probe["bond"], ours["fene"] + ours["bend"])):
            if abs(theirs - mine) > 1e-9 * max(1.0, abs(mine)):
                raise RuntimeError(f"LAMMPS energies differ from ours (pair {probe['pair']} vs {ours['pair']}, "
                                   f"bonds {probe['bond']} vs {ours['fene'] + ours['bend']}); not timing it")
        rates[n] = peer.run(s, max(100, int(probe["steps_per_s"] * seconds)), n)["steps_per_s"]
    return rates


def measure(platform: str, size: float, seconds: float, precision: str = "mixed",
            lammps: Sequence[int] = ()) -> dict[str, Any]:
    """Rates of our engine, of the raw build and (``lammps``: numbers of MPI ranks) of LAMMPS for one
    bilayer of lateral ``size`` sigma, each timed over about ``seconds`` of wall time.

    Ours is a whole run (:class:`~exomembrane.run.directory.Run`) with production outputs
    (trajectory frame every 5000 steps, thermo row with per-term energies every 1000, checkpoint
    every 50000, health check every 1000); the raw build steps its integrator and writes nothing.

    Returns
    -------
    dict
        ``platform``, ``precision``, ``beads``, ``pair_kernel``, ``ours_steps_per_s``,
        ``raw_steps_per_s`` (1/s), ``ours_particle_steps_per_s``, ``raw_particle_steps_per_s`` (1/s),
        ``ratio`` (ours/raw); with ``lammps`` also ``lammps_ranks``, ``lammps_steps_per_s`` (the
        fastest configuration), ``lammps_all`` (steps/s per ranks) and ``ratio_lammps``.
    """
    from exomembrane.run.directory import Run

    with tempfile.TemporaryDirectory() as tmp, \
            Run.create(bench_scenario("bench", platform, size, precision), Path(tmp) / "run") as run:
        sim = run.simulation
        s = sim.structure
        ours = advance_rate(run, seconds)
        kernel = sim.pair_kernel
    choice = select_platform(platform)
    integ = mm.LangevinMiddleIntegrator(temperature(1.1), 1.0, 0.01)
    ctx = mm.Context(raw_system(s), integ, choice.platform, properties(choice, precision))
    ctx.setPositions(s.positions)
    ctx.setVelocitiesToTemperature(temperature(1.1), 1)
    raw = rate(integ.step, ctx, seconds)
    row = {"platform": platform, "precision": precision, "beads": s.n_beads, "pair_kernel": kernel,
           "ours_steps_per_s": ours, "raw_steps_per_s": raw, "ours_particle_steps_per_s": ours * s.n_beads,
           "raw_particle_steps_per_s": raw * s.n_beads, "ratio": ours / raw}
    if lammps:
        rates = lammps_rates(s, seconds, lammps)
        best = max(rates, key=lambda n: rates[n])
        row.update(lammps_ranks=best, lammps_steps_per_s=rates[best], lammps_all={str(k): v for k, v in rates.items()},
                   ratio_lammps=ours / rates[best])
    return row


HEADER = (f"{'platform':<10}{'beads':>10}{'ours steps/s':>14}{'raw steps/s':>13}{'LAMMPS steps/s':>16}"
          f"{'ours part-steps/s':>19}{'/raw':>7}{'/LAMMPS':>9}")


def line(r: dict[str, Any]) -> str:
    """The table line of one :func:`measure` row."""
    lmp = (f"{r['lammps_steps_per_s']:>10.1f} ({r['lammps_ranks']}r)", f"{r['ratio_lammps']:>9.2f}") \
        if "lammps_steps_per_s" in r else (f"{'-':>16}", f"{'-':>9}")
    return (f"{r['platform']:<10}{r['beads']:>10}{r['ours_steps_per_s']:>14.1f}{r['raw_steps_per_s']:>13.1f}"
            f"{lmp[0]}{r['ours_particle_steps_per_s']:>19.3e}{r['ratio']:>7.2f}{lmp[1]}")


def table(rows: list[dict[str, Any]]) -> str:
    """Header, rule and one line per :func:`measure` row."""
    return "\n".join([HEADER, "-" * len(HEADER), *map(line, rows)])


def summary(rows: list[dict[str, Any]], platforms: list[str | None]) -> str:
    """The whole table, then the pair force each platform used."""
    kernels = [f"{p} pair force: {next(r['pair_kernel'] for r in rows if r['platform'] == p)}" for p in platforms]
    return "\n".join([table(rows), *kernels])


def options(args: argparse.Namespace) -> dict[str, Any]:
    """LAMMPS ranks from ``--lammps`` (default when installed: 1 and 2); prints the machine line.

    Raises
    ------
    SystemExit
        If ranks were asked for and LAMMPS cannot run here.
    """
    found = peer.programs()
    ranks = args.lammps if args.lammps is not None else ([] if isinstance(found, str) else
                                                         sorted({1, min(2, os.cpu_count() or 1)}))
    if ranks and isinstance(found, str):
        raise SystemExit(f"bench --lammps: {found}")
    if not ranks:
        print(f"no LAMMPS row: {found if isinstance(found, str) else 'turned off (--lammps)'}")
    print(f"machine: {cpu_model()} ({os.cpu_count()} cores); OpenMM {mm.__version__}"
          + ("" if isinstance(found, str) else f"; LAMMPS from {found[0]}"), flush=True)
    return {"lammps": ranks}


def rows(platform: str, size: float, seconds: float, precision: str,
         lammps: Sequence[int] = ()) -> list[dict[str, Any]]:
    """The one :func:`measure` row of ``platform`` and ``size`` (sigma)."""
    return [measure(platform, size, seconds, precision, lammps)]


def sizes(platform: str | None) -> tuple[float, ...]:
    """All GPU sizes on CUDA and OpenCL, all CPU sizes elsewhere (sigma)."""
    return GPU_SIZES if on_gpu(platform) else CPU_SIZES


MODE = Mode(name="engine", help="ours against the raw OpenMM build and LAMMPS (the default)", rows=rows,
            sizes=sizes, header=HEADER, line=line, options=options, summary=summary)
