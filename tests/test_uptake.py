"""Exosome uptake: the starting structure (an exosome with ligands over a target patch with
receptors, its compartments sealed as built), bad input naming the field, and the scenario at CI
size: with ligands the exosome binds and the contact grows, measured by the project's analysis;
without ligands (the negative control) it does not bind."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from synthetic import structure_trajectory

import exomembrane as em
from exomembrane import ConfigError, analysis
from exomembrane.analysis.pbc import minimum_image, periodic_centre
from exomembrane.builders import Surface, TargetDomain, exosome_at_cell
from exomembrane.run import Run, load_trajectory
from exomembrane.run.report import analyze
from exomembrane.scenario import load_scenario

SYSTEMS = Path(__file__).resolve().parent.parent / "systems"
HALF = 2.5


@pytest.fixture(scope="module")
def built(ff: em.ForceField) -> em.Structure:
    return exosome_at_cell(ff, 40.0, exosome_radius=7.0, gap=5.0, ligands=Surface(species="LIG", count=30),
                           receptors=Surface(species="REC", density=0.03))


def test_membranes_compartments_and_molecules(built: em.Structure) -> None:
    assert [m.name for m in built.membranes] == ["target", "exosome"]
    assert built.compartments == ("extracellular", "cytosol", "exosome_lumen")
    names = np.array(built.species)[built.molecule_species]
    assert (names == "LIG").sum() == 30 and (names == "REC").sum() == round(0.03 * built.box[0] * built.box[1])
    lipids = built.is_lipid()
    assert set(np.unique(built.membrane[lipids])) == {0, 1}
    # the exosome (lipids and ligands) is held in the box by the z walls; the target is not
    exo = (built.membrane == 1) | (names == "LIG")
    assert built.confined[exo].all() and not built.confined[~exo].any()


def test_the_ligands_point_out_of_the_exosome_and_the_receptors_up(built: em.Structure) -> None:
    names = np.array(built.species)[built.molecule_species]
    starts = built.molecule_start
    tip = lambda k: built.positions[starts[k] + 20]  # noqa: E731  (the 21st bead: the binding bead)
    heads = starts[built.is_lipid()]
    exo_heads = built.positions[heads[built.membrane[built.is_lipid()] == 1]]
    centre = exo_heads.mean(axis=0)
    radius = np.linalg.norm(exo_heads - centre, axis=1).max()
    lig = np.array([tip(k) for k in np.flatnonzero(names == "LIG")])
    assert (np.linalg.norm(lig - centre, axis=1) > radius).all()  # beyond the outer heads
    target_z = built.positions[heads[built.membrane[built.is_lipid()] == 0], 2].mean()  # its midplane
    rec = np.array([tip(k) for k in np.flatnonzero(names == "REC")])
    assert (rec[:, 2] > target_z + 2.44).all()  # beyond the target's upper heads, into the extracellular space


def test_lipid_anchored_ligands_and_receptors_face_each_other(ff: em.ForceField) -> None:
    """LGL in the exosome's outer leaflet and RCL in the target's extracellular leaflet, as shares of
    their compositions, with the binding head (H) on its tether beyond the lipid's own head (H2)."""
    s = exosome_at_cell(ff, 40.0, exosome_radius=7.0, gap=3.2, exosome_outer={"LIP": 0.7, "LGL": 0.3},
                        exosome_inner="LIP", target_upper={"LIP": 0.7, "RCL": 0.3}, target_lower="LIP")
    as_density = exosome_at_cell(ff, 40.0, exosome_radius=7.0, gap=3.2, ligands=Surface(species="LGL", density=0.25),
                                 receptors=Surface(species="RCL", density=0.25))  # 0.25 x 1.2 sigma^2: the same shares
    assert sorted(as_density.species) == sorted(s.species)
    assert np.array_equal(np.bincount(as_density.molecule_species), np.bincount(s.molecule_species))
    names = np.array(s.species)[s.molecule_species]
    start = s.molecule_start
    outer = (s.membrane == 1) & s.is_lipid()
    centre = s.positions[start[outer]].mean(axis=0)
    lig = np.flatnonzero(names == "LGL")
    rec = np.flatnonzero(names == "RCL")
    out = np.linalg.norm(s.positions[start[outer]] - centre, axis=1) > 7.0  # heads beyond the midplane
    assert len(lig) == pytest.approx(0.3 * out.sum(), abs=2)
    assert len(rec) > 0 and not (names[s.membrane == 1] == "RCL").any() and not (names[s.membrane == 0] == "LGL").any()
    r = lambda k: np.linalg.norm(s.positions[start[k] + (0, 1)] - centre, axis=1)  # noqa: E731  (H, H2)
    assert all(np.diff(r(k))[0] < 0 and r(k)[1] > 7.0 for k in lig)  # H further out than H2, outer leaflet
    z_mid = s.positions[start[(s.membrane == 0) & s.is_lipid()], 2].mean()
    assert all(s.positions[start[k], 2] > s.positions[start[k] + 1, 2] > z_mid for k in rec)  # H above H2, upper


