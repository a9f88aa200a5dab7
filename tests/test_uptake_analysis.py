"""Uptake analysis against hand-built geometries with known answers: a free exosome, one resting on
the target with ligand-receptor bonds, one half wrapped, one fully wrapped in an invagination, one
engulfed (inside a closed endosome on the cytosolic side, pinched off) and its look-alikes that are
not engulfed (an endosome on the extracellular side, an open cup), and membranes merged."""
from __future__ import annotations

import numpy as np
import pytest
from synthetic import AXIS, HEAD, LZ, PATCH, Omega, Surface, plane, sides_of, sphere, surfaces_trajectory

from exomembrane.analysis import lipid_indices
from exomembrane.analysis.topology import topology
from exomembrane.analysis.uptake import STAGES, cargo_species, cargo_whereabouts, uptake, wrapped_fraction

TARGET = {"+z": "extracellular", "-z": "cytosol"}
EXOSOME = {"outside": "extracellular", "inside": "exosome_lumen"}
R = 4.0  # exosome midplane radius (small: the endosome around it must not span the 29.6 sigma patch)
OUTER = R + HEAD  # its outer head radius
Z = LZ / 2  # the target's midplane height


def exosome(z: float, rng: int = 1) -> Surface:
    return sphere(R, [*AXIS, z], np.random.default_rng(rng), tag="exosome")


def analyse(frames: list[tuple[Surface, Surface]], cargo: dict | None = None, box=PATCH, park=(-24.0, -6.0), **kw):
    """Uptake of hand-built frames of (target, exosome) surfaces, all frames with the same lipids
    (lone lipids that pad the frames parked in the z range ``park``)."""
    surfaces = [t + e for t, e in frames]
    traj = surfaces_trajectory(surfaces, box, cargo, park)
    n = lipid_indices(traj.topology)[0].size
    membrane = np.r_[np.zeros(len(frames[0][0].mid), int), np.ones(len(frames[0][1].mid), int)]
    assert membrane.size == n
    topo = topology(traj, [TARGET, EXOSOME], membrane, sides_of(surfaces, n), workers=1)
    return uptake(traj, membrane == 1, membrane == 0, topo, workers=1, **kw)


def flat() -> Surface:
    return plane().moved([0.0, 0.0, Z])


def resting_height(gap: float) -> float:
    """Centre height of the exosome whose outer heads are ``gap`` above the target's heads."""
    return Z + HEAD + gap + OUTER


def test_a_free_exosome_is_unbound_and_uncovered():
    u = analyse([(flat(), exosome(Z + 20.0))])
    assert u.wrapped_fraction[0] == 0 and u.contact_area[0] == 0 and u.bound_pairs[0] == 0
    assert u.outcome == "unbound" and not u.merged[0] and not u.engulfed[0] and not u.torn[0]


def test_a_resting_exosome_is_covered_over_its_cap_and_bound_by_its_bonds():
    gap = 1.0
    z = resting_height(gap)
    # three ligand tips 1 sigma from three receptor tips under the exosome, one pair 3 sigma apart
    lig = np.array([[AXIS[0] + d, AXIS[1], Z + HEAD + 0.8] for d in (-2.0, 0.0, 2.0, 6.0)])[:, None]
    rec = lig + np.array([0.0, 0.0, -1.0])
    rec[3] += [0.0, 0.0, -2.0]
    u = analyse([(flat(), exosome(z))], {"LIG": [lig], "REC": [rec]}, ligands={"LIG": "C1"}, receptors={"REC": "C1"})
    cap = (4.0 - gap) / (2 * OUTER)  # the cap of the outer head sphere within 4 sigma of the target's heads
    assert u.wrapped_fraction[0] == pytest.approx(cap, abs=0.04)
    assert u.contact_area[0] == pytest.approx(cap * 4 * np.pi * OUTER**2, rel=0.2)
    assert u.bound_pairs[0] == 3
    assert u.outcome == "bound"


