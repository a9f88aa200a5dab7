"""Line tension of a round lipid domain in a flat membrane, from the capillary spectrum of its boundary.

A domain of projected area ``pi R^2`` whose boundary is ``r(theta) = R [1 + sum_n a_n cos(n theta) +
b_n sin(n theta)]`` costs, at fixed area, ``dF = lambda dP = (pi lambda R / 2) sum_{n>=2} (n^2 - 1)
(a_n^2 + b_n^2)``; equipartition gives ``<a_n^2> = <b_n^2> = kT / (pi lambda R (n^2 - 1))``. With the
complex amplitudes ``c_n = (a_n - i b_n) / 2`` of the relative boundary displacement ``u(theta)``:
``<|c_n|^2> = kT / (2 pi lambda R (n^2 - 1))``.

The boundary is read from the domain's lipids in ``n_wedges`` equal wedges about the domain's
centre (projected on the membrane plane): wedge k holds ``m_k`` lipids, so its radius is
``r_k = R sqrt(m_k / m_mean)`` and ``u_k = sqrt(m_k / m_mean) - 1``. Counting lipids adds a white
noise floor ``B`` to every mode; the fit ``<|c_n|^2> = S / (n^2 - 1) + B`` over n = 2..``n_max``
separates it, and ``lambda = kT / (2 pi R S)``. R is the radius of the uniform disk with the
lipids' mean squared distance from the centre (``R^2 = 2 <r^2>``).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import mdtraj
import numpy as np

from exomembrane.checks import check_positive

from .pbc import box_of, minimum_image, periodic_centre
from .selection import lipid_indices


@dataclass(frozen=True)
class LineTension:
    """Line tension of a domain boundary and the spectrum it was fitted to.

    Attributes
    ----------
    value
        Line tension, eps/sigma (kT/sigma times ``kT``).
    error
        Standard error from ``blocks`` independent fits over consecutive frame blocks (eps/sigma).
    radius
        Mean domain radius R (sigma).
    modes
        (n_modes,) mode numbers n used (2..n_max).
    spectrum
        (n_modes,) ``<|c_n|^2>`` averaged over frames.
    noise
        Fitted white floor B of the spectrum.
    frames
        Frames used.
    """

    value: float
    error: float
    radius: float
    modes: np.ndarray
    spectrum: np.ndarray
    noise: float
    frames: int


def boundary_modes(xy: np.ndarray, box: np.ndarray, n_wedges: int, n_max: int) -> tuple[np.ndarray, float]:
    """``|c_n|^2`` for n = 0..n_max of one frame's domain (lipid positions ``xy`` (m, 2), ``box`` (2,)) and R."""
    centre = periodic_centre(np.c_[xy, np.zeros(len(xy))], np.r_[box, 1.0])[0, :2]
    d = minimum_image(xy - centre, box)
    radius = float(np.sqrt(2 * np.mean((d ** 2).sum(axis=1))))
    angle = np.arctan2(d[:, 1], d[:, 0])
    counts = np.bincount(((angle + np.pi) / (2 * np.pi) * n_wedges).astype(int) % n_wedges, minlength=n_wedges)
    u = np.sqrt(counts / counts.mean()) - 1.0
    return np.abs(np.fft.rfft(u)[: n_max + 1] / n_wedges) ** 2, radius


def fit_spectrum(spectrum: np.ndarray, modes: np.ndarray, radius: float, kT: float) -> tuple[float, float]:
    """(line tension, noise floor) from ``<|c_n|^2> = S / (n^2 - 1) + B`` by least squares."""
    design = np.c_[1.0 / (modes ** 2 - 1.0), np.ones(len(modes))]
    (slope, noise), *_ = np.linalg.lstsq(design, spectrum, rcond=None)
    return (kT / (2 * np.pi * radius * slope) if slope > 0 else np.inf), float(noise)


def line_tension(traj: mdtraj.Trajectory, domain: str | Sequence[str], kT: float = 1.0, n_wedges: int = 24,
                 n_max: int = 8, blocks: int = 5) -> LineTension:
    """Line tension (eps/sigma) of the round domain formed by the lipids of species ``domain``.

    Parameters
    ----------
    traj
        Trajectory of a flat membrane (normal along z), nm, orthorhombic box; the domain's
        diameter must stay below half the box side. Pass equilibrated frames only.
    domain
        Residue name(s) of the domain's lipids (both leaflets may be pooled when registered).
    kT
        Thermal energy of the run (eps).
    n_wedges, n_max
        Wedges the boundary is read in, and the highest mode fitted (2..n_max, n_max < n_wedges / 2).
    blocks
        Consecutive frame blocks for the standard error.

    Returns
    -------
    :class:`LineTension`.

    Example
    -------
    >>> line_tension(traj, ("SM",), kT=1.1).value
    """
    check_positive(kT=kT, n_wedges=n_wedges, blocks=blocks)
    if not 3 <= n_max < n_wedges // 2:
        raise ValueError(f"n_max: must lie in [3, n_wedges / 2) = [3, {n_wedges // 2}) (got {n_max})")
    names = {domain} if isinstance(domain, str) else set(domain)
    heads, _ = lipid_indices(traj.topology)
    resname = np.array([traj.topology.atom(int(h)).residue.name for h in heads])
    pick = heads[np.isin(resname, sorted(names))]
    if pick.size < 4 * n_wedges:
        raise ValueError(f"domain: {sorted(names)} has {pick.size} lipids; the boundary needs at least "
                         f"{4 * n_wedges} (4 per wedge)")
    if traj.n_frames < 2 * blocks:
        raise ValueError(f"traj: {traj.n_frames} frames; at least {2 * blocks} needed for {blocks} blocks")
    box = box_of(traj)[:, :2]
    per_frame, radii = zip(*(boundary_modes(traj.xyz[f, pick, :2].astype(np.float64), box[f], n_wedges, n_max)
                             for f in range(traj.n_frames)), strict=True)
    power, radius = np.array(per_frame)[:, 2:], float(np.mean(radii))
    modes = np.arange(2, n_max + 1, dtype=float)
    value, noise = fit_spectrum(power.mean(axis=0), modes, radius, kT)
    parts = [fit_spectrum(b.mean(axis=0), modes, radius, kT)[0] for b in np.array_split(power, blocks)]
    error = float(np.std(parts, ddof=1) / np.sqrt(blocks))
    return LineTension(float(value), error, radius, modes.astype(int), power.mean(axis=0), noise, traj.n_frames)
