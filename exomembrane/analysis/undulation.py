"""Height field, undulation spectrum and bending rigidity of a flat bilayer (normal along z).

Fourier convention (Fourier series over the projected area A = L_x L_y, h real):
``h(r) = sum_q h_q exp(i q.r)``, ``h_q = (1/A) int h(r) exp(-i q.r) d^2r``, on the n x n grid
``h_q = fft2(h) / n^2``. With the Helfrich energy ``(kappa/2) int (lap h)^2 d^2r`` equipartition
gives, for a tensionless membrane, ``<|h_q|^2> = kT / (A kappa q^4)`` (nm^2), the form of
DESIGN.md section 4. Parseval: ``sum_q |h_q|^2 = mean of h^2`` over the grid.
"""
from __future__ import annotations

import mdtraj
import numpy as np

from .pbc import box_of, minimum_image, wrap
from .selection import lipid_geometry, lipid_indices

#: Default grid spacing (sigma): ~3 lipids per leaflet per cell, so cells are almost never empty.
CELL = 2.0


def _default_grid(box: np.ndarray) -> int:
    return max(2, int(round(box[:, :2].mean() / CELL)))


def height_field(traj: mdtraj.Trajectory, n_grid: int | None = None) -> np.ndarray:
    """Bilayer midplane height on an ``n_grid`` x ``n_grid`` grid over the box, per frame.

    Each cell's height is the mean z of the tail beads in it, balanced between the leaflets
    (``(mean_upper + mean_lower) / 2``, leaflet = sign of the lipid's orientation along z), which
    removes the noise of uneven leaflet counts per cell; cells with one leaflet use the plain mean,
    empty cells the mean of their filled neighbours (else 0). z is taken periodically around the
    membrane's centre (circular mean), so a bilayer across the z boundary is fine; each frame is
    centred (grid mean 0). Cell (i, j) covers x in [i, i+1) L_x/n, y in [j, j+1) L_y/n.

    Parameters
    ----------
    traj
        Trajectory, nm, flat bilayer spanning the box in x and y.
    n_grid
        Cells per side; default ``round(L / 2 sigma)`` (mean box side).

    Returns
    -------
    (n_frames, n_grid, n_grid) float, nm, height relative to the frame's mean midplane.

    Example
    -------
    >>> h = height_field(traj, 16); h.std()
    """
    heads, tails = lipid_indices(traj.topology)
    box = box_of(traj)
    n = _default_grid(box) if n_grid is None else int(n_grid)
    if n < 1:
        raise ValueError(f"n_grid: must be >= 1 (got {n_grid!r})")
    valid = tails >= 0
    idx, lipid = tails[valid], np.nonzero(valid)[0]
    out = np.empty((traj.n_frames, n, n))
    chunk = max(1, 4_000_000 // max(idx.size, 1))
    for f0 in range(0, traj.n_frames, chunk):
        fr = slice(f0, f0 + chunk)
        _, orient = lipid_geometry(traj, heads, tails, fr)
        out[fr] = _grid_heights(traj.xyz[fr][:, idx].astype(np.float64), orient[:, lipid, 2] > 0, box[fr], n)
    return out


def _grid_heights(x: np.ndarray, upper: np.ndarray, box: np.ndarray, n: int) -> np.ndarray:
    """x (F, m, 3) tail beads, upper (F, m) bool, box (F, 3) -> (F, n, n) centred heights."""
    f_n = len(x)
    lz = box[:, None, 2]
    theta = 2 * np.pi * x[..., 2] / lz
    zc = (np.arctan2(-np.sin(theta).mean(1), -np.cos(theta).mean(1)) + np.pi)[:, None] * lz / (2 * np.pi)
    dz = minimum_image(x[..., 2] - zc, lz)
    dz -= dz.mean(1, keepdims=True)
    xy = wrap(x[..., :2], box[:, None, :2])
    cell = np.minimum((xy / box[:, None, :2] * n).astype(np.int64), n - 1)
    key = ((np.arange(f_n)[:, None] * n + cell[..., 0]) * n + cell[..., 1]) * 2 + upper
    size = f_n * n * n * 2
    s = np.bincount(key.ravel(), dz.ravel(), size).reshape(f_n, n, n, 2)
    c = np.bincount(key.ravel(), minlength=size).reshape(f_n, n, n, 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        both = (s / c).mean(-1)
        h = np.where((c > 0).all(-1), both, s.sum(-1) / c.sum(-1))
    empty = np.isnan(h)
    if empty.any():
        nb = np.stack([np.roll(h, sh, ax) for ax in (1, 2) for sh in (1, -1)])
        ok = np.isfinite(nb)
        fill = np.where(ok, nb, 0.0).sum(0) / np.maximum(ok.sum(0), 1)
        h = np.where(empty, fill, h)
    return h - h.mean((1, 2), keepdims=True)


def _modes(traj: mdtraj.Trajectory, n_grid: int | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per frame and Fourier mode: (|q| (F, n, n) 1/nm, |h_q|^2 (F, n, n) nm^2, area (F,) nm^2, usable (n, n) bool).

    |h_q|^2 is divided by the transfer function of the cell average, sinc^2(q_x dx/2) sinc^2(q_y dy/2),
    so the grid does not damp the spectrum. q = 0 and the Nyquist row/column are not usable.
    """
    h = height_field(traj, n_grid)
    n = h.shape[1]
    box = box_of(traj)
    k = np.fft.fftfreq(n) * n
    kx, ky = np.meshgrid(k, k, indexing="ij")
    transfer = (np.sinc(kx / n) * np.sinc(ky / n)) ** 2
    power = np.abs(np.fft.fft2(h) / n**2) ** 2 / transfer
    q = 2 * np.pi * np.hypot(kx[None] / box[:, 0, None, None], ky[None] / box[:, 1, None, None])
    usable = (np.abs(kx) < n / 2) & (np.abs(ky) < n / 2) & ((kx != 0) | (ky != 0))
    return q, power, box[:, 0] * box[:, 1], usable


def undulation_spectrum(traj: mdtraj.Trajectory, n_grid: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Radially binned undulation spectrum ``<|h_q|^2>`` of a flat bilayer.

    Modes of equal |q| (by the time-averaged box) are averaged over each other and over frames;
    normalisation as in the module docstring: ``<|h_q|^2> = kT / (A kappa q^4)`` for a tensionless
    membrane. A pure cosine ``h = a cos(2 pi x / L)`` puts ``a^2/4`` in each of the modes
    (+-2pi/L, 0), so its |q| = 2pi/L bin (4 modes) reads ``a^2/8``.

    Parameters
    ----------
    traj
        Trajectory, nm, flat bilayer in the xy-plane.
    n_grid
        Grid cells per side (see :func:`height_field`).

    Returns
    -------
    q
        (n_q,) float, 1/nm, increasing, q = 0 excluded.
    s
        (n_q,) float, nm^2, ``<|h_q|^2>``.

    Example
    -------
    >>> q, s = undulation_spectrum(traj)
    >>> area = traj.unitcell_lengths[:, :2].prod(axis=1).mean()
    >>> kappa_q = 1.0 / (area * q**4 * s)   # in kT; flat in the q^-4 window
    """
    q, power, _, usable = _modes(traj, n_grid)
    qm, pm = q.mean(0)[usable], power.mean(0)[usable]
    _, inverse = np.unique(np.round(qm, 6), return_inverse=True)
    cnt = np.bincount(inverse)
    return np.bincount(inverse, qm) / cnt, np.bincount(inverse, pm) / cnt


def bending_rigidity(traj: mdtraj.Trajectory, kT: float = 1.0, q_max: float = 0.55, n_grid: int | None = None,
                     *, q_min: float = 0.0, n_blocks: int = 5) -> tuple[float, float]:
    """Bending rigidity from the small-q undulation spectrum of a tensionless flat bilayer.

    Every mode with ``q_min < q <= q_max`` (q > 0) in every frame gives ``y = A q^4 |h_q|^2``,
    whose mean is ``kT / kappa``; ``kappa = kT / mean(y)`` (equal weight per mode, i.e. a fit of
    ``<|h_q|^2> = kT / (A kappa q^4)`` with weights by mode count). The default ``q_max = 0.55``
    1/sigma just includes 2pi/12 sigma^-1, the top of the q^-4 window of DESIGN.md section 4: at
    larger q lipid tilt and protrusions add to the spectrum and would lower kappa. The window
    starts at the smallest mode 2pi/L.

    Parameters
    ----------
    traj
        Trajectory, nm, flat tensionless bilayer in the xy-plane; frames should span many
        relaxation times of the slowest mode.
    kT
        Energy unit of the result. The default 1.0 returns kappa in units of kT (what the
        spectrum measures, and what DESIGN.md section 4 quotes); pass the simulation's kT in eps
        (e.g. 1.1) to get kappa in eps.
    q_max, q_min
        Fit window in 1/nm (1/sigma).
    n_grid
        Grid cells per side (see :func:`height_field`); its Nyquist q (pi n / L) must lie well
        above ``q_max``.
    n_blocks
        Contiguous frame blocks for the error (standard error of the block means); with one
        frame the error comes from the scatter between modes.

    Returns
    -------
    kappa, kappa_err
        Bending rigidity and its standard error, in units of ``kT`` (kT by default).

    Example
    -------
    >>> kappa, err = bending_rigidity(traj)   # in kT
    """
    q, power, area, usable = _modes(traj, n_grid)
    window = usable & (q.mean(0) > q_min) & (q.mean(0) <= q_max)
    if not window.any():
        raise ValueError(f"q_max: no Fourier mode in ({q_min}, {q_max}] 1/nm; the smallest is "
                         f"2pi/L = {2 * np.pi / box_of(traj)[:, :2].max():.3g} 1/nm; use a larger box or raise q_max")
    y = (area[:, None] * q[:, window] ** 4 * power[:, window])  # (F, n_modes), mean kT/kappa
    mean = y.mean()
    nb = min(n_blocks, len(y))
    if nb >= 2:
        blocks = np.array([b.mean() for b in np.array_split(y, nb)])
        sem = blocks.std(ddof=1) / np.sqrt(nb)
    else:
        sem = y.std(ddof=1) / np.sqrt(y.size) if y.size > 1 else np.nan
    kappa = kT / mean
    return float(kappa), float(kappa * sem / mean)
