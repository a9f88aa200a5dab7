"""SNARE-like tethers: the spring term against its numpy reference and finite differences, the
zippering protocol inside the integrator, the anchors' placement, bad input naming the field, and a
stretched tether named in a blow-up diagnosis."""
from __future__ import annotations

import numpy as np
import openmm as mm
import pytest
from test_forcefield import energy, finite_difference_forces

import exomembrane as em
from exomembrane import ConfigError
from exomembrane.builders import Ilv, TetherSpec, mvb_at_membrane
from exomembrane.engine.health import diagnose
from exomembrane.engine.system import TERMS
from exomembrane.model.tethers import ZIPPER, Tethers


def tethered_pair(ff: em.ForceField, across: bool = False) -> em.Structure:
    """Two lipids 7 sigma apart joined head to head by a tether (across the periodic x boundary)."""
    s = em.builders.gas(ff, 2, 16.0, seed=3)
    x = s.positions.copy()
    x[3:] += np.array([7.0, 0.0, 0.0]) - (x[3] - x[0])
    if across:
        shift = 14.5 - x[0, 0]
        x[:3, 0] += shift
        x[3:, 0] += shift - 16.0
    t = Tethers([[0, 3]], [6.0], [1.0], [7.5])
    return em.Structure(ff, s.species, s.molecule_species, x, s.box, tethers=t)


def tether_context(s: em.Structure) -> mm.Context:
    ctx = mm.Context(em.create_system(s), mm.VerletIntegrator(0.001), mm.Platform.getPlatformByName("Reference"))
    ctx.setPositions(s.positions)
    return ctx


@pytest.mark.parametrize("across", [False, True])
@pytest.mark.parametrize("zipper", [1.0, 0.4, 0.0])
def test_tether_energy_and_forces_match_the_reference(ff: em.ForceField, across: bool, zipper: float) -> None:
    s = tethered_pair(ff, across)
    ctx = tether_context(s)
    ctx.setParameter(ZIPPER, zipper)
    e_ref, f_ref = s.tethers.energy(s.positions, s.box, zipper)
    r = 7.0
    rest = 1.0 + 5.0 * zipper
    assert e_ref == pytest.approx(0.5 * 7.5 * (r - rest) ** 2, rel=1e-9)
    assert energy(ctx, "tether") == pytest.approx(e_ref, rel=1e-9)
    f = ctx.getState(getForces=True, groups={TERMS["tether"]}).getForces(asNumpy=True)._value
    np.testing.assert_allclose(f, f_ref, atol=1e-9)
    assert f[0, 0] > 0 and f[3, 0] < 0  # the spring pulls the heads together (in minimum image)
    fd = finite_difference_forces(ctx, s.positions, lambda c: energy(c, "tether"), 1e-4)
    np.testing.assert_allclose(fd[[0, 3]], f[[0, 3]], atol=1e-5)


def test_zipper_ramps_inside_the_integrator(ff: em.ForceField) -> None:
    s = tethered_pair(ff)
    sim = em.create_simulation(s, platform="Reference", protocol={ZIPPER: [(0.0, 1.0), (1.0, 0.0)]}, seed=5,
                               dt=0.01, friction=1.0)
    sim.step(50)  # 0.5 tau: half zipped
    assert sim.context.getParameter(ZIPPER) == pytest.approx(0.5, abs=0.011)
    sim.step(100)
    assert sim.context.getParameter(ZIPPER) == pytest.approx(0.0)


def test_zipper_is_a_parameter_only_of_tethered_systems(ff: em.ForceField) -> None:
    plain = em.builders.gas(ff, 2, 16.0, seed=3)
    with pytest.raises(ConfigError, match=r"protocol\.zipper: not a global parameter"):
        em.create_simulation(plain, platform="Reference", protocol={ZIPPER: [(0.0, 1.0), (1.0, 0.0)]}, seed=5)


@pytest.fixture(scope="module")
def tethered(ff: em.ForceField) -> em.Structure:
    return mvb_at_membrane(ff, 40.0, mvb_radius=12.0, gap=3.0, ilvs=[Ilv(radius=5.0)],
                           tethers=TetherSpec(count=6, radius=3.0, k=10.0, zipped=1.0))


def test_anchors_face_each_other_across_the_gap(tethered: em.Structure) -> None:
    s = tethered
    t = s.tethers
    assert len(t) == 6 and s.of_species("TMA").sum() == 12
    assert (s.bead_names()[t.pairs] == "TIP").all()
    top, bottom = s.positions[t.pairs[:, 0]], s.positions[t.pairs[:, 1]]
    np.testing.assert_allclose(t.start, np.linalg.norm(top - bottom, axis=1))
    assert (top[:, 2] > bottom[:, 2]).all() and (t.start > 1.0).all() and (t.end == 1.0).all()
    centre = s.box[:2] / 2
    np.testing.assert_allclose(np.linalg.norm(top[:, :2] - centre, axis=1), 3.0, atol=0.05)  # the ring
    # each anchor spans its bilayer: its ends lie on both sides of its membrane's midplane
    heads = s.molecule_start[s.is_lipid()]
    pm = s.positions[heads[s.membrane[s.is_lipid()] == 0], 2]
    mid = pm.mean()
    start = s.molecule_start[s.of_species("TMA")][:6]
    ends = s.positions[np.c_[start, start + 19]]
    assert ((ends[:, :, 2] - mid).prod(axis=1) < 0).all()
    assert (s.membrane[s.of_species("TMA")] == -1).all()


