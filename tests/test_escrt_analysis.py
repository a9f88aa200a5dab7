"""The ESCRT-III analysis on hand-built filaments with known answers: a flat spiral bound to its patch,
a helix of given radius, tilt and pitch (also across the periodic boundary), subunits pulled off
the membrane, and the stage timeline from known membrane measures."""
from __future__ import annotations

import numpy as np
import pytest
from synthetic import structure_trajectory

import exomembrane as em
from exomembrane.analysis.escrt import BUCKLED, STAGES, filament_shape, first_times, stages
from exomembrane.builders.filament import FilamentSpec
from exomembrane.model.filaments import helix


@pytest.fixture(scope="module")
def patch(ff: em.ForceField) -> em.Structure:
    return em.builders.mvb_patch(ff, 30.0, box_z=30.0, filaments=[FilamentSpec(subunits=40)])


def shape_of(s: em.Structure, xyz: np.ndarray | None = None):
    f = s.filaments
    heads = np.flatnonzero(s.bead_arrays()[1] & s.is_lipid()[s.bead_molecule()])
    traj = structure_trajectory(s, None if xyz is None else xyz[None])
    return filament_shape(traj, f.subunits, np.array([0, 1]), heads, "+z", f.contact + f.w)


def test_a_built_spiral_is_flat_bound_and_as_wide_as_laid(patch: em.Structure) -> None:
    shape = shape_of(patch)
    centres = patch.positions[patch.filaments.subunits].mean(1)
    laid = patch.box[:2] / 2  # the spiral's own centre
    rho = np.linalg.norm(centres[:, :2] - laid, axis=1)
    assert shape.radius[0] == pytest.approx(np.median(rho), abs=0.6)  # a circle fitted to a spiral
    assert shape.tilt[0] == pytest.approx(0.0, abs=1e-3) and shape.height[0] == pytest.approx(0.0, abs=1e-3)
    assert abs(shape.pitch[0]) < 1e-3 and shape.bound[0] == 40
    np.testing.assert_allclose(shape.axis[0], laid, atol=1.0)


@pytest.mark.parametrize("radius,tilt,pitch", [(4.0, 90.0, -5.0), (6.0, 45.0, 3.0), (3.0, 90.0, 8.0)])
@pytest.mark.parametrize("at", [(15.0, 15.0), (0.5, 29.7)])  # centred, and across the periodic corner
def test_a_hand_built_helix_gives_its_radius_tilt_and_pitch(patch: em.Structure, radius, tilt, pitch, at) -> None:
    f = patch.filaments
    offsets = patch.forcefield.get("ESC3").template[:, 1:]
    frame = helix(len(f), offsets, 1.2, radius, tilt, pitch)  # (n, 3, 3) about the z axis, z towards the cytosol
    # the builder's frame on a patch with the lumen at +z: e1 = x, e2 = -y, normal (to the cytosol) = -z
    world = np.stack([at[0] + frame[..., 0], at[1] - frame[..., 1], 12.0 - frame[..., 2]], axis=-1)
    x = patch.positions.copy()
    x[f.subunits] = np.mod(world, patch.box)
    shape = shape_of(patch, x)
    centre_offset = offsets.mean(0)  # the subunit centre sits at u = its offsets' mean
    t = np.radians(tilt)
    assert shape.radius[0] == pytest.approx(radius + centre_offset[0] * np.cos(t) - centre_offset[1] * np.sin(t),
                                            abs=0.02)
    assert shape.tilt[0] == pytest.approx(tilt, abs=0.5)
    assert shape.pitch[0] == pytest.approx(-pitch, abs=0.05)  # rises to the lumen = falls to the cytosol
    turns = (len(f) - 1) * 1.2 / (2 * np.pi * radius)
    assert shape.height[0] == pytest.approx(abs(pitch) * turns, rel=0.02)


def test_subunits_pulled_off_the_membrane_are_not_bound(patch: em.Structure) -> None:
    x = patch.positions.copy()
    x[patch.filaments.subunits[-5:]] -= [0.0, 0.0, 3.0]
    assert shape_of(patch, x).bound[0] == 35


def test_stages_follow_the_membrane_under_the_filament() -> None:
    time = np.arange(8) * 10.0
    lumen_height = np.array([0.5, 1.0, BUCKLED + 0.1, 4.0, 7.0, 9.0, 9.0, 3.0])
    direction = np.array([0, 0, 0, 0, 1, 1, 1, 0])
    neck = np.array([np.nan] * 5 + [2.5, 1.5, np.nan])
    stage = stages(lumen_height, direction, neck, fission_frame=7, persist=1)
    assert [STAGES[k] for k in stage] == ["flat", "flat", "buckled", "buckled", "bud", "neck", "neck", "fission"]
    assert first_times(stage, time) == {"flat": 0.0, "buckled": 20.0, "bud": 40.0, "neck": 50.0, "fission": 70.0}
    held = stages(lumen_height, direction, neck, fission_frame=7, persist=3)  # the neck held only 2 frames
    assert [STAGES[k] for k in held] == ["flat", "flat", "buckled", "buckled", "bud", "bud", "bud", "fission"]
    spike = stages(np.array([0.5, BUCKLED + 1, 0.5, 0.6, 0.5]), np.zeros(5), np.full(5, np.nan), -1)
    assert not spike.any()  # one frame above the threshold is noise, not a buckle
    flat = stages(np.full(8, 0.8), np.zeros(8), np.full(8, np.nan), -1)
    assert first_times(flat, time) == {"flat": 0.0, "buckled": None, "bud": None, "neck": None, "fission": None}


def test_shapes_are_measured_on_a_flat_patch_only(patch: em.Structure) -> None:
    traj = structure_trajectory(patch)
    with pytest.raises(ValueError, match="lumen: filament shapes are measured on a flat patch"):
        filament_shape(traj, patch.filaments.subunits, np.array([0, 1]), np.arange(3), "inside", 2.0)


def test_the_shape_is_that_of_the_part_still_assembled(patch: em.Structure) -> None:
    """Subunits let go (scattered from the tip) leave the shape of the chain still joined; a filament
    scattered whole has no shape."""
    x = patch.positions.copy()
    f = patch.filaments
    rng = np.random.default_rng(0)
    x[f.subunits[25:]] += rng.uniform(-8, 8, (15, 1, 3))  # the tip's 15 subunits drift apart
    whole, part = shape_of(patch), shape_of(patch, np.mod(x, patch.box))
    assert whole.assembled[0] == 40 and part.assembled[0] == 25
    assert part.tilt[0] == pytest.approx(0.0, abs=1e-3) and abs(part.pitch[0]) < 1e-3
    x[f.subunits] += rng.uniform(-8, 8, (40, 1, 3))
    scattered = shape_of(patch, np.mod(x, patch.box))
    assert scattered.assembled[0] < 3 and np.isnan(scattered.radius[0]) and np.isnan(scattered.tilt[0])