def test_a_raft_holds_the_receptors_under_the_exosome(ff: em.ForceField) -> None:
    """A target raft of both leaflets (extracellular SM with the raft receptor RCR, cytosolic SM)
    lies round the box centre, under the exosome, with the shares asked and no other lipid in it."""
    raft = [TargetDomain(leaflet="extracellular", radius=10.0, composition={"SM": 0.4, "RCR": 0.6}),
            TargetDomain(leaflet="cytosolic", radius=10.0, composition="SM")]
    s = exosome_at_cell(ff, 40.0, exosome_radius=5.0, gap=4.5, ligands=Surface(species="LGL", density=0.5),
                        target_domains=raft)
    names = np.array(s.species)[s.molecule_species]
    target = (s.membrane == 0) & s.is_lipid()
    last = s.molecule_start + np.diff(np.r_[s.molecule_start, s.n_beads]) - 1
    head, tail = s.positions[s.molecule_start], s.positions[last]
    z_mid = tail[target, 2].mean()
    upper = head[:, 2] > z_mid
    reach = np.linalg.norm(tail[:, :2] - s.box[:2] / 2, axis=1)
    inside = target & (reach <= 10.0)
    exo_xy = s.positions[s.membrane[s.bead_molecule()] == 1, :2].mean(0)
    assert np.allclose(exo_xy, s.box[:2] / 2, atol=0.5)  # the raft is under the exosome
    assert set(names[inside & upper]) == {"SM", "RCR"} and set(names[inside & ~upper]) == {"SM"}
    assert set(names[target & ~inside]) == {"LIP"}
    assert (names[inside & upper] == "RCR").mean() == pytest.approx(0.6, abs=0.06)
    assert not (names[s.membrane == 1] == "RCR").any()


def test_the_built_compartments_are_sealed_and_the_gap_as_asked(ff: em.ForceField, built: em.Structure) -> None:
    # the membranes as laid (the rods of ligands and receptors leave gaps of ~1.5 sigma around them
    # where lipids were taken out, which the first steps close; the runs below check the sealing)
    bare = exosome_at_cell(ff, 40.0, exosome_radius=7.0, gap=1.5)
    lipid = bare.is_lipid()
    t = analysis.topology(structure_trajectory(bare), [m.faces for m in bare.membranes], bare.membrane[lipid],
                          bare.leaflet[lipid], workers=1)
    assert t.n_membranes[0] == 2 and not t.open[0].any() and t.pores == []
    assert sorted(t.region_compartment[0]) == ["cytosol", "exosome_lumen", "extracellular"]
    lipid = built.is_lipid()
    heads = built.molecule_start[lipid]
    target = built.positions[heads[built.membrane[lipid] == 0]]
    exo = built.positions[heads[built.membrane[lipid] == 1]]
    gap = exo[:, 2].min() - target[:, 2].max()
    assert gap == pytest.approx(5.0 + 2 * (HALF - 2.44), abs=0.3)  # head surfaces 5 apart (bead centres 2.44 in)


