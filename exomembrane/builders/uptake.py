"""An exosome with surface ligands over a target-cell membrane patch with receptors: the starting
structure of exosome uptake (binding, wrapping, engulfment or fusion).

From the top of the box down: the extracellular space holding the exosome (a closed vesicle whose
outer leaflet faces the extracellular space and whose lumen is the donor cell's cytosol, topologically),
the target patch spanning the box (its upper leaflet extracellular), and the target's cytosol, deep
enough to hold the exosome once the patch has wrapped it and pinched it off. The box's z faces
separate the extracellular space from the cytosol: walls hold the exosome inside the box, so it can
reach the cytosol only through the patch.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Annotated, Any, ClassVar, Literal

import numpy as np
from pydantic import (
    BeforeValidator,
    Field,
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    model_validator,
)
from scipy.spatial import cKDTree

from exomembrane.builders.bilayer import bilayer
from exomembrane.builders.chain import ilv_from_run
from exomembrane.builders.compose import combine
from exomembrane.builders.fields import Composition as CompositionField
from exomembrane.builders.fields import repeat
from exomembrane.builders.lipids import Composition
from exomembrane.builders.place import CLEAR, Domain, Placement, place_on, with_domain
from exomembrane.builders.registry import Section, register
from exomembrane.builders.vesicle import vesicle
from exomembrane.config import ConfigError, Strict
from exomembrane.model.compartments import Membrane
from exomembrane.model.forcefield import BOND, ForceField
from exomembrane.model.structure import Structure
from exomembrane.model.tethers import Tethers

#: Distance (sigma) from a bilayer's midplane to the outer edge of its head beads.
HALF = 2.5
#: Free space (sigma) left between the ends of ligands and receptors facing each other as built.
CLEARANCE = 0.2
#: A rigid exosome's springs: between beads closer than RIGID_REACH (sigma), RIGID_K (eps/sigma^2).
RIGID_REACH, RIGID_K = 1.5, 100.0
#: The compartments, as the membranes name them.
EXTRACELLULAR, CYTOSOL, EXOSOME_LUMEN = "extracellular", "cytosol", "exosome_lumen"


class TargetDomain(Strict):
    """A round domain of one leaflet of the target patch, under the exosome (around the box centre),
    with its own lipid ``composition``: a raft holding raft receptors (RCR) with SM, say. ``radius``
    in sigma along the patch."""

    leaflet: Literal["extracellular", "cytosolic"] = "extracellular"
    radius: PositiveFloat
    composition: CompositionField


class Surface(Strict):
    """Molecules of one species on one membrane, their binding end outwards (into the extracellular
    space): exactly one of ``count`` and ``density`` (per sigma^2 of midplane). A membrane protein
    (LIG, REC) is placed into the membrane; a lipid-anchored one (LGL, RCL) takes the share
    ``density * area_per_lipid`` of the facing leaflet (density only; at most 1 / area_per_lipid)."""

    species: str
    count: PositiveInt | None = None
    density: PositiveFloat | None = None

    @model_validator(mode="after")
    def _one_amount(self) -> Surface:
        if (self.count is None) == (self.density is None):
            raise ValueError("give exactly one of count and density")
        return self


def exosome_at_cell(ff: ForceField, size: float | tuple[float, float] = 48.0, *, exosome_radius: float = 8.0,
                    gap: float = 2.0, exosome_outer: Composition = "LIP", exosome_inner: Composition | None = None,
                    target_upper: Composition = "LIP", target_lower: Composition | None = None,
                    ligands: Surface | None = None, receptors: Surface | None = None, headroom: float = 4.0,
                    below: float | None = None, area_per_lipid: float = 1.2, exosome_run: str | None = None,
                    rigid: bool = False, target_domains: Sequence[TargetDomain] = (), seed: int = 0) -> Structure:
    """An exosome over a target patch (see the module docstring).

    Parameters
    ----------
    size
        Lateral box edges (sigma); the target patch spans them.
    exosome_radius
        Midplane radius of the exosome (sigma, >= 5).
    gap
        Distance (sigma) between the facing head surfaces of the exosome and the patch (0: touching);
        at least what ligands and receptors reach beyond them, plus ``CLEARANCE``.
    exosome_outer, exosome_inner
        Compositions of the exosome's outer (extracellular) and inner (luminal) leaflets.
    target_upper, target_lower
        Compositions of the patch's extracellular and cytosolic leaflets (``target_lower`` defaults
        to ``target_upper``).
    ligands, receptors
        Ligands on the exosome and receptors in the patch (:class:`Surface`), binding ends outwards;
        None: none (the negative control of binding).
    target_domains
        Round domains of the patch's leaflets under the exosome (:class:`TargetDomain`), laid
        before the receptors: a raft whose line tension can close the neck of the wrapped patch.
    headroom
        Free space (sigma) above the exosome's heads to the box's top face.
    below
        Depth (sigma) of the cytosol under the patch's heads; default: room for the exosome wrapped
        in the patch (its diameter plus two bilayers and 2 sigma).
    area_per_lipid, seed
        As the other builders.
    rigid
        Make the exosome a rigid particle of the same size and ligands (the control of softness: Yi,
        Shi & Gao, PRL 107, 098101, 2011): springs (``RIGID_K``) at their built lengths join every
        pair of its beads within ``RIGID_REACH``, so it neither bends nor lets its ligands move.
    exosome_run
        A budding run directory whose ILV (its last frame's, with its lipids, cargo and RNA as they
        were; :func:`~exomembrane.builders.chain.ilv_from_run`) is the exosome: the life cycle
        chained. Then ``exosome_radius`` is the ILV's and the compositions are its own.

    Returns
    -------
    The :class:`~exomembrane.model.structure.Structure`, membranes ``target`` and ``exosome`` with
    their compartments (extracellular, cytosol, exosome_lumen); the exosome's molecules confined.

    Example
    -------
    >>> s = exosome_at_cell(load_forcefield(), 40.0, exosome_radius=7.0, ligands=Surface(species="LIG", count=20),
    ...                     receptors=Surface(species="REC", density=0.02))
    >>> [m.name for m in s.membranes]
    ['target', 'exosome']
    """
    lx, ly = (float(size), float(size)) if isinstance(size, (int, float)) else (float(size[0]), float(size[1]))
    if exosome_run is not None:
        exo, exosome_radius = ilv_from_run(ff, exosome_run, "exosome_run")
    else:
        exo = None
    if not exosome_radius >= 5.0:
        raise ConfigError(f"exosome_radius: must be >= 5 sigma for a closed bilayer (got {exosome_radius!r})")
    if not gap >= 0:
        raise ConfigError(f"gap: must be >= 0 sigma, or the exosome overlaps the target patch (got {gap!r})")
    if not headroom > 0:
        raise ConfigError(f"headroom: must be > 0 sigma (got {headroom!r})")
    exosome_inner = exosome_outer if exosome_inner is None else exosome_inner  # as built, before any anchoring
    target_lower = target_upper if target_lower is None else target_lower
    asked = ligands
    exosome_outer, ligands = _anchored(ff, exosome_outer, ligands, area_per_lipid, "ligands")
    target_upper, receptors = _anchored(ff, target_upper, receptors, area_per_lipid, "receptors")
    down = up = side = exosome_radius + HALF  # the exosome's reach (sigma) from its centre: below, above, sideways
    if exo is not None:  # a run's ILV as it was, not quite round
        rel = exo.positions - exo.box / 2
        down, up = max(down, float(-rel[:, 2].min())), max(up, float(rel[:, 2].max()))
        side = max(side, float(np.abs(rel[:, :2]).max()))
        if asked is not None and ligands is None:  # lipid-anchored ligands on its outer leaflet
            exo = _anchor(exo, asked.species, float(asked.density or 0.0) * area_per_lipid, seed + 3)
    reach = sum(_reach(ff, spec) for spec in (ligands, receptors))
    reach += sum(_lipid_reach(ff, c) for c in (exosome_outer, target_upper))
    if gap < reach + CLEARANCE:
        raise ConfigError(f"gap: {gap:g} sigma would put the ligands' and receptors' ends into each other (they reach "
                          f"{reach:.1f} sigma beyond the heads together); give gap >= {reach + CLEARANCE:.1f}")
    wide = 2 * side + 2.0
    if wide > min(lx, ly):
        raise ConfigError(f"exosome_radius: an exosome of midplane radius {exosome_radius} sigma needs lateral box "
                          f"edges of at least {wide:.1f} sigma (got size {lx:g} x {ly:g}); raise size")
    room = 2 * (exosome_radius + 2 * HALF) + 2.0
    below = room if below is None else below
    if not below > 0:
        raise ConfigError(f"below: must be > 0 sigma (got {below!r})")
    z_t = below + HALF
    zc = z_t + HALF + gap + down
    box_z = zc + up + headroom
    target = bilayer(ff, (lx, ly), upper=target_upper, lower=target_lower,
                     area_per_lipid=area_per_lipid, box_z=box_z, seed=seed)
    box = np.array([target.box[0], target.box[1], box_z])
    if target_domains:  # with_domain needs the patch's sides: the extracellular one as "lumen", as for receptors
        sided = replace(target, membranes=(Membrane("lone", {"+z": "lumen", "-z": CYTOSOL}),),
                        membrane=np.where(target.is_lipid(), 0, -1))
        for k, spec in enumerate(target_domains):
            domain = Domain(leaflet="luminal" if spec.leaflet == "extracellular" else "cytosolic",
                            radius=spec.radius, composition=spec.composition)
            sided = with_domain(sided, domain, seed + 10 + k, f"target_domains.{k}")
        target = replace(sided, membranes=(), membrane=np.full(sided.n_molecules, -1, np.int16))
    target = _decorate(target, {"+z": "lumen", "-z": CYTOSOL}, receptors, "receptors", seed + 2)
    if exo is None:
        exo = vesicle(ff, exosome_radius, outer=exosome_outer, inner=exosome_inner, area_per_lipid=area_per_lipid,
                      seed=seed + 1)
    exo = _decorate(exo, {"outside": "lumen", "inside": CYTOSOL}, ligands, "ligands", seed + 3)
    centre = np.array([box[0] / 2, box[1] / 2, zc])
    membranes = [Membrane("target", {"+z": EXTRACELLULAR, "-z": CYTOSOL}),
                 Membrane("exosome", {"outside": EXTRACELLULAR, "inside": EXOSOME_LUMEN})]
    s = combine([(target, np.array([0.0, 0.0, z_t - target.box[2] / 2])), (exo, centre - exo.box / 2)], box,
                membranes, [0, 1])
    exosome = np.zeros(s.n_molecules, bool)
    exosome[target.n_molecules:] = True
    s = replace(s, confined=exosome)
    return replace(s, tethers=_rigid(s, exosome)) if rigid else s


def _rigid(s: Structure, exosome: np.ndarray) -> Tethers:
    """Springs at their built lengths between all pairs of the exosome's beads within ``RIGID_REACH``."""
    beads = np.flatnonzero(exosome[s.bead_molecule()])
    pairs = cKDTree(s.positions[beads]).query_pairs(RIGID_REACH, output_type="ndarray")
    pairs = beads[pairs]
    length = np.linalg.norm(s.positions[pairs[:, 0]] - s.positions[pairs[:, 1]], axis=1)
    return Tethers(pairs, length, length, np.full(len(pairs), RIGID_K))


