"""ESCRT-III-like filaments laid as flat spirals on the cytosolic face of an MVB membrane (a flat patch
or a closed MVB with the cytosol outside); the model is :mod:`exomembrane.model.filaments`.

A spiral of ``subunits`` triplets winds outwards from ``inner_radius`` with ``turn_gap`` between its
arms, subunits ``spacing`` apart along it, the first (the base) at the inner end, the last (the tip)
at the outer end. The binding beads sit ``HEIGHT`` above the cytosolic head layer, so no lipid is
removed under the spiral. On a closed MVB the spiral is wrapped onto the sphere around its +z pole.
"""
from __future__ import annotations

import dataclasses
from typing import Literal

import numpy as np
from pydantic import Field, PositiveInt
from scipy.spatial import cKDTree

from exomembrane.builders.place import CLEAR, insert
from exomembrane.config import ConfigError, Strict
from exomembrane.model.filaments import Filaments, bending_rigidity
from exomembrane.model.forcefield import WCA_FACTOR
from exomembrane.model.structure import Structure

#: Binding beads start this far (sigma) from the cytosolic head layer: more than the distance at
#: which placed beads remove lipids, within the binding well.
HEIGHT = 1.1


class FilamentSpec(Strict):
    """An ESCRT-III-like filament (scenario field ``filaments.<k>``).

    Geometry as built: ``subunits`` of ``species`` (a triplet whose beads named ``MB*`` bind the
    membrane), ``spacing`` sigma apart along a flat spiral from ``inner_radius`` outwards with
    ``turn_gap`` sigma between arms, centred ``at`` (sigma, x and y along a flat patch) from the
    membrane's centre point. Preferred geometry (global parameters, steerable and ramped by
    protocols): ``radius`` (sigma, ``filament_radius``), ``tilt`` (degrees, ``filament_tilt``: 0 the
    binding face on the membrane, 90 facing away from the helix axis), ``pitch`` (sigma per turn,
    ``filament_pitch``: > 0 rises away from the membrane along the filament). Mechanics:
    ``persistence_length`` (sigma, at ``kT`` eps) sets the springs' constant; ``binding`` (eps,
    ``filament_binding``) is the well depth between a binding bead and a lipid head, ``binding_range``
    its width (sigma). ``disassembly``: the order in which subunits let go as the global
    ``disassembly`` goes from 0 to 1 (``tip`` first, ``base`` first, or ``random``).
    """

    species: str = "ESC3"
    subunits: PositiveInt = Field(default=60, le=2000)
    spacing: float = Field(default=1.2, ge=1.13, le=2.0)
    inner_radius: float = Field(default=3.0, ge=1.0, le=100.0)
    turn_gap: float = Field(default=2.2, ge=2.0, le=10.0)
    at: tuple[float, float] = (0.0, 0.0)
    radius: float = Field(default=6.0, ge=1.5, le=100.0)
    tilt: float = Field(default=0.0, ge=-90.0, le=90.0)
    pitch: float = Field(default=0.0, ge=-30.0, le=30.0)
    persistence_length: float = Field(default=200.0, ge=5.0, le=1000.0)
    kT: float = Field(default=1.1, gt=0.0, le=10.0)
    binding: float = Field(default=1.0, ge=0.0, le=10.0)
    binding_range: float = Field(default=1.0, ge=0.2, le=2.0)
    disassembly: Literal["tip", "base", "random"] = "tip"


def spiral(n: int, spacing: float, inner_radius: float, turn_gap: float) -> tuple[np.ndarray, np.ndarray]:
    """(n, 2) points spaced ``spacing`` along an Archimedean spiral r = inner_radius + turn_gap
    theta / 2 pi (counterclockwise), and their angles theta (n,)."""
    b = turn_gap / (2 * np.pi)
    turns = 2.0
    while True:  # enough spiral for n points
        theta = np.linspace(0.0, 2 * np.pi * turns, int(4000 * turns))
        r = inner_radius + b * theta
        ds = np.sqrt(r[1:] ** 2 + b ** 2) * np.diff(theta)
        s = np.r_[0.0, np.cumsum(ds)]
        if s[-1] >= (n - 1) * spacing:
            break
        turns *= 2
    at = np.interp(np.arange(n) * spacing, s, theta)
    rad = inner_radius + b * at
    return np.stack([rad * np.cos(at), rad * np.sin(at)], axis=1), at


