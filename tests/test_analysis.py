"""Analysis functions against analytic geometries, synthetic ensembles and a short real run."""
from __future__ import annotations

import numpy as np
import openmm.unit as unit
import pytest
from synthetic import HEAD, combined_structures, shifted_positions, structure_trajectory

import exomembrane as em
from exomembrane import analysis as an
from exomembrane.analysis.leaflets import sheet_components
from exomembrane.builders.vesicle import leaflet_counts


@pytest.fixture(scope="module")
def sheet(ff) -> em.Structure:
    return em.builders.bilayer(ff, 10.0, upper={"LIP": 0.7, "LYSO": 0.3}, lower={"LIP": 0.8, "CER": 0.2})


@pytest.fixture(scope="module")
def ves(ff) -> em.Structure:
    return em.builders.vesicle(ff, 8.0, padding=2.0)


def test_lipid_indices_skip_other_residues(sheet):
    top = sheet.to_mdtraj().topology
    chain = top.add_chain()
    res = top.add_residue("PRO", chain)
    for name in ("CA", "H"):  # a residue whose first atom is not 'H' is not a lipid
        top.add_atom(name, None, res)
    heads, tails = an.lipid_indices(top)
    np.testing.assert_array_equal(heads, sheet.molecule_start)
    np.testing.assert_array_equal(tails, sheet.molecule_start[:, None] + [1, 2])


def test_flat_bilayer_leaflets_area_and_one_membrane(sheet):
    upper = np.where(sheet.leaflet > 0, 0, 1)
    frames = [sheet.positions, shifted_positions(sheet, [3.3, 7.1, sheet.box[2] / 2])]  # second: across z and xy
    traj = structure_trajectory(sheet, np.stack(frames))
    np.testing.assert_array_equal(an.assign_leaflets(traj), np.stack([upper, upper]))
    np.testing.assert_array_equal(an.count_membranes(traj), [1, 1])
    np.testing.assert_allclose(an.area_per_lipid(traj), 1.2, rtol=1e-6)  # builder lattice: exactly 1.2 sigma^2
    np.testing.assert_allclose(an.area_per_lipid(traj, an.assign_leaflets(traj)), 1.2, rtol=1e-6)


def test_lone_lipids_are_strays(sheet):
    pos = sheet.positions.copy()
    pos[0:3] = [2.0, 2.0, 17.0] + np.outer(np.arange(3), [0.97, 0, 0])  # lipid 0 in the solvent
    traj = structure_trajectory(sheet, pos[None])
    leaf, memb = an.assign_leaflets(traj)[0], an.membrane_clusters(traj)[0]
    assert leaf[0] == -1 and memb[0] == -1
    assert set(leaf[1:]) == {0, 1} and set(memb[1:]) == {0}
    assert an.count_membranes(traj)[0] == 1


def test_flip_flopping_lipids_do_not_merge_leaflets(sheet):
    """Three lipids in transit, stacked across the core with orientations 80, 95 and 100 degrees
    from +z: each touches the next (and the upper / lower head layer) with a positive dot product."""
    pos = sheet.positions.copy()
    c = sheet.box[2] / 2
    anchor = pos[sheet.molecule_start[40], :2]  # under an upper-leaflet head; the lower heads sit half a cell off
    for lipid, dz, angle in ((0, 1.2, 80), (1, 0.0, 95), (2, -1.2, 100)):
        u = np.array([np.sin(np.radians(angle)), 0.0, np.cos(np.radians(angle))])
        head = np.array([*anchor, c + dz])
        pos[3 * lipid: 3 * lipid + 3] = head - np.outer(np.arange(3) * 0.97, u)
    leaf = an.assign_leaflets(structure_trajectory(sheet, pos[None]))[0]
    np.testing.assert_array_equal(leaf[3:], np.where(sheet.leaflet[3:] > 0, 0, 1))


