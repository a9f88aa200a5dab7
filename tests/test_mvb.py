"""MVB builders: sides, lipid domains, protein and cargo placement, walls, and bad input."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree

import exomembrane as em
from exomembrane.analysis import lipid_indices
from exomembrane.builders import Domain, Placement
from exomembrane.builders.place import CLEAR
from exomembrane.engine.system import TERMS, WALL_AT


def closest_between_molecules(s: em.Structure) -> float:
    tree = cKDTree(np.mod(s.positions, s.box), boxsize=s.box)
    pairs = tree.query_pairs(1.2, output_type="ndarray")
    mol = s.bead_molecule()
    pairs = pairs[mol[pairs[:, 0]] != mol[pairs[:, 1]]]
    d = s.positions[pairs[:, 0]] - s.positions[pairs[:, 1]]
    d -= np.round(d / s.box) * s.box
    return float(np.linalg.norm(d, axis=1).min())


def heads_to_lumen(s: em.Structure) -> np.ndarray:
    """(n_molecules,) bool: the molecule's first bead lies on the lumen side of its last bead."""
    last = s.molecule_start + np.diff(np.r_[s.molecule_start, s.n_beads]) - 1
    axis = s.positions[s.molecule_start] - s.positions[last]
    if s.sides["lumen"] == "inside":
        return np.einsum("ij,ij->i", axis, s.positions[last] - s.box / 2) < 0
    return np.sign(axis[:, 2]) == (1 if s.sides["lumen"] == "+z" else -1)


@pytest.mark.parametrize("lumen", ["+z", "-z"])
def test_patch_knows_its_sides_and_leaflets(ff, lumen):
    s = em.builders.mvb_patch(ff, 16.0, cytosolic="LIP4", luminal="LIP", lumen=lumen)
    assert s.sides == {"lumen": lumen, "cytosol": "-z" if lumen == "+z" else "+z"}
    names = np.array(s.species)[s.molecule_species]
    into_lumen = heads_to_lumen(s)
    assert set(names[into_lumen]) == {"LIP"} and set(names[~into_lumen]) == {"LIP4"}
    assert closest_between_molecules(s) > 0.9


def test_domain_sits_in_the_cytosolic_leaflet_around_the_centre(ff):
    s = em.builders.mvb_patch(ff, 30.0, domains=[Domain(radius=7.0, composition={"CER": 1.0})], seed=2)
    cer = s.of_species("CER")
    tails = s.positions[s.molecule_start + 2]
    r = np.linalg.norm(tails[:, :2] - s.box[:2] / 2, axis=1)
    assert cer.sum() > 0.8 * np.pi * 7.0 ** 2 / 1.2
    assert np.all(r[cer] <= 7.0) and not heads_to_lumen(s)[cer].any()
    # every cytosolic lipid inside the radius is ceramide; the luminal leaflet is untouched
    inside = (r <= 7.0) & ~heads_to_lumen(s)
    assert np.all(cer[inside])
    assert s.n_beads == em.builders.mvb_patch(ff, 30.0).n_beads


def test_stripe_domain_spans_the_patch_along_y(ff):
    s = em.builders.mvb_patch(ff, 30.0, domains=[Domain(radius=6.0, shape="stripe", composition="SM", leaflet=leaf)
                                                 for leaf in ("cytosolic", "luminal")], seed=2)
    sm = s.of_species("SM")
    tails = s.positions[s.molecule_start + 2]
    dx = np.abs(tails[:, 0] - s.box[0] / 2)
    assert np.all(dx[sm] <= 6.0) and np.all(sm[dx <= 6.0])  # both leaflets, the whole band
    assert np.ptp(tails[sm, 1]) > 0.9 * s.box[1]  # from one y edge to the other
    assert sm.sum() == pytest.approx(2 * 12.0 * s.box[1] / 1.2, rel=0.1)