def filament(structure: Structure, specs: list[FilamentSpec], seed: int = 0, field: str = "filaments") -> Structure:
    """``structure`` (an MVB membrane with sides) with the filaments ``specs`` laid on its cytosolic
    face. ConfigError naming ``field.<k>.<name>`` when a spiral does not fit the membrane, overlaps
    molecules placed before it or another spiral, or the species is not a binding triplet."""
    if not specs:
        return structure
    shared = ("radius", "tilt", "pitch", "binding", "binding_range")
    for k, spec in enumerate(specs[1:], 1):
        for name in shared:
            if getattr(spec, name) != getattr(specs[0], name):
                raise ConfigError(f"{field}.{k}.{name}: {getattr(spec, name)} differs from {field}.0.{name} = "
                                  f"{getattr(specs[0], name)}; the filaments share their preferred geometry and "
                                  f"binding (global parameters)")
    s = structure
    ff = s.forcefield
    faces = s.sides
    cytosol = faces.get("cytosol")
    if cytosol not in ("+z", "-z", "outside"):
        raise ConfigError(f"{field}: filaments bind the cytosolic face of an MVB patch or of a closed MVB with the "
                          f"cytosol outside (got sides {faces})")
    lipid_bead = s.is_lipid()[s.bead_molecule()]
    head = s.bead_arrays()[1] & lipid_bead
    last = (s.molecule_start + np.diff(np.r_[s.molecule_start, s.n_beads]) - 1)[s.is_lipid()]
    ends = s.positions[last]
    rng = np.random.default_rng(seed)
    placed: list[tuple[str, np.ndarray, bool]] = []
    built: list[tuple[FilamentSpec, np.ndarray, np.ndarray]] = []
    taken = s.positions[~lipid_bead]
    for k, spec in enumerate(specs):
        where = f"{field}.{k}"
        offsets, binding = _triplet(ff, spec.species, f"{where}.species")
        xy, theta = spiral(spec.subunits, spec.spacing, spec.inner_radius, spec.turn_gap)
        reach = float(np.linalg.norm(xy, axis=1).max()) + 1.0
        radial = np.stack([np.cos(theta), np.sin(theta)], axis=1)
        local = np.concatenate([  # (n, 3 beads, 3): x, y in the membrane plane, height above the binding face
            (xy[:, None, :] + offsets[None, :, :1] * radial[:, None, :]),
            np.broadcast_to(offsets[None, :, 1:2], (len(xy), 3, 1))], axis=2)
        if cytosol == "outside":
            if spec.at != (0.0, 0.0):
                raise ConfigError(f"{where}.at: a filament on a closed MVB is centred on its +z pole; at must be "
                                  f"[0, 0] (got {list(spec.at)})")
            centre = ends.mean(0)
            r_head = np.linalg.norm(s.positions[head] - centre, axis=1)
            face = float(np.median(r_head[r_head > np.linalg.norm(ends - centre, axis=1).mean()]))
            if reach > np.pi / 2 * face:
                raise ConfigError(f"{where}.subunits: {spec.subunits} subunits make a spiral {reach:.1f} sigma wide, "
                                  f"more than a quarter of the way round this MVB ({np.pi / 2 * face:.1f} sigma); "
                                  f"lower subunits or turn_gap")
            x = _on_sphere(local, centre, face + HEIGHT)
        else:
            z_mid = float(np.median(ends[:, 2]))
            up = 1.0 if cytosol == "+z" else -1.0
            face_z = z_mid + up * float(np.median(np.abs(s.positions[head][:, 2] - z_mid)))
            half = float(s.box[:2].min()) / 2
            if reach + np.abs(spec.at).max() > half:
                raise ConfigError(f"{where}.subunits: {spec.subunits} subunits make a spiral reaching {reach:.1f} "
                                  f"sigma from its centre (at {list(spec.at)}), beyond half the patch "
                                  f"({half:.1f} sigma); lower subunits, turn_gap or inner_radius, or enlarge the patch")
            centre_xy = s.box[:2] / 2 + np.asarray(spec.at)
            # right-handed frame (e1, e2, n) with n towards the cytosol: e1 = x, e2 = n x e1
            e2 = np.array([0.0, up])
            x = np.concatenate([centre_xy + local[..., :1] * np.array([1.0, 0.0]) + local[..., 1:2] * e2,
                                face_z + up * (HEIGHT + local[..., 2:3])], axis=-1)
        flat = x.reshape(-1, 3)
        if len(taken):
            hit = cKDTree(np.mod(taken, s.box), boxsize=s.box).query_ball_point(np.mod(flat, s.box), CLEAR,
                                                                               return_length=True)
            if hit.any():
                raise ConfigError(f"{where}: the spiral overlaps molecules placed before it or another filament; "
                                  f"move it (at) or place fewer molecules under it")
        taken = np.concatenate([taken, flat])
        # confined: walls at the box's z faces keep subunits that let go in the cytosol (through a flat
        # patch's periodic z face the cytosol would reach the lumen)
        placed.append((spec.species, x, True))
        built.append((spec, offsets, binding))
    out = insert(s, placed)
    return dataclasses.replace(out, filaments=_springs(out, built, rng))


