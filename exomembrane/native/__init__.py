"""The pair force as a native OpenMM plugin (``cooke_pair.cpp``): a vectorised CPU kernel.

OpenMM's CPU platform evaluates a ``CustomNonbondedForce`` through its generic expression
machinery; the same pair potential written as a plugin kernel runs faster (``exomembrane bench``).
The plugin is compiled on first use with the C++ compiler of the machine (``$CXX``, else ``g++``)
against the headers and libraries that ship in the OpenMM wheel, for this machine's CPU, and
cached (``$EXOMEMBRANE_CACHE``, else ``~/.cache/exomembrane``; a file per source, OpenMM version
and CPU, written atomically, so parallel workers and shared home folders are safe). Where it
cannot be built or loaded, :func:`load` says why and the CPU platform uses the
``CustomNonbondedForce``, which gives the same energies. ``EXOMEMBRANE_NATIVE=0`` turns it off.

``python -m exomembrane.native`` builds it and prints the outcome (``make setup`` does this).
"""
from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np
import openmm as mm

SOURCE = Path(__file__).with_name("cooke_pair.cpp")
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
    return f"{platform.machine()} {flags}"


def library_path() -> Path:
    """Where the plugin built for this source, OpenMM version and CPU is cached."""
    key = hashlib.sha256(SOURCE.read_bytes() + mm.__version__.encode() + _cpu_signature().encode()).hexdigest()[:16]
    cache = Path(os.environ.get("EXOMEMBRANE_CACHE") or Path.home() / ".cache" / "exomembrane")
    return cache / f"libexomembrane_pair_{key}.so"


def build() -> Path:
    """Compile the plugin if it is not cached; returns its path. Raises RuntimeError saying why not."""
    target = library_path()
    if target.is_file():
        return target
    compiler = os.environ.get("CXX") or "g++"
    if shutil.which(compiler) is None:
        raise RuntimeError(f"no C++ compiler ({compiler!r} not found; install g++, e.g. apt-get install g++)")
    include, lib = _openmm_dirs()
    if not (include / "openmm" / "cpu" / "CpuPlatform.h").is_file():
        raise RuntimeError(f"the OpenMM installation has no CPU platform headers under {include}")
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        out = Path(tmp) / target.name
        command = [compiler, "-O3", "-march=native", "-fno-math-errno", "-std=c++17", "-shared", "-fPIC",
                   f"-I{include}", f"-I{include / 'openmm' / 'cpu'}", f"-I{include / 'openmm' / 'reference'}",
                   str(SOURCE), f"-L{lib}", f"-L{lib / 'plugins'}", "-lOpenMM", "-lOpenMMCPU",
                   f"-Wl,-rpath,{lib}:{lib / 'plugins'}", "-o", str(out)]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=600)
        except (OSError, subprocess.SubprocessError) as err:
            raise RuntimeError(f"compiling {SOURCE.name} failed: {err}") from None
        if done.returncode != 0:
            raise RuntimeError(f"compiling {SOURCE.name} failed: {done.stderr.strip()[-2000:]}")
        os.replace(out, target)
    return target


@lru_cache(maxsize=None)
def load() -> str | None:
    """Build (once) and load the plugin into OpenMM; None when it is usable, else why not."""
    if os.environ.get("EXOMEMBRANE_NATIVE", "1").strip() == "0":
        return "turned off by EXOMEMBRANE_NATIVE=0"
    try:
        mm.Platform.getPlatformByName("CPU")
    except Exception:  # noqa: BLE001 - OpenMM raises a plain Exception
        return "OpenMM's CPU platform is not available"
    try:
        path = build()
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
    why = load()
    print(f"native pair kernel: {'built and loaded from ' + str(library_path()) if why is None else 'not used: ' + why}")
    return 0
