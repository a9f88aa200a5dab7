"""exomembrane: coarse-grained membrane simulations of the exosome life cycle on OpenMM.

Layers, each importing only those before it (``docs/architecture.md``): ``config`` and
``checks`` -> ``model`` (force field, structure) -> ``builders`` -> ``engine`` (OpenMM System,
platforms, integrators, native kernels) -> ``scenario`` -> ``run`` (run directories, batches,
the headless runner, reports) -> ``sweep``; ``analysis`` needs only ``config``/``checks``;
``notebook`` (nglview, ipywidgets), ``bench`` and ``cli`` sit on top.
"""
from __future__ import annotations

import warnings
from typing import Any

from exomembrane import builders
from exomembrane.config import ConfigError
from exomembrane.engine.health import SimulationError
from exomembrane.engine.platform import select_platform
from exomembrane.engine.simulation import Simulation, create_simulation, set_kT, temperature
from exomembrane.engine.system import create_system
from exomembrane.model.forcefield import ForceField, Species, load_forcefield
from exomembrane.model.structure import Structure
from exomembrane.version import __version__

__all__ = ["ConfigError", "ForceField", "Simulation", "SimulationError", "Species", "Structure", "__version__",
           "builders", "create_simulation", "create_system", "load_forcefield", "select_platform", "set_kT",
           "temperature"]


def __getattr__(name: str) -> Any:
    if name == "build":  # the builders' package was called ``build`` up to 0.1
        warnings.warn("exomembrane.build is now exomembrane.builders (em.builders.bilayer(...)); "
                      "the old name will be removed", DeprecationWarning, stacklevel=2)
        return builders
    raise AttributeError(f"module 'exomembrane' has no attribute {name!r}")
