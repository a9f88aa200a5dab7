"""The `exomembrane` command, run as a user would: run, kill, resume, analyze, platforms; exit codes."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from exomembrane.run import CHECKPOINT, load_thermo, load_trajectory
from exomembrane.run.reporters import read_checkpoint

ROOT = Path(__file__).resolve().parent.parent
CLI = [sys.executable, "-m", "exomembrane.cli"]
TINY = {"name": "tiny", "builder": {"kind": "bilayer", "size": 6.0},
        "run": {"steps": 200, "seed": 2, "platform": "Reference",
                "report": {"trajectory": 50, "thermo": 10, "checkpoint": 100}}}


def cli(*args: str, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def wait_for_step(run_dir: Path, proc: subprocess.Popen, step: int, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if read_checkpoint(run_dir / CHECKPOINT)[0]["step"] >= step:
                return
        except (OSError, ValueError):
            pass
        assert proc.poll() is None, f"run ended early: {proc.stderr.read()}"
        time.sleep(0.05)
    pytest.fail(f"no checkpoint at step >= {step} within {timeout} s")


def assert_one_paragraph_error(result: subprocess.CompletedProcess, code: int, command: str) -> str:
    assert result.returncode == code, result.stderr
    err = result.stderr.strip()
    assert err.startswith(f"exomembrane {command}: error: "), err
    assert "Traceback" not in err and "\n\n" not in err
    return err


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY))
    return path


def test_readme_workflow_run_kill_resume_analyze_load(tmp_path: Path) -> None:
    """The README's commands at a tiny size: run the vesicle demo, SIGKILL it, resume, analyze, load."""
    shutil.copy(ROOT / "systems" / "vesicle.yaml", tmp_path / "vesicle.yaml")
    proc = subprocess.Popen([*CLI, "run", "vesicle.yaml", "--steps", "600", "--out", "runs/v", "--platform", "CPU",
                             "--set", "builder.radius=5", "--set", "run.report.trajectory=50",
                             "--set", "run.report.checkpoint=200"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_step(tmp_path / "runs" / "v", proc, 200)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert read_checkpoint(tmp_path / "runs/v" / CHECKPOINT)[0]["step"] < 600, "the kill came too late"

    resumed = cli("resume", "runs/v", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert "600 steps" in resumed.stdout and "ns/day" in resumed.stderr

    analyzed = cli("analyze", "runs/v", cwd=tmp_path)
    assert analyzed.returncode == 0, analyzed.stderr
    summary = json.loads((tmp_path / "runs/v/analysis/summary.json").read_text())
    assert summary["frames"] == 600 // 50 + 1 and summary["steps_done"] == 600
    assert summary["membranes"]["last"] == 1
    assert 4.0 < summary["vesicle_midplane_radius"]["mean"] < 7.0
    for plot in summary["plots"]:
        assert (tmp_path / "runs/v/analysis" / plot).stat().st_size > 1000
    assert {"energies.png", "box.png", "membranes.png", "radius.png"} <= set(summary["plots"])

    loaded = subprocess.run([sys.executable, "-c", "import mdtraj; print(mdtraj.load('runs/v/trajectory.xtc', "
                             "top='runs/v/topology.h5'))"], cwd=tmp_path, capture_output=True, text=True)
    assert loaded.returncode == 0, loaded.stderr
    assert "13 frames, 1608 atoms, 536 residues, and unitcells" in loaded.stdout


def test_run_quiet_and_resume_to_more_steps(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = cli("run", str(tiny), "--out", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""
    assert load_trajectory(out).n_frames == 200 // 50 + 1
    more = cli("resume", str(out), "--steps", "300", "--quiet")
    assert more.returncode == 0, more.stderr
    assert load_trajectory(out).n_frames == 300 // 50 + 1
    assert load_thermo(out)["step"][-1] == 300
    again = cli("resume", str(out), "--quiet")  # the new target is remembered: nothing to do
    assert again.returncode == 0 and load_trajectory(out).n_frames == 7


def test_sigint_stops_at_a_checkpoint_and_resume_finishes(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = subprocess.Popen([*CLI, "run", str(tiny), "--out", str(out), "--steps", "100000", "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for_step(out, proc, 100)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "stopped by SIGINT" in err and f"exomembrane resume {out}" in err
    meta, _ = read_checkpoint(out / CHECKPOINT)
    assert 100 <= meta["step"] < 100000
    assert load_trajectory(out).n_frames == meta["step"] // 50 + 1
    done = cli("resume", str(out), "--steps", str(meta["step"] + 100), "--quiet")
    assert done.returncode == 0, done.stderr
    assert load_thermo(out)["step"][-1] == meta["step"] + 100


def test_broken_scenario_gives_one_paragraph_and_writes_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("builder: {kind: vesicle, radius: 3, outer: FOO}\nrun: {kT: hot, steps: 10, colour: red}\n")
    out = tmp_path / "out"
    err = assert_one_paragraph_error(cli("run", str(bad), "--out", str(out)), 2, "run")
    for key in ("builder.radius", "run.kT", "run.colour: unknown key"):
        assert key in err
    assert not out.exists()
    missing = assert_one_paragraph_error(cli("run", str(tmp_path / "nope.yaml")), 2, "run")
    assert "nope.yaml: file not found" in missing
    assert "expected KEY.PATH=VALUE" in assert_one_paragraph_error(
        cli("run", str(bad), "--set", "run.kT"), 2, "run")


def test_file_errors_exit_4(tiny: Path, tmp_path: Path) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    err = assert_one_paragraph_error(cli("run", str(tiny), "--out", str(tmp_path / "full")), 4, "run")
    assert "not empty" in err and len(err.splitlines()) == 1
    err = assert_one_paragraph_error(cli("resume", str(tmp_path / "full")), 4, "resume")
    assert "not a run directory" in err
    assert_one_paragraph_error(cli("analyze", str(tmp_path)), 4, "analyze")


def test_blow_up_exits_3_with_the_step(tiny: Path, tmp_path: Path) -> None:
    result = cli("run", str(tiny), "--out", str(tmp_path / "run"), "--quiet", "--set", "run.dt=0.2",
                 "--set", "run.health_interval=5")
    err = assert_one_paragraph_error(result, 3, "run")
    assert "blew up" in err and "step" in err


def test_analyze_flat_bilayer(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert cli("run", str(tiny), "--out", str(out), "--quiet", "--set", "run.tension=0.0").returncode == 0
    result = cli("analyze", str(out))
    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "analysis" / "summary.json").read_text())
    assert summary["builder"] == "bilayer" and summary["membranes"]["last"] == 1
    assert 0.9 < summary["area_per_lipid_sigma2"]["mean"] < 1.6
    assert set(summary["bending_rigidity_kT"]) & {"err", "reason"}
    assert len(summary["series"]["area_per_lipid"]) == summary["frames"]
    assert "area_per_lipid.png" in summary["plots"] and "lipid_order.png" in summary["plots"]
    assert summary["lipid_order_S"]["mean"] > 0.5  # an intact sheet
    # a run written before a force term existed has no column for it: analysed all the same
    thermo = out / "thermo.csv"
    table = __import__("pandas").read_csv(thermo)
    table.drop(columns=[c for c in ("filament", "binding") if c in table]).to_csv(thermo, index=False)
    assert cli("analyze", str(out), "--quiet").returncode == 0


def test_platforms_and_bench_dispatch() -> None:
    result = cli("platforms")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("Reference") and "usable" in line for line in lines)
    assert any(line.startswith("CPU pair kernel: ") for line in lines)
    assert lines[-1].startswith("default: ")
    bench = cli("bench", "--help")
    assert bench.returncode == 0 and "exomembrane bench" in bench.stdout


def test_console_script_is_installed() -> None:
    script = Path(sys.executable).with_name("exomembrane")
    if not script.exists():
        pytest.skip("console script not installed here (pip install -e . creates it)")
    result = subprocess.run([str(script), "--help"], capture_output=True, text=True, env={**os.environ})
    assert result.returncode == 0 and "resume" in result.stdout and "analyze" in result.stdout


def test_movie_of_a_run_and_a_bad_movie_file(tiny: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert cli("run", str(tiny), "--out", str(out), "--quiet").returncode == 0
    result = cli("movie", str(out), "--max-frames", "3", "--fps", "4")
    assert result.returncode == 0, result.stderr
    from PIL import Image

    with Image.open(out / "analysis" / "section.gif") as gif:
        assert gif.n_frames >= 2 and gif.size[0] > 200
    bad = cli("movie", str(out), "--out", str(tmp_path / "m.avi"))
    assert_one_paragraph_error(bad, 2, "movie")
    assert "must end in .gif or .mp4" in bad.stderr and not (tmp_path / "m.avi").exists()