def test_thread_of_tilting_lipids_does_not_merge_leaflets(sheet):
    """Four lipids in a thread from the upper to the lower head layer, each tilted 36 degrees more
    than the last (36 ... 144 from +z) and 1.0 sigma from the next: neighbours along the thread
    point within 45 degrees of each other, yet the two leaflets stay apart."""
    pos = sheet.positions.copy()
    heads = pos[sheet.molecule_start]
    top, bottom = heads[sheet.leaflet > 0, 2].mean(), heads[sheet.leaflet < 0, 2].mean()
    anchor = heads[sheet.leaflet > 0][5, :2]
    for k in range(1, 5):
        u = np.array([np.sin(np.pi * k / 5), 0.0, np.cos(np.pi * k / 5)])
        head = np.array([anchor[0] + 0.3 * k, anchor[1], top - (top - bottom) * k / 5])
        pos[3 * (k - 1): 3 * k] = head - np.outer(np.arange(3) * 0.97, u)
    leaf = an.assign_leaflets(structure_trajectory(sheet, pos[None]))[0]
    np.testing.assert_array_equal(leaf[4:], np.where(sheet.leaflet[4:] > 0, 0, 1))
    np.testing.assert_array_equal(leaf[:4], [0, 0, 1, 1])  # in transit: the side the head points to


@pytest.mark.slow
def test_hot_bilayer_keeps_two_whole_leaflets(ff):
    """Near melting (kT 1.3) lipids tilt and flip often: every frame still has exactly two
    leaflets (no piece of a leaflet gets a label of its own, no bridge joins them)."""
    s = em.builders.bilayer(ff, 12.0, seed=2)
    sim = em.create_simulation(s, platform="CPU", kT=1.3, tension=0.0, seed=2)
    sim.step(2000)
    frames = []
    for _ in range(40):
        sim.step(250)
        frames.append(sim.context.getState(getPositions=True).getPositions(asNumpy=True).value_in_unit(unit.nanometer))
    leaf = an.assign_leaflets(structure_trajectory(s, np.array(frames)))
    n = leaf.shape[1]
    assert leaf.max() == 1
    assert np.all((leaf == 0).sum(axis=1) > 0.45 * n) and np.all((leaf == 1).sum(axis=1) > 0.45 * n)


def test_smallest_vesicle_keeps_its_curved_inner_leaflet(ff):
    """R = 5 sigma, the builder's smallest: inner heads at radius ~3, so neighbouring normals
    differ by up to ~30 degrees and must still link."""
    v = em.builders.vesicle(ff, 5.0, padding=2.0)
    np.testing.assert_array_equal(an.assign_leaflets(structure_trajectory(v))[0], np.where(v.leaflet > 0, 0, 1))


def sheets(n_upper: int, n_lower: int, gap_columns: tuple[int, ...]) -> tuple[np.ndarray, ...]:
    """Heads on square lattices (0.8 sigma): an upper sheet of n x n at z 12 pointing +z with the
    given columns removed (a crack wider than the 1.5 sigma cutoff), a lower one at z 8 pointing -z."""
    out = []
    for n, z, up in ((n_upper, 12.0, 1.0), (n_lower, 8.0, -1.0)):
        x, y = np.meshgrid(np.arange(n) * 0.8, np.arange(n) * 0.8, indexing="ij")
        keep = ~np.isin(x.ravel() / 0.8, gap_columns) if up > 0 else slice(None)
        out.append(np.c_[x.ravel(), y.ravel(), np.full(x.size, z)][keep])
    points = np.concatenate(out)
    orient = np.repeat([[0, 0, 1.0], [0, 0, -1.0]], [len(out[0]), len(out[1])], axis=0)
    return points, orient, np.zeros(len(points), np.int64), np.array([12.0, 12.0, 20.0])


@pytest.mark.parametrize("n_lower", [9, 12, 15])
def test_cracked_leaflet_is_made_whole(n_lower):
    """A leaflet cut in two (105 + 90 heads) rejoins, also when each half is larger than the
    opposite leaflet (a small vesicle's inner one): two pieces, never three, never one."""
    points, orient, membrane, box = sheets(15, n_lower, (7, 14))
    pieces = sheet_components(points, orient, membrane, box, 1.5)
    np.testing.assert_array_equal(np.bincount(pieces), [195, n_lower ** 2])


def test_fragment_with_a_lipid_outside_the_membrane_still_joins():
    """A piece belongs to the membrane most of its lipids are in, whatever the order of lipids."""
    points, orient, membrane, box = sheets(15, 15, (10, 13))  # a 30-head strip apart from the rest
    for outside in (0, 194):  # the first or last lipid of the large upper piece in no membrane
        m = membrane.copy()
        m[outside] = -1
        np.testing.assert_array_equal(np.bincount(sheet_components(points, orient, m, box, 1.5)), [195, 225])