def test_half_and_fully_wrapped_exosomes():
    rng = np.random.default_rng(2)
    bowl_r = OUTER + 1.0 + HEAD  # the bowl's midplane 1 sigma of free space beyond the exosome's heads
    bowl = sphere(bowl_r, [0.0, 0.0, 0.0], rng, tag="bowl", opening=np.pi / 2).mirrored().moved([*AXIS, Z])
    half = plane(hole=bowl_r + HEAD + 1.0).moved([0.0, 0.0, Z]) + bowl
    u = analyse([(half, exosome(Z))])
    # covered: the lower half, and above the equator as far as 4 sigma from the heads of the bowl's rim
    # (a half-circle of radius HEAD about the rim's midplane edge, from the inner leaflet over the top)
    theta = np.linspace(0.0, np.pi / 2, 5_000)[:, None]  # polar angle from +z
    phi = np.linspace(0.0, np.pi, 500)[None, :]
    rim = np.hypot(bowl_r - HEAD * np.cos(phi) - OUTER * np.sin(theta), HEAD * np.sin(phi) - OUTER * np.cos(theta))
    expected = 0.5 + np.cos(theta[np.argmax(rim.min(axis=1) <= 4.0), 0]) / 2
    assert u.wrapped_fraction[0] == pytest.approx(expected, abs=0.05)
    assert u.outcome == "unbound"  # covered by half, but no bonds and not wrapped
    traj = surfaces_trajectory([half + exosome(Z)], PATCH)
    mine = np.arange(lipid_indices(traj.topology)[0].size) >= len(half.mid)
    assert wrapped_fraction(traj, mine, ~mine)[0] == pytest.approx(u.wrapped_fraction[0])  # the live plot's
    # a deep invagination (28 sigma): the target 45 sigma up a 70 sigma box
    omega, top, tall = Omega(neck=3.5, bud=round(bowl_r), fillet=3.0, tube=3.0), 45.0, (PATCH[0], PATCH[1], 70.0)
    cup = omega.surface(np.random.default_rng(3)).mirrored().moved([0.0, 0.0, top])
    inside = exosome(top - omega.bud_centre_height)
    u = analyse([(cup, inside)], box=tall, park=(2.0, 14.0))
    assert u.wrapped_fraction[0] > 0.9
    assert u.outcome == "wrapped" and not u.engulfed[0]  # still joined to the target by its neck
    assert not u.target_holed[0]
    # a hole in the invagination's rim (its fillet, where the neck meets the plane), hidden from above
    # by the invagination under it: holed
    rim = np.array([AXIS[0] + 6.5 - 3.0 / np.sqrt(2), AXIS[1], top - 3.0 + 3.0 / np.sqrt(2)])
    keep = np.linalg.norm(cup.mid - rim, axis=1) >= 3.5
    assert cup.side is not None
    holed = Surface(cup.mid[keep], cup.normal[keep], cup.region[keep], cup.side[keep])
    u = analyse([(holed, inside)], box=tall, park=(2.0, 14.0))
    assert u.target_holed[0] and u.outcome == "wrapped" and not u.torn[0]
    assert not u.engulfed[0]


def endosome(z: float, opening: float = 0.0) -> Surface:
    return sphere(OUTER + 1.0 + HEAD, [*AXIS, z], np.random.default_rng(4), tag="endosome", opening=opening)


def test_an_exosome_pinched_off_into_the_cytosol_is_engulfed():
    z = Z - 19.0
    u = analyse([(flat() + endosome(z), exosome(z))])
    assert u.engulfed[0] and u.outcome == "engulfed" and u.wrapped_fraction[0] > 0.9 and not u.torn[0]


def test_look_alikes_are_not_engulfed():
    z = Z + 19.0  # a closed target-lipid vesicle around it, but on the extracellular side
    u = analyse([(flat() + endosome(z), exosome(z))])
    assert not u.engulfed[0] and u.outcome == "wrapped"
    z = Z - 19.0  # on the cytosolic side, but an open cup
    u = analyse([(flat() + endosome(z, opening=np.pi / 3), exosome(z))])
    assert not u.engulfed[0] and u.outcome != "engulfed"


def test_merged_membranes_and_the_timeline():
    z = resting_height(1.0)
    frames = [(flat(), exosome(Z + 20.0)), (flat(), exosome(z)), (flat(), exosome(z))]
    lig = np.array([[[AXIS[0], AXIS[1], Z + HEAD + 0.8]]])
    far = lig + np.array([0.0, 0.0, 8.0])
    u = analyse(frames, {"LIG": [lig, lig, lig], "REC": [far, lig - [0, 0, 1.0], lig - [0, 0, 1.0]]}, ligands={"LIG": "C1"}, receptors={"REC": "C1"})
    assert u.stage.tolist() == [0, 1, 1]
    assert u.first_tau == {"unbound": 0.0, "bound": 10.0, "wrapped": None, "engulfed": None, "merged": None}
    assert u.outcome == "bound" and u.outcome_tau == 10.0
    # "exosome" and "target" lipids in one membrane: merged
    traj = surfaces_trajectory([flat()], PATCH)
    n = lipid_indices(traj.topology)[0].size
    half = np.arange(n) < n // 2
    topo = topology(traj, [TARGET], np.zeros(n, int), sides_of([flat()], n), workers=1)
    m = uptake(traj, half, ~half, topo, workers=1)
    assert m.merged[0] and m.outcome == "merged" and STAGES[m.stage[0]] == "merged"


