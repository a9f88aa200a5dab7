"""The ``exomembrane`` command: run, resume and analyse scenarios headless; sweep them on Dask; list
platforms; benchmark.

Exit codes: 0 success; 2 bad input (scenario, options: :class:`~exomembrane.ConfigError`);
3 the simulation blew up (:class:`~exomembrane.SimulationError`); 4 a file problem
(:class:`OSError`); 130 / 143 stopped by SIGINT / SIGTERM after writing a checkpoint (resume it).
Failures print one reason, no traceback.

Example
-------
.. code-block:: bash

    exomembrane run systems/vesicle.yaml --steps 20000 --out runs/v
    exomembrane resume runs/v
    exomembrane analyze runs/v
    exomembrane sweep systems/sweeps/tension_scan.yaml --workers 2 --threads 1
    exomembrane sweep --resume runs/tension_scan --steps 100000   # every run carried on to 100000 steps
    exomembrane life-cycle --out runs/life_cycle   # bud -> release -> uptake, the cargo counted act by act
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from exomembrane.config import ConfigError
from exomembrane.engine.health import SimulationError
from exomembrane.engine.platform import ALL, PRECISIONS, available, select_platform
from exomembrane.run.directory import Run
from exomembrane.run.report import ANALYSIS, SUMMARY, analyze, describe
from exomembrane.scenario import load_scenario

EXIT_CONFIG, EXIT_SIMULATION, EXIT_FILE = 2, 3, 4


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``exomembrane`` console script; returns the exit code."""
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    if args.command == "bench":
        args.args = extra
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    warnings.showwarning = _show_warning
    try:
        return args.handler(args)
    except ConfigError as err:
        return _fail(args.command, err, EXIT_CONFIG)
    except SimulationError as err:
        return _fail(args.command, err, EXIT_SIMULATION)
    except OSError as err:
        return _fail(args.command, err, EXIT_FILE)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="exomembrane", description="Coarse-grained membrane simulations of the exosome life cycle on OpenMM.",
        epilog="Time unit: tau = 1 ps, so ns/day is model time. Exit codes: 0 ok, 2 bad input, 3 simulation "
               "blew up, 4 file error, 130/143 stopped by a signal (resume the run).")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="create a run directory from a scenario and run it")
    run.add_argument("scenario", type=Path,
                     help="scenario YAML file, or a shipped one by name (vesicle, flat_bilayer, self_assembly)")
    run.add_argument("--steps", type=int, help="total steps (default: the scenario's run.steps)")
    run.add_argument("--platform", choices=ALL, type=_platform_arg, help="OpenMM platform (default: fastest)")
    run.add_argument("--precision", choices=PRECISIONS, help="CUDA/OpenCL precision (default: mixed)")
    run.add_argument("--device", type=int, help="GPU index on this node (CUDA/OpenCL DeviceIndex; default: "
                     "EXOMEMBRANE_DEVICE, else OpenMM's choice)")
    run.add_argument("--out", type=Path, help="run directory (default: runs/<scenario name>)")
    run.add_argument("--seed", type=int, help="dynamics seed (default: the scenario's, or drawn at random)")
    run.add_argument("--set", action="append", default=[], metavar="KEY.PATH=VALUE",
                     help="override a scenario value, e.g. --set run.kT=1.0 (repeatable; values read as YAML)")
    run.add_argument("--overwrite", action="store_true", help="replace an existing run directory")
    run.add_argument("--quiet", action="store_true", help="no progress bar or messages, only errors")
    run.set_defaults(handler=_run)

    resume = sub.add_parser("resume", help="continue a run directory from its last checkpoint")
    resume.add_argument("directory", type=Path)
    resume.add_argument("--steps", type=int, help="total steps to reach (default: the run's target)")
    resume.add_argument("--platform", choices=ALL, type=_platform_arg,
                        help="must be the platform that wrote the checkpoint (default: that one)")
    resume.add_argument("--quiet", action="store_true", help="no progress bar or messages, only errors")
    resume.set_defaults(handler=_resume)

    analyze = sub.add_parser("analyze", help="summary JSON and plots of a run directory (in DIR/analysis)")
    analyze.add_argument("directory", type=Path)
    analyze.add_argument("--quiet", action="store_true", help="print nothing on success")
    analyze.add_argument("--movie", action="store_true", help="also write the movie (DIR/analysis/section.gif)")
    analyze.set_defaults(handler=_analyze)

    movie = sub.add_parser("movie", help="the run cut open from the side, every frame: a GIF (or MP4 with ffmpeg)")
    movie.add_argument("directory", type=Path)
    movie.add_argument("--out", type=Path, help="the file to write, .gif or .mp4 (default: DIR/analysis/section.gif)")
    movie.add_argument("--fps", type=int, default=8, help="frames per second (default 8)")
    movie.add_argument("--max-frames", type=int, default=150, help="at most this many frames, evenly spaced")
    movie.add_argument("--normal", choices=("x", "y"), default="y", help="box axis normal to the cut (default y)")
    movie.add_argument("--width", type=float, default=3.0, help="slab thickness in sigma (default 3)")
    movie.add_argument("--quiet", action="store_true", help="print nothing on success")
    movie.set_defaults(handler=_movie)

    sweep = sub.add_parser("sweep", help="run a parameter sweep / seed ensemble on Dask, then tabulate and plot it")
    sweep.add_argument("sweep", type=Path, nargs="?", help="sweep YAML file (see exomembrane.sweep)")
    sweep.add_argument("--out", type=Path, help="sweep directory (default: runs/<sweep name>)")
    sweep.add_argument("--resume", type=Path, metavar="DIR", help="finish an interrupted sweep directory")
    sweep.add_argument("--steps", type=int, help="with --resume: carry every run on to this many steps in all")
    sweep.add_argument("--workers", type=int, help="local cluster: worker processes (runs at once)")
    sweep.add_argument("--threads", type=int, help="local cluster: CPU threads per run")
    sweep.add_argument("--gpus", help="local cluster: GPU indices to use, e.g. 0,1 (default: all found)")
    sweep.add_argument("--scheduler", metavar="ADDRESS", help="use a running Dask scheduler, e.g. tcp://host:8786")
    sweep.add_argument("--quiet", action="store_true", help="no progress bar or messages, only errors")
    sweep.set_defaults(handler=_sweep)

    cycle = sub.add_parser("life-cycle", help="run the acts of the life cycle one after the other, each taking its "
                           "vesicle from the run before it, and count the cargo act by act")
    cycle.add_argument("acts", nargs="*", metavar="NAME=SCENARIO",
                       help="the acts in order (default: budding=ilv_ceramide_small release=mvb_fusion_chained "
                            "uptake=exosome_uptake_released)")
    cycle.add_argument("--out", type=Path, default=Path("runs/life_cycle"),
                       help="one folder per act under it; finished acts are kept, unfinished ones resumed "
                            "(default: runs/life_cycle)")
    cycle.add_argument("--quiet", action="store_true", help="print only the cargo table")
    cycle.set_defaults(handler=_life_cycle)

    platforms = sub.add_parser("platforms", help="OpenMM platforms usable here, and why others are not")
    platforms.set_defaults(handler=_platforms)

    bench = sub.add_parser("bench", help="benchmark against raw OpenMM (see exomembrane bench --help)",
                           add_help=False)  # its options are exomembrane.bench's own
    bench.set_defaults(handler=_bench)
    return parser