def _reach(ff: ForceField, spec: Surface | None) -> float:
    """How far (sigma) a species placed with ``spec`` reaches beyond its membrane's head surface."""
    if spec is None:
        return 0.0
    try:
        template = ff.get(spec.species).template
    except ConfigError:
        return 0.0  # an unknown species is named by the placement below
    return max(0.0, float(template[:, 2].max()) + 0.5 - HALF)


def _anchored(ff: ForceField, leaflet: Composition, spec: Surface | None, area_per_lipid: float,
              field: str) -> tuple[Composition, Surface | None]:
    """A lipid-anchored ``spec`` mixed into the ``leaflet`` composition at the share its density asks
    (the rest scaled down), and then no molecules to place; any other ``spec`` as it is."""
    if spec is None:
        return leaflet, spec
    try:
        if ff.get(spec.species).kind != "lipid":
            return leaflet, spec
    except ConfigError:
        return leaflet, spec  # named where the molecules are placed
    if spec.density is None:
        raise ConfigError(f"{field}.count: a lipid-anchored {field[:-1]} ({spec.species}) is a share of its leaflet; "
                          f"give {field}.density (per sigma^2, at most {1 / area_per_lipid:.3g})")
    share = spec.density * area_per_lipid
    if share > 1.0:
        raise ConfigError(f"{field}.density: {spec.density:g} per sigma^2 is more {spec.species} than the leaflet "
                          f"holds (one lipid per {area_per_lipid:g} sigma^2); give at most {1 / area_per_lipid:.3g}")
    base = {leaflet: 1.0} if isinstance(leaflet, str) else dict(leaflet)
    mixed = {name: frac * (1.0 - share) for name, frac in base.items() if name != spec.species}
    mixed[spec.species] = share + base.get(spec.species, 0.0) * (1.0 - share)
    return mixed, None


