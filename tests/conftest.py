"""Shared fixtures: the force field, the force field with an extra polymer species (`ff_angles`), and a
`platform` fixture over every platform present here."""
from __future__ import annotations

import openmm as mm
import pytest

import exomembrane as em

PLATFORMS = ("Reference", "CPU", "OpenCL", "CUDA")


def present(name: str) -> bool:
    """Whether OpenMM has the platform ``name`` here."""
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
    if not present(name):
        pytest.skip(f"OpenMM platform {name} not available here "
                    f"({'no CUDA device/plugin' if name == 'CUDA' else 'install pocl-opencl-icd for OpenCL on the CPU'})")
    return name


@pytest.fixture(scope="session")
def ff_angles(tmp_path_factory) -> em.ForceField:
    """The force field plus a polymer with harmonic bonds (explicit r0), angles and a FENE bond."""
    f = tmp_path_factory.mktemp("sp") / "ang.yaml"
    f.write_text("name: ANG\nkind: polymer\nbeads: [{name: A1, type: R, xyz: [0, 0, 0]},"
                 " {name: A2, type: R, xyz: [1, 0, 0]}, {name: A3, type: CF, xyz: [1.5, 0.8, 0]},"
                 " {name: A4, type: R, xyz: [1.2, 1.7, 0.3]}]\n"
                 "bonds: [{i: 0, j: 1, r0: 1.1, k: 80}, {i: 1, j: 2, r0: 0.9, k: 60}]\n"
                 "angles: [{i: 0, j: 1, l: 2, theta0: 120, k: 15}, {i: 1, j: 2, l: 3, theta0: 100, k: 25}]\n"
                 "fene: [[2, 3]]\n")
    return em.load_forcefield(species=(f,))
