"""Budding analysis against hand-built geometries with known answers: flat patch, Omega-shaped bud
(plane + fillet + neck tube + spherical bud), detached vesicle, open cup, MVB with an inward bud.

The geometries come from the shared kit ``tests/synthetic.py``: 3-bead Cooke lipids laid straight
along the local surface normal as the builders lay them (head 2.44 sigma from the midplane, beads
0.97 apart, 1.2 sigma^2 per lipid per leaflet), so the membrane and leaflet detection sees them as
it sees a real membrane.
"""
from __future__ import annotations

import numpy as np
import pytest
from synthetic import (
    CORNER,
    LZ,
    MVB,
    OFFSETS,
    PATCH,
    SIDE,
    Omega,
    Surface,
    assert_same_place,
    circle,
    plane,
    profile,
    regions,
    revolve,
    rough,
    sides_of,
    sphere,
    surfaces_trajectory,
    transmembrane,
)

from exomembrane import analysis as an

# ---------------------------------------------------------------------------------------------- bud


@pytest.mark.parametrize("z0", [0.0, LZ / 2 + 0.3])
def test_flat_bilayer_has_no_bud(z0):
    traj = surfaces_trajectory([plane().moved([0.3, 0.0, z0])], PATCH)
    g = an.bud_geometry(traj, "+z")
    assert g.direction[0] == 0
    assert abs(g.lumen_height[0]) < 1e-3 and abs(g.cytosol_height[0]) < 1e-3  # midplane feet exact
    np.testing.assert_allclose(g.base[0], np.mod(z0, LZ), atol=1e-3)
    np.testing.assert_allclose(g.leaflet_offset[0], OFFSETS.mean(), atol=1e-3)
    assert np.isnan(g.neck_radius[0]) and np.isnan(g.bud_radius[0]) and not g.bud.any()


@pytest.mark.parametrize("centre, z0", [((SIDE / 2, SIDE / 2), LZ / 2), (CORNER, 0.0)])
def test_omega_bud_into_the_lumen(centre, z0):
    """Known tip height, neck and bud radius; in the second case the bud straddles the x and y
    boundaries and the patch the z boundary. Tolerances: the feet are exact, so the tip is low by
    the sampling of the top ring (< 0.05) and the neck is exact on the tube's slabs."""
    shape = Omega(neck=3.5, bud=6.0)
    surf = shape.surface(np.random.default_rng(1), centre)
    traj = surfaces_trajectory([surf.moved([0, 0, z0])], PATCH)
    g = an.bud_geometry(traj, "+z")
    assert g.direction[0] == 1
    assert g.lumen_height[0] == pytest.approx(surf.mid[:, 2].max(), abs=0.01)  # the top ring's feet
    assert g.lumen_height[0] == pytest.approx(shape.height, abs=0.05)  # ... which lie < 0.05 below the pole
    assert abs(g.cytosol_height[0]) < 1e-3
    assert g.neck_radius[0] == pytest.approx(shape.neck, abs=0.02)
    assert shape.fillet < g.neck_height[0] < shape.fillet + shape.tube
    assert g.bud_radius[0] == pytest.approx(shape.bud, abs=0.05)
    expect = np.r_[[*centre, 0.0]] + [0, 0, z0 + shape.bud_centre_height]
    assert_same_place(g.bud_centre[0], expect, PATCH, atol=0.05)
    tags = regions(surf, g.bud.shape[1])
    assert g.bud[0][tags == "bud"].all() and not g.bud[0][(tags == "flat") | (tags == "fillet")].any()
    # the caller's threshold decides what is a bud
    assert an.bud_geometry(traj, "+z", threshold=shape.height + 1).direction[0] == 0


