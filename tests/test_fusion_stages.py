"""The fusion stage classifier on hand-built geometries with known answers: two separate bilayers,
docked ones, a stalk, a hemifusion diaphragm and a fusion pore (a plasma-membrane-like patch above
an MVB-like patch, the cytosol between them), also across the periodic boundary."""
from __future__ import annotations

import numpy as np
import pytest
from synthetic import (
    HEAD,
    LZ,
    PATCH,
    SIDE,
    Surface,
    apposed,
    fusion_pore,
    hemifusion_diaphragm,
    stalk,
    surfaces_trajectory,
)

from exomembrane import analysis as an
from exomembrane.analysis.fusion import STAGES, fusion_stages

PM = {"+z": "extracellular", "-z": "cytosol"}
MVB = {"+z": "cytosol", "-z": "lumen"}


def classify(frames: list[Surface], shift=(0.0, 0.0)):
    """Stages of hand-built frames laid mid-box: lipids above the middle (or at it, heads up) are
    the plasma membrane's, the others the MVB's; a lipid whose head points up is in its membrane's
    upper leaflet (the plasma membrane's facing the extracellular space, the MVB's the cytosol)."""
    frames = [f.moved([0.0, 0.0, LZ / 2]).shifted([*shift, 0.0], PATCH) for f in frames]
    traj = surfaces_trajectory(frames, PATCH)
    n = an.lipid_indices(traj.topology)[0].size
    assert all(len(f.mid) == n for f in frames), "frames must hold the same lipids"
    f = frames[0]
    z = f.mid[:, 2] - LZ / 2
    upper = np.where(np.abs(z) < 1.0, f.normal[:, 2] > 0, z > 0)
    membrane = np.where(upper, 0, 1)
    leaflet = np.where(f.normal[:, 2] >= 0, 1, -1)
    return fusion_stages(traj, [PM, MVB], membrane, leaflet, first=0, second=1, workers=1)


@pytest.mark.parametrize("shift", [(0.0, 0.0), (SIDE / 2, SIDE / 2)], ids=["centred", "across the boundary"])
@pytest.mark.parametrize("shape, stage", [
    (lambda: apposed(14.0), "separate"),
    (lambda: apposed(2 * HEAD + 1.2), "docked"),
    (lambda: stalk(10.0, neck=1.0), "stalk"),
    (lambda: hemifusion_diaphragm(5.0), "hemifusion"),
    (lambda: fusion_pore(5.0), "pore"),
])
def test_each_stage_on_its_geometry(shape, stage: str, shift) -> None:
    s = classify([shape()], shift)
    assert s.names() == [stage]
    if stage == "docked":
        assert s.contact_area[0] > 0.5 * SIDE**2  # the whole patches touch
    if stage == "hemifusion":
        assert s.diaphragm_radius[0] == pytest.approx(5.0, abs=1.5)
    if stage == "pore":
        assert s.pore_radius[0] == pytest.approx(5.0 - HEAD, abs=1.0)  # the free channel inside the tube
        assert s.topology.leaky("extracellular", "lumen")[0] and not s.topology.leaky("extracellular", "cytosol")[0]
    if stage in ("stalk", "hemifusion", "pore"):
        assert s.mixed[0] == 1.0  # one membrane now
    else:
        assert s.mixed[0] == 0.0 and s.diaphragm_radius[0] == 0.0 and s.pore_radius[0] == 0.0


def test_the_timeline_and_first_times() -> None:
    s = classify([apposed(14.0)])
    assert s.first("separate") == 0.0 and np.isnan(s.first("docked"))  # docking never reached
    assert STAGES == ("separate", "docked", "stalk", "hemifusion", "pore")


def test_bad_membranes_are_refused() -> None:
    traj = surfaces_trajectory([apposed(14.0).moved([0, 0, LZ / 2])], PATCH)
    n = an.lipid_indices(traj.topology)[0].size
    with pytest.raises(ValueError, match="share exactly one compartment"):
        fusion_stages(traj, [PM, {"+z": "a", "-z": "b"}], np.zeros(n, int), np.ones(n, int))
    with pytest.raises(ValueError, match="second: must index"):
        fusion_stages(traj, [PM, MVB], np.zeros(n, int), np.ones(n, int), second=5)
