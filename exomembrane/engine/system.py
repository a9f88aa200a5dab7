"""The OpenMM System of a :class:`~exomembrane.structure.Structure`: one force per term.

Pair potential between beads of types A and B at distance r (all pairs but those joined by a
harmonic bond or an elastic network):

    WCA    epsilon * max(0, 2 (b/r)^6 - 1)^2         (= 4 eps[(b/r)^12 - (b/r)^6 + 1/4], r < 2^(1/6) b)
    well   -eps_AB                                   for r < r_c = 2^(1/6) b
           -eps_AB cos^2(pi (r - r_c) / (2 w_AB))    for r_c <= r <= r_c + w_AB

with b, eps_AB and w_AB from the pair table (:class:`~exomembrane.forcefield.ForceField`). The
expression is generated for the bead types present: each attraction entry is one
``eps * delta(t1 - A) * delta(t2 - B)`` term on a per-bead type index ``t`` (measured on the CPU
platform, 21.6k-bead bilayer: one entry costs the same as the former per-species expression, ten
entries 13 % more; ``Discrete2DFunction`` tables cost 40-45 %), WCA sizes come from the per-bead
head flag and size by the mixing rule, corrected only for the pairs the table overrides.
"""
from __future__ import annotations

import numpy as np
import openmm as mm

from exomembrane.config import ConfigError
from exomembrane.model import filaments
from exomembrane.model.forcefield import WCA_FACTOR, ForceField, PairEntry
from exomembrane.model.structure import Structure
from exomembrane.model.tethers import ZIPPER

#: The filament-membrane binding term pairs binding beads with lipid heads through interaction groups
#: while their product is at most this many per bead, else through one neighbour list over all beads
#: with roles (CPU platform, 2 threads: groups cost ~9 ns a pair, the list ~0.5 us a bead; 5.2k beads
#: with 120 x 1.7k pairs: groups 1.2x faster; 51k beads with 920 x 16k: the list 5x).
BINDING_GROUP_PAIRS = 100
#: Force groups, one per term, so energies and failures can be attributed to a term.
TERMS = {"pair": 0, "fene": 1, "bend": 2, "bond": 3, "angle": 4, "wall": 5, "tether": 6, "filament": 7, "binding": 8}
#: Walls at the box's z faces that hold confined soluble molecules: k/2 (d - WALL_AT)^2 for a bead
#: closer than WALL_AT (sigma) to a face, k = WALL_K eps/sigma^2.
WALL_AT, WALL_K = 0.5, 100.0
MIXING = "select(h1 + h2, (h1*b1 + h2*b2)/(h1 + h2), 0.5*(b1 + b2))"


def _selector(index: dict[str, int], a: str, b: str) -> str:
    ia, ib = index[a], index[b]
    if ia == ib:
        return f"delta(t1 - {ia})*delta(t2 - {ia})"
    return f"(delta(t1 - {ia})*delta(t2 - {ib}) + delta(t1 - {ib})*delta(t2 - {ia}))"


def pair_expression(ff: ForceField, types: list[str]) -> tuple[str, list[PairEntry]]:
    """OpenMM expression of the pair potential among bead ``types`` (index = per-bead ``t``), and
    the table entries it uses (attraction entries first)."""
    index = {t: k for k, t in enumerate(types)}
    entries = [e for key, e in ff.pairs.items() if key <= set(types)]
    attract = [e for e in entries if e.attracts]
    sized = [e for e in entries if e.b is not None]
    ranged = [e for e in attract if e.w is not None]
    parts = [f"{ff.params.epsilon!r}*max(0, 2*(b/r)^6 - 1)^2"]
    defs = []
    if attract:
        parts.append(f"ea*0.5*(1 + cos(3.141592653589793*min(1, max(0, r - {WCA_FACTOR!r}*b)/w)))")
        defs.append("ea = " + " + ".join(f"{e.parameter}*{_selector(index, *e.types)}" for e in attract))
        w = "w_c" + "".join(f" + ({e.w!r} - w_c)*{_selector(index, *e.types)}" for e in ranged)
        defs.append(f"w = {w}")
    if sized:
        defs.append("b = bm" + "".join(f" + ({e.b!r} - bm)*{_selector(index, *e.types)}" for e in sized))
        defs.append(f"bm = {MIXING}")
    else:
        defs.append(f"b = {MIXING}")
    return " - ".join(parts) + ";" + ";".join(defs), attract + [e for e in entries if not e.attracts]