def test_direction_follows_the_lumen_argument():
    shape = Omega()
    surf = shape.surface(np.random.default_rng(2))
    up = surfaces_trajectory([surf.moved([0, 0, LZ / 2])], PATCH)
    down = surfaces_trajectory([surf.mirrored().moved([0, 0, LZ / 2])], PATCH)  # the bud toward -z
    ref = an.bud_geometry(up, "+z")
    for traj, lumen, direction in ((up, "-z", -1), (down, "-z", 1), (down, "+z", -1)):
        g = an.bud_geometry(traj, lumen)
        assert g.direction[0] == direction
        key = "lumen_height" if direction > 0 else "cytosol_height"
        assert getattr(g, key)[0] == pytest.approx(ref.lumen_height[0], abs=1e-3)
        assert g.neck_radius[0] == pytest.approx(ref.neck_radius[0], abs=1e-3)


def test_neck_narrows_frame_by_frame():
    necks = [5.0, 4.5, 4.0, 3.5, 3.0]
    rng = np.random.default_rng(3)
    traj = surfaces_trajectory([Omega(neck=a, bud=6.0).surface(rng) for a in necks], PATCH)
    g = an.bud_geometry(traj, "+z", workers=2)
    np.testing.assert_array_equal(g.direction, 1)
    np.testing.assert_allclose(g.neck_radius, necks, atol=0.02)
    np.testing.assert_allclose(g.lumen_height, [Omega(neck=a).height for a in necks], atol=0.05)


def test_dome_has_a_height_but_no_neck():
    """A spherical cap (radius 8, 6 sigma high) joined to the plane by a fillet narrows steadily
    toward its top: a bud by height, but no neck, no bud lipids."""
    r, sink, rf = 8.0, 2.0, 3.0  # cap sphere centred 2 sigma below the plane
    xf = np.sqrt((r + rf) ** 2 - (sink + rf) ** 2)  # fillet centre (xf, rf), tangent to plane and sphere
    touch = np.arctan2(rf + sink, xf)  # direction of the fillet centre seen from the sphere centre
    prof = profile(circle((xf, rf), rf, np.linspace(-np.pi / 2, -np.pi + touch, 400), "fillet", inward=True),
                   circle((0.0, -sink), r, np.linspace(touch, np.pi / 2, 1000), "bud"))
    surf = plane(xf) + revolve(*prof, np.random.default_rng(10)).moved([SIDE / 2, SIDE / 2, 0])
    g = an.bud_geometry(surfaces_trajectory([surf], PATCH), "+z")
    assert g.direction[0] == 1 and g.lumen_height[0] == pytest.approx(r - sink, abs=0.05)
    assert np.isnan(g.neck_radius[0]) and np.isnan(g.bud_radius[0]) and not g.bud.any()


def test_rough_membrane_keeps_bud_and_neck():
    """Slab medians average the disorder out of the neck (within 0.25 sigma, seeds 0-4 gave < 0.15);
    the height is the extreme foot, so it carries the roughness (0.1-0.7 sigma above the built tip
    for seeds 0-4; a rough flat patch reads ~1 sigma), far below the 5 sigma threshold."""
    rng = np.random.default_rng(9)
    necks = [5.0, 4.0, 3.5]
    g = an.bud_geometry(surfaces_trajectory([rough(Omega(neck=a).surface(rng), rng) for a in necks], PATCH), "+z")
    np.testing.assert_array_equal(g.direction, 1)
    np.testing.assert_allclose(g.neck_radius, necks, atol=0.25)
    assert np.all(np.diff(g.neck_radius) < 0)
    built = np.array([Omega(neck=a).height for a in necks])
    assert np.all((g.lumen_height > built - 0.1) & (g.lumen_height < built + 1.0))
    np.testing.assert_allclose(g.bud_radius, 6.0, atol=0.25)
    assert np.all(g.cytosol_height < 1.5)
    flat = an.bud_geometry(surfaces_trajectory([rough(plane(), rng)], PATCH), "+z")
    assert flat.direction[0] == 0 and max(flat.lumen_height[0], flat.cytosol_height[0]) < 1.5


# ------------------------------------------------------------------------------------------ scission

LIFT = 3.0  # the detached vesicle sits this much higher than the bud it came from


