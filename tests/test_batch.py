"""Replica batches: copies in one Context never interact, follow the single runs of their seeds,
sample the same ensemble, resume from a common checkpoint, and refuse what would couple them."""
from __future__ import annotations

import numpy as np
import openmm as mm
import pytest

from exomembrane import ConfigError, SimulationError, create_system
from exomembrane.engine import native
from exomembrane.engine.system import TERMS
from exomembrane.run import CHECKPOINT, Run, load_thermo, load_trajectory
from exomembrane.run.batch import Batch, stack
from exomembrane.scenario import load_scenario

SMALL = {"builder.kind": "bilayer", "builder.size": 8.0, "builder.box_z": 16.0, "run.tension": "null",
         "run.platform": "Reference", "run.report.trajectory": 100, "run.report.thermo": 50,
         "run.report.checkpoint": 200}


def scenario(**extra: object):
    return load_scenario("flat_bilayer", {**SMALL, **extra})


def energies(system: mm.System, xyz: np.ndarray, box: np.ndarray, platform: str = "Reference"
             ) -> tuple[dict[str, float], np.ndarray]:
    props = {"Precision": "mixed"} if platform in ("OpenCL", "CUDA") else {}
    ctx = mm.Context(system, mm.VerletIntegrator(0.001), mm.Platform.getPlatformByName(platform), props)
    ctx.setPeriodicBoxVectors(mm.Vec3(box[0], 0, 0), mm.Vec3(0, box[1], 0), mm.Vec3(0, 0, box[2]))
    ctx.setPositions(xyz)
    terms = {name: ctx.getState(getEnergy=True, groups={g}).getPotentialEnergy()._value for name, g in TERMS.items()}
    return terms, ctx.getState(getForces=True).getForces(asNumpy=True)._value


@pytest.mark.parametrize("name, builder", [("bilayer", None), ("MVB patch with walled cargo", {
    "kind": "mvb_patch", "size": 14.0, "box_z": 16.0, "seed": 2,
    "proteins": [{"species": "RNA", "where": "cytosol", "count": 3}]})])
@pytest.mark.parametrize("kernel", ["custom", "native CPU", "native OpenCL"])
def test_replicas_never_interact(name: str, builder: dict | None, kernel: str) -> None:
    """Replica 1, a rigidly shifted copy of replica 0, is laid over it (bilayer: every bead within
    0.4 sigma of a bead of the other copy) or stacked in its own slab (MVB patch: its walls act
    there); energies per term and forces are those of the two copies alone."""
    platform = kernel.split()[-1] if kernel != "custom" else "Reference"
    if kernel != "custom" and native.load(platform) is not None:
        pytest.skip(f"native {platform} pair kernel unavailable: {native.load(platform)}")
    one = (scenario() if builder is None else load_scenario("flat_bilayer", {**SMALL, "builder": builder})).build()
    assert builder is None or one.confined.any()
    on, rel = (kernel != "custom", 1e-5 if kernel != "custom" else 1e-9)
    system1 = create_system(one, native=on)
    x0 = one.positions
    x1 = x0 + [0.31, 0.17, 0.23]
    two = stack(one, 2)
    system2 = create_system(two, replicas=2, native=on)
    e0, f0 = energies(system1, x0, one.box, platform)
    e1, f1 = energies(system1, x1, one.box, platform)
    shift = np.array([0.0, 0.0, one.box[2]]) if name != "bilayer" else np.zeros(3)  # walls act per slab
    e2, f2 = energies(system2, np.concatenate([x0, x1 + shift]), two.box, platform)
    if name == "bilayer":
        assert e2["pair"] < 1e3 * abs(e0["pair"])  # overlapping copies would give ~1e6 eps and more
    for term in TERMS:
        assert e2[term] == pytest.approx(e0[term] + e1[term], rel=rel, abs=rel), term
    # single precision: on GPU platforms positions are single precision too, and the upper copy's,
    # at twice the height, are half as fine (the CustomNonbondedForce there differs as much)
    atol = (3e-3 if platform in ("OpenCL", "CUDA") else 1e-3) if on else 1e-8
    np.testing.assert_allclose(f2, np.concatenate([f0, f1]), rtol=rel, atol=atol)


