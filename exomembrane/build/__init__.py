"""Builders of starting structures (vectorised numpy, deterministic under a seed)."""
from .bilayer import bilayer
from .gas import gas
from .mvb import mvb_patch, mvb_vesicle
from .place import Domain, Placement, place, with_domain
from .vesicle import vesicle

__all__ = ["Domain", "Placement", "bilayer", "gas", "mvb_patch", "mvb_vesicle", "place", "vesicle", "with_domain"]