def test_vesicle_radius_leaflets_across_boundary(ves):
    radius = 8.0
    n_out, n_in = leaflet_counts(radius, 1.2)
    traj = structure_trajectory(ves, np.stack([ves.positions, shifted_positions(ves, ves.box / 2 + [0.3, -1.1, 0.7])]))
    leaf = an.assign_leaflets(traj)
    np.testing.assert_array_equal(leaf, np.tile(np.where(ves.leaflet > 0, 0, 1), (2, 1)))
    shape = an.vesicle_shape(traj)
    np.testing.assert_allclose(shape["midplane_radius"], radius, atol=1e-3)
    np.testing.assert_allclose(shape["outer_radius"], radius + HEAD, atol=1e-3)
    np.testing.assert_allclose(shape["inner_radius"], radius - HEAD, atol=1e-3)
    expected = radius + HEAD * (n_out - n_in) / (n_out + n_in)  # count-weighted head distance
    np.testing.assert_allclose(an.vesicle_radius(traj), expected, atol=1e-3)
    np.testing.assert_allclose(shape["centre"][1], np.mod(ves.box / 2 + ves.box / 2 + [0.3, -1.1, 0.7], ves.box),
                               atol=1e-3)
    assert np.all(shape["asphericity"] < 1e-4)
    np.testing.assert_array_equal(an.count_membranes(traj), [1, 1])


def test_vesicle_shape_sees_ellipsoid(ves):
    c = ves.box / 2
    pos = c + (ves.positions - c) * [1.5, 1.0, 1.0]  # prolate
    shape = an.vesicle_shape(structure_trajectory(ves, pos[None], ves.box * [1.5, 1, 1]))
    # Prolate spheroid of semi-axes 1.5 r, r, r: eigenvalues ~ (2.25, 1, 1): (3/2)(7.0625)/4.25^2 - 1/2.
    assert shape["asphericity"][0] == pytest.approx(1.5 * (2.25**2 + 2) / 4.25**2 - 0.5, rel=0.05)


def test_two_vesicles_two_membranes_four_leaflets(ff, ves):
    side = ves.box[0]
    pair = combined_structures(ves, em.builders.vesicle(ff, 8.0, padding=2.0, seed=3), [side, 0, 0],
                               [2 * side, side, side])
    traj = structure_trajectory(pair, shifted_positions(pair, [side / 2, 0, 0])[None])  # both across a boundary
    n1 = ves.n_lipids
    memb = an.membrane_clusters(traj)[0]
    assert an.count_membranes(traj)[0] == 2
    assert len(set(memb[:n1])) == 1 and len(set(memb[n1:])) == 1 and memb[0] != memb[-1]
    leaf = an.assign_leaflets(traj)[0]
    assert set(leaf) == {0, 1, 2, 3}
    for part in (slice(0, n1), slice(n1, None)):
        outer = pair.leaflet[part] > 0
        lo = leaf[part][outer]
        assert len(set(lo)) == 1 and lo[0] % 2 == 0  # outer leaflet first within each membrane
        assert set(leaf[part][~outer]) == {lo[0] + 1}
    first = np.flatnonzero(memb == 0)
    np.testing.assert_allclose(an.vesicle_shape(traj, first)["midplane_radius"], 8.0, atol=1e-3)


def test_apposed_vesicles_stay_separate_until_tails_touch(ff, ves):
    side = ves.box[0]
    b = em.builders.vesicle(ff, 8.0, padding=2.0, seed=3)
    gap = 2 * (8.0 + HEAD)  # centre distance at which outer heads touch
    near = combined_structures(ves, b, [gap + 1.0, 0, 0], [3 * side, side, side])  # heads 1 sigma apart
    fused = combined_structures(ves, b, [gap - 4.0, 0, 0], [3 * side, side, side])  # overlapping: tails in contact
    assert an.count_membranes(structure_trajectory(near))[0] == 2
    assert an.count_membranes(structure_trajectory(fused))[0] == 1


