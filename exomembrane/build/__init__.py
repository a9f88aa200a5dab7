"""Builders of starting structures (vectorised numpy, deterministic under a seed)."""
from .bilayer import bilayer
from .gas import gas
from .vesicle import vesicle

__all__ = ["bilayer", "gas", "vesicle"]