def pair_cutoff(ff: ForceField, types: list[str], w_c: float) -> float:
    """Largest reach (sigma) of the pair potential among bead ``types`` with ``w_c`` as the range."""
    reach = 0.0
    for a in types:
        for b in types:
            size = ff.pair_size(a, b)
            e = ff.pairs.get(frozenset((a, b)))
            w = (e.w or w_c) if e is not None and e.attracts else 0.0
            reach = max(reach, WCA_FACTOR * size + w)
    return reach


def w_c_limit(structure: Structure, cutoff: float) -> float:
    """Largest ``w_c`` (sigma) the pair ``cutoff`` (sigma) of ``structure``'s System allows."""
    ff = structure.forcefield
    types = structure.types
    sizes = [ff.pair_size(*e.types) for key, e in ff.pairs.items()
             if key <= set(types) and e.attracts and e.w is None]
    return cutoff - WCA_FACTOR * max(sizes, default=1.0)


def create_system(structure: Structure, w_c_max: float | None = None, replicas: int = 1,
                  native: bool = False) -> mm.System:
    """Build the OpenMM System of ``structure`` with its force field.

    Parameters
    ----------
    structure
        Molecules and box (nm) from a builder.
    w_c_max
        Largest attraction range (sigma) the run will use for the entries on ``w_c``; sets the
        cutoff. Defaults to the force field's ``w_c``. ``w_c`` may be steered live up to it.
    replicas
        ``structure`` holds this many copies of one system stacked along z, each in its own slab
        of height ``box_z / replicas`` (see :mod:`exomembrane.run.batch`): beads of different copies
        do not interact (a per-bead replica index masks the pair force) and walls act per slab.
    native
        Use the plugin pair force (:mod:`exomembrane.engine.native`; its library for the platform the
        System will run on must be loaded) instead of the ``CustomNonbondedForce``: same
        energies, hand-written kernels.

    Returns
    -------
    openmm.System with forces named after :data:`TERMS` in their groups (``bond``, ``angle``,
    ``wall`` and ``tether`` only when the structure has such terms). Global parameters: ``w_c``,
    one per attraction entry of the pair table among the bead types present, and ``zipper``
    (1, see :mod:`exomembrane.model.tethers`) with tethers.
    """
    ff = structure.forcefield
    p = ff.params
    w_c = p.w_c
    w_c_max = w_c if w_c_max is None else w_c_max
    if not w_c_max >= w_c:
        raise ConfigError(f"w_c_max: {w_c_max} must be >= the force field's w_c = {w_c}")
    mass = structure.bead_arrays()[3]
    cutoff = pair_cutoff(ff, structure.types, w_c_max)
    box = structure.box
    if np.any(box < 2 * cutoff):
        raise ConfigError(f"box: {box.round(3).tolist()} sigma is smaller than twice the pair "
                          f"cutoff ({cutoff:.3f} sigma) in some direction; every box length must "
                          f"be >= {2 * cutoff:.3f}")

    system = mm.System()
    system.setDefaultPeriodicBoxVectors(mm.Vec3(box[0], 0, 0), mm.Vec3(0, box[1], 0), mm.Vec3(0, 0, box[2]))
    for m in mass.tolist():
        system.addParticle(m)

    bonds, r0, k = structure.harmonic_bonds()
    replica = np.arange(structure.n_beads) // (structure.n_beads // replicas) if replicas > 1 else None
    pair = _native_pair if native else _custom_pair
    system.addForce(pair(structure, cutoff, bonds, replica))

    fene = mm.CustomBondForce(f"-0.5*{p.fene.k!r}*{p.fene.r_inf!r}^2*log(1 - (r/{p.fene.r_inf!r})^2)")
    add = fene.addBond
    for i, j in structure.fene_bonds().tolist():
        add(i, j)
    _add(system, fene, "fene")

    bend = mm.HarmonicBondForce()
    add = bend.addBond
    for i, j in structure.bend_bonds().tolist():
        add(i, j, p.bend.r0, p.bend.k)
    _add(system, bend, "bend")

    if len(bonds):
        harmonic = mm.HarmonicBondForce()
        add = harmonic.addBond
        for (i, j), r, kk in zip(bonds.tolist(), r0.tolist(), k.tolist()):
            add(i, j, r, kk)
        _add(system, harmonic, "bond")
    triples, theta0, k_theta = structure.angles()
    if len(triples):
        angle = mm.HarmonicAngleForce()
        add = angle.addAngle
        for (i, j, m), t, kk in zip(triples.tolist(), np.radians(theta0).tolist(), k_theta.tolist()):
            add(i, j, m, t, kk)
        _add(system, angle, "angle")
    walled = np.flatnonzero(structure.confined[structure.bead_molecule()])
    if walled.size:
        slab = float(box[2]) / replicas
        top = slab - WALL_AT
        z = "z" if replica is None else "(z - z0)"
        wall = mm.CustomExternalForce(f"{0.5 * WALL_K!r}*(max(0, {WALL_AT!r} - {z})^2 + max(0, {z} - {top!r})^2)")
        if replica is not None:
            wall.addPerParticleParameter("z0")
        for i in walled.tolist():
            wall.addParticle(i, [] if replica is None else [int(replica[i]) * slab])
        _add(system, wall, "wall")
    t = structure.tethers
    if len(t):
        tether = mm.CustomBondForce(f"0.5*k*(r - (end + (start - end)*{ZIPPER}))^2")
        tether.addGlobalParameter(ZIPPER, 1.0)
        for name in ("start", "end", "k"):
            tether.addPerBondParameter(name)
        for (i, j), a, b, kk in zip(t.pairs.tolist(), t.start.tolist(), t.end.tolist(), t.k.tolist()):
            tether.addBond(i, j, [a, b, kk])
        _add(system, tether, "tether")
    if len(structure.filaments):
        _add_filaments(system, structure, replica)
    return system


