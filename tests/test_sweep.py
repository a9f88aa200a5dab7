"""Sweeps on Dask: sweep files, a real LocalCluster that loses a worker mid-run, the CLI end to end,
resume, failed points, tables and plots, GPU placement."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from matplotlib.image import imread

from exomembrane import ConfigError
from exomembrane.engine.platform import properties, select_platform
from exomembrane.run import MANIFEST, SCENARIO, TRAJECTORY
from exomembrane.sweep import RESULT, Sweep, load_sweep, plot_sweep, run_sweep, tasks
from exomembrane.sweep.cluster import ClusterSection, slots

CHECKPOINT_EVERY = 500
TINY = {"name": "tiny", "builder": {"kind": "bilayer", "size": 10.0},
        "run": {"steps": 6000, "platform": "CPU", "tension": None,
                "report": {"trajectory": 200, "thermo": 100, "checkpoint": CHECKPOINT_EVERY}}}
CLI = [sys.executable, "-m", "exomembrane.cli"]


def write_sweep(folder: Path, **fields: object) -> Path:
    (folder / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    spec = {"name": "scan", "scenario": "tiny.yaml", "cluster": {"kind": "local", "workers": 2, "threads": 1},
            **fields}
    path = folder / "sweep.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def test_sweep_points_seeds_and_names(tmp_path: Path) -> None:
    sweep = load_sweep(write_sweep(tmp_path, grid={"run.kT": [1.0, 1.2], "forcefield.w_c": [1.5]},
                                   points=[{"run.friction": 0.5}], seeds=[3, 9], set={"run.steps": 100}))
    runs = tasks(sweep, tmp_path / "out")
    assert [(t.point, t.seed) for t in runs] == [
        ("p000-kT=1.0,w_c=1.5", 3), ("p000-kT=1.0,w_c=1.5", 9), ("p001-kT=1.2,w_c=1.5", 3),
        ("p001-kT=1.2,w_c=1.5", 9), ("p002-friction=0.5", 3), ("p002-friction=0.5", 9)]
    assert runs[3].overrides == {"run.steps": 100, "run.kT": 1.2, "forcefield.w_c": 1.5, "run.seed": 9}
    assert runs[3].directory == tmp_path / "out" / "p001-kT=1.2,w_c=1.5" / "seed-9"
    assert sweep.swept == ["run.kT", "forcefield.w_c", "run.friction"]
    assert Path(sweep.scenario).is_absolute()


@pytest.mark.parametrize("fields, words", [
    ({"grid": {"run.kT": []}}, ["grid", "at least one value"]),
    ({"seeds": 0}, ["seeds"]),
    ({"colour": 1}, ["colour", "unknown key"]),
    ({"grid": {"run.kT": [1.0, -1.0]}}, ["p001-kT=-1.0", "run.kT", "-1.0"]),
    ({"grid": {"run.seed": [1, 2]}}, ["run.seed", "seeds"]),
    ({"grid": {"run.kT": [1.0]}, "x": "run.dt"}, ["x", "run.dt", "run.kT"]),
    ({"cluster": {"kind": "slurm", "jobqueue": {"no_such_option": 1}}}, ["cluster.jobqueue", "no_such_option"]),
])
def test_bad_sweeps_name_the_field_and_write_nothing(tmp_path: Path, fields: dict, words: list[str]) -> None:
    out = tmp_path / "out"
    with pytest.raises(ConfigError) as err:
        run_sweep(write_sweep(tmp_path, **fields), out, progress=False)
    for word in words:
        assert word in str(err.value)
    assert not out.exists()


@pytest.mark.slow  # end-to-end runs on a Dask cluster
def test_local_cluster_sweep_survives_a_killed_worker(tmp_path: Path) -> None:
    """2 temperatures x 2 seeds on a real LocalCluster of 2 worker processes; the worker running the
    first point is killed (SIGKILL) once that run has passed a checkpoint. The table comes out complete,
    each row matches its run directory, and the killed run resumed from its checkpoint."""
    sweep = write_sweep(tmp_path, grid={"run.kT": [1.0, 1.2]}, seeds=2)
    out = tmp_path / "out"
    result: dict[str, object] = {}
    driver = threading.Thread(target=lambda: result.update(table=run_sweep(sweep, out, progress=False)))
    driver.start()
    victim, killed_at = out / "p000-kT=1.0" / "seed-1", None
    deadline = time.monotonic() + 240
    while killed_at is None and driver.is_alive() and time.monotonic() < deadline:
        try:
            manifest = json.loads((victim / MANIFEST).read_text())
        except (OSError, ValueError):
            manifest = None
        if manifest and CHECKPOINT_EVERY <= manifest["steps_done"] < TINY["run"]["steps"] - CHECKPOINT_EVERY:
            os.kill(manifest["segments"][-1]["pid"], signal.SIGKILL)
            killed_at = manifest["steps_done"]
        time.sleep(0.02)
    driver.join(timeout=300)
    assert killed_at is not None, "the run finished before its worker could be killed"
    table = result["table"]
    assert len(table) == 4 and set(table["status"]) == {"ok"}
    assert sorted(zip(table["run.kT"], table["seed"])) == [(1.0, 1), (1.0, 2), (1.2, 1), (1.2, 2)]
    for _, row in table.iterrows():
        run = out / row["directory"]
        scenario = yaml.safe_load((run / SCENARIO).read_text())
        assert (scenario["run"]["kT"], scenario["run"]["seed"]) == (row["run.kT"], row["seed"])
        assert json.loads((run / RESULT).read_text())["point"] == row["point"]
        assert row["steps_done"] == json.loads((run / MANIFEST).read_text())["steps_done"] == TINY["run"]["steps"]
    segments = json.loads((victim / MANIFEST).read_text())["segments"]
    assert len(segments) == 2, segments
    assert segments[1]["from_step"] >= killed_at and segments[1]["from_step"] % CHECKPOINT_EVERY == 0
    assert segments[1]["pid"] != segments[0]["pid"]
    on_disk = pd.read_parquet(out / "results.parquet")
    assert on_disk["directory"].tolist() == table["directory"].tolist()
    assert pd.read_csv(out / "results.csv")["status"].tolist() == ["ok"] * 4


@pytest.mark.slow  # end-to-end runs on a Dask cluster
def test_cli_sweep_records_a_blow_up_and_resumes_only_unfinished_runs(tmp_path: Path) -> None:
    sweep = write_sweep(tmp_path, grid={"run.dt": [0.01, 0.8]}, set={"run.steps": 1000},
                        observables=["lipid_order_S", "area_per_lipid_sigma2"])
    out = tmp_path / "out"
    done = subprocess.run(CLI + ["sweep", str(sweep), "--out", str(out), "--workers", "1"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 3, done.stderr
    assert "1 of 2 runs ok" in done.stdout and "failed: p001-dt=0.8/seed-1: SimulationError: step" in done.stdout
    table = pd.read_csv(out / "results.csv")
    assert table["status"].tolist() == ["ok", "failed"]
    assert "blew up" in table["error"][1] and "lipid_order_S.mean" in table
    assert sorted(p.name for p in (out / "plots").iterdir()) == ["area_per_lipid_sigma2.mean.png",
                                                                 "lipid_order_S.mean.png"]
    # an interrupted sweep: the first run lost its result; resume redoes only that one
    (out / "p000-dt=0.01" / "seed-1" / RESULT).unlink()
    failed_result = (out / "p001-dt=0.8" / "seed-1" / RESULT).stat().st_mtime_ns
    again = subprocess.run(CLI + ["sweep", "--resume", str(out)], capture_output=True, text=True, timeout=300)
    assert again.returncode == 3 and "1 runs to do (1 done)" in again.stdout, again.stdout + again.stderr
    assert (out / "p001-dt=0.8" / "seed-1" / RESULT).stat().st_mtime_ns == failed_result
    assert pd.read_csv(out / "results.csv")["status"].tolist() == ["ok", "failed"]
    refused = subprocess.run(CLI + ["sweep", str(sweep), "--out", str(out)], capture_output=True, text=True)
    assert refused.returncode == 4 and "not empty" in refused.stderr


@pytest.mark.slow  # end-to-end runs on a Dask cluster
def test_cli_sweep_resume_with_steps_carries_every_run_on(tmp_path: Path) -> None:
    """A finished sweep extended with --steps: the run continues from its checkpoint to the same
    trajectory (bitwise, on the Reference platform) as a run made that long from the start, and its
    row is analysed again."""
    sweep = write_sweep(tmp_path, set={"run.steps": 600, "run.platform": "Reference"}, points=[{"run.kT": 1.0}])
    out = tmp_path / "out"
    first = subprocess.run(CLI + ["sweep", str(sweep), "--out", str(out), "--workers", "1", "--quiet"],
                           capture_output=True, text=True, timeout=300)
    assert first.returncode == 0, first.stderr
    assert pd.read_csv(out / "results.csv")["steps_done"].tolist() == [600]
    shorter = subprocess.run(CLI + ["sweep", "--resume", str(out), "--steps", "400"], capture_output=True, text=True)
    assert shorter.returncode == 2 and "fewer than the sweep's run.steps 600" in shorter.stderr
    longer = subprocess.run(CLI + ["sweep", "--resume", str(out), "--steps", "1200"], capture_output=True, text=True,
                            timeout=300)
    assert longer.returncode == 0 and "1 runs to do (0 done)" in longer.stdout, longer.stdout + longer.stderr
    assert load_sweep(out / "sweep.yaml").fixed["run.steps"] == 1200
    assert pd.read_csv(out / "results.csv")["steps_done"].tolist() == [1200]
    run = out / "p000-kT=1.0" / "seed-1"
    assert [s["to_step"] for s in json.loads((run / MANIFEST).read_text())["segments"]] == [600, 1200]
    whole = tmp_path / "whole"  # the same sweep made 1200 steps long from the start
    longer_sweep = write_sweep(tmp_path, set={"run.steps": 1200, "run.platform": "Reference"}, points=[{"run.kT": 1.0}])
    made = subprocess.run(CLI + ["sweep", str(longer_sweep), "--out", str(whole), "--workers", "1", "--quiet"],
                          capture_output=True, text=True, timeout=300)
    assert made.returncode == 0, made.stderr
    assert (run / TRAJECTORY).read_bytes() == (whole / "p000-kT=1.0" / "seed-1" / TRAJECTORY).read_bytes()
    again = subprocess.run(CLI + ["sweep", "--resume", str(out), "--steps", "1200"], capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == 0 and "runs to do" not in again.stdout, again.stdout


def test_steps_extend_only_a_sweep_that_has_run(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="steps: 500 extends a sweep that has run"):
        run_sweep(write_sweep(tmp_path), tmp_path / "out", steps=500, progress=False)
    assert not (tmp_path / "out").exists()


def test_plot_sweep_means_and_errors_over_seeds(tmp_path: Path) -> None:
    table = pd.DataFrame({"point": ["a", "a", "b", "b", "c"], "seed": [1, 2, 1, 2, 1],
                          "run.kT": [1.0, 1.0, 1.2, 1.2, 1.4], "status": ["ok"] * 4 + ["failed"],
                          "apl.mean": [1.0, 1.2, 1.4, 1.4, None], "missing.value": [None] * 5})
    sweep = Sweep.model_validate({"scenario": "x", "grid": {"run.kT": [1.0, 1.2, 1.4]}})
    paths = plot_sweep(table.convert_dtypes(), sweep, tmp_path)
    assert [p.name for p in paths] == ["apl.mean.png"]
    assert imread(paths[0]).shape[2] in (3, 4)


def test_statistics_give_fractions_and_medians_per_point() -> None:
    """0/1 observables average to the fraction of runs; times give their median over the runs that
    have one; failed runs are left out."""
    from exomembrane.sweep.table import statistics

    table = pd.DataFrame({"point": ["a"] * 4 + ["b"] * 3, "seed": [1, 2, 3, 4, 1, 2, 3],
                          "run.tension": [1.0] * 4 + [2.0] * 3, "status": ["ok"] * 6 + ["failed"],
                          "fusion.reached.pore": [0, 1, 1, 0, 1, 1, 1],
                          "fusion.first_tau.pore": [None, 80.0, 120.0, None, 40.0, 60.0, 10.0]})
    sweep = Sweep.model_validate({"scenario": "x", "grid": {"run.tension": [1.0, 2.0]},
                                  "observables": ["fusion.reached.pore", "fusion.first_tau.pore"]})
    stats = statistics(table.convert_dtypes(), sweep)
    assert stats["run.tension"].tolist() == [1.0, 2.0] and stats["runs"].tolist() == [4, 2]
    assert stats["fusion.reached.pore.mean"].tolist() == [0.5, 1.0]
    assert stats["fusion.first_tau.pore.median"].tolist() == [100.0, 50.0]
    assert stats["fusion.first_tau.pore.n"].tolist() == [2, 2]


def test_local_cluster_slots_place_one_worker_per_gpu_slot() -> None:
    assert slots(ClusterSection(gpus=[0, 1], per_gpu=2)) == (4, max(1, (os.cpu_count() or 1) // 4), [0, 1])
    assert slots(ClusterSection(gpus=[], workers=2, threads=1)) == (2, 1, [])


def test_device_index_from_scenario_or_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    gpu_like = select_platform("OpenCL") if _has("OpenCL") else None
    cpu = select_platform("CPU")
    assert "DeviceIndex" not in properties(cpu, device=1)
    if gpu_like is not None:
        assert properties(gpu_like, device=1)["DeviceIndex"] == "1"
        monkeypatch.setenv("EXOMEMBRANE_DEVICE", "2")
        assert properties(gpu_like)["DeviceIndex"] == "2"
        assert properties(gpu_like, device=0)["DeviceIndex"] == "0"
    monkeypatch.setenv("EXOMEMBRANE_DEVICE", "first")
    with pytest.raises(ConfigError, match="EXOMEMBRANE_DEVICE.*'first'"):
        properties(cpu)


def _has(name: str) -> bool:
    try:
        select_platform(name)
    except ConfigError:
        return False
    return True


@pytest.mark.parametrize("path", sorted((Path(__file__).resolve().parents[1] / "systems" / "sweeps").glob("*.yaml")))
def test_shipped_sweeps_validate(path: Path, tmp_path: Path) -> None:
    sweep = load_sweep(path)
    runs = tasks(sweep, tmp_path)
    assert len(runs) == len(sweep.combinations()) * len(sweep.seed_list) >= 6 and sweep.observables
