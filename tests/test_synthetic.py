"""The synthetic-membrane kit (``tests/synthetic.py``) against its own claims, measured with the
package's analysis where it can be: lipid laying, area per lipid, membranes and leaflets of each
shape, radii of holes and necks, and the same answers across the periodic boundary."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from synthetic import (
    AXIS,
    HEAD,
    INTERFACE,
    LZ,
    PATCH,
    SIDE,
    Diaphragm,
    Omega,
    Surface,
    apposed,
    fusion_pore,
    hemifusion_diaphragm,
    plane,
    pore,
    rough,
    sphere,
    stalk,
    surfaces_trajectory,
)

from exomembrane import analysis as an

CENTRE = np.array([*AXIS, 0.0])  # every shape's axis (and the vesicle's centre) before it is placed
#: Placements: the shape's middle at half height, and its axis by the xy corner with its middle
#: 0.1 above z = 0 (so the bilayers or the vesicle straddle the x, y and z boundaries).
PLACES = {"centred": np.array([0.0, 0.0, LZ / 2]), "across": np.array([SIDE / 2 + 0.3, SIDE / 2 - 0.2, 0.1])}
EPS = 1e-9


def radial(surf: Surface) -> tuple[np.ndarray, np.ndarray]:
    """(rho, n_rho): each foot's distance from the axis through ``CENTRE`` and its normal's radial part."""
    d = surf.mid[:, :2] - CENTRE[:2]
    rho = np.linalg.norm(d, axis=1)
    return rho, np.einsum("ij,ij->i", surf.normal[:, :2], d) / np.maximum(rho, EPS)


def stalk_sides(s: Surface) -> np.ndarray:
    """Upper distal +1, lower distal -1, the joined proximal monolayers 0."""
    z, nz = s.mid[:, 2], s.normal[:, 2]
    return np.where(nz * z > EPS, np.sign(z), 0)


def diaphragm_sides(s: Surface) -> np.ndarray:
    """Upper distal +1 (its diaphragm face included), lower distal -1, merged proximal 0."""
    z, nz = s.mid[:, 2], s.normal[:, 2]
    distal = (radial(s)[1] < -EPS) | (nz * z > EPS) | ((np.abs(z) < EPS) & (np.abs(nz) > 0.5))
    return np.where(distal, np.sign(nz), 0)


def pore_sides(s: Surface) -> np.ndarray:
    """Distal monolayers and the tube's inner leaflet 1, proximal ones and the outer leaflet 0."""
    return ((s.normal[:, 2] * s.mid[:, 2] > EPS) | (radial(s)[1] < -EPS)).astype(int)


def vesicle(opening: float = 0.0) -> Surface:
    return sphere(8.0, CENTRE, np.random.default_rng(0), opening=np.radians(opening))


#: name: (builder, membranes, leaflets, expected leaflet partition from the geometry or None)
SHAPES: dict[str, tuple[Callable[[], Surface], int, int, Callable[[Surface], np.ndarray] | None]] = {
    "plane": (plane, 1, 2, lambda s: np.sign(s.normal[:, 2])),
    "apposed": (apposed, 2, 4, lambda s: 2 * np.sign(s.mid[:, 2]) + np.sign(s.normal[:, 2])),
    "apposed close": (lambda: apposed(6.0), 2, 4, lambda s: 2 * np.sign(s.mid[:, 2]) + np.sign(s.normal[:, 2])),
    "pore": (pore, 1, 1, lambda s: np.zeros(len(s.mid))),
    "vesicle": (vesicle, 1, 2, lambda s: np.sign(np.einsum("ij,ij->i", s.mid - CENTRE, s.normal))),
    "cup": (lambda: vesicle(40.0), 1, 1, lambda s: np.zeros(len(s.mid))),
    "omega": (lambda: Omega().surface(np.random.default_rng(0)), 1, 2, None),
    "stalk": (stalk, 1, 3, stalk_sides),
    "stalk no neck": (lambda: stalk(neck=0.0), 1, 3, stalk_sides),
    "hemifusion diaphragm": (hemifusion_diaphragm, 1, 3, diaphragm_sides),
    "fusion pore": (fusion_pore, 1, 2, pore_sides),
}


