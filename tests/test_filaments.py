"""ESCRT-III-like filaments: the spring and binding terms against their numpy references and finite
differences, the preferred helix, the bending rigidity, the flat-spiral builder, disassembly in the
order asked, bad input naming the field, and a filament that stays bound in the flat stage."""
from __future__ import annotations

import dataclasses

import numpy as np
import openmm as mm
import pytest
from scipy.optimize import minimize_scalar
from test_forcefield import energy

import exomembrane as em
from exomembrane import ConfigError
from exomembrane.builders.filament import HEIGHT, FilamentSpec
from exomembrane.engine.health import diagnose
from exomembrane.engine.system import TERMS
from exomembrane.model.filaments import BINDING, DISASSEMBLY, PITCH, RADIUS, TILT, Filaments, bending_rigidity, helix

OFFSETS = np.array([[-0.5, 0.0], [0.5, 0.0], [0.0, 0.866]])


@pytest.fixture(scope="module")
def patch(ff: em.ForceField) -> em.Structure:
    """A 24 sigma MVB patch (lumen +z) with a 30-subunit spiral on its cytosolic face."""
    return em.builders.mvb_patch(ff, 24.0, box_z=30.0, filaments=[FilamentSpec(subunits=30, radius=4.0)])


def context(s: em.Structure) -> mm.Context:
    ctx = mm.Context(em.create_system(s), mm.VerletIntegrator(0.001), mm.Platform.getPlatformByName("Reference"))
    ctx.setPositions(s.positions)
    return ctx


