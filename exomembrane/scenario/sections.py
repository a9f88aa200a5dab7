"""The sections of a scenario file besides the builder: force field, run settings, report intervals,
protocol keyframes."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, NonNegativeFloat, NonNegativeInt, PositiveFloat, PositiveInt

from exomembrane.config import Strict
from exomembrane.engine.platform import ALL

SEED_MAX = 2**31 - 1  # OpenMM seeds are 32-bit ints; 0 would mean "pick one at random"


def _platform_name(value: Any) -> Any:
    return {p.lower(): p for p in ALL}.get(value.lower(), value) if isinstance(value, str) else value


class ForceFieldSection(Strict):
    """Force field by name (``forcefields/<name>.yaml``) or path, extra species files, w_c override
    and starting values of pair-table parameters (``{eps_T_T: 1.1, ...}``, eps)."""

    name: str = "cooke"
    species: list[str] = []
    w_c: PositiveFloat | None = None  # sigma; None: the force field's
    params: dict[str, NonNegativeFloat] = {}


class Report(Strict):
    """Steps between trajectory frames, thermo rows and checkpoints."""

    trajectory: PositiveInt = 1000
    thermo: PositiveInt = 100
    checkpoint: PositiveInt = 10000


class RunSection(Strict):
    """Thermostat, barostat, time step, length, seed and platform of a run."""

    kT: PositiveFloat = 1.1  # eps
    dt: PositiveFloat = 0.01  # tau
    friction: NonNegativeFloat = 1.0  # 1/tau
    integrator: Literal["langevin", "dpd", "verlet"] = "langevin"
    tension: NonNegativeFloat | None = None  # eps/sigma^2; None: constant area
    barostat_interval: PositiveInt = 100
    steps: NonNegativeInt = 10000
    seed: int | None = Field(default=None, ge=1, le=SEED_MAX)  # None: drawn when a run is created
    platform: Annotated[Literal["CUDA", "OpenCL", "CPU", "Reference"] | None, BeforeValidator(_platform_name)] = None
    precision: Literal["single", "mixed", "double"] = "mixed"
    device: NonNegativeInt | None = None  # GPU index (CUDA/OpenCL DeviceIndex); None: EXOMEMBRANE_DEVICE or OpenMM's
    deterministic: bool = False
    health_interval: NonNegativeInt = 1000
    report: Report = Report()


Keyframes = Annotated[list[tuple[NonNegativeFloat, float]], Field(min_length=1)]
