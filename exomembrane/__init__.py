"""exomembrane: coarse-grained membrane simulations of the exosome life cycle on OpenMM."""
from . import build
from .config import ConfigError
from .engine import Simulation, create_simulation, set_kT, temperature
from .forcefield import ForceField, Species, load_forcefield
from .health import SimulationError
from .platform import select_platform
from .structure import Structure
from .system import create_system

__version__ = "0.1.0"
__all__ = ["ConfigError", "ForceField", "Simulation", "SimulationError", "Species", "Structure", "build",
           "create_simulation", "create_system", "load_forcefield", "select_platform", "set_kT", "temperature"]
