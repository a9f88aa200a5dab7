"""The pair force as a native OpenMM plugin: hand-written kernels for the CPU, CUDA and OpenCL.

OpenMM evaluates a ``CustomNonbondedForce`` through its generic expression machinery (on the CPU
platform) or an expression compiled into its nonbonded kernel (CUDA, OpenCL). The same pair
potential as a plugin (``cooke_pair.h``) has a vectorised CPU kernel with its own neighbour list
(``cooke_pair.cpp``) and one kernel source for CUDA and OpenCL that writes the pair term out by
hand inside the platform's nonbonded kernel (``cooke_pair_gpu.cpp``).

Each library is compiled on first use with the C++ compiler of the machine (``$CXX``, else
``g++``) against the headers and libraries that ship in the OpenMM wheel (the CUDA one also needs
the CUDA toolkit's ``cuda.h``, the OpenCL one the OpenCL headers), and cached (``$EXOMEMBRANE_CACHE``,
else ``~/.cache/exomembrane``; a file per source, platform, OpenMM version and CPU, written
atomically, so parallel workers and shared home folders are safe). Where a library cannot be built
or loaded, :func:`load` says why and that platform uses the ``CustomNonbondedForce``, which gives
the same energies. ``EXOMEMBRANE_NATIVE=0`` turns the plugin off.

``python -m exomembrane.engine.native`` builds what this machine can use and prints the outcome (``make
setup`` does this).
"""
from __future__ import annotations

import hashlib
import os
import platform as _platform
import shutil
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path

import numpy as np
import openmm as mm

HERE = Path(__file__).parent
SOURCES = {"CPU": HERE / "cooke_pair.cpp", "OpenCL": HERE / "cooke_pair_gpu.cpp", "CUDA": HERE / "cooke_pair_gpu.cpp"}
HEADER = HERE / "cooke_pair.h"
#: What the native kernel is on each platform that has one.
KERNELS = {"CPU": "vectorised CPU kernel", "OpenCL": "hand-written OpenCL pair term",
           "CUDA": "hand-written CUDA pair term"}
_loaded: set[Path] = set()  # a library is loaded into OpenMM once per process


def _openmm_dirs() -> tuple[Path, Path]:
    lib = Path(mm.version.openmm_library_path)
    return lib.parent / "include", lib


def _cpu_signature() -> str:
    flags = ""
    try:
        flags = next((ln for ln in Path("/proc/cpuinfo").read_text().splitlines() if ln.startswith("flags")), "")
    except OSError:
        pass
    return f"{_platform.machine()} {flags}"


def library_path(platform: str = "CPU") -> Path:
    """Where the plugin library for ``platform``, built for this source, OpenMM version and CPU, is cached."""
    key = hashlib.sha256(HEADER.read_bytes() + SOURCES[platform].read_bytes() + platform.encode()
                         + mm.__version__.encode() + _cpu_signature().encode()).hexdigest()[:16]
    cache = Path(os.environ.get("EXOMEMBRANE_CACHE") or Path.home() / ".cache" / "exomembrane")
    return cache / f"libexomembrane_pair_{platform.lower()}_{key}.so"


def _find_header(name: str, roots: list[str | None]) -> Path | None:
    for root in roots:
        if root and (Path(root) / name).is_file():
            return Path(root)
    return None


def _platform_flags(platform: str, include: Path, lib: Path) -> list[str]:
    """Compiler flags particular to ``platform``'s library; RuntimeError saying what is missing."""
    if platform == "CPU":
        if not (include / "openmm" / "cpu" / "CpuPlatform.h").is_file():
            raise RuntimeError(f"the OpenMM installation has no CPU platform headers under {include}")
        return [f"-I{include / 'openmm' / 'cpu'}", f"-I{include / 'openmm' / 'reference'}", "-lOpenMMCPU"]
    name = {"OpenCL": "OpenMMOpenCL", "CUDA": "OpenMMCUDA"}[platform]
    if not (lib / "plugins" / f"lib{name}.so").is_file():
        raise RuntimeError(f"the OpenMM installation has no {platform} platform library (lib{name}.so)")
    homes = [os.environ.get("CUDA_HOME"), os.environ.get("CUDA_PATH")]
    cuda_roots = [f"{r}/include" for r in homes if r] + ["/usr/local/cuda/include", f"{sys.prefix}/include"]
    if platform == "OpenCL":
        found = _find_header("CL/cl.h", ["/usr/include", "/usr/local/include", *cuda_roots])
        if found is None:
            raise RuntimeError("no OpenCL headers (CL/cl.h; install them, e.g. apt-get install opencl-c-headers)")
        return [f"-I{found}", f"-I{include / 'openmm' / 'opencl'}", f"-l{name}"]
    wheels = [str(p) for p in Path(sys.prefix).glob("lib/python*/site-packages/nvidia/*/include")]
    found = _find_header("cuda.h", [*cuda_roots, "/usr/include", *wheels])
    if found is None:
        raise RuntimeError("no CUDA toolkit headers (cuda.h; set CUDA_HOME to the toolkit)")
    return ["-DCOOKE_CUDA", f"-I{found}", f"-I{include / 'openmm' / 'cuda'}", f"-l{name}"]


