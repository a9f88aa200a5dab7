"""Enrichment of a species in one part of a membrane (a bud, an ILV, a contact zone) against the
rest: concentration per lipid pooled over frames, with a percentile bootstrap interval over
molecules (whole molecules resampled, which keeps each one's correlation across frames)."""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
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
    in_part, in_rest
        (n_molecules,) pooled frames each molecule spent in the part and in the rest.
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
    in_part: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, int))
    in_rest: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, int))


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
    ratio, (lo, hi) = _bootstrap([a], [o], scale, n_boot, confidence, seed)
    return Enrichment(ratio, (lo, hi), confidence,
                      f"percentile bootstrap over molecules ({n_boot} resamples)", per_frame,
                      np.where(l_in > 0, n_in, 0), np.where(l_in > 0, n_out, 0), l_in, l_out, np.flatnonzero(use),
                      int(a.size), kind, a, o)


def pooled_enrichment(runs: Sequence[Enrichment], n_boot: int = 2000, confidence: float = 0.95,
                      seed: int = 0) -> Enrichment:
    """One enrichment over several runs (seeds) of the same scenario: molecule-frames in the part and
    the rest, and lipid-frames of each, summed over the runs' pooled frames; the interval resamples
    molecules within each run (a stratified percentile bootstrap, so every run keeps its weight).

    ``runs``: :class:`Enrichment` of one species, one per run; ValueError naming ``runs`` if empty
    or of different kinds. ``per_frame`` and the per-frame counts of the result are those of the
    runs concatenated; ``frames`` counts the pooled frames of all runs.
    """
    if not runs:
        raise ValueError("runs: give at least one Enrichment")
    kinds = {e.kind for e in runs}
    if len(kinds) > 1:
        raise ValueError(f"runs: all must count molecules the same way (got kinds {sorted(kinds)})")
    lipids_in = sum(float(e.lipids_bud[e.frames].sum()) for e in runs)
    lipids_out = sum(float(e.lipids_parent[e.frames].sum()) for e in runs)
    scale = lipids_out / lipids_in if lipids_in > 0 else np.nan
    ratio, ci = _bootstrap([e.in_part for e in runs], [e.in_rest for e in runs], scale, n_boot, confidence, seed)
    cat = lambda name: np.concatenate([getattr(e, name) for e in runs])  # noqa: E731
    return Enrichment(ratio, ci, confidence,
                      f"percentile bootstrap over molecules within each of {len(runs)} runs ({n_boot} resamples)",
                      cat("per_frame"), cat("n_bud"), cat("n_parent"), cat("lipids_bud"), cat("lipids_parent"),
                      np.arange(sum(e.frames.size for e in runs)), sum(e.n_molecules for e in runs), kinds.pop(),
                      cat("in_part"), cat("in_rest"))


def _bootstrap(part: list[np.ndarray], rest: list[np.ndarray], scale: float, n_boot: int, confidence: float,
               seed: int) -> tuple[float, tuple[float, float]]:
    """Pooled ratio sum(part) / sum(rest) * scale and its percentile interval, molecules resampled
    with replacement within each group (``part``, ``rest``: per-molecule frame counts, one array per group)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = sum(a.sum() for a in part) / sum(o.sum() for o in rest) * scale
        rng = np.random.default_rng(seed)
        chunks = []
        for start in range(0, n_boot, 256):
            m = min(256, n_boot - start)
            num, den = np.zeros(m), np.zeros(m)
            for a, o in zip(part, rest):
                idx = rng.integers(0, a.size, (m, a.size))
                num += a[idx].sum(axis=1)
                den += o[idx].sum(axis=1)
            chunks.append(num / den * scale)
        boot = np.concatenate(chunks) if chunks else np.empty(0)
    boot = boot[~np.isnan(boot)]
    q = (1 - confidence) / 2
    lo, hi = np.quantile(boot, [q, 1 - q], method="inverted_cdf") if boot.size else (np.nan, np.nan)
    return float(ratio), (float(lo), float(hi))


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