def _triplet(ff, name: str, field: str) -> tuple[np.ndarray, np.ndarray]:
    """(3, 2) cross-section offsets (u_r, u_z) of a triplet species and the indices of its binding beads."""
    try:
        sp = ff.get(name)
    except ConfigError as err:
        raise ConfigError(f"{field}: {err}") from None
    binding = np.array([k for k, b in enumerate(sp.beads) if b.name.startswith("MB")])
    if sp.kind != "protein" or len(sp.beads) != 3 or len(binding) == 0:
        raise ConfigError(f"{field}: {name} is not a filament subunit (a protein of 3 beads, the binding ones named "
                          f"MB...); e.g. ESC3")
    return sp.template[:, 1:], binding


def _on_sphere(local: np.ndarray, centre: np.ndarray, radius: float) -> np.ndarray:
    """Map (..., 3) plane coordinates (x, y, height) onto a sphere of ``radius`` around its +z pole."""
    rho = np.linalg.norm(local[..., :2], axis=-1, keepdims=True)
    alpha = rho / radius
    u = np.where(rho > 0, local[..., :2] / np.where(rho > 0, rho, 1.0), 0.0)
    r = radius + local[..., 2:3]
    return centre + r * np.concatenate([np.sin(alpha) * u, np.cos(alpha)], axis=-1)


def _springs(s: Structure, built: list[tuple[FilamentSpec, np.ndarray, np.ndarray]],
             rng: np.random.Generator) -> Filaments:
    """The springs, binding beads and disassembly thresholds of the filaments just appended to ``s``."""
    n_sub = sum(spec.subunits for spec, _, _ in built)
    first = s.molecule_start[-n_sub:]
    pairs, a, b, arc, k, off, bind, bind_off, subunits, which, sub_off = ([] for _ in range(11))
    start = 0
    for f, (spec, offsets, binding) in enumerate(built):
        n = spec.subunits
        beads = first[start:start + n, None] + np.arange(3)[None, :]
        start += n
        rank = {"tip": np.arange(n)[::-1], "base": np.arange(n), "random": rng.permutation(n)}[spec.disassembly]
        thresholds = (rank + 0.5) / n
        stiffness = spec.persistence_length * spec.kT / min(bending_rigidity(offsets, spec.spacing, 1.0))
        for m, combos in ((1, [(i, j) for i in range(3) for j in range(3)]), (2, [(i, i) for i in range(3)])):
            for i, j in combos:
                pairs.append(np.stack([beads[:-m, i], beads[m:, j]], axis=1))
                a.append(np.broadcast_to(offsets[i], (n - m, 2)))
                b.append(np.broadcast_to(offsets[j], (n - m, 2)))
                arc.append(np.full(n - m, m * spec.spacing))
                k.append(np.full(n - m, stiffness))
                off.append(np.minimum(thresholds[:-m], thresholds[m:]))
        bind.append(beads[:, binding].ravel())
        bind_off.append(np.repeat(thresholds, len(binding)))
        subunits.append(beads)
        which.append(np.full(n, f))
        sub_off.append(thresholds)
    spec0, _, binding0 = built[0]
    contact = WCA_FACTOR * s.forcefield.pair_size(s.forcefield.get(spec0.species).beads[binding0[0]].type, "H")
    return Filaments(np.concatenate(pairs), np.concatenate(a), np.concatenate(b), np.concatenate(arc),
                     np.concatenate(k), np.concatenate(off), np.concatenate(bind), np.concatenate(bind_off),
                     np.concatenate(subunits), np.concatenate(which), np.concatenate(sub_off), w=spec0.binding_range,
                     contact=contact, radius=spec0.radius, tilt=spec0.tilt, pitch=spec0.pitch, depth=spec0.binding)
