"""Every force term against an independent numpy reference, finite differences and other platforms."""
from __future__ import annotations

import numpy as np
import openmm as mm
import pytest

import exomembrane as em
from exomembrane.forcefield import TERMS, pair_expression

RC = 2 ** (1 / 6)


# ---- independent reference: the published piecewise forms -------------------------------------
def ref_pair(r: np.ndarray, b: np.ndarray, tail_pair: np.ndarray, eps_attr: np.ndarray, w_c: float) -> np.ndarray:
    """Cooke pair energy (eps): WCA for r < 2^(1/6) b plus, for tail pairs, -eps / -eps cos^2 well."""
    wca = np.where(r < RC * b, 4 * ((b / r) ** 12 - (b / r) ** 6 + 0.25), 0.0)
    rc = RC * b
    well = np.where(r < rc, -1.0, np.where(r <= rc + w_c, -np.cos(np.pi * (r - rc) / (2 * w_c)) ** 2, 0.0))
    return wca + np.where(tail_pair, eps_attr * well, 0.0)


def ref_energies(s: em.Structure, pos: np.ndarray, w_c: float, eps: dict[str, float]) -> dict[str, float]:
    head, size, _ = s.bead_arrays()
    sp = np.array(s.species)[s.bead_species()]
    i, j = np.triu_indices(len(pos), 1)
    d = pos[i] - pos[j]
    d -= np.round(d / s.box) * s.box
    r = np.linalg.norm(d, axis=1)
    hh, ht = head[i] & head[j], head[i] ^ head[j]
    b = np.where(hh, 0.5 * (size[i] + size[j]),
                 np.where(ht, np.where(head[i], size[i], size[j]), 0.5 * (size[i] + size[j])))
    e_attr = np.sqrt(np.array([eps[x] for x in sp[i]]) * np.array([eps[x] for x in sp[j]]))
    pair = ref_pair(r, b, ~head[i] & ~head[j], e_attr, w_c).sum()
    p = s.forcefield.params

    def lengths(bonds):
        dd = pos[bonds[:, 0]] - pos[bonds[:, 1]]
        dd -= np.round(dd / s.box) * s.box
        return np.linalg.norm(dd, axis=1)

    rb = lengths(s.fene_bonds())
    fene = (-0.5 * p.fene.k * p.fene.r_inf ** 2 * np.log(1 - (rb / p.fene.r_inf) ** 2)).sum()
    rs = lengths(s.bend_bonds())
    bend = (0.5 * p.bend.k * (rs - p.bend.r0) ** 2).sum()
    return {"pair": pair, "fene": fene, "bend": bend}


# ---- helpers ----------------------------------------------------------------------------------
def two_lipids(ff: em.ForceField, names=("LIP", "LIP"), seed: int = 0, box: float = 12.0) -> em.Structure:
    """Two lipids at random orientations with bead distances spanning all regimes (0.85-3 sigma)."""
    rng = np.random.default_rng(seed)
    species = tuple(sorted(set(names)))
    codes = np.array([species.index(n) for n in names])
    chains = []
    origin = np.full(3, box / 2)
    for k in range(2):
        d = rng.normal(size=3)
        d /= np.linalg.norm(d)
        start = origin + (k * rng.uniform(1.0, 2.2)) * rng.normal(size=3) / np.sqrt(3)
        chains.append(start + np.outer(np.arange(3), d) * rng.uniform(0.8, 1.3))
    return em.Structure(ff, species, codes, np.concatenate(chains), np.full(3, box))


def context(s: em.Structure, platform: str, w_c: float | None = None) -> mm.Context:
    system = em.create_system(s, w_c_max=2.0)
    props = {"Precision": "double"} if platform in ("CUDA", "OpenCL") else {}
    ctx = mm.Context(system, mm.VerletIntegrator(0.001), mm.Platform.getPlatformByName(platform), props)
    ctx.setPositions(s.positions)
    if w_c is not None:
        ctx.setParameter("w_c", w_c)
    return ctx


def energy(ctx: mm.Context, term: str | None = None) -> float:
    groups = {TERMS[term]} if term else -1
    return ctx.getState(getEnergy=True, groups=groups).getPotentialEnergy()._value


# ---- tests --------------------------------------------------------------------------------------
@pytest.mark.parametrize("names", [("LIP", "LIP"), ("LIP", "CER"), ("LYSO", "CER")])
@pytest.mark.parametrize("seed", range(6))
def test_energy_matches_reference(ff, names, seed):
    s = two_lipids(ff, names, seed)
    ctx = context(s, "Reference")
    ref = ref_energies(s, s.positions, ff.params.w_c, {n: 1.0 for n in names})
    for term, value in ref.items():
        assert energy(ctx, term) == pytest.approx(value, rel=1e-6, abs=1e-9), term


def pair_of_two(head_a: bool, size_a: float, head_b: bool, size_b: float, r: float, w_c: float = 1.6) -> float:
    """Energy of the model's pair expression for two lone beads a distance r apart."""
    f = mm.CustomNonbondedForce(pair_expression(["LIP"], 1.0))
    f.addGlobalParameter("w_c", w_c)
    f.addGlobalParameter("eps_LIP", 1.0)
    f.addPerParticleParameter("h")
    f.addPerParticleParameter("b")
    f.addParticle([float(head_a), size_a])
    f.addParticle([float(head_b), size_b])
    system = mm.System()
    system.addParticle(1.0)
    system.addParticle(1.0)
    system.addForce(f)
    ctx = mm.Context(system, mm.VerletIntegrator(0.001), mm.Platform.getPlatformByName("Reference"))
    ctx.setPositions([[0, 0, 0], [r, 0, 0]])
    return energy(ctx)