def _anchor(s: Structure, species: str, share: float, seed: int) -> Structure:
    """``s`` with the ``share`` of its outer leaflet's lipids turned into the lipid-anchored ``species``
    (LIP lipids first, then other three-bead lipids with the same head bead as the species' own, not
    small-headed cones, drawn at random, skipping those whose new beads would come within ``CLEAR``
    of another bead): each keeps its positions, takes the species' tails and gains its extra head
    beads (its first ones) straight out along its axis, BOND apart."""
    ff = s.forcefield
    new = ff.get(species)
    extra = len(new.beads) - 3
    outer = s.is_lipid() & (s.leaflet == 1)
    like = [len(ff.get(name).beads) == 3 and ff.get(name).beads[0].type == new.beads[extra].type for name in s.species]
    three = np.array(like)[s.molecule_species]  # three-bead lipids with the head the anchored one keeps
    rng = np.random.default_rng(seed)
    plain, other = (rng.permutation(np.flatnonzero(outer & three & m)) for m in (s.of_species("LIP"),
                                                                               ~s.of_species("LIP")))
    n = round(share * outer.sum())
    pieces = np.split(s.positions, s.molecule_start[1:])
    tree = cKDTree(s.positions)
    added: list[np.ndarray] = []
    pick: list[int] = []
    for k in np.concatenate([plain, other]):
        if len(pick) == n:
            break
        p = pieces[k]
        axis = (p[0] - p[1]) / np.linalg.norm(p[0] - p[1])
        beads = p[0] + BOND * np.arange(extra, 0, -1)[:, None] * axis
        own = range(s.molecule_start[k], s.molecule_start[k] + len(p))
        if any(set(tree.query_ball_point(b, CLEAR)) - set(own) for b in beads) or (
                added and np.min(np.linalg.norm(np.concatenate(added)[:, None] - beads, axis=2)) < CLEAR):
            continue
        added.append(beads)
        pick.append(int(k))
        pieces[k] = np.vstack([beads, p])
    if len(pick) < n:
        raise ConfigError(f"ligands.density: {n} {species} asked on the exosome's outer leaflet, but only {len(pick)} "
                          f"of its {int(outer.sum())} lipids have its head type and room for the ligand's head "
                          f"({CLEAR:g} sigma from every bead); lower the density")
    names = s.species if species in s.species else (*s.species, species)
    codes = s.molecule_species.copy()
    codes[pick] = names.index(species)
    return Structure(ff, names, codes, np.concatenate(pieces), s.box, s.leaflet, s.membranes, s.membrane, s.confined)