def scission_frames(kinds: list[str], centre=(SIDE / 2, SIDE / 2), z0: float = LZ / 2, seed: int = 4):
    """Frames of a patch: 'bud<a>' an Omega with neck a, 'vesicle' a flat patch and a detached closed
    vesicle above it, 'cup' the same with an open cup (a 40 degree hole at the bottom)."""
    rng = np.random.default_rng(seed)
    shape = Omega(bud=6.0)
    top = [*centre, shape.bud_centre_height + LIFT]
    out = []
    for kind in kinds:
        if kind.startswith("bud"):
            s = Omega(neck=float(kind[3:]), bud=6.0).surface(rng, centre)
        else:
            s = plane() + sphere(shape.bud, top, rng, opening=np.radians(40) if kind == "cup" else 0.0)
        out.append(s.moved([0, 0, z0]))
    return out


@pytest.mark.parametrize("centre, z0", [((SIDE / 2, SIDE / 2), LZ / 2), (CORNER, 0.0)])
def test_scission_when_the_bud_detaches(centre, z0):
    frames = scission_frames(["bud4.5", "bud3.5", "vesicle", "vesicle"], centre, z0)
    traj = surfaces_trajectory(frames, PATCH, park=(z0 - 24, z0 - 6))
    s = an.scission(traj)
    assert s.scission_frame == 2
    np.testing.assert_array_equal(s.n_membranes, [1, 1, 2, 2])
    np.testing.assert_array_equal(s.n_closed, [0, 0, 1, 1])
    assert np.isnan(s.ilv_diameter[:2]).all()
    np.testing.assert_allclose(s.ilv_diameter[2:], 2 * 6.0, atol=0.02)
    tags = regions(frames[2], s.ilv.shape[1])
    np.testing.assert_array_equal(s.ilv[2], tags == "vesicle")
    assert_same_place(s.ilv_centre[3], [*centre, z0 + Omega(bud=6.0).bud_centre_height + LIFT], PATCH, 0.05)

    n = s.ilv.shape[1]
    summary = an.budding_summary(traj, "+z", leaflet=sides_of(frames, n))  # lipids are laid afresh each frame
    assert summary.scission_frame == 2 and summary.scission_time == traj.time[2]
    assert summary.ilv_side == 1  # the ILV formed in the lumen
    np.testing.assert_array_equal(summary.direction, [1, 1, 0, 0])  # the parent is flat again
    np.testing.assert_allclose(summary.neck_radius[:2], [4.5, 3.5], atol=0.02)
    assert np.isnan(summary.neck_radius[2:]).all()
    assert an.budding_summary(traj, "-z", leaflet=sides_of(frames, n)).ilv_side == -1
    ilv = an.bud_geometry(traj[2:], "inside", lipids=tags == "vesicle")  # a mask picks a smaller membrane
    np.testing.assert_array_equal(ilv.membrane[0], tags == "vesicle")
    assert ilv.direction[0] == 0 and ilv.base[0] == pytest.approx(6.0, abs=0.01)


def test_open_cup_is_not_scission():
    """A cup that is separate but open (its rim joins its leaflets) is not a vesicle: no scission
    while it stays open, scission when it closes."""
    traj = surfaces_trajectory(scission_frames(["bud3.5", "cup", "cup"]), PATCH, park=(LZ / 2 - 24, LZ / 2 - 6))
    cup = an.membrane_clusters(traj)[1] == 1
    assert len(set(an.assign_leaflets(traj)[1][cup])) == 1  # the rim joins the cup's two leaflets
    assert an.vesicle_shape(traj[1], cup)["asphericity"][0] < 0.15  # so only the leaflets tell it is open
    s = an.scission(traj)
    np.testing.assert_array_equal(s.n_membranes, [1, 2, 2])
    assert s.scission_frame == -1 and np.isnan(s.ilv_diameter).all() and not s.ilv.any()
    closing = surfaces_trajectory(scission_frames(["bud3.5", "cup", "vesicle"]), PATCH, park=(LZ / 2 - 24, LZ / 2 - 6))
    assert an.scission(closing).scission_frame == 2


