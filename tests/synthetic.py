"""Hand-built membranes with known answers, for testing the analysis classifiers of every act.

Units: lengths in sigma (= nm, the package's unit), areas in sigma^2. Lipids are 3-bead Cooke lipids
(H, T1, T2) laid straight along the local normal of a midplane, as the builders lay them: the head
``HEAD`` = 2.44 sigma from the midplane, beads 0.97 sigma apart, 1.2 sigma^2 per lipid per leaflet
(counted on the surface ``INTERFACE`` = 1.5 sigma from the midplane), so that
:func:`exomembrane.analysis.membrane_clusters` and :func:`~exomembrane.analysis.assign_leaflets`
see them as they see a real membrane.

A shape is a :class:`Surface`: the midplane foot of each lipid, its unit normal toward the head,
and a region tag. Shapes are centred on the axis (``SIDE``/2, ``SIDE``/2) of a ``SIDE`` x ``SIDE``
periodic patch (``PATCH``), midplane (or mid-gap) at z = 0; :meth:`Surface.moved` places them,
:meth:`Surface.shifted` places and wraps them into a box (across the periodic boundary), and
:func:`surfaces_trajectory` turns frames of them into an ``mdtraj.Trajectory``.

Builds
------
- :func:`plane`: flat periodic bilayer (optionally with a hole, no rim); :func:`flat_leaflet` one monolayer.
- :func:`apposed`: two separate parallel flat bilayers (before fusion).
- :func:`pore`: flat bilayer with a pore whose rim is a half-torus joining its two leaflets.
- :class:`Omega`: plane + fillet + neck tube + spherical bud (budding); :class:`MVB`: closed MVB
  with an inward bud.
- :func:`sphere`: closed vesicle, or an open cup (``opening``) whose edge joins its leaflets.
- :func:`stalk`, :func:`hemifusion_diaphragm`, :func:`fusion_pore`: two flat bilayers joined by
  a monolayer neck, by a single bilayer of their distal monolayers, or by a bilayer tube.
- :func:`rough`: thermal-like disorder on any shape; :func:`transmembrane`: 3-bead rods across it.
- :func:`structure_trajectory`, :func:`shifted_positions`, :func:`combined_structures`: the same
  for ``exomembrane.Structure`` objects from the builders.

Each shape's docstring gives its known answers (membranes, leaflets, radii). Shapes with ring-laid
parts take ``rng``, a ``numpy.random.Generator`` or a seed, for the rings' random phases.
"""
from __future__ import annotations

from dataclasses import dataclass

import mdtraj
import numpy as np

import exomembrane as em

HEAD = 0.5 + 2 * 0.97  # head distance from the midplane of a straight built lipid (sigma)
OFFSETS = np.array([HEAD, HEAD - 0.97, HEAD - 2 * 0.97])  # H, T1, T2 along the normal from the midplane
INTERFACE = 1.5  # lipids are counted on the surface this far from the midplane (as the vesicle builder)
SPACING = np.sqrt(1.2)  # 1.2 sigma^2 per lipid per leaflet
CELLS = 27  # flat patch: CELLS x CELLS lattice sites per leaflet
SIDE = CELLS * SPACING  # patch box edge, 29.6 sigma
LZ = 50.0
PATCH = (SIDE, SIDE, LZ)
AXIS = (SIDE / 2, SIDE / 2)  # the axis of the shapes of revolution in a patch
CORNER = (0.0, 0.0)  # a bud here straddles the x and y boundaries (and the lower leaflet the z one)


