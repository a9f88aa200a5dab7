"""Membrane topology against hand-built geometries with known answers: compartments connected or
not, open membranes, pore positions and radii, divisions and pores opening and closing, also across
the periodic boundary (flat patches lie mid-box in z, as the builders lay them: the box's z faces
separate their two sides)."""
from __future__ import annotations

import numpy as np
import pytest
from synthetic import (
    CORNER,
    HEAD,
    LZ,
    PATCH,
    SIDE,
    Omega,
    Surface,
    plane,
    pore,
    rough,
    sides_of,
    sphere,
    surfaces_trajectory,
)

import exomembrane as em
from exomembrane.analysis import lipid_indices
from exomembrane.analysis.selection import species_residues
from exomembrane.analysis.topology import (
    Topology,
    coverage_holes,
    current_leaflets,
    free_space,
    molecule_compartments,
    topology,
)
from exomembrane.builders import Placement

MVB_PATCH = {"+z": "lumen", "-z": "cytosol"}  # lumen above the patch
MVB_CLOSED = {"outside": "cytosol", "inside": "lumen"}
MID = (SIDE / 2, SIDE / 2, LZ / 2)


def analyse(frames: list[Surface], faces=MVB_PATCH, box=PATCH, shift=None) -> Topology:
    """Topology of a hand-built trajectory, every lipid of the one declared membrane, leaflets as laid."""
    if shift is not None:
        frames = [f.shifted(shift, box) for f in frames]
    traj = surfaces_trajectory(frames, box, park=(2.0, 6.0) if "inside" in faces else (-24.0, -6.0))
    n = lipid_indices(traj.topology)[0].size
    return topology(traj, [faces], np.zeros(n, int), sides_of(frames, n), workers=1)


def patch(surf: Surface) -> Surface:
    return surf.moved([0.0, 0.0, LZ / 2])


def test_free_space_labels_regions_through_the_periodic_box() -> None:
    box = np.array([10.0, 10.0, 10.0])
    wall = np.stack(np.meshgrid(np.arange(0, 10, 0.5), np.arange(0, 10, 0.5), [5.0], indexing="ij"), -1).reshape(-1, 3)
    assert free_space(wall, box).max() + 1 == 1  # the two sides meet through the z boundary
    assert free_space(wall, box, z_periodic=False).max() + 1 == 2
    assert free_space(np.empty((0, 3)), box).max() + 1 == 1


def test_intact_patch_separates_lumen_and_cytosol() -> None:
    t = analyse([patch(plane())])
    assert not t.open[0, 0] and t.pores == [] and t.largest_pore[0] == 0
    assert not t.leaky("lumen", "cytosol")[0]
    assert sorted(t.region_compartment[0]) == ["cytosol", "lumen"]


@pytest.mark.parametrize("radius", [2.0, 4.0, 8.0])
@pytest.mark.parametrize("shift", [None, (-SIDE / 2, -SIDE / 2, 0.0)], ids=["centred", "across the boundary"])
def test_a_pore_is_found_with_its_radius_and_position(radius: float, shift) -> None:
    """``pore(R)`` lays the rim's midplane at R; the heads line the free channel at R - HEAD."""
    t = analyse([patch(rough(pore(radius + HEAD, rng=3), np.random.default_rng(1)))], shift=shift)
    (found,) = t.pores
    assert found.radius == pytest.approx(radius, abs=1.0)
    where = np.array(MID) + (shift or 0.0)
    d = found.centre[:2] - np.mod(where[:2], PATCH[:2])
    assert np.linalg.norm(d - np.round(d / PATCH[:2]) * PATCH[:2]) < 1.0
    assert t.open[0, 0] and t.leaky("lumen", "cytosol")[0]


def test_thermal_patches_show_no_pore() -> None:
    rng = np.random.default_rng(7)
    t = analyse([patch(rough(plane(), rng)) for _ in range(3)])
    assert t.pores == [] and not t.open.any() and not t.connected[:, 0, 1].any()


@pytest.mark.parametrize("shift", [None, (SIDE / 2, SIDE / 2, LZ / 2)], ids=["centred", "across the boundary"])
def test_a_closed_vesicle_never_leaks(shift) -> None:
    rng = np.random.default_rng(2)
    frames = [rough(sphere(9.0, MID, rng), rng) for _ in range(2)]
    t = analyse(frames, MVB_CLOSED, shift=shift)
    assert t.n_membranes.tolist() == [1, 1] and not t.open.any() and t.pores == []
    assert not t.leaky("lumen", "cytosol").any()


