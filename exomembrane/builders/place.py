"""Composition domains and molecule placement on a built membrane with sides.

Both act on a :class:`~exomembrane.structure.Structure` whose ``sides`` say where the lumen and the
cytosol are: a flat patch (``+z``/``-z``, midplane at half the box height) or a closed membrane
(``inside``/``outside``, centred in the box). They compose with any builder that records sides.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Annotated, Literal

import numpy as np
from pydantic import BeforeValidator, Field, NonNegativeFloat, PositiveFloat, PositiveInt, model_validator
from scipy.spatial import cKDTree

from exomembrane.analysis.pbc import minimum_image
from exomembrane.config import ConfigError, Strict
from exomembrane.model.compartments import Membrane
from exomembrane.model.structure import Structure

from .lipids import counts, lay, species_codes

#: Closest approach (sigma) of a placed molecule's beads to lipid beads (closer lipids are removed)
#: and to other placed molecules' beads (such positions are redrawn).
CLEAR = 1.0
#: Soluble molecules start at least this far (sigma) from the membrane midplane.
SOLUBLE_GAP = 5.0
MAX_ROUNDS = 200
#: Jamming coverage of random sequential addition: discs on a surface (area fraction) and spheres
#: in a volume (volume fraction); placements that would need more are refused before any drawing.
JAM_AREA, JAM_VOLUME = 0.547, 0.385


class Placement(Strict):
    """Molecules of one species placed relative to a membrane with sides.

    ``where``: ``membrane`` (template origin on the midplane, e.g. a transmembrane protein),
    ``cytosol`` or ``lumen`` (soluble, random position and orientation in that compartment, at
    least 5 sigma from the midplane; with ``at``: origin ``at`` sigma from the midplane on that side,
    oriented like a membrane protein, e.g. an adsorbed cap). ``up``: the compartment the template's
    +z axis points to. Exactly one of ``count`` and ``density`` (molecules per sigma^2 of midplane
    area; per sigma^3 of compartment for soluble ones). ``within``: only this far (sigma, along the
    membrane) from the membrane's centre point (patch: box centre; closed: its +z pole).
    ``arrangement``: ``random`` positions, or ``packed``: a hexagonal lattice around the centre
    point of a flat patch, neighbours ``CLEAR`` apart at their widest (a pre-formed cluster).
    """

    species: str
    where: Literal["membrane", "cytosol", "lumen"] = "membrane"
    up: Literal["lumen", "cytosol"] = "lumen"
    count: PositiveInt | None = None
    density: PositiveFloat | None = None
    at: NonNegativeFloat | None = None
    within: PositiveFloat | None = None
    arrangement: Literal["random", "packed"] = "random"

    @model_validator(mode="after")
    def _one_amount(self) -> Placement:
        if (self.count is None) == (self.density is None):
            raise ValueError("give exactly one of count and density")
        return self


class Domain(Strict):
    """A domain of one leaflet (``cytosolic`` or ``luminal``) with its own lipid ``composition``:
    ``round`` of radius ``radius`` (sigma, along the membrane, around the membrane's centre point),
    or on a flat patch a ``stripe`` across the box along y, ``radius`` its half-width (two straight
    boundaries: the geometry for the line tension, as a stripe cannot bud)."""

    leaflet: Literal["cytosolic", "luminal"] = "cytosolic"
    radius: PositiveFloat
    shape: Literal["round", "stripe"] = "round"
    composition: Annotated[dict[str, float], BeforeValidator(lambda v: {v: 1.0} if isinstance(v, str) else v),
                           Field(min_length=1)]


class _Surface:
    """Midplane geometry of a membrane with sides: a plane z = const or a sphere."""

    def __init__(self, s: Structure) -> None:
        if s.sides.get("lumen") not in ("+z", "-z", "inside", "outside"):
            raise ConfigError(f"sides: the structure must say where the lumen is (got sides {s.sides})")
        self.box = s.box
        self.closed = s.sides["lumen"] in ("inside", "outside")
        last = s.molecule_start + np.diff(np.r_[s.molecule_start, s.n_beads]) - 1  # lipids' last tail beads
        ends = s.positions[last[s.is_lipid()]]
        if self.closed:
            self.centre = ends.mean(0)
            self.radius = float(np.linalg.norm(ends - self.centre, axis=1).mean())
            self.to_lumen = 1.0 if s.sides["lumen"] == "inside" else -1.0  # along the inward normal
        else:
            self.centre = np.r_[s.box[:2] / 2, np.median(ends[:, 2])]
            self.to_lumen = 1.0 if s.sides["lumen"] == "+z" else -1.0  # along +z

    @property
    def area(self) -> float:
        return 4 * np.pi * self.radius ** 2 if self.closed else float(self.box[0] * self.box[1])

    def distance(self, x: np.ndarray) -> np.ndarray:
        """(n,) sigma along the membrane from its centre point (patch: box centre; closed: +z pole)."""
        if self.closed:
            u = (x - self.centre) / np.linalg.norm(x - self.centre, axis=1, keepdims=True)
            return self.radius * np.arccos(np.clip(u[:, 2], -1, 1))
        d = x[:, :2] - self.centre[:2]
        d = minimum_image(d, self.box[:2])
        return np.linalg.norm(d, axis=1)

    def points(self, n: int, rng: np.random.Generator, within: float | None) -> tuple[np.ndarray, np.ndarray]:
        """n random midplane points (n, 3) (within ``within`` of the centre) and unit normals to the lumen."""
        if self.closed:
            cos_max = -1.0 if within is None else np.cos(min(within / self.radius, np.pi))
            z = rng.uniform(cos_max, 1.0, n)
            phi = rng.uniform(0, 2 * np.pi, n)
            u = np.stack([np.sqrt(1 - z * z) * np.cos(phi), np.sqrt(1 - z * z) * np.sin(phi), z], axis=1)
            return self.centre + self.radius * u, -self.to_lumen * u
        if within is None:
            xy = rng.uniform(0, 1, (n, 2)) * self.box[:2]
        else:
            r, phi = within * np.sqrt(rng.uniform(0, 1, n)), rng.uniform(0, 2 * np.pi, n)
            xy = self.centre[:2] + np.stack([r * np.cos(phi), r * np.sin(phi)], axis=1)
        normal = np.tile([0.0, 0.0, self.to_lumen], (n, 1))
        return np.c_[xy, np.full(n, self.centre[2])], normal

    def lattice(self, n: int, spacing: float) -> np.ndarray:
        """The n points (n, 3) of a hexagonal midplane lattice nearest the centre (flat patch)."""
        k = int(np.ceil(np.sqrt(n))) + 2
        i, j = np.meshgrid(np.arange(-k, k + 1), np.arange(-k, k + 1), indexing="ij")
        xy = np.stack([i + 0.5 * j, j * np.sqrt(3) / 2], axis=-1).reshape(-1, 2) * spacing
        xy = xy[np.argsort(np.linalg.norm(xy, axis=1), kind="stable")[:n]]
        return np.c_[self.centre[:2] + xy, np.full(n, self.centre[2])]

    def volume(self, side: float) -> float:
        """Volume (sigma^3) of the compartment on ``side`` (+1 lumen, -1 cytosol) beyond SOLUBLE_GAP."""
        if self.closed:
            inner = 4 / 3 * np.pi * max(self.radius - SOLUBLE_GAP, 0.0) ** 3
            return inner if side * self.to_lumen > 0 else float(np.prod(self.box)) - 4 / 3 * np.pi * (
                self.radius + SOLUBLE_GAP) ** 3
        return float(self.box[0] * self.box[1] * max(self.box[2] / 2 - SOLUBLE_GAP - 1.0, 0.0))

    def contains(self, x: np.ndarray, side: float) -> np.ndarray:
        """(n,) bool: points x (n, 3) lie in the compartment on ``side``, clear of the head layer
        (> SOLUBLE_GAP - 2 sigma from the midplane) and of a flat patch's z walls (>= 0.5 sigma)."""
        gap = SOLUBLE_GAP - 2.0
        if self.closed:
            r = np.linalg.norm(x - self.centre, axis=1)
            return r < self.radius - gap if side * self.to_lumen > 0 else r > self.radius + gap
        z = x[:, 2]
        if side * self.to_lumen > 0:
            return (z > self.centre[2] + gap) & (z < self.box[2] - 0.5)
        return (z > 0.5) & (z < self.centre[2] - gap)

    def soluble(self, n: int, rng: np.random.Generator, side: float) -> np.ndarray:
        """n random points (n, 3) in the compartment on ``side`` (+1 lumen, -1 cytosol), >= SOLUBLE_GAP from
        the midplane (and, for a flat patch, >= 1 sigma from the z faces, where its walls are)."""
        if self.closed:
            inside = side * self.to_lumen > 0
            out = np.empty((0, 3))
            while len(out) < n:
                x = rng.uniform(0, 1, (4 * n + 16, 3)) * self.box
                r = np.linalg.norm(x - self.centre, axis=1)
                ok = r < self.radius - SOLUBLE_GAP if inside else r > self.radius + SOLUBLE_GAP
                out = np.concatenate([out, x[ok]])
            return out[:n]
        up = side * self.to_lumen  # +1: the compartment lies above the midplane
        lo, hi = (self.centre[2] + SOLUBLE_GAP, self.box[2] - 1.0) if up > 0 else (1.0, self.centre[2] - SOLUBLE_GAP)
        return np.c_[rng.uniform(0, 1, (n, 2)) * self.box[:2], rng.uniform(lo, hi, n)]


def with_domain(structure: Structure, spec: Domain, seed: int = 0, field: str = "domain") -> Structure:
    """``structure`` with the lipids of one leaflet within ``spec.radius`` of the membrane's centre
    point replaced by lipids drawn from ``spec.composition`` (laid on the same axes).

    Raises ConfigError (naming ``field``) for unknown or non-lipid species or an empty domain.
    """
    surface = _Surface(structure)
    if spec.shape == "stripe" and surface.closed:
        raise ConfigError(f"{field}.shape: a stripe needs a flat patch; this membrane is closed (use 'round')")
    widest = (np.pi * surface.radius if surface.closed else
              float(structure.box[0] if spec.shape == "stripe" else structure.box[:2].min()) / 2)
    if spec.radius >= widest:
        allowed = (f"< {widest:.1f} sigma (half the way round this membrane of midplane radius "
                   f"{surface.radius:.1f})" if surface.closed else
                   f"< {widest:.1f} sigma (half the {'x' if spec.shape == 'stripe' else 'shorter'} box edge, so "
                   f"that the domain does not meet its periodic image)")
        raise ConfigError(f"{field}.radius: {spec.radius} sigma is wider than this membrane allows a {spec.shape} "
                          f"domain: give a radius {allowed}, or set the leaflet's composition for a whole leaflet")
    rng = np.random.default_rng(seed)
    s = structure
    last = s.molecule_start + np.diff(np.r_[s.molecule_start, s.n_beads]) - 1
    head, tail = s.positions[s.molecule_start], s.positions[last]
    axis = (head - tail) / np.linalg.norm(head - tail, axis=1, keepdims=True)
    if surface.closed:
        to_lumen = -surface.to_lumen * (tail - surface.centre) / np.linalg.norm(tail - surface.centre, axis=1,
                                                                                keepdims=True)
    else:
        to_lumen = np.tile([0.0, 0.0, surface.to_lumen], (s.n_molecules, 1))
    luminal = np.einsum("ij,ij->i", axis, to_lumen) > 0  # heads point into the lumen
    in_leaflet = luminal if spec.leaflet == "luminal" else ~luminal
    reach = (np.abs(minimum_image(tail[:, 0] - surface.centre[0], s.box[0])) if spec.shape == "stripe"
             else surface.distance(tail))
    mask = in_leaflet & s.is_lipid() & (reach <= spec.radius)
    if not mask.any():
        raise ConfigError(f"{field}.radius: {spec.radius} sigma holds no lipid of the {spec.leaflet} leaflet")
    names_in, (codes_in,) = species_codes([counts(spec.composition, int(mask.sum()), s.forcefield,
                                                  f"{field}.composition")], rng)
    names = tuple(sorted(set(s.species) | set(names_in)))
    codes = np.array([names.index(n) for n in s.species])[s.molecule_species]
    codes[mask] = np.array([names.index(n) for n in names_in])[codes_in]
    pos = lay(s.forcefield, names, codes, tail, axis)
    return Structure(s.forcefield, names, codes, pos, s.box, s.leaflet, s.membranes, s.membrane, s.confined)


def place(structure: Structure, placements: Sequence[Placement], seed: int = 0) -> Structure:
    """``structure`` with molecules added by ``placements`` and the lipids they overlap removed.

    Positions are drawn at random (seeded) and redrawn where a molecule would come closer than
    ``CLEAR`` to one already placed. Molecules in a flat patch's compartments (soluble, or docked
    ``at`` a distance from the membrane) are held there by walls at the box's z faces
    (``Structure.confined``). Raises ConfigError naming the
    placement (``proteins.<k>.<field>``) when a species is unknown or the molecules do not fit.
    """
    s = structure
    ff = s.forcefield
    surface = _Surface(s)
    rng = np.random.default_rng(seed)
    placed_x: list[np.ndarray] = []
    placed: list[tuple[str, np.ndarray, bool]] = []  # (species, positions (m, n, 3), confined)
    for k, p in enumerate(placements):
        where = f"proteins.{k}"
        try:
            sp = ff.get(p.species)
        except ConfigError as err:
            raise ConfigError(f"{where}.species: {err}") from None
        if sp.kind == "lipid":
            raise ConfigError(f"{where}.species: {p.species} is a lipid; give lipids as leaflet compositions")
        soluble = p.where != "membrane" and p.at is None
        side = 1.0 if p.where == "lumen" else -1.0
        if soluble and surface.volume(side) < 1.0:
            raise ConfigError(f"{where}.where: the {p.where} of this membrane has no room for soluble molecules "
                              f"(they need {SOLUBLE_GAP} sigma from its midplane); enlarge it")
        if p.count is not None:
            n = p.count
        else:
            assert p.density is not None  # the Placement model asks for exactly one of count and density
            amount = p.density * (surface.volume(side) if soluble else surface.area)
            n = int(round(amount))
            if n < 1:
                raise ConfigError(f"{where}.density: {p.density} gives {amount:.2f} molecules here; raise it "
                                  f"or give a count")
        if p.arrangement == "random":  # a packed lattice checks its own extent
            _check_room(surface, sp.template, p, n, soluble, side, where)
        mols = _draw(s, surface, sp.name, p, n, soluble, side, rng, np.concatenate(placed_x or [np.empty((0, 3))]),
                     where)
        placed_x.append(mols.reshape(-1, 3))
        # in a flat patch's compartment (soluble, or docked ``at`` a distance): walls at the z faces
        # keep it on its side, which otherwise joins the other through the periodic z face
        placed.append((sp.name, mols, p.where != "membrane" and not surface.closed))
    return insert(s, placed)


def place_on(structure: Structure, faces: dict[str, str], placements: Sequence[Placement],
             seed: int = 0) -> Structure:
    """:func:`place` on a lone membrane built without sides (a vesicle or patch to be composed later):
    its lipids get the ``faces`` for the placement only (``up``/``where`` name them), and the
    result records no membrane, for the composing builder names the membranes."""
    sided = replace(structure, membranes=(Membrane("lone", faces),),
                    membrane=np.where(structure.is_lipid(), 0, -1))
    placed = place(sided, placements, seed)
    return replace(placed, membranes=(), membrane=np.full(placed.n_molecules, -1, np.int16))


def insert(structure: Structure, placed: Sequence[tuple[str, np.ndarray, bool]]) -> Structure:
    """``structure`` with the molecules ``placed`` = [(species, positions (m, n_species_beads, 3)
    sigma, confined), ...] appended (in no membrane, leaflet 0) and every lipid with a bead within
    ``CLEAR`` of one of their beads removed."""
    s = structure
    ff = s.forcefield
    if not placed:
        return s
    placed_x = [m.reshape(-1, 3) for _, m, _ in placed]
    # remove lipids with a bead within CLEAR of a placed bead
    tree = cKDTree(np.mod(np.concatenate(placed_x), s.box), boxsize=s.box)
    near = tree.query_ball_point(np.mod(s.positions, s.box), CLEAR, return_length=True) > 0
    mol = s.bead_molecule()
    drop = np.zeros(s.n_molecules, bool)
    drop[mol[near]] = True
    keep_mol = ~drop
    keep_bead = keep_mol[mol]
    extra = [n for n, _, _ in placed if n not in s.species]
    names = tuple(s.species) + tuple(dict.fromkeys(extra))
    codes = [s.molecule_species[keep_mol]] + [np.full(len(m), names.index(n), np.int32) for n, m, _ in placed]
    confined = [s.confined[keep_mol]] + [np.full(len(m), c) for _, m, c in placed]
    leaflet = [s.leaflet[keep_mol]] + [np.zeros(len(m), np.int8) for _, m, _ in placed]
    pos = np.concatenate([s.positions[keep_bead]] + [m.reshape(-1, 3) for _, m, _ in placed])
    membrane = [s.membrane[keep_mol]] + [np.full(len(m), -1, np.int16) for _, m, _ in placed]
    return Structure(ff, names, np.concatenate(codes), pos, s.box, np.concatenate(leaflet), s.membranes,
                     np.concatenate(membrane), np.concatenate(confined))


def _check_room(surface: _Surface, template: np.ndarray, p: Placement, n: int, soluble: bool, side: float,
                where: str) -> None:
    """ConfigError when ``n`` molecules of ``template`` (beads, 3) cannot fit where ``p`` asks: more
    beads than random packing holds in the compartment's volume, or more footprints than the
    membrane area (within ``p.within``) holds."""
    if soluble:
        room = surface.volume(side)
        need = n * len(template) * np.pi / 6 * CLEAR ** 3 / JAM_VOLUME
        fits = int(room * JAM_VOLUME / (len(template) * np.pi / 6 * CLEAR ** 3))
        what = f"the {p.where} ({room:.0f} sigma^3 beyond {SOLUBLE_GAP} sigma of the membrane)"
    else:
        room = surface.area if p.within is None else min(surface.area, np.pi * p.within ** 2)
        footprint = np.pi * (np.linalg.norm(template[:, :2], axis=1).max() + CLEAR / 2) ** 2
        need = n * footprint / JAM_AREA
        fits = int(room * JAM_AREA / footprint)
        layer = "the membrane" if p.where == "membrane" else f"the layer {p.at} sigma into the {p.where}"
        what = f"{layer} ({room:.0f} sigma^2{' within ' + str(p.within) + ' sigma' if p.within else ''})"
    if need > room:
        field = "count" if p.count is not None else "density"
        raise ConfigError(f"{where}.{field}: {n} {p.species} do not fit in {what}: at most about {fits} fit "
                          f"without overlaps; lower {field}{' or widen within' if p.within else ''}, or enlarge the "
                          f"{'box' if soluble else 'membrane'}")


def _draw(s: Structure, surface: _Surface, name: str, p: Placement, n: int, soluble: bool, side: float,
          rng: np.random.Generator, taken: np.ndarray, where: str) -> np.ndarray:
    """(n, n_beads, 3) positions of n molecules of ``name`` that keep CLEAR from ``taken`` and each other."""
    ff = s.forcefield
    out = np.empty((0, len(ff.get(name).beads), 3))
    for _ in range(MAX_ROUNDS):
        m = n - len(out)
        if m == 0:
            return out
        if p.arrangement == "packed":
            if soluble or surface.closed:
                raise ConfigError(f"{where}.arrangement: 'packed' places molecules in or on a flat patch only")
            template = ff.get(name).template
            mid = surface.lattice(m, 2 * np.linalg.norm(template[:, :2], axis=1).max() + CLEAR + 0.1)
            if p.within is not None and surface.distance(mid).max() > p.within:
                raise ConfigError(f"{where}: {n} packed {name} reach {surface.distance(mid).max():.1f} sigma from "
                                  f"the centre, beyond within = {p.within}; lower count or widen within")
            to_lumen = np.tile([0.0, 0.0, surface.to_lumen], (m, 1))
            d = to_lumen if p.up == "lumen" else -to_lumen
            shift = (1.0 if p.where == "lumen" else -1.0) * (p.at or 0.0)  # at: given unless in the membrane
            origin = mid if p.where == "membrane" else mid + shift * to_lumen
        elif soluble:
            origin = surface.soluble(m, rng, side)
            d = rng.normal(size=(m, 3))
            d /= np.linalg.norm(d, axis=1, keepdims=True)
        else:
            mid, to_lumen = surface.points(m, rng, p.within)
            d = to_lumen if p.up == "lumen" else -to_lumen
            shift = (1.0 if p.where == "lumen" else -1.0) * (p.at or 0.0)  # at: given unless in the membrane
            origin = mid if p.where == "membrane" else mid + shift * to_lumen
        x = lay(ff, (name,), np.zeros(m, int), origin, d, rng.uniform(0, 2 * np.pi, m)).reshape(m, -1, 3)
        x_all = np.concatenate([taken, out.reshape(-1, 3)])
        ok = np.asarray(surface.contains(x.reshape(-1, 3), side).reshape(m, -1).all(axis=1)) if soluble \
            else np.ones(m, bool)
        if len(x_all):
            hit = cKDTree(np.mod(x_all, s.box), boxsize=s.box).query_ball_point(
                np.mod(x.reshape(-1, 3), s.box), CLEAR, return_length=True).reshape(m, -1)
            ok &= ~hit.any(axis=1)
        # among the new ones, keep the first of each clashing pair
        pairs = cKDTree(np.mod(x.reshape(-1, 3), s.box), boxsize=s.box).query_pairs(CLEAR, output_type="ndarray")
        which = pairs // x.shape[1]
        which = which[which[:, 0] != which[:, 1]]
        for a, b in which[np.argsort(which[:, 0], kind="stable")].tolist():
            if ok[a] and ok[b]:
                ok[b] = False
        out = np.concatenate([out, x[ok]])
        if p.arrangement == "packed" and len(out) < n:
            raise ConfigError(f"{where}: packed {name} overlap molecules placed before them; place them first")
    raise ConfigError(f"{where}: could place only {len(out)} of {n} {name} without overlaps; lower count or density"
                      f"{' or widen within' if p.within else ''}, or enlarge the membrane")