@pytest.mark.parametrize("seed", [0, 2, 5])
def test_fast_tail_components_equal_brute_force(seed):
    """The two-stage component search gives the same partition as all tail-bead pairs, on blobs of
    two-bead 'lipids' that touch each other, plus a gas."""
    from exomembrane.analysis.clusters import components, tail_components

    rng = np.random.default_rng(seed)
    n, side, box = 3000, 30.0, np.full(3, 30.0)
    centres = rng.uniform(0, side, (6, 3))
    first = np.concatenate([centres[rng.integers(6, size=n - 300)] + rng.normal(0, 2.2, (n - 300, 3)),
                            rng.uniform(0, side, (300, 3))])
    u = rng.normal(size=(n, 3))
    second = first + 0.97 * u / np.linalg.norm(u, axis=1, keepdims=True)
    points = np.mod(np.stack([first, second], 1).reshape(-1, 3), box)
    lipid, ends = np.repeat(np.arange(n), 2), np.arange(1, 2 * n, 2)
    fast = tail_components(points, lipid, ends, box, 1.5, n)
    slow = components(points, box, 1.5, lipid, n)
    assert len(set(zip(fast, slow))) == len(set(fast)) == len(set(slow))
    sub = components(points[ends], box, 1.5, lipid[ends], n)  # the first stage alone splits more
    assert (np.bincount(sub) >= 32).sum() >= 2 and len(set(sub)) > len(set(slow))


def test_gas_has_no_membrane(ff):
    gas = em.builders.gas(ff, 300, 40.0, seed=2)
    traj = structure_trajectory(gas)
    assert an.count_membranes(traj)[0] == 0
    assert np.all(an.membrane_clusters(traj) == -1)
    assert np.all(an.assign_leaflets(traj) == -1)


def test_height_field_and_spectrum_of_a_cosine(ff):
    s = em.builders.bilayer(ff, 32.0)
    lx, a, n = s.box[0], 1.0, 16
    pos = s.positions.copy()
    pos[:, 2] += a * np.cos(2 * np.pi * pos[:, 0] / lx) + s.box[2] / 2  # and across the z boundary
    traj = structure_trajectory(s, np.mod(pos, s.box)[None])
    h = an.height_field(traj, n)
    assert h.shape == (1, n, n)
    x = (np.arange(n) + 0.5) * lx / n
    expected = np.sinc(1 / n) * a * np.cos(2 * np.pi * x / lx)  # cell average of the cosine
    np.testing.assert_allclose(h[0], np.repeat(expected[:, None], n, 1), atol=0.05)
    q, spec = an.undulation_spectrum(traj, n)
    assert np.all(np.diff(q) > 0) and q[0] == pytest.approx(2 * np.pi / lx, rel=1e-6)
    assert spec[0] == pytest.approx(a**2 / 8, rel=0.02)  # a^2/4 in 2 of the 4 modes of |q| = 2pi/L
    assert np.all(spec[1:] < 1e-3 * a**2)


def test_spectrum_undoes_cell_averaging(ff):
    """Lipids at random lateral positions on h = a cos(2 pi 3 x / L): the 16-cell grid damps this
    mode's power by sinc^2(3/16) = 0.89; the spectrum must give back a^2/8."""
    s = em.builders.bilayer(ff, 32.0, area_per_lipid=0.3)  # dense, to sample the surface finely
    rng = np.random.default_rng(4)
    lx, a, n_frames = s.box[0], 1.0, 4
    xyz = np.repeat(s.positions[None], n_frames, 0)
    lipid = s.bead_molecule()
    for f in range(n_frames):
        xyz[f, :, :2] += rng.uniform(0, lx, (s.n_lipids, 2))[lipid]
        xyz[f, :, 2] += a * np.cos(2 * np.pi * 3 * xyz[f, :, 0] / lx)
    q, spec = an.undulation_spectrum(structure_trajectory(s, np.mod(xyz, s.box)), 16)
    peak = np.argmin(np.abs(q - 2 * np.pi * 3 / lx))
    assert spec[peak] == pytest.approx(a**2 / 8, rel=0.03)