def test_scission_must_last():
    """A vesicle that fuses back is no scission; the frame counted is the one from which it stays."""
    kinds = ["bud4.0", "vesicle", "bud3.5", "vesicle", "vesicle"]
    traj = surfaces_trajectory(scission_frames(kinds), PATCH, park=(LZ / 2 - 24, LZ / 2 - 6))
    s = an.scission(traj)
    np.testing.assert_array_equal(s.n_closed, [0, 1, 0, 1, 1])
    assert s.scission_frame == 3
    assert np.isnan(s.ilv_diameter[:3]).all() and np.isfinite(s.ilv_diameter[3:]).all()
    assert an.scission(traj[:4]).scission_frame == 3 and an.scission(traj[:3]).scission_frame == -1


# ------------------------------------------------------------------------------------------------ MVB


@pytest.fixture(scope="module")
def mvb() -> tuple[MVB, Surface]:
    shape = MVB()
    return shape, shape.surface(np.random.default_rng(5))


@pytest.mark.parametrize("centre", [(24.0, 24.0, 24.0), (2.0, 24.0, 40.0)])
def test_mvb_with_an_inward_bud(mvb, centre):
    """Closed MVB, lumen inside: the bud goes toward the centre (+1). In the second case the MVB
    straddles the x boundary and its bud the z boundary."""
    shape, surf = mvb
    traj = surfaces_trajectory([surf.moved(centre)], (48.0, 48.0, 48.0))
    g = an.bud_geometry(traj, "inside")
    assert g.direction[0] == 1
    deepest = shape.radius - np.linalg.norm(surf.mid, axis=1).min()  # the bottom ring's feet
    assert g.lumen_height[0] == pytest.approx(deepest, abs=0.01)
    assert g.lumen_height[0] == pytest.approx(shape.depth, abs=0.06)  # a ring lies < 0.06 above the pole
    assert abs(g.cytosol_height[0]) < 0.01
    np.testing.assert_allclose(g.base[0], shape.radius, atol=0.01)
    assert_same_place(g.base_centre[0], centre, 48.0, atol=0.01)
    assert g.neck_radius[0] == pytest.approx(shape.neck, abs=0.05)
    assert g.bud_radius[0] == pytest.approx(shape.bud, abs=0.05)
    assert_same_place(g.bud_centre[0], np.add(centre, [0, 0, shape.bud_centre_z]), 48.0, atol=0.05)
    tags = regions(surf, g.bud.shape[1])
    assert g.bud[0][tags == "bud"].all() and not g.bud[0][tags == "mvb"].any()
    out = an.bud_geometry(traj, "outside")  # same membrane, lumen declared outside: budding into the cytosol
    assert out.direction[0] == -1 and out.cytosol_height[0] == g.lumen_height[0]
    assert out.neck_radius[0] == g.neck_radius[0]


# -------------------------------------------------------------------------------------------- cargo


def test_membrane_cargo_enriched_in_the_bud():
    rng = np.random.default_rng(6)
    surf = Omega().surface(rng).moved([0, 0, LZ / 2])
    bud, flat = np.flatnonzero(surf.region == "bud"), np.flatnonzero(surf.region == "flat")
    sorted_ = np.r_[rng.choice(bud, 24, replace=False), rng.choice(flat, 6, replace=False)]
    uniform = np.arange(0, len(surf.mid), 10)  # every tenth lipid: in proportion to the lipids
    traj = surfaces_trajectory([surf], PATCH, cargo={"CD63": [transmembrane(surf, sorted_)],
                                                     "CARG": [transmembrane(surf, uniform)]})
    e = an.cargo_enrichment(traj, "+z", "CD63")
    assert e.n_bud[0] == 24 and e.n_parent[0] == 6 and e.n_molecules == 30
    expected = (24 / e.lipids_bud[0]) / (6 / e.lipids_parent[0])
    assert e.ratio == pytest.approx(expected) and e.ratio > 1
    assert 1 < e.ci[0] < e.ratio < e.ci[1]
    u = an.cargo_enrichment(traj, "+z", "CARG")
    assert u.n_bud[0] + u.n_parent[0] == uniform.size
    assert u.ratio == pytest.approx(1.0, abs=0.15) and u.ci[0] < 1 < u.ci[1]


