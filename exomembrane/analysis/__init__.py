"""Trajectory analysis: pure functions over ``mdtraj.Trajectory`` returning numpy arrays or small
frozen dataclasses.

Lengths in nm (= sigma), times in ps (= tau). Lipids are residues whose first atom is named ``H``
(see :func:`lipid_indices`); other residues are ignored. Boxes must be orthorhombic; lipids may
be split across the periodic boundary. Shared helpers are public: :mod:`.pbc` (periodic
boundaries), :mod:`.selection` (lipids by role, species), :mod:`.surface` (reference surface),
:mod:`.enrichment`, :mod:`.clusters`, :mod:`.leaflets`; each act has a folder (:mod:`.budding`).
"""
from .adsorption import adsorbed
from .area import area_per_lipid
from .budding import bud_geometry, budding_summary, cargo_enrichment, scission, separation
from .budding.fission import Separation
from .budding.geometry import BudGeometry
from .budding.scission import Scission
from .budding.summary import BuddingSummary
from .clusters import count_membranes, membrane_clusters
from .diffusion import diffusion_coefficient, lateral_msd
from .enrichment import Enrichment, pooled_enrichment
from .flipflop import flip_flops
from .leaflets import assign_leaflets
from .line_tension import LineTension, line_tension
from .order import lipid_order
from .selection import lipid_indices
from .shape import vesicle_radius, vesicle_shape
from .topology import Topology, topology
from .undulation import bending_rigidity, height_field, undulation_spectrum

__all__ = ["BudGeometry", "BuddingSummary", "Enrichment", "LineTension", "Scission", "Separation", "Topology",
           "adsorbed", "area_per_lipid", "assign_leaflets", "bending_rigidity", "bud_geometry", "budding_summary",
           "cargo_enrichment", "count_membranes", "diffusion_coefficient", "flip_flops", "height_field",
           "lateral_msd", "line_tension", "lipid_indices", "lipid_order", "membrane_clusters", "pooled_enrichment",
           "scission",
           "separation", "topology", "undulation_spectrum", "vesicle_radius", "vesicle_shape"]
