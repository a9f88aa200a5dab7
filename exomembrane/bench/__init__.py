"""Throughput benchmark: exomembrane's engine next to a minimal hand-written OpenMM build.

``exomembrane bench`` (or ``python -m exomembrane.bench``) builds flat Cooke bilayers of several
sizes and reports steps/s and particle-steps/s per platform, for our full simulation (a run with
production outputs and health checks), for a raw OpenMM System of the same model written the
textbook way and, where installed, for LAMMPS, so the overhead (or gain) of our layer is visible.
``--analysis``, ``--proteins``, ``--replicas K ...`` and ``--live`` (or the subcommands
``analysis``, ``proteins``, ``replicas K ...``, ``live``) run the other benchmarks instead: one
module each in this package, each a :class:`~exomembrane.bench.raw.Mode` run by :func:`main`.
"""
from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from exomembrane.bench import analysis, engine, live, proteins, replicas
from exomembrane.bench.raw import Mode
from exomembrane.engine.platform import available

#: The benchmarks, in the precedence of their flags; the last (engine) is the default.
MODES: tuple[Mode, ...] = (analysis.MODE, proteins.MODE, replicas.MODE, live.MODE, engine.MODE)


def _parser() -> argparse.ArgumentParser:
    first_line = __doc__.splitlines()[0]
    parser = argparse.ArgumentParser(
        prog="exomembrane bench", description=first_line,
        epilog="subcommands: 'exomembrane bench MODE ...' is 'exomembrane bench --MODE ...' for MODE in "
               + ", ".join(m.name for m in MODES[:-1]) + " (e.g. 'exomembrane bench replicas 1 4 16')")
    parser.add_argument("--platform", action="append", help="platform(s) to run (default: all usable)")
    parser.add_argument("--sizes", type=float, nargs="+", help="bilayer lateral sizes in sigma")
    parser.add_argument("--seconds", type=float, default=5.0, help="timed wall seconds per measurement")
    parser.add_argument("--precision", default="mixed", choices=("single", "mixed", "double"))
    parser.add_argument("--json", help="also write the rows to this JSON file")
    parser.add_argument("--lammps", type=int, nargs="*", metavar="RANKS",
                        help="also time LAMMPS (pair_style cosine/squared) on these numbers of MPI ranks "
                             "(default when LAMMPS is installed: 1 and 2); --lammps with no number: off")
    parser.add_argument("--analysis", action="store_true", help=analysis.MODE.help)
    parser.add_argument("--proteins", action="store_true", help=proteins.MODE.help)
    parser.add_argument("--replicas", type=int, nargs="+", metavar="K", help=replicas.MODE.help)
    parser.add_argument("--live", action="store_true", help=live.MODE.help)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``exomembrane bench`` with the command-line arguments ``argv`` (default: ``sys.argv[1:]``).

    Picks the mode from its flag or subcommand (default: engine), then measures platforms x sizes
    (each mode's default sizes per platform unless ``--sizes``), printing each row as it comes,
    the mode's summary, and writing all rows to ``--json``. Returns the exit code (0).
    """
    argv = list(argv) if argv is not None else None
    names = {m.name for m in MODES}
    if argv and argv[0] in names:  # subcommand form
        argv = argv[1:] if argv[0] == engine.MODE.name else [f"--{argv[0]}", *argv[1:]]
    args = _parser().parse_args(argv)
    mode = next((m for m in MODES[:-1] if getattr(args, m.name)), MODES[-1])
    platforms: list[str | None] = [None]
    if mode.per_platform:
        platforms = args.platform or [p for p, why in available().items() if why is None and p != "Reference"]
    options = mode.options(args)
    if mode.header:
        print(mode.header, flush=True)
    rows: list[dict] = []
    for plat in platforms:
        for size in args.sizes or mode.sizes(plat):
            for row in mode.rows(plat, size, args.seconds, args.precision, **options):
                rows.append(row)
                print(mode.line(row), flush=True)
    if mode.summary is not None:
        print(mode.summary(rows, platforms))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


__all__ = ["MODES", "main"]
