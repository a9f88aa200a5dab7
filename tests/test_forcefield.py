"""Every force term against an independent numpy reference, finite differences and other platforms."""
from __future__ import annotations

import numpy as np
import openmm as mm
import pytest

import exomembrane as em
from exomembrane.builders.lipids import lay
from exomembrane.engine.system import TERMS

RC = 2 ** (1 / 6)


# ---- independent reference: the published piecewise forms over the pair table ------------------
def ref_pair(r: np.ndarray, b: np.ndarray, attracts: np.ndarray, eps_attr: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Cooke pair energy (eps): WCA for r < 2^(1/6) b plus, for attracting pairs, -eps / -eps cos^2 well."""
    wca = np.where(r < RC * b, 4 * ((b / r) ** 12 - (b / r) ** 6 + 0.25), 0.0)
    rc = RC * b
    well = np.where(r < rc, -1.0, np.where(r <= rc + w, -np.cos(np.pi * (r - rc) / (2 * w)) ** 2, 0.0))
    return wca + np.where(attracts, eps_attr * well, 0.0)


def ref_energies(s: em.Structure, pos: np.ndarray, w_c: float,
                 values: dict[str, float] | None = None) -> dict[str, float]:
    """Energy of each term from the force field's tables, with numpy only (no OpenMM expression)."""
    ff = s.forcefield
    values = {**ff.parameters(), **(values or {})}
    t, head, size, _ = s.bead_arrays()
    names = np.array(s.types)[t]
    i, j = np.triu_indices(len(pos), 1)
    d = pos[i] - pos[j]
    d -= np.round(d / s.box) * s.box
    r = np.linalg.norm(d, axis=1)
    b = np.where(head[i] & head[j], 0.5 * (size[i] + size[j]),
                 np.where(head[i] ^ head[j], np.where(head[i], size[i], size[j]), 0.5 * (size[i] + size[j])))
    eps, w, attracts = np.zeros(r.size), np.full(r.size, w_c), np.zeros(r.size, bool)
    for k, (a, c) in enumerate(zip(names[i], names[j])):
        e = ff.pairs.get(frozenset((a, c)))
        if e is not None:
            b[k] = e.b or b[k]
            if e.attracts:
                eps[k], w[k], attracts[k] = values[e.parameter], e.w or w_c, True
    bonds, r0, kb = s.harmonic_bonds()
    keep = np.ones(r.size, bool)
    if len(bonds):
        lo, hi = bonds.min(1), bonds.max(1)
        keep[np.isin(i * len(pos) + j, lo * len(pos) + hi)] = False
    pair = ref_pair(r, b, attracts, eps, w)[keep].sum()
    p = ff.params

    def vec(a, c):
        dd = pos[a] - pos[c]
        return dd - np.round(dd / s.box) * s.box

    def lengths(pairs):
        return np.linalg.norm(vec(pairs[:, 0], pairs[:, 1]), axis=1)

    rb = lengths(s.fene_bonds())
    out = {"pair": pair,
           "fene": (-0.5 * p.fene.k * p.fene.r_inf ** 2 * np.log(1 - (rb / p.fene.r_inf) ** 2)).sum(),
           "bend": (0.5 * p.bend.k * (lengths(s.bend_bonds()) - p.bend.r0) ** 2).sum(),
           "bond": (0.5 * kb * (lengths(bonds) - r0) ** 2).sum() if len(bonds) else 0.0}
    tri, theta0, ka = s.angles()
    if len(tri):
        u, v = vec(tri[:, 0], tri[:, 1]), vec(tri[:, 2], tri[:, 1])
        cos = np.einsum("ij,ij->i", u, v) / np.linalg.norm(u, axis=1) / np.linalg.norm(v, axis=1)
        out["angle"] = (0.5 * ka * (np.arccos(np.clip(cos, -1, 1)) - np.radians(theta0)) ** 2).sum()
    else:
        out["angle"] = 0.0
    return out


# ---- helpers ----------------------------------------------------------------------------------
def two_molecules(ff: em.ForceField, names=("LIP", "LIP"), seed: int = 0, box: float = 14.0) -> em.Structure:
    """Two molecules at random orientations, close enough that bead distances span all regimes."""
    rng = np.random.default_rng(seed)
    species = tuple(sorted(set(names)))
    codes = np.array([species.index(n) for n in names])
    d = rng.normal(size=(2, 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    origin = np.full((2, 3), box / 2)
    origin[1] += rng.uniform(1.0, 2.2) * rng.normal(size=3) / np.sqrt(3)
    pos = lay(ff, species, codes, origin, d, rng.uniform(0, 2 * np.pi, 2))
    # keep every inter-molecule pair outside the WCA core (r > 0.85 sigma): push the second out
    n0 = len(ff.get(names[0]).beads)
    for _ in range(100):
        r = np.linalg.norm(pos[:n0, None] - pos[None, n0:], axis=-1)
        if r.min() > 0.85:
            break
        away = pos[n0:].mean(0) - pos[:n0].mean(0)
        pos[n0:] += 0.1 * away / np.linalg.norm(away)
    return em.Structure(ff, species, codes, pos, np.full(3, box))


def with_molecules(s: em.Structure, name: str, origin: np.ndarray, direction: np.ndarray) -> em.Structure:
    """``s`` with molecules of species ``name`` placed at ``origin`` (k, 3) pointing along ``direction``."""
    species = tuple(s.species) + (name,)
    extra = lay(s.forcefield, (name,), np.zeros(len(origin), int), origin, direction)
    return em.Structure(s.forcefield, species, np.r_[s.molecule_species, np.full(len(origin), len(species) - 1)],
                        np.concatenate([s.positions, extra]), s.box)


def context(s: em.Structure, platform: str, w_c: float | None = None) -> mm.Context:
    system = em.create_system(s, w_c_max=2.0)
    props = {"Precision": "double"} if platform in ("CUDA", "OpenCL") else {}
    ctx = mm.Context(system, mm.VerletIntegrator(0.001), mm.Platform.getPlatformByName(platform), props)
    ctx.setPositions(s.positions)
    if w_c is not None:
        ctx.setParameter("w_c", w_c)
    return ctx


def finite_difference_forces(ctx: mm.Context, positions: np.ndarray, energy_of, h: float) -> np.ndarray:
    """-dE/dx by central differences of ``energy_of(ctx)`` with step ``h`` (sigma)."""
    fd = np.zeros_like(positions)
    for i in range(len(positions)):
        for k in range(3):
            for sign in (1, -1):
                pos = positions.copy()
                pos[i, k] += sign * h
                ctx.setPositions(pos)
                fd[i, k] -= sign * energy_of(ctx) / (2 * h)
    ctx.setPositions(positions)
    return fd


def energy(ctx: mm.Context, term: str | None = None) -> float:
    groups = {TERMS[term]} if term else -1
    return ctx.getState(getEnergy=True, groups=groups).getPotentialEnergy()._value


# ---- tests --------------------------------------------------------------------------------------
PAIRS = [("LIP", "LIP"), ("LIP", "CER"), ("LYSO", "CER"), ("LIP4", "CER"), ("TSPN", "LIP"), ("CARG", "TSPN"),
         ("RNA", "CARG"), ("ANG", "RNA"), ("ANG", "CARG"), ("PE", "LIP"), ("ADP", "ADM"), ("ESC3", "LIP")]


@pytest.mark.parametrize("names", PAIRS)
@pytest.mark.parametrize("seed", range(4))
def test_energy_matches_reference(ff_angles, names, seed):
    s = two_molecules(ff_angles, names, seed)
    ctx = context(s, "Reference")
    ref = ref_energies(s, s.positions, ff_angles.params.w_c)
    # walls: tests/test_mvb.py, tethers: tests/test_tethers.py, filament springs and binding: tests/test_filaments.py
    assert set(ref) == set(TERMS) - {"wall", "tether", "filament", "binding"}
    present = {f.getName() for f in ctx.getSystem().getForces()}
    for term, value in ref.items():
        got = energy(ctx, term) if term in present else 0.0
        assert got == pytest.approx(value, rel=1e-6, abs=1e-9), term


#: The pair expression of exomembrane 0.1 (lipid-only, one attraction per species, sqrt mixing).
def legacy_pair(species: list[str]) -> str:
    eps = "(" + "+".join(f"eps_{n}*delta(s{{i}}-{k})" for k, n in enumerate(species)) + ")"
    return ("1.0*max(0, 2*(b/r)^6 - 1)^2"
            f" - ea*0.5*(1 + cos(3.141592653589793*min(1, max(0, r - {2 ** (1 / 6)!r}*b)/w_c)));"
            "b = select(h1 + h2, (h1*b1 + h2*b2)/(h1 + h2), 0.5*(b1 + b2));"
            f"ea = sqrt((1 - h1)*(1 - h2)*{eps.format(i=1)}*{eps.format(i=2)})")


def test_lipid_only_energies_equal_the_lipid_model(ff):
    """The pair table reproduces the former lipid-only model to <= 1e-12 per term (Reference)."""
    rng = np.random.default_rng(4)
    s = em.builders.bilayer(ff, 9.0, upper={"LIP": 0.5, "CER": 0.3, "LYSO": 0.2}, lower={"LIP": 0.7, "CER": 0.3})
    s = em.Structure(ff, s.species, s.molecule_species, s.positions + rng.normal(scale=0.08, size=s.positions.shape),
                     s.box)
    system = em.create_system(s)
    legacy = mm.XmlSerializer.clone(system)
    k = next(n for n, f in enumerate(legacy.getForces()) if f.getName() == "pair")
    new_pair = legacy.getForce(k)
    old = mm.CustomNonbondedForce(legacy_pair(list(s.species)))
    old.addGlobalParameter("w_c", 1.6)
    for n in s.species:
        old.addGlobalParameter(f"eps_{n}", 1.0)
    for name in "hbs":
        old.addPerParticleParameter(name)
    _, head, size, _ = s.bead_arrays()
    for h, b, sp in zip(head, size, s.bead_species()):
        old.addParticle([float(h), float(b), float(sp)])
    old.setNonbondedMethod(mm.CustomNonbondedForce.CutoffPeriodic)
    old.setCutoffDistance(new_pair.getCutoffDistance())
    old.setForceGroup(TERMS["pair"])
    old.setName("pair")
    legacy.removeForce(k)
    legacy.addForce(old)
    energies = []
    for sys_ in (system, legacy):
        ctx = mm.Context(sys_, mm.VerletIntegrator(0.001), mm.Platform.getPlatformByName("Reference"))
        ctx.setPositions(s.positions)
        energies.append({t: energy(ctx, t) for t in ("pair", "fene", "bend")})
    for term in ("pair", "fene", "bend"):
        assert abs(energies[0][term] - energies[1][term]) <= 1e-12 * abs(energies[1][term]), term


def pair_of_two(a: str, b: str, r: float, w_c: float = 1.6, params: dict[str, float] | None = None) -> float:
    """Pair energy of two lone beads of types ``a`` and ``b`` a distance ``r`` apart (global ``params`` set)."""
    ff = em.load_forcefield()
    single = {f"X{t}": em.Species.model_validate({"name": f"X{t}", "kind": "cargo",
                                                  "beads": [{"name": "B", "type": t}]}) for t in {a, b}}
    ff = em.ForceField(ff.params, {**ff.species, **single})
    names = tuple(sorted(single))
    s = em.Structure(ff, names, [names.index(f"X{a}"), names.index(f"X{b}")], [[5, 5, 5], [5 + r, 5, 5]], [12] * 3)
    ctx = context(s, "Reference", w_c)
    for name, value in (params or {}).items():
        ctx.setParameter(name, value)
    return energy(ctx, "pair")


def wca(b: float, r: float) -> float:
    return 4 * ((b / r) ** 12 - (b / r) ** 6 + 0.25) if r < RC * b else 0.0


@pytest.mark.parametrize("kind,r,expected", [
    ("HH", 0.9, wca(0.95, 0.9)), ("HH", 1.07, 0.0),
    ("HT", 0.9, wca(0.95, 0.9)), ("HT", 1.07, 0.0),  # b_HT = 0.95: no WCA beyond 2^(1/6) 0.95
    ("TT", 1.0, wca(1.0, 1.0) - 1.0), ("TT", 1.1, wca(1.0, 1.1) - 1.0), ("TT", RC, -1.0),
    ("TT", RC + 0.8, -np.cos(np.pi * 0.8 / 3.2) ** 2), ("TT", RC + 1.6, 0.0), ("TT", 3.0, 0.0),
    ("HSH", 0.8, wca(0.85, 0.8)), ("HST", 0.8, wca(0.75, 0.8)), ("HST", 0.85, 0.0),
    ("RCF", RC + 0.8, -1.5 * np.cos(np.pi * 0.8 / 3.2) ** 2), ("PTH", 0.9, wca(0.95, 0.9)),
    ("PTPH", 1.0, wca(1.0, 1.0)), ("RBR", RC + 0.8, -2.5 * np.cos(np.pi * 0.8 / 3.2) ** 2),
    ("GPR", RC + 0.8, 0.0), ("GPT", RC + 0.8, 0.0)])
def test_published_pair_values(kind, r, expected):
    """Hand-placed pairs: b_HH = b_HT = 0.95, b_TT = 1.0, -eps plateau, cos^2 well to r_c + w_c; the
    pair table's protein entries (RNA-cargo affinity 1.5, RNA-adaptor 2.5; the GPI protein bead only
    repels) and head-dominated mixing for new types."""
    types = {"HH": ("H", "H"), "HT": ("H", "T"), "TT": ("T", "T"), "HSH": ("HS", "H"), "HST": ("HS", "T"),
             "RCF": ("R", "CF"), "PTH": ("PT", "H"), "PTPH": ("PT", "PH"), "RBR": ("RB", "R"), "GPR": ("GP", "R"),
             "GPT": ("GP", "T")}[kind]
    assert pair_of_two(*types, r) == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_rna_granule_cohesion_is_off_by_default_and_steerable():
    """RNA-RNA (an RNP granule's cohesion, global ``affinity_rna_rna``): only repulsion as shipped,
    the cos^2 well at the value set."""
    assert pair_of_two("R", "R", RC + 0.8) == 0.0 and pair_of_two("R", "R", 1.0) == pytest.approx(wca(1.0, 1.0))
    assert pair_of_two("R", "R", RC + 0.8, params={"affinity_rna_rna": 1.5}) == pytest.approx(
        -1.5 * np.cos(np.pi * 0.8 / 3.2) ** 2, rel=1e-12)


def test_entry_with_own_range_and_size(ff, tmp_path):
    """An entry's ``w`` and ``b`` replace w_c and the mixing rule for that pair only."""
    f = tmp_path / "x.yaml"
    f.write_text("name: XQ\nkind: cargo\nbead_types: {Q: {role: cargo, size: 1.0}}\n"
                 "pairs: [{types: [Q, T], eps: 2.0, w: 1.0, b: 1.3, param: stick}]\nbeads: [{name: Q1, type: Q}]\n")
    ff2 = em.load_forcefield(species=(f,))
    xyz = [[5, 5, 8.0], [5, 5, 7.03], [5, 5, 6.06], [5, 5, 6.06 - RC * 1.3 - 0.5]]
    s = em.Structure(ff2, ("LIP", "XQ"), [0, 1], xyz, [14] * 3)
    ctx = context(s, "Reference")
    assert energy(ctx, "pair") == pytest.approx(ref_energies(s, s.positions, 1.6)["pair"], rel=1e-9)
    on = energy(ctx, "pair")
    ctx.setParameter("stick", 0.0)
    # Q sits 0.5 sigma beyond r_c = 2^(1/6) 1.3 from T2 and out of reach of H and T1: the entry's
    # well is -2 cos^2(pi 0.5 / (2 w)) with w = 1.0 (with w_c = 1.6 it would be -1.69)
    assert on - energy(ctx, "pair") == pytest.approx(-2.0 * np.cos(np.pi * 0.5 / 2.0) ** 2, rel=1e-9)


def test_adhesion_acts_across_the_two_adhesive_heads_only(ff):
    """ADP and ADM heads attract with depth ``adhesion`` (default 0: both are then plain LIPs); neither
    head attracts its own kind, another head or a tail, so each membrane's own mixing is unchanged."""
    well = -np.cos(np.pi * 0.8 / 3.2) ** 2  # 0.8 sigma beyond r_c = 2^(1/6) 0.95 with w_c = 1.6
    r = RC * 0.95 + 0.8
    assert pair_of_two("HAP", "HAM", r) == 0.0
    for a, b, depth in [("HAP", "HAM", 0.7), ("HAP", "HAP", 0.0), ("HAM", "HAM", 0.0), ("HAP", "H", 0.0),
                        ("HAM", "T", 0.0)]:
        steer = {"adhesion": 0.7} if {a, b} == {"HAP", "HAM"} else None  # other pairs have no such entry
        assert pair_of_two(a, b, r, params=steer) == pytest.approx(depth * well, abs=1e-12), (a, b)
    s = two_molecules(ff, ("ADP", "ADM"), seed=7)  # heads 2.4 sigma apart, within reach
    ctx = context(s, "Reference")
    ctx.setParameter("adhesion", 0.7)
    assert energy(ctx, "pair") == pytest.approx(ref_energies(s, s.positions, 1.6, {"adhesion": 0.7})["pair"],
                                                rel=1e-9)
    forces = ctx.getState(getForces=True).getForces(asNumpy=True)._value
    fd = finite_difference_forces(ctx, s.positions, energy, 1e-6)
    np.testing.assert_allclose(forces, fd, atol=1e-5 * np.abs(forces).max() + 1e-6)
    on = energy(ctx, "pair")
    ctx.setParameter("adhesion", 0.0)
    assert on < energy(ctx, "pair") - 0.02  # the two heads are within reach of each other


def test_steered_parameters_match_reference(ff):
    s = two_molecules(ff, ("LIP", "CER"), seed=3)
    ctx = context(s, "Reference", w_c=1.3)
    ctx.setParameter("eps_T_TC", 0.7)
    ref = ref_energies(s, s.positions, 1.3, {"eps_T_TC": 0.7})
    assert energy(ctx, "pair") == pytest.approx(ref["pair"], rel=1e-6)


@pytest.mark.parametrize("names", [("LIP", "LYSO"), ("TSPN", "CER"), ("ANG", "CARG"), ("LIP4", "LIP")])
@pytest.mark.parametrize("seed", range(2))
def test_forces_match_finite_differences(ff_angles, names, seed):
    s = two_molecules(ff_angles, names, seed)
    ctx = context(s, "Reference")
    forces = ctx.getState(getForces=True).getForces(asNumpy=True)._value
    fd = finite_difference_forces(ctx, s.positions, energy, 1e-6)
    scale = np.abs(forces).max()
    np.testing.assert_allclose(forces, fd, atol=1e-5 * scale + 1e-6)


def test_forces_agree_across_platforms(ff, platform):
    rng = np.random.default_rng(1)
    s = em.builders.bilayer(ff, 12.0, upper={"LIP": 0.6, "CER": 0.2, "LYSO": 0.2}, lower={"LIP4": 0.5, "LIP": 0.5},
                         seed=1)
    s = with_molecules(s, "RNA", np.array([[2.0, 2.0, 17.0], [8.0, 8.0, 3.0]]), np.array([[1.0, 0, 0], [0, 1.0, 0]]))
    s = with_molecules(s, "TSPN", np.array([[6.0, 6.0, 10.0]]), np.array([[0, 0, 1.0]]))
    pos = s.positions + rng.normal(scale=0.05, size=s.positions.shape)
    s = em.Structure(ff, s.species, s.molecule_species, pos, s.box)

    def forces(name):
        return context(s, name).getState(getForces=True).getForces(asNumpy=True)._value

    ref, got = forces("Reference"), forces(platform)
    rel = np.linalg.norm(got - ref, axis=1) / np.maximum(np.linalg.norm(ref, axis=1), 1e-3)
    assert np.median(rel) < 1e-4
    assert rel.max() < 1e-2


def test_fene_beyond_r_inf_is_not_finite(ff):
    s = two_molecules(ff)
    pos = s.positions.copy()
    pos[1] = pos[0] + [1.6, 0, 0]
    ctx = context(em.Structure(ff, s.species, s.molecule_species, pos, s.box), "Reference")
    assert not np.isfinite(energy(ctx, "fene"))


def test_elastic_network_keeps_a_protein_and_is_excluded_from_pairs(ff):
    """The cone's elastic network: rest lengths = template distances (zero bond energy as built),
    every bonded pair excluded from the pair force, and the shape kept under thermal motion."""
    sp = ff.get("TSPN")
    pairs, r0, _ = sp.harmonic()
    x = sp.template
    np.testing.assert_allclose(np.linalg.norm(x[pairs[:, 0]] - x[pairs[:, 1]], axis=1), r0)
    assert len(pairs) and np.all(r0 < sp.elastic.cutoff)
    s = with_molecules(em.Structure(ff, ("LIP",), [0], [[1, 1, 1.0], [1, 1, 2.0], [1, 1, 3.0]], [16] * 3), "TSPN",
                       np.array([[8.0, 8.0, 8.0]]), np.array([[0.0, 0.6, 0.8]]))
    system = em.create_system(s)
    pair = next(f for f in system.getForces() if f.getName() == "pair")
    assert pair.getNumExclusions() == len(pairs)
    ctx = context(s, "Reference")
    assert energy(ctx, "bond") == pytest.approx(0.0, abs=1e-9)
    sim = em.create_simulation(s, platform="Reference", seed=3, health_interval=0)
    sim.step(300)
    xyz = sim.context.getState(getPositions=True).getPositions(asNumpy=True)._value[3:]
    d = np.linalg.norm(xyz[pairs[:, 0]] - xyz[pairs[:, 1]], axis=1)
    assert np.abs(d - r0).mean() < 0.1  # thermal: sqrt(kT / k) ~ 0.1 sigma per bond
    a, b = xyz - xyz.mean(0), x - x.mean(0)  # shape: RMSD after optimal superposition (Kabsch)
    sv = np.linalg.svd(a.T @ b, compute_uv=False)
    rmsd = np.sqrt(max((a ** 2).sum() + (b ** 2).sum() - 2 * sv.sum(), 0) / len(x))
    assert rmsd < 0.2


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
    cases = [
        ("name: NEW\nbeads: [{name: H, type: Q}, {name: T, type: T}]\nfene: [[0, 1]]\n", "unknown bead type 'Q'"),
        ("name: NEW\nbeads: [{name: H, type: H}, {name: T, type: T}]\nfene: [[0, 5]]\n", r"fene\.0: \[0, 5\]"),
        ("name: NEW\npairs: [{types: [T, ZZ], eps: 1}]\nbeads: [{name: H, type: H}]\n",
         r"species NEW: pairs: types \['T', 'ZZ'\]: unknown bead type 'ZZ'"),
        ("name: NEW\npairs: [{types: [T, T], eps: 2}]\nbeads: [{name: H, type: H}]\n",
         r"already has an entry for this pair"),
        ("name: NEW\npairs: [{types: [H, T], eps: 2, param: w_c}]\nbeads: [{name: H, type: H}]\n",
         r"param 'w_c' names two entries or a reserved parameter"),
        ("name: NEW\nbead_types: {T: {role: tail, size: 2.0}}\nbeads: [{name: H, type: H}]\n",
         r"bead_types\.T: redefines bead type 'T'"),
        ("name: NEW\nbeads: [{name: X, type: H}]\n", r"beads\.0\.name: a lipid's first bead must be named 'H'"),
        ("name: NEW\nbeads: [{name: H, type: H}, {name: X1, type: T}]\n",
         r"beads\.1\.name: lipid tail beads are named T"),
        ("name: NEW\nkind: protein\nbeads: [{name: H, type: PT}]\n", r"'H' first marks a lipid"),
        ("name: NEW\nkind: protein\nelastic: {k: 10, cutoff: 2}\nbeads: [{name: P, type: PT}]\n",
         r"elastic: needs the template"),
        ("name: NEW\nkind: protein\nbeads: [{name: P, type: PT, xyz: [0, 0, 0]}, {name: Q, type: PT}]\n",
         r"give xyz for every bead or for none"),
        ("name: NEW\nkind: protein\ncargo: true\nbeads: [{name: P, type: PT}]\n",
         r"cargo: marks a lipid as cargo; a protein is counted as cargo where it is placed"),
    ]
    for text, message in cases:
        species.write_text(text)
        with pytest.raises(em.ConfigError, match=message):
            em.load_forcefield(species=(species,))


def test_user_species_file_adds_a_species(tmp_path):
    f = tmp_path / "dopc.yaml"
    f.write_text("name: LONG\nbeads:\n  - {name: H, type: H}\n  - {name: T1, type: T}\n"
                 "  - {name: T2, type: T}\n  - {name: T3, type: T}\nfene: [[0, 1], [1, 2], [2, 3]]\n"
                 "bend: [[0, 2], [1, 3]]\n")
    ff = em.load_forcefield(species=(f,))
    s = em.builders.bilayer(ff, 8.0, upper={"LIP": 0.5, "LONG": 0.5})
    system = em.create_system(s)
    assert system.getNumParticles() == s.n_beads
    assert (s.bead_names() == "T3").sum() == (s.molecule_species == s.species.index("LONG")).sum()
