"""Line tension of a domain boundary in a flat membrane, from the capillary waves of a stripe domain.

A stripe domain spans a flat periodic patch along y; each of its two boundaries is a line
``x = h(y)`` of length ``L_y`` with energy ``lambda int sqrt(1 + h'^2) dy``. With the Fourier series
``h(y) = sum_q h_q exp(i q y)``, ``q = 2 pi m / L_y``, equipartition gives
``<|h_q|^2> = kT / (lambda L_y q^2)`` for every m >= 1 (a stripe cannot bud, unlike a round domain,
whose boundary buds off once its radius passes a few kappa / lambda).

Each boundary is read per frame in ``n_bins`` slabs along y from the domain's lipids: in each slab,
the ``edge`` and ``1 - edge`` quantiles of their x about the stripe's centre (robust to the odd
lipid that left the domain). Reading it adds a white noise floor ``B``; the fit
``<|h_q|^2> = S / q^2 + B`` over m = 1..``n_max`` separates it, and ``lambda = kT / (L_y S)``.
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
        Line tension, eps/sigma (the fit gives kT/sigma; times ``kT``).
    error
        Standard error from ``blocks`` independent fits over consecutive frame blocks (eps/sigma).
    width
        Mean width of the stripe (sigma) between its read boundaries.
    q
        (n_max,) wave numbers (1/sigma) of the modes fitted.
    spectrum
        (n_max,) ``<|h_q|^2>`` (sigma^2), both boundaries and all frames averaged.
    noise
        Fitted white floor B (sigma^2).
    frames
        Frames used.
    """

    value: float
    error: float
    width: float
    q: np.ndarray
    spectrum: np.ndarray
    noise: float
    frames: int


def boundary_spectrum(xy: np.ndarray, box: np.ndarray, n_bins: int, n_max: int, edge: float
                      ) -> tuple[np.ndarray, float]:
    """``|h_q|^2`` (n_max,) of both boundaries, summed, of one frame's stripe (lipid positions ``xy``
    (m, 2), ``box`` (2,)), and the stripe's width; raises ValueError when a slab has too few lipids."""
    centre = periodic_centre(np.c_[xy, np.zeros(len(xy))], np.r_[box, 1.0])[0, 0]
    x = minimum_image(xy[:, 0] - centre, box[0])
    slab = np.minimum((np.mod(xy[:, 1], box[1]) / box[1] * n_bins).astype(int), n_bins - 1)
    order = np.argsort(slab, kind="stable")
    parts = np.split(x[order], np.searchsorted(slab[order], np.arange(1, n_bins)))
    if min(len(p) for p in parts) < 4:
        raise ValueError(f"domain: a slab of the stripe holds fewer than 4 of its lipids; use fewer n_bins "
                         f"(got {n_bins}) or a wider stripe")
    low = np.array([np.quantile(p, edge) for p in parts])
    high = np.array([np.quantile(p, 1.0 - edge) for p in parts])
    power = np.abs(np.fft.rfft(low)[1:n_max + 1] / n_bins) ** 2 + np.abs(np.fft.rfft(high)[1:n_max + 1] / n_bins) ** 2
    return power, float(np.mean(high - low))


def fit_spectrum(spectrum: np.ndarray, q: np.ndarray, length: float, kT: float) -> tuple[float, float]:
    """(line tension, noise floor) from ``<|h_q|^2> = S / q^2 + B`` by least squares."""
    (slope, noise), *_ = np.linalg.lstsq(np.c_[1.0 / q ** 2, np.ones(len(q))], spectrum, rcond=None)
    return (kT / (length * slope) if slope > 0 else np.inf), float(noise)


def line_tension(traj: mdtraj.Trajectory, domain: str | Sequence[str], kT: float = 1.0, n_bins: int = 16,
                 n_max: int = 4, edge: float = 0.05, blocks: int = 5) -> LineTension:
    """Line tension (eps/sigma) of the boundaries of the stripe domain formed by the lipids of ``domain``.

    Parameters
    ----------
    traj
        Trajectory of a flat membrane (normal along z) with a stripe domain spanning the box along y
        (e.g. a ``mvb_patch`` domain of ``shape: stripe``), nm, orthorhombic box. Pass equilibrated frames.
    domain
        Residue name(s) of the domain's lipids (both leaflets pooled when registered).
    kT
        Thermal energy of the run (eps).
    n_bins, n_max
        Slabs along y each boundary is read in, and the highest mode fitted (1..n_max, n_max < n_bins / 2).
    edge
        Quantile of the domain lipids' x in a slab taken as its boundary (robust to strays).
    blocks
        Consecutive frame blocks for the standard error.

    Returns
    -------
    :class:`LineTension`.

    Example
    -------
    >>> line_tension(traj, ("SM",), kT=1.1).value
    """
    check_positive(kT=kT, n_bins=n_bins, blocks=blocks)
    if not 2 <= n_max < n_bins // 2:
        raise ValueError(f"n_max: must lie in [2, n_bins / 2) = [2, {n_bins // 2}) (got {n_max})")
    if not 0.0 < edge < 0.5:
        raise ValueError(f"edge: must lie in (0, 0.5) (got {edge})")
    names = {domain} if isinstance(domain, str) else set(domain)
    heads, _ = lipid_indices(traj.topology)
    resname = np.array([traj.topology.atom(int(h)).residue.name for h in heads])
    pick = heads[np.isin(resname, sorted(names))]
    if pick.size == 0:
        raise ValueError(f"domain: no lipid of {sorted(names)} in the trajectory")
    if traj.n_frames < 2 * blocks:
        raise ValueError(f"traj: {traj.n_frames} frames; at least {2 * blocks} needed for {blocks} blocks")
    box = box_of(traj)[:, :2]
    per_frame, widths = zip(*(boundary_spectrum(traj.xyz[f, pick, :2].astype(np.float64), box[f], n_bins, n_max,
                                                edge) for f in range(traj.n_frames)), strict=True)
    power = np.array(per_frame) / 2  # per boundary
    length = float(box[:, 1].mean())
    q = 2 * np.pi * np.arange(1, n_max + 1) / length
    value, noise = fit_spectrum(power.mean(axis=0), q, length, kT)
    parts = [fit_spectrum(b.mean(axis=0), q, length, kT)[0] for b in np.array_split(power, blocks)]
    error = float(np.std(parts, ddof=1) / np.sqrt(blocks))
    return LineTension(float(value), error, float(np.mean(widths)), q, power.mean(axis=0), noise, traj.n_frames)