def build(platform: str = "CPU") -> Path:
    """Compile the plugin library for ``platform`` if it is not cached; returns its path. Raises
    RuntimeError saying why not."""
    target = library_path(platform)
    if target.is_file():
        return target
    compiler = os.environ.get("CXX") or "g++"
    if shutil.which(compiler) is None:
        raise RuntimeError(f"no C++ compiler ({compiler!r} not found; install g++, e.g. apt-get install g++)")
    include, lib = _openmm_dirs()
    flags = _platform_flags(platform, include, lib)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        out = Path(tmp) / target.name
        command = [compiler, "-O3", "-march=native", "-fno-math-errno", "-Wno-deprecated-declarations",
                   "-std=c++17", "-shared", "-fPIC", f"-I{include}", f"-I{include / 'openmm' / 'common'}",
                   *[f for f in flags if not f.startswith("-l")],
                   str(SOURCES[platform]), f"-L{lib}", f"-L{lib / 'plugins'}", "-lOpenMM",
                   *[f for f in flags if f.startswith("-l")], f"-Wl,-rpath,{lib}:{lib / 'plugins'}", "-o", str(out)]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.SubprocessError) as err:
            raise RuntimeError(f"compiling {SOURCES[platform].name} failed: {err}") from None
        if done.returncode != 0:
            errors = [ln for ln in done.stderr.splitlines() if "error" in ln] or done.stderr.strip().splitlines()[-5:]
            raise RuntimeError(f"compiling {SOURCES[platform].name} for {platform} failed: {' / '.join(errors)[:2000]}")
        os.replace(out, target)
    return target


@cache
def load(platform: str = "CPU") -> str | None:
    """Build (once) and load the plugin with ``platform``'s kernel into OpenMM; None when it is
    usable on that platform, else why not."""
    if os.environ.get("EXOMEMBRANE_NATIVE", "1").strip() == "0":
        return "turned off by EXOMEMBRANE_NATIVE=0"
    if platform not in SOURCES:
        return f"no native kernel for the {platform} platform"
    try:
        mm.Platform.getPlatformByName(platform)
    except Exception:  # noqa: BLE001 - OpenMM raises a plain Exception
        return f"OpenMM's {platform} platform is not available"
    if platform != "CPU" and (why := load("CPU")) is not None:  # the Force itself lives in the CPU library
        return why
    try:
        path = build(platform)
        if path not in _loaded:
            mm.Platform.loadPluginLibrary(str(path))
            _loaded.add(path)
    except (RuntimeError, OSError, mm.OpenMMException) as err:
        return str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return None


def pair_force(types: list[str], bead_type: np.ndarray, sizes: np.ndarray, attraction: dict[tuple[int, int],
               tuple[int, float | None]], parameters: dict[str, float], epsilon: float, cutoff: float,
               exclusions: np.ndarray, replica: np.ndarray | None = None) -> mm.Force:
    """The pair force (the plugin's ``CookePairForce``; call :func:`load` first).

    Parameters
    ----------
    types
        Bead type names; ``bead_type`` (n_beads,) indexes into them.
    sizes
        (n_types, n_types) WCA sizes (sigma).
    attraction
        ``(a, b) -> (index into parameters, range in sigma or None for w_c)`` for attracting pairs.
    parameters
        Global parameters (name -> default), ``w_c`` among them.
    epsilon, cutoff
        WCA strength (eps) and the pair cutoff (sigma).
    exclusions
        (n, 2) bead pairs that do not interact.
    replica
        (n_beads,) copy of each bead in a replica batch; beads of different copies do not interact.
    """
    n = len(types)
    rows = []
    for a in range(n):
        for b in range(a, n):
            index, w = attraction.get((a, b), (-1, None))
            rows.append(f'<Pair a="{a}" b="{b}" size="{float(sizes[a, b])!r}" eps="{index}" '
                        f'w="{-1.0 if w is None else float(w)!r}"/>')
    params = "".join(f'<Parameter name="{k}" default="{float(v)!r}"/>' for k, v in parameters.items())
    xml = (f'<Force type="CookePairForce" version="1" forceGroup="0" name="pair" types="{n}" '
           f'epsilon="{float(epsilon)!r}" cutoff="{float(cutoff)!r}" '
           f'particles="{" ".join(map(str, np.asarray(bead_type).tolist()))}" '
           f'replicas="{"" if replica is None else " ".join(map(str, np.asarray(replica).tolist()))}" '
           f'exclusions="{" ".join(map(str, np.asarray(exclusions, int).ravel().tolist()))}">'
           f'<Pairs>{"".join(rows)}</Pairs><GlobalParameters>{params}</GlobalParameters></Force>')
    return mm.XmlSerializer._deserializeForce(xml)


def main() -> int:
    for name in KERNELS:
        why = load(name)
        print(f"native pair kernel, {name}: "
              f"{'built and loaded from ' + str(library_path(name)) if why is None else 'not used: ' + why}")
    return 0