def test_the_tethered_structure_starts_without_overlaps(tethered: em.Structure) -> None:
    sim = em.create_simulation(tethered, platform="CPU", seed=2)
    f = np.linalg.norm(sim.context.getState(getForces=True).getForces(asNumpy=True)._value, axis=1)
    anchors = tethered.of_species("TMA")[tethered.bead_molecule()]
    assert f[anchors].max() < 100.0  # eps/sigma: no overlap with the lipids left around them
    assert energy(sim.context, "tether") == pytest.approx(0.0, abs=1e-6)  # unzipped: linkers at rest


@pytest.mark.parametrize("spec, gap, match", [
    (TetherSpec(species="LIP"), 3.0, r"tethers\.species: LIP must be a protein species with a bead named TIP"),
    (TetherSpec(species="NOPE"), 3.0, r"tethers\.species: .*NOPE"),
    (TetherSpec(count=8, radius=1.5), 3.0, r"tethers\.radius: 8 anchors .* do not fit on a ring"),
    (TetherSpec(radius=11.0), 3.0, r"tethers\.radius: 11.0 sigma reaches beyond the top"),
    (TetherSpec(), 0.5, r"tethers: partner tips start .* apart"),
])
def test_bad_tethers_name_the_field(ff: em.ForceField, spec: TetherSpec, gap: float, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        mvb_at_membrane(ff, 40.0, mvb_radius=12.0, gap=gap, ilvs=[], tethers=spec)


def test_random_anchors_keep_apart(ff: em.ForceField) -> None:
    s = mvb_at_membrane(ff, 40.0, mvb_radius=12.0, gap=3.0, ilvs=[],
                        tethers=TetherSpec(count=4, arrangement="random", radius=5.0), seed=4)
    top = s.positions[s.tethers.pairs[:, 0], :2]
    d = np.linalg.norm(top[:, None] - top[None], axis=-1)[np.triu_indices(4, 1)]
    assert d.min() >= 2.4 and np.linalg.norm(top - s.box[:2] / 2, axis=1).max() <= 5.0 + 1e-9


def test_a_stretched_tether_is_named_in_the_diagnosis(ff: em.ForceField) -> None:
    s = tethered_pair(ff)
    ctx = tether_context(s)
    ctx.setParameter(ZIPPER, 0.0)
    why = diagnose(ctx, 42, s.fene_bonds(), 1.5, tethers=s.tethers)
    assert "step 42" in why and "tether(s) stretched > 2 sigma beyond their rest length: 0-3 (r = 7.000, rest 1.000)" in why


def test_replicas_keep_their_own_tethers(ff: em.ForceField) -> None:
    from exomembrane.run.batch import stack

    s = tethered_pair(ff)
    two = stack(s, 2)
    np.testing.assert_array_equal(two.tethers.pairs, [[0, 3], [6, 9]])
    ctx = mm.Context(em.create_system(two, replicas=2), mm.VerletIntegrator(0.001),
                     mm.Platform.getPlatformByName("Reference"))
    ctx.setPositions(two.positions)
    assert energy(ctx, "tether") == pytest.approx(2 * s.tethers.energy(s.positions, s.box)[0], rel=1e-9)


def test_zipper_and_tension_are_steerable_live(ff: em.ForceField) -> None:
    from types import SimpleNamespace

    from exomembrane.engine.simulation import set_tension, tension_of
    from exomembrane.run.runner import current_parameters, steerable

    s = tethered_pair(ff)
    sim = em.create_simulation(s, platform="Reference", tension=1.5, seed=3)
    limits = steerable(SimpleNamespace(simulation=sim))  # type: ignore[arg-type]
    assert limits[ZIPPER] == (0.0, 1.0) and limits["tension"] == (0.0, 5.0)
    assert tension_of(sim) == pytest.approx(1.5)
    set_tension(sim, 3.0)
    assert current_parameters(sim)["tension"] == pytest.approx(3.0)
    with pytest.raises(ConfigError, match="tension: must be >= 0"):
        set_tension(sim, -1.0)
    plain = em.create_simulation(s, platform="Reference", seed=3)
    assert tension_of(plain) is None and "tension" not in steerable(SimpleNamespace(simulation=plain))  # type: ignore[arg-type]