def test_bad_input_names_the_argument():
    traj = surfaces_trajectory([flat() + exosome(Z + 20.0)], PATCH)
    n = lipid_indices(traj.topology)[0].size
    a = np.arange(n) < n // 2
    topo = topology(traj, [TARGET], np.zeros(n, int), sides_of([flat() + exosome(Z + 20.0)], n), workers=1)
    with pytest.raises(ValueError, match="exosome: must be"):
        uptake(traj, a[:-1], ~a, topo)
    with pytest.raises(ValueError, match="target: selects no lipid"):
        uptake(traj, a, np.zeros(n, bool), topo)
    with pytest.raises(ValueError, match="exosome, target: a lipid cannot be in both"):
        uptake(traj, a, np.ones(n, bool), topo)
    with pytest.raises(ValueError, match="cytosol: must be"):
        uptake(traj, a, ~a, topo, cytosol="down")
    with pytest.raises(ValueError, match="contact: must be > 0"):
        uptake(traj, a, ~a, topo, contact=0.0)


def test_a_few_lipids_bridging_two_membranes_are_not_a_stalk():
    """Merged needs ``stalk`` exosome lipids in tail contact with the target: three adjacent lipids of
    one sheet, taken as the "exosome", bridge it with three lipids only."""
    traj = surfaces_trajectory([flat()], PATCH)
    heads, _ = lipid_indices(traj.topology)
    n = heads.size
    x = traj.xyz[0, heads]
    three = np.argsort(np.linalg.norm(x[:, :2] - x[0, :2], axis=1))[:3]
    few = np.isin(np.arange(n), three)
    topo = topology(traj, [TARGET], np.zeros(n, int), sides_of([flat()], n), workers=1)
    assert not uptake(traj, few, ~few, topo, workers=1).merged[0]
    assert uptake(traj, few, ~few, topo, workers=1, stalk=3).merged[0]
    with pytest.raises(ValueError, match="stalk: must be >= 1"):
        uptake(traj, few, ~few, topo, stalk=0)


def test_a_torn_exosome_is_reported_torn():
    """An exosome with a hole (a cup open towards the target) in its last frames ends "torn"; the same
    exosome closed again in its last frames does not."""
    z = resting_height(1.0)
    cup = sphere(R, [*AXIS, z], np.random.default_rng(1), tag="exosome", opening=np.pi / 3)

    def run(exosomes: list[Surface]):
        surfaces = [flat() + e for e in exosomes]
        traj = surfaces_trajectory(surfaces, PATCH)
        n = lipid_indices(traj.topology)[0].size
        membrane = np.r_[np.zeros(len(flat().mid), int), np.ones(n - len(flat().mid), int)]  # parked: the exosome's
        topo = topology(traj, [TARGET, EXOSOME], membrane, sides_of(surfaces, n), workers=1)
        return uptake(traj, membrane == 1, membrane == 0, topo, workers=1)

    u = run([exosome(z)] + [cup] * 3)
    assert not u.torn[0] and u.torn[1:].all() and u.outcome == "torn" and u.outcome_tau == 10.0
    u = run([cup] * 2 + [exosome(z)] * 2)
    assert u.torn[:2].all() and not u.torn[2:].any() and u.outcome != "torn"


def test_cargo_is_counted_inside_the_exosome_in_the_cytosol_or_outside():
    z = Z + 20.0
    rna = np.array([[AXIS[0], AXIS[1], z], [AXIS[0] + 1.0, AXIS[1], z],  # inside the exosome
                    [AXIS[0], AXIS[1], Z - 9.0],  # under the target: its cytosol
                    [AXIS[0] + 12.0, AXIS[1], Z + 8.0]])[:, None] + np.array([[0.0, 0.0, 0.0], [0.5, 0.0, 0.0]])
    surfaces = [flat() + exosome(z)]
    traj = surfaces_trajectory(surfaces, PATCH, {"RNA": [rna]})
    n = lipid_indices(traj.topology)[0].size
    mine = np.arange(n) >= len(flat().mid)
    assert cargo_whereabouts(traj, mine, ~mine, ["RNA", "CARG"]) == {
        "RNA": {"inside": 2, "cytosol": 1, "extracellular": 1}, "CARG": {"inside": 0, "cytosol": 0, "extracellular": 0}}
    flipped = cargo_whereabouts(traj, mine, ~mine, ["RNA"], cytosol="+z")["RNA"]
    assert flipped == {"inside": 2, "cytosol": 1, "extracellular": 1}  # Z + 8 is then the cytosol


