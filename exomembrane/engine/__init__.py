"""OpenMM assembly and integration: the System from a structure (:mod:`.system`), native pair
kernels (:mod:`.native`), platform choice (:mod:`.platform`), integrators and protocols
(:mod:`.simulation`) and blow-up diagnosis (:mod:`.health`)."""
from exomembrane.engine.health import SimulationError
from exomembrane.engine.platform import select_platform
from exomembrane.engine.simulation import Simulation, create_simulation, set_kT, temperature
from exomembrane.engine.system import create_system

__all__ = ["Simulation", "SimulationError", "create_simulation", "create_system", "select_platform", "set_kT",
           "temperature"]