def test_lipid_cargo_counts_on_the_membrane_it_is_a_lipid_of():
    """A lipid species standing for cargo (GPI-anchored, say): 24 of the bud's lipids and 6 of the
    flat part's renamed GPI give those counts; as soluble cargo a lipid is refused."""
    rng = np.random.default_rng(9)
    surf = Omega().surface(rng).moved([0, 0, LZ / 2])
    bud, flat = np.flatnonzero(surf.region == "bud"), np.flatnonzero(surf.region == "flat")
    traj = surfaces_trajectory([surf], PATCH)
    lipids = [r for r in traj.topology.residues if r.name == "LIP"]
    for k in np.r_[rng.choice(bud, 24, replace=False), rng.choice(flat, 6, replace=False)]:
        lipids[k].name = "GPI"
    e = an.cargo_enrichment(traj, "+z", "GPI")
    assert e.n_bud[0] == 24 and e.n_parent[0] == 6 and e.n_molecules == 30
    assert e.ratio == pytest.approx((24 / e.lipids_bud[0]) / (6 / e.lipids_parent[0])) and e.ci[0] > 1
    with pytest.raises(ValueError, match="species: no non-lipid residue named 'GPI'"):
        an.cargo_enrichment(traj, "+z", "GPI", kind="lumen")


def test_cargo_in_the_bud_then_in_the_ilv():
    """Transmembrane cargo in the bud / detached vesicle, soluble cargo inside them; pooled over the
    frames from scission on by default, or over the frames the caller names; soluble cargo in the MVB
    lumen beside the ILV is counted as leaked."""
    rng = np.random.default_rng(7)
    frames = scission_frames(["bud3.5", "vesicle", "vesicle"])
    z0 = LZ / 2
    tm, soluble = [], []
    offsets = rng.uniform(-2.0, 2.0, (15, 1, 3)) + [[[0, 0, 0], [0.5, 0, 0]]]  # 2-bead molecules
    cytosol = np.c_[rng.uniform(0, SIDE, (5, 2)), np.full(5, z0 - 8.0)][:, None] + [[[0, 0, 0], [0.5, 0, 0]]]
    for surf, tag, lift in zip(frames, ("bud", "vesicle", "vesicle"), (0.0, LIFT, LIFT)):
        ves, flat = np.flatnonzero(surf.region == tag), np.flatnonzero(surf.region == "flat")
        tm.append(transmembrane(surf, np.r_[rng.choice(ves, 18, replace=False), rng.choice(flat, 6, replace=False)]))
        centre = np.array([SIDE / 2, SIDE / 2, z0 + Omega(bud=6.0).bud_centre_height + lift])
        beside = centre + [[[8.5, 0, 0], [9.0, 0, 0]]]  # in the lumen next to the bud, outside its sphere
        soluble.append(np.concatenate([centre + offsets, cytosol, beside]))
    traj = surfaces_trajectory(frames, PATCH, cargo={"CD63": tm, "RNA": soluble}, park=(z0 - 24, z0 - 6))
    s = an.budding_summary(traj, "+z", cargo={"CD63": "membrane", "RNA": "lumen"},
                           leaflet=sides_of(frames, len(an.lipid_indices(traj.topology)[0])))
    assert s.scission_frame == 1
    cd63, rna = s.enrichment["CD63"], s.enrichment["RNA"]
    np.testing.assert_array_equal(cd63.frames, [1, 2])
    np.testing.assert_array_equal(cd63.n_bud, 18)  # frame 0 (bud) is counted too, but not pooled
    np.testing.assert_array_equal(cd63.n_parent, 6)
    np.testing.assert_array_equal(rna.n_bud, 15)
    np.testing.assert_array_equal(rna.n_parent, 6)
    assert s.leaked == {"RNA": 1}  # the one beside the ILV is in the MVB lumen; those inside it are cytosol
    for e in (cd63, rna):
        assert e.ratio > 1 and e.ci[0] > 1
    lipids = cd63.lipids_parent[1:].sum() / cd63.lipids_bud[1:].sum()
    assert cd63.ratio == pytest.approx(3 * lipids) and rna.ratio == pytest.approx(2.5 * lipids)
    pre = an.cargo_enrichment(traj, "+z", "RNA", kind="lumen", frames=[0])  # the bud's sphere
    np.testing.assert_array_equal(pre.frames, [0])
    assert pre.n_bud[0] == 15 and pre.n_parent[0] == 6
    assert pre.ratio == pytest.approx(2.5 * pre.lipids_parent[0] / pre.lipids_bud[0])


