"""Enrichment of a species in one part of a membrane (a bud, an ILV, a contact zone) against the
rest: concentration per lipid pooled over frames, with a percentile bootstrap interval over
molecules (whole molecules resampled, which keeps each one's correlation across frames)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Enrichment:
    """Enrichment of a species in a part of a membrane (bud, ILV, zone) against the rest of it.

    Attributes
    ----------
    ratio
        Pooled concentration ratio (molecules per lipid in the part : in the rest).
    ci
        (low, high) bootstrap interval of ``ratio`` at probability ``confidence``.
    per_frame
        (n_frames,) ratio per frame (NaN where the part is empty).
    n_bud, n_parent
        (n_frames,) molecules in the part and in the rest.
    lipids_bud, lipids_parent
        (n_frames,) lipids of the part and of the rest.
    frames
        Indices of the pooled frames.
    n_molecules
        Molecules of the species.
    kind
        How molecules belong to the part ("membrane" or "lumen"; "" if not given).
    """

    ratio: float
    ci: tuple[float, float]
    confidence: float
    method: str
    per_frame: np.ndarray
    n_bud: np.ndarray
    n_parent: np.ndarray
    lipids_bud: np.ndarray
    lipids_parent: np.ndarray
    frames: np.ndarray
    n_molecules: int
    kind: str = ""


def enrichment(member: np.ndarray, inside: np.ndarray, parent: np.ndarray, use: np.ndarray, n_boot: int,
               confidence: float, seed: int, kind: str = "") -> Enrichment:
    """Per-lipid concentration ratio part : rest, pooled over frames ``use``, bootstrap CI over molecules.

    ``member`` (n_molecules, n_frames) int8: 1 in the part, 0 in the rest, -1 neither; ``inside``,
    ``parent`` (n_frames, n_lipids) bool: lipids of the part and of the rest; ``use`` (n_frames,) bool.
    """
    n_in, n_out = (member == 1).sum(axis=0), (member == 0).sum(axis=0)
    l_in, l_out = inside.sum(axis=1), parent.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_frame = np.where(l_in > 0, (n_in / l_in) / (n_out / l_out), np.nan)
        a, o = (member[:, use] == 1).sum(axis=1), (member[:, use] == 0).sum(axis=1)
        scale = l_out[use].sum() / l_in[use].sum() if use.any() else np.nan
        ratio = a.sum() / o.sum() * scale
        rng = np.random.default_rng(seed)
        chunks = []
        for start in range(0, n_boot, 256):
            idx = rng.integers(0, a.size, (min(256, n_boot - start), a.size))
            chunks.append(a[idx].sum(axis=1) / o[idx].sum(axis=1) * scale)
        boot = np.concatenate(chunks) if chunks else np.empty(0)
    boot = boot[~np.isnan(boot)]
    q = (1 - confidence) / 2
    lo, hi = np.quantile(boot, [q, 1 - q], method="inverted_cdf") if boot.size else (np.nan, np.nan)
    return Enrichment(float(ratio), (float(lo), float(hi)), confidence,
                      f"percentile bootstrap over molecules ({n_boot} resamples)", per_frame,
                      np.where(l_in > 0, n_in, 0), np.where(l_in > 0, n_out, 0), l_in, l_out, np.flatnonzero(use),
                      int(a.size), kind)


def frame_selection(frames: Any, n_frames: int) -> np.ndarray:
    """(n_frames,) bool from None (all), a slice, frame indices or a mask; ValueError naming ``frames`` otherwise."""
    use = np.zeros(n_frames, bool)
    if frames is None:
        use[:] = True
    else:
        try:
            use[np.arange(n_frames)[frames]] = True
        except (IndexError, TypeError) as why:
            raise ValueError(f"frames: must be a slice, frame indices or a bool mask over {n_frames} frames "
                             f"(got {frames!r}: {why})") from None
    return use
