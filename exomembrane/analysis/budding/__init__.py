"""Act 1, inward budding of an intraluminal vesicle (ILV): bud height and direction, neck
(:mod:`.geometry`), scission (:mod:`.scission`), ILV size, cargo (:mod:`.cargo`), all together
(:mod:`.summary`).

The two sides of the membrane are data given by the caller, never guessed from coordinates:

- a flat periodic patch (membrane roughly normal to z): ``lumen="+z"`` or ``"-z"`` says on which side
  of the base plane the MVB lumen lies (the other side is the cytosol). In a periodic box both sides
  meet through the z boundary, so a side is the sign of the minimum-image height from the base
  plane: buds must stay shorter than half the box height.
- a closed membrane (an MVB): ``lumen="inside"`` (inward budding = toward its centre), or
  ``"outside"`` for a closed membrane whose lumen is outside it.

Inward (ILV) budding is direction +1: the membrane bulges into the lumen. Lengths in nm (= sigma).
All functions work on the largest membrane (:func:`membrane_clusters` label 0) unless given a
lipid mask, handle orthorhombic periodic boxes (buds and vesicles may straddle the boundary), and
assume one bud at a time.
"""
from .cargo import cargo_enrichment
from .fission import separation
from .geometry import bud_geometry
from .scission import scission
from .summary import budding_summary

__all__ = ["bud_geometry", "budding_summary", "cargo_enrichment", "scission", "separation"]