#: The Omega bud's profile is not smooth: the bud sphere meets the neck tube at an angle (normals
#: 54 degrees apart for neck 3.5, bud 6), and assign_leaflets cuts the inner leaflet there (3 or 4
#: leaflets for necks 3-4.5 and nearly every seed; 2 for neck 5). Kept failing visibly.
KINKED_OMEGA = pytest.mark.xfail(strict=True, reason="assign_leaflets splits the Omega's inner leaflet at the "
                                                      "tube-bud corner of the profile")
SHAPE_NAMES = [pytest.param(n, marks=KINKED_OMEGA) if n == "omega" else n for n in SHAPES]


def same_partition(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether labels ``a`` and ``b`` split the lipids into the same groups (up to relabelling)."""
    return len(set(zip(a.tolist(), b.tolist()))) == len(set(a.tolist())) == len(set(b.tolist()))


def placed(surf: Surface, place: str):
    """(trajectory of ``surf`` placed at ``PLACES[place]`` and wrapped into PATCH, the axis point there)."""
    shift = PLACES[place]
    return surfaces_trajectory([surf.shifted(shift, PATCH)], PATCH), np.mod(CENTRE + shift, PATCH)


def axis_distance(points: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """Distance in xy of ``points`` (n, 3) from the z axis through ``axis``, periodic in PATCH."""
    d = points[:, :2] - axis[:2]
    d -= np.asarray(PATCH[:2]) * np.round(d / PATCH[:2])
    return np.linalg.norm(d, axis=1)


def heads_of(traj) -> np.ndarray:
    return traj.xyz[0, an.lipid_indices(traj.topology)[0]].astype(np.float64)


# ------------------------------------------------------------------------------------------ laying


@pytest.mark.parametrize("name", SHAPES)
def test_lipids_are_straight_cooke_lipids(name):
    """Unit normals; H, T1, T2 0.97 apart on a line, the head HEAD = 2.44 from the foot, also in
    the trajectory (minimum image) after wrapping across the boundary."""
    surf = SHAPES[name][0]()
    np.testing.assert_allclose(np.linalg.norm(surf.normal, axis=1), 1.0, atol=1e-12)
    b = surf.beads()
    np.testing.assert_allclose(np.linalg.norm(b[:, 0] - surf.mid, axis=1), HEAD, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(np.diff(b, axis=1), axis=2), 0.97, atol=1e-12)
    traj, _ = placed(surf, "across")
    xyz = traj.xyz[0].reshape(-1, 3, 3).astype(np.float64)
    d = np.diff(xyz, axis=1)
    d -= np.asarray(PATCH) * np.round(d / PATCH)
    np.testing.assert_allclose(np.linalg.norm(d, axis=2), 0.97, atol=1e-4)
    np.testing.assert_allclose(d[:, 0], -0.97 * surf.normal, atol=1e-4)  # head first, along the normal


def test_shifted_wraps_the_feet_into_the_box():
    surf = fusion_pore()
    moved, wrapped = surf.moved(PLACES["across"]), surf.shifted(PLACES["across"], PATCH)
    assert np.all((wrapped.mid >= 0) & (wrapped.mid < PATCH)) and not np.all((moved.mid >= 0) & (moved.mid < PATCH))
    d = wrapped.mid - moved.mid
    np.testing.assert_allclose(d - PATCH * np.round(d / PATCH), 0.0, atol=1e-12)
    np.testing.assert_array_equal(wrapped.normal, surf.normal)


# -------------------------------------------------------------------------------- area per lipid


@pytest.mark.parametrize("build", [plane, apposed])
def test_flat_patches_have_the_builders_area_per_lipid(build):
    traj = surfaces_trajectory([build().moved([0, 0, LZ / 2])], PATCH)
    np.testing.assert_allclose(an.area_per_lipid(traj, an.assign_leaflets(traj)), 1.2, rtol=1e-6)


def flat_area_per_lipid(surf: Surface, z: float, sign: float, r_min: float) -> float:
    """Area per lipid of the flat monolayer at height ``z`` with heads toward ``sign`` z, counted
    over the part of the patch farther than ``r_min`` from the axis."""
    rho, _ = radial(surf)
    on = (np.abs(surf.mid[:, 2] - z) < EPS) & (surf.normal[:, 2] * sign > 1 - EPS) & (rho >= r_min - EPS)
    return (SIDE**2 - np.pi * r_min**2) / on.sum()


D = Diaphragm()


@pytest.mark.parametrize("name, surf, levels", [
    ("pore: lattice and ring-laid annulus", pore(6.0), [(0.0, 1, 6.0), (0.0, -1, 6.0)]),
    ("stalk", stalk(10.0, 1.0), [(5.0, 1, 0.0), (-5.0, -1, 0.0), (5.0, -1, 6.0), (-5.0, 1, 6.0)]),
    ("hemifusion diaphragm", hemifusion_diaphragm(), [(z, s, D.radius + D.run) for z in (5.0, -5.0) for s in (1, -1)]),
    ("fusion pore", fusion_pore(5.0), [(z, s, 8.0) for z in (5.0, -5.0) for s in (1, -1)]),
])
def test_flat_parts_have_1_2_per_lipid_per_leaflet(name, surf, levels):
    """Within 3 % (the lattice's hole has a jagged edge; whole lattices give 1.2 exactly)."""
    for z, sign, r_min in levels:
        assert flat_area_per_lipid(surf, z, sign, r_min) == pytest.approx(1.2, rel=0.03), (z, sign)


@pytest.mark.parametrize("radius", [6.0, 12.0])
def test_curved_leaflets_have_1_2_per_lipid_on_the_interface(radius):
    """Rings are laid 1.2 sigma^2 per lipid on the surfaces INTERFACE from the midplane."""
    surf = sphere(radius, CENTRE, np.random.default_rng(0))
    traj = surfaces_trajectory([surf.moved([0, 0, LZ / 2])], (40.0, 40.0, LZ))
    leaf = an.assign_leaflets(traj)[0]  # 0 outer, 1 inner
    for label, r in ((0, radius + INTERFACE), (1, radius - INTERFACE)):
        assert 4 * np.pi * r**2 / (leaf == label).sum() == pytest.approx(1.2, rel=0.03)


# ---------------------------------------------------------------------------- membranes, leaflets


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("name", SHAPE_NAMES)
def test_membranes_and_leaflets(name, place):
    """The package counts each shape's membranes and leaflets as built, every lipid in one, and
    (where the geometry says which) groups the lipids into leaflets as built; the same with the
    shape across the periodic boundary."""
    build, n_membranes, n_leaflets, sides = SHAPES[name]
    surf = build()
    traj, _ = placed(surf, place)
    memb = an.membrane_clusters(traj)[0]
    assert an.count_membranes(traj)[0] == n_membranes
    assert set(memb.tolist()) == set(range(n_membranes))
    if n_membranes == 2:
        assert same_partition(memb, np.sign(surf.mid[:, 2]))
    leaf = an.assign_leaflets(traj)[0]
    assert set(leaf.tolist()) == set(range(n_leaflets))
    if sides is not None:
        assert same_partition(leaf, sides(surf))


@pytest.mark.parametrize("name", [n for n in SHAPES if n != "omega"])
def test_rough_shapes_keep_their_answers(name):
    """Thermal-like disorder (feet jittered 0.25 sigma, lipids tilted ~11 degrees) changes nothing
    (the Omega bud is left out: see ``KINKED_OMEGA``)."""
    build, n_membranes, n_leaflets, sides = SHAPES[name]
    surf = build()
    traj = surfaces_trajectory([rough(surf, np.random.default_rng(1)).moved([0, 0, LZ / 2])], PATCH)
    assert an.count_membranes(traj)[0] == n_membranes
    leaf = an.assign_leaflets(traj)[0]
    assert set(leaf.tolist()) == set(range(n_leaflets))
    if sides is not None:
        assert same_partition(leaf, sides(surf))


@pytest.mark.xfail(strict=True, reason="assign_leaflets splits a tightly bent proximal monolayer (heads "
                                       "bent at radius ~1 sigma, normals ~30 degrees apart row to row)")
@pytest.mark.parametrize("surf", [stalk(7.0), hemifusion_diaphragm(separation=8.0, bend=3.0)],
                         ids=["stalk 7", "diaphragm bend 3"])
def test_tight_fusion_intermediates_keep_three_leaflets(surf):
    """Known limit of the classifier, kept here so that a fix shows: a stalk between bilayers 7
    apart (fillet 3.5) splits at its waist, a diaphragm with bend 3 at the tip of the gap; each
    gives 4 leaflets where there are 3."""
    traj = surfaces_trajectory([surf.moved([0, 0, LZ / 2])], PATCH)
    assert an.count_membranes(traj)[0] == 1
    assert an.assign_leaflets(traj)[0].max() + 1 == 3


# ------------------------------------------------------------------------------------------- radii


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("radius", [4.0, 6.0, 9.0])
def test_pore_hole_has_the_built_radius(radius, place):
    """The rim's heads line the hole radius - HEAD from the axis, its tail ends reach radius - 0.5,
    and no bead lies nearer the axis; the leaflets stay joined."""
    traj, axis = placed(pore(radius), place)
    rho = axis_distance(traj.xyz[0].astype(np.float64), axis)
    heads = axis_distance(heads_of(traj), axis)
    assert rho.min() == pytest.approx(radius - HEAD, abs=1e-3) and heads.min() == pytest.approx(radius - HEAD, abs=1e-3)
    assert rho[2::3].min() == pytest.approx(radius - 0.5, abs=1e-3)  # T2 beads
    assert set(an.assign_leaflets(traj)[0].tolist()) == {0} and an.count_membranes(traj)[0] == 1


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("radius", [4.0, 5.0, 7.0])
def test_fusion_pore_neck_has_the_built_radius(radius, place):
    """The lumen is lined by the distal leaflet's heads radius - HEAD from the axis."""
    surf = fusion_pore(radius)
    traj, axis = placed(surf, place)
    rho = axis_distance(heads_of(traj), axis)
    assert rho.min() == pytest.approx(radius - HEAD, abs=1e-3)
    np.testing.assert_allclose(radial(surf)[0][surf.region == "neck"], radius, atol=1e-9)
    leaf = an.assign_leaflets(traj)[0]
    lining = leaf[rho < radius]
    assert lining.size > 0 and set(lining.tolist()) == {leaf[np.argmax(surf.mid[:, 2] * surf.normal[:, 2])]}


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("neck", [0.0, 1.0, 3.0])
def test_stalk_waist_has_the_built_radius(neck, place):
    """The joined proximal monolayer's heads come neck + HEAD from the axis (its nearest ring lies
    within 0.04 of the waist) and are one leaflet; the distal monolayers stay flat and whole."""
    surf = stalk(neck=neck)
    traj, axis = placed(surf, place)
    sides = stalk_sides(surf)
    rho = axis_distance(heads_of(traj), axis)
    assert rho[sides == 0].min() == pytest.approx(neck + HEAD, abs=0.04)
    np.testing.assert_allclose(np.abs(surf.mid[sides != 0, 2]), 5.0, atol=1e-12)  # distal: flat, whole
    assert (sides != 0).sum() == 2 * 729
    leaf = an.assign_leaflets(traj)[0]
    assert len(set(leaf[sides == 0].tolist())) == 1


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("radius", [3.0, 5.0, 8.0])
def test_hemifusion_diaphragm_is_one_bilayer_of_the_distal_monolayers(radius, place):
    """Within the diaphragm, every bead lies within HEAD of the mid-plane and the lipids are the
    two distal leaflets', one per face; the merged proximal leaflet's heads come no nearer the axis
    than Diaphragm.junction + HEAD."""
    surf = hemifusion_diaphragm(radius)
    traj, axis = placed(surf, place)
    xyz = traj.xyz[0].astype(np.float64)
    dz = xyz[:, 2] - axis[2]
    dz -= LZ * np.round(dz / LZ)
    inside = axis_distance(xyz, axis) < radius - 0.5
    assert inside.sum() > 30 and np.abs(dz[inside]).max() == pytest.approx(HEAD, abs=1e-3)
    leaf = an.assign_leaflets(traj)[0]
    sides = diaphragm_sides(surf)
    disc = surf.region == "diaphragm"
    up, down = (set(leaf[disc & (sides == s)].tolist()) for s in (1, -1))
    assert len(up) == len(down) == 1 and up != down
    assert up | down == set(leaf[sides != 0].tolist())
    proximal = leaf == leaf[sides == 0][0]
    assert axis_distance(heads_of(traj)[proximal], axis).min() == pytest.approx(
        Diaphragm(radius).junction + HEAD, abs=1e-3)


# ------------------------------------------------------------------------------------------ errors


@pytest.mark.parametrize("build, match", [
    (lambda: pore(2.5), "radius: must be > HEAD"),
    (lambda: stalk(8.0, fillet=4.5), r"fillet: must be in \(HEAD, separation/2\]"),
    (lambda: stalk(neck=-1.0), "neck: must be >= 0"),
    (lambda: hemifusion_diaphragm(bend=2.0), "bend: must exceed HEAD"),
    (lambda: fusion_pore(2.0), "radius > HEAD"),
])
def test_impossible_shapes_are_refused(build, match):
    with pytest.raises(ValueError, match=match):
        build()