def wca(b: float, r: float) -> float:
    return 4 * ((b / r) ** 12 - (b / r) ** 6 + 0.25) if r < RC * b else 0.0


@pytest.mark.parametrize("kind,r,expected", [
    ("HH", 0.9, wca(0.95, 0.9)), ("HH", 1.07, 0.0),
    ("HT", 0.9, wca(0.95, 0.9)), ("HT", 1.07, 0.0),  # b_HT = 0.95: no WCA beyond 2^(1/6) 0.95
    ("TT", 1.0, wca(1.0, 1.0) - 1.0), ("TT", 1.1, wca(1.0, 1.1) - 1.0), ("TT", RC, -1.0),
    ("TT", RC + 0.8, -np.cos(np.pi * 0.8 / 3.2) ** 2), ("TT", RC + 1.6, 0.0), ("TT", 3.0, 0.0)])
def test_published_pair_values(kind, r, expected):
    """Hand-placed pairs: b_HH = b_HT = 0.95, b_TT = 1.0, -eps plateau, cos^2 well to r_c + w_c."""
    beads = {"H": (True, 0.95), "T": (False, 1.0)}
    assert pair_of_two(*beads[kind[0]], *beads[kind[1]], r) == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_steered_parameters_match_reference(ff):
    s = two_lipids(ff, ("LIP", "CER"), seed=3)
    ctx = context(s, "Reference", w_c=1.3)
    ctx.setParameter("eps_CER", 0.7)
    ref = ref_energies(s, s.positions, 1.3, {"LIP": 1.0, "CER": 0.7})
    assert energy(ctx, "pair") == pytest.approx(ref["pair"], rel=1e-6)


@pytest.mark.parametrize("seed", range(4))
def test_forces_match_finite_differences(ff, seed):
    s = two_lipids(ff, ("LIP", "LYSO"), seed)
    ctx = context(s, "Reference")
    forces = ctx.getState(getForces=True).getForces(asNumpy=True)._value
    h = 1e-6
    fd = np.zeros_like(forces)
    for i in range(len(s.positions)):
        for k in range(3):
            for sign in (1, -1):
                pos = s.positions.copy()
                pos[i, k] += sign * h
                ctx.setPositions(pos)
                fd[i, k] -= sign * energy(ctx) / (2 * h)
    scale = np.abs(forces).max()
    np.testing.assert_allclose(forces, fd, atol=1e-5 * scale + 1e-6)


def test_forces_agree_across_platforms(ff, platform):
    rng = np.random.default_rng(1)
    s = em.build.bilayer(ff, 9.0, upper={"LIP": 0.6, "CER": 0.2, "LYSO": 0.2}, seed=1)
    pos = s.positions + rng.normal(scale=0.05, size=s.positions.shape)
    s = em.Structure(ff, s.species, s.lipid_species, pos, s.box)

    def forces(name):
        return context(s, name).getState(getForces=True).getForces(asNumpy=True)._value

    ref, got = forces("Reference"), forces(platform)
    rel = np.linalg.norm(got - ref, axis=1) / np.maximum(np.linalg.norm(ref, axis=1), 1e-3)
    assert np.median(rel) < 1e-4
    assert rel.max() < 1e-2


def test_fene_beyond_r_inf_is_not_finite(ff):
    s = two_lipids(ff)
    pos = s.positions.copy()
    pos[1] = pos[0] + [1.6, 0, 0]
    ctx = context(em.Structure(ff, s.species, s.lipid_species, pos, s.box), "Reference")
    assert not np.isfinite(energy(ctx, "fene"))


def test_forcefield_files_give_clear_errors(tmp_path, ff):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: X\nepsilon: 1\nw_c: -1\nbead_types: {H: {role: head, size: 1}}\n"
                   "fene: {k: 30, r_inf: 1.5}\nbend: {k: 10, r0: 4}\ncolour: red\n")
    with pytest.raises(em.ConfigError) as err:
        em.load_forcefield(bad)
    assert "w_c" in str(err.value) and "colour" in str(err.value) and "bad.yaml" in str(err.value)
    code = tmp_path / "code.yaml"
    code.write_text("!!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(em.ConfigError, match="not valid YAML"):
        em.load_forcefield(code)
    with pytest.raises(em.ConfigError, match="unknown force field"):
        em.load_forcefield("martini9")
    species = tmp_path / "sp.yaml"
    species.write_text("name: NEW\nbeads: [{name: H, type: Q}, {name: T, type: T}]\nfene: [[0, 1]]\n")
    with pytest.raises(em.ConfigError, match="unknown bead type 'Q'"):
        em.load_forcefield(species=(species,))
    species.write_text("name: NEW\nbeads: [{name: H, type: H}, {name: T, type: T}]\nfene: [[0, 5]]\n")
    with pytest.raises(em.ConfigError, match="fene pair"):
        em.load_forcefield(species=(species,))


def test_user_species_file_adds_a_species(tmp_path):
    f = tmp_path / "dopc.yaml"
    f.write_text("name: LONG\nbeads:\n  - {name: H, type: H}\n  - {name: T1, type: T}\n"
                 "  - {name: T2, type: T}\n  - {name: T3, type: T}\nfene: [[0, 1], [1, 2], [2, 3]]\n"
                 "bend: [[0, 2], [1, 3]]\nattraction: 1.2\n")
    ff = em.load_forcefield(species=(f,))
    s = em.build.bilayer(ff, 8.0, upper={"LIP": 0.5, "LONG": 0.5})
    system = em.create_system(s)
    assert system.getNumParticles() == s.n_beads
    assert (s.bead_names() == "T3").sum() == (s.lipid_species == s.species.index("LONG")).sum()
