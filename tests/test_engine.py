"""Engine: platform choice, integrators, barostat, protocols, health checks, reproducibility."""
from __future__ import annotations

import numpy as np
import openmm as mm
import pytest
from conftest import present

import exomembrane as em
from exomembrane.engine.platform import select_platform
from exomembrane.engine.simulation import KB, ramp_expression


@pytest.fixture(scope="module")
def membrane(ff) -> em.Structure:
    return em.builders.bilayer(ff, 10.0, seed=3)


def kinetic_kT(sim: em.Simulation) -> float:
    ke = sim.context.getState(getEnergy=True).getKineticEnergy()._value
    return 2 * ke / (3 * sim.system.getNumParticles())


def mean_kinetic_kT(sim: em.Simulation, samples: int, every: int = 50) -> float:
    """Mean kinetic kT over ``samples`` states ``every`` steps apart."""
    values = []
    for _ in range(samples):
        sim.step(every)
        values.append(kinetic_kT(sim))
    return float(np.mean(values))


def test_platform_choice_order_and_reasons(monkeypatch):
    monkeypatch.delenv("EXOMEMBRANE_PLATFORM", raising=False)
    monkeypatch.delenv("OPENMM_DEFAULT_PLATFORM", raising=False)
    auto = select_platform()
    assert auto.name in ("CUDA", "OpenCL", "CPU")
    if auto.name != "CUDA":
        assert "CUDA not used" in auto.reason
    monkeypatch.setenv("OPENMM_DEFAULT_PLATFORM", "CPU")
    monkeypatch.setenv("EXOMEMBRANE_PLATFORM", "reference")
    assert select_platform().name == "Reference"
    assert "EXOMEMBRANE_PLATFORM" in select_platform().reason
    assert select_platform("CPU").name == "CPU"
    with pytest.raises(em.ConfigError, match="'Metal'.*allowed"):
        select_platform("Metal")


def test_seeded_runs_are_reproducible(membrane):
    def run(seed):
        sim = em.create_simulation(membrane, platform="Reference", seed=seed)
        sim.step(20)
        return sim.context.getState(getPositions=True).getPositions(asNumpy=True)._value

    np.testing.assert_array_equal(run(5), run(5))
    assert not np.array_equal(run(5), run(6))


@pytest.mark.parametrize("platform", ["CPU", "OpenCL"])
def test_nve_energy_drift_is_small(membrane, platform):
    """With the pair kernel each platform uses (the native ones where they build)."""
    if not present(platform):
        pytest.skip(f"no {platform} platform")
    sim = em.create_simulation(membrane, platform=platform, seed=1)
    sim.step(500)
    state = sim.context.getState(getPositions=True, getVelocities=True)
    nve = em.create_simulation(membrane, platform=platform, integrator="verlet", dt=0.005)
    nve.context.setState(state)

    def total():
        st = nve.context.getState(getEnergy=True)
        return (st.getPotentialEnergy() + st.getKineticEnergy())._value

    energies = []
    for _ in range(20):
        nve.step(100)
        energies.append(total())
    drift = abs(energies[-1] - energies[0]) / membrane.n_beads
    assert drift < 2e-3, f"NVE drift {drift:.2e} eps per bead over 1900 steps"


def test_langevin_temperature(membrane):
    sim = em.create_simulation(membrane, platform="CPU", kT=1.1, seed=2)
    sim.step(500)
    assert mean_kinetic_kT(sim, 60) == pytest.approx(1.1, rel=0.02)


def test_dpd_conserves_momentum_and_thermalises(membrane):
    sim = em.create_simulation(membrane, platform="CPU", integrator="dpd", kT=1.1, seed=4)
    sim.context.setVelocitiesToTemperature(em.temperature(1.1), 4)
    v = sim.context.getState(getVelocities=True).getVelocities(asNumpy=True)._value
    v -= v.mean(axis=0)
    sim.context.setVelocities(v)
    sim.step(400)
    v = sim.context.getState(getVelocities=True).getVelocities(asNumpy=True)._value
    assert np.abs(v.mean(axis=0)).max() < 1e-6  # Langevin drifts ~1e-2 here; single-precision rounding ~1e-8
    assert mean_kinetic_kT(sim, 20) == pytest.approx(1.1, rel=0.05)