def _lipid_reach(ff: ForceField, composition: Composition) -> float:
    """How far (sigma) the surface of the longest lipid of ``composition`` reaches beyond the head
    surface of a three-bead lipid (a lipid-anchored ligand or receptor on a tether: LGL, RCL)."""
    names = [composition] if isinstance(composition, str) else list(composition)
    try:
        extra = max(float(ff.get(n).template[:, 2].max()) - 2 * BOND for n in names)
    except ConfigError:
        return 0.0  # an unknown species is named by the composition's check
    return extra + 0.5 if extra > 0 else 0.0  # its bead's radius beyond, as for the rods' binding beads


def _decorate(s: Structure, sides: dict[str, str], spec: Surface | None, field: str, seed: int) -> Structure:
    """``s`` with ``spec``'s molecules in its membrane, +z into the side named "lumen" in ``sides``
    (the extracellular one); errors name ``field``."""
    if spec is None:
        return s
    try:
        return place_on(s, sides, [Placement(species=spec.species, where="membrane", up="lumen", count=spec.count,
                                             density=spec.density)], seed)
    except ConfigError as err:
        raise ConfigError(f"{field}{str(err).removeprefix('proteins.0')}") from None


@register
class ExosomeUptakeSection(Section):
    """``builder.kind: exosome_uptake``: an exosome with ligands over a target patch with receptors
    (:func:`exosome_at_cell`); lengths in sigma."""

    kind: Literal["exosome_uptake"]
    size: Annotated[tuple[PositiveFloat, PositiveFloat], BeforeValidator(repeat(2))] = (48.0, 48.0)
    exosome_radius: float = Field(default=8.0, ge=5.0)
    gap: NonNegativeFloat = 2.0
    exosome_outer: CompositionField = {"LIP": 1.0}
    exosome_inner: CompositionField | None = None
    target_upper: CompositionField = {"LIP": 1.0}
    target_lower: CompositionField | None = None
    ligands: Surface | None = None
    receptors: Surface | None = None
    headroom: PositiveFloat = 4.0
    below: PositiveFloat | None = None
    area_per_lipid: PositiveFloat = 1.2
    exosome_run: str | None = None
    rigid: bool = False
    target_domains: list[TargetDomain] = []
    seed: NonNegativeInt = 0
    LEAFLETS: ClassVar[tuple[str, ...]] = ("exosome_outer", "exosome_inner", "target_upper", "target_lower")
    ANCHORED: ClassVar[tuple[str, ...]] = ("ligands", "receptors")

    @model_validator(mode="after")
    def _run_alone(self) -> ExosomeUptakeSection:
        given = self.changed({"exosome_radius", "exosome_outer", "exosome_inner"})
        if self.exosome_run is not None and given:
            raise ValueError(f"exosome_run: an exosome taken from a run is built from that run alone; drop {given}")
        return self

    def compositions(self) -> dict[str, dict[str, float]]:
        out = {k: v for k, v in super().compositions().items() if v is not None}
        out.update({f"target_domains.{k}.composition": d.composition for k, d in enumerate(self.target_domains)})
        return out

    def placements(self) -> dict[str, Placement]:
        return {name: Placement(species=spec.species, count=spec.count, density=spec.density)
                for name, spec in (("ligands", self.ligands), ("receptors", self.receptors)) if spec is not None}

    def build(self, ff: ForceField) -> Structure:
        options: dict[str, Any] = {k: getattr(self, k) for k in (
            "exosome_radius", "gap", "exosome_outer", "exosome_inner", "target_upper", "target_lower", "ligands",
            "receptors", "headroom", "below", "area_per_lipid", "exosome_run", "rigid", "target_domains", "seed")}
        return exosome_at_cell(ff, self.size, **options)
