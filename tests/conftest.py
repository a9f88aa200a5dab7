"""Shared fixtures: the force field and a `platform` fixture over every platform present here."""
from __future__ import annotations

import openmm as mm
import pytest

import exomembrane as em

PLATFORMS = ("Reference", "CPU", "OpenCL", "CUDA")


def _present(name: str) -> bool:
    try:
        mm.Platform.getPlatformByName(name)
        return True
    except Exception:  # noqa: BLE001 - OpenMM raises a plain Exception
        return False


@pytest.fixture(scope="session")
def ff() -> em.ForceField:
    return em.load_forcefield()


@pytest.fixture(params=PLATFORMS)
def platform(request: pytest.FixtureRequest) -> str:
    """Each OpenMM platform; those absent here are skipped with the reason."""
    name = request.param
    if not _present(name):
        pytest.skip(f"OpenMM platform {name} not available here "
                    f"({'no CUDA device/plugin' if name == 'CUDA' else 'install pocl-opencl-icd for OpenCL on the CPU'})")
    return name
