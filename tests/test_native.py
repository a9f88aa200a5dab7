"""The native pair kernels (plugin: CPU, and CUDA/OpenCL where present) give the energies and forces
of the reference model."""
from __future__ import annotations

import numpy as np
import openmm as mm
import pytest
from conftest import present
from test_forcefield import PAIRS, finite_difference_forces, ref_energies, two_molecules, with_molecules

import exomembrane as em
from exomembrane.engine import native
from exomembrane.engine.system import TERMS

pytestmark = pytest.mark.skipif(native.load() is not None, reason=f"native pair kernel unavailable: {native.load()}")


def _platform(name: str):
    why = native.load(name)
    return pytest.param(name, marks=pytest.mark.skipif(why is not None, reason=f"no native {name} kernel: {why}"))


#: Every platform with a native kernel; OpenCL runs on the CPU through PoCL where there is no GPU.
PLATFORMS = [_platform(name) for name in native.KERNELS]


def native_context(s: em.Structure, platform: str = "CPU", deterministic: bool = False) -> mm.Context:
    system = em.create_system(s, w_c_max=2.0, native=True)
    assert type(system.getForce(0)).__name__ == "Force" and system.getForce(0).getName() == "pair"
    if platform != "CPU":
        props = {"Precision": "mixed"}
    else:
        props = {"DeterministicForces": "true"} if deterministic else {}
    ctx = mm.Context(system, mm.VerletIntegrator(0.001), mm.Platform.getPlatformByName(platform), props)
    ctx.setPositions(s.positions)
    return ctx


def pair(ctx: mm.Context) -> tuple[float, np.ndarray]:
    state = ctx.getState(getEnergy=True, getForces=True, groups={TERMS["pair"]})
    return state.getPotentialEnergy()._value, state.getForces(asNumpy=True)._value


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("names", PAIRS)
@pytest.mark.parametrize("seed", range(2))
def test_native_pair_energy_matches_reference(ff_angles, names, seed, platform):
    s = two_molecules(ff_angles, names, seed)
    assert pair(native_context(s, platform))[0] == pytest.approx(ref_energies(s, s.positions, 1.6)["pair"],
                                                                 rel=1e-5, abs=1e-5)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_native_follows_steered_parameters(ff, platform):
    s = two_molecules(ff, ("LIP", "CER"), seed=3)
    ctx = native_context(s, platform)
    ctx.setParameter("w_c", 1.3)
    ctx.setParameter("eps_T_TC", 0.7)
    assert pair(ctx)[0] == pytest.approx(ref_energies(s, s.positions, 1.3, {"eps_T_TC": 0.7})["pair"], rel=1e-5)


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("names", [("LIP", "LYSO"), ("TSPN", "CER"), ("CARG", "TSPN"), ("LIP4", "LIP")])
def test_native_forces_match_finite_differences(ff_angles, names, platform):
    s = two_molecules(ff_angles, names, seed=1)
    ctx = native_context(s, platform)
    forces = pair(ctx)[1]
    fd = finite_difference_forces(ctx, s.positions, lambda c: pair(c)[0], 1e-3)  # single precision kernel
    np.testing.assert_allclose(forces, fd, atol=2e-3 * np.abs(forces).max() + 1e-3)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_native_matches_the_custom_force_on_a_mixed_membrane(ff, platform):
    """Lipids of four species, cones with their elastic network (excluded pairs), RNA; jittered."""
    rng = np.random.default_rng(1)
    s = em.builders.bilayer(ff, 12.0, upper={"LIP": 0.6, "CER": 0.2, "LYSO": 0.2}, lower={"LIP4": 0.5, "LIP": 0.5},
                         seed=1)
    s = with_molecules(s, "RNA", np.array([[2.0, 2.0, 17.0], [8.0, 8.0, 3.0]]), np.array([[1.0, 0, 0], [0, 1.0, 0]]))
    s = with_molecules(s, "TSPN", np.array([[6.0, 6.0, 10.0]]), np.array([[0, 0, 1.0]]))
    s = em.Structure(ff, s.species, s.molecule_species, s.positions + rng.normal(scale=0.05, size=s.positions.shape),
                     s.box)
    ref = mm.Context(em.create_system(s, w_c_max=2.0), mm.VerletIntegrator(0.001),
                     mm.Platform.getPlatformByName("Reference"))
    ref.setPositions(s.positions)
    ctx = native_context(s, platform)
    for params in ({}, {"w_c": 1.45, "eps_T_T": 0.8, "affinity_tspn_tspn": 3.0}):
        for name, value in params.items():
            ref.setParameter(name, value)
            ctx.setParameter(name, value)
        (e_ref, f_ref), (e, f) = pair(ref), pair(ctx)
        assert e == pytest.approx(e_ref, rel=1e-5)
        rel = np.linalg.norm(f - f_ref, axis=1) / np.maximum(np.linalg.norm(f_ref, axis=1), 1e-3)
        assert np.median(rel) < 2e-5 and rel.max() < 1e-2  # single precision, as the CPU platform itself