def random_surfaces(s: em.Structure, kappa: float, n_frames: int, rng, q_cut: float = 1.2) -> np.ndarray:
    """Frames of ``s`` displaced along z by Gaussian surfaces with <|h_q|^2> = 1/(A kappa q^4)."""
    lx, ly = s.box[:2]
    area = lx * ly
    m = np.arange(-12, 13)
    kx, ky = np.meshgrid(m, m, indexing="ij")
    half = (kx > 0) | ((kx == 0) & (ky > 0))  # one of each +-q pair
    qx, qy = 2 * np.pi * kx[half] / lx, 2 * np.pi * ky[half] / ly
    q = np.hypot(qx, qy)
    keep = q <= q_cut
    qx, qy, q = qx[keep], qy[keep], q[keep]
    phase = np.exp(1j * (np.outer(s.positions[:, 0], qx) + np.outer(s.positions[:, 1], qy)))  # (n_beads, n_q)
    out = np.repeat(s.positions[None], n_frames, 0)
    for f in range(n_frames):
        hq = np.sqrt(1 / (area * kappa * q**4) / 2) * (rng.normal(size=q.size) + 1j * rng.normal(size=q.size))
        out[f, :, 2] += 2 * (phase @ hq).real
    return out


def test_bending_rigidity_of_synthetic_helfrich_membrane(ff):
    s = em.builders.bilayer(ff, 32.0)
    kappa = 10.0
    traj = structure_trajectory(s, random_surfaces(s, kappa, 60, np.random.default_rng(7)))
    k, err = an.bending_rigidity(traj)
    assert abs(k - kappa) < max(3 * err, 0.05 * kappa) and abs(k - kappa) < 0.15 * kappa
    assert 0.01 * kappa < err < 0.2 * kappa
    assert an.bending_rigidity(traj, kT=1.1)[0] == pytest.approx(1.1 * k)  # kappa in eps at kT = 1.1 eps
    q, spec = an.undulation_spectrum(traj)
    window = q <= 0.55
    np.testing.assert_allclose(1 / (s.box[0] * s.box[1] * q[window] ** 4 * spec[window]), kappa, rtol=0.35)
    with pytest.raises(ValueError, match="q_max"):
        an.bending_rigidity(traj, q_max=0.1)


def test_diffusion_of_random_walks_with_drift(ff):
    s = em.builders.bilayer(ff, 20.0)
    rng = np.random.default_rng(1)
    d_true, dt, n_frames = 0.05, 2.0, 150
    steps = rng.normal(0, np.sqrt(2 * d_true * dt), (n_frames, s.n_lipids, 2))
    steps[0] = 0
    walk = np.cumsum(steps, axis=0)
    walk -= walk.mean(axis=1, keepdims=True)  # pure diffusion relative to the membrane
    drift = np.cumsum(rng.normal(0.3, 0.5, (n_frames, 1, 2)), axis=0)  # the whole membrane wanders
    per_bead = np.repeat(walk + drift, 3, axis=1)
    xyz = np.repeat(s.positions[None], n_frames, 0)
    xyz[..., :2] += per_bead
    traj = structure_trajectory(s, np.mod(xyz, s.box), time=np.arange(n_frames) * dt)
    t, msd = an.lateral_msd(traj)
    np.testing.assert_allclose(t, np.arange(n_frames) * dt)
    assert msd[0] == pytest.approx(0, abs=1e-6)
    np.testing.assert_allclose(msd[1:20], 4 * d_true * t[1:20], rtol=0.05)
    d, err = an.diffusion_coefficient(traj)
    assert 0 < err < 0.1 * d_true
    assert abs(d - d_true) < min(3 * err, 0.08 * d_true)
    assert an.diffusion_coefficient(traj, dt=1.0)[0] == pytest.approx(d * dt)  # dt overrides traj.time


def test_short_simulation_keeps_leaflets(ff):
    s = em.builders.bilayer(ff, 10.0)
    sim = em.create_simulation(s, platform="CPU", seed=3)
    frames = []
    for _ in range(6):
        sim.step(250)
        frames.append(sim.context.getState(getPositions=True).getPositions(asNumpy=True).value_in_unit(unit.nanometer))
    traj = structure_trajectory(s, np.array(frames), time=np.arange(1, 7) * 2.5)
    leaf = an.assign_leaflets(traj)
    built = np.where(s.leaflet > 0, 0, 1)
    assert np.all((leaf >= 0).mean(axis=1) >= 0.98)  # a lipid mid-flip is left unassigned by design
    assert np.all((leaf == built).mean(axis=1) >= 0.96)  # rare flip-flops allowed in a 162-lipid patch
    _, orient = an.selection.lipid_geometry(traj, *an.lipid_indices(traj.topology))
    assigned = leaf >= 0
    assert np.mean((orient[..., 2] > 0)[assigned] == (leaf == 0)[assigned]) > 0.99  # labels follow orientation
    np.testing.assert_array_equal(an.count_membranes(traj), 1)
    h = an.height_field(traj, 4)
    assert np.all(np.abs(h) < 2.0) and np.all(np.abs(h.mean(axis=(1, 2))) < 1e-9)
    d, _ = an.diffusion_coefficient(traj)
    assert 1e-4 < d < 1.0