@dataclass
class Surface:
    """Lipids as midplane feet (n, 3), unit normals toward their heads (n, 3), a region tag each and
    the leaflet each was laid in (``side``: +1 upper/outer, heads along the profile's normal; -1
    lower/inner; default the sign of the normal's z component)."""

    mid: np.ndarray
    normal: np.ndarray
    region: np.ndarray
    side: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.side is None:
            self.side = np.where(np.asarray(self.normal)[:, 2] >= 0, 1, -1) if len(self.normal) else np.zeros(0, int)

    def __add__(self, other: Surface) -> Surface:
        return Surface(*(np.concatenate([a, b]) for a, b in zip(self.astuple(), other.astuple())))

    def astuple(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        assert self.side is not None
        return self.mid, self.normal, self.region, self.side

    def moved(self, shift) -> Surface:
        """Translated by ``shift`` (3,) sigma, not wrapped."""
        return Surface(self.mid + shift, self.normal, self.region, self.side)

    def shifted(self, shift, box) -> Surface:
        """Translated by ``shift`` (3,) and the feet wrapped into [0, ``box``): the shape straddles
        the periodic boundary wherever the shift takes it (lipids split there by the trajectory)."""
        return Surface(np.mod(self.mid + shift, np.asarray(box, float)), self.normal, self.region, self.side)

    def mirrored(self) -> Surface:
        """Reflected through the plane z = 0."""
        flip = np.array([1.0, 1.0, -1.0])
        return Surface(self.mid * flip, self.normal * flip, self.region, self.side)

    def tagged(self, tag: str) -> Surface:
        """The same lipids, all with region ``tag``."""
        return Surface(self.mid, self.normal, np.full(len(self.mid), tag), self.side)

    def beads(self) -> np.ndarray:
        """(n, 3, 3) H, T1, T2 positions."""
        return self.mid[:, None] + OFFSETS[None, :, None] * self.normal[:, None]


# --------------------------------------------------------------------------------- profiles, laying


def arc(points: np.ndarray, normals: np.ndarray, tag: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A profile piece: (rho, z) midplane points (n, 2), their unit normals (n, 2) and tags."""
    return points, normals, np.full(len(points), tag)


def profile(*pieces) -> tuple[np.ndarray, ...]:
    """Concatenated (rho, z) points, (n_rho, n_z) normals and tags of profile pieces."""
    return tuple(np.concatenate(p) for p in zip(*pieces))


def circle(centre, radius: float, angles: np.ndarray, tag: str, inward: bool = False):
    """Arc of a circle in the (rho, z) plane at the given angles (from +rho toward +z)."""
    u = np.c_[np.cos(angles), np.sin(angles)]
    return arc(np.asarray(centre) + radius * u, -u if inward else u, tag)


def line(start, end, normal, tag: str, n: int = 200):
    """Straight profile piece from ``start`` to ``end`` (rho, z) with the constant unit ``normal``."""
    t = np.linspace(0.0, 1.0, n)[:, None]
    return arc(np.asarray(start, float) + t * (np.asarray(end, float) - start), np.tile(normal, (n, 1)), tag)


def revolve(points: np.ndarray, normals: np.ndarray, tags: np.ndarray, rng: np.random.Generator,
            sides: tuple[float, ...] = (1.0, -1.0)) -> Surface:
    """Both leaflets of the surface of revolution about the z axis of a (rho, z) midplane profile.

    Each leaflet is laid in rings spaced ``SPACING`` along its interface curve (``INTERFACE``
    from the midplane), each ring with ``SPACING`` between lipids, at a random phase.
    ``sides=(1.0,)`` lays only the monolayer whose heads point along ``normals`` (a monolayer
    profile: its "midplane" is the surface of its tail ends).
    """
    out = []
    for side in sides:
        q = points + side * INTERFACE * normals
        s = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(q, axis=0), axis=1))]
        n_ring = max(1, round(s[-1] / SPACING))
        at = (np.arange(n_ring) + 0.5) * s[-1] / n_ring
        rz = np.stack([np.interp(at, s, points[:, k]) for k in range(2)], 1)
        nrz = np.stack([np.interp(at, s, normals[:, k]) for k in range(2)], 1)
        nrz /= np.linalg.norm(nrz, axis=1, keepdims=True)
        tag = tags[np.minimum(np.searchsorted(s, at), len(s) - 1)]
        radius = np.abs(rz[:, 0] + side * INTERFACE * nrz[:, 0])
        count = np.maximum(1, np.round(2 * np.pi * radius / SPACING)).astype(int)
        ring = np.repeat(np.arange(n_ring), count)
        phi = rng.uniform(0, 2 * np.pi, n_ring)[ring] + 2 * np.pi * (np.arange(ring.size) - np.repeat(
            np.cumsum(count) - count, count)) / count[ring]
        c, s_ = np.cos(phi), np.sin(phi)
        mid = np.c_[rz[ring, 0] * c, rz[ring, 0] * s_, rz[ring, 1]]
        normal = side * np.c_[nrz[ring, 0] * c, nrz[ring, 0] * s_, nrz[ring, 1]]
        out.append(Surface(mid, normal, tag[ring], np.full(ring.size, int(side))))
    total = out[0]
    for more in out[1:]:
        total = total + more
    return total


def rim(edge, outward, along, tag: str = "rim", rows: int = 7) -> Surface:
    """Half-cylinder of lipids closing a bilayer's edge circle (a pore rim, a cup's edge).

    Feet on the circle of (rho, z) ``edge`` about the z axis; normals fanning in ``rows`` rows
    (head spacing ~1.1 sigma around the rim for 7) from the unit ``outward`` (the normal of one
    leaflet at the edge) through ``along`` (the direction beyond the edge) to -``outward``.
    """
    rho_e, z_e = edge
    angle = np.pi * (np.arange(rows) + 0.5) / rows
    u = np.cos(angle)[:, None] * np.asarray(outward) + np.sin(angle)[:, None] * np.asarray(along)
    count = np.round(2 * np.pi * (rho_e + INTERFACE * u[:, 0]) / SPACING).astype(int)
    row = np.repeat(np.arange(rows), count)
    phi = 2 * np.pi * (np.arange(row.size) - np.repeat(np.cumsum(count) - count, count)) / count[row]
    c, s = np.cos(phi), np.sin(phi)
    mid = np.c_[rho_e * c, rho_e * s, np.full(row.size, z_e)]
    side = np.where(np.arange(rows) < rows / 2, 1, -1)[row]  # the rows fanning from ``outward`` continue its leaflet
    return Surface(mid, np.c_[u[row, 0] * c, u[row, 0] * s, u[row, 1]], np.full(row.size, tag), side)


# --------------------------------------------------------------------------------------- flat sheets


def lattice(hole: float = 0.0, centre=AXIS) -> np.ndarray:
    """(n, 2) xy sites of the CELLS x CELLS square lattice of the patch, without the disc of radius
    ``hole`` about ``centre`` (periodic)."""
    g = (np.arange(CELLS) + 0.5) * SPACING
    xy = np.stack(np.meshgrid(g, g, indexing="ij"), -1).reshape(-1, 2)
    d = xy - centre
    d -= SIDE * np.round(d / SIDE)
    return xy[np.linalg.norm(d, axis=1) >= hole]


def flat_leaflet(sign: float, hole: float = 0.0, centre=AXIS, z: float = 0.0, tag: str = "flat") -> Surface:
    """One flat monolayer on the patch lattice, feet at height ``z``, heads toward ``sign`` z (+1 / -1)."""
    xy = lattice(hole, centre)
    return Surface(np.c_[xy, np.full(len(xy), z)], np.tile([0.0, 0.0, sign], (len(xy), 1)), np.full(len(xy), tag))


def plane(hole: float = 0.0, centre=AXIS) -> Surface:
    """Flat bilayer at z = 0 filling the SIDE x SIDE patch, without the disc of radius ``hole`` at ``centre``.

    Known answers (no hole): 1 membrane, 2 leaflets (upper first), ``CELLS**2`` = 729 lipids per
    leaflet, area per lipid exactly 1.2. A hole here has a bare edge (no rim): see :func:`pore`.
    """
    return flat_leaflet(1.0, hole, centre) + flat_leaflet(-1.0, hole, centre)


def apposed(separation: float = 10.0) -> Surface:
    """Two separate flat bilayers, midplanes at z = +-``separation``/2, tagged "upper" / "lower".

    Known answers: 2 membranes (when the head layers do not overlap, ``separation`` > 2 ``HEAD``
    = 4.88; tail beads then lie > 3.9 apart), 4 leaflets, 1.2 sigma^2 per lipid per leaflet.
    """
    h = separation / 2
    return plane().moved([0, 0, h]).tagged("upper") + plane().moved([0, 0, -h]).tagged("lower")


def pore(radius: float = 6.0, rng: np.random.Generator | int = 0, centre=AXIS, width: float = 3 * SPACING) -> Surface:
    """Flat bilayer (z = 0, the patch) with a pore: a hole whose edge is a half-torus of lipids.

    The bilayer's midplane ends on the circle of radius ``radius`` about the axis through
    ``centre``; there a :func:`rim` of lipids, feet on that circle, fans from the upper leaflet
    around to the lower one, so the heads line the hole at ``radius - HEAD`` from the axis (the
    water channel's radius; 3.56 for the default 6). A ring-laid annulus ``width`` wide joins the
    rim to the lattice. Tags: "flat" (lattice and annulus), "rim".

    Known answers: 1 membrane; its two leaflets are one sheet through the rim (one leaflet label);
    nearest foot (tail end) ``radius`` and nearest head ``radius - HEAD`` from the axis.
    :func:`~exomembrane.analysis.assign_leaflets` gives the one label from ``radius`` 4 up (rough
    or not); at 3-3.5 (heads <= 1.06 from the axis) it may give 2.
    """
    if radius <= HEAD + 0.5:
        raise ValueError(f"radius: must be > HEAD + 0.5 = {HEAD + 0.5} (the heads lining the hole) (got {radius})")
    rng = np.random.default_rng(rng)
    outer = radius + width
    annulus = revolve(*line((radius, 0.0), (outer, 0.0), (0.0, 1.0), "flat"), rng)
    edge = rim((radius, 0.0), (0.0, 1.0), (-1.0, 0.0))
    return plane(outer, centre) + (annulus + edge).moved([*centre, 0.0])


# -------------------------------------------------------------------------------------- budding


@dataclass(frozen=True)
class Omega:
    """Plane z = 0, a quarter-torus fillet of radius ``fillet``, a neck tube of midplane radius ``neck``
    and length ``tube``, and a spherical bud of midplane radius ``bud`` on top, bulging toward +z.

    Known answers: 1 membrane, 2 leaflets; neck radius ``neck`` (midplane, on the tube), bud tip
    :attr:`height` above the plane, bud centre :attr:`bud_centre_height` above the plane.
    Tags: "flat", "fillet", "tube", "bud". The profile has a corner where the bud sphere meets the
    tube (normals ``arccos(neck / bud)`` apart: 54 degrees for the defaults), at which
    :func:`~exomembrane.analysis.assign_leaflets` cuts the inner leaflet (3-4 labels for necks
    3-4.5; 2 at neck 5), see ``tests/test_synthetic.py``.
    """

    neck: float = 3.5
    bud: float = 6.0
    fillet: float = 3.0
    tube: float = 3.0

    @property
    def bud_centre_height(self) -> float:
        return self.fillet + self.tube + np.sqrt(self.bud**2 - self.neck**2)

    @property
    def height(self) -> float:
        """Midplane height of the bud's tip above the plane."""
        return self.bud_centre_height + self.bud

    def surface(self, rng: np.random.Generator, centre=AXIS) -> Surface:
        a, rf, t, r = self.neck, self.fillet, self.tube, self.bud
        z = np.linspace(rf, rf + t, 400)
        psi0 = np.pi - np.arcsin(a / r)
        prof = profile(circle((a + rf, rf), rf, np.linspace(-np.pi / 2, -np.pi, 400), "fillet", inward=True),
                       arc(np.c_[np.full_like(z, a), z], np.tile([1.0, 0.0], (z.size, 1)), "tube"),
                       circle((0.0, self.bud_centre_height), r, np.pi / 2 - np.linspace(psi0, 0.0, 1500), "bud"))
        return plane(a + rf, centre) + revolve(*prof, rng).moved([*centre, 0.0])


def sphere(radius: float, centre, rng: np.random.Generator, tag: str = "vesicle", opening: float = 0.0) -> Surface:
    """Closed spherical bilayer, or with ``opening`` (radians) a cup open at the bottom whose edge is
    a half-cylinder of lipids joining its two leaflets, as at a real pore rim.

    Known answers: closed: 1 membrane, 2 leaflets (outer first), midplane radius ``radius``;
    open cup: 1 membrane whose leaflets are one sheet through the rim (one leaflet label), edge
    circle of radius ``radius * sin(opening)``. Tags: ``tag``, "rim".
    """
    psi = np.linspace(np.pi - opening, 0.0, 2000)  # polar angle from +z
    surf = revolve(*circle((0.0, 0.0), radius, np.pi / 2 - psi, tag), rng)
    if opening:
        psi_e = np.pi - opening
        n_e, t_e = np.array([np.sin(psi_e), np.cos(psi_e)]), np.array([np.cos(psi_e), -np.sin(psi_e)])
        surf = surf + rim((radius * np.sin(psi_e), radius * np.cos(psi_e)), n_e, t_e)
    return surf.moved(centre)


@dataclass(frozen=True)
class MVB:
    """Closed MVB sphere (midplane ``radius``, centre at the origin) with an inward bud at its north
    pole: a fillet, a neck tube going inward and a spherical bud; the profile's normals point to the
    cytosol (out of the MVB, into the bud).

    Known answers: 1 membrane, 2 leaflets; neck ``neck``, bud radius ``bud``, depth :attr:`depth`.
    Tags: "mvb", "fillet", "tube", "bud".
    """

    radius: float = 18.0
    neck: float = 3.5
    bud: float = 5.0
    fillet: float = 3.0
    tube: float = 2.0

    @property
    def fillet_centre(self) -> np.ndarray:
        r = self.neck + self.fillet
        return np.array([r, np.sqrt((self.radius - self.fillet) ** 2 - r**2)])

    @property
    def bud_centre_z(self) -> float:
        return self.fillet_centre[1] - self.tube - np.sqrt(self.bud**2 - self.neck**2)

    @property
    def depth(self) -> float:
        """Midplane displacement of the bud's deepest point from the MVB sphere, toward the centre."""
        return self.radius - (self.bud_centre_z - self.bud)

    def surface(self, rng: np.random.Generator) -> Surface:
        f, rf, a, r = self.fillet_centre, self.fillet, self.neck, self.bud
        joint = np.arctan2(f[0], f[1])  # polar angle of the MVB point the fillet touches
        z = np.linspace(f[1], f[1] - self.tube, 300)
        psi0 = np.arcsin(a / r)
        prof = profile(circle((0.0, 0.0), self.radius, np.pi / 2 - np.linspace(np.pi, joint, 4000), "mvb"),
                       circle(f, rf, np.linspace(np.arctan2(f[1], f[0]), np.pi, 400), "fillet"),
                       arc(np.c_[np.full_like(z, a), z], np.tile([-1.0, 0.0], (z.size, 1)), "tube"),
                       circle((0.0, self.bud_centre_z), r, np.pi / 2 - np.linspace(psi0, np.pi, 1500), "bud",
                              inward=True))
        return revolve(*prof, rng)


# --------------------------------------------------------------------------------------- fusion
# Two flat bilayers, midplanes at z = +-separation/2 ("upper": a plasma-membrane-like patch, "lower"
# the membrane below it). Distal monolayers face away from the other membrane (upper +z, lower -z),
# proximal ones face the gap between them.


def stalk(separation: float = 10.0, neck: float = 1.0, rng: np.random.Generator | int = 0, centre=AXIS,
          fillet: float | None = None) -> Surface:
    """Two flat bilayers whose proximal monolayers are joined near the axis by a monolayer neck.

    The proximal monolayers leave their bilayers through quarter-torus fillets (midplane radius
    ``fillet``, default ``separation``/2, > ``HEAD``) and meet in an hourglass-shaped monolayer
    whose tail ends lie ``neck`` from the axis at its waist (z = 0) and whose heads point away from
    the axis (``neck + HEAD``), tails inward: the hydrophobic cores of the two bilayers are
    continuous through it. The distal monolayers stay flat. Tags: "upper", "lower" (both
    bilayers' flat lattices), "stalk" (the ring-laid proximal monolayer, fillets included).

    Known answers: 1 membrane; 3 leaflets: the two distal monolayers and the joined proximal ones;
    heads of the waist ``neck + HEAD`` from the axis. :func:`~exomembrane.analysis.assign_leaflets`
    finds the 3 for ``fillet`` >= 5 (head surface bent at radius >= 2.56; checked for necks 0-3,
    seeds 0-11); at ``fillet`` 3.5-4.5 it splits the proximal monolayer at the waist for some
    necks and ring phases (e.g. ``stalk(7.0)``: 4 leaflets).
    """
    h = separation / 2
    rf = h if fillet is None else fillet
    if not HEAD < rf <= h:
        raise ValueError(f"fillet: must be in (HEAD, separation/2] = ({HEAD}, {h}] (got {rf})")
    if neck < 0:
        raise ValueError(f"neck: must be >= 0 (got {neck})")
    outer = neck + rf
    prox = profile(circle((outer, h - rf), rf, np.linspace(np.pi / 2, np.pi, 400), "stalk", inward=True),
                   line((neck, h - rf), (neck, rf - h), (1.0, 0.0), "stalk"),
                   circle((outer, rf - h), rf, np.linspace(np.pi, 3 * np.pi / 2, 400), "stalk", inward=True))
    joined = revolve(*prox, np.random.default_rng(rng), sides=(1.0,)).moved([*centre, 0.0])
    upper = flat_leaflet(1.0, 0.0, centre, h, "upper") + flat_leaflet(-1.0, outer, centre, h, "upper")
    lower = flat_leaflet(-1.0, 0.0, centre, -h, "lower") + flat_leaflet(1.0, outer, centre, -h, "lower")
    return upper + lower + joined


@dataclass(frozen=True)
class Diaphragm:
    """Dimensions of :func:`hemifusion_diaphragm` (sigma). ``bend``: radius of the two arcs by which
    each distal monolayer (and the bilayer it belongs to) climbs from the diaphragm (z = 0) to its
    bilayer (z = +-``separation``/2); it must exceed ``HEAD`` and lie in [separation/4, separation/2]."""

    radius: float = 5.0
    separation: float = 10.0
    bend: float = 4.0

    @property
    def theta(self) -> float:
        """Angle each bend arc turns through (radians)."""
        return float(np.arccos(1 - self.separation / (4 * self.bend)))

    @property
    def run(self) -> float:
        """Radial distance from the diaphragm's edge to where the bilayers are flat."""
        return 2 * self.bend * np.sin(self.theta)

    @property
    def junction(self) -> float:
        """Distance from the axis of the proximal monolayer's tail ends at the three-way junction."""
        return self.radius + self.run - self.bend


def hemifusion_diaphragm(radius: float = 5.0, rng: np.random.Generator | int = 0, centre=AXIS,
                         separation: float = 10.0, bend: float = 4.0) -> Surface:
    """Two flat bilayers joined so that within ``radius`` of the axis only one bilayer, made of
    their two distal monolayers (feet at z = 0), separates the spaces above and below.

    Each distal monolayer runs from the diaphragm (z = 0, rho < ``radius``) up an S of two arcs of
    radius ``bend`` (concave, then convex) to its flat bilayer; the proximal monolayers follow the
    convex arcs as the other leaflet of their bilayers, then turn down and merge around the rim: a
    half-stadium of lipids facing the gap between the bilayers, tail ends at ``Diaphragm.junction``
    from the axis (a small hydrophobic void at the three-way junction, as in the classic model).
    Tags: "diaphragm" (distal lipids of the disc), "rim" (the distal concave arcs and the merged
    proximal lipids), "upper", "lower" (the bilayers, their convex arcs included).

    Known answers: 1 membrane; 3 leaflets: the upper distal, the lower distal (each covering one
    face of the diaphragm) and the merged proximal one; diaphragm radius ``radius``; heads of the
    merged proximal monolayer no nearer the axis than ``Diaphragm.junction + HEAD``.
    :func:`~exomembrane.analysis.assign_leaflets` splits the proximal monolayer at the gap's tip
    when ``bend`` is 3 (its heads there bent at radius 0.56), not at 3.5 or 4.
    """
    if not (HEAD < bend and separation / 4 <= bend <= separation / 2):
        raise ValueError(f"bend: must exceed HEAD = {HEAD} and lie in [separation/4, separation/2] (got {bend})")
    d = Diaphragm(radius, separation, bend)
    h, r, run, theta = separation / 2, bend, d.run, d.theta
    rng = np.random.default_rng(rng)
    far = radius + run
    distal = profile(line((0.0, 0.0), (radius, 0.0), (0.0, 1.0), "diaphragm"),
                     circle((radius, r), r, np.linspace(-np.pi / 2, -np.pi / 2 + theta, 400), "rim", inward=True),
                     circle((far, h - r), r, np.linspace(np.pi / 2 + theta, np.pi / 2, 400), "upper"))
    top = revolve(*distal, rng, sides=(1.0,))
    bottom = revolve(*distal, rng, sides=(1.0,)).mirrored()
    bottom.region[bottom.region == "upper"] = "lower"
    corner = np.linspace(np.pi / 2, np.pi, 400)
    prox = profile(circle((far, h - r), r, corner, "upper", inward=True),
                   line((far - r, h - r), (far - r, r - h), (1.0, 0.0), "rim"),
                   circle((far, r - h), r, corner + np.pi / 2, "lower", inward=True))
    points, normals, tags = prox
    angle = np.concatenate([corner, np.full(200, np.pi), corner + np.pi / 2])  # about the corner centres
    tags[(angle > np.pi / 2 + theta) & (angle < 3 * np.pi / 2 - theta)] = "rim"  # beyond the distal arcs
    joined = revolve(points, normals, tags, rng, sides=(1.0,))
    upper = flat_leaflet(1.0, far, centre, h, "upper") + flat_leaflet(-1.0, far, centre, h, "upper")
    lower = flat_leaflet(-1.0, far, centre, -h, "lower") + flat_leaflet(1.0, far, centre, -h, "lower")
    return upper + lower + (top + bottom + joined).moved([*centre, 0.0])


def fusion_pore(radius: float = 5.0, rng: np.random.Generator | int = 0, centre=AXIS, separation: float = 10.0,
                fillet: float = 3.0) -> Surface:
    """Two flat bilayers become one membrane with a through-hole: a bilayer tube (catenoid-like
    neck) of midplane radius ``radius`` joins them, each end by a quarter-torus fillet of radius
    ``fillet`` (> ``HEAD``, <= ``separation``/2), like :class:`Omega`'s neck but between two planes.

    The tube's inner leaflet (heads toward the axis, ``radius - HEAD`` from it) continues both
    distal monolayers, its outer one both proximal monolayers; the pore's lumen joins the spaces
    above and below, the gap between the bilayers surrounds the tube. Tags: "upper", "lower"
    (the flat bilayers), "fillet", "neck" (the tube).

    Known answers: 1 membrane; 2 leaflets (distal + inner, proximal + outer); neck midplane radius
    ``radius`` (feet of the "neck" lipids exactly there).
    """
    h = separation / 2
    if not (HEAD < fillet <= h and radius > HEAD + 0.5):
        raise ValueError(f"need HEAD < fillet <= separation/2 and radius > HEAD + 0.5 (got {fillet}, {radius})")
    outer = radius + fillet
    prof = profile(circle((outer, h - fillet), fillet, np.linspace(np.pi / 2, np.pi, 400), "fillet"),
                   line((radius, h - fillet), (radius, fillet - h), (-1.0, 0.0), "neck"),
                   circle((outer, fillet - h), fillet, np.linspace(np.pi, 3 * np.pi / 2, 400), "fillet"))
    tube = revolve(*prof, np.random.default_rng(rng)).moved([*centre, 0.0])
    return plane(outer, centre).moved([0, 0, h]).tagged("upper") + plane(outer, centre).moved(
        [0, 0, -h]).tagged("lower") + tube


# --------------------------------------------------------------------------------- disorder, cargo


def rough(surf: Surface, rng: np.random.Generator) -> Surface:
    """Thermal-like disorder: feet jittered 0.25 sigma along the normal and 0.15 sigma each way,
    lipids tilted ~11 degrees rms."""
    n = surf.normal + rng.normal(0, 0.2, surf.normal.shape)
    mid = surf.mid + surf.normal * rng.normal(0, 0.25, (len(n), 1)) + rng.normal(0, 0.15, n.shape)
    return Surface(mid, n / np.linalg.norm(n, axis=1, keepdims=True), surf.region, surf.side)


def transmembrane(surf: Surface, pick: np.ndarray) -> np.ndarray:
    """(n, 3, 3) three-bead rods across the bilayer at the feet of lipids ``pick``."""
    return surf.mid[pick, None] + np.array([-1.5, 0.0, 1.5])[None, :, None] * surf.normal[pick, None]


# ------------------------------------------------------------------------------------- trajectories


def surfaces_trajectory(frames: list[Surface], box, cargo: dict[str, list[np.ndarray]] | None = None,
                        park: tuple[float, float] = (-24.0, -6.0)) -> mdtraj.Trajectory:
    """Trajectory of lipid frames (wrapped bead by bead), padded to a common lipid count with lone
    lipids parked on a sparse grid in the z range ``park`` (never a membrane), plus cargo residues
    named by the keys of ``cargo``: per frame an (n_molecules, n_beads, 3) array. Lipids are
    residues LIP (H, T1, T2), in the order of each frame's :class:`Surface`; times 10 tau apart."""
    box = np.asarray(box, float)
    n = max(len(s.mid) for s in frames)
    g = np.arange(0.5, box[0] / 2.6) * 2.6
    layers = np.arange(park[0], park[1] - 2.0, 4.0)
    spots = np.stack(np.meshgrid(g, g, layers, indexing="ij"), -1).reshape(-1, 3)
    xyz = []
    for k, s in enumerate(frames):
        extra = n - len(s.mid)
        assert extra <= len(spots), "not enough parking"
        parked = Surface(spots[:extra], np.tile([0.0, 0.0, 1.0], (extra, 1)), np.full(extra, "parked"))
        beads = [(s + parked).beads().reshape(-1, 3)]
        beads += [np.asarray(c[k]).reshape(-1, 3) for c in (cargo or {}).values()]
        xyz.append(np.concatenate(beads))
    top = mdtraj.Topology()
    chain = top.add_chain()
    for _ in range(n):
        res = top.add_residue("LIP", chain)
        for name in ("H", "T1", "T2"):
            top.add_atom(name, None, res)
    for name, per_frame in (cargo or {}).items():
        n_mol, n_bead = np.shape(per_frame[0])[:2]
        for _ in range(n_mol):
            res = top.add_residue(name, chain)
            for b in range(n_bead):
                top.add_atom(f"C{b + 1}", None, res)
    nf = len(frames)
    return mdtraj.Trajectory(np.mod(np.array(xyz), box).astype(np.float32), top, time=np.arange(nf) * 10.0,
                             unitcell_lengths=np.tile(box, (nf, 1)), unitcell_angles=np.full((nf, 3), 90.0))


def regions(surf: Surface, n_lipids: int) -> np.ndarray:
    """(n_lipids,) region tag of each lipid of a trajectory frame built from ``surf``."""
    tags = np.full(n_lipids, "parked", dtype=object)
    tags[: len(surf.region)] = surf.region
    return tags


def assert_same_place(a, b, box, atol: float) -> None:
    """Points a and b (..., 3) coincide within ``atol`` up to periodic images."""
    d = np.asarray(a) - np.asarray(b)
    np.testing.assert_allclose(d - box * np.round(d / box), 0.0, atol=atol)


def structure_trajectory(structure: em.Structure, xyz: np.ndarray | None = None, box: np.ndarray | None = None,
                         **kwargs) -> mdtraj.Trajectory:
    """mdtraj Trajectory of ``structure`` with frames ``xyz`` (F, n, 3) (default: its positions)."""
    xyz = structure.positions[None] if xyz is None else np.asarray(xyz)
    box = np.tile(structure.box if box is None else box, (len(xyz), 1))
    return mdtraj.Trajectory(xyz.astype(np.float32), structure.to_mdtraj().topology, unitcell_lengths=box,
                             unitcell_angles=np.full((len(xyz), 3), 90.0), **kwargs)


def shifted_positions(structure: em.Structure, shift) -> np.ndarray:
    """Positions translated by ``shift`` and wrapped bead by bead (lipids split across the box)."""
    return np.mod(structure.positions + shift, structure.box)


def combined_structures(a: em.Structure, b: em.Structure, offset, box) -> em.Structure:
    """``a`` and ``b`` (same species) in one Structure of box ``box``, ``b`` moved by ``offset``."""
    assert a.species == b.species
    return em.Structure(a.forcefield, a.species, np.concatenate([a.molecule_species, b.molecule_species]),
                        np.concatenate([a.positions, b.positions + offset]), np.asarray(box, float),
                        np.concatenate([a.leaflet, b.leaflet]))


def sides_of(frames: list[Surface], n_lipids: int) -> np.ndarray:
    """(n_frames, n_lipids) int: the leaflet each lipid of a :func:`surfaces_trajectory` frame was laid
    in (+1 upper/outer, -1 lower/inner), 0 for the parked lone lipids that pad it."""
    out = np.zeros((len(frames), n_lipids), int)
    for k, s in enumerate(frames):
        assert s.side is not None
        out[k, :len(s.side)] = s.side
    return out