def test_deterministic_forces_repeat_bitwise(ff):
    s = em.builders.bilayer(ff, 16.0, seed=4)
    ctx = native_context(s, deterministic=True)
    first = pair(ctx)
    for _ in range(3):
        ctx.setPositions(s.positions)
        again = pair(ctx)
        assert again[0] == first[0] and np.array_equal(again[1], first[1])


def test_simulations_on_the_cpu_use_it_and_say_so(ff, monkeypatch):
    s = em.builders.bilayer(ff, 8.0)
    assert em.create_simulation(s, platform="CPU").pair_kernel.startswith("native plugin")
    assert em.create_simulation(s, platform="Reference").pair_kernel.startswith("CustomNonbondedForce")
    monkeypatch.setenv("EXOMEMBRANE_NATIVE", "0")
    native.load.cache_clear()
    try:
        sim = em.create_simulation(s, platform="CPU")
        assert sim.pair_kernel == "CustomNonbondedForce (native plugin not used: turned off by EXOMEMBRANE_NATIVE=0)"
        sim.step(10)
    finally:
        monkeypatch.delenv("EXOMEMBRANE_NATIVE")
        native.load.cache_clear()
    assert native.load() is None


@pytest.mark.parametrize("platform", [p for p in PLATFORMS if p.values[0] != "CPU"])
def test_gpu_simulations_use_it_and_fall_back_when_it_fails(ff, platform, monkeypatch):
    s = em.builders.bilayer(ff, 8.0, seed=2)
    sim = em.create_simulation(s, platform=platform, seed=5)
    assert sim.pair_kernel == f"native plugin ({native.KERNELS[platform]})"
    sim.step(20)
    make = native.pair_force

    def too_many_types(types, bead_type, sizes, *args):  # the GPU kernel takes at most 256
        big = np.ones((300, 300))
        big[:len(types), :len(types)] = sizes
        return make(list(types) + [f"X{k}" for k in range(300 - len(types))], bead_type, big, *args)

    monkeypatch.setattr(native, "pair_force", too_many_types)
    sim = em.create_simulation(s, platform=platform, seed=5)
    assert sim.pair_kernel == (f"CustomNonbondedForce (native plugin not used: failed on this {platform} device: "
                               f"CookePairForce: at most 256 bead types on {platform})")
    assert sim.system.getForce(0).__class__ is mm.CustomNonbondedForce
    sim.step(20)


def test_a_missing_compiler_is_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("EXOMEMBRANE_CACHE", str(tmp_path))
    monkeypatch.setenv("CXX", "no-such-compiler")
    with pytest.raises(RuntimeError, match="no C.. compiler .'no-such-compiler' not found"):
        native.build()
    assert not any(tmp_path.iterdir())


@pytest.mark.skipif(not present("OpenCL"), reason="no OpenCL platform")
def test_missing_gpu_headers_are_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("EXOMEMBRANE_CACHE", str(tmp_path))
    monkeypatch.setattr(native, "_find_header", lambda name, roots: None)
    with pytest.raises(RuntimeError, match=r"no OpenCL headers \(CL/cl.h; install them, e.g. apt-get install opencl"):
        native.build("OpenCL")
    assert not any(tmp_path.iterdir())
