"""Lateral diffusion of lipids: unwrapped centre-of-mass MSD and the diffusion coefficient."""
from __future__ import annotations

import mdtraj
import numpy as np

from .pbc import box_of, minimum_image
from .selection import lipid_geometry, lipid_indices


def _frame_time(traj: mdtraj.Trajectory, dt: float | None) -> float:
    if dt is None:
        dt = float(traj.timestep) if traj.n_frames > 1 else 1.0
    if not dt > 0:
        raise ValueError(f"dt: time between frames must be > 0 ps (got {dt!r}); pass dt= explicitly")
    return dt


def _lateral_paths(traj: mdtraj.Trajectory) -> np.ndarray:
    """(n_frames, n_lipids, 2) float32 xy displacement of each lipid's centre since frame 0, nm.

    Unwrapped (frame-to-frame minimum image: lipids must move < L/2 between frames) and with the
    mean displacement of all lipids (membrane centre-of-mass drift; equal bead masses) removed.
    """
    heads, tails = lipid_indices(traj.topology)
    box = box_of(traj)[:, :2]
    out = np.empty((traj.n_frames, heads.size, 2), np.float32)
    chunk = max(1, 2_000_000 // max(heads.size, 1))
    prev = total = None
    for f0 in range(0, traj.n_frames, chunk):
        c = lipid_geometry(traj, heads, tails, slice(f0, f0 + chunk))[0][..., :2]
        first = c[:1] if prev is None else prev
        step = minimum_image(np.diff(np.concatenate([first, c]), axis=0), box[f0:f0 + len(c), None])
        path = np.cumsum(step, axis=0) + (0.0 if total is None else total)
        prev, total = c[-1:], path[-1:]
        out[f0:f0 + len(c)] = path - path.mean(axis=1, keepdims=True)
    return out


def _msd_sum(r: np.ndarray) -> np.ndarray:
    """Sum over particles of the time-origin-averaged MSD, r (T, n, 2) -> (T,), FFT algorithm."""
    t = len(r)
    d = np.square(r).sum(axis=(1, 2), dtype=np.float64)
    d_ext = np.append(d, 0.0)
    m = np.arange(t)
    s1 = (2 * d.sum() - np.cumsum(d_ext[m - 1] + d_ext[t - m])) / (t - m)
    s2 = np.zeros(t)
    for i in range(0, r.shape[1], 2048):
        x = r[:, i:i + 2048].astype(np.float64)
        spec = np.fft.rfft(x, n=2 * t, axis=0)
        s2 += np.fft.irfft(spec * spec.conj(), n=2 * t, axis=0)[:t].sum(axis=(1, 2))
    return s1 - 2 * s2 / (t - m)


def lateral_msd(traj: mdtraj.Trajectory, dt: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Lateral (xy) mean squared displacement of the lipids' centres of mass.

    Lipid centres are made whole across the box, unwrapped frame to frame (minimum image, so a
    lipid must move less than half a box length between frames), and the membrane's centre-of-mass
    drift (mean displacement of all lipids) is removed. Averaged over lipids and all time origins.

    Parameters
    ----------
    traj
        Trajectory, nm; a flat bilayer in the xy-plane.
    dt
        Time between frames in ps (= tau); default ``traj.timestep``.

    Returns
    -------
    lag_times
        (n_frames,) float, ps, 0, dt, 2 dt, ...
    msd
        (n_frames,) float, nm^2; the last lags average few origins and are noisy.

    Example
    -------
    >>> t, msd = lateral_msd(traj, dt=10.0)
    """
    dt = _frame_time(traj, dt)
    r = _lateral_paths(traj)
    return np.arange(traj.n_frames) * dt, _msd_sum(r) / max(r.shape[1], 1)


def diffusion_coefficient(traj: mdtraj.Trajectory, dt: float | None = None,
                          fit_range: tuple[float, float] = (0.1, 0.5), n_groups: int = 5) -> tuple[float, float]:
    """Lateral diffusion coefficient from ``MSD = 4 D t + c`` on the linear part of the MSD.

    Parameters
    ----------
    traj, dt
        As for :func:`lateral_msd`.
    fit_range
        Lag window as fractions of the trajectory duration: the default (0.1, 0.5) skips the
        short-time (ballistic, caged) regime and the noisy long lags. The intercept c absorbs
        the short-time offset.
    n_groups
        The lipids are split into this many interleaved groups; the error is the standard error
        of the groups' D.

    Returns
    -------
    D, D_err
        nm^2/ps (sigma^2/tau).

    Example
    -------
    >>> D, err = diffusion_coefficient(traj, dt=10.0)
    """
    dt = _frame_time(traj, dt)
    r = _lateral_paths(traj)
    t = np.arange(traj.n_frames) * dt
    lo, hi = (int(round(f * (traj.n_frames - 1))) for f in fit_range)
    lo, hi = max(lo, 1), max(hi, max(lo, 1) + 1)
    if hi >= traj.n_frames:
        raise ValueError(f"fit_range: {fit_range} leaves fewer than 2 lags in {traj.n_frames} frames; "
                         "use a longer trajectory")
    sl = slice(lo, hi + 1)

    def slope(msd: np.ndarray) -> float:
        return float(np.polyfit(t[sl], msd[sl], 1)[0] / 4)

    n_lip = r.shape[1]
    groups = [np.arange(g, n_lip, n_groups) for g in range(min(n_groups, n_lip))]
    sums = [_msd_sum(r[:, g]) for g in groups]
    d = slope(np.sum(sums, axis=0) / n_lip)
    dg = np.array([slope(s / len(g)) for s, g in zip(sums, groups)])
    err = dg.std(ddof=1) / np.sqrt(len(dg)) if len(dg) > 1 else np.nan
    return d, float(err)
