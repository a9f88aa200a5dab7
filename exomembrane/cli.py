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

import numpy as np
from tqdm import tqdm

from . import analysis
from .config import ConfigError
from .system import TERMS
from .health import SimulationError
from .platform import ALL, PRECISIONS, available, select_platform
from .run import MANIFEST, SCENARIO, Run, load_thermo, load_trajectory
from .scenario import load_scenario

EXIT_CONFIG, EXIT_SIMULATION, EXIT_FILE = 2, 3, 4
ANALYSIS = "analysis"


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
    analyze.set_defaults(handler=_analyze)

    sweep = sub.add_parser("sweep", help="run a parameter sweep / seed ensemble on Dask, then tabulate and plot it")
    sweep.add_argument("sweep", type=Path, nargs="?", help="sweep YAML file (see exomembrane.sweep)")
    sweep.add_argument("--out", type=Path, help="sweep directory (default: runs/<sweep name>)")
    sweep.add_argument("--resume", type=Path, metavar="DIR", help="finish an interrupted sweep directory")
    sweep.add_argument("--workers", type=int, help="local cluster: worker processes (runs at once)")
    sweep.add_argument("--threads", type=int, help="local cluster: CPU threads per run")
    sweep.add_argument("--gpus", help="local cluster: GPU indices to use, e.g. 0,1 (default: all found)")
    sweep.add_argument("--scheduler", metavar="ADDRESS", help="use a running Dask scheduler, e.g. tcp://host:8786")
    sweep.add_argument("--quiet", action="store_true", help="no progress bar or messages, only errors")
    sweep.set_defaults(handler=_sweep)

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


def _sweep(args: argparse.Namespace) -> int:
    from .cluster import ClusterSection
    from .config import parse
    from .sweep import PLOTS, TABLE, load_sweep, run_sweep

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
    table = run_sweep(sweep, directory, resume=args.resume is not None, progress=not args.quiet)
    failed = table[table["status"] != "ok"]
    if not args.quiet:
        print(f"{len(table) - len(failed)} of {len(table)} runs ok; table {directory / TABLE}.csv (.parquet), "
              f"plots in {directory / PLOTS}")
        for _, row in failed.iterrows():
            print(f"failed: {row['directory']}: {row['error']}")
    return EXIT_SIMULATION if len(failed) else 0


def _analyze(args: argparse.Namespace) -> int:
    summary = analyze(args.directory)
    if not args.quiet:
        print(json.dumps({k: v for k, v in summary.items() if k != "series"}, indent=1))
        if "budding" in summary:
            print(budding_report(summary["budding"]))
        print(f"wrote {args.directory / ANALYSIS}/summary.json and {len(summary['plots'])} plots")
    return 0


