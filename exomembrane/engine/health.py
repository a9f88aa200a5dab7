"""Blow-up detection: a reporter that stops a run on non-finite energy and says why.

FENE energy is -inf/NaN once a bond reaches r_inf, while the CPU platform keeps finite, outward
forces and would carry on silently; a non-finite potential energy therefore catches overstretched
bonds, NaN positions and diverging pair terms alike.
"""
from __future__ import annotations

import numpy as np
import openmm as mm
import openmm.app as app

from exomembrane.analysis.pbc import minimum_image
from exomembrane.engine.system import TERMS
from exomembrane.model.filaments import PITCH, RADIUS, TILT, Filaments
from exomembrane.model.tethers import ZIPPER, Tethers


class SimulationError(RuntimeError):
    """The simulation became unphysical; the message names the step, the term(s) and the beads."""


def _state(context: mm.Context, **kwargs) -> mm.State | None:
    """getState, or None where OpenMM refuses (e.g. "Particle coordinate is NaN")."""
    try:
        return context.getState(**kwargs)
    except mm.OpenMMException:
        return None


def diagnose(context: mm.Context, step: int, bonds: np.ndarray, r_inf: float, max_listed: int = 5,
             tethers: Tethers | None = None, filaments: Filaments | None = None) -> str:
    """Explain a broken state: non-finite terms, NaN beads, overstretched FENE bonds, the most
    stretched tethers and filament springs (more than 2 sigma beyond their rest length), largest forces."""
    parts = [f"step {step}: the simulation blew up"]
    terms = []
    for force in context.getSystem().getForces():
        if force.getName() not in TERMS:
            continue
        state = _state(context, getEnergy=True, groups={force.getForceGroup()})
        e = np.nan if state is None else state.getPotentialEnergy()._value
        if not np.isfinite(e):
            terms.append(f"{force.getName()} (group {force.getForceGroup()}) = {e}")
    parts.append("non-finite energy in term(s): " + (", ".join(terms) if terms else "none found per term"))
    pos = context.getState(getPositions=True).getPositions(asNumpy=True)._value
    box = np.diag(context.getState().getPeriodicBoxVectors(asNumpy=True)._value)
    bad = np.flatnonzero(~np.isfinite(pos).all(axis=1))
    if bad.size:
        parts.append(f"{bad.size} bead(s) with non-finite positions, e.g. {bad[:max_listed].tolist()}")
    if len(bonds):
        d = pos[bonds[:, 0]] - pos[bonds[:, 1]]
        d = minimum_image(d, box)
        r = np.linalg.norm(d, axis=1)
        over = np.flatnonzero(~(r < r_inf))
        if over.size:
            listed = ", ".join(f"{bonds[k, 0]}-{bonds[k, 1]} (r = {r[k]:.3f})" for k in over[:max_listed])
            parts.append(f"{over.size} FENE bond(s) at or beyond r_inf = {r_inf} sigma: {listed}")
    if tethers is not None and len(tethers):
        parts += _stretched("tether", tethers.pairs, tethers.rest(context.getParameter(ZIPPER)), pos, box, max_listed)
    if filaments is not None and len(filaments):
        geometry = [context.getParameter(name) for name in (RADIUS, TILT, PITCH)]
        parts += _stretched("filament spring", filaments.pairs, filaments.rest(*geometry), pos, box, max_listed)
    state = _state(context, getForces=True)
    if state is not None:
        fn = np.linalg.norm(state.getForces(asNumpy=True)._value, axis=1)
        fn = np.where(np.isfinite(fn), fn, np.inf)
        top = np.argsort(-fn)[:max_listed]
        parts.append("largest forces on beads " + ", ".join(f"{i} ({fn[i]:.3g} eps/sigma)" for i in top))
    parts.append("check the starting structure for overlaps or stretched bonds, or lower dt")
    return "; ".join(parts)


def _stretched(what: str, pairs: np.ndarray, rest: np.ndarray, pos: np.ndarray, box: np.ndarray,
               max_listed: int) -> list[str]:
    """A line naming the springs ``pairs`` stretched more than 2 sigma beyond ``rest`` (none: [])."""
    r = np.linalg.norm(minimum_image(pos[pairs[:, 1]] - pos[pairs[:, 0]], box), axis=1)
    stretch = np.where(np.isfinite(r), r - rest, np.inf)
    over = np.argsort(-stretch)[:max_listed]
    over = over[stretch[over] > 2.0]
    if not over.size:
        return []
    listed = ", ".join(f"{pairs[k, 0]}-{pairs[k, 1]} (r = {r[k]:.3f}, rest {rest[k]:.3f})" for k in over)
    return [f"{what}(s) stretched > 2 sigma beyond their rest length: {listed}"]


class HealthCheck:
    """OpenMM reporter: every ``interval`` steps, raise :class:`SimulationError` if the potential
    energy is not finite. ``bonds`` (n, 2) are the FENE bead pairs, ``r_inf`` their limit (sigma),
    ``tethers`` and ``filaments`` the structure's."""

    def __init__(self, interval: int, bonds: np.ndarray, r_inf: float, tethers: Tethers | None = None,
                 filaments: Filaments | None = None) -> None:
        self.interval = int(interval)
        self.bonds = np.asarray(bonds)
        self.r_inf = r_inf
        self.tethers = tethers
        self.filaments = filaments

    def describeNextReport(self, simulation: app.Simulation) -> dict:
        steps = self.interval - simulation.currentStep % self.interval
        return {"steps": steps, "periodic": None, "include": ["energy"]}

    def report(self, simulation: app.Simulation, state: mm.State) -> None:
        e = state.getPotentialEnergy()._value
        if not np.isfinite(e):
            raise SimulationError(diagnose(simulation.context, simulation.currentStep, self.bonds, self.r_inf,
                                            tethers=self.tethers, filaments=self.filaments))