def test_tension_free_barostat_moves_xy_only(membrane):
    sim = em.create_simulation(membrane, platform="CPU", tension=0.0, barostat_interval=10, seed=3)
    box0 = membrane.box
    sim.step(1000)
    box = np.diag(sim.context.getState().getPeriodicBoxVectors(asNumpy=True)._value)
    assert box[2] == pytest.approx(box0[2])
    assert box[0] == pytest.approx(box[1] * box0[0] / box0[1])
    assert box[0] != pytest.approx(box0[0], abs=1e-6)
    with pytest.raises(em.ConfigError, match="tension"):
        em.create_simulation(membrane, platform="Reference", tension=-0.1)


def test_ramp_expression_is_piecewise_linear():
    expr = ramp_expression([(0.0, 1.0), (2.0, 3.0), (4.0, 2.0)], clock="t")
    f = mm.CustomBondForce(expr.replace("t", "r"))
    values = []
    for t in (0.0, 1.0, 2.0, 3.0, 4.0, 9.0):
        s = mm.System()
        s.addParticle(1)
        s.addParticle(1)
        ff = mm.CustomBondForce(f.getEnergyFunction())
        ff.addBond(0, 1)
        s.addForce(ff)
        ctx = mm.Context(s, mm.VerletIntegrator(1), mm.Platform.getPlatformByName("Reference"))
        ctx.setPositions([[0, 0, 0], [t, 0, 0]])
        values.append(ctx.getState(getEnergy=True).getPotentialEnergy()._value)
    np.testing.assert_allclose(values, [1.0, 2.0, 3.0, 2.5, 2.0, 2.0])


def test_protocol_ramps_parameters_inside_the_integrator(membrane):
    protocol = {"w_c": [(0.0, 1.6), (1.0, 1.2)], "kT": [(0.0, 1.1), (2.0, 1.0)]}
    sim = em.create_simulation(membrane, platform="CPU", protocol=protocol, tension=0.0)
    sim.step(50)  # t = 0.5 tau
    assert sim.context.getParameter("w_c") == pytest.approx(1.6 - 0.4 * 0.49, abs=1e-9)
    sim.step(150)  # t = 2.0 tau
    assert sim.context.getParameter("w_c") == pytest.approx(1.2)
    assert sim.integrator.getGlobalVariableByName("kT") == pytest.approx(1.0, abs=1e-3)
    assert sim.context.getParameter("MembraneMonteCarloTemperature") * KB == pytest.approx(1.0, abs=1e-3)
    with pytest.raises(em.ConfigError, match="protocol.stiffness"):
        em.create_simulation(membrane, platform="Reference", protocol={"stiffness": [(0, 1)]})
    with pytest.raises(em.ConfigError, match="strictly increasing"):
        em.create_simulation(membrane, platform="Reference", protocol={"w_c": [(1, 1.6), (0, 1.5)]})


def test_set_kT_updates_thermostat_and_barostat(membrane):
    sim = em.create_simulation(membrane, platform="CPU", tension=0.0)
    em.set_kT(sim, 0.9)
    assert sim.integrator.getTemperature()._value == pytest.approx(em.temperature(0.9))
    assert sim.context.getParameter("MembraneMonteCarloTemperature") == pytest.approx(em.temperature(0.9))


@pytest.mark.parametrize("platform_name", ["Reference", "CPU"])
def test_overstretched_bond_stops_the_run_naming_step_term_and_beads(ff, membrane, platform_name):
    pos = membrane.positions.copy()
    pos[5] += [0, 0, -0.7]  # T1-T2 bond of lipid 1 stretched to 1.67 sigma > r_inf
    bad = em.Structure(ff, membrane.species, membrane.molecule_species, pos, membrane.box)
    sim = em.create_simulation(bad, platform=platform_name, health_interval=10)
    with pytest.raises(em.SimulationError) as err:
        sim.step(100)
    msg = str(err.value)
    assert "step 10" in msg and "fene" in msg and "4-5" in msg


def test_nan_coordinates_raise_a_simulation_error(ff, membrane):
    sim = em.create_simulation(membrane, platform="CPU", health_interval=1000)
    pos = membrane.positions.copy()
    pos[7] = np.nan
    sim.context.setPositions(pos)
    with pytest.raises(em.SimulationError, match="non-finite positions"):
        sim.step(10)