def analyze(directory: str | Path) -> dict[str, Any]:
    """Analyse a run directory; writes ``analysis/summary.json`` and PNG plots there.

    Always: energies and kinetic temperature, box, number of membranes (per frame). Flat bilayers:
    lipid order, area per lipid, bending rigidity (kT) and lateral diffusion (sigma^2/tau); lipid
    gas (self-assembly): lipid order; vesicles: radius and asphericity; MVB membranes (budding):
    bud height and direction (from the recorded sides), neck radius, scission, ILV diameter, cargo
    enrichment with its interval, and a picture of the membrane cut open (``section.png``).
    Estimates that need more data than the run has are null, with the reason.

    Returns
    -------
    The summary: scalars (means over the second half of the frames), per-frame ``series`` and
    the ``plots`` written.
    """
    directory = Path(directory)
    if not (directory / MANIFEST).is_file():
        raise FileNotFoundError(f"{directory}: not a run directory (no {MANIFEST})")
    scenario = load_scenario(directory / SCENARIO)
    manifest = json.loads((directory / MANIFEST).read_text())
    thermo = load_thermo(directory)
    traj = load_trajectory(directory)
    out = directory / ANALYSIS
    out.mkdir(exist_ok=True)
    kind = scenario.builder.kind
    late = slice(traj.n_frames // 2, None)

    series: dict[str, np.ndarray] = {"time": traj.time, "membranes": analysis.count_membranes(traj)}
    summary: dict[str, Any] = {
        "run": str(directory), "scenario": scenario.name, "builder": kind, "n_beads": traj.n_atoms,
        "steps_done": manifest["steps_done"], "frames": traj.n_frames,
        "time_tau": [float(traj.time[0]), float(traj.time[-1])],
        "platform": manifest["segments"][-1]["platform"],
        "thermo_second_half_mean": {k: float(v[len(v) // 2:].mean()) for k, v in thermo.items()
                                    if k not in ("step", "time")},
        "membranes": {"first": int(series["membranes"][0]), "last": int(series["membranes"][-1]),
                      "changes_at_tau": traj.time[1:][np.diff(series["membranes"]) != 0].tolist()},
    }
    if kind in ("bilayer", "gas"):  # a sheet: S near 1; self-assembly raises it from ~0
        series["lipid_order"] = analysis.lipid_order(traj)[0]
        summary["lipid_order_S"] = _mean_std(series["lipid_order"][late])
    if kind == "bilayer":
        series["area_per_lipid"] = analysis.area_per_lipid(traj)
        summary["area_per_lipid_sigma2"] = _mean_std(series["area_per_lipid"][late])
        summary["bending_rigidity_kT"] = _estimate(analysis.bending_rigidity, traj[late])
        summary["diffusion_sigma2_per_tau"] = _estimate(analysis.diffusion_coefficient, traj[late])
    if kind == "vesicle":
        shape = analysis.vesicle_shape(traj)
        for key in ("radius", "midplane_radius", "asphericity"):
            series[key] = shape[key]
            summary[f"vesicle_{key}"] = _mean_std(shape[key][late])

    plots = []
    if kind in ("mvb_patch", "mvb_vesicle"):
        budding, picture = _budding(traj, scenario, manifest["sides"], out)
        summary["budding"] = budding.pop("scalars")
        series.update(budding)
        plots.append(picture)
    plots += [_plot_energies(thermo, scenario.run.kT, out), _plot_box(thermo, out)]
    plots += [_plot_series(series, key, out) for key in series if key != "time"]
    summary["plots"] = [p.name for p in plots]
    summary["series"] = {k: [x if np.isfinite(x) else None for x in np.asarray(v, float).tolist()]
                         for k, v in series.items()}
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def budding_report(b: dict[str, Any]) -> str:
    """A few lines that tell what happened to the membrane, from ``summary["budding"]``."""
    def num(x: float | None, unit: str = " sigma") -> str:
        return "-" if x is None else f"{x:.1f}{unit}"

    lines = [f"budding (lumen on the {b['lumen']} side):",
             f"  bud height      {num(b['bud_height_max_sigma'])} (largest), direction: {b['direction']}",
             f"  neck radius     {num(b['neck_radius_min_sigma'])} (narrowest)",
             "  scission        " + ("none" if b["scission_frame"] < 0 else
                                      f"at t = {b['scission_time_tau']:.0f} tau: an ILV of diameter "
                                      f"{num(b['ilv_diameter_sigma'])} in the {b['ilv_side']}")]
    for name, e in b["enrichment"].items():
        ci = "-" if None in e["ci"] else f"[{e['ci'][0]:.2f}, {e['ci'][1]:.2f}]"
        lines.append(f"  {name:<6} enrichment in the bud/ILV: {num(e['ratio'], '')} ({e['confidence']:.0%} CI {ci}, "
                     f"{e['molecules']} molecules, {e['kind']})")
    return "\n".join(lines)


def _budding(traj: Any, scenario: Any, sides: dict[str, str], out: Path) -> tuple[dict[str, Any], Path]:
    """Budding series and scalars (``"scalars"``) of an MVB run, and its cut-open picture."""
    from .section import cross_section

    lumen = sides["lumen"]
    cargo = {p.species: "membrane" if p.where == "membrane" or p.at is not None else "lumen"
             for p in scenario.builder.proteins}
    b = analysis.budding_summary(traj, lumen, cargo)
    frame = b["scission_frame"]
    peak = int(np.nanargmax(b["bud_height"]))
    scalars = {
        "lumen": lumen,
        "bud_height_max_sigma": float(np.nanmax(b["bud_height"])),
        "direction": {1: "into the lumen", -1: "into the cytosol", 0: "none"}[int(b["direction"][peak])],
        "neck_radius_min_sigma": None if np.all(np.isnan(b["neck_radius"])) else float(np.nanmin(b["neck_radius"])),
        "scission_frame": frame, "scission_time_tau": None if frame < 0 else b["scission_time"],
        "ilv_side": {1: "lumen", -1: "cytosol", 0: None}[b["ilv_side"]],
        "ilv_diameter_sigma": None if frame < 0 else float(np.nanmean(b["ilv_diameter"][frame:])),
        "enrichment": {name: {"ratio": _finite(e["ratio"]), "ci": [_finite(v) for v in e["ci"]],
                              "confidence": e["confidence"], "kind": e["kind"], "molecules": e["n_molecules"]}
                       for name, e in b["enrichment"].items()},
    }
    series = {key: b[key] for key in ("bud_height", "neck_radius", "ilv_diameter")}
    fig = cross_section(traj, -1, sides=sides, title=f"{scenario.name}: last frame, t = {traj.time[-1]:.0f} tau")
    return {"scalars": scalars, **series}, _save(fig, out / "section.png")


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


LABELS = {"membranes": "separate membranes", "bud_height": "bud height (sigma)", "neck_radius": "neck radius (sigma)",
          "ilv_diameter": "ILV diameter (sigma)", "area_per_lipid": "area per lipid (sigma^2)",
          "lipid_order": "lipid nematic order S",
          "radius": "vesicle head radius (sigma)", "midplane_radius": "vesicle midplane radius (sigma)",
          "asphericity": "asphericity"}


def _mean_std(values: np.ndarray) -> dict[str, float]:
    return {"mean": float(np.mean(values)), "std": float(np.std(values))}


def _estimate(function: Any, traj: Any) -> dict[str, Any]:
    """``{"value", "err"}`` of an estimator, or ``{"value": None, "reason"}`` if the data are too few."""
    try:
        value, err = function(traj)
    except ValueError as why:
        return {"value": None, "reason": str(why)}
    return {"value": value, "err": err}


def _figure(rows: int, height: float) -> tuple[Any, Any]:
    from matplotlib.figure import Figure  # no pyplot: no global state, no display needed

    fig = Figure(figsize=(7, height))
    return fig, fig.subplots(rows, 1, sharex=True)


def _plot_energies(thermo: dict[str, np.ndarray], kT: float, out: Path) -> Path:
    fig, (top, bottom) = _figure(2, 6)
    for key in ("potential", "kinetic", *TERMS):
        top.plot(thermo["time"], thermo[key], label=key)
    top.set_ylabel("energy (eps)")
    top.legend(fontsize="small")
    bottom.plot(thermo["time"], thermo["kT"], label="kinetic")
    bottom.axhline(kT, color="grey", linestyle="--", label="thermostat")
    bottom.set_ylabel("kT (eps)")
    bottom.legend(fontsize="small")
    bottom.set_xlabel("time (tau)")
    return _save(fig, out / "energies.png")


def _plot_box(thermo: dict[str, np.ndarray], out: Path) -> Path:
    fig, (top, bottom) = _figure(2, 5)
    for key in ("box_x", "box_y", "box_z"):
        top.plot(thermo["time"], thermo[key], label=key)
    top.set_ylabel("box length (sigma)")
    top.legend(fontsize="small")
    bottom.plot(thermo["time"], thermo["box_x"] * thermo["box_y"])
    bottom.set_ylabel("box area xy (sigma^2)")
    bottom.set_xlabel("time (tau)")
    return _save(fig, out / "box.png")


def _plot_series(series: dict[str, np.ndarray], key: str, out: Path) -> Path:
    from matplotlib.ticker import MaxNLocator

    fig, ax = _figure(1, 3.5)
    ax.plot(series["time"], series[key], drawstyle="steps-post" if key == "membranes" else "default")
    if key == "membranes":
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("time (tau)")
    ax.set_ylabel(LABELS[key])
    return _save(fig, out / f"{key}.png")


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    return path


def _platforms(args: argparse.Namespace) -> int:
    from . import native

    for name, why in available().items():
        print(f"{name:10s} {'usable' if why is None else 'not usable: ' + why}")
    for name, kernel in native.KERNELS.items():
        why = native.load(name)
        print(f"{name} pair kernel: "
              f"{'native plugin, ' + kernel if why is None else 'CustomNonbondedForce (native plugin: ' + why + ')'}")
    print(f"default: {select_platform().reason}")
    return 0


def _bench(args: argparse.Namespace) -> int:
    from .bench import main as bench_main

    return bench_main(args.args)


def _fail(command: str, err: BaseException, code: int) -> int:
    print(f"exomembrane {command}: error: {err}", file=sys.stderr)
    return code


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: Any = None, line: str | None = None) -> None:
    print(f"exomembrane: warning: {message}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