def test_proteins_placed_without_overlaps_and_lipids_cleared(ff):
    placements = [Placement(species="TSPN", count=5, up="lumen", within=12.0),
                  Placement(species="CARG", density=0.01),
                  Placement(species="RNA", count=6, where="cytosol")]
    s = em.builders.mvb_patch(ff, 30.0, proteins=placements, seed=3)
    counts = {n: int(s.of_species(n).sum()) for n in ("TSPN", "CARG", "RNA")}
    assert counts == {"TSPN": 5, "CARG": round(0.01 * s.box[0] * s.box[1]), "RNA": 6}
    assert closest_between_molecules(s) > 0.9
    bead_mol = s.bead_molecule()
    protein = ~s.is_lipid()[bead_mol]
    d, _ = cKDTree(np.mod(s.positions[protein], s.box), boxsize=s.box).query(np.mod(s.positions[~protein], s.box))
    assert d.min() >= CLEAR
    # transmembrane cones: origin on the midplane, wide end (+z of the template) into the lumen (+z)
    cones = s.positions[s.of_species("TSPN")[bead_mol]].reshape(5, -1, 3)
    mid = s.box[2] / 2  # the bilayer builder's midplane
    np.testing.assert_allclose(cones.mean(1)[:, 2] - mid, ff.get("TSPN").template.mean(0)[2], atol=1e-9)
    wide_top = [np.ptp(c[c[:, 2] > mid + 1.5, :2], axis=0).max() > np.ptp(c[c[:, 2] < mid - 1.5, :2], axis=0).max()
                for c in cones]
    assert all(wide_top)
    r = np.linalg.norm(cones.mean(1)[:, :2] - s.box[:2] / 2, axis=1)
    assert r.max() <= 12.0
    # soluble RNA in the cytosol (below), confined between the z walls; nothing else is confined
    rna = s.positions[s.of_species("RNA")[bead_mol]]
    assert np.all(rna[:, 2] < mid - 2) and np.all(rna[:, 2] > WALL_AT)
    np.testing.assert_array_equal(s.confined, s.of_species("RNA"))
    # cones the other way up point their wide end to the cytosol
    flipped = em.builders.mvb_patch(ff, 30.0, proteins=[Placement(species="TSPN", count=1, up="cytosol")], seed=3)
    c = flipped.positions[flipped.of_species("TSPN")[flipped.bead_molecule()]]
    assert np.ptp(c[c[:, 2] < mid - 1.5, :2], axis=0).max() > np.ptp(c[c[:, 2] > mid + 1.5, :2], axis=0).max()


def test_walls_hold_confined_cargo_only(ff):
    s = em.builders.mvb_patch(ff, 12.0, proteins=[Placement(species="RNA", count=2, where="lumen")], box_z=30.0)
    system = em.create_system(s)
    wall = next(f for f in system.getForces() if f.getName() == "wall")
    assert wall.getForceGroup() == TERMS["wall"] and wall.getNumParticles() == 20
    pos = s.positions.copy()
    sim = em.create_simulation(s, platform="Reference", seed=2, health_interval=0)
    pos[s.of_species("RNA")[s.bead_molecule()].nonzero()[0][0], 2] = s.box[2] - 0.1  # 0.4 sigma into the top wall
    sim.context.setPositions(pos)
    e = sim.context.getState(getEnergy=True, groups={TERMS["wall"]}).getPotentialEnergy()._value
    assert e == pytest.approx(0.5 * 100.0 * 0.4 ** 2)
    assert "wall" not in {f.getName() for f in em.create_system(em.builders.mvb_patch(ff, 12.0)).getForces()}


def test_docked_molecules_stay_in_their_compartment(ff):
    """RNA docked ``at`` 4 sigma under a flat patch's cytosolic face is confined by the z walls like free
    RNA (else it reaches the lumen through the periodic z face)."""
    s = em.builders.mvb_patch(ff, 16.0, proteins=[Placement(species="RNA", where="cytosol", up="cytosol", at=4.0,
                                                            count=2)], box_z=30.0, seed=1)
    np.testing.assert_array_equal(s.confined, s.of_species("RNA"))
    wall = next(f for f in em.create_system(s).getForces() if f.getName() == "wall")
    assert wall.getNumParticles() == 20


def test_closed_mvb_lumen_inside_with_proteins(ff):
    s = em.builders.mvb_vesicle(ff, 10.0, cytosolic={"LIP": 0.8, "CER": 0.2}, luminal="LIP",
                             proteins=[Placement(species="TSPN", count=3), Placement(species="RNA", count=2,
                                                                                   where="lumen")], seed=1)
    assert s.sides == {"lumen": "inside", "cytosol": "outside"}
    names = np.array(s.species)[s.molecule_species]
    lipid = s.is_lipid()
    assert set(names[lipid & heads_to_lumen(s)]) == {"LIP"}  # the inner (luminal) leaflet
    rna = s.positions[s.of_species("RNA")[s.bead_molecule()]]
    assert np.linalg.norm(rna - s.box / 2, axis=1).max() < 10.0 - 2.9
    assert not s.confined.any() and closest_between_molecules(s) > 0.8  # the vesicle builder's own bound
    protein = ~s.is_lipid()[s.bead_molecule()]
    d, _ = cKDTree(np.mod(s.positions[protein], s.box), boxsize=s.box).query(np.mod(s.positions[~protein], s.box))
    assert d.min() >= CLEAR


def test_analysis_selects_lipids_by_role_with_proteins_present(ff):
    s = em.builders.mvb_patch(ff, 16.0, cytosolic="LIP4", luminal={"LIP": 0.5, "CER": 0.5},
                           proteins=[Placement(species="TSPN", count=1), Placement(species="RNA", count=1,
                                                                                 where="cytosol")])
    heads, tails = lipid_indices(s.to_mdtraj().topology)
    np.testing.assert_array_equal(heads, s.molecule_start[s.is_lipid()])
    names = s.bead_names()
    assert set(names[tails[tails >= 0]]) == {"T1", "T2"} and tails.shape[1] == 2


