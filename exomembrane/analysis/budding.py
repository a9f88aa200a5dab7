"""Inward budding of an intraluminal vesicle (ILV): bud height and direction, neck, scission, ILV size, cargo.

The two sides of the membrane are data given by the caller, never guessed from coordinates:

- a flat periodic patch (membrane roughly normal to z): ``lumen="+z"`` or ``"-z"`` says on which side
  of the base plane the MVB lumen lies (the other side is the cytosol). In a periodic box both sides
  meet through the z boundary, so a side is the sign of the minimum-image height from the base
  plane: buds must stay shorter than half the box height.
- a closed membrane (an MVB): ``lumen="inside"`` (inward budding = toward its centre), or
  ``"outside"`` for a closed membrane whose lumen is outside it.

Inward (ILV) budding is direction +1: the membrane bulges into the lumen. Lengths in nm (= sigma).
All functions work on the largest membrane (:func:`membrane_clusters` label 0) unless given a
lipid mask, handle orthorhombic periodic boxes (buds and vesicles may straddle the boundary), and
assume one bud at a time.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import mdtraj
import numpy as np

from ._frames import map_frames
from ._pbc import box_of, minimum_image, periodic_centre, wrap
from .clusters import membrane_clusters, periodic_tree
from .leaflets import assign_leaflets
from .selection import _lipid_geometry, lipid_indices
from .shape import vesicle_shape

#: ``lumen`` values: (closed membrane?, sign of the lumen along +z / toward the centre).
LUMEN: dict[str, tuple[bool, float]] = {"+z": (False, 1.0), "-z": (False, -1.0),
                                        "inside": (True, 1.0), "outside": (True, -1.0)}
#: Bilayer thickness (sigma): width of the height (or radius) window that holds the base.
THICKNESS = 5.0
#: A slab along the bud axis needs this many midplane points to give a radius.
MIN_SLAB_POINTS = 6
CARGO_KINDS = ("membrane", "lumen")


@dataclass(frozen=True)
class _Base:
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


@dataclass(frozen=True)
class _Bud:
    """Bud geometry of one frame (see :func:`bud_geometry` for the meaning of the fields)."""

    base: _Base
    lumen_height: float
    cytosol_height: float
    direction: int
    neck_radius: float = np.nan
    neck_height: float = np.nan
    bud_centre: np.ndarray = field(default_factory=lambda: np.full(3, np.nan))
    bud_radius: float = np.nan
    bud: np.ndarray | None = None  # (n,) bool over the frame's membrane lipids


def _check_lumen(lumen: str) -> tuple[bool, float]:
    if not isinstance(lumen, str) or lumen not in LUMEN:
        raise ValueError(f"lumen: must be one of {', '.join(map(repr, LUMEN))} (got {lumen!r}); '+z'/'-z' name "
                         "the lumen side of a flat periodic patch, 'inside'/'outside' that of a closed membrane")
    return LUMEN[lumen]


def _check_positive(**values: float) -> None:
    for name, v in values.items():
        if not v > 0:
            raise ValueError(f"{name}: must be > 0 (got {v!r})")


def _lipid_mask(lipids: np.ndarray | None, n_frames: int, n_lipids: int) -> np.ndarray:
    """(n_frames, n_lipids) bool from None (all), a mask (n_lipids,) or (n_frames, n_lipids), or indices."""
    if lipids is None:
        return np.ones((n_frames, n_lipids), bool)
    a = np.asarray(lipids)
    if a.dtype == bool and a.shape in ((n_lipids,), (n_frames, n_lipids)):
        return np.broadcast_to(a, (n_frames, n_lipids))
    if a.dtype != bool and np.issubdtype(a.dtype, np.integer) and a.ndim == 1:
        if a.size and (a.min() < 0 or a.max() >= n_lipids):
            raise ValueError(f"lipids: indices must lie in [0, {n_lipids}) (got {a.min()} .. {a.max()})")
        mask = np.zeros(n_lipids, bool)
        mask[a] = True
        return np.broadcast_to(mask, (n_frames, n_lipids))
    raise ValueError(f"lipids: must be a bool mask of shape (n_lipids,) = ({n_lipids},) or (n_frames, n_lipids) = "
                     f"({n_frames}, {n_lipids}), or 1-D lipid indices; got a {a.dtype} array of shape {a.shape}")


def _parent_labels(memb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(n_frames,) the membrane label holding most of the selected lipids (ties: the larger), -1 if none."""
    n_f = memb.shape[0]
    n_lab = int(memb.max(initial=-1)) + 1
    if n_lab == 0:
        return np.full(n_f, -1)
    sel = mask & (memb >= 0)
    key = (np.arange(n_f)[:, None] * n_lab + memb)[sel]
    counts = np.bincount(key, minlength=n_f * n_lab).reshape(n_f, n_lab)
    return np.where(counts.max(axis=1) > 0, counts.argmax(axis=1), -1)