def _add_filaments(system: mm.System, structure: Structure, replica: np.ndarray | None) -> None:
    """The filaments' springs (term ``filament``) and membrane binding (term ``binding``, within each
    replica of a batch), see :mod:`exomembrane.model.filaments`."""
    f = structure.filaments
    start = f.start()
    spring = mm.CustomBondForce(filaments.SPRING)
    for name in (filaments.RADIUS, filaments.TILT, filaments.PITCH, filaments.DISASSEMBLY):
        spring.addGlobalParameter(name, start[name])
    for name in ("ar", "az", "br", "bz", "arc", "k", "off"):
        spring.addPerBondParameter(name)
    add = spring.addBond
    for (i, j), a, b, arc, k, off in zip(f.pairs.tolist(), f.a.tolist(), f.b.tolist(), f.arc.tolist(), f.k.tolist(),
                                         f.off.tolist()):
        add(i, j, [*a, *b, arc, k, off])
    _add(system, spring, "filament")
    heads = np.flatnonzero(structure.bead_arrays()[1] & structure.is_lipid()[structure.bead_molecule()])
    copy = np.zeros(structure.n_beads) if replica is None else np.asarray(replica, float)
    off = np.full(structure.n_beads, 2.0)  # heads and every other bead never let go
    off[f.binding] = f.binding_off
    energy = (f"-{filaments.BINDING}*step(off1 - {filaments.DISASSEMBLY})*step(off2 - {filaments.DISASSEMBLY})*"
              f"(step({f.contact!r} - r) + step(r - {f.contact!r})*cos({np.pi / (2 * f.w)!r}*(r - {f.contact!r}))^2)")
    groups = len(f.binding) * len(heads) <= BINDING_GROUP_PAIRS * structure.n_beads
    if not groups:  # binding beads (role 1) meet heads (role 2) of their own replica, one neighbour list
        energy += "*delta(role1*role2 - 2)*delta(copy1 - copy2)"
    binding = mm.CustomNonbondedForce(energy)
    binding.addGlobalParameter(filaments.BINDING, start[filaments.BINDING])
    binding.addGlobalParameter(filaments.DISASSEMBLY, 0.0)
    for name in ("off",) if groups else ("off", "role", "copy"):
        binding.addPerParticleParameter(name)
    if groups:
        rows = off[:, None]
    else:
        role = np.zeros(structure.n_beads)
        role[heads], role[f.binding] = 2.0, 1.0
        rows = np.c_[off, role, copy]
    add = binding.addParticle
    for row in rows.tolist():
        add(row)
    if groups:
        for r in np.unique(copy[f.binding]).tolist():
            binding.addInteractionGroup(f.binding[copy[f.binding] == r].tolist(), heads[copy[heads] == r].tolist())
    binding.setNonbondedMethod(mm.CustomNonbondedForce.CutoffPeriodic)
    binding.setCutoffDistance(f.contact + f.w)
    binding.setUseLongRangeCorrection(False)
    _add(system, binding, "binding")


