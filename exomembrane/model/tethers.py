"""Tethers: springs between beads of different molecules (SNARE-like linkers between anchors in two
membranes) whose rest length the zippering protocol shortens inside the integrator.

Energy of tether i at bead distance r (sigma):

    U_i = 1/2 k_i (r - L_i)^2,    L_i = end_i + (start_i - end_i) * zipper

``zipper`` is one global parameter of the System: 1 leaves every linker at its ``start`` length
(as built), 0 zips it to its ``end`` length; a protocol ``{zipper: [[t0, 1], [t1, 0]]}`` zips
them at a steady rate between t0 and t1 (tau).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: The global parameter that sets how far the linkers are zipped (1: as built, 0: zipped).
ZIPPER = "zipper"


@dataclass(frozen=True, eq=False)
class Tethers:
    """Springs between bead pairs.

    Attributes
    ----------
    pairs
        (m, 2) int, bead indices joined by a tether.
    start, end
        (m,) float, rest length (sigma) at ``zipper`` = 1 and at ``zipper`` = 0.
    k
        (m,) float, spring constant (eps/sigma^2).
    """

    pairs: np.ndarray
    start: np.ndarray
    end: np.ndarray
    k: np.ndarray

    def __post_init__(self) -> None:
        object.__setattr__(self, "pairs", np.asarray(self.pairs, np.int64).reshape(-1, 2))
        m = len(self.pairs)
        for name in ("start", "end", "k"):
            v = np.asarray(getattr(self, name), np.float64).reshape(-1)
            if v.shape != (m,):
                raise ValueError(f"tethers.{name}: one value per pair ({m}), got shape {v.shape}")
            if not np.all(v >= 0) or not np.all(np.isfinite(v)):
                raise ValueError(f"tethers.{name}: must be finite and >= 0 (got {v.tolist()})")
            object.__setattr__(self, name, v)

    @classmethod
    def none(cls) -> Tethers:
        return cls(np.empty((0, 2), np.int64), np.empty(0), np.empty(0), np.empty(0))

    def __len__(self) -> int:
        return len(self.pairs)

    def rest(self, zipper: float) -> np.ndarray:
        """(m,) sigma, rest lengths at ``zipper``."""
        return self.end + (self.start - self.end) * zipper

    def energy(self, positions: np.ndarray, box: np.ndarray, zipper: float = 1.0) -> tuple[float, np.ndarray]:
        """Reference energy (eps) and forces (n_beads, 3) eps/sigma of the tethers at ``positions``
        (n_beads, 3) sigma in the periodic ``box`` (3,) sigma (minimum image)."""
        d = positions[self.pairs[:, 1]] - positions[self.pairs[:, 0]]
        d -= box * np.round(d / box)
        r = np.linalg.norm(d, axis=1)
        stretch = r - self.rest(zipper)
        f = np.zeros_like(positions)
        along = (self.k * stretch / np.where(r > 0, r, 1.0))[:, None] * d  # pulls pair[1] towards pair[0]
        np.add.at(f, self.pairs[:, 0], along)
        np.add.at(f, self.pairs[:, 1], -along)
        return float(0.5 * np.sum(self.k * stretch ** 2)), f
