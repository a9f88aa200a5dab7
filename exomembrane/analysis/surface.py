"""The reference surface of a membrane: the plane (flat periodic patch) or sphere (closed membrane)
that its unbudded part lies on, found per frame from lipid centres and orientations, with the
side of the lumen given by the caller (never guessed). Lengths in nm (= sigma)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .pbc import minimum_image, periodic_centre

#: ``lumen`` values: (closed membrane?, sign of the lumen along +z / toward the centre).
LUMEN: dict[str, tuple[bool, float]] = {"+z": (False, 1.0), "-z": (False, -1.0),
                                        "inside": (True, 1.0), "outside": (True, -1.0)}
#: Bilayer thickness (sigma): width of the height (or radius) window that holds the base.
THICKNESS = 5.0


@dataclass(frozen=True)
class Base:
    """The unbudded membrane of one frame: a plane z = ``origin[2]`` or a sphere (``origin``, ``radius``)."""

    closed: bool
    sign: float  # +1: lumen on the +z side (plane) / inside (sphere)
    origin: np.ndarray  # (3,) nm
    radius: float  # nm, midplane radius of the sphere (nan for a plane)
    offset: float  # nm, distance of a lipid's bead centroid from the midplane

    def displacement(self, x: np.ndarray, box: np.ndarray) -> np.ndarray:
        """(n,) nm: signed displacement of points x (n, 3) from the base midplane, + toward the lumen."""
        if self.closed:
            return self.sign * (self.radius - np.linalg.norm(minimum_image(x - self.origin, box), axis=1))
        return self.sign * minimum_image(x[:, 2] - self.origin[2], box[2])


def check_lumen(lumen: str) -> tuple[bool, float]:
    """(closed, sign) of a ``lumen`` value; ValueError naming the allowed values otherwise."""
    if not isinstance(lumen, str) or lumen not in LUMEN:
        raise ValueError(f"lumen: must be one of {', '.join(map(repr, LUMEN))} (got {lumen!r}); '+z'/'-z' name "
                         "the lumen side of a flat periodic patch, 'inside'/'outside' that of a closed membrane")
    return LUMEN[lumen]


def densest(values: np.ndarray, width: float, period: float | None = None) -> float:
    """Centre of the window of ``width`` holding the most values (periodic if ``period``)."""
    v = np.sort(values if period is None else np.mod(values, period))
    ext = v if period is None else np.concatenate([v, v + period])
    counts = np.searchsorted(ext, v + width, side="right") - np.arange(v.size)
    return float(v[np.argmax(counts)] + width / 2)


def sphere_fit(x: np.ndarray, trim: float | None = None) -> tuple[np.ndarray, float]:
    """(centre (3,), radius) of the sphere through points x (n >= 4, 3), algebraic least squares.

    With ``trim``: refit twice on the points within ``trim`` of the fitted sphere (drops outliers,
    e.g. the neck tube under a bud).
    """
    def fit(p: np.ndarray) -> tuple[np.ndarray, float]:
        sol = np.linalg.lstsq(np.c_[2 * p, np.ones(len(p))], (p * p).sum(1), rcond=None)[0]
        return sol[:3], float(np.sqrt(max(sol[3] + sol[:3] @ sol[:3], 0.0)))

    c, r = fit(x)
    for _ in range(2 if trim else 0):
        keep = np.abs(np.linalg.norm(x - c, axis=1) - r) <= trim
        if keep.sum() >= 4:
            c, r = fit(x[keep])
    return c, r


def frame_base(centre: np.ndarray, orient: np.ndarray, box: np.ndarray, closed: bool, sign: float) -> Base:
    """The base plane or sphere of one frame's membrane from its lipid centres (n, 3) and orientations.

    Plane: the densest ``THICKNESS`` window of lipid-centre heights (the flat part outnumbers a bud
    at any one height); the midplane lies midway between the median heights of the up- and
    down-pointing lipids within ``THICKNESS`` of it (both leaflets of the flat part; a bud's few
    lipids there do not move the medians). Sphere: a sphere fit to the densest radial shell around
    the periodic centroid; radius midway between the median radii of the outward- and
    inward-pointing lipids within ``THICKNESS`` of it; then the centre and radius refit to the
    midplane feet within 1 sigma of that sphere (twice more on those within 0.25 sigma of the fit).
    """
    if not closed:
        z0 = densest(centre[:, 2], THICKNESS, box[2])
        h = minimum_image(centre[:, 2] - z0, box[2])
        win = np.abs(h) <= THICKNESS
        up, down = win & (orient[:, 2] > 0), win & (orient[:, 2] < 0)
        if up.any() and down.any():
            hu, hd = np.median(h[up]), np.median(h[down])
            z, offset = z0 + (hu + hd) / 2, (hu - hd) / 2
        else:
            z, offset = z0 + np.median(h[win]), 0.0
        return Base(False, sign, np.array([0.0, 0.0, np.mod(z, box[2])]), np.nan, float(offset))
    c0 = periodic_centre(centre, box)[0]
    d = minimum_image(centre - c0, box)
    r = np.linalg.norm(d, axis=1)
    shell = np.abs(r - densest(r, THICKNESS)) <= THICKNESS / 2
    shift, radius = sphere_fit(d[shell])
    d -= shift
    r = np.linalg.norm(d, axis=1)
    shell = np.abs(r - radius) <= THICKNESS
    radial = np.einsum("ij,ij->i", d, orient)
    out, inn = shell & (radial > 0), shell & (radial < 0)
    if out.any() and inn.any():
        ro, ri = np.median(r[out]), np.median(r[inn])
        radius, offset = (ro + ri) / 2, (ro - ri) / 2
    else:
        radius, offset = np.median(r[shell]), 0.0
    m = d - offset * orient
    near = np.abs(np.linalg.norm(m, axis=1) - radius) <= 1.0
    if near.sum() >= 4:
        s, radius = sphere_fit(m[near], trim=0.25)
        shift = shift + s
    return Base(True, sign, np.mod(c0 + shift, box), float(radius), float(offset))