def _densest(values: np.ndarray, width: float, period: float | None = None) -> float:
    """Centre of the window of ``width`` holding the most values (periodic if ``period``)."""
    v = np.sort(values if period is None else np.mod(values, period))
    ext = v if period is None else np.concatenate([v, v + period])
    counts = np.searchsorted(ext, v + width, side="right") - np.arange(v.size)
    return float(v[np.argmax(counts)] + width / 2)


def _sphere_fit(x: np.ndarray, trim: float | None = None) -> tuple[np.ndarray, float]:
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


def _frame_base(centre: np.ndarray, orient: np.ndarray, box: np.ndarray, closed: bool, sign: float) -> _Base:
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
        z0 = _densest(centre[:, 2], THICKNESS, box[2])
        h = minimum_image(centre[:, 2] - z0, box[2])
        win = np.abs(h) <= THICKNESS
        up, down = win & (orient[:, 2] > 0), win & (orient[:, 2] < 0)
        if up.any() and down.any():
            hu, hd = np.median(h[up]), np.median(h[down])
            z, offset = z0 + (hu + hd) / 2, (hu - hd) / 2
        else:
            z, offset = z0 + np.median(h[win]), 0.0
        return _Base(False, sign, np.array([0.0, 0.0, np.mod(z, box[2])]), np.nan, float(offset))
    c0 = periodic_centre(centre, box)[0]
    d = minimum_image(centre - c0, box)
    r = np.linalg.norm(d, axis=1)
    shell = np.abs(r - _densest(r, THICKNESS)) <= THICKNESS / 2
    shift, radius = _sphere_fit(d[shell])
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
        s, radius = _sphere_fit(m[near], trim=0.25)
        shift = shift + s
    return _Base(True, sign, np.mod(c0 + shift, box), float(radius), float(offset))


