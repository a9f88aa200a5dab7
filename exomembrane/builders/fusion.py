"""An MVB holding ILVs in the cytosol under a plasma-membrane (PM) patch: the starting structure of
MVB–PM fusion and exosome release.

From the top of the box down: the extracellular space, the PM patch spanning the box (its upper
leaflet faces the extracellular space), the cytosol, the closed MVB (outer leaflet cytosolic, inner
luminal) with its ILVs in the MVB lumen (each ILV's outer leaflet faces the MVB lumen, its inside
is the ILV lumen, topologically cytosol). The box's z faces separate the extracellular space from
the cytosol (walls hold the ILVs, which may leave through a fusion pore, inside the box).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
from pydantic import BeforeValidator, Field, NonNegativeFloat, NonNegativeInt, PositiveFloat, model_validator

from exomembrane.builders.bilayer import bilayer
from exomembrane.builders.chain import ilv_from_run
from exomembrane.builders.compose import combine
from exomembrane.builders.fields import Composition as CompositionField
from exomembrane.builders.fields import repeat
from exomembrane.builders.lipids import Composition
from exomembrane.builders.place import Placement, place_on
from exomembrane.builders.registry import Section, register
from exomembrane.builders.tethers import TetherSpec, tether
from exomembrane.builders.vesicle import vesicle
from exomembrane.config import ConfigError, Strict
from exomembrane.model.compartments import Membrane
from exomembrane.model.forcefield import ForceField
from exomembrane.model.structure import Structure
from exomembrane.model.tethers import ZIPPER

#: Distance (sigma) from a bilayer's midplane to the outer edge of its head beads.
HALF = 2.5
#: The compartments, as the membranes name them.
EXTRACELLULAR, CYTOSOL, MVB_LUMEN, ILV_LUMEN = "extracellular", "cytosol", "mvb_lumen", "ilv_lumen"


class Ilv(Strict):
    """One ILV inside the MVB: midplane ``radius`` (sigma), leaflet compositions (``inner``
    defaults to ``outer``) and the molecules it carries (``proteins``: :class:`Placement` as on an
    MVB membrane, for the ILV's inside is topologically cytosol and its outside the MVB lumen:
    ``where: cytosol`` fills its lumen, ``up: lumen`` points a membrane protein outwards).

    ``run``: a budding run directory whose ILV (its last frame's, with its lipids, cargo and RNA as
    they were; :func:`~exomembrane.builders.chain.ilv_from_run`) this ILV is; then it is built from
    nothing else (give none of radius, outer, inner, proteins).
    """

    radius: float = Field(default=6.0, ge=5.0)
    outer: CompositionField = {"LIP": 1.0}
    inner: CompositionField | None = None
    proteins: list[Placement] = []
    run: str | None = None

    @model_validator(mode="after")
    def _run_alone(self) -> Ilv:
        given = self.changed({"radius", "outer", "inner", "proteins"})
        if self.run is not None and given:
            raise ValueError(f"run: an ILV taken from a run is built from that run alone; drop {given}")
        return self


def ilv_centres(mvb_radius: float, radii: Sequence[float], clearance: float = 1.0) -> np.ndarray:
    """(n, 3) sigma: centres of ILVs of midplane ``radii`` (sigma) relative to the MVB centre: one at
    the centre, several on a horizontal ring about it, neighbours ``clearance`` apart (head surfaces)
    at the widest; ConfigError naming ``ilvs`` if they do not fit in the MVB lumen with ``clearance``
    to its inner head surface."""
    n = len(radii)
    if not n:
        return np.zeros((0, 3))
    widths = np.array([2 * (r + HALF) for r in radii])
    ring = 0.0 if n == 1 else (widths.max() + clearance) / (2 * np.sin(np.pi / n))
    phi = 2 * np.pi * np.arange(n) / n
    centres = np.c_[ring * np.cos(phi), ring * np.sin(phi), np.zeros(n)]
    room = mvb_radius - HALF - clearance  # inner head surface of the MVB, less the clearance
    far = ring + widths / 2
    if np.any(far > room):
        k = int(np.argmax(far - room))
        raise ConfigError(f"ilvs: {n} ILV(s) of midplane radii {[round(r, 1) for r in radii]} sigma do not "
                          f"fit in the lumen of an MVB of midplane radius {mvb_radius} sigma (ILV {k} reaches "
                          f"{far[k]:.1f} of the {room:.1f} sigma available); raise mvb_radius or use fewer or "
                          f"smaller ILVs")
    return centres


def mvb_at_membrane(ff: ForceField, size: float | tuple[float, float] = 60.0, *, mvb_radius: float = 20.0,
                    gap: float = 2.0, ilvs: Sequence[Ilv] = (Ilv(),), pm_upper: Composition = "LIP",
                    pm_lower: Composition | None = None, mvb_outer: Composition = "LIP",
                    mvb_inner: Composition | None = None, headroom: float = 8.0, below: float = 6.0,
                    area_per_lipid: float = 1.2, tethers: TetherSpec | None = None, seed: int = 0) -> Structure:
    """An MVB with ILVs under a PM patch (see the module docstring).

    Parameters
    ----------
    size
        Lateral box edges (sigma); the PM spans them.
    mvb_radius
        Midplane radius of the MVB (sigma, >= 5).
    gap
        Distance (sigma) between the facing head surfaces of the PM and the MVB at their closest
        (0: touching heads).
    ilvs
        The ILVs in the MVB lumen: one at its centre, several on a horizontal ring (:func:`ilv_centres`).
    pm_upper, pm_lower
        Compositions of the PM's extracellular and cytosolic leaflets (``pm_lower`` defaults to
        ``pm_upper``; asymmetric PMs need a flip-suppressed lipid to stay so).
    mvb_outer, mvb_inner
        Compositions of the MVB's cytosolic (outer) and luminal (inner) leaflets.
    headroom, below
        Free space (sigma) above the PM's heads (extracellular) and below the MVB's heads (cytosol)
        to the box's z faces.
    tethers
        SNARE-like tethers between the PM and the MVB around the point of the PM nearest the MVB
        (:func:`~exomembrane.builders.tethers.tether`); None: no tethers.
    area_per_lipid, seed
        As the other builders.

    Returns
    -------
    The :class:`~exomembrane.model.structure.Structure`, membranes ``plasma``, ``mvb`` and
    ``ilv0``, ``ilv1``, ... with their compartments.

    Example
    -------
    >>> s = mvb_at_membrane(load_forcefield(), 40.0, mvb_radius=12.0, ilvs=[Ilv(radius=5.0)])
    >>> s.compartments
    ('extracellular', 'cytosol', 'mvb_lumen', 'ilv_lumen')
    """
    lx, ly = (float(size), float(size)) if isinstance(size, (int, float)) else (float(size[0]), float(size[1]))
    for name, v in (("size", min(lx, ly)), ("headroom", headroom), ("below", below)):
        if not v > 0:
            raise ConfigError(f"{name}: must be > 0 (got {v!r})")
    if not gap >= 0:
        raise ConfigError(f"gap: must be >= 0 sigma (got {gap!r})")
    if not mvb_radius >= 5.0:
        raise ConfigError(f"mvb_radius: must be >= 5 sigma for a closed bilayer (got {mvb_radius!r})")
    if 2 * (mvb_radius + HALF) + 2.0 > min(lx, ly):
        raise ConfigError(f"mvb_radius: an MVB of midplane radius {mvb_radius} sigma needs lateral box edges of at "
                          f"least {2 * (mvb_radius + HALF) + 2.0:.1f} sigma (got size {lx:g} x {ly:g}); raise size")
    built = [_ilv(ff, spec, k, area_per_lipid, seed + 2 + k) for k, spec in enumerate(ilvs)]
    offsets = ilv_centres(mvb_radius, [r for _, r in built])
    zc = below + HALF + mvb_radius
    z_pm = zc + mvb_radius + 2 * HALF + gap
    box_z = z_pm + HALF + headroom
    pm = bilayer(ff, (lx, ly), upper=pm_upper, lower=pm_upper if pm_lower is None else pm_lower,
                 area_per_lipid=area_per_lipid, box_z=box_z, seed=seed)
    box = np.array([pm.box[0], pm.box[1], box_z])  # the PM's lattice sets the lateral edges (~ size)
    centre = np.array([box[0] / 2, box[1] / 2, zc])
    mvb = vesicle(ff, mvb_radius, outer=mvb_outer, inner=mvb_inner, area_per_lipid=area_per_lipid, seed=seed + 1)
    parts: list[tuple[Structure, np.ndarray]] = [
        (pm, np.array([0.0, 0.0, z_pm - pm.box[2] / 2])), (mvb, centre - mvb.box / 2)]
    membranes = [Membrane("plasma", {"+z": EXTRACELLULAR, "-z": CYTOSOL}),
                 Membrane("mvb", {"outside": CYTOSOL, "inside": MVB_LUMEN})]
    for k, ((ilv, _), at) in enumerate(zip(built, offsets)):
        parts.append((ilv, centre + at - ilv.box / 2))
        membranes.append(Membrane(f"ilv{k}", {"outside": MVB_LUMEN, "inside": ILV_LUMEN}))
    s = combine(parts, box, membranes, list(range(len(parts))))
    s = replace(s, confined=s.membrane >= 2)  # the ILVs: z walls keep released ones extracellular
    if tethers is not None:
        s = tether(s, tethers, z_pm, centre, mvb_radius, seed=seed + 1000)
    return s


def _ilv(ff: ForceField, spec: Ilv, k: int, area_per_lipid: float, seed: int) -> tuple[Structure, float]:
    """ILV ``k`` (centred in its own box) and its midplane radius (sigma): from its run, or built."""
    if spec.run is not None:
        return ilv_from_run(ff, spec.run, f"ilvs.{k}.run")
    ilv = vesicle(ff, spec.radius, outer=spec.outer, inner=spec.inner, area_per_lipid=area_per_lipid, seed=seed)
    if spec.proteins:
        try:
            ilv = place_on(ilv, {"inside": CYTOSOL, "outside": "lumen"}, spec.proteins, seed)
        except ConfigError as err:
            raise ConfigError(f"ilvs.{k}.{err}") from None
    return ilv, spec.radius


@register
class MvbFusionSection(Section):
    """``builder.kind: mvb_fusion``: an MVB with ILVs in the cytosol under a plasma-membrane patch
    (:func:`mvb_at_membrane`); lengths in sigma."""

    kind: Literal["mvb_fusion"]
    size: Annotated[tuple[PositiveFloat, PositiveFloat], BeforeValidator(repeat(2))] = (60.0, 60.0)
    mvb_radius: float = Field(default=20.0, ge=5.0)
    gap: NonNegativeFloat = 2.0
    ilvs: list[Ilv] = [Ilv()]
    pm_upper: CompositionField = {"LIP": 1.0}
    pm_lower: CompositionField | None = None
    mvb_outer: CompositionField = {"LIP": 1.0}
    mvb_inner: CompositionField | None = None
    headroom: PositiveFloat = 8.0
    below: PositiveFloat = 6.0
    area_per_lipid: PositiveFloat = 1.2
    tethers: TetherSpec | None = None
    seed: NonNegativeInt = 0
    LEAFLETS: ClassVar[tuple[str, ...]] = ("pm_upper", "pm_lower", "mvb_outer", "mvb_inner")

    def compositions(self) -> dict[str, dict[str, float]]:
        out = {k: v for k, v in super().compositions().items() if v is not None}
        for k, ilv in enumerate(self.ilvs):
            out[f"ilvs.{k}.outer"] = ilv.outer
            if ilv.inner is not None:
                out[f"ilvs.{k}.inner"] = ilv.inner
        return out

    def parameters(self) -> tuple[str, ...]:
        return (ZIPPER,) if self.tethers is not None else ()

    def placements(self) -> dict[str, Placement]:
        return {f"ilvs.{k}.proteins.{j}": p for k, ilv in enumerate(self.ilvs) for j, p in enumerate(ilv.proteins)}

    def build(self, ff: ForceField) -> Structure:
        options: dict[str, Any] = {k: getattr(self, k) for k in (
            "mvb_radius", "gap", "ilvs", "pm_upper", "pm_lower", "mvb_outer", "mvb_inner", "headroom", "below",
            "area_per_lipid", "tethers", "seed")}
        return mvb_at_membrane(ff, self.size, **options)