def _platform_arg(value: str) -> str:
    return {p.lower(): p for p in ALL}.get(value.lower(), value)


def _run(args: argparse.Namespace) -> int:
    overrides: dict[str, Any] = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {item}: expected KEY.PATH=VALUE, e.g. --set run.kT=1.0")
        overrides[key] = value
    for key, value in (("run.steps", args.steps), ("run.platform", args.platform),
                       ("run.precision", args.precision), ("run.seed", args.seed), ("run.device", args.device)):
        if value is not None:
            overrides[key] = value
    scenario = load_scenario(args.scenario, overrides)
    out = args.out or Path("runs") / scenario.name
    return _drive(Run.create(scenario, out, overwrite=args.overwrite), args.quiet)


def _resume(args: argparse.Namespace) -> int:
    run = Run.open(args.directory, platform=args.platform)
    if args.steps is not None:
        run.target_steps = args.steps
    return _drive(run, args.quiet)


def _drive(run: Run, quiet: bool) -> int:
    """Advance ``run`` to its target with a progress bar; SIGINT/SIGTERM stop it at a checkpoint."""
    received: list[int] = []

    def on_signal(signum: int, frame: object) -> None:
        received.append(signum)
        run.stop()
        signal.signal(signum, signal.SIG_DFL)  # a second signal ends the process at once

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    choice = run.simulation.platform_choice
    if not quiet:
        print(f"exomembrane: {run.directory}: step {run.step} -> {run.target_steps} on {choice.name} "
              f"({choice.reason})", file=sys.stderr)
    dt = run.scenario.run.dt
    start_step, start_time = run.step, time.perf_counter()
    bar = tqdm(total=run.target_steps, initial=run.step, unit="step", disable=quiet, dynamic_ncols=True,
               desc=run.scenario.name, file=sys.stderr, mininterval=0.5 if sys.stderr.isatty() else 30.0)

    def progress(r: Run) -> None:
        elapsed = time.perf_counter() - start_time
        ns_per_day = (r.step - start_step) * dt / 1000.0 * 86400.0 / elapsed if elapsed > 0 else 0.0
        bar.set_postfix_str(f"{ns_per_day:.3g} ns/day model time (tau = 1 ps)", refresh=False)
        bar.update(r.step - bar.n)

    try:
        with run:
            run.advance(run.remaining, callback=progress)
    finally:
        bar.close()
        for s, handler in previous.items():
            signal.signal(s, handler)
    if received:
        name = signal.Signals(received[0]).name
        print(f"exomembrane: stopped by {name} at step {run.step} (checkpoint written); continue with: "
              f"exomembrane resume {run.directory}", file=sys.stderr)
        return 128 + received[0]
    if not quiet:
        print(f"{run.directory}: {run.step} steps ({run.time:g} tau), {run.frames} frames on {choice.name}; "
              f"next: exomembrane analyze {run.directory}")
    return 0