def fd_forces(ctx: mm.Context, x: np.ndarray, term: str, beads: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """-dE/dx of one term by central differences, for ``beads`` only: (len(beads), 3)."""
    out = np.zeros((len(beads), 3))
    for n, i in enumerate(beads.tolist()):
        for k in range(3):
            for sign in (1, -1):
                y = x.copy()
                y[i, k] += sign * h
                ctx.setPositions(y)
                out[n, k] -= sign * energy(ctx, term) / (2 * h)
    ctx.setPositions(x)
    return out


def jiggled(s: em.Structure, seed: int = 0, by: float = 0.15) -> np.ndarray:
    """Positions with the filament beads moved at random (springs off their rest lengths)."""
    x = s.positions.copy()
    beads = s.filaments.subunits.ravel()
    x[beads] += np.random.default_rng(seed).normal(0, by, (len(beads), 3))
    return x


@pytest.mark.parametrize("geometry", [(4.0, 0.0, 0.0), (3.0, 40.0, -2.0), (6.0, 90.0, 3.0)])
@pytest.mark.parametrize("disassembly", [0.0, 0.5])
def test_springs_match_the_reference_and_finite_differences(patch: em.Structure, geometry, disassembly) -> None:
    f = patch.filaments
    ctx = context(patch)
    x = jiggled(patch)
    ctx.setPositions(x)
    for name, value in zip((RADIUS, TILT, PITCH), geometry):
        ctx.setParameter(name, value)
    ctx.setParameter(DISASSEMBLY, disassembly)
    e_ref, f_ref = f.energy(x, patch.box, *geometry, disassembly=disassembly)
    assert e_ref > 0
    assert energy(ctx, "filament") == pytest.approx(e_ref, rel=1e-8)
    forces = ctx.getState(getForces=True, groups={TERMS["filament"]}).getForces(asNumpy=True)._value
    np.testing.assert_allclose(forces, f_ref, atol=1e-8)
    some = f.subunits[[0, 14, 29]].ravel()
    np.testing.assert_allclose(fd_forces(ctx, x, "filament", some), f_ref[some], atol=1e-4)


@pytest.fixture(params=["groups", "neighbour list"])
def binding_path(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both ways the binding term is built: interaction groups (small systems) or one neighbour list
    with roles (large ones), chosen by ``BINDING_GROUP_PAIRS``."""
    monkeypatch.setattr("exomembrane.engine.system.BINDING_GROUP_PAIRS", 10**9 if request.param == "groups" else 0)
    return request.param


def test_the_binding_path_follows_the_pair_count(patch: em.Structure, binding_path: str) -> None:
    force = next(f for f in em.create_system(patch).getForces() if f.getName() == "binding")
    assert (force.getNumInteractionGroups() > 0) == (binding_path == "groups")
    assert force.getNumPerParticleParameters() == (1 if binding_path == "groups" else 3)


def test_a_small_patch_binds_through_groups(patch: em.Structure) -> None:
    force = next(f for f in em.create_system(patch).getForces() if f.getName() == "binding")
    assert force.getNumInteractionGroups() == 1  # 60 subunits on a small patch: groups are cheaper


@pytest.mark.parametrize("disassembly", [0.0, 0.5])
def test_binding_matches_the_reference_and_finite_differences(patch: em.Structure, disassembly: float,
                                                              binding_path: str) -> None:
    f = patch.filaments
    ctx = context(patch)
    x = jiggled(patch, 1, 0.3)
    ctx.setPositions(x)
    ctx.setParameter(BINDING, 1.7)
    ctx.setParameter(DISASSEMBLY, disassembly)
    heads = np.flatnonzero(patch.bead_arrays()[1] & patch.is_lipid()[patch.bead_molecule()])
    e_ref, f_ref = f.binding_energy(x, patch.box, heads, 1.7, f.contact, disassembly)
    assert e_ref < -10  # the spiral lies on the membrane
    assert energy(ctx, "binding") == pytest.approx(e_ref, rel=1e-8)
    forces = ctx.getState(getForces=True, groups={TERMS["binding"]}).getForces(asNumpy=True)._value
    np.testing.assert_allclose(forces, f_ref, atol=1e-8)
    some = f.binding[:6]
    np.testing.assert_allclose(fd_forces(ctx, x, "binding", some), f_ref[some], atol=1e-4)


def test_a_filament_on_its_preferred_helix_has_no_spring_energy() -> None:
    n = 40
    for radius, tilt, pitch in [(5.0, 0.0, 0.0), (3.0, 60.0, -4.0), (8.0, -30.0, 2.5)]:
        x = helix(n, OFFSETS, 1.2, radius, tilt, pitch).reshape(-1, 3)
        f = _chain(n)
        e, forces = f.energy(x, np.full(3, 1e3), radius, tilt, pitch)
        assert e == pytest.approx(0.0, abs=1e-18) and np.abs(forces).max() < 1e-9
        assert f.energy(x, np.full(3, 1e3), radius * 1.3, tilt, pitch)[0] > 0.05  # another radius is strained
        if pitch:
            assert f.energy(x, np.full(3, 1e3), radius, tilt, 0.0)[0] > 0.05


def test_bending_rigidity_is_the_energy_of_a_bent_filament() -> None:
    """kappa from :func:`bending_rigidity` against the spring energy of a filament bent on an arc
    (in the binding face: tilt 0; out of it: tilt 90) whose springs rest straight."""
    n, a, k = 50, 1.2, 10.0
    kappa = bending_rigidity(OFFSETS, a, k)
    straight = 1e7
    for which, tilt in ((0, 0.0), (1, 90.0)):
        f = dataclasses.replace(_chain(n), k=np.full(len(_chain(n).k), k))
        for curvature in (0.01, 0.02):
            def bent(spacing: float, c: float = curvature, t: float = tilt, f: Filaments = f) -> float:
                x = helix(n, OFFSETS, spacing, 1 / c, t, 0.0).reshape(-1, 3)  # it may stretch along its axis
                return f.energy(x, np.full(3, 1e4), straight, t, 0.0)[0]

            e = minimize_scalar(bent, bounds=(0.98 * a, 1.02 * a), method="bounded", options={"xatol": 1e-9}).fun
            assert e / ((n - 1.5) * a) == pytest.approx(0.5 * kappa[which] * curvature ** 2, rel=0.03)


def _chain(n: int) -> Filaments:
    beads = np.arange(3 * n).reshape(n, 3)
    pairs, a, b, arc = [], [], [], []
    for m, combos in ((1, [(i, j) for i in range(3) for j in range(3)]), (2, [(i, i) for i in range(3)])):
        for i, j in combos:
            pairs.append(np.stack([beads[:-m, i], beads[m:, j]], 1))
            a.append(np.tile(OFFSETS[i], (n - m, 1)))
            b.append(np.tile(OFFSETS[j], (n - m, 1)))
            arc.append(np.full(n - m, 1.2 * m))
    m = sum(len(p) for p in pairs)
    off = np.full(m, 2.0)
    return Filaments(np.concatenate(pairs), np.concatenate(a), np.concatenate(b), np.concatenate(arc), np.ones(m), off,
                     beads[:, :2].ravel(), np.full(2 * n, 2.0), beads, np.zeros(n), np.full(n, 2.0))


def test_the_spiral_lies_on_the_cytosolic_face_without_holes(ff: em.ForceField, patch: em.Structure) -> None:
    bare = em.builders.mvb_patch(ff, 24.0, box_z=30.0)
    assert patch.n_lipids == bare.n_lipids  # no lipid removed under the spiral
    f = patch.filaments
    assert len(f) == 30 and set(patch.parameters) == {RADIUS, TILT, PITCH, BINDING, DISASSEMBLY}
    x = patch.positions[f.subunits]  # (30, 3, 3)
    centres = x.mean(1)
    steps = np.linalg.norm(np.diff(centres, axis=0), axis=1)
    np.testing.assert_allclose(steps, 1.2, atol=0.02)  # subunits spacing apart along the spiral
    heads = patch.positions[patch.bead_arrays()[1] & patch.is_lipid()[patch.bead_molecule()]]
    cytosolic_heads = heads[heads[:, 2] < 15.0, 2]  # lumen +z: the cytosol is below
    np.testing.assert_allclose(x[:, :2, 2], np.median(cytosolic_heads) - HEIGHT, atol=1e-6)
    assert np.all(x[:, 2, 2] < x[:, 0, 2])  # the top bead points into the cytosol
    r = np.linalg.norm(centres[:, :2] - patch.box[:2] / 2, axis=1)
    assert np.all(np.diff(r) > 0) and r[0] == pytest.approx(3.0, abs=0.01)  # winds outwards from the base
    assert f.subunit_off[0] > f.subunit_off[-1]  # "tip" order: the outer end goes first


def test_subunits_are_kept_in_the_cytosol_by_the_walls(patch: em.Structure) -> None:
    """Subunits that let go stay in the cytosol: through a flat patch's periodic z face the cytosol
    would reach the lumen, so the filament's molecules carry the z walls of soluble molecules."""
    subunit_molecules = np.unique(patch.bead_molecule()[patch.filaments.subunits.ravel()])
    assert patch.confined[subunit_molecules].all() and not patch.confined[patch.is_lipid()].any()
    walls = [f for f in em.create_system(patch).getForces() if f.getName() == "wall"]
    assert len(walls) == 1 and walls[0].getNumParticles() == patch.filaments.subunits.size


def test_a_spiral_wraps_onto_a_closed_mvb(ff: em.ForceField) -> None:
    s = em.builders.mvb_vesicle(ff, 12.0, filaments=[FilamentSpec(subunits=20)])
    f = s.filaments
    centre = s.positions[s.is_lipid()[s.bead_molecule()]].mean(0)
    r = np.linalg.norm(s.positions[f.binding] - centre, axis=1)
    heads = np.linalg.norm(s.positions[s.bead_arrays()[1] & s.is_lipid()[s.bead_molecule()]] - centre, axis=1)
    outer = np.median(heads[heads > 12.0])
    np.testing.assert_allclose(r, outer + HEIGHT, atol=1e-3)
    tops = np.linalg.norm(s.positions[f.subunits[:, 2]] - centre, axis=1)
    assert np.all(tops > outer + HEIGHT + 0.5)  # pointing out, into the cytosol
    assert s.positions[f.subunits[0]].mean(0)[2] > centre[2] + 10  # at the +z pole


@pytest.mark.parametrize("order", ["tip", "base", "random"])
def test_disassembly_removes_subunits_in_the_order_asked(ff: em.ForceField, order: str) -> None:
    s = em.builders.mvb_patch(ff, 24.0, box_z=30.0, filaments=[FilamentSpec(subunits=20, disassembly=order)])
    f = s.filaments
    ctx = context(s)
    ctx.setPositions(jiggled(s, 3))
    gone_by = []  # subunits whose springs and binding are all off, as disassembly grows
    for d in np.linspace(0.0, 1.0, 21):
        ctx.setParameter(DISASSEMBLY, d)
        gone = np.flatnonzero(f.subunit_off <= d)
        gone_by.append(gone)
        e_ref = f.energy(jiggled(s, 3), s.box, f.radius, f.tilt, f.pitch, d)[0]
        assert energy(ctx, "filament") == pytest.approx(e_ref, rel=1e-8, abs=1e-10)
    assert len(gone_by[0]) == 0 and len(gone_by[-1]) == 20 and energy(ctx, "binding") == 0.0
    first = [int(np.argmin(f.subunit_off))]
    ranks = np.argsort(f.subunit_off)
    if order == "tip":
        assert ranks.tolist() == list(range(19, -1, -1)) and first == [19]
    elif order == "base":
        assert ranks.tolist() == list(range(20))
    else:
        assert ranks.tolist() not in (list(range(20)), list(range(19, -1, -1)))
    # one subunit at a time: each step of 1/20 removes exactly one more
    assert [len(g) for g in gone_by] == list(range(21))


@pytest.mark.parametrize("filaments,match", [
    ([FilamentSpec(subunits=400)], r"filaments\.0\.subunits: 400 subunits make a spiral reaching .* beyond half the"),
    ([FilamentSpec(subunits=10), FilamentSpec(subunits=10, radius=8.0)],
     r"filaments\.1\.radius: 8\.0 differs from filaments\.0\.radius = 6\.0"),
    ([FilamentSpec(subunits=10, species="TSPN")], r"filaments\.0\.species: TSPN is not a filament subunit"),
    ([FilamentSpec(subunits=10), FilamentSpec(subunits=10)], r"filaments\.1: the spiral overlaps"),
])
def test_bad_filaments_name_the_field(ff: em.ForceField, filaments, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        em.builders.mvb_patch(ff, 24.0, box_z=30.0, filaments=filaments)


@pytest.mark.parametrize("fields,match", [
    ({"persistence_length": -5.0}, r"persistence_length"),
    ({"disassembly": "middle"}, r"disassembly"),
    ({"spacing": 1.0}, r"spacing"),
])
def test_bad_filament_fields_are_refused(fields: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        FilamentSpec(**fields)


def test_a_scenario_names_filament_fields_and_ramps_their_geometry(tmp_path) -> None:
    import yaml

    from exomembrane.scenario import load_scenario as load_file

    def load_scenario(fields: dict):
        path = tmp_path / "f.yaml"
        path.write_text(yaml.safe_dump(fields))
        return load_file(path)

    base = {"name": "f", "builder": {"kind": "mvb_patch", "size": 24.0, "box_z": 30.0,
                                     "filaments": [{"subunits": 10}]},
            "run": {"steps": 10}, "protocol": {"filament_tilt": [[0, 0], [10, 60]]}}
    scenario = load_scenario(base)
    assert len(scenario.build().filaments) == 10
    with pytest.raises(ConfigError, match=r"builder\.filaments\.0\.disassembly"):
        load_scenario({**base, "builder": {**base["builder"], "filaments": [{"disassembly": "middle"}]}})
    with pytest.raises(ConfigError, match=r"protocol\.filament_tilt: not a parameter"):
        load_scenario({**base, "builder": {**base["builder"], "filaments": []}})


def test_a_stretched_filament_spring_is_named_in_the_diagnosis(patch: em.Structure) -> None:
    ctx = context(patch)
    ctx.setParameter(RADIUS, 40.0)
    x = patch.positions.copy()
    x[patch.filaments.subunits[5]] += [0.0, 0.0, -4.0]
    ctx.setPositions(x)
    why = diagnose(ctx, 7, patch.fene_bonds(), 1.5, filaments=patch.filaments)
    assert "step 7" in why and "filament spring(s) stretched > 2 sigma beyond their rest length" in why


def test_replicas_keep_their_own_filaments(patch: em.Structure, binding_path: str) -> None:
    from exomembrane.run.batch import stack

    two = stack(patch, 2)
    assert len(two.filaments) == 60 and two.filaments.binding.max() >= patch.n_beads
    ctx = mm.Context(em.create_system(two, replicas=2), mm.VerletIntegrator(0.001),
                     mm.Platform.getPlatformByName("Reference"))
    ctx.setPositions(two.positions)
    one = context(patch)
    assert energy(ctx, "binding") == pytest.approx(2 * energy(one, "binding"), rel=1e-9)
    assert energy(ctx, "filament") == pytest.approx(2 * energy(one, "filament"), rel=1e-9, abs=1e-9)


def test_the_flat_spiral_stays_bound_at_the_default_binding(ff: em.ForceField) -> None:
    """20 tau on the CPU platform: at the default binding (1 eps per head contact) nearly every
    subunit keeps both binding beads on the membrane; with the binding off it lets go."""
    bound = {}
    for depth in (1.0, 0.0):
        s = em.builders.mvb_patch(ff, 24.0, box_z=30.0, filaments=[FilamentSpec(subunits=30, binding=depth)])
        sim = em.create_simulation(s, platform="CPU", seed=2, tension=0.0)
        sim.step(2000)
        x = sim.context.getState(getPositions=True).getPositions(asNumpy=True)._value
        f = s.filaments
        heads = np.flatnonzero(s.bead_arrays()[1] & s.is_lipid()[s.bead_molecule()])
        from scipy.spatial import cKDTree
        box = np.diag(sim.context.getState().getPeriodicBoxVectors(asNumpy=True)._value)
        near = cKDTree(np.mod(x[heads], box), boxsize=box).query_ball_point(
            np.mod(x[f.binding], box), f.contact + f.w, return_length=True)
        bound[depth] = float((near.reshape(-1, 2) > 0).all(axis=1).mean())
    assert bound[1.0] >= 0.9, bound
    assert bound[0.0] < 0.5, bound


def test_the_filament_geometry_is_steerable_live(patch: em.Structure) -> None:
    from types import SimpleNamespace

    from exomembrane.run.runner import steerable

    sim = em.create_simulation(patch, platform="Reference", seed=3)
    limits = steerable(SimpleNamespace(simulation=sim))  # type: ignore[arg-type]
    assert limits[TILT] == (-90.0, 90.0) and limits[RADIUS] == (1.5, 100.0) and limits[DISASSEMBLY] == (0.0, 1.0)
    assert {PITCH, BINDING} <= set(limits)
    sim.context.setParameter(TILT, 45.0)  # one global parameter, shared by the spring force
    assert sim.context.getParameter(TILT) == pytest.approx(45.0)


def test_replicas_do_not_bind_each_other_even_when_they_touch(patch: em.Structure,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A head of replica 1 moved next to a binding bead of replica 0: both ways of building the term
    leave that pair out (the neighbour list through the replica index)."""
    from exomembrane.run.batch import stack

    two = stack(patch, 2)
    x = two.positions.copy()
    heads = np.flatnonzero(two.bead_arrays()[1] & two.is_lipid()[two.bead_molecule()])
    far = heads[heads >= patch.n_beads][0]
    x[far] = x[two.filaments.binding[0]] + [0.0, 0.0, 0.8]  # in reach, but another replica's head

    def binding_energy(pairs: int) -> float:
        monkeypatch.setattr("exomembrane.engine.system.BINDING_GROUP_PAIRS", pairs)
        ctx = mm.Context(em.create_system(two, replicas=2), mm.VerletIntegrator(0.001),
                         mm.Platform.getPlatformByName("Reference"))
        ctx.setPositions(x)
        return energy(ctx, "binding")

    alone = binding_energy(10**9)
    assert binding_energy(0) == pytest.approx(alone, rel=1e-9)
