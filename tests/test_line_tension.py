"""Line tension from the capillary waves of a stripe domain: hand-built stripes with a known answer."""
from __future__ import annotations

import mdtraj
import numpy as np
import pytest

from exomembrane.analysis.line_tension import boundary_spectrum, line_tension

BOX = (40.0, 36.0)
AREA = 1.2  # sigma^2 per lipid and leaflet


def stripe_frames(tension: float, kT: float, n_frames: int, seed: int, half_width: float = 9.0, centre: float = 20.0,
                  n_modes: int = 10) -> mdtraj.Trajectory:
    """Flat bilayer with a stripe of SM lipids (x between two boundaries h1(y), h2(y)) in LIP, along y.

    Each boundary carries thermal capillary modes at line tension ``tension``: for q = 2 pi m / L_y,
    h_q = a + i b with a, b ~ N(0, kT / (2 tension L_y q^2)), h(y) = sum_m 2 Re(h_q exp(i q y)).
    Lipids sit on a jittered lattice (both leaflets); the SM count is held fixed (the stripe's area),
    surplus lattice sites become LIP, and missing ones are parked far from the plane.
    """
    rng = np.random.default_rng(seed)
    lx, ly = BOX
    q = 2 * np.pi * np.arange(1, n_modes + 1) / ly
    g = np.sqrt(AREA)
    grid = np.stack(np.meshgrid(np.arange(0, lx, g), np.arange(0, ly, g), indexing="ij"), -1).reshape(-1, 2)
    n_dom = int(round(2 * half_width * ly / AREA)) * 2  # both leaflets
    frames = []
    for _ in range(n_frames):
        leaflets = []
        amp = rng.normal(0.0, np.sqrt(kT / (2 * tension * ly * q ** 2)), (2, 2, n_modes))  # registered leaflets
        for _side in (1, -1):
            p = grid + rng.uniform(-0.25, 0.25, grid.shape)
            phase = np.outer(p[:, 1], q)
            h1 = centre - half_width + 2 * (amp[0, 0] * np.cos(phase) - amp[0, 1] * np.sin(phase)).sum(axis=1)
            h2 = centre + half_width + 2 * (amp[1, 0] * np.cos(phase) - amp[1, 1] * np.sin(phase)).sum(axis=1)
            leaflets.append((p, (p[:, 0] > h1) & (p[:, 0] < h2)))
        dom = np.concatenate([p[m] for p, m in leaflets])
        sea = np.concatenate([p[~m] for p, m in leaflets])
        frames.append((dom, sea))
    n_sea = max(len(s) for _, s in frames) + n_dom
    top = mdtraj.Topology()
    chain = top.add_chain()
    for i in range(n_dom + n_sea):
        res = top.add_residue("SM" if i < n_dom else "LIP", chain)
        for atom in ("H", "T1", "T2"):
            top.add_atom(atom, None, res)
    coords = []
    for dom, sea in frames:
        dom = dom[rng.permutation(len(dom))]
        spill = dom[n_dom:]  # the area is fixed: surplus domain sites hold LIP ...
        dom = dom[:n_dom]
        if len(dom) < n_dom:  # ... and missing domain lipids are parked away from the plane (few)
            dom = np.r_[dom, rng.uniform(0, lx, (n_dom - len(dom), 2))]
        heads2 = np.r_[dom, sea, spill]
        z = np.r_[np.full(len(heads2), 2.4), np.full(n_dom + n_sea - len(heads2), 9.0)]
        heads = np.c_[np.r_[heads2, rng.uniform(0, lx, (n_dom + n_sea - len(heads2), 2))], z]
        beads = heads[:, None, :] - np.array([0.0, 1.0, 2.0])[None, :, None] * np.array([0.0, 0.0, 1.0])
        coords.append(np.mod(beads.reshape(-1, 3), [lx, ly, 20.0]))
    box = np.tile([lx, ly, 20.0], (n_frames, 1))
    return mdtraj.Trajectory(np.array(coords, np.float32), top, unitcell_lengths=box,
                             unitcell_angles=np.full((n_frames, 3), 90.0))


def test_a_straight_stripe_has_no_modes_and_its_width():
    rng = np.random.default_rng(0)
    xy = np.c_[rng.uniform(-8, 8, 3000) + 38.0, rng.uniform(0, BOX[1], 3000)] % BOX  # across the x boundary
    power, width = boundary_spectrum(xy, np.array(BOX), 16, 4, 0.02)
    assert width == pytest.approx(16.0 * 0.96, rel=0.03)
    assert power.max() < 0.01


def test_a_wavy_stripe_shows_its_mode():
    rng = np.random.default_rng(1)
    y = rng.uniform(0, BOX[1], 6000)
    x = 20 + rng.uniform(-8, 8, 6000) + 1.5 * np.cos(2 * np.pi * 2 * y / BOX[1])  # both boundaries move together
    power, _ = boundary_spectrum(np.c_[x, y], np.array(BOX), 16, 4, 0.02)
    assert power[1] > 1.0 and power[1] > 20 * max(power[0], power[2], power[3])  # |h_q|^2 = (1.5 / 2)^2 each


@pytest.mark.parametrize("tension", [1.0, 4.0])
def test_line_tension_recovers_the_known_value(tension):
    lt = line_tension(stripe_frames(tension, kT=1.1, n_frames=300, seed=3), "SM", kT=1.1)
    assert lt.value == pytest.approx(tension, rel=0.3), lt
    assert lt.error < 0.3 * lt.value
    assert lt.width == pytest.approx(18.0, rel=0.15)


def test_stiffer_boundary_reads_higher():
    soft = line_tension(stripe_frames(1.0, 1.0, 200, 5), "SM").value
    stiff = line_tension(stripe_frames(4.0, 1.0, 200, 5), "SM").value
    assert stiff > 2.5 * soft


def test_bad_input_names_the_field():
    traj = stripe_frames(2.0, 1.0, 12, 0)
    with pytest.raises(ValueError, match="domain"):
        line_tension(traj, "CER")
    with pytest.raises(ValueError, match="n_max"):
        line_tension(traj, "SM", n_max=8)
    with pytest.raises(ValueError, match="edge"):
        line_tension(traj, "SM", edge=0.6)
    with pytest.raises(ValueError, match="traj"):
        line_tension(traj[:5], "SM")
    with pytest.raises(ValueError, match="n_bins"):
        line_tension(traj, "SM", n_bins=200, n_max=4)
