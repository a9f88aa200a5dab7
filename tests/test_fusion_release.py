"""Release, lipid mixing and leaks on hand-built geometries with known answers: an ILV above a fused
plasma membrane (released), the same ILV still in the MVB lumen under an open fusion pore (not
released), an open ILV (not released), and the leaflets that mix at a stalk and at a pore."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from synthetic import HEAD, LZ, PATCH, Surface, apposed, fusion_pore, plane, pore, sphere, stalk, surfaces_trajectory

from exomembrane import analysis as an
from exomembrane.analysis.fusion import leaks, lipid_mixing, release

PM = {"+z": "extracellular", "-z": "cytosol"}
MVB = {"+z": "cytosol", "-z": "mvb_lumen"}
ILV = {"outside": "mvb_lumen", "inside": "ilv_lumen"}
ILV_R = 5.0


def scene(fused: Surface, ilv_z: float | None, opening: float = 0.0, cargo: list[np.ndarray] | None = None):
    """``fused`` (two patches 10 sigma apart, or joined) mid-box, and an ILV of midplane radius 5
    centred at height ``ilv_z`` above the box middle (with ``cargo``: one frame per (n, 3, 3) array of
    three-bead cargo molecules); returns (traj, faces, membrane, leaflet, topology)."""
    f = fused.moved([0.0, 0.0, LZ / 2])
    z = f.mid[:, 2] - LZ / 2
    upper = np.where(np.abs(z) < 1.0, f.normal[:, 2] > 0, z > 0)
    membrane = np.where(upper, 0, 1)
    leaflet = np.where(f.normal[:, 2] >= 0, 1, -1)
    # leaflets as built where the monolayers bend into the junction: the proximal monolayers (the
    # stalk; the pore tube's outer leaflet) are the PM's lower and the MVB's upper leaflet
    radial = f.mid[:, :2] - np.array(PATCH[:2]) / 2
    outward = np.einsum("ij,ij->i", f.normal[:, :2], radial) > 0
    tube = np.isin(f.region, ["neck", "fillet"])
    proximal = (f.region == "stalk") | (tube & outward)
    distal = tube & ~outward
    leaflet[proximal] = np.where(membrane[proximal] == 0, -1, 1)
    leaflet[distal] = np.where(membrane[distal] == 0, 1, -1)
    if ilv_z is not None:
        ilv = sphere(ILV_R, (PATCH[0] / 2, PATCH[1] / 2, LZ / 2 + ilv_z), np.random.default_rng(1), opening=opening)
        f = f + ilv
        membrane = np.r_[membrane, np.full(len(ilv.mid), 2)]
        assert ilv.side is not None
        leaflet = np.r_[leaflet, ilv.side]
    frames = len(cargo) if cargo else 1
    traj = surfaces_trajectory([f] * frames, PATCH, {"CARG": cargo} if cargo else None)
    n = an.lipid_indices(traj.topology)[0].size
    membrane = np.r_[membrane, np.full(n - len(membrane), -1)]
    leaflet = np.r_[leaflet, np.zeros(n - len(leaflet), int)]
    faces = [PM, MVB, ILV]
    topo = an.topology(traj, faces, membrane, leaflet, workers=1)
    return traj, faces, membrane, leaflet, topo


ABOVE = 5.0 + HEAD + ILV_R + HEAD + 1.0  # an ILV clear above the upper patch (its midplane at +5)
BELOW = -ABOVE


def test_an_ilv_past_an_open_fusion_pore_is_released() -> None:
    traj, faces, membrane, _, topo = scene(fusion_pore(6.0), ABOVE)
    r = release(traj, faces, membrane, topo)
    assert r.ilvs == (2,)
    assert r.closed[0, 0] and r.extracellular[0, 0] and r.exposed[0, 0] and r.count()[0] == 1
    assert r.height[0, 0] == pytest.approx(ABOVE - 5.0, abs=0.6)  # from the midplane, within its tail ends
    assert r.times()[0] == 0.0


def test_an_ilv_still_in_the_mvb_lumen_is_not_released() -> None:
    """Under an open pore the MVB lumen is part of the extracellular space, but the ILV has not
    passed the plasma membrane."""
    traj, faces, membrane, _, topo = scene(fusion_pore(6.0), BELOW)
    r = release(traj, faces, membrane, topo)
    assert r.closed[0, 0] and r.extracellular[0, 0] and not r.exposed[0, 0]
    assert r.count()[0] == 0 and np.isnan(r.times()[0])


def test_an_ilv_in_a_sealed_mvb_lumen_is_not_extracellular() -> None:
    traj, faces, membrane, _, topo = scene(apposed(10.0), BELOW)
    r = release(traj, faces, membrane, topo)
    assert r.closed[0, 0] and not r.extracellular[0, 0] and r.count()[0] == 0


def test_an_open_ilv_is_not_released() -> None:
    traj, faces, membrane, _, topo = scene(fusion_pore(6.0), ABOVE, opening=0.9)
    r = release(traj, faces, membrane, topo)
    assert not r.closed[0, 0] and r.count()[0] == 0


@pytest.mark.parametrize("shape, proximal, distal", [
    (lambda: apposed(2 * HEAD + 1.2), 0.0, 0.0),  # docked: heads touch across the cytosol, antiparallel
    (lambda: stalk(10.0, neck=1.0), 1.0, 0.0),  # the proximal (cytosolic) monolayers are one at the neck
    (lambda: fusion_pore(5.0), 1.0, 1.0),  # both monolayers continue through the pore's tube
])
def test_lipid_mixing_by_leaflet(shape, proximal: float, distal: float) -> None:
    traj, _, membrane, leaflet, _ = scene(shape(), None)
    mixing = lipid_mixing(traj, membrane, leaflet, 0, 1)  # columns: PM upper (distal), lower (proximal)
    assert (mixing[0, 1] > 0) == (proximal > 0) and (mixing[0, 0] > 0) == (distal > 0)
    assert mixing.max() < 0.5  # only lipids at the junction mix


def test_the_cargo_that_stays_with_a_released_ilv_is_counted() -> None:
    """Two cargo molecules at the ILV's centre in the first frame; in the second one of them has left
    it (8 sigma beyond its outer radius): the ILV keeps 2, then 1; one far away is never its cargo."""
    centre = np.array([PATCH[0] / 2, PATCH[1] / 2, LZ / 2 + ABOVE])
    rod = np.array([[0.0, 0.0, -1.0], [0.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    far = centre + [0.0, 0.0, -20.0]  # in the cytosol below the membranes
    first = np.stack([centre + rod, centre + [1.0, 0.0, 0.0] + rod, far + rod])
    second = first.copy()
    second[1] += [0.0, 0.0, ILV_R + HEAD + 8.0]
    traj, faces, membrane, _, topo = scene(fusion_pore(6.0), ABOVE, cargo=[first, second])
    r = release(traj, faces, membrane, topo)
    assert r.cargo[:, 0].tolist() == [2, 1] and r.count().tolist() == [1, 1]


def test_leaks_find_a_stray_pore_and_joined_compartments() -> None:
    traj, faces, membrane, _, topo = scene(fusion_pore(6.0), ABOVE)
    joined = topo.leaky("mvb_lumen", "extracellular")
    assert joined[0]
    clean = leaks(topo, membrane)
    assert not clean.any[0] and not clean.joined["cytosol|extracellular"][0]
    # a pore in the plasma membrane and no fusion: a stray pore, and the cytosol joins the extracellular space
    traj, faces, membrane, _, topo = scene(pore(6.0).moved([0.0, 0.0, 5.0]) + plane().moved([0.0, 0.0, -5.0]), None)
    torn = leaks(topo, membrane)
    assert torn.any[0] and torn.stray_pores[0] == 1 and torn.joined["cytosol|extracellular"][0]


@pytest.mark.parametrize("strays,closed", [(2, True), (12, False)])
def test_an_ilv_sharing_a_monolayer_with_another_membrane_is_not_closed(strays: int, closed: bool) -> None:
    """The ILV above the pore with its ``strays`` lowest outer lipids counted as plasma-membrane lipids
    in its outer monolayer: two (lipids that hopped across a contact) leave it closed and released;
    twelve (the lipid mixing of a stalk) make it fused to the plasma membrane: not closed, not released."""
    traj, faces, membrane, leaflet, topo = scene(fusion_pore(6.0), ABOVE)
    heads = an.lipid_indices(traj.topology)[0]
    outer = np.flatnonzero((membrane == 2) & (leaflet > 0))
    lowest = outer[np.argsort(traj.xyz[0, heads[outer], 2])[:strays]]
    membrane = membrane.copy()
    membrane[lowest] = 0
    r = release(traj, faces, membrane, topo)
    assert r.closed[0, 0] == closed and (r.count()[0] == 1) == closed


def test_an_open_ilv_past_the_pore_leaks_its_lumen() -> None:
    """An ILV's lumen is topologically cytosol: an ILV open to the extracellular space spills it (a
    leak, and not released); the same ILV closed does not."""
    traj, faces, membrane, _, topo = scene(fusion_pore(6.0), ABOVE, opening=np.radians(60))
    spilt = leaks(topo, membrane)
    assert spilt.any[0] and spilt.joined["ilv_lumen|extracellular"][0] and spilt.stray_pores[0] == 1
    assert release(traj, faces, membrane, topo).count()[0] == 0
    traj, faces, membrane, _, topo = scene(fusion_pore(6.0), ABOVE)
    assert not leaks(topo, membrane).joined["ilv_lumen|extracellular"][0]


def test_an_ilv_under_a_pore_wider_than_itself_is_exposed() -> None:
    """Under a fusion pore of radius 10 (its tube lipids 10 sigma from the axis, wider than the ILV's
    7.4 sigma outer radius) the ILV has an open way out: released; under a 6 sigma pore it is not."""
    traj, faces, membrane, _, topo = scene(fusion_pore(10.0), BELOW)
    r = release(traj, faces, membrane, topo)
    assert r.closed[0, 0] and r.extracellular[0, 0] and r.exposed[0, 0] and r.count()[0] == 1
    traj, faces, membrane, _, topo = scene(fusion_pore(6.0), BELOW)
    assert not release(traj, faces, membrane, topo).exposed[0, 0]


def test_an_ilv_whose_cluster_holds_another_membrane_is_not_closed() -> None:
    """The ILV above the pore, its lipids labelled one cluster with the plasma membrane's (as tails
    touching across a contact join them): not a vesicle of its own, so not closed and not released;
    with its own cluster it is both."""
    traj, faces, membrane, _, topo = scene(fusion_pore(6.0), ABOVE)
    assert release(traj, faces, membrane, topo).count()[0] == 1
    labels = topo.membranes.copy()
    labels[0, membrane == 2] = labels[0, np.flatnonzero(membrane == 0)[0]]
    r = release(traj, faces, membrane, replace(topo, membranes=labels))
    assert not r.closed[0, 0] and r.count()[0] == 0
