"""Multivesicular-body (MVB) membranes with explicit sides: a flat limiting-membrane patch and a
closed MVB, each with an optional lipid domain and placed proteins and cargo."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
from pydantic import BeforeValidator, Field, NonNegativeInt, PositiveFloat

from exomembrane.builders.fields import Composition as CompositionField
from exomembrane.builders.fields import TwoLeaflets, repeat
from exomembrane.builders.registry import register
from exomembrane.config import ConfigError
from exomembrane.model.compartments import Membrane
from exomembrane.model.filaments import PARAMETERS as FILAMENT_PARAMETERS
from exomembrane.model.forcefield import ForceField
from exomembrane.model.structure import Structure

from .bilayer import bilayer
from .filament import FilamentSpec, filament
from .lipids import Composition
from .place import Domain, Placement, place, with_domain
from .vesicle import vesicle


def mvb_patch(ff: ForceField, size: float | tuple[float, float] = 40.0, *, cytosolic: Composition = "LIP",
              luminal: Composition | None = None, lumen: Literal["+z", "-z"] = "+z", domains: Sequence[Domain] = (),
              proteins: Sequence[Placement] = (), filaments: Sequence[FilamentSpec] = (), area_per_lipid: float = 1.2,
              box_z: float = 40.0, seed: int = 0) -> Structure:
    """A flat, periodic patch of the MVB's limiting membrane whose sides are known.

    Parameters
    ----------
    size, area_per_lipid, box_z
        As :func:`exomembrane.builders.bilayer` (sigma, sigma^2, sigma).
    cytosolic, luminal
        Composition of the leaflet facing the cytosol (it becomes the inner leaflet of an ILV) and of
        the one facing the MVB lumen (default: as ``cytosolic``).
    lumen
        The side (``"+z"`` or ``"-z"``) where the MVB lumen lies; the cytosol is the other side.
        Recorded in ``Structure.sides``.
    domains
        Round domains of one leaflet each, around the box centre, with their own compositions.
    proteins
        Molecules placed in the membrane, on a face or in a compartment (:class:`Placement`).
    filaments
        ESCRT-III-like filaments laid as flat spirals on the cytosolic face, after the proteins
        (:class:`~exomembrane.builders.filament.FilamentSpec`).
    seed
        Seeds lipid placement, the domain's and the molecules' positions.

    Example
    -------
    >>> from exomembrane import load_forcefield, build
    >>> s = build.mvb_patch(load_forcefield(), 30.0, domains=[build.Domain(radius=8, composition="CER")],
    ...                     proteins=[build.Placement(species="TSPN", count=4, up="lumen")])
    >>> s.sides
    {'lumen': '+z', 'cytosol': '-z'}
    """
    if lumen not in ("+z", "-z"):
        raise ConfigError(f"lumen: must be '+z' or '-z' for a flat patch (got {lumen!r})")
    up, low = (luminal, cytosolic) if lumen == "+z" else (cytosolic, luminal)
    s = bilayer(ff, size, upper=up if up is not None else cytosolic, lower=low if low is not None else cytosolic,
                area_per_lipid=area_per_lipid, box_z=box_z, seed=seed)
    mvb = Membrane("mvb", {lumen: "lumen", "-z" if lumen == "+z" else "+z": "cytosol"})
    return _decorate(replace(s, membranes=(mvb,), membrane=np.where(s.is_lipid(), 0, -1)), domains, proteins,
                     filaments, seed)


def mvb_vesicle(ff: ForceField, radius: float = 20.0, *, cytosolic: Composition = "LIP",
                luminal: Composition | None = None, domains: Sequence[Domain] = (),
                proteins: Sequence[Placement] = (), filaments: Sequence[FilamentSpec] = (),
                area_per_lipid: float = 1.2, padding: float = 6.0, seed: int = 0) -> Structure:
    """A closed MVB: lumen inside, cytosol outside; the outer leaflet is the cytosolic one.

    Parameters as :func:`mvb_patch` and :func:`exomembrane.builders.vesicle` (``radius``: midplane
    radius in sigma); domains and ``within`` are centred on the +z pole.
    """
    s = vesicle(ff, radius, outer=cytosolic, inner=luminal if luminal is not None else cytosolic,
                area_per_lipid=area_per_lipid, padding=padding, seed=seed)
    mvb = Membrane("mvb", {"inside": "lumen", "outside": "cytosol"})
    return _decorate(replace(s, membranes=(mvb,), membrane=np.where(s.is_lipid(), 0, -1)), domains, proteins,
                     filaments, seed)


def _decorate(s: Structure, domains: Sequence[Domain], proteins: Sequence[Placement],
              filaments: Sequence[FilamentSpec], seed: int) -> Structure:
    for k, spec in enumerate(domains):
        s = with_domain(s, spec, seed + k, f"domains.{k}")
    return filament(place(s, proteins, seed), list(filaments), seed + 500)


class _MvbSection(TwoLeaflets):
    """An MVB membrane: leaflets named by the compartment they face, domains, placed molecules."""

    cytosolic: CompositionField = {"LIP": 1.0}
    luminal: CompositionField | None = None  # None: same as ``cytosolic``
    domains: list[Domain] = []
    proteins: list[Placement] = []
    filaments: list[FilamentSpec] = []
    area_per_lipid: PositiveFloat = 1.2
    seed: NonNegativeInt = 0
    LEAFLETS: ClassVar[tuple[str, ...]] = ("cytosolic", "luminal")

    def compositions(self) -> dict[str, dict[str, float]]:
        out = super().compositions()
        out.update({f"domains.{k}.composition": d.composition for k, d in enumerate(self.domains)})
        return out

    def placements(self) -> dict[str, Placement]:
        return {f"proteins.{k}": p for k, p in enumerate(self.proteins)}

    def parameters(self) -> tuple[str, ...]:
        return FILAMENT_PARAMETERS if self.filaments else ()

    def _common(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("cytosolic", "luminal", "domains", "proteins", "filaments",
                                              "area_per_lipid", "seed")}


@register
class MvbPatchSection(_MvbSection):
    """``builder.kind: mvb_patch``: flat MVB limiting-membrane patch with sides, domains and proteins
    (:func:`mvb_patch`)."""

    kind: Literal["mvb_patch"]
    size: Annotated[tuple[PositiveFloat, PositiveFloat], BeforeValidator(repeat(2))] = (40.0, 40.0)
    lumen: Literal["+z", "-z"] = "+z"
    box_z: PositiveFloat = 40.0

    def build(self, ff: ForceField) -> Structure:
        return mvb_patch(ff, self.size, lumen=self.lumen, box_z=self.box_z, **self._common())


@register
class MvbVesicleSection(_MvbSection):
    """``builder.kind: mvb_vesicle``: closed MVB, lumen inside, with domains and proteins (:func:`mvb_vesicle`)."""

    kind: Literal["mvb_vesicle"]
    radius: float = Field(default=20.0, ge=5.0)
    padding: PositiveFloat = 6.0

    def build(self, ff: ForceField) -> Structure:
        return mvb_vesicle(ff, self.radius, padding=self.padding, **self._common())
