"""Live benchmark (``exomembrane bench --live``): a run driven by the notebook's live view against
the same run advanced headless."""
from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from exomembrane.bench.raw import CPU_SIZES, GPU_SIZES, Mode, on_gpu


def live_overhead(platform: str, size: float, seconds: float, precision: str = "mixed",
                  rounds: int = 3) -> dict[str, Any]:
    """Steps/s of one run advanced headless (``Run.advance``) and live
    (:class:`~exomembrane.notebook.live.LiveRun`: background thread, view and plots refreshed every
    second), alternating ``rounds`` times, each leg about ``seconds`` (s) long; same bilayer of
    lateral ``size`` sigma, same outputs written.

    Also the fractions of the live legs' wall time that the runner thread spent on the live
    layer's own work (samples, edits) and that the display thread was busy: the live path's cost
    measured directly, which, unlike the rate ratio, does not drown in run-to-run noise.

    Returns
    -------
    dict
        ``platform``, ``precision``, ``beads``, ``steps`` (per leg), ``rounds``,
        ``headless_steps_per_s``, ``live_steps_per_s`` (medians, 1/s), ``ratio`` (live/headless),
        ``runner_busy_fraction`` and ``display_busy_fraction``.

    Raises
    ------
    SystemExit
        Without the notebook extra (ipywidgets, nglview).
    """
    from exomembrane.run.directory import Run
    from exomembrane.scenario import Scenario
    try:
        from exomembrane.notebook.live import LiveRun
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


HEADER = (f"{'platform':<10}{'beads':>10}{'headless steps/s':>18}{'live steps/s':>14}{'ratio':>7}"
          f"{'runner busy':>13}{'display busy':>14}")


def line(r: dict[str, Any]) -> str:
    """The table line of one :func:`live_overhead` row."""
    return (f"{r['platform']:<10}{r['beads']:>10}{r['headless_steps_per_s']:>18.1f}{r['live_steps_per_s']:>14.1f}"
            f"{r['ratio']:>7.3f}{r['runner_busy_fraction']:>13.2%}{r['display_busy_fraction']:>14.2%}")


def rows(platform: str, size: float, seconds: float, precision: str) -> list[dict[str, Any]]:
    """The one :func:`live_overhead` row of ``platform`` and ``size`` (sigma)."""
    return [live_overhead(platform, size, seconds, precision)]


def sizes(platform: str | None) -> tuple[float, ...]:
    """The second GPU size on CUDA and OpenCL, the smallest CPU size elsewhere (sigma)."""
    return GPU_SIZES[1:2] if on_gpu(platform) else CPU_SIZES[:1]


MODE = Mode(name="live", help="measure a live (notebook) run against the same run headless instead", rows=rows,
            sizes=sizes, header=HEADER, line=line)
