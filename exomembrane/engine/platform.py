"""Choice of the OpenMM platform: explicit > environment > fastest usable (CUDA > OpenCL > CPU)."""
from __future__ import annotations

import os
import platform as host
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import openmm as mm

from exomembrane.config import ConfigError

ORDER = ("CUDA", "OpenCL", "CPU")
ALL = ("CUDA", "OpenCL", "CPU", "Reference")
PRECISIONS = ("single", "mixed", "double")


@dataclass(frozen=True)
class PlatformChoice:
    """The platform picked, and in words why (including why faster ones were not)."""

    platform: mm.Platform
    reason: str

    @property
    def name(self) -> str:
        return self.platform.getName()


def _load_failure(name: str) -> str:
    failures = [f for f in mm.Platform.getPluginLoadFailures() if name.lower() in f.lower()]
    return failures[0].strip().splitlines()[0] if failures else "plugin not installed"


@cache
def _usable(name: str) -> str | None:
    """None if platform ``name`` can run here, else why not. OpenCL on a CPU device (PoCL) is
    reported unusable for speed: it runs the GPU kernels, but slower than the CPU platform."""
    try:
        plat = mm.Platform.getPlatformByName(name)
    except Exception:  # noqa: BLE001 - OpenMM raises a plain Exception
        return _load_failure(name)
    if name in ("CUDA", "OpenCL"):
        try:
            system = mm.System()
            system.addParticle(1.0)
            ctx = mm.Context(system, mm.VerletIntegrator(0.001), plat)
            device = plat.getPropertyValue(ctx, "DeviceName")
            vendor = plat.getPropertyValue(ctx, "OpenCLPlatformName") if name == "OpenCL" else ""
            del ctx
        except Exception as err:  # noqa: BLE001
            return f"no usable device ({str(err).strip().splitlines()[0]})"
        if name == "OpenCL" and ("Portable Computing Language" in vendor or "pthread" in device):
            return f"only a CPU OpenCL device ({device}, {vendor}); slower than the CPU platform"
    return None


def available() -> dict[str, str | None]:
    """Each platform name mapped to None (usable) or the reason it is not."""
    return {name: _usable(name) for name in ALL}


def select_platform(name: str | None = None) -> PlatformChoice:
    """Pick a platform.

    ``name`` (any case) wins, then ``EXOMEMBRANE_PLATFORM``, then ``OPENMM_DEFAULT_PLATFORM``,
    then the fastest usable of CUDA, OpenCL, CPU. An explicit choice of OpenCL on PoCL is honoured.
    """
    for source, value in (("argument", name), ("EXOMEMBRANE_PLATFORM", os.environ.get("EXOMEMBRANE_PLATFORM")),
                          ("OPENMM_DEFAULT_PLATFORM", os.environ.get("OPENMM_DEFAULT_PLATFORM"))):
        if value:
            match = {p.lower(): p for p in ALL}.get(value.lower())
            if match is None:
                raise ConfigError(f"platform: {value!r} (from {source}) is not a platform; allowed: {list(ALL)}")
            try:
                plat = mm.Platform.getPlatformByName(match)
            except Exception:  # noqa: BLE001
                raise ConfigError(f"platform: {match} (from {source}) is not available here: "
                                  f"{_load_failure(match)}") from None
            return PlatformChoice(plat, f"{match} requested by {source}")
    skipped: list[str] = []
    for candidate in ORDER:
        why = _usable(candidate)
        if why is None:
            reason = f"{candidate}: fastest usable platform"
            if skipped:
                reason += " (" + "; ".join(skipped) + ")"
            return PlatformChoice(mm.Platform.getPlatformByName(candidate), reason)
        skipped.append(f"{candidate} not used: {why}")
    return PlatformChoice(mm.Platform.getPlatformByName("Reference"), "; ".join(skipped))


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``, else what Python's ``platform`` module knows)."""
    try:
        return next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name"))
    except (OSError, StopIteration):
        return host.processor() or host.machine()


def properties(choice: PlatformChoice, precision: str = "mixed", deterministic: bool = False,
               device: int | None = None) -> dict[str, str]:
    """Platform properties for ``precision`` (CUDA/OpenCL), deterministic forces (CPU/CUDA) and the
    GPU to use (``device``, OpenMM's ``DeviceIndex``; None: ``EXOMEMBRANE_DEVICE`` if set, else
    OpenMM's choice). ``device`` is ignored on the CPU and Reference platforms."""
    if precision not in PRECISIONS:
        raise ConfigError(f"precision: {precision!r} is not allowed; allowed: {list(PRECISIONS)}")
    if device is None and os.environ.get("EXOMEMBRANE_DEVICE", "").strip():
        value = os.environ["EXOMEMBRANE_DEVICE"].strip()
        if not value.isdigit():
            raise ConfigError(f"EXOMEMBRANE_DEVICE: must be a device index >= 0 (got {value!r})")
        device = int(value)
    if device is not None and not (isinstance(device, int) and device >= 0):
        raise ConfigError(f"device: must be a device index >= 0 (got {device!r})")
    props: dict[str, str] = {}
    if choice.name in ("CUDA", "OpenCL", "HIP"):
        props["Precision"] = precision
        if device is not None:
            props["DeviceIndex"] = str(device)
    if deterministic and choice.name in ("CUDA", "CPU", "HIP"):
        props["DeterministicForces"] = "true"
    return props
