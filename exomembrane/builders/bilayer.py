"""Flat bilayer builder."""
from __future__ import annotations

from typing import Annotated, ClassVar, Literal

import numpy as np
from pydantic import BeforeValidator, NonNegativeInt, PositiveFloat

from exomembrane.builders.fields import Composition as CompositionField
from exomembrane.builders.fields import TwoLeaflets, repeat
from exomembrane.builders.registry import register
from exomembrane.config import ConfigError
from exomembrane.model.forcefield import ForceField
from exomembrane.model.structure import Structure

from .lipids import Composition, counts, lay, species_codes


def bilayer(ff: ForceField, size: float | tuple[float, float] = 20.0, *, upper: Composition = "LIP",
            lower: Composition | None = None, area_per_lipid: float = 1.2, box_z: float = 20.0,
            seed: int = 0) -> Structure:
    """A flat bilayer in the xy-plane, centred at z = box_z / 2.

    Parameters
    ----------
    ff
        Force field providing the species.
    size
        Lateral box length(s) in sigma; rounded to whole lattice rows (the box is set to fit).
    upper, lower
        Composition of each leaflet: a species name or ``{name: fraction}``. ``lower`` defaults
        to ``upper`` (symmetric); give both for an asymmetric bilayer.
    area_per_lipid
        Sigma^2 per lipid in each leaflet (Cooke lipids at w_c 1.6, kT 1.1: about 1.2).
    box_z
        Box height in sigma.
    seed
        Seeds the placement of species and the small lateral jitter.

    Example
    -------
    >>> from exomembrane import load_forcefield, builders
    >>> s = builders.bilayer(load_forcefield(), 10.0, upper={"LIP": 0.8, "CER": 0.2})
    """
    lx, ly = (size, size) if isinstance(size, (int, float)) else size
    for name, v in (("size", min(lx, ly)), ("area_per_lipid", area_per_lipid), ("box_z", box_z)):
        if not v > 0:
            raise ConfigError(f"{name}: must be > 0 (got {v!r})")
    a = np.sqrt(area_per_lipid)
    nx, ny = max(int(round(lx / a)), 1), max(int(round(ly / a)), 1)
    rng = np.random.default_rng(seed)
    n = nx * ny
    groups = [counts(upper, n, ff, "upper"), counts(upper if lower is None else lower, n, ff, "lower")]
    names, codes = species_codes(groups, rng)
    gx, gy = np.meshgrid((np.arange(nx) + 0.5) * a, (np.arange(ny) + 0.5) * a, indexing="ij")
    grid = np.stack([gx.ravel(), gy.ravel(), np.full(n, box_z / 2)], axis=1)
    ends, dirs = [], []
    for sign in (1.0, -1.0):
        jitter = rng.uniform(-0.05, 0.05, (n, 3)) * [1, 1, 0]
        # Offset the lower leaflet by half a cell so opposing tail ends do not sit on top of each other.
        shift = np.array([a / 2, a / 2, 0]) if sign < 0 else 0.0
        ends.append(grid + shift + jitter + [0, 0, sign * 0.5])
        dirs.append(np.tile([0.0, 0.0, sign], (n, 1)))
    box = np.array([nx * a, ny * a, box_z])
    codes_all = np.concatenate(codes)
    pos = lay(ff, names, codes_all, np.concatenate(ends), np.concatenate(dirs))
    pos[:, :2] %= box[:2]
    return Structure(ff, names, codes_all, pos, box, np.repeat(np.array([1, -1], np.int8), n))


@register
class BilayerSection(TwoLeaflets):
    """``builder.kind: bilayer``: flat bilayer in the xy-plane (:func:`bilayer`); lengths in sigma."""

    kind: Literal["bilayer"]
    size: Annotated[tuple[PositiveFloat, PositiveFloat], BeforeValidator(repeat(2))] = (20.0, 20.0)
    upper: CompositionField = {"LIP": 1.0}
    lower: CompositionField | None = None  # None: same as ``upper`` (filled in on validation)
    area_per_lipid: PositiveFloat = 1.2
    box_z: PositiveFloat = 20.0
    seed: NonNegativeInt = 0
    LEAFLETS: ClassVar[tuple[str, ...]] = ("upper", "lower")

    def build(self, ff: ForceField) -> Structure:
        return bilayer(ff, self.size, upper=self.upper, lower=self.lower, area_per_lipid=self.area_per_lipid,
                       box_z=self.box_z, seed=self.seed)