def test_cargo_crowding_a_small_ilv_is_packed_not_leaked():
    """An ILV whose lumen its cargo fills (no free space left inside, as an RNA granule fills a 10 sigma
    ILV): the cargo counts in the ILV and none as leaked into the MVB lumen around it."""
    frames = scission_frames(["bud3.5", "vesicle", "vesicle"])
    centre = np.array([SIDE / 2, SIDE / 2, LZ / 2 + Omega(bud=6.0).bud_centre_height + LIFT])
    g = np.arange(-3.0, 3.01, 0.9)
    grid = np.stack(np.meshgrid(g, g, g, indexing="ij"), axis=-1).reshape(-1, 3)
    grid = grid[np.linalg.norm(grid, axis=1) < 3.0]  # the lumen inside the inner heads (~3.6 sigma)
    mols = (centre + grid[: len(grid) // 2 * 2]).reshape(-1, 2, 3)  # 2-bead molecules side by side
    traj = surfaces_trajectory(frames, PATCH, cargo={"RNA": [mols - [0, 0, LIFT], mols, mols]},
                               park=(LZ / 2 - 24, LZ / 2 - 6))
    s = an.budding_summary(traj, "+z", cargo={"RNA": "lumen"},
                           leaflet=sides_of(frames, len(an.lipid_indices(traj.topology)[0])))
    assert s.scission_frame == 1
    assert s.enrichment["RNA"].n_bud[-1] == len(mols) and s.enrichment["RNA"].n_parent[-1] == 0
    assert s.leaked == {"RNA": 0}


# ------------------------------------------------------------------------------------------- errors


def test_bad_input_names_the_argument():
    traj = surfaces_trajectory([Omega().surface(np.random.default_rng(8)).moved([0, 0, LZ / 2])], PATCH,
                               cargo={"CD63": [np.zeros((2, 3, 3))]})
    n = an.lipid_indices(traj.topology)[0].size
    with pytest.raises(ValueError, match=r"lumen: must be one of '\+z', '-z', 'inside', 'outside' \(got 'up'\)"):
        an.bud_geometry(traj, "up")
    with pytest.raises(ValueError, match=rf"lipids: must be a bool mask of shape \(n_lipids,\) = \({n},\).*"
                                         r"shape \(5,\)"):
        an.bud_geometry(traj, "+z", lipids=np.ones(5, bool))
    with pytest.raises(ValueError, match="threshold: must be > 0"):
        an.bud_geometry(traj, "+z", threshold=0)
    with pytest.raises(ValueError, match=r"cargo\['RNA'\]: kind must be one of \('membrane', 'lumen'\) "
                                         r"\(got 'soluble'\)"):
        an.budding_summary(traj, "+z", cargo={"RNA": "soluble"})
    with pytest.raises(ValueError, match="species: no residue named 'RNA'.*CD63, LIP"):
        an.cargo_enrichment(traj, "+z", "RNA")
    with pytest.raises(ValueError, match="lumen: must be one of"):
        an.cargo_enrichment(traj, "inward", "CD63")