def _native_pair(structure: Structure, cutoff: float, exclusions: np.ndarray, replica: np.ndarray | None) -> mm.Force:
    from exomembrane.engine import native

    ff = structure.forcefield
    types = structure.types
    index = {t: k for k, t in enumerate(types)}
    parameters = ff.parameters(set(types))  # w_c, then one per attraction entry
    order = list(parameters)
    attraction = {_ordered(index[e.types[0]], index[e.types[1]]): (order.index(e.parameter), e.w)
                  for key, e in ff.pairs.items() if key <= set(types) and e.attracts}
    sizes = np.array([[ff.pair_size(a, b) for b in types] for a in types])
    force = native.pair_force(types, structure.bead_arrays()[0], sizes, attraction, parameters, ff.params.epsilon,
                              cutoff, exclusions, replica)
    force.setForceGroup(TERMS["pair"])
    return force


def _custom_pair(structure: Structure, cutoff: float, exclusions: np.ndarray, replica: np.ndarray | None) -> mm.Force:
    ff = structure.forcefield
    types = structure.types
    bead_type, head, size, _ = structure.bead_arrays()
    expression, entries = pair_expression(ff, types)
    if replica is not None:
        energy, _, defs = expression.partition(";")
        expression = f"delta(rep1 - rep2)*({energy});{defs}"
    pair = mm.CustomNonbondedForce(expression)
    pair.setName("pair")
    pair.addGlobalParameter("w_c", ff.params.w_c)
    for e in entries:
        if e.attracts:
            pair.addGlobalParameter(e.parameter, e.eps)
    pair.addPerParticleParameter("h")
    pair.addPerParticleParameter("b")
    params = np.stack([head.astype(float), size], axis=1)
    if entries:
        pair.addPerParticleParameter("t")
        params = np.concatenate([params, bead_type[:, None].astype(float)], axis=1)
    if replica is not None:
        pair.addPerParticleParameter("rep")
        params = np.concatenate([params, replica[:, None].astype(float)], axis=1)
    # Few distinct parameter rows: pass shared tuples, not one new list per bead. Rows are told
    # apart by one integer key of their columns' codes (np.unique over rows sorts far slower).
    codes = [np.unique(c, return_inverse=True) for c in params.T]
    key = np.ravel_multi_index([inv for _, inv in codes], [len(u) for u, _ in codes])
    _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
    rows = params[first]
    row_tuples = [tuple(r) for r in rows.tolist()]
    add = pair.addParticle
    for k in inverse.ravel().tolist():
        add(row_tuples[k])
    add = pair.addExclusion
    for i, j in exclusions.tolist():
        add(i, j)
    pair.setNonbondedMethod(mm.CustomNonbondedForce.CutoffPeriodic)
    pair.setCutoffDistance(cutoff)
    pair.setUseLongRangeCorrection(False)
    pair.setForceGroup(TERMS["pair"])
    return pair


def _add(system: mm.System, force: mm.Force, name: str) -> None:
    force.setName(name)
    if hasattr(force, "setUsesPeriodicBoundaryConditions"):  # bonds across the box; walls use raw z
        force.setUsesPeriodicBoundaryConditions(True)
    force.setForceGroup(TERMS[name])
    system.addForce(force)


def _ordered(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a <= b else (b, a)