def test_frames_on_threads_give_the_same_labels(ff, ves):
    traj = structure_trajectory(ves, np.stack([shifted_positions(ves, (k, 2 * k, 0.5 * k)) for k in range(5)]))
    for fn in (an.assign_leaflets, an.membrane_clusters):
        np.testing.assert_array_equal(fn(traj, workers=1), fn(traj, workers=3))
    for fn in (an.assign_leaflets, an.count_membranes):
        for frames in (traj, traj[:0]):
            with pytest.raises(ValueError, match="workers: must be >= 1"):
                fn(frames, workers=0)


def test_lipid_order_of_sheet_tilted_sheet_gas_and_vesicle(ff, sheet, ves):
    s, n = an.lipid_order(structure_trajectory(sheet))
    assert s[0] == pytest.approx(1.0, abs=1e-6) and abs(n[0, 2]) == pytest.approx(1.0, abs=1e-6)
    theta = np.radians(30)  # the same sheet rotated about x: order unchanged, director follows
    rot = np.array([[1, 0, 0], [0, np.cos(theta), -np.sin(theta)], [0, np.sin(theta), np.cos(theta)]])
    tilted = structure_trajectory(sheet, (sheet.positions @ rot.T)[None], box=np.full(3, 100.0))
    s, n = an.lipid_order(tilted)
    assert s[0] == pytest.approx(1.0, abs=1e-5) and abs(n[0] @ rot[:, 2]) == pytest.approx(1.0, abs=1e-5)
    assert an.lipid_order(em.builders.gas(ff, 300, (20.0, 20.0, 20.0), seed=1).to_mdtraj())[0][0] < 0.2
    assert abs(an.lipid_order(structure_trajectory(ves))[0][0]) < 0.05


def test_flip_flops_count_leaflet_changes_not_excursions(sheet):
    """Lipid 0 (upper) flips to the lower leaflet in frame 2 and stays; lipid 1 lies in the core
    (no leaflet) in frame 1 and returns to its leaflet; lipid 2 flips and flips back."""
    c = sheet.box[2] / 2

    def moved(pos, lipid, down, xy=None):
        u = np.array([0.0, 0.0, -1.0 if down else 1.0])
        base = pos[3 * lipid, :2] if xy is None else xy
        head = np.array([*base, c + (-HEAD if down else HEAD)])
        pos[3 * lipid: 3 * lipid + 3] = head - np.outer(np.arange(3) * 0.97, u)
        return pos

    frames = [sheet.positions.copy() for _ in range(4)]
    lower_xy = sheet.positions[sheet.molecule_start[sheet.leaflet < 0][5], :2] + [0.55, 0.0]
    upper = [k for k in range(3) if sheet.leaflet[k] > 0]
    assert len(upper) == 3  # the builder lays the upper leaflet first
    for f in (2, 3):
        moved(frames[f], 0, True, lower_xy)
    frames[1][3:6] = sheet.positions[3] + np.array([[0, 0, 0], [0.97, 0, 0], [1.94, 0, 0]]) - [0, 0, HEAD]
    moved(frames[2], 2, True, lower_xy + [0, 3.0])
    traj = structure_trajectory(sheet, np.stack(frames))
    traj.time = np.arange(4) * 100.0
    f = an.flip_flops(traj)
    assert an.assign_leaflets(traj)[1, 1] == -1  # lipid 1 lies in the core: in no leaflet
    assert f["flips"][:3].tolist() == [1, 0, 2] and f["total"] == 3
    assert f["per_lipid_per_1000tau"] == pytest.approx(3 / sheet.n_lipids / 300 * 1000)
    assert f["fraction_flipped"] == pytest.approx(1 / sheet.n_lipids)
