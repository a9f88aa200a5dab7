"""Builders of starting structures (vectorised numpy, deterministic under a seed), each module a
builder function with its scenario section registered in :mod:`.registry`."""
# The import order below is the registration order, i.e. the order of the kinds in messages.
# isort: skip_file
from .bilayer import bilayer
from .vesicle import vesicle
from .place import Domain, Placement, place, with_domain
from .mvb import mvb_patch, mvb_vesicle
from .gas import gas
from .tethers import TetherSpec, tether
from .fusion import Ilv, mvb_at_membrane
from .uptake import Surface, TargetDomain, exosome_at_cell

__all__ = ["Domain", "Ilv", "Placement", "Surface", "TargetDomain", "TetherSpec", "bilayer", "exosome_at_cell", "gas",
           "mvb_at_membrane", "mvb_patch", "mvb_vesicle", "place", "tether", "vesicle", "with_domain"]
