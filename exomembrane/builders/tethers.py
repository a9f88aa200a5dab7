"""SNARE-like tethers between a flat membrane and a closed one under it: pairs of transmembrane
anchors (one in each membrane, their linker beads facing each other) joined by a spring that the
zippering protocol shortens (:mod:`exomembrane.model.tethers`).

The anchors stand around the point of the flat membrane nearest the closed one (the future fusion
site): on a ring of radius ``radius`` (sigma) in the flat membrane, equally spaced, or at random
within that radius; each partner sits where the line from the closed membrane's centre towards
its flat anchor's axis crosses the closed membrane, tilted along that line.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Literal

import numpy as np
from pydantic import Field, PositiveFloat, PositiveInt

from exomembrane.builders.lipids import lay
from exomembrane.builders.place import insert
from exomembrane.config import ConfigError, Strict
from exomembrane.model.structure import Structure
from exomembrane.model.tethers import Tethers


class TetherSpec(Strict):
    """SNARE-like tethers (scenario field ``tethers``).

    ``count`` anchor pairs, ``arrangement`` ``ring`` (equally spaced on a circle of ``radius``
    sigma around the fusion site) or ``random`` (uniform within ``radius``). ``species``: the
    transmembrane anchor (a protein species whose bead ``TIP`` takes the linker). ``k``: linker
    spring constant (eps/sigma^2). ``zipped``: linker rest length (sigma) once zipped
    (``zipper`` = 0); unzipped (``zipper`` = 1) it is the built distance between the tips.
    """

    count: PositiveInt = 6
    arrangement: Literal["ring", "random"] = "ring"
    radius: float = Field(default=3.0, ge=0.0)
    species: str = "TMA"
    k: PositiveFloat = 10.0
    zipped: float = Field(default=1.0, ge=0.0)


#: Closest starting distance (sigma) between partner tips (their beads repel within ~1 sigma).
MIN_START = 1.0


def tether(structure: Structure, spec: TetherSpec, plane_z: float, centre: np.ndarray, radius: float,
           seed: int = 0, field: str = "tethers") -> Structure:
    """``structure`` with ``spec.count`` anchor pairs and their tethers added.

    ``plane_z`` (sigma): midplane height of the flat membrane; ``centre`` (3,) and ``radius``
    (sigma): the closed membrane's centre and midplane radius, below the plane. The flat anchors
    point their tips down (-z), the closed membrane's point theirs outwards. ConfigError naming
    ``field`` when the species has no ``TIP`` bead, the anchors do not fit, or partner tips start
    closer than ``MIN_START``.
    """
    ff = structure.forcefield
    try:
        sp = ff.get(spec.species)
    except ConfigError as err:
        raise ConfigError(f"{field}.species: {err}") from None
    names = [b.name for b in sp.beads]
    if sp.kind == "lipid" or "TIP" not in names:
        raise ConfigError(f"{field}.species: {spec.species} must be a protein species with a bead named TIP "
                          f"(the linker's attachment); e.g. TMA")
    tip = names.index("TIP")
    template = sp.template
    width = 2 * np.linalg.norm(template[:, :2], axis=1).max() + 1.0
    n = spec.count
    rng = np.random.default_rng(seed)
    if spec.arrangement == "ring":
        phi = 2 * np.pi * np.arange(n) / n + rng.uniform(0, 2 * np.pi)
        rho = np.full(n, spec.radius)
        if n > 1 and 2 * spec.radius * np.sin(np.pi / n) < width:
            raise ConfigError(f"{field}.radius: {n} anchors {width:.1f} sigma wide do not fit on a ring of radius "
                              f"{spec.radius} sigma; raise radius to >= {width / (2 * np.sin(np.pi / n)):.1f} or "
                              f"lower count")
    else:
        phi, rho = np.empty(0), np.empty(0)
        for _ in range(1000):
            if len(phi) == n:
                break
            p, r = rng.uniform(0, 2 * np.pi), spec.radius * np.sqrt(rng.uniform())
            xy = np.c_[rho * np.cos(phi), rho * np.sin(phi)]
            if np.all(np.linalg.norm(xy - [r * np.cos(p), r * np.sin(p)], axis=1) >= width):
                phi, rho = np.r_[phi, p], np.r_[rho, r]
        else:
            raise ConfigError(f"{field}.radius: {n} anchors {width:.1f} sigma wide do not fit at random within "
                              f"{spec.radius} sigma; widen radius or lower count")
    if np.any(rho > radius - width):
        raise ConfigError(f"{field}.radius: {spec.radius} sigma reaches beyond the top of the closed membrane "
                          f"(midplane radius {radius} sigma); lower it below {radius - width:.1f}")
    centre = np.asarray(centre, float)
    xy = centre[:2] + np.c_[rho * np.cos(phi), rho * np.sin(phi)]
    spin = rng.uniform(0, 2 * np.pi, (2, n))
    down = np.tile([0.0, 0.0, -1.0], (n, 1))
    one = np.zeros(n, int)
    top = lay(ff, (sp.name,), one, np.c_[xy, np.full(n, plane_z)], down, spin[0]).reshape(n, -1, 3)
    u = np.c_[rho * np.cos(phi), rho * np.sin(phi), np.sqrt(radius ** 2 - rho ** 2)] / radius
    bottom = lay(ff, (sp.name,), one, centre + radius * u, u, spin[1]).reshape(n, -1, 3)
    start = np.linalg.norm(top[:, tip] - bottom[:, tip], axis=1)
    if start.min() < MIN_START:
        raise ConfigError(f"{field}: partner tips start {start.min():.2f} sigma apart (< {MIN_START}); widen the "
                          f"gap between the membranes")
    s = insert(structure, [(sp.name, top, False), (sp.name, bottom, False)])
    first = s.molecule_start[-2 * n:]  # the anchors were appended: n in the flat membrane, then n partners
    pairs = np.c_[first[:n], first[n:]] + tip
    tethers = Tethers(pairs, start, np.full(n, spec.zipped), np.full(n, spec.k))
    return replace(s, tethers=tethers)