def _life_cycle(args: argparse.Namespace) -> int:
    from exomembrane.run.life_cycle import LIFE_CYCLE, Act, cargo_through, life_cycle

    acts = list(LIFE_CYCLE)
    if args.acts:
        acts = []
        for item in args.acts:
            name, sep, scenario = item.partition("=")
            if not sep or not name or not scenario:
                raise ConfigError(f"acts: {item!r}: expected NAME=SCENARIO, e.g. budding=ilv_ceramide_small")
            acts.append(Act(name, scenario))
    last: dict[str, int] = {}

    def progress(run: Run) -> None:
        if not args.quiet and run.step - last.get(run.directory.name, 0) >= max(run.target_steps // 10, 1):
            last[run.directory.name] = run.step
            print(f"{run.directory}: step {run.step} of {run.target_steps}", file=sys.stderr)

    table = cargo_through(life_cycle(args.out, acts, progress=progress))
    table.to_csv(args.out / "cargo.csv", index=False)
    print(table.to_string(index=False))
    if not args.quiet:
        print(f"written: {args.out / 'cargo.csv'}; each act: exomembrane analyze {args.out}/<act>", file=sys.stderr)
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from exomembrane.config import parse
    from exomembrane.sweep import PLOTS, TABLE, load_sweep, run_sweep
    from exomembrane.sweep.cluster import ClusterSection

    if (args.sweep is None) == (args.resume is None):
        raise ConfigError("sweep: give a sweep file, or --resume DIR to finish an interrupted sweep (not both)")
    cluster: dict[str, Any] = {}
    for key, value in (("workers", args.workers), ("threads", args.threads)):
        if value is not None:
            if value < 1:
                raise ConfigError(f"--{key}: must be >= 1 (got {value})")
            cluster[key] = value
    if args.gpus is not None:
        try:
            cluster["gpus"] = [int(g) for g in args.gpus.split(",") if g.strip()]
        except ValueError:
            raise ConfigError(f"--gpus: expected device indices such as 0,1 (got {args.gpus!r})") from None
    if args.scheduler:
        cluster.update(kind="address", address=args.scheduler)
    if args.resume is not None:
        directory, sweep = args.resume, None
        if cluster:
            raise ConfigError("--resume: the cluster is the sweep's own; options --workers/--threads/--gpus/"
                              "--scheduler apply to a new sweep")
    else:
        sweep = load_sweep(args.sweep)
        if cluster:
            section = parse(ClusterSection, {**sweep.cluster.model_dump(), **cluster}, "command line: cluster")
            sweep = sweep.model_copy(update={"cluster": section})
        directory = args.out or Path("runs") / sweep.name
    table = run_sweep(sweep, directory, resume=args.resume is not None, steps=args.steps, progress=not args.quiet)
    failed = table[table["status"] != "ok"]
    if not args.quiet:
        print(f"{len(table) - len(failed)} of {len(table)} runs ok; table {directory / TABLE}.csv (.parquet), "
              f"plots in {directory / PLOTS}")
        for _, row in failed.iterrows():
            print(f"failed: {row['directory']}: {row['error']}")
    return EXIT_SIMULATION if len(failed) else 0


def _movie(args: argparse.Namespace) -> int:
    from exomembrane.run.movie import movie

    try:
        path = movie(args.directory, args.out, fps=args.fps, max_frames=args.max_frames, normal=args.normal,
                     width=args.width)
    except ValueError as err:
        raise ConfigError(f"movie: {err}") from None
    if not args.quiet:
        print(f"wrote {path}")
    return 0


def _analyze(args: argparse.Namespace) -> int:
    summary = analyze(args.directory, movie=args.movie)
    if not args.quiet:
        print(json.dumps({k: v for k, v in summary.items() if k != "series"}, indent=1))
        for text in describe(summary):
            print(text)
        print(f"wrote {args.directory / ANALYSIS}/{SUMMARY} and {len(summary['plots'])} plots")
    return 0


def _platforms(args: argparse.Namespace) -> int:
    from exomembrane.engine import native

    for name, why in available().items():
        print(f"{name:10s} {'usable' if why is None else 'not usable: ' + why}")
    for name, kernel in native.KERNELS.items():
        why = native.load(name)
        print(f"{name} pair kernel: "
              f"{'native plugin, ' + kernel if why is None else 'CustomNonbondedForce (native plugin: ' + why + ')'}")
    print(f"default: {select_platform().reason}")
    return 0


def _bench(args: argparse.Namespace) -> int:
    from exomembrane.bench import main as bench_main

    return bench_main(args.args)


def _fail(command: str, err: BaseException, code: int) -> int:
    print(f"exomembrane {command}: error: {err}", file=sys.stderr)
    return code


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: Any = None, line: str | None = None) -> None:
    print(f"exomembrane: warning: {message}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