def test_builders_are_deterministic(ff):
    kw = dict(domains=[Domain(radius=5.0, composition="CER")], proteins=[Placement(species="TSPN", count=2)], seed=7)
    a, b = em.builders.mvb_patch(ff, 20.0, **kw), em.builders.mvb_patch(ff, 20.0, **kw)
    np.testing.assert_array_equal(a.positions, b.positions)
    assert a.species == b.species


@pytest.mark.parametrize("call,message", [
    (lambda ff: Placement(species="TSPN", density=-0.1), r"density"),
    (lambda ff: Placement(species="TSPN"), r"exactly one of count and density"),
    (lambda ff: em.builders.mvb_patch(ff, 20.0, proteins=[Placement(species="NOPE", count=1)]),
     r"proteins\.0\.species: unknown species 'NOPE'"),
    (lambda ff: em.builders.mvb_patch(ff, 20.0, proteins=[Placement(species="LIP", count=1)]),
     r"proteins\.0\.species: LIP is a lipid"),
    (lambda ff: em.builders.mvb_patch(ff, 12.0, proteins=[Placement(species="TSPN", count=40)]),
     r"proteins\.0\.count: 40 TSPN do not fit in the membrane \(\d+ sigma\^2\): at most about \d+ fit"),
    (lambda ff: em.builders.mvb_patch(ff, 32.0, proteins=[Placement(species="RNA", where="cytosol", count=100000)]),
     r"proteins\.0\.count: 100000 RNA do not fit in the cytosol .* at most about \d+ fit .* enlarge the box"),
    (lambda ff: em.builders.mvb_patch(ff, 32.0, proteins=[Placement(species="CARG", density=5.0, within=3.0)]),
     r"proteins\.0\.density: \d+ CARG do not fit in the membrane \(28 sigma\^2 within 3\.0 sigma\)"),
    (lambda ff: em.builders.mvb_patch(ff, 32.0, domains=[Domain(radius=100.0, composition="CER")]),
     r"domains\.0\.radius: 100\.0 sigma is wider .* radius < 1[56]\.\d sigma \(half the shorter box edge"),
    (lambda ff: em.builders.mvb_vesicle(ff, 10.0, domains=[Domain(radius=40.0, composition="CER")]),
     r"domains\.0\.radius: 40\.0 sigma is wider .*\(half the way round this membrane"),
    (lambda ff: em.builders.mvb_patch(ff, 32.0, domains=[Domain(radius=16.5, shape="stripe", composition="SM")]),
     r"domains\.0\.radius: 16\.5 sigma is wider than this membrane allows a stripe domain: .*half the x box edge"),
    (lambda ff: em.builders.mvb_vesicle(ff, 10.0, domains=[Domain(radius=4.0, shape="stripe", composition="SM")]),
     r"domains\.0\.shape: a stripe needs a flat patch"),
    (lambda ff: em.builders.mvb_patch(ff, 20.0, proteins=[Placement(species="CARG", density=1e-4)]),
     r"proteins\.0\.density: 0\.0001 gives 0\.04 molecules"),
    (lambda ff: em.builders.mvb_patch(ff, 20.0, cytosolic="TSPN"), r"cytosolic|lower|upper"),
    (lambda ff: em.builders.mvb_patch(ff, 20.0, domains=[Domain(radius=5.0, composition={"CARG": 1.0})]),
     r"domains\.0\.composition\.CARG: species CARG is a protein, not a lipid"),
    (lambda ff: em.builders.mvb_patch(ff, 20.0, lumen="up"), r"lumen: must be '\+z' or '-z'"),
])
def test_bad_input_names_the_field(ff, call, message):
    with pytest.raises((em.ConfigError, ValueError), match=message):
        call(ff)


def test_packed_cones_form_a_cluster_around_the_centre(ff):
    s = em.builders.mvb_patch(ff, 40.0, proteins=[Placement(species="TSPN", count=7, arrangement="packed")])
    centres = s.positions[s.of_species("TSPN")[s.bead_molecule()]].reshape(7, -1, 3).mean(1)[:, :2]
    d = np.linalg.norm(centres[:, None] - centres[None], axis=-1) + np.eye(7) * 99
    widest = 2 * np.linalg.norm(ff.get("TSPN").template[:, :2], axis=1).max()
    assert np.allclose(d.min(1), d.min(), atol=1e-9) and widest + CLEAR <= d.min() < widest + CLEAR + 0.5
    assert np.linalg.norm(centres.mean(0) - s.box[:2] / 2) < 1.0  # a hexagon and its centre
    assert closest_between_molecules(s) > 0.9
    with pytest.raises(em.ConfigError, match=r"proteins\.0: 19 packed TSPN reach .* beyond within = 5"):
        em.builders.mvb_patch(ff, 40.0, proteins=[Placement(species="TSPN", count=19, arrangement="packed", within=5)])
    with pytest.raises(em.ConfigError, match=r"proteins\.0\.arrangement: 'packed' places molecules in or on a flat"):
        em.builders.mvb_vesicle(ff, 12.0, proteins=[Placement(species="TSPN", count=3, arrangement="packed")])