def test_lipids_that_flip_flopped_name_the_compartment_they_face() -> None:
    """An ILV-sized vesicle (midplane radius 7 sigma) whose inner leaflet holds 30 % lipids labelled
    as built in the outer one (flip-flop): each takes its neighbours' leaflet, so its inside stays a
    compartment of its own; with the labels as built the inside would join the outside."""
    rng = np.random.default_rng(6)
    surf = sphere(7.0, MID, rng)
    traj = surfaces_trajectory([surf], PATCH, park=(2.0, 6.0))
    n = lipid_indices(traj.topology)[0].size
    true = sides_of([surf], n)[0]
    built = true.copy()
    inner = np.flatnonzero(true < 0)
    built[rng.choice(inner, int(0.3 * inner.size), replace=False)] = 1
    heads = traj.xyz[0][lipid_indices(traj.topology)[0]].astype(float)
    laid = true != 0
    assert (built[laid] == true[laid]).mean() < 0.95
    assert (current_leaflets(heads, np.array(PATCH), np.zeros(n, int), built)[laid] == true[laid]).mean() > 0.98
    t = topology(traj, [MVB_CLOSED], np.zeros(n, int), built, workers=1)
    assert not t.open.any() and not t.leaky("lumen", "cytosol").any()


def test_a_vesicle_with_a_pore_leaks_through_it() -> None:
    radius, opening = 10.0, np.radians(40)
    t = analyse([sphere(radius, MID, np.random.default_rng(3), opening=opening)], MVB_CLOSED)
    (found,) = t.pores
    assert found.radius == pytest.approx(radius * np.sin(opening) - HEAD, abs=1.0)
    assert found.centre[2] < MID[2] - radius + 2.0  # at the bottom, where the cup is open
    assert t.open[0, 0] and t.leaky("lumen", "cytosol")[0]


def test_a_bud_on_a_neck_is_one_closed_membrane_whose_inside_is_the_cytosol() -> None:
    t = analyse([patch(Omega(neck=3.5, bud=6.0).surface(np.random.default_rng(4)))])
    assert t.n_membranes[0] == 1 and not t.open[0, 0] and t.pores == []
    assert sorted(t.region_compartment[0]) == ["cytosol", "lumen"]  # the bud's inside is the cytosol, one region
    assert not t.leaky("lumen", "cytosol")[0]


@pytest.mark.parametrize("centre", [MID[:2], CORNER], ids=["centred", "across the boundary"])
def test_a_detached_vesicle_is_closed_and_separate(centre) -> None:
    rng = np.random.default_rng(5)
    frame = (plane(centre=centre) + sphere(6.0, [*centre, 16.0], rng)).moved([0.0, 0.0, LZ / 2])
    t = analyse([frame.shifted([0.0, 0.0, 0.0], PATCH)])
    assert t.n_membranes[0] == 2 and not t.open[0, :2].any() and t.pores == []
    # the ILV's inside is a space of its own, topologically cytosol (its inner leaflet was cytosolic)
    assert sorted(t.region_compartment[0]) == ["cytosol", "cytosol", "lumen"]
    assert not t.leaky("lumen", "cytosol")[0]


def test_division_and_a_pore_that_opens_and_closes_are_events_with_their_times() -> None:
    rng = np.random.default_rng(6)
    bud = patch(Omega(neck=3.5, bud=6.0).surface(rng))
    ilv = sphere(6.0, [*MID[:2], LZ / 2 + 16.0], rng)
    frames = [bud, patch(plane()) + ilv, patch(pore(4 + HEAD, rng=1)) + ilv, patch(plane()) + ilv]
    t = analyse(frames)
    kinds = [(e.kind, e.time) for e in t.events]
    assert ("division", 10.0) in kinds
    assert ("pore opened", 20.0) in kinds and ("pore closed", 30.0) in kinds
    assert t.leaky("lumen", "cytosol").tolist() == [False, False, True, False]
    assert t.largest_pore[2] == pytest.approx(4.0, abs=1.0) and t.largest_pore[[0, 1, 3]].tolist() == [0, 0, 0]


def holed_bud(hole: float, rng: np.random.Generator) -> Surface:
    """A patch with a large bud (midplane radius 10 on a 3.5 neck) whose underside has a bare hole:
    lipids with feet within ``hole`` of the bud's midplane point at 120 degrees from its top removed.
    Seen from above, the bud's top half covers the hole."""
    shape = Omega(neck=3.5, bud=10.0, fillet=3.0, tube=3.0)
    surf = patch(shape.surface(rng))
    where = np.array([*MID[:2], LZ / 2 + shape.bud_centre_height]) + 10.0 * np.array(
        [np.sin(np.radians(120)), 0.0, np.cos(np.radians(120))])
    keep = np.linalg.norm(surf.mid - where, axis=1) >= hole
    assert surf.side is not None
    return Surface(surf.mid[keep], surf.normal[keep], surf.region[keep], surf.side[keep])


