"""Throughput benchmark: exomembrane's engine next to a minimal hand-written OpenMM build.

``exomembrane bench`` (or ``python -m exomembrane.bench``) builds flat Cooke bilayers of several
sizes and reports steps/s and particle-steps/s per platform, for our full simulation (a run
with production outputs and health checks) and for a raw OpenMM System of the same model written
the textbook way, in one run, so the overhead (or gain) of our layer is visible.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import openmm as mm

from .build import bilayer
from .engine import create_simulation, temperature
from .forcefield import load_forcefield
from .platform import available, cpu_model, properties, select_platform
from .structure import Structure

#: Bilayer sizes (sigma) giving ~21.6k, ~86.4k, ~346k and ~1.38M beads; the CPU gets ~5.4k, ~21.6k and ~86.4k.
GPU_SIZES = (65.7, 131.5, 263.0, 526.0)
CPU_SIZES = (32.9, 65.7, 131.5)

RAW_PAIR = (
    "4*((b/r)^12 - (b/r)^6 + 0.25)*step(2^(1/6)*b - r)"
    " - t1*t2*(step(rc - r) + step(r - rc)*cos(pi*(r - rc)/(2*wc))^2);"
    "b = select(t1*t2, 1.0, 0.95); rc = 2^(1/6); pi = 3.141592653589793; wc = 1.6"
)


def raw_system(s: Structure) -> mm.System:
    """The Cooke model as a user would write it directly in OpenMM (single species LIP)."""
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


def _rate(step, context: mm.Context, seconds: float) -> float:
    """Steps per second of ``step(n)`` over about ``seconds`` of wall time, after a warm-up."""
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


def _advance_rate(run, seconds: float) -> float:
    """Steps per second of one ``run.advance(n)`` (a Run or Batch: outputs written as they fall due)
    of about ``seconds``, n a multiple of 1000, after a warm-up of 1000 steps."""
    run.advance(1000)
    t0 = time.perf_counter()
    run.advance(1000)
    n = max(1000, int(1000 / (time.perf_counter() - t0) * seconds) // 1000 * 1000)
    t0 = time.perf_counter()
    run.advance(n)
    return n / (time.perf_counter() - t0)


def lammps_rates(s: Structure, seconds: float, ranks: Sequence[int]) -> dict[int, float]:
    """Steps/s of LAMMPS on the same structure per number of MPI ranks, after checking that its
    pair and bond energies equal ours (Reference platform, relative 1e-9). Raises RuntimeError."""
    from . import peer
    from .system import TERMS, create_system

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


#: Output intervals (steps) of production runs: what "our engine with reporters on" writes.
PRODUCTION_REPORT = {"trajectory": 5000, "thermo": 1000, "checkpoint": 50000}


def _bench_scenario(name: str, platform: str, size: float, precision: str):
    """A fixed-area bilayer of lateral ``size`` sigma with production output intervals."""
    from .scenario import Scenario

    return Scenario.model_validate({
        "name": name, "builder": {"kind": "bilayer", "size": size},
        "run": {"platform": platform, "precision": precision, "tension": None, "seed": 1,
                "report": PRODUCTION_REPORT}})


def measure(platform: str, size: float, seconds: float, precision: str = "mixed",
            lammps: Sequence[int] = ()) -> dict:
    """Rates of our engine, of the raw build and (``lammps``: numbers of MPI ranks) of LAMMPS for one
    bilayer of lateral ``size`` sigma; ``lammps_steps_per_s`` is the fastest LAMMPS configuration.

    Ours is a whole run (:class:`~exomembrane.run.Run`) with production outputs (trajectory frame
    every 5000 steps, thermo row with per-term energies every 1000, checkpoint every 50000, health
    check every 1000); the raw build steps its integrator and writes nothing."""
    from .run import Run

    with tempfile.TemporaryDirectory() as tmp, \
            Run.create(_bench_scenario("bench", platform, size, precision), Path(tmp) / "run") as run:
        sim = run.simulation
        s = sim.structure
        ours = _advance_rate(run, seconds)
        kernel = sim.pair_kernel
    choice = select_platform(platform)
    integ = mm.LangevinMiddleIntegrator(temperature(1.1), 1.0, 0.01)
    ctx = mm.Context(raw_system(s), integ, choice.platform, properties(choice, precision))
    ctx.setPositions(s.positions)
    ctx.setVelocitiesToTemperature(temperature(1.1), 1)
    raw = _rate(integ.step, ctx, seconds)
    row = {"platform": platform, "precision": precision, "beads": s.n_beads, "pair_kernel": kernel,
           "ours_steps_per_s": ours, "raw_steps_per_s": raw, "ours_particle_steps_per_s": ours * s.n_beads,
           "raw_particle_steps_per_s": raw * s.n_beads, "ratio": ours / raw}
    if lammps:
        rates = lammps_rates(s, seconds, lammps)
        best = max(rates, key=rates.get)
        row.update(lammps_ranks=best, lammps_steps_per_s=rates[best], lammps_all={str(k): v for k, v in rates.items()},
                   ratio_lammps=ours / rates[best])
    return row


def protein_cost(platform: str, size: float, seconds: float, precision: str = "mixed",
                 fraction: float = 0.1) -> dict:
    """Steps/s of an MVB patch of lateral ``size`` sigma without and with ``fraction`` of its beads in
    proteins and cargo (tetraspanin cones, transmembrane cargo, RNA; every pair-table entry among
    them active), same engine, same settings."""
    from .build import Placement, mvb_patch

    ff = load_forcefield()
    plain = mvb_patch(ff, size)
    per = {n: len(ff.get(n).beads) for n in ("TSPN", "CARG", "RNA")}
    # beads in proteins: cones 60 %, cargo 30 %, RNA 10 % (of fraction x the patch's beads)
    n = {k: max(1, round(w * fraction * plain.n_beads / per[k])) for k, w in (("TSPN", 0.6), ("CARG", 0.3),
                                                                               ("RNA", 0.1))}
    mixed = mvb_patch(ff, size, proteins=[Placement(species="TSPN", count=n["TSPN"]),
                                          Placement(species="CARG", count=n["CARG"]),
                                          Placement(species="RNA", count=n["RNA"], where="cytosol")])
    rates = []
    for s in (plain, mixed):
        sim = create_simulation(s, platform=platform, precision=precision, seed=1)
        rates.append(_rate(sim.step, sim.context, seconds))
    protein_beads = int((~mixed.is_lipid()[mixed.bead_molecule()]).sum())
    return {"platform": platform, "precision": precision, "lipid_beads": plain.n_beads, "beads": mixed.n_beads,
            "protein_fraction": protein_beads / mixed.n_beads, "lipid_steps_per_s": rates[0],
            "protein_steps_per_s": rates[1], "ratio": rates[1] / rates[0]}


def live_overhead(platform: str, size: float, seconds: float, precision: str = "mixed", rounds: int = 3) -> dict:
    """Steps/s of one run advanced headless (``Run.advance``) and live (:class:`~exomembrane.widgets.LiveRun`:
    background thread, view and plots refreshed every second), alternating ``rounds`` times, each
    leg about ``seconds`` long; same bilayer of lateral ``size`` sigma, same outputs written.

    Also the fractions of the live legs' wall time that the runner thread spent on the live
    layer's own work (samples, edits) and that the display thread was busy: the live path's cost
    measured directly, which, unlike the rate ratio, does not drown in run-to-run noise."""
    from .run import Run
    from .scenario import Scenario
    try:
        from .widgets import LiveRun
    except ImportError as err:
        raise SystemExit(f"bench --live needs the notebook extra: pip install 'exomembrane[notebook]' "
                         f"({err})") from None

    scenario = Scenario.model_validate({"name": "bench-live", "builder": {"kind": "bilayer", "size": size},
                                        "run": {"platform": platform, "precision": precision, "seed": 1}})
    with tempfile.TemporaryDirectory() as tmp:
        run = Run.create(scenario, Path(tmp) / "run")
        n_beads = run.simulation.system.getNumParticles()
        live = LiveRun(run)
        try:
            t0 = time.perf_counter()
            run.advance(200)
            n = max(200, int(200 / (time.perf_counter() - t0) * seconds) // 100 * 100)
            headless, live_rates, live_wall = [], [], 0.0
            for _ in range(rounds):
                t0 = time.perf_counter()
                run.advance(n)
                headless.append(n / (time.perf_counter() - t0))
                t0 = time.perf_counter()
                live.start(n)
                live.wait()
                elapsed = time.perf_counter() - t0
                live_wall += elapsed
                live_rates.append(n / elapsed)
        finally:
            live.close()
    ours, driven = statistics.median(headless), statistics.median(live_rates)
    return {"platform": platform, "precision": precision, "beads": n_beads, "steps": n, "rounds": rounds,
            "headless_steps_per_s": ours, "live_steps_per_s": driven, "ratio": driven / ours,
            "runner_busy_fraction": live.runner.busy / live_wall, "display_busy_fraction": live.busy / live_wall}


def ensemble_throughput(platform: str, size: float, seconds: float, replicas: int,
                        precision: str = "mixed") -> dict:
    """Ensemble throughput of a fixed-area bilayer of lateral ``size`` sigma: ``replicas`` seeds
    run as one batch (:class:`~exomembrane.batch.Batch`; 1: a single run), each writing its own run
    directory with production output intervals (frame every 5000 steps, thermo row every 1000,
    checkpoint every 50000). Timed over about ``seconds`` after a warm-up."""
    from .batch import Batch
    from .run import Run

    scenario = _bench_scenario("bench-ensemble", platform, size, precision)
    with tempfile.TemporaryDirectory() as tmp:
        dirs = [Path(tmp) / f"seed-{k + 1}" for k in range(replicas)]
        runner = Run.create(scenario, dirs[0]) if replicas == 1 else Batch.create(
            [scenario.with_overrides({"run.seed": k + 1}) for k in range(replicas)], dirs)
        with runner:
            n_beads = runner.simulation.system.getNumParticles() // replicas
            rate = _advance_rate(runner, seconds)
    return {"platform": platform, "precision": precision, "beads_per_replica": n_beads, "replicas": replicas,
            "steps_per_s": rate, "replica_steps_per_s": rate * replicas,
            "particle_steps_per_s": rate * replicas * n_beads}


def analysis_timings(size: float = 141.0, n_frames: int = 100, seed: int = 0) -> dict[str, float]:
    """Wall seconds of each analysis function on a synthetic trajectory of a ~100k-bead bilayer
    (``size`` sigma) with ``n_frames`` jittered frames."""
    import mdtraj

    from . import analysis

    s = bilayer(load_forcefield(), size)
    rng = np.random.default_rng(seed)
    xyz = (s.positions[None] + rng.normal(scale=0.1, size=(n_frames, *s.positions.shape))).astype(np.float32)
    traj = mdtraj.Trajectory(xyz, s.to_mdtraj().topology, time=np.arange(n_frames) * 10.0,
                             unitcell_lengths=np.tile(s.box, (n_frames, 1)), unitcell_angles=np.full((n_frames, 3), 90.0))
    calls = {"count_membranes": analysis.count_membranes, "assign_leaflets": analysis.assign_leaflets,
             "area_per_lipid": analysis.area_per_lipid, "bending_rigidity": analysis.bending_rigidity,
             "diffusion_coefficient": analysis.diffusion_coefficient, "vesicle_shape": analysis.vesicle_shape}
    out = {"beads": float(s.n_beads), "frames": float(n_frames)}
    for name, fn in calls.items():
        t0 = time.perf_counter()
        fn(traj)
        out[name] = time.perf_counter() - t0
    return out


def table(rows: list[dict]) -> str:
    head = (f"{'platform':<10}{'beads':>10}{'ours steps/s':>14}{'raw steps/s':>13}{'LAMMPS steps/s':>16}"
            f"{'ours part-steps/s':>19}{'/raw':>7}{'/LAMMPS':>9}")
    lines = [head, "-" * len(head)]
    for r in rows:
        lmp = (f"{r['lammps_steps_per_s']:>10.1f} ({r['lammps_ranks']}r)", f"{r['ratio_lammps']:>9.2f}") \
            if "lammps_steps_per_s" in r else (f"{'-':>16}", f"{'-':>9}")
        lines.append(f"{r['platform']:<10}{r['beads']:>10}{r['ours_steps_per_s']:>14.1f}{r['raw_steps_per_s']:>13.1f}"
                     f"{lmp[0]}{r['ours_particle_steps_per_s']:>19.3e}{r['ratio']:>7.2f}{lmp[1]}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="exomembrane bench", description=__doc__.splitlines()[0])
    parser.add_argument("--platform", action="append", help="platform(s) to run (default: all usable)")
    parser.add_argument("--sizes", type=float, nargs="+", help="bilayer lateral sizes in sigma")
    parser.add_argument("--seconds", type=float, default=5.0, help="timed wall seconds per measurement")
    parser.add_argument("--precision", default="mixed", choices=("single", "mixed", "double"))
    parser.add_argument("--json", help="also write the rows to this JSON file")
    parser.add_argument("--lammps", type=int, nargs="*", metavar="RANKS",
                        help="also time LAMMPS (pair_style cosine/squared) on these numbers of MPI ranks "
                             "(default when LAMMPS is installed: 1 and 2); --lammps with no number: off")
    parser.add_argument("--analysis", action="store_true",
                        help="time the analysis functions on a 100k-bead, 100-frame trajectory instead")
    parser.add_argument("--proteins", action="store_true",
                        help="measure an MVB patch with 10%% of its beads in proteins against the lipid-only patch")
    parser.add_argument("--replicas", type=int, nargs="+", metavar="K",
                        help="ensemble throughput of K replicas batched in one Context (1: one run at a time) "
                             "instead; e.g. --replicas 1 4 16")
    parser.add_argument("--live", action="store_true",
                        help="measure a live (notebook) run against the same run headless instead")
    args = parser.parse_args(argv)
    if args.analysis:
        timings = analysis_timings()
        print(f"analysis of {int(timings.pop('beads'))} beads x {int(timings.pop('frames'))} frames (wall s):")
        for name, seconds in timings.items():
            print(f"  {name:<24}{seconds:8.2f}")
        return 0
    platforms = args.platform or [p for p, why in available().items() if why is None and p != "Reference"]
    if args.proteins:
        rows = []
        print(f"{'platform':<10}{'beads':>10}{'protein beads':>15}{'lipid-only steps/s':>20}{'with proteins':>15}"
              f"{'ratio':>7}")
        for plat in platforms:
            for size in args.sizes or (GPU_SIZES[:2] if plat in ("CUDA", "OpenCL") else CPU_SIZES[:1]):
                r = protein_cost(plat, size, args.seconds, args.precision)
                rows.append(r)
                print(f"{plat:<10}{r['beads']:>10}{r['protein_fraction']:>15.1%}{r['lipid_steps_per_s']:>20.1f}"
                      f"{r['protein_steps_per_s']:>15.1f}{r['ratio']:>7.2f}", flush=True)
        if args.json:
            Path(args.json).write_text(json.dumps(rows, indent=1))
        return 0
    if args.replicas:
        batch_rows = []
        print(f"{'platform':<10}{'beads/replica':>14}{'replicas':>9}{'steps/s':>9}{'replica-steps/s':>16}"
              f"{'part-steps/s':>14}{'gain':>6}")
        for plat in platforms:
            for size in args.sizes or GPU_SIZES[:1]:
                single = None
                for k in args.replicas:
                    r = ensemble_throughput(plat, size, args.seconds, k, args.precision)
                    single = r["replica_steps_per_s"] if k == 1 else single
                    r["gain"] = r["replica_steps_per_s"] / single if single else None
                    batch_rows.append(r)
                    gain = f"{r['gain']:>6.2f}" if r["gain"] else f"{'-':>6}"
                    print(f"{plat:<10}{r['beads_per_replica']:>14}{k:>9}{r['steps_per_s']:>9.1f}"
                          f"{r['replica_steps_per_s']:>16.1f}{r['particle_steps_per_s']:>14.3e}{gain}", flush=True)
        if args.json:
            Path(args.json).write_text(json.dumps(batch_rows, indent=1))
        return 0
    if args.live:
        live_rows = []
        print(f"{'platform':<10}{'beads':>10}{'headless steps/s':>18}{'live steps/s':>14}{'ratio':>7}"
              f"{'runner busy':>13}{'display busy':>14}")
        for plat in platforms:
            for size in args.sizes or (GPU_SIZES[1:2] if plat in ("CUDA", "OpenCL") else CPU_SIZES[:1]):
                r = live_overhead(plat, size, args.seconds, args.precision)
                live_rows.append(r)
                print(f"{plat:<10}{r['beads']:>10}{r['headless_steps_per_s']:>18.1f}{r['live_steps_per_s']:>14.1f}"
                      f"{r['ratio']:>7.3f}{r['runner_busy_fraction']:>13.2%}{r['display_busy_fraction']:>14.2%}",
                      flush=True)
        if args.json:
            Path(args.json).write_text(json.dumps(live_rows, indent=1))
        return 0
    from . import peer

    found = peer.programs()
    ranks = args.lammps if args.lammps is not None else ([] if isinstance(found, str) else
                                                         sorted({1, min(2, os.cpu_count() or 1)}))
    if ranks and isinstance(found, str):
        raise SystemExit(f"bench --lammps: {found}")
    if not ranks:
        print(f"no LAMMPS row: {found if isinstance(found, str) else 'turned off (--lammps)'}")
    rows = []
    print(f"machine: {cpu_model()} ({os.cpu_count()} cores); OpenMM {mm.__version__}"
          + ("" if isinstance(found, str) else f"; LAMMPS from {found[0]}"), flush=True)
    print(table([]).splitlines()[0], flush=True)
    for plat in platforms:
        sizes = args.sizes or (GPU_SIZES if plat in ("CUDA", "OpenCL") else CPU_SIZES)
        for size in sizes:
            rows.append(measure(plat, size, args.seconds, args.precision, ranks))
            print(table(rows[-1:]).splitlines()[-1], flush=True)
    print(table(rows))
    for plat in platforms:
        print(f"{plat} pair force: {next(r['pair_kernel'] for r in rows if r['platform'] == plat)}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
