"""Line tension from the boundary spectrum of a round domain: hand-built domains with a known answer."""
from __future__ import annotations

import mdtraj
import numpy as np
import pytest

from exomembrane.analysis.line_tension import boundary_modes, line_tension

BOX = 40.0
AREA = 1.2  # sigma^2 per lipid


def domain_frames(tension: float, kT: float, radius: float, n_frames: int, seed: int, centre=(20.0, 20.0),
                  n_modes: int = 12) -> mdtraj.Trajectory:
    """Flat leaflet: a round domain of SM lipids (uniform in the domain, 1.2 sigma^2 each) whose boundary
    carries thermal modes at line tension ``tension`` (<a_n^2> = kT / (pi tension R (n^2 - 1))), in
    a sea of LIP on a jittered lattice outside it (surplus LIP parked away from the plane)."""
    rng = np.random.default_rng(seed)
    n = np.arange(2, n_modes + 1)
    n_dom = int(np.pi * radius ** 2 / AREA)
    g = np.arange(0.0, BOX, np.sqrt(AREA))
    grid = np.stack(np.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    frames = []
    for _ in range(n_frames):
        a, b = rng.normal(0.0, np.sqrt(kT / (np.pi * tension * radius * (n ** 2 - 1))), (2, n.size))

        def shape(theta, a=a, b=b):
            return 1 + (a * np.cos(np.outer(theta, n)) + b * np.sin(np.outer(theta, n))).sum(axis=1)

        t = np.linspace(-np.pi, np.pi, 721)[:-1]
        scale = radius / np.sqrt(np.mean(shape(t) ** 2))  # the domain's area stays pi R^2

        def edge(theta, shape=shape, scale=scale):
            return scale * shape(theta)

        dom = np.empty((0, 2))
        while len(dom) < n_dom:  # uniform in the shape by rejection
            p = rng.uniform(-1.5 * radius, 1.5 * radius, (4 * n_dom, 2))
            dom = np.r_[dom, p[np.hypot(*p.T) < edge(np.arctan2(p[:, 1], p[:, 0]))]]
        sea = grid + rng.uniform(-0.3, 0.3, grid.shape) - centre
        sea = sea[np.hypot(*sea.T) >= edge(np.arctan2(sea[:, 1], sea[:, 0])) + 0.5]
        heads = np.r_[np.c_[dom[:n_dom] + centre, np.full(n_dom, 2.4)], np.c_[sea + centre, np.full(len(sea), 2.4)]]
        frames.append(heads)
    n_all = max(len(h) for h in frames)
    top = mdtraj.Topology()
    chain = top.add_chain()
    for i in range(n_all):
        res = top.add_residue("SM" if i < n_dom else "LIP", chain)
        for atom in ("H", "T1", "T2"):
            top.add_atom(atom, None, res)
    coords = []
    for heads in frames:
        heads = np.r_[heads, np.c_[rng.uniform(0, BOX, (n_all - len(heads), 2)), np.full(n_all - len(heads), 15.0)]]
        beads = heads[:, None, :] - np.array([0.0, 1.0, 2.0])[None, :, None] * np.array([0.0, 0.0, 1.0])
        coords.append(np.mod(beads.reshape(-1, 3), [BOX, BOX, 20.0]))
    box = np.tile([BOX, BOX, 20.0], (n_frames, 1))
    return mdtraj.Trajectory(np.array(coords, np.float32), top, unitcell_lengths=box,
                             unitcell_angles=np.full((n_frames, 3), 90.0))


def test_a_round_domain_has_no_modes_and_its_radius():
    rng = np.random.default_rng(0)
    r = 10.0 * np.sqrt(rng.uniform(0, 1, 4000))
    t = rng.uniform(-np.pi, np.pi, 4000)
    xy = np.c_[5 + r * np.cos(t), 38 + r * np.sin(t)] % BOX  # across the periodic corner
    power, radius = boundary_modes(xy, np.array([BOX, BOX]), 24, 8)
    assert radius == pytest.approx(10.0, rel=0.02)
    assert power[2:].max() < 5e-4


def test_an_elliptic_domain_shows_mode_two():
    rng = np.random.default_rng(1)
    r = np.sqrt(rng.uniform(0, 1, 6000))
    t = rng.uniform(-np.pi, np.pi, 6000)
    xy = np.c_[20 + 12 * r * np.cos(t), 20 + 8 * r * np.sin(t)]
    power, _ = boundary_modes(xy, np.array([BOX, BOX]), 24, 8)
    assert power[2] > 10 * power[3:].max()  # an ellipse also carries n = 4 weakly


@pytest.mark.parametrize("tension", [0.5, 2.0])
def test_line_tension_recovers_the_known_value(tension):
    traj = domain_frames(tension, kT=1.1, radius=11.0, n_frames=400, seed=3)
    lt = line_tension(traj, "SM", kT=1.1)
    assert lt.value == pytest.approx(tension, rel=0.3)
    assert lt.radius == pytest.approx(11.0, rel=0.1)  # 2 <r^2> reads high by ~<u^2>
    assert lt.error < 0.3 * lt.value


def test_stiffer_boundary_reads_higher():
    soft = line_tension(domain_frames(0.5, 1.0, 11.0, 300, 5), "SM").value
    stiff = line_tension(domain_frames(2.0, 1.0, 11.0, 300, 5), "SM").value
    assert stiff > 2.5 * soft


def test_bad_input_names_the_field():
    traj = domain_frames(1.0, 1.0, 11.0, 12, 0)
    with pytest.raises(ValueError, match="domain"):
        line_tension(traj, "CER")
    with pytest.raises(ValueError, match="n_max"):
        line_tension(traj, "SM", n_max=12)
    with pytest.raises(ValueError, match="traj"):
        line_tension(traj[:5], "SM")
