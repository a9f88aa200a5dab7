"""Bud height and direction, neck and bud sphere of a membrane, per frame."""
from __future__ import annotations

from dataclasses import dataclass, field

import mdtraj
import numpy as np

from exomembrane.checks import check_positive

from ..clusters import TAIL_CONTACT, membrane_clusters, parent_labels
from ..frames import map_frames
from ..pbc import box_of, minimum_image, periodic_centre
from ..selection import lipid_geometry, lipid_indices, lipid_mask
from ..surface import Base, check_lumen, frame_base, sphere_fit

#: Thickness (sigma) of the slabs along the bud axis that measure the neck.
SLAB = 1.0
#: A slab along the bud axis needs this many midplane points to give a radius.
MIN_SLAB_POINTS = 6


@dataclass(frozen=True)
class BudGeometry:
    """Bud geometry per frame (see :func:`bud_geometry`); lengths in nm.

    ``lumen_height``, ``cytosol_height``, ``bud_height`` (their max), ``neck_radius``,
    ``neck_height``, ``bud_radius``, ``base`` (plane height z or sphere midplane radius),
    ``leaflet_offset``: (n_frames,) float; ``direction`` (n_frames,) int in {+1, 0, -1};
    ``bud_centre``, ``base_centre`` (n_frames, 3); ``membrane``, ``bud`` (n_frames, n_lipids) bool.
    """

    lumen_height: np.ndarray
    cytosol_height: np.ndarray
    bud_height: np.ndarray
    neck_radius: np.ndarray
    neck_height: np.ndarray
    bud_radius: np.ndarray
    base: np.ndarray
    leaflet_offset: np.ndarray
    direction: np.ndarray
    bud_centre: np.ndarray
    base_centre: np.ndarray
    bud: np.ndarray
    membrane: np.ndarray


@dataclass(frozen=True)
class Bud:
    """Bud geometry of one frame (see :func:`bud_geometry` for the meaning of the fields)."""

    base: Base
    lumen_height: float
    cytosol_height: float
    direction: int
    neck_radius: float = np.nan
    neck_height: float = np.nan
    bud_centre: np.ndarray = field(default_factory=lambda: np.full(3, np.nan))
    bud_radius: float = np.nan
    bud: np.ndarray | None = None  # (n,) bool over the frame's membrane lipids

def neck(height: np.ndarray, rho: np.ndarray, slab: float) -> tuple[float, float]:
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

def frame_bud(centre: np.ndarray, orient: np.ndarray, box: np.ndarray, closed: bool, sign: float,
               threshold: float, slab: float) -> Bud:
    """Bud geometry of one frame's membrane: lipid centres and orientations (n, 3); see :func:`bud_geometry`."""
    base = frame_base(centre, orient, box, closed, sign)
    mid = centre - base.offset * orient  # each lipid's foot on the bilayer midplane
    s = base.displacement(mid, box)
    up, down = float(s.max()), float(-s.min())
    direction = 0 if max(up, down) < threshold else (1 if up >= down else -1)
    none = np.zeros(len(centre), bool)
    if direction == 0:
        return Bud(base, up, down, 0, bud=none)
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
    neck_radius, neck_height = neck(b[near], rho[near], slab)
    if np.isnan(neck_radius):  # a dome without constriction
        return Bud(base, up, down, direction, bud=none)
    bud = near & (b >= neck_height)
    c, r = sphere_fit(unwrapped[bud], trim=1.0) if bud.sum() >= 4 else (np.full(3, np.nan), np.nan)
    return Bud(base, up, down, direction, neck_radius, neck_height, np.mod(c, box), float(r), bud)

def bud_frames(traj: mdtraj.Trajectory, member: np.ndarray, closed: bool, sign: float, threshold: float,
                slab: float, workers: int | None) -> list[tuple[np.ndarray, Bud] | None]:
    """Per frame: (membrane lipid indices, their :class:`Bud`), or None if fewer than 4 lipids."""
    heads, tails = lipid_indices(traj.topology)
    box = box_of(traj)

    def frame(f: int) -> tuple[np.ndarray, Bud] | None:
        sel = np.flatnonzero(member[f])
        if sel.size < 4:
            return None
        centre, orient = lipid_geometry(traj, heads[sel], tails[sel], slice(f, f + 1))
        return sel, frame_bud(centre[0], orient[0], box[f], closed, sign, threshold, slab)

    return list(map_frames(frame, range(traj.n_frames), workers=workers))

def geometry_arrays(frames: list[tuple[np.ndarray, Bud] | None], member: np.ndarray) -> BudGeometry:
    """The per-frame :class:`Bud` s of :func:`bud_frames` as arrays over frames."""
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
    return BudGeometry(**out)

def bud_geometry(traj: mdtraj.Trajectory, lumen: str, lipids: np.ndarray | None = None, threshold: float = 5.0,
                 slab: float = SLAB, cutoff: float = TAIL_CONTACT, workers: int | None = None) -> BudGeometry:
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
    :class:`BudGeometry` of per-frame arrays:
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
    >>> g.direction, g.bud_height, g.neck_radius
    """
    closed, sign = check_lumen(lumen)
    check_positive(threshold=threshold, slab=slab)
    box_of(traj)
    n_l = lipid_indices(traj.topology)[0].size
    mask = lipid_mask(lipids, traj.n_frames, n_l)
    memb = membrane_clusters(traj, cutoff, workers=workers)
    member = (memb == parent_labels(memb, mask)[:, None]) & mask & (memb >= 0)
    return geometry_arrays(bud_frames(traj, member, closed, sign, threshold, slab, workers), member)