@pytest.mark.parametrize("hole", [0.0, 4.0, 6.0])
def test_a_pore_that_the_membrane_hides_from_above_is_found_as_a_channel(hole: float) -> None:
    """A hole in the underside of a large bud lies under the bud's top: projected onto the patch's
    plane it is covered, so only the channel between the leaflets shows it, with its radius: the
    bottleneck of the free space through it, at the edge of the bud's inner heads, which the cut
    (a ball of radius ``hole`` about a point of the midplane sphere of radius 10) leaves
    ``(10 - HEAD) sin(2 asin(hole / 20))`` from its axis. The bud without a hole has none."""
    box = (SIDE, SIDE, 70.0)
    surf = holed_bud(hole, np.random.default_rng(8))
    traj = surfaces_trajectory([surf], box, park=(2.0, 14.0))
    heads, tails = lipid_indices(traj.topology)
    n = heads.size
    t = topology(traj, [MVB_PATCH], np.zeros(n, int), sides_of([surf], n), workers=1)
    beads = np.concatenate([heads[: len(surf.mid)], tails[: len(surf.mid)].ravel()])
    assert coverage_holes(traj.xyz[0][beads].astype(float), np.array(box), False, np.zeros(3), 0.0, LZ / 2) == []
    if not hole:
        assert t.pores == [] and not t.leaky("lumen", "cytosol")[0]
        return
    (found,) = t.pores
    # lipids that crossed into the other leaflet through the pore keep their leaflet as built: a
    # patch of them far from the hole is neither a pore nor a side of one
    side = sides_of([surf], n)
    flat = np.flatnonzero((side[0] < 0) & (np.arange(n) < len(surf.mid)))
    feet = surf.mid[flat]
    corner = flat[np.argsort(np.linalg.norm(feet[:, :2] - 2.0, axis=1))[:25]]  # 25 neighbours about (2, 2)
    side[0, corner] = 1
    assert (current_leaflets(traj.xyz[0][heads].astype(float), np.array(box), np.zeros(n, int), side[0])[corner]
            == 1).sum() >= 10  # the vote of neighbours leaves them labelled so
    (crossed,) = topology(traj, [MVB_PATCH], np.zeros(n, int), side, workers=1).pores
    assert crossed.radius == found.radius
    assert found.radius == pytest.approx((10.0 - HEAD) * np.sin(2 * np.arcsin(hole / 20.0)), abs=0.75)
    assert t.leaky("lumen", "cytosol")[0] and t.largest_pore[0] == found.radius
    centre = np.array([MID[0] + 10.0 * np.sin(np.radians(120)), MID[1], LZ / 2 + Omega(3.5, 10.0).bud_centre_height
                       + 10.0 * np.cos(np.radians(120))])
    assert np.linalg.norm(found.centre - centre) < 2.0  # the bottleneck, at the inner heads' edge


def test_coverage_holes_of_a_bare_sphere_and_plane() -> None:
    box = np.array([30.0, 30.0, 30.0])
    rng = np.random.default_rng(0)
    u = rng.normal(size=(4000, 3))
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    cap = u[:, 2] > np.cos(np.radians(25))  # a hole of angular radius 25 degrees about +z
    pts = 15.0 + 8.0 * u[~cap]
    (hole,) = coverage_holes(pts, box, True, np.full(3, 15.0), 8.0)
    assert hole[1] == pytest.approx(8.0 * np.radians(25), abs=0.8) and hole[0][2] > 15.0 + 7.0
    grid = np.stack(np.meshgrid(np.arange(0, 30, 0.7), np.arange(0, 30, 0.7), [10.0], indexing="ij"), -1).reshape(-1, 3)
    assert coverage_holes(grid, box, False, np.zeros(3), 0.0, 10.0) == []


def test_bad_input_names_the_argument() -> None:
    traj = surfaces_trajectory([patch(plane())], PATCH)
    n = lipid_indices(traj.topology)[0].size
    with pytest.raises(ValueError, match="faces"):
        topology(traj, [{"+z": "lumen", "inside": "cytosol"}], np.zeros(n, int), np.ones(n, int))
    with pytest.raises(ValueError, match="n_lipids"):
        topology(traj, [MVB_PATCH], np.zeros(3, int), np.ones(3, int))
    with pytest.raises(ValueError, match="share"):
        topology(traj, [MVB_PATCH], np.zeros(n, int), np.ones(n, int), share=1.5)


@pytest.mark.parametrize("closed", [False, True])
def test_each_molecule_is_found_in_the_compartment_it_was_placed_in(ff, closed):
    """RNA placed in the lumen and in the cytosol of a flat MVB patch and of a closed MVB (known
    answers by construction): each is found in its compartment, soluble or docked at the membrane."""
    lumen = [Placement(species="RNA", where="lumen", count=2)]
    if closed:
        s = em.builders.mvb_vesicle(ff, 9.0, proteins=lumen, seed=2)
        s = em.builders.place(s, [Placement(species="RNA", where="cytosol", count=3)], seed=3)
    else:
        s = em.builders.mvb_patch(ff, 16.0, box_z=30.0, seed=2, proteins=lumen + [
            Placement(species="RNA", where="cytosol", count=2),
            Placement(species="RNA", where="cytosol", up="cytosol", at=3.5, count=1)])
    traj = s.to_mdtraj()
    atoms, mol = species_residues(traj.topology, "RNA")
    lipids = s.is_lipid()
    found = molecule_compartments(traj, 0, atoms, mol, [m.faces for m in s.membranes], s.membrane[lipids],
                                  s.leaflet[lipids])
    assert found == ["lumen", "lumen", "cytosol", "cytosol", "cytosol"]
