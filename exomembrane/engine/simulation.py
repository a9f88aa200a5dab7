"""Simulation set-up: integrators, tension-free barostat, parameter protocols, platform.

The result is a plain :class:`openmm.app.Simulation`; model parameters stay OpenMM global
parameters (``simulation.context.setParameter``), and protocols ramp them on the device, inside
the integrator, without returning to Python.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import openmm as mm
import openmm.app as app

from exomembrane.checks import check_positive
from exomembrane.config import ConfigError
from exomembrane.engine import native
from exomembrane.engine.health import HealthCheck, SimulationError, diagnose
from exomembrane.engine.platform import PlatformChoice, properties, select_platform
from exomembrane.engine.system import create_system, pair_cutoff
from exomembrane.model.structure import Structure

KB = 0.00831446261815324  # kJ/mol/K: kT in eps (kJ/mol) -> temperature in K
TENSION_TO_BAR_NM = 16.605390671738466  # 1 eps/sigma^2 (kJ/mol/nm^2) in bar*nm
Integrator = Literal["langevin", "dpd", "verlet"]
#: Piecewise-linear schedule: global parameter (or "kT") -> [(time in tau, value), ...].
Protocol = Mapping[str, Sequence[tuple[float, float]]]


def temperature(kT: float) -> float:
    """Temperature in K of thermal energy ``kT`` in eps (kT = 1.1 -> 132.3 K)."""
    return kT / KB


def ramp_expression(keyframes: Sequence[tuple[float, float]], clock: str = "t_protocol") -> str:
    """OpenMM expression of a piecewise-linear function of ``clock`` through ``keyframes``.

    Constant before the first and after the last keyframe.
    """
    (t0, v0), *rest = keyframes
    terms = [repr(float(v0))]
    for (ta, va), (tb, vb) in zip(keyframes, rest):
        terms.append(f"{float(vb) - float(va)!r}*min(1, max(0, ({clock} - {float(ta)!r})/{float(tb) - float(ta)!r}))")
    return " + ".join(terms)


def _global_names(system: mm.System, structure: Structure) -> set[str]:
    """Global parameters of ``system``'s forces (the pair table's, whichever pair kernel), and ``kT``."""
    names = {"kT", *structure.forcefield.parameters(set(structure.types)), *structure.parameters}
    for force in system.getForces():
        for k in range(getattr(force, "getNumGlobalParameters", lambda: 0)()):
            names.add(force.getGlobalParameterName(k))
    return names


def _check_protocol(protocol: Protocol, system: mm.System, structure: Structure) -> None:
    names = _global_names(system, structure)
    for name, frames in protocol.items():
        if name not in names:
            raise ConfigError(f"protocol.{name}: not a global parameter of this system; allowed: {sorted(names)}")
        times = [t for t, _ in frames]
        if len(frames) < 1 or any(b <= a for a, b in zip(times, times[1:])) or times[0] < 0:
            raise ConfigError(f"protocol.{name}: keyframes must be [(time, value), ...] with times >= 0 "
                              f"strictly increasing (got {list(frames)})")


def langevin_protocol_integrator(kT: float, friction: float, dt: float, protocol: Protocol,
                                 derived: Mapping[str, str] | None = None) -> mm.CustomIntegrator:
    """LangevinMiddle (BAOAB-type) integrator that also sets global parameters along ``protocol``.

    Global variable ``t_protocol`` (tau) is the clock of the schedule; ``kT`` (eps) may itself
    be scheduled. ``derived`` maps further context parameters to expressions of the scheduled
    ones (e.g. a barostat's temperature from ``kT``). Same update as
    :class:`openmm.LangevinMiddleIntegrator`.
    """
    integ = mm.CustomIntegrator(dt)
    integ.addGlobalVariable("kT", kT)
    integ.addGlobalVariable("a", np.exp(-friction * dt))
    integ.addGlobalVariable("b", np.sqrt(1 - np.exp(-2 * friction * dt)))
    integ.addGlobalVariable("t_protocol", 0.0)
    for name, frames in protocol.items():
        integ.addComputeGlobal(name, ramp_expression(frames))
    for name, expression in (derived or {}).items():
        integ.addComputeGlobal(name, expression)
    integ.addUpdateContextState()
    integ.addComputePerDof("v", "v + dt*f/m")
    integ.addComputePerDof("x", "x + 0.5*dt*v")
    integ.addComputePerDof("v", "a*v + b*sqrt(kT/m)*gaussian")
    integ.addComputePerDof("x", "x + 0.5*dt*v")
    integ.addComputeGlobal("t_protocol", "t_protocol + dt")
    return integ


def make_integrator(kind: Integrator, kT: float, dt: float, friction: float, protocol: Protocol | None,
                    dpd_cutoff: float, derived: Mapping[str, str] | None = None) -> mm.Integrator:
    if kind == "langevin":
        if protocol:
            return langevin_protocol_integrator(kT, friction, dt, protocol, derived)
        return mm.LangevinMiddleIntegrator(temperature(kT), friction, dt)
    if protocol:
        raise ConfigError(f"protocol: schedules run with integrator 'langevin' only (got integrator {kind!r})")
    if kind == "dpd":
        return mm.DPDIntegrator(temperature(kT), friction, dpd_cutoff, dt)
    if kind == "verlet":
        return mm.VerletIntegrator(dt)
    raise ConfigError(f"integrator: {kind!r} is not allowed; allowed: ['langevin', 'dpd', 'verlet']")


class Simulation(app.Simulation):
    """An :class:`openmm.app.Simulation` that knows its :class:`Structure` and platform choice,
    and turns OpenMM's NaN failures into :class:`SimulationError` with a diagnosis."""

    structure: Structure
    platform_choice: PlatformChoice
    seed: int
    pair_cutoff: float  #: sigma
    pair_kernel: str  #: which implementation evaluates the pair force, and why

    def step(self, steps: int) -> None:
        start = self.currentStep
        try:
            super().step(steps)
        except mm.OpenMMException as err:
            fene = self.structure.forcefield.params.fene
            why = diagnose(self.context, self.currentStep, self.structure.fene_bonds(), fene.r_inf,
                           tethers=self.structure.tethers)
            raise SimulationError(f"{why} (last call: step({steps}) from step {start}; OpenMM said: "
                                  f"{str(err).splitlines()[0]})") from None


def set_kT(simulation: app.Simulation, kT: float) -> None:
    """Change the thermal energy (eps) of a running simulation: thermostat and barostat together."""
    check_positive(ConfigError, kT=kT)
    integ = simulation.integrator
    if isinstance(integ, mm.CustomIntegrator):
        integ.setGlobalVariableByName("kT", kT)
    elif hasattr(integ, "setTemperature"):
        integ.setTemperature(temperature(kT))
    for force in simulation.system.getForces():
        if isinstance(force, mm.MonteCarloMembraneBarostat):
            simulation.context.setParameter(force.Temperature(), temperature(kT))


def _membrane_barostat(simulation: app.Simulation) -> mm.MonteCarloMembraneBarostat | None:
    for force in simulation.system.getForces():
        if isinstance(force, mm.MonteCarloMembraneBarostat):
            return force
    return None


def tension_of(simulation: app.Simulation) -> float | None:
    """The lateral tension (eps/sigma^2) the membrane barostat applies now; None without one."""
    baro = _membrane_barostat(simulation)
    if baro is None:
        return None
    return simulation.context.getParameter(baro.SurfaceTension()) / TENSION_TO_BAR_NM


def set_tension(simulation: app.Simulation, tension: float) -> None:
    """Change the lateral tension (eps/sigma^2, >= 0) of a running simulation's membrane barostat."""
    baro = _membrane_barostat(simulation)
    if baro is None:
        raise ConfigError("tension: this simulation has no membrane barostat (run.tension was None)")
    if not tension >= 0:
        raise ConfigError(f"tension: must be >= 0 eps/sigma^2 (got {tension!r})")
    simulation.context.setParameter(baro.SurfaceTension(), tension * TENSION_TO_BAR_NM)


def create_simulation(structure: Structure, *, kT: float = 1.1, dt: float = 0.01, friction: float = 1.0,
                      integrator: Integrator = "langevin", tension: float | None = None,
                      barostat_interval: int = 100, protocol: Protocol | None = None,
                      platform: str | None = None, precision: str = "mixed", device: int | None = None,
                      seed: int | None = None,
                      w_c: float | None = None, w_c_max: float | None = None, dpd_cutoff: float | None = None,
                      health_interval: int = 1000, deterministic: bool = False,
                      params: Mapping[str, float] | None = None, replicas: int = 1) -> Simulation:
    """A ready-to-run :class:`openmm.app.Simulation` of ``structure``.

    Parameters
    ----------
    kT
        Thermal energy in eps (1.1 with w_c 1.6 gives the fluid Cooke bilayer).
    dt, friction
        Time step in tau, Langevin/DPD friction in 1/tau.
    integrator
        ``"langevin"`` (LangevinMiddle), ``"dpd"`` (momentum-conserving DPD thermostat acting on
        pairs within ``dpd_cutoff`` sigma, default the pair cutoff) or ``"verlet"`` (NVE).
    tension
        Lateral tension in eps/sigma^2 (>= 0) for a membrane barostat scaling x and y together,
        z fixed; 0 is tension-free; None means constant area.
    protocol
        ``{parameter: [(time tau, value), ...]}`` ramps run inside the integrator (Langevin only).
    platform, precision, device
        See :func:`exomembrane.platform.select_platform`; precision and device index (GPU of the
        node, OpenMM's ``DeviceIndex``) for CUDA/OpenCL.
    seed
        Seeds the thermostat, barostat and initial velocities (>= 1; OpenMM reads 0 as "draw
        one"). None draws a seed; either way it is kept in ``simulation.seed``.
    w_c, w_c_max
        Starting attraction range (default: force field's) and the largest it may be steered to.
    params
        Starting values of global parameters of the pair table (e.g. ``{"eps_T_T": 1.1}``, eps).
    health_interval
        Steps between checks for non-finite energy (0 disables); failures raise
        :class:`exomembrane.health.SimulationError` naming step, term and beads.
    replicas
        ``structure`` stacks this many non-interacting copies along z (:mod:`exomembrane.run.batch`).

    The chosen platform and why is in ``simulation.platform_choice``.

    Example
    -------
    >>> from exomembrane import load_forcefield, build, create_simulation
    >>> sim = create_simulation(build.bilayer(load_forcefield(), 8.0), platform="Reference")
    >>> sim.step(10)
    """
    check_positive(ConfigError, kT=kT, dt=dt, barostat_interval=barostat_interval)
    if friction < 0:
        raise ConfigError(f"friction: must be >= 0 (got {friction!r})")
    if tension is not None and not tension >= 0:
        raise ConfigError(f"tension: must be >= 0 eps/sigma^2 (got {tension!r}); OpenMM's membrane "
                          f"barostat does not take negative tension")
    if seed is None:
        seed = int(np.random.default_rng().integers(1, 2**31 - 1))
    elif not 1 <= seed < 2**31:
        raise ConfigError(f"seed: must be an integer in [1, 2^31) (got {seed!r}); OpenMM reads 0 as random")
    choice: PlatformChoice = select_platform(platform)
    props = properties(choice, precision, deterministic, device)
    ff_wc = structure.forcefield.params.w_c
    w_c = ff_wc if w_c is None else w_c
    w_c_max = max(w_c, ff_wc if w_c_max is None else w_c_max)
    cutoff = pair_cutoff(structure.forcefield, structure.types, w_c_max)
    if dpd_cutoff is None:
        dpd_cutoff = cutoff

    def assemble(use_native: bool) -> Simulation:
        system = create_system(structure, w_c_max=w_c_max, replicas=replicas, native=use_native)
        if protocol:
            _check_protocol(protocol, system, structure)
        known = _global_names(system, structure)
        for name in params or {}:
            if name not in known or name in ("kT", "w_c"):
                raise ConfigError(f"params.{name}: not a pair-table parameter of this system; allowed: "
                                  f"{sorted(known - {'kT', 'w_c'})}")
        derived = {}
        if tension is not None:
            baro = mm.MonteCarloMembraneBarostat(0.0, tension * TENSION_TO_BAR_NM, temperature(kT),
                                                 mm.MonteCarloMembraneBarostat.XYIsotropic,
                                                 mm.MonteCarloMembraneBarostat.ZFixed, barostat_interval)
            baro.setRandomNumberSeed(seed)
            system.addForce(baro)
            if protocol and "kT" in protocol:
                derived[baro.Temperature()] = f"kT/{KB!r}"
        integ = make_integrator(integrator, kT, dt, friction, protocol, dpd_cutoff, derived)
        if hasattr(integ, "setRandomNumberSeed"):
            integ.setRandomNumberSeed(seed)
        return Simulation(structure.to_openmm_topology(), system, integ, choice.platform, props)

    why_not = native.load(choice.name)
    if why_not is not None or choice.name == "CPU":
        sim = assemble(why_not is None)
    else:
        try:  # the GPU kernel is compiled for the device at the first evaluation
            sim = assemble(True)
            sim.context.setPositions(structure.positions)
            sim.context.getState(getEnergy=True)
        except mm.OpenMMException as err:
            why_not = f"failed on this {choice.name} device: {str(err).strip().splitlines()[0]}"
            sim = assemble(False)
    sim.structure = structure
    sim.platform_choice = choice
    sim.pair_cutoff = cutoff
    sim.pair_kernel = (f"native plugin ({native.KERNELS[choice.name]})" if why_not is None
                       else f"CustomNonbondedForce (native plugin not used: {why_not})")
    sim.seed = seed
    sim.context.setPositions(structure.positions)
    sim.context.setParameter("w_c", w_c)
    for name, value in (params or {}).items():
        sim.context.setParameter(name, value)
    sim.context.setVelocitiesToTemperature(temperature(kT), seed)
    if health_interval:
        r_inf = structure.forcefield.params.fene.r_inf
        sim.reporters.append(HealthCheck(health_interval, structure.fene_bonds(), r_inf, structure.tethers,
                                               structure.filaments))
    return sim
