"""Closed spherical vesicle builder."""
from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
from pydantic import Field, NonNegativeInt, PositiveFloat
from scipy.spatial.transform import Rotation

from exomembrane.builders.fields import Composition as CompositionField
from exomembrane.builders.fields import TwoLeaflets
from exomembrane.builders.registry import register
from exomembrane.config import ConfigError
from exomembrane.model.forcefield import ForceField
from exomembrane.model.structure import Structure

from .lipids import Composition, counts, lay, species_codes

# Leaflet lipid counts come from the area of a sphere this far (sigma) outside / inside the
# midplane: near the outer leaflet's head-tail interface, and deeper for the inner leaflet so that
# its crowded heads stay >= 0.8 sigma apart down to radius 6.
OUTER_OFFSET, INNER_OFFSET = 1.5, 2.0


def fibonacci_sphere(n: int) -> np.ndarray:
    """(n, 3) near-uniform unit vectors (golden-angle spiral)."""
    i = np.arange(n) + 0.5
    z = 1.0 - 2.0 * i / n
    r = np.sqrt(1.0 - z * z)
    phi = np.pi * (3.0 - np.sqrt(5.0)) * i
    return np.stack([r * np.cos(phi), r * np.sin(phi), z], axis=1)


def leaflet_counts(radius: float, area_per_lipid: float) -> tuple[int, int]:
    """(outer, inner) lipid counts of a vesicle of midplane ``radius`` (sigma)."""
    area = lambda r: 4.0 * np.pi * r * r  # noqa: E731
    return (int(round(area(radius + OUTER_OFFSET) / area_per_lipid)),
            int(round(area(radius - INNER_OFFSET) / area_per_lipid)))


def vesicle(ff: ForceField, radius: float = 10.0, *, outer: Composition = "LIP",
            inner: Composition | None = None, area_per_lipid: float = 1.2, padding: float = 6.0,
            seed: int = 0) -> Structure:
    """A spherical vesicle centred in a cubic box.

    Parameters
    ----------
    radius
        Bilayer midplane radius in sigma (>= 5; Cooke vesicles below ~6 sigma are very strained).
    outer, inner
        Composition per leaflet (species name or ``{name: fraction}``); ``inner`` defaults to ``outer``.
    area_per_lipid
        Sigma^2 per lipid, applied at ``radius + 1.5`` / ``radius - 2`` sigma for the outer / inner leaflet counts.
    padding
        Free space in sigma between the outer heads and the box faces.
    seed
        Seeds the orientation of the lattice and the placement of species.
    """
    if not radius >= 5.0:
        raise ConfigError(f"radius: must be >= 5 sigma for a closed bilayer (got {radius!r})")
    for name, v in (("area_per_lipid", area_per_lipid), ("padding", padding)):
        if not v > 0:
            raise ConfigError(f"{name}: must be > 0 (got {v!r})")
    rng = np.random.default_rng(seed)
    n_out, n_in = leaflet_counts(radius, area_per_lipid)
    groups = [counts(outer, n_out, ff, "outer"), counts(outer if inner is None else inner, n_in, ff, "inner")]
    names, codes = species_codes(groups, rng)
    rot = Rotation.random(2, random_state=seed)
    u_out = rot[0].apply(fibonacci_sphere(n_out))
    u_in = rot[1].apply(fibonacci_sphere(n_in))
    length = max(len(ff.get(n).beads) for n in names) * 0.97 + 0.5
    side = 2 * (radius + length + padding)
    centre = np.full(3, side / 2)
    ends = np.concatenate([centre + (radius + 0.5) * u_out, centre + (radius - 0.5) * u_in])
    dirs = np.concatenate([u_out, -u_in])
    codes_all = np.concatenate(codes)
    pos = lay(ff, names, codes_all, ends, dirs)
    leaflet = np.concatenate([np.ones(n_out, np.int8), -np.ones(n_in, np.int8)])
    return Structure(ff, names, codes_all, pos, np.full(3, side), leaflet)


@register
class VesicleSection(TwoLeaflets):
    """``builder.kind: vesicle``: closed spherical vesicle (:func:`vesicle`); lengths in sigma."""

    kind: Literal["vesicle"]
    radius: float = Field(default=10.0, ge=5.0)
    outer: CompositionField = {"LIP": 1.0}
    inner: CompositionField | None = None  # None: same as ``outer`` (filled in on validation)
    area_per_lipid: PositiveFloat = 1.2
    padding: PositiveFloat = 6.0
    seed: NonNegativeInt = 0
    LEAFLETS: ClassVar[tuple[str, ...]] = ("outer", "inner")

    def build(self, ff: ForceField) -> Structure:
        return vesicle(ff, self.radius, outer=self.outer, inner=self.inner, area_per_lipid=self.area_per_lipid,
                       padding=self.padding, seed=self.seed)