def _neck(height: np.ndarray, rho: np.ndarray, slab: float) -> tuple[float, float]:
    """(radius, mid-height) of the narrowest slab that has a slab at least as wide above it, or NaNs.

    height (n,) >= 0 displacement toward the bud and rho (n,) distance from the bud axis of the
    midplane feet near the bud, nm; slabs ``slab`` thick from height 0; a slab's radius is the
    median rho of its feet (NaN with fewer than ``MIN_SLAB_POINTS``).
    """
    k = (height // slab).astype(np.int64)
    order = np.lexsort((rho, k))
    rs = rho[order]
    cnt = np.bincount(k)
    start = np.cumsum(cnt) - cnt
    lo, hi = start + np.maximum(cnt - 1, 0) // 2, np.minimum(start + cnt // 2, rs.size - 1)
    radius = np.where(cnt >= MIN_SLAB_POINTS, (rs[lo] + rs[hi]) / 2, np.nan)
    widest = np.maximum.accumulate(np.where(np.isnan(radius), -np.inf, radius)[::-1])[::-1]
    above = np.r_[widest[1:], -np.inf]  # the widest slab strictly above each slab
    cand = np.flatnonzero(np.isfinite(radius) & (radius <= above))
    if cand.size == 0:
        return np.nan, np.nan
    kn = cand[np.argmin(radius[cand])]
    return float(radius[kn]), float((kn + 0.5) * slab)


def _frame_bud(centre: np.ndarray, orient: np.ndarray, box: np.ndarray, closed: bool, sign: float,
               threshold: float, slab: float) -> _Bud:
    """Bud geometry of one frame's membrane: lipid centres and orientations (n, 3); see :func:`bud_geometry`."""
    base = _frame_base(centre, orient, box, closed, sign)
    mid = centre - base.offset * orient  # each lipid's foot on the bilayer midplane
    s = base.displacement(mid, box)
    up, down = float(s.max()), float(-s.min())
    direction = 0 if max(up, down) < threshold else (1 if up >= down else -1)
    none = np.zeros(len(centre), bool)
    if direction == 0:
        return _Bud(base, up, down, 0, bud=none)
    b = direction * s  # displacement toward the bud
    tip = b >= b.max() / 2
    if closed:
        d = minimum_image(mid - base.origin, box)
        u = d[tip].mean(axis=0)
        u /= np.linalg.norm(u)
        along = d @ u
        rho = np.linalg.norm(d - along[:, None] * u, axis=1)
        unwrapped = base.origin + d
        near = along > 0  # the bud's hemisphere: the far pole also lies on the axis
    else:
        axis = periodic_centre(mid[tip], box)[0]
        d = minimum_image(mid - axis, box)
        rho = np.linalg.norm(d[:, :2], axis=1)
        unwrapped = axis + d
        near = np.ones(len(mid), bool)
    near &= (b >= 0) & (rho <= 2 * rho[tip].max())
    neck_radius, neck_height = _neck(b[near], rho[near], slab)
    if np.isnan(neck_radius):  # a dome without constriction
        return _Bud(base, up, down, direction, bud=none)
    bud = near & (b >= neck_height)
    c, r = _sphere_fit(unwrapped[bud], trim=1.0) if bud.sum() >= 4 else (np.full(3, np.nan), np.nan)
    return _Bud(base, up, down, direction, neck_radius, neck_height, np.mod(c, box), float(r), bud)


def _bud_frames(traj: mdtraj.Trajectory, member: np.ndarray, closed: bool, sign: float, threshold: float,
                slab: float, workers: int | None) -> list[tuple[np.ndarray, _Bud] | None]:
    """Per frame: (membrane lipid indices, their :class:`_Bud`), or None if fewer than 4 lipids."""
    heads, tails = lipid_indices(traj.topology)
    box = box_of(traj)

    def frame(f: int) -> tuple[np.ndarray, _Bud] | None:
        sel = np.flatnonzero(member[f])
        if sel.size < 4:
            return None
        centre, orient = _lipid_geometry(traj, heads[sel], tails[sel], slice(f, f + 1))
        return sel, _frame_bud(centre[0], orient[0], box[f], closed, sign, threshold, slab)

    return list(map_frames(frame, range(traj.n_frames), workers=workers))


def _geometry_arrays(frames: list[tuple[np.ndarray, _Bud] | None], member: np.ndarray) -> dict[str, np.ndarray]:
    n_f, n_l = member.shape
    out: dict[str, np.ndarray] = {k: np.full(n_f, np.nan) for k in (
        "lumen_height", "cytosol_height", "bud_height", "neck_radius", "neck_height", "bud_radius", "base",
        "leaflet_offset")}
    out["direction"] = np.zeros(n_f, np.int64)
    out["bud_centre"] = np.full((n_f, 3), np.nan)
    out["base_centre"] = np.full((n_f, 3), np.nan)
    out["bud"] = np.zeros((n_f, n_l), bool)
    out["membrane"] = np.array(member, bool)
    for f, item in enumerate(frames):
        if item is None:
            continue
        sel, g = item
        for key in ("lumen_height", "cytosol_height", "neck_radius", "neck_height", "bud_radius", "direction"):
            out[key][f] = getattr(g, key)
        out["bud_height"][f] = max(g.lumen_height, g.cytosol_height)
        out["bud_centre"][f] = g.bud_centre
        out["base"][f] = g.base.radius if g.base.closed else g.base.origin[2]
        out["leaflet_offset"][f] = g.base.offset
        if g.base.closed:
            out["base_centre"][f] = g.base.origin
        out["bud"][f, sel[g.bud]] = True
    return out


def bud_geometry(traj: mdtraj.Trajectory, lumen: str, lipids: np.ndarray | None = None, threshold: float = 5.0,
                 slab: float = 1.0, cutoff: float = 1.5, workers: int | None = None) -> dict[str, np.ndarray]:
    """Bud height, budding direction, neck radius and bud sphere of a membrane, per frame.

    Each lipid is reduced to its foot on the bilayer midplane: its bead centroid moved back along
    its orientation by the leaflet offset (the centroid's distance from the midplane in the flat
    part, ~1.47 sigma for a straight Cooke lipid). Definitions:

    - **base**: the unbudded membrane. Patch (``lumen`` "+z"/"-z"): the plane at the height of
      the flat part, found as the densest window of lipid heights one bilayer thickness
      (``THICKNESS`` = 5 sigma) wide (periodic in z), midway between the median heights of its up-
      and down-pointing lipids. Closed membrane ("inside"/"outside"): the sphere fit to the
      densest radial shell, then to the midplane feet near it (outliers dropped).
    - **heights**: the largest displacement of a midplane foot from the base toward the lumen
      (``lumen_height``) and toward the cytosol (``cytosol_height``); patch: minimum image in z,
      so a bud must stay below half the box height. Being extremes, they include the membrane's
      roughness: a thermal-like flat patch reads ~1 sigma.
    - **direction**: +1 (into the lumen: inward, ILV budding) or -1 (into the cytosol) for the
      side with the larger height when it reaches ``threshold``; 0 (no bud) below it. Thermal
      undulations of large patches reach a few sigma: raise ``threshold`` for them.
    - **bud axis**: through the (periodic) centroid of the bud's upper half (midplane feet
      displaced at least half the bud height): along z (patch), or from the base sphere's centre.
    - **neck**: the midplane feet near the bud (displaced toward it, within twice the upper
      half's lateral extent of the axis) are cut into slabs ``slab`` thick along the displacement;
      a slab's radius is the median distance of its feet from the axis (both leaflets' feet lie on
      the midplane). The neck is the narrowest slab that has a slab at least as wide above it (so
      the narrowing below the bud's widest part, not the closing cap); NaN with no bud or for a
      dome without a constriction. ``neck_height`` is its mid-height.
    - **bud lipids**: those whose midplane foot lies beyond the neck (displacement >= neck height);
      ``bud_centre``/``bud_radius``: the sphere fit to their midplane feet (outliers beyond 1 sigma
      dropped).

    Parameters
    ----------
    traj
        Trajectory, nm, orthorhombic periodic box.
    lumen
        Side of the MVB lumen: "+z" or "-z" (flat patch, membrane normal along z), "inside" (closed
        MVB) or "outside" (closed membrane with the lumen outside).
    lipids
        Lipids that may form the membrane: bool mask (n_lipids,) or (n_frames, n_lipids), or lipid
        indices. The membrane is the :func:`membrane_clusters` cluster holding most of them, in
        each frame (default: the largest membrane), restricted to them.
    threshold
        Smallest height (sigma) that counts as a bud; default one bilayer thickness.
    slab
        Thickness (sigma) of the slabs along the bud axis that measure the neck.
    cutoff
        Tail contact distance of :func:`membrane_clusters`.
    workers
        Threads working on frames at once (default: one per CPU).

    Returns
    -------
    dict of per-frame arrays:
        ``lumen_height``, ``cytosol_height``, ``bud_height`` (their max) (n_frames,) nm;
        ``direction`` (n_frames,) int in {+1, 0, -1};
        ``neck_radius``, ``neck_height``, ``bud_radius`` (n_frames,) nm, NaN without a neck;
        ``bud_centre`` (n_frames, 3) nm, in the box;
        ``base`` (n_frames,) nm: base plane height z (patch) or base sphere midplane radius;
        ``base_centre`` (n_frames, 3) nm: base sphere centre (NaN for a patch);
        ``leaflet_offset`` (n_frames,) nm; ``membrane``, ``bud`` (n_frames, n_lipids) bool.
        Frames whose membrane has fewer than 4 lipids give NaN heights and direction 0.

    Example
    -------
    >>> g = bud_geometry(traj, lumen="+z")
    >>> g["direction"], g["bud_height"], g["neck_radius"]
    """
    closed, sign = _check_lumen(lumen)
    _check_positive(threshold=threshold, slab=slab)
    box_of(traj)
    n_l = lipid_indices(traj.topology)[0].size
    mask = _lipid_mask(lipids, traj.n_frames, n_l)
    memb = membrane_clusters(traj, cutoff, workers=workers)
    member = (memb == _parent_labels(memb, mask)[:, None]) & mask & (memb >= 0)
    return _geometry_arrays(_bud_frames(traj, member, closed, sign, threshold, slab, workers), member)


def _scission(traj: mdtraj.Trajectory, memb: np.ndarray, mask: np.ndarray, max_asphericity: float,
              min_leaflet_fraction: float, cutoff: float, min_lipids: int, workers: int | None) -> dict[str, Any]:
    n_f, n_l = memb.shape
    parent = _parent_labels(memb, mask)
    n_memb = memb.max(axis=1, initial=-1) + 1
    multi = np.flatnonzero(n_memb >= 2)
    closed: dict[tuple[int, int], tuple[np.ndarray, float]] = {}  # (frame, label) -> (centre, midplane radius)
    if multi.size:
        leaf = assign_leaflets(traj[multi], cutoff, min_lipids, cutoff, workers)
        for i, f in enumerate(multi):
            for k in range(int(n_memb[f])):
                sel = memb[f] == k
                if k == parent[f]:
                    continue
                lab = leaf[i][sel]
                counts = np.sort(np.bincount(lab[lab >= 0]))[::-1]
                if counts.size < 2 or counts[1] < min_leaflet_fraction * sel.sum():
                    continue  # one leaflet: an open cup or sheet (a pore or edge joins its two sides)
                shape = vesicle_shape(traj[f], sel)
                if shape["asphericity"][0] > max_asphericity:
                    continue
                closed[(f, k)] = (shape["centre"][0], float(shape["midplane_radius"][0]))
    n_closed = np.bincount(np.array([f for f, _ in closed], np.int64), minlength=n_f)
    later = n_closed > (n_closed[0] if n_f else 0)
    notyet = np.flatnonzero(~later)
    first = int(notyet[-1]) + 1 if notyet.size else 0
    frame = first if first < n_f else -1
    ilv = np.zeros((n_f, n_l), bool)
    centre, radius = np.full((n_f, 3), np.nan), np.full(n_f, np.nan)
    if frame >= 0:
        was_parent = memb[frame - 1] == parent[frame - 1]
        new = [k for f, k in closed if f == frame]
        ref = memb[frame] == max(new, key=lambda k: (was_parent & (memb[frame] == k)).sum())
        for f in range(frame, n_f):
            lab = memb[f][ref]
            lab = lab[(lab >= 0) & (lab != parent[f])]
            if lab.size == 0:
                continue
            k = int(np.bincount(lab).argmax())
            ref = ilv[f] = memb[f] == k
            if (f, k) not in closed:
                shape = vesicle_shape(traj[f], ref)
                closed[(f, k)] = (shape["centre"][0], float(shape["midplane_radius"][0]))
            centre[f], radius[f] = closed[(f, k)]
    return {"n_membranes": n_memb, "n_closed": n_closed, "scission_frame": frame, "ilv": ilv,
            "ilv_centre": centre, "ilv_radius": radius, "ilv_diameter": 2 * radius, "parent": parent}


def scission(traj: mdtraj.Trajectory, lipids: np.ndarray | None = None, max_asphericity: float = 0.15,
             min_leaflet_fraction: float = 0.1, cutoff: float = 1.5, min_lipids: int = 10,
             workers: int | None = None) -> dict[str, Any]:
    """Scission frame of a bud and the size of the separated vesicle (ILV).

    A membrane other than the parent (the :func:`membrane_clusters` cluster holding most of
    ``lipids``; default the largest) is a **closed vesicle** when its two leaflets are separate,
    i.e. :func:`assign_leaflets` gives its lipids two labels each holding at least
    ``min_leaflet_fraction`` of them (a pore or open edge joins the leaflets of a cup or sheet into
    one label), and it is roughly spherical (:func:`vesicle_shape` asphericity at most
    ``max_asphericity``; a hemispherical cup has ~0.11, a disc 0.25). **Scission** is the first
    frame from which on every frame has more closed vesicles than the first frame: a new closed
    membrane appears and stays. The ILV is the new closed vesicle made of the most lipids that
    were in the parent the frame before; in later frames it is followed by lipid overlap.

    Parameters
    ----------
    traj
        Trajectory, nm, orthorhombic periodic box.
    lipids
        Lipids of the parent membrane: bool mask (n_lipids,) or (n_frames, n_lipids), or indices.
    max_asphericity
        Largest asphericity of a vesicle (0: sphere).
    min_leaflet_fraction
        Smallest share of a vesicle's lipids in its second-largest leaflet (an R = 4 sigma Cooke
        vesicle has ~12 % in its inner leaflet).
    cutoff, min_lipids
        As in :func:`membrane_clusters` and :func:`assign_leaflets`.
    workers
        Threads working on frames at once (default: one per CPU).

    Returns
    -------
    dict:
        ``scission_frame`` int, -1 if none;
        ``n_membranes``, ``n_closed`` (n_frames,) int: all membranes, closed vesicles besides the parent;
        ``ilv`` (n_frames, n_lipids) bool: the ILV's lipids (from the scission frame on);
        ``ilv_centre`` (n_frames, 3) nm in the box; ``ilv_radius`` (n_frames,) nm: midplane radius
        (mean of outer and inner head radii); ``ilv_diameter`` = 2 ``ilv_radius``; NaN before scission;
        ``parent`` (n_frames,) int: the parent's membrane label.

    Example
    -------
    >>> s = scission(traj); s["scission_frame"], s["ilv_diameter"][-1]
    """
    _check_positive(max_asphericity=max_asphericity, min_leaflet_fraction=min_leaflet_fraction)
    box_of(traj)
    memb = membrane_clusters(traj, cutoff, min_lipids, workers)
    mask = _lipid_mask(lipids, *memb.shape)
    return _scission(traj, memb, mask, max_asphericity, min_leaflet_fraction, cutoff, min_lipids, workers)


def _cargo_residues(top: mdtraj.Topology, species: str) -> tuple[np.ndarray, np.ndarray]:
    """(atom indices, molecule number of each) of the residues named ``species`` that are not lipids."""
    res = [r for r in top.residues if r.name == species and r.n_atoms and next(iter(r.atoms)).name != "H"]
    if not res:
        names = sorted({r.name for r in top.residues})
        raise ValueError(f"species: no non-lipid residue named {species!r} in the topology "
                         f"(residue names present: {', '.join(names) or 'none'})")
    atoms = [np.array([a.index for a in r.atoms]) for r in res]
    return np.concatenate(atoms), np.repeat(np.arange(len(res)), [a.size for a in atoms])


def _membership(traj: mdtraj.Trajectory, atoms: np.ndarray, mol: np.ndarray, kind: str, inside: np.ndarray,
                parent: np.ndarray, spheres: np.ndarray, gates: list[tuple[_Base, int] | None],
                contact: float) -> np.ndarray:
    """(n_molecules, n_frames) int8: 1 in the bud/ILV, 0 in the parent, -1 neither or frame without a bud."""
    heads, tails = lipid_indices(traj.topology)
    beads = np.concatenate([heads[:, None], tails], axis=1)
    box = box_of(traj)
    n_mol = int(mol.max()) + 1
    first = np.searchsorted(mol, np.arange(n_mol))  # atoms are grouped by molecule
    out = np.full((n_mol, traj.n_frames), -1, np.int8)
    for f in np.flatnonzero(inside.any(axis=1)):
        x = traj.xyz[f, atoms].astype(np.float64)
        if kind == "membrane":
            lip = np.flatnonzero(inside[f] | parent[f])
            b = beads[lip]
            owner = np.broadcast_to(lip[:, None], b.shape)[b >= 0]
            tree = periodic_tree(traj.xyz[f, b[b >= 0]].astype(np.float64), box[f])
            dist, idx = tree.query(wrap(x, box[f]), k=1, distance_upper_bound=contact)
            order = np.lexsort((dist, mol))
            nearest = order[np.searchsorted(mol[order], np.arange(n_mol))]
            hit = np.isfinite(dist[nearest])
            in_bud = inside[f][owner[np.where(hit, idx[nearest], 0)]]
            out[:, f] = np.where(hit, in_bud, -1)
        else:
            x = x[first][mol] + minimum_image(x - x[first][mol], box[f])
            cnt = np.bincount(mol, minlength=n_mol)[:, None]
            com = np.stack([np.bincount(mol, x[:, k], n_mol) for k in range(3)], axis=1) / cnt
            d = np.linalg.norm(minimum_image(com - spheres[f, :3], box[f]), axis=1)
            ok = d < spheres[f, 3]
            if gates[f] is not None:  # before scission: on the bud's side of the base, not across it
                base, direction = gates[f]
                ok &= direction * base.displacement(com, box[f]) >= 0
            out[:, f] = ok
    return out


def _enrichment(member: np.ndarray, inside: np.ndarray, parent: np.ndarray, use: np.ndarray, n_boot: int,
                confidence: float, seed: int) -> dict[str, Any]:
    """Per-lipid concentration ratio bud/ILV : parent, pooled over frames ``use``, bootstrap CI over molecules."""
    n_in, n_out = (member == 1).sum(axis=0), (member == 0).sum(axis=0)
    l_in, l_out = inside.sum(axis=1), parent.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_frame = np.where(l_in > 0, (n_in / l_in) / (n_out / l_out), np.nan)
        a, o = (member[:, use] == 1).sum(axis=1), (member[:, use] == 0).sum(axis=1)
        scale = l_out[use].sum() / l_in[use].sum() if use.any() else np.nan
        ratio = a.sum() / o.sum() * scale
        rng = np.random.default_rng(seed)
        boot = []
        for start in range(0, n_boot, 256):
            idx = rng.integers(0, a.size, (min(256, n_boot - start), a.size))
            boot.append(a[idx].sum(axis=1) / o[idx].sum(axis=1) * scale)
        boot = np.concatenate(boot) if boot else np.empty(0)
    boot = boot[~np.isnan(boot)]
    q = (1 - confidence) / 2
    lo, hi = np.quantile(boot, [q, 1 - q], method="inverted_cdf") if boot.size else (np.nan, np.nan)
    return {"ratio": float(ratio), "ci": (float(lo), float(hi)), "confidence": confidence,
            "method": f"percentile bootstrap over molecules ({n_boot} resamples)", "per_frame": per_frame,
            "n_bud": np.where(l_in > 0, n_in, 0), "n_parent": np.where(l_in > 0, n_out, 0), "lipids_bud": l_in,
            "lipids_parent": l_out, "frames": np.flatnonzero(use), "n_molecules": int(a.size)}


def _frame_selection(frames: Any, n_frames: int) -> np.ndarray:
    use = np.zeros(n_frames, bool)
    if frames is None:
        use[:] = True
    else:
        try:
            use[np.arange(n_frames)[frames]] = True
        except (IndexError, TypeError) as why:
            raise ValueError(f"frames: must be a slice, frame indices or a bool mask over {n_frames} frames "
                             f"(got {frames!r}: {why})") from None
    return use


def _check_cargo(cargo: str | Sequence[str] | Mapping[str, str]) -> dict[str, str]:
    items = ({cargo: "membrane"} if isinstance(cargo, str) else dict(cargo) if isinstance(cargo, Mapping)
             else {name: "membrane" for name in cargo})
    for name, kind in items.items():
        if kind not in CARGO_KINDS:
            raise ValueError(f"cargo[{name!r}]: kind must be one of {CARGO_KINDS} (got {kind!r})")
    return items


@dataclass
class _Budding:
    """Everything :func:`budding_summary` and :func:`cargo_enrichment` need, computed once."""

    geometry: dict[str, np.ndarray]
    frames: list[tuple[np.ndarray, _Bud] | None]
    split: dict[str, Any]
    post: np.ndarray  # (n_frames,) bool, at or after scission

    @property
    def inside(self) -> np.ndarray:
        """(n_frames, n_lipids) bool: the bud's lipids before scission, the ILV's after."""
        return np.where(self.post[:, None], self.split["ilv"], self.geometry["bud"])

    @property
    def parent(self) -> np.ndarray:
        return self.geometry["membrane"] & ~self.inside

    def spheres(self) -> np.ndarray:
        """(n_frames, 4): centre and midplane radius of the bud (before) or ILV (after scission)."""
        bud = np.c_[self.geometry["bud_centre"], self.geometry["bud_radius"]]
        ilv = np.c_[self.split["ilv_centre"], self.split["ilv_radius"]]
        return np.where(self.post[:, None], ilv, bud)

    def gates(self) -> list[tuple[_Base, int] | None]:
        return [None if p or item is None else (item[1].base, item[1].direction)
                for p, item in zip(self.post, self.frames)]


def _budding(traj: mdtraj.Trajectory, lumen: str, lipids: np.ndarray | None, threshold: float, slab: float,
             max_asphericity: float, cutoff: float, workers: int | None) -> _Budding:
    closed, sign = _check_lumen(lumen)
    _check_positive(threshold=threshold, slab=slab, max_asphericity=max_asphericity)
    box_of(traj)
    memb = membrane_clusters(traj, cutoff, workers=workers)
    mask = _lipid_mask(lipids, *memb.shape)
    split = _scission(traj, memb, mask, max_asphericity, 0.1, cutoff, 10, workers)
    member = (memb == split["parent"][:, None]) & mask & (memb >= 0)
    frames = _bud_frames(traj, member, closed, sign, threshold, slab, workers)
    post = np.arange(traj.n_frames) >= split["scission_frame"] if split["scission_frame"] >= 0 \
        else np.zeros(traj.n_frames, bool)
    return _Budding(_geometry_arrays(frames, member), frames, split, post)


def _cargo(traj: mdtraj.Trajectory, state: _Budding, species: str, kind: str, frames: Any, contact: float,
           n_boot: int, confidence: float, seed: int) -> dict[str, Any]:
    atoms, mol = _cargo_residues(traj.topology, species)
    inside, parent = state.inside, state.parent
    member = _membership(traj, atoms, mol, kind, inside, parent, state.spheres(), state.gates(), contact)
    if frames is not None:
        use = _frame_selection(frames, traj.n_frames)
    else:  # from scission on if there is one, else every frame with a bud
        use = state.post if state.post.any() else np.ones(traj.n_frames, bool)
    use = use & inside.any(axis=1)
    out = _enrichment(member, inside, parent, use, n_boot, confidence, seed)
    out["kind"] = kind
    return out


def cargo_enrichment(traj: mdtraj.Trajectory, lumen: str, species: str, kind: str = "membrane", *,
                     frames: Any = None, lipids: np.ndarray | None = None, contact: float = 2.0,
                     threshold: float = 5.0, max_asphericity: float = 0.15, n_boot: int = 2000,
                     confidence: float = 0.95, seed: int = 0, workers: int | None = None) -> dict[str, Any]:
    """Enrichment of a cargo species in the bud (before scission) or ILV (after), per lipid, with a CI.

    Concentration is molecules per lipid: ``ratio = (n_bud / L_bud) / (n_parent / L_parent)``,
    with L the lipid counts of the bud/ILV and of the rest of the parent membrane, counts summed
    over the pooled frames. Membership of a molecule (a residue named ``species``) in a frame:

    - ``kind="membrane"`` (transmembrane or membrane-bound cargo): the membrane whose lipid bead is
      nearest to any of its beads, within ``contact`` sigma: the bud/ILV or the parent; farther
      molecules are unbound and not counted.
    - ``kind="lumen"`` (soluble cargo packaged into the bud/ILV): in the bud/ILV when its centroid
      lies inside the ILV's midplane sphere (after scission) or the bud's fitted midplane sphere on
      the bud's side of the base (before); every other molecule of the species counts for the
      parent (the pool the bud packages from), so ratio 1 means packaged in proportion to the
      membrane the bud takes along.

    "Bud" lipids are those beyond the neck (see :func:`bud_geometry`); the ILV is found by
    :func:`scission`. The confidence interval is a percentile bootstrap over molecules: whole
    molecules (with all their frames) are resampled, which keeps the correlation of one molecule
    across frames; lipid counts are held fixed. With no molecule in the bud the interval is (0, 0);
    with none in the parent the upper end is inf.

    Parameters
    ----------
    traj
        Trajectory, nm, orthorhombic periodic box.
    lumen
        Side of the lumen, as in :func:`bud_geometry`.
    species
        Residue name of the cargo (e.g. "CD63", "RNA").
    kind
        "membrane" or "lumen", see above.
    frames
        Frames to pool (slice, indices or bool mask); default: from scission on if there is one,
        else every frame with a bud. Frames without a bud or ILV are always left out.
    lipids, threshold, max_asphericity
        As in :func:`bud_geometry` and :func:`scission`.
    contact
        Cargo-lipid bead distance (sigma) that makes membrane cargo part of a membrane.
    n_boot, confidence, seed
        Bootstrap resamples, interval probability, random seed.
    workers
        Threads working on frames at once (default: one per CPU).

    Returns
    -------
    dict:
        ``ratio`` float and ``ci`` (low, high): pooled enrichment and its interval;
        ``per_frame`` (n_frames,) ratio per frame (NaN without bud/ILV);
        ``n_bud``, ``n_parent`` (n_frames,) molecules; ``lipids_bud``, ``lipids_parent`` (n_frames,);
        ``frames`` pooled frame indices; ``n_molecules``; ``kind``, ``confidence``, ``method``.

    Example
    -------
    >>> e = cargo_enrichment(traj, "+z", "CD63"); e["ratio"], e["ci"]
    """
    if kind not in CARGO_KINDS:
        raise ValueError(f"kind: must be one of {CARGO_KINDS} (got {kind!r})")
    _check_positive(contact=contact, n_boot=n_boot)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence: must lie in (0, 1) (got {confidence!r})")
    _cargo_residues(traj.topology, species)  # fail early on a missing species
    state = _budding(traj, lumen, lipids, threshold, 1.0, max_asphericity, 1.5, workers)
    return _cargo(traj, state, species, kind, frames, contact, n_boot, confidence, seed)


def budding_summary(traj: mdtraj.Trajectory, lumen: str, cargo: str | Sequence[str] | Mapping[str, str] = (), *,
                    lipids: np.ndarray | None = None, threshold: float = 5.0, slab: float = 1.0,
                    max_asphericity: float = 0.15, contact: float = 2.0, n_boot: int = 2000,
                    confidence: float = 0.95, seed: int = 0, workers: int | None = None) -> dict[str, Any]:
    """Everything about one budding event, for printing and plotting (e.g. by the CLI ``analyze``).

    Combines :func:`bud_geometry`, :func:`scission` and :func:`cargo_enrichment` (computing the
    membranes once). After scission the neck radius is NaN and the bud is the ILV.

    Parameters
    ----------
    traj
        Trajectory, nm, orthorhombic periodic box.
    lumen
        Side of the lumen: "+z", "-z", "inside" or "outside" (see :func:`bud_geometry`).
    cargo
        Cargo species: residue names (transmembrane, kind "membrane"), or ``{name: kind}`` with
        kind "membrane" or "lumen".
    lipids, threshold, slab, max_asphericity, contact, n_boot, confidence, seed, workers
        As in :func:`bud_geometry`, :func:`scission` and :func:`cargo_enrichment`.

    Returns
    -------
    dict:
        ``time`` (n_frames,) ps; ``lumen_height``, ``cytosol_height``, ``bud_height`` (n_frames,) nm;
        ``direction`` (n_frames,) int; ``neck_radius``, ``bud_radius`` (n_frames,) nm;
        ``n_membranes``, ``n_closed`` (n_frames,) int; ``ilv_diameter`` (n_frames,) nm;
        ``scission_frame`` int (-1: none); ``scission_time`` float ps (NaN: none);
        ``ilv_side`` int: +1 the ILV formed in the lumen, -1 in the cytosol, 0 no scission;
        ``enrichment``: ``{species: dict}`` as returned by :func:`cargo_enrichment`.

    Example
    -------
    >>> s = budding_summary(traj, "+z", cargo={"CD63": "membrane", "RNA": "lumen"})
    >>> s["scission_time"], s["ilv_diameter"][-1], s["enrichment"]["CD63"]["ci"]
    """
    kinds = _check_cargo(cargo)
    _check_positive(contact=contact, n_boot=n_boot)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence: must lie in (0, 1) (got {confidence!r})")
    for name in kinds:
        _cargo_residues(traj.topology, name)
    state = _budding(traj, lumen, lipids, threshold, slab, max_asphericity, 1.5, workers)
    g, split = state.geometry, state.split
    frame = split["scission_frame"]
    side = 0
    if frame >= 0 and state.frames[frame] is not None:
        base = state.frames[frame][1].base
        side = int(np.sign(base.displacement(split["ilv_centre"][frame][None], box_of(traj)[frame])[0]))
    out: dict[str, Any] = {"time": np.asarray(traj.time, float)}
    for key in ("lumen_height", "cytosol_height", "bud_height", "direction"):
        out[key] = g[key]
    out["neck_radius"] = np.where(state.post, np.nan, g["neck_radius"])
    out["bud_radius"] = np.where(state.post, np.nan, g["bud_radius"])
    out.update(n_membranes=split["n_membranes"], n_closed=split["n_closed"], ilv_diameter=split["ilv_diameter"],
               scission_frame=frame, scission_time=float(traj.time[frame]) if frame >= 0 else np.nan,
               ilv_side=side)
    out["enrichment"] = {name: _cargo(traj, state, name, kind, None, contact, n_boot, confidence, seed)
                         for name, kind in kinds.items()}
    return out
