"""Checkpoints and resume: killed runs continue bitwise; torn records are cut; outputs load in mdtraj."""
from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import mdtraj
import numpy as np
import pytest
import yaml

from exomembrane import ConfigError
from exomembrane.run import CHECKPOINT, MANIFEST, THERMO, TOPOLOGY, TRAJECTORY, Run, load_thermo, load_trajectory
from exomembrane.run.reporters import read_checkpoint
from exomembrane.scenario import load_scenario

STEPS, FRAME_EVERY, ROW_EVERY, CHECKPOINT_EVERY = 2000, 40, 20, 200
TINY = {"name": "tiny", "builder": {"kind": "bilayer", "size": 6.0},
        "run": {"steps": STEPS, "seed": 11, "platform": "Reference",
                "report": {"trajectory": FRAME_EVERY, "thermo": ROW_EVERY, "checkpoint": CHECKPOINT_EVERY}}}
CLI = [sys.executable, "-m", "exomembrane.cli"]


@pytest.fixture(scope="module")
def scenario_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("scenario") / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY))
    return path


@pytest.fixture(scope="module")
def reference(scenario_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The uninterrupted run."""
    out = tmp_path_factory.mktemp("reference") / "run"
    with Run.create(load_scenario(scenario_file), out) as run:
        assert run.advance(STEPS) == STEPS
    return out


def same_outputs(a: Path, b: Path) -> None:
    for name in (TRAJECTORY, THERMO):
        assert (a / name).read_bytes() == (b / name).read_bytes(), f"{name} differs"


def test_uninterrupted_run_outputs(reference: Path) -> None:
    traj = load_trajectory(reference)
    n = STEPS // FRAME_EVERY + 1
    assert traj.n_frames == n
    np.testing.assert_allclose(traj.time, np.arange(n) * FRAME_EVERY * 0.01, atol=1e-4)
    assert {r.name for r in traj.topology.residues} == {"LIP"}
    assert [a.name for a in traj.topology.atoms][:3] == ["H", "T1", "T2"]
    assert traj.topology.n_bonds == 2 * traj.topology.n_residues
    thermo = load_thermo(reference)
    np.testing.assert_array_equal(thermo["step"], np.arange(0, STEPS + 1, ROW_EVERY))
    np.testing.assert_allclose(thermo["box_x"], traj.unitcell_lengths[0, 0], rtol=1e-6)
    assert np.all(np.isfinite(thermo["potential"]))
    np.testing.assert_allclose(thermo["pair"] + thermo["fene"] + thermo["bend"], thermo["potential"], rtol=1e-9)
    meta, _ = read_checkpoint(reference / CHECKPOINT)
    assert meta["step"] == STEPS and meta["outputs"][TRAJECTORY]["records"] == n


def _kill_after(proc: subprocess.Popen, delay: float) -> bool:
    """SIGKILL ``proc`` after ``delay`` s unless it ends first; True if it was killed."""
    try:
        proc.wait(timeout=delay)
        return False
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return True


def _wait_until(condition: Callable[[], bool], proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)


def _segments(out: Path) -> int:
    try:
        return len(json.loads((out / MANIFEST).read_text())["segments"])
    except (OSError, ValueError):
        return 0


def _records_past_checkpoint(out: Path) -> bool:
    """True while the trajectory holds frames written after the checkpoint on disk."""
    try:
        meta, _ = read_checkpoint(out / CHECKPOINT)
        return (out / TRAJECTORY).stat().st_size > meta["outputs"][TRAJECTORY]["bytes"]
    except (OSError, ValueError):
        return False


@pytest.mark.parametrize("trial", range(3))
def test_sigkill_at_random_moments_then_resume_is_bitwise_identical(trial: int, scenario_file: Path,
                                                                      reference: Path, tmp_path: Path) -> None:
    """Kill the run once it has records past its checkpoint, then each resume at random moments.

    The first kill waits for frames written after the last checkpoint, so every trial has records to
    cut however fast the machine; the resumes are then killed while starting, stepping or checkpointing.
    """
    rng = random.Random(trial)
    out = tmp_path / "run"
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE}
    proc = subprocess.Popen([*CLI, "run", str(scenario_file), "--out", str(out), "--quiet"], **quiet)
    _wait_until(lambda: _records_past_checkpoint(out), proc)
    kills = int(_kill_after(proc, 0.0))
    cut = 0  # resumes that found records past their checkpoint and had to cut them
    for _ in range(3):
        meta, _ = read_checkpoint(out / CHECKPOINT)
        cut += (out / TRAJECTORY).stat().st_size > meta["outputs"][TRAJECTORY]["bytes"]
        if meta["step"] == STEPS:
            break
        started = _segments(out)
        proc = subprocess.Popen([*CLI, "resume", str(out), "--quiet"], **quiet)
        if rng.random() < 0.75:  # else kill it while it starts up
            _wait_until(lambda n=started: _segments(out) > n, proc)
        kills += _kill_after(proc, rng.uniform(0.0, 1.0))
    meta, _ = read_checkpoint(out / CHECKPOINT)  # the final resume may have records to cut as well
    cut += (out / TRAJECTORY).stat().st_size > meta["outputs"][TRAJECTORY]["bytes"]
    final = subprocess.run([*CLI, "resume", str(out), "--quiet"], capture_output=True, text=True)
    assert final.returncode == 0, final.stderr
    assert kills >= 1, "no kill landed; the test proved nothing"
    assert cut >= 1, "no resume had records past its checkpoint to cut"
    same_outputs(reference, out)
    traj = mdtraj.load(str(out / TRAJECTORY), top=str(out / TOPOLOGY))
    assert traj.n_frames == STEPS // FRAME_EVERY + 1
    np.testing.assert_array_equal(traj.xyz, load_trajectory(reference).xyz)


def test_torn_records_and_damaged_checkpoint_are_recovered(scenario_file: Path, reference: Path,
                                                           tmp_path: Path) -> None:
    out = tmp_path / "run"

    def crash(run: Run) -> None:
        if run.step >= 730:
            raise KeyboardInterrupt

    run = Run.create(load_scenario(scenario_file), out)
    with pytest.raises(KeyboardInterrupt):
        run.advance(STEPS, callback=crash)
    run.close()  # what the OS holds after a kill: records past the checkpoint at 600
    frame = (reference / TRAJECTORY).read_bytes()[:3000]
    with open(out / TRAJECTORY, "ab") as f:
        f.write(frame[:1234])  # a torn frame
    with open(out / THERMO, "ab") as f:
        f.write(b"760,7.6,12")  # a torn row
    (out / CHECKPOINT).write_bytes((out / CHECKPOINT).read_bytes()[:500])  # a damaged latest checkpoint
    with pytest.warns(UserWarning, match="resuming from the previous one at step 400"):
        run = Run.open(out)
    assert run.step == 400 and run.frames == 400 // FRAME_EVERY + 1
    assert len(load_thermo(out)["step"]) == 400 // ROW_EVERY + 1
    with run:
        run.advance(run.remaining)
    same_outputs(reference, out)


def test_stop_from_another_thread_leaves_a_resumable_run(scenario_file: Path, reference: Path,
                                                         tmp_path: Path) -> None:
    out = tmp_path / "run"
    seen: list[int] = []
    with Run.create(load_scenario(scenario_file), out) as run:
        worker = threading.Thread(target=lambda: seen.append(run.advance(STEPS, callback=lambda r: None, chunk=10)))
        worker.start()
        while run.step < 300:
            time.sleep(0.005)
        run.stop()
        worker.join(timeout=30)
        assert not worker.is_alive() and 300 <= seen[0] < STEPS and seen[0] % 10 == 0
        meta, _ = read_checkpoint(out / CHECKPOINT)
        assert meta["step"] == run.step == seen[0]
        assert load_trajectory(out).n_frames == run.step // FRAME_EVERY + 1
    with Run.open(out) as run:
        assert run.remaining == STEPS - seen[0]
        run.advance(run.remaining)
    same_outputs(reference, out)


def test_resume_on_another_platform_is_refused_with_the_reason(scenario_file: Path, reference: Path) -> None:
    with pytest.raises(ConfigError, match="written on the Reference platform .* only load on the platform"):
        Run.open(reference, platform="CPU")


def test_new_run_refuses_a_non_empty_directory(scenario_file: Path, tmp_path: Path) -> None:
    sc = load_scenario(scenario_file, {"run.steps": 0})
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not empty"):
        Run.create(sc, tmp_path)
    with pytest.raises(FileExistsError, match="not a run directory"):
        Run.create(sc, tmp_path, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    Run.create(sc, tmp_path / "run").close()
    with pytest.raises(FileExistsError, match="not empty"):
        Run.create(sc, tmp_path / "run")
    (tmp_path / "run" / "stale.txt").write_text("from the old run")
    run = Run.create(sc, tmp_path / "run", overwrite=True)
    run.close()
    run.close()  # closing twice is harmless
    assert not (tmp_path / "run" / "stale.txt").exists() and (tmp_path / "run" / MANIFEST).is_file()
    assert load_trajectory(tmp_path / "run").n_frames == 1


def test_outputs_above_100k_beads_keep_names_box_and_time(tmp_path: Path) -> None:
    """mdtraj's PDB path would wrap serials and cut names here; the chosen formats must not."""
    data = {"builder": {"kind": "bilayer", "size": 150.0, "upper": {"LIP": 0.8, "CER": 0.2}, "lower": "LYSO"},
            "run": {"steps": 2, "seed": 1, "platform": "CPU", "report": {"trajectory": 1}}}
    path = tmp_path / "big.yaml"
    path.write_text(yaml.safe_dump(data))
    sc = load_scenario(path)
    with Run.create(sc, tmp_path / "run") as run:
        structure = run.simulation.structure
        run.advance(2)
    assert structure.n_beads > 100_000
    traj = mdtraj.load(str(tmp_path / "run" / TRAJECTORY), top=str(tmp_path / "run" / TOPOLOGY))
    assert traj.n_atoms == structure.n_beads and traj.n_frames == 3
    np.testing.assert_allclose(traj.time, [0.0, 0.01, 0.02], atol=1e-6)
    np.testing.assert_allclose(traj.unitcell_lengths[0], structure.box, rtol=1e-6)
    top = traj.topology
    assert [r.name for r in top.residues] == [structure.species[k] for k in structure.molecule_species]
    assert "LYSO" in {r.name for r in top.residues}  # four characters, not cut to three
    assert [a.name for a in top.atoms] == structure.bead_names().tolist()
    assert top.residue(top.n_residues - 1).resSeq == structure.n_lipids  # no wrap at 10,000 / 100,000
    assert top.n_bonds == len(structure.fene_bonds())
    np.testing.assert_allclose(traj.xyz[0], structure.positions, atol=2e-3)
