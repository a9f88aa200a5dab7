"""The model as data: bead types, pair table and species (:mod:`.forcefield`), and a starting
structure of molecules with positions and a box (:mod:`.structure`). Imports no OpenMM assembly."""
from exomembrane.model.forcefield import ForceField, Species, load_forcefield
from exomembrane.model.structure import Structure

__all__ = ["ForceField", "Species", "Structure", "load_forcefield"]
