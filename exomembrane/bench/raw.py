"""Shared core of the benchmarks: the raw OpenMM reference build, timing helpers, the bench
scenario, default sizes and the :class:`Mode` record that each benchmark module fills in."""
from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import openmm as mm

from exomembrane.model.structure import Structure

if TYPE_CHECKING:
    from exomembrane.run.batch import Batch
    from exomembrane.run.directory import Run
    from exomembrane.scenario import Scenario

#: Bilayer sizes (sigma) giving ~21.6k, ~86.4k, ~346k and ~1.38M beads; the CPU gets ~5.4k, ~21.6k and ~86.4k.
GPU_SIZES = (65.7, 131.5, 263.0, 526.0)
CPU_SIZES = (32.9, 65.7, 131.5)
#: Platforms that get the GPU sizes by default.
GPU_PLATFORMS = ("CUDA", "OpenCL")

#: Output intervals (steps) of production runs: what "our engine with reporters on" writes.
PRODUCTION_REPORT = {"trajectory": 5000, "thermo": 1000, "checkpoint": 50000}

RAW_PAIR = (
    "4*((b/r)^12 - (b/r)^6 + 0.25)*step(2^(1/6)*b - r)"
    " - t1*t2*(step(rc - r) + step(r - rc)*cos(pi*(r - rc)/(2*wc))^2);"
    "b = select(t1*t2, 1.0, 0.95); rc = 2^(1/6); pi = 3.141592653589793; wc = 1.6"
)


def no_options(args: argparse.Namespace) -> dict[str, Any]:
    """No keyword options from the command line."""
    return {}


@dataclass(frozen=True)
class Mode:
    """One benchmark of ``exomembrane bench``, run by the generic loop of :func:`exomembrane.bench.main`.

    Parameters
    ----------
    name : str
        Its flag (``--name``) and subcommand.
    help : str
        Help text of the flag.
    rows : callable
        ``rows(platform, size, seconds, precision, **options)``: the result rows (dicts, JSON-ready)
        of one platform and bilayer lateral ``size`` (sigma), each timed over about ``seconds`` of
        wall time, yielded as they are measured.
    sizes : callable
        Default lateral sizes (sigma) for a platform name (``None`` for platform-free modes).
    header : str
        Column header line printed before the first row ("" for none).
    line : callable
        The printed line(s) of one row.
    options : callable
        Keyword options of ``rows`` from the parsed command line; may print a preamble or raise
        SystemExit.
    summary : callable or None
        Text printed after the last row, from all rows and the platforms.
    per_platform : bool
        False: run once with platform ``None`` (the platform-free analysis timings).
    """

    name: str
    help: str
    rows: Callable[..., Iterable[dict]]
    sizes: Callable[[str | None], tuple[float, ...]]
    header: str
    line: Callable[[dict], str]
    options: Callable[[argparse.Namespace], dict[str, Any]] = no_options
    summary: Callable[[list[dict], list[str | None]], str] | None = None
    per_platform: bool = True


def on_gpu(platform: str | None) -> bool:
    """Whether ``platform`` gets the GPU sizes by default."""
    return platform in GPU_PLATFORMS


def raw_system(s: Structure) -> mm.System:
    """The Cooke model as a user would write it directly in OpenMM (single species LIP).

    Parameters
    ----------
    s : Structure
        The bilayer (positions and box in sigma); only its head/tail pattern and bonds are used.

    Returns
    -------
    openmm.System
        Unit masses, WCA + cos² tail attraction (w_c = 1.6 sigma), FENE and 1-3 harmonic springs.
    """
    system = mm.System()
    system.setDefaultPeriodicBoxVectors(*(mm.Vec3(*row) for row in np.diag(s.box)))
    pair = mm.CustomNonbondedForce(RAW_PAIR)
    pair.addPerParticleParameter("t")
    _, head, _, _ = s.bead_arrays()
    for h in head:
        system.addParticle(1.0)
        pair.addParticle([0.0 if h else 1.0])
    pair.setNonbondedMethod(mm.CustomNonbondedForce.CutoffPeriodic)
    pair.setCutoffDistance(2 ** (1 / 6) + 1.6)
    system.addForce(pair)
    fene = mm.CustomBondForce("-0.5*30*1.5^2*log(1 - (r/1.5)^2)")
    for i, j in s.fene_bonds():
        fene.addBond(int(i), int(j))
    system.addForce(fene)
    bend = mm.HarmonicBondForce()
    for i, j in s.bend_bonds():
        bend.addBond(int(i), int(j), 4.0, 10.0)
    system.addForce(bend)
    return system


def rate(step: Callable[[int], Any], context: mm.Context, seconds: float) -> float:
    """Steps per second of ``step(n)`` over about ``seconds`` of wall time, after a warm-up.

    Parameters
    ----------
    step : callable
        Advances ``context`` by n steps (an integrator's or simulation's ``step``).
    context : openmm.Context
        Queried for its energy after each call, to wait for the device.
    seconds : float
        Timed wall time (s).

    Returns
    -------
    float
        Steps per second (1/s).
    """
    step(20)
    context.getState(getEnergy=True)
    n, elapsed = 10, 0.0
    while True:
        t0 = time.perf_counter()
        step(n)
        context.getState(getEnergy=True)  # wait for the device to finish
        elapsed = time.perf_counter() - t0
        if elapsed > seconds / 4:
            break
        n *= 4
    total_steps, total = n, elapsed
    while total < seconds:
        t0 = time.perf_counter()
        step(n)
        context.getState(getEnergy=True)
        total += time.perf_counter() - t0
        total_steps += n
    return total_steps / total


def advance_rate(run: Run | Batch, seconds: float) -> float:
    """Steps per second of one ``run.advance(n)`` (outputs written as they fall due) of about
    ``seconds`` (s), n a multiple of 1000, after a warm-up of 1000 steps.

    Parameters
    ----------
    run : Run or Batch
        A single run or a batch of replicas.
    seconds : float
        Timed wall time (s).

    Returns
    -------
    float
        Steps per second (1/s).
    """
    run.advance(1000)
    t0 = time.perf_counter()
    run.advance(1000)
    n = max(1000, int(1000 / (time.perf_counter() - t0) * seconds) // 1000 * 1000)
    t0 = time.perf_counter()
    run.advance(n)
    return n / (time.perf_counter() - t0)


def bench_scenario(name: str, platform: str, size: float, precision: str) -> Scenario:
    """A fixed-area bilayer scenario of lateral ``size`` sigma with production output intervals
    (:data:`PRODUCTION_REPORT`), seed 1, on ``platform`` in ``precision``."""
    from exomembrane.scenario import Scenario

    return Scenario.model_validate({
        "name": name, "builder": {"kind": "bilayer", "size": size},
        "run": {"platform": platform, "precision": precision, "tension": None, "seed": 1,
                "report": PRODUCTION_REPORT}})