@pytest.mark.parametrize("kwargs, match", [
    ({"ligands": Surface(species="LIG", density=0.5)}, r"ligands(\.density)?: .*(do not fit|could place only)"),
    ({"receptors": Surface(species="XYZ", count=3)}, r"receptors\.species: "),
    ({"exosome_radius": 20.0}, r"exosome_radius: an exosome of midplane radius 20.0 sigma needs lateral box edges"),
    ({"gap": -1.0}, r"gap: must be >= 0 sigma, or the exosome overlaps the target patch"),
    ({"gap": 1.0, "ligands": Surface(species="LIG", count=5), "receptors": Surface(species="REC", count=5)},
     r"gap: 1 sigma would put the ligands' and receptors' ends into each other .* give gap >= 1.8"),
    ({"gap": 2.0, "exosome_outer": {"LIP": 0.7, "LGL": 0.3}, "target_upper": {"LIP": 0.7, "RCL": 0.3}},
     r"gap: 2 sigma would put .* give gap >= 3.1"),  # lipid-anchored: tethered heads ~1.5 sigma out each
    ({"gap": 3.2, "ligands": Surface(species="LGL", density=0.9)},
     r"ligands\.density: 0\.9 per sigma\^2 is more LGL than the leaflet holds .* give at most 0\.833"),
    ({"gap": 3.2, "receptors": Surface(species="RCL", count=10)},
     r"receptors\.count: a lipid-anchored receptor \(RCL\) is a share of its leaflet; give receptors\.density"),
    ({"exosome_radius": 4.0}, r"exosome_radius: must be >= 5"),
    ({"target_domains": [TargetDomain(radius=25.0, composition="SM")]},
     r"target_domains\.0\.radius: 25\.0 sigma is wider than this membrane allows a round domain: give a radius < 20"),
    ({"target_domains": [TargetDomain(radius=8.0, composition="XYZ")]}, r"target_domains\.0\.composition: "),
])
def test_bad_input_names_the_field(ff: em.ForceField, kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        exosome_at_cell(ff, 40.0, **kwargs)


def test_the_scenario_validates_its_fields() -> None:
    with pytest.raises(ConfigError, match=r"builder\.gap: Input should be greater than or equal to 0"):
        load_scenario(SYSTEMS / "exosome_uptake_small.yaml", {"builder.gap": -2})
    with pytest.raises(ConfigError, match=r"builder\.ligands\.species: unknown species 'XYZ'"):
        load_scenario(SYSTEMS / "exosome_uptake_small.yaml", {"builder.ligands.species": "XYZ"})
    with pytest.raises(ConfigError, match=r"builder\.ligands: .*exactly one of count and density"):
        load_scenario(SYSTEMS / "exosome_uptake_small.yaml", {"builder.ligands.count": 5})
    with pytest.raises(ConfigError, match=r"builder\.target_domains\.0\.composition\.XYZ: unknown species 'XYZ'"):
        load_scenario(SYSTEMS / "exosome_uptake_raft.yaml", {"builder.target_domains.0.composition": {"XYZ": 1.0}})
    with pytest.raises(ConfigError, match=r"builder\.target_domains\.0\.leaflet: "):
        load_scenario(SYSTEMS / "exosome_uptake_raft.yaml", {"builder.target_domains.0.leaflet": "luminal"})


#: Steps of the CI runs, at half the scenario's friction (0.05/tau: the kinetics twice as fast, as in the
#: scan): the wrapping run (70 tau: the first bonds within ~10 tau), the control (40 tau).
STEPS, CONTROL_STEPS, FRICTION = 7_000, 4_000, 0.05


def run(tmp_path_factory: pytest.TempPathFactory, label: str, steps: int, **overrides) -> dict:
    sc = load_scenario(SYSTEMS / "exosome_uptake_small.yaml", {"run.seed": 3, "run.steps": steps, "run.platform": "CPU",
                                                                 "run.friction": FRICTION, **overrides})
    out = tmp_path_factory.mktemp(label) / "run"
    with Run.create(sc, out) as r:
        r.advance(r.remaining)
    return analyze(out)


def spread(series: dict) -> bool:
    """Whether the contact area of the last quarter of a run is at least twice, and 40 sigma^2 more
    than, its mean over the first 10 tau (the contact as built, before the bonds pull)."""
    area, t = np.array(series["contact_area"], float), np.array(series["time"], float)
    settled = area[t <= 10].mean()
    return bool(area[-len(area) // 4:].mean() > max(2 * settled, settled + 40.0))


@pytest.mark.slow
def test_with_ligands_the_exosome_binds_and_the_membrane_spreads_over_it(tmp_path_factory) -> None:
    """Laid just out of the ligands' reach, the exosome binds, the receptors gather under it and the
    target spreads over it: the contact grows and the wrapped fraction passes 0.3 within 70 tau, the
    membranes intact (not torn, no leak)."""
    s = run(tmp_path_factory, "uptake", STEPS)
    u, series = s["uptake"], s["series"]
    assert u["first_tau"]["bound"] is not None and u["first_tau"]["bound"] > 0, u  # unbound as built
    assert u["bound_pairs_final"] >= 50, u
    assert spread(series), series["contact_area"]
    assert u["wrapped_fraction_final"] > 0.3, u
    assert u["outcome"] in ("bound", "wrapped", "engulfed") and u["torn_frames"] == 0, u
    assert u["target_holed_frames"] == 0 and u["target_holed_first_tau"] is None, u
    assert s["topology"]["leaks"] == []  # no compartment joined another: the membranes held
    assert u["cargo"] == {}  # a bare exosome: no cargo to count


@pytest.mark.slow
def test_without_ligands_the_exosome_does_not_bind(tmp_path_factory) -> None:
    s = run(tmp_path_factory, "no_ligands", CONTROL_STEPS, **{"builder.ligands": None})
    u = s["uptake"]
    assert u["first_tau"]["bound"] is None and u["bound_pairs_max"] == 0 and u["outcome"] == "unbound", u
    assert not spread(s["series"]), s["series"]["contact_area"]  # it rests where it was laid, no more


@pytest.mark.slow
def test_the_raft_binds_the_exosome_through_its_raft_receptors(tmp_path_factory) -> None:
    """The raft scenario, 25 tau: the rigid exosome binds the raft receptors (RCR, counted as bonds)
    under it, the raft lipids are still where they were laid, nothing torn or holed. (Its engulfment,
    at ~1970 tau, is in `make validate`.)"""
    sc = load_scenario(SYSTEMS / "exosome_uptake_raft.yaml", {"run.seed": 1, "run.steps": 2_500, "run.platform": "CPU"})
    out = tmp_path_factory.mktemp("raft") / "run"
    with Run.create(sc, out) as r:
        r.advance(r.remaining)
    s = analyze(out)
    u = s["uptake"]
    assert u["first_tau"]["bound"] is not None and u["bound_pairs_final"] >= 30, u
    assert u["torn_frames"] == 0 and u["target_holed_frames"] == 0 and s["topology"]["leaks"] == [], u
    t = load_trajectory(out)
    ends = [res.atom(res.n_atoms - 1).index for res in t.top.residues if res.name in ("SM", "RCR")]
    tails = t.xyz[-1][ends]  # the last tail bead of every raft lipid
    box = t.unitcell_lengths[-1]
    centre = periodic_centre(tails, box)[0]
    reach = np.linalg.norm(minimum_image(tails - centre, box)[:, :2], axis=1)
    assert np.percentile(reach, 99) < 26.0 * 1.15  # laid within 26 sigma of the axis, still there


def test_the_exosome_can_be_an_ilv_from_a_budding_run(ff: em.ForceField, tmp_path: Path) -> None:
    """The life cycle chained: the ILV of a budding run, with its cargo and RNA, is the exosome."""
    from test_fusion_chain import budded, write_run

    run_dir = write_run(tmp_path / "budding", budded(ff))
    s = exosome_at_cell(ff, 48.0, exosome_run=str(run_dir), ligands=Surface(species="LIG", count=20),
                        receptors=Surface(species="REC", count=40))
    assert [m.name for m in s.membranes] == ["target", "exosome"]
    assert {n: int(s.of_species(n).sum()) for n in ("RNA", "CARG", "LIG", "REC")} == {
        "RNA": 2, "CARG": 3, "LIG": 20, "REC": 40}
    names = np.array(s.species)[s.molecule_species]
    assert s.confined[(s.membrane == 1) | np.isin(names, ["LIG", "RNA", "CARG"])].all()
    lipid = exosome_at_cell(ff, 48.0, exosome_run=str(run_dir), gap=3.2, ligands=Surface(species="LGL", density=0.3),
                            receptors=Surface(species="RCL", density=0.3))
    outer = lipid.is_lipid() & (lipid.membrane == 1) & (lipid.leaflet == 1)
    lgl = lipid.of_species("LGL")
    assert lgl.sum() == round(0.36 * outer.sum()) and (lgl <= outer).all()  # its outer leaflet's LIP, anchored
    assert {n: int(lipid.of_species(n).sum()) for n in ("RNA", "CARG")} == {"RNA": 2, "CARG": 3}
    start = lipid.molecule_start[lgl]
    centre = lipid.positions[lipid.molecule_start[outer]].mean(axis=0)
    r = np.linalg.norm(lipid.positions[start[:, None] + np.arange(4)] - centre, axis=2)
    assert (np.diff(r, axis=1)[:, 0] < 0).all()  # the ligand bead out beyond the lipid's own head
    assert np.allclose(np.linalg.norm(lipid.positions[start] - lipid.positions[start + 1], axis=1), 0.97)
    chained = load_scenario(SYSTEMS / "exosome_uptake_chained.yaml", {"builder.exosome_run": str(run_dir)})
    built = chained.build()
    assert built.of_species("LGL").any() and {n: int(built.of_species(n).sum()) for n in ("RNA", "CARG")} == {
        "RNA": 2, "CARG": 3}
    with pytest.raises(ConfigError, match=r"exosome_run: .* has no scission"):
        exosome_at_cell(ff, 48.0, exosome_run=str(write_run(tmp_path / "flat", budded(ff, with_ilv=False))))
    with pytest.raises(ConfigError, match=r"exosome_run: an exosome taken from a run is built from that run alone; drop \['exosome_inner'\]"):
        load_scenario(SYSTEMS / "exosome_uptake_small.yaml", {"builder.exosome_run": str(run_dir)})


def test_the_production_scenario_builds_an_exosome_30_sigma_across() -> None:
    s = load_scenario(SYSTEMS / "exosome_uptake.yaml").build()
    exo = s.is_lipid() & (s.membrane == 1)
    heads = s.positions[s.molecule_start[exo]]
    centre = heads.mean(axis=0)
    r = np.linalg.norm(heads - centre, axis=1)
    assert 2 * np.median(r) >= 30.0 and s.of_species("LGL").any() and s.of_species("RCL").any()
    assert 50_000 < s.n_beads < 80_000


def test_the_rigid_control_joins_the_exosome_s_beads_only(ff: em.ForceField) -> None:
    """``rigid``: springs at their built lengths between the exosome's close bead pairs, none to the
    target; the soft build has none."""
    kw = dict(exosome_radius=6.0, gap=3.2, ligands=Surface(species="LGL", density=0.3))
    soft, rigid = (exosome_at_cell(ff, 36.0, rigid=r, **kw) for r in (False, True))
    assert len(soft.tethers) == 0 and len(rigid.tethers) > 5 * (rigid.membrane[rigid.bead_molecule()] == 1).sum()
    exo = rigid.membrane[rigid.bead_molecule()] == 1
    assert exo[rigid.tethers.pairs].all()
    d = np.linalg.norm(np.subtract(*rigid.positions[rigid.tethers.pairs.T]), axis=1)
    assert np.allclose(d, rigid.tethers.start) and np.array_equal(rigid.tethers.start, rigid.tethers.end)
    assert d.max() < 1.5


def released(ff: em.ForceField, out: bool = True) -> em.Structure:
    """A fusion geometry (PM over an MVB holding one ILV with RNA and cargo) with the ILV and its cargo
    moved out into the extracellular space above the PM (``out``), as after release."""
    from test_fusion_chain import CARGO

    from exomembrane.builders import Ilv, mvb_at_membrane

    s = mvb_at_membrane(ff, 48.0, mvb_radius=16.0, gap=3.0, headroom=30.0, ilvs=[Ilv(radius=9.0, proteins=CARGO)])
    if not out:
        return s
    mol = s.bead_molecule()
    ilv = s.is_lipid() & (s.membrane == 2)
    centre = s.positions[s.molecule_start[ilv]].mean(axis=0)
    cargo = ~s.is_lipid() & (np.linalg.norm(s.positions[s.molecule_start] - centre, axis=1) < 12.0)
    x = s.positions.copy()
    x[(ilv | cargo)[mol], 2] += s.box[2] - 16.0 - centre[2]  # its centre 16 sigma under the box's top
    from dataclasses import replace
    return replace(s, positions=x)


def test_the_exosome_can_be_an_ilv_released_by_a_fusion_run(ff: em.ForceField, tmp_path: Path) -> None:
    """The life cycle chained through release: the ILV that a fusion run released into the
    extracellular space, with its RNA and cargo, is the exosome; one still in the MVB is refused."""
    from test_fusion_chain import write_run

    s = released(ff)
    run_dir = write_run(tmp_path / "release", s)
    exo = exosome_at_cell(ff, 48.0, exosome_run=str(run_dir), gap=3.2, ligands=Surface(species="LGL", density=0.3),
                          receptors=Surface(species="RCL", density=0.3))
    assert [m.name for m in exo.membranes] == ["target", "exosome"]
    lipids = exo.is_lipid() & (exo.membrane == 1)
    assert lipids.sum() == (s.is_lipid() & (s.membrane == 2)).sum()  # the ILV's lipids, not the MVB's or the PM's
    assert {n: int(exo.of_species(n).sum()) for n in ("RNA", "CARG")} == {"RNA": 2, "CARG": 3}
    chained = load_scenario(SYSTEMS / "exosome_uptake_released.yaml", {"builder.exosome_run": str(run_dir)}).build()
    assert chained.of_species("LGL").any() and int(chained.of_species("RNA").sum()) == 2
    # released, then back under the plasma membrane in the last frame: the exosome as it was when out
    back = write_run(tmp_path / "back", s)
    structure_trajectory(s).join(structure_trajectory(released(ff, out=False))).save_xtc(str(back / "trajectory.xtc"))
    again = exosome_at_cell(ff, 48.0, exosome_run=str(back), ligands=None, receptors=None)
    assert (again.is_lipid() & (again.membrane == 1)).sum() == lipids.sum() and int(again.of_species("RNA").sum()) == 2
    inside = write_run(tmp_path / "inside", released(ff, out=False))
    with pytest.raises(ConfigError, match=r"exosome_run: .*inside released no ILV: in none of its 1 frame\(s\) \(to "
                                          r"t = 0 tau\) is one closed and out in the extracellular space \(last "
                                          r"frame: ILV 2: closed True, extracellular False"):
        exosome_at_cell(ff, 48.0, exosome_run=str(inside))


def test_anchoring_keeps_small_headed_lipids_and_room_for_the_ligand_heads(ff: em.ForceField) -> None:
    """Ligand heads go only onto lipids with the standard head (a cone lipid's small head under a
    ligand would sit inside its own tail bead's core) and only where they clear every other bead."""
    from scipy.spatial import cKDTree

    from exomembrane.builders import vesicle
    from exomembrane.builders.uptake import _anchor

    v = vesicle(ff, 8.0, outer={"CER": 0.5, "LIP": 0.5}, inner="LIP")
    outer = v.is_lipid() & (v.leaflet == 1)
    a = _anchor(v, "LGL", 0.3, seed=1)
    assert a.of_species("LGL").sum() == round(0.3 * outer.sum())
    assert a.of_species("CER").sum() == v.of_species("CER").sum()  # no cone lipid anchored
    mol = a.bead_molecule()
    heads = a.molecule_start[a.of_species("LGL")]  # the ligand beads added
    near = cKDTree(a.positions).query_ball_point(a.positions[heads], 1.0)
    assert all(mol[j] == mol[i] for i, js in zip(heads, near) for j in js)  # none placed into another molecule
    with pytest.raises(ConfigError, match=r"ligands\.density: \d+ LGL asked on the exosome's outer leaflet, but only "
                                          r"\d+ of its \d+ lipids have its head type"):
        _anchor(v, "LGL", 0.8, seed=1)