def test_an_endosome_must_surround_the_exosome_on_all_sides():
    """The enclosure test of engulfment: a closed shell around the centre covers every solid angle;
    a deep cup open by 60 degrees towards the patch, or a shell off to one side, does not."""
    from exomembrane.analysis.uptake import _encloses

    rng = np.random.default_rng(5)
    d = rng.normal(size=(4000, 3))
    d *= 12.0 / np.linalg.norm(d, axis=1)[:, None]
    assert _encloses(d)
    assert not _encloses(d[d[:, 2] < 12.0 * np.cos(np.pi / 3)])  # open by 60 degrees at the top
    assert not _encloses(d + [0.0, 0.0, 20.0])  # a shell beside the centre, not around it
    cup = sphere(OUTER + 1.0 + HEAD, [*AXIS, Z - 19.0], rng, tag="endosome", opening=np.pi / 3).mirrored()
    u = analyse([(flat() + cup.moved([0.0, 0.0, 2 * (Z - 19.0)]), exosome(Z - 19.0))])
    assert not u.engulfed[0] and u.outcome != "engulfed"


def test_a_target_lipid_in_the_exosome_does_not_make_it_its_own_endosome():
    """A target lipid that has joined the exosome's membrane (lipid exchange at the contact) puts the
    exosome's cluster among the target's: the exosome is still not inside an endosome."""
    surfaces = [flat() + exosome(Z - 19.0)]
    traj = surfaces_trajectory(surfaces, PATCH)
    n = lipid_indices(traj.topology)[0].size
    membrane = np.r_[np.zeros(len(flat().mid), int), np.ones(n - len(flat().mid), int)]
    membrane[len(flat().mid)] = 0  # one of the exosome's lipids, counted as the target's
    topo = topology(traj, [TARGET, EXOSOME], membrane, sides_of(surfaces, n), workers=1)
    u = uptake(traj, membrane == 1, membrane == 0, topo, workers=1)
    assert not u.engulfed[0] and u.outcome == "unbound"


def test_the_report_names_a_torn_exosome_and_a_holed_target() -> None:
    from exomembrane.run.reports.uptake import uptake_report
    summary = {"outcome": "wrapped", "outcome_tau": 535.0, "first_tau": dict.fromkeys(STAGES[1:]),
               "wrapped_fraction_max": 1.0, "wrapped_fraction_final": 1.0, "contact_area_max_sigma2": 1496.0,
               "bound_pairs_max": 567, "bound_pairs_final": 567, "torn_frames": 0, "target_holed_frames": 0}
    assert "holed" not in uptake_report(summary) and "torn" not in uptake_report(summary)
    summary.update(torn_frames=2, target_holed_frames=154, target_holed_first_tau=1035.0)
    text = uptake_report(summary)
    assert "torn      the exosome's membrane open" in text and "in 2 frame(s)" in text
    assert "holed     the target membrane open (a pore, or its two sides joined) in 154 frame(s), first at t = 1035 tau" \
        in text


def test_cargo_is_neither_membrane_nor_ligand_nor_machinery():
    """Lipids, ligands, receptors, tether anchors and filament subunits are not cargo; RNA and
    cargo proteins are, and so is a species named as machinery only when it is not passed."""
    import mdtraj

    top = mdtraj.Topology()
    chain = top.add_chain()
    for name, first in (("LIP", "H"), ("LGL", "H"), ("RCL", "H"), ("LIG", "B"), ("TMA", "B"), ("ESC3", "MB1"),
                        ("CARG", "B"), ("RNA", "R"), ("RNA", "R")):
        top.add_atom(first, mdtraj.element.virtual, top.add_residue(name, chain))
    assert cargo_species(top) == ["CARG", "RNA"]
    assert cargo_species(top, machinery=("ESC3",)) == ["CARG", "RNA", "TMA"]