def test_batched_replicas_follow_their_single_runs(tmp_path) -> None:
    """NVE (Verlet, deterministic): each replica of a batch repeats the single run of its seed."""
    base = scenario(**{"run.integrator": "verlet", "run.steps": 400})
    seeds = (1, 2, 3)
    with Batch.create([base.with_overrides({"run.seed": s}) for s in seeds],
                      [tmp_path / f"batch-{s}" for s in seeds]) as batch:
        assert batch.advance(batch.remaining) == 400
    for s in seeds:
        with Run.create(base.with_overrides({"run.seed": s}), tmp_path / f"single-{s}") as run:
            run.advance(run.remaining)
        a, b = load_trajectory(tmp_path / f"batch-{s}"), load_trajectory(tmp_path / f"single-{s}")
        assert a.n_frames == b.n_frames == 5
        np.testing.assert_allclose(a.xyz, b.xyz, atol=2e-3)
        ta, tb = load_thermo(tmp_path / f"batch-{s}"), load_thermo(tmp_path / f"single-{s}")
        for column in ("step", "potential", "kinetic", "pair", "fene", "bend", "box_x"):
            np.testing.assert_allclose(ta[column], tb[column], rtol=1e-6, err_msg=column)
    first = load_trajectory(tmp_path / "batch-1").xyz
    assert np.abs(first[-1] - load_trajectory(tmp_path / "batch-2").xyz[-1]).max() > 0.1  # seeds differ


@pytest.mark.slow  # an end-to-end MD run of several thousand steps
def test_batch_samples_the_single_run_ensemble(tmp_path) -> None:
    """Langevin: the thermo averages of batched replicas match those of single runs."""
    base = scenario(**{"run.steps": 3000, "run.platform": "CPU", "run.report.thermo": 20})
    seeds = (4, 5, 6, 7)
    with Batch.create([base.with_overrides({"run.seed": s}) for s in seeds],
                      [tmp_path / f"b{s}" for s in seeds]) as batch:
        batch.advance(batch.remaining)
    for s in seeds:
        with Run.create(base.with_overrides({"run.seed": s}), tmp_path / f"s{s}") as run:
            run.advance(run.remaining)

    def averages(prefix: str) -> np.ndarray:
        rows = [load_thermo(tmp_path / f"{prefix}{s}") for s in seeds]
        return np.array([[r[k][len(r[k]) // 3:].mean() / 1 for k in ("kT", "potential", "pair")] for r in rows])

    batched, single = averages("b"), averages("s")
    assert np.all(np.abs(batched[:, 0] - 1.1) < 0.03) and np.all(np.abs(single[:, 0] - 1.1) < 0.03)
    spread = single.std(axis=0, ddof=1) + batched.std(axis=0, ddof=1)
    assert np.all(np.abs(batched.mean(axis=0) - single.mean(axis=0)) < 3 * spread / np.sqrt(len(seeds)) + 1e-3 *
                  np.abs(single.mean(axis=0)))


def test_batch_resumes_from_the_last_checkpoint_all_replicas_kept(tmp_path) -> None:
    base = scenario(**{"run.steps": 600})
    dirs = [tmp_path / "r1", tmp_path / "r2"]
    with Batch.create([base.with_overrides({"run.seed": s}) for s in (1, 2)], dirs) as batch:
        batch.advance(450)  # checkpoints at 200, 400 and 450
    (dirs[1] / CHECKPOINT).unlink()  # replica 2 killed while writing the one at 450: both go back to 400
    with Batch.open(dirs) as batch:
        assert batch.step == 400 and batch.remaining == 200
        batch.advance(batch.remaining)
    for d in dirs:
        traj = load_trajectory(d)
        np.testing.assert_allclose(traj.time, np.arange(7) * 1.0, atol=1e-4)
        assert load_thermo(d)["step"].tolist() == list(range(0, 601, 50))
        with Run.open(d) as run:  # a replica is an ordinary run directory
            assert run.step == 600


def test_batch_stops_when_a_bead_leaves_its_slab(tmp_path) -> None:
    base = scenario(**{"run.steps": 200})
    with Batch.create([base.with_overrides({"run.seed": s}) for s in (1, 2)],
                      [tmp_path / "a", tmp_path / "b"]) as batch:
        ctx = batch.simulation.context
        xyz = ctx.getState(getPositions=True).getPositions(asNumpy=True)._value
        xyz[3:6] += [0.5, 0.0, 16.0]  # lipid 1 of replica 0 moved into replica 1's slab (where it meets no one)
        ctx.setPositions(xyz)
        with pytest.raises(SimulationError, match="3 bead.* left their replica's slab, e.g. bead 3 of replica 0"):
            batch.advance(50)


@pytest.mark.parametrize("change, words", [
    ({"run.tension": 0.0}, ["run.tension", "barostat", "null"]),
    ({"run.integrator": "dpd"}, ["dpd", "replica"]),
    ({"run.kT": 1.0}, ["differ only in run.seed"]),
])
def test_batch_refuses_what_would_couple_replicas(tmp_path, change: dict, words: list[str]) -> None:
    base = scenario(**{"run.seed": 1})
    other = base.with_overrides({"run.seed": 2, **(change if "run.kT" in change else {})})
    if "run.kT" not in change:
        base, other = base.with_overrides(change), other.with_overrides(change)
    with pytest.raises(ConfigError) as err:
        Batch.create([base, other], [tmp_path / "a", tmp_path / "b"])
    for word in words:
        assert word in str(err.value)
    assert not (tmp_path / "a").exists()
