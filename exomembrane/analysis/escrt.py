"""ESCRT-III filaments: their shape per frame (radius, pitch, tilt, bound subunits, height above the
membrane) and the stage of the membrane under them (flat, buckled, bud, neck, fission).

Lengths in nm (= sigma), times in ps (= tau), angles in degrees. The filament's axis is taken along
the membrane normal of a flat patch (z); heights are measured towards the lumen.
"""
from __future__ import annotations

from dataclasses import dataclass

import mdtraj
import numpy as np
from scipy.spatial import cKDTree

from .pbc import box_of, minimum_image
from .topology import runs

#: Stages of the membrane under a filament, in the order they are reached.
STAGES = ("flat", "buckled", "bud", "neck", "fission")
#: Lumen-side displacement (sigma) from which the membrane counts as buckled (above the roughness
#: of a flat patch, ~1-1.5 sigma in the tail-end heights).
BUCKLED = 2.5
#: Neighbouring subunits whose centres lie within this distance (sigma) are still joined (their
#: springs hold them ~1.2 sigma apart; a subunit let go drifts off).
JOINED = 2.0


@dataclass(frozen=True)
class FilamentShape:
    """Shape of one filament per frame (see :func:`filament_shape`); each array (n_frames,).

    radius: median distance of the subunit centres from the filament's axis; pitch: rise per turn
    towards the lumen along the filament from base to tip; tilt: mean angle between the subunits'
    binding-face normals and the lumen direction, towards the outside of the axis (0: flat on the
    membrane, 90: facing outwards); height: lumen-side extent of the subunit centres above the
    lowest (cytosol-most) one; bound: subunits with every binding bead within ``reach`` of a lipid
    head; assembled: the longest chain of subunits still joined (neighbours' centres within
    :data:`JOINED`), over which the shape is measured (NaN below 3: a disassembled filament has no
    shape); axis: (n_frames, 2) the axis position (x, y).
    """

    time: np.ndarray
    radius: np.ndarray
    pitch: np.ndarray
    tilt: np.ndarray
    height: np.ndarray
    bound: np.ndarray
    assembled: np.ndarray
    axis: np.ndarray


def filament_shape(traj: mdtraj.Trajectory, subunits: np.ndarray, binding: np.ndarray, heads: np.ndarray,
                   lumen: str, reach: float) -> FilamentShape:
    """Shape of the filament whose subunits' atoms are ``subunits`` (n, 3), base first, in a flat patch
    whose lumen lies on the ``lumen`` side (``+z`` or ``-z``).

    ``binding``: positions (0..2) of the binding beads within a subunit; ``heads``: atom indices of
    the lipid heads; ``reach`` (sigma): contact plus binding range.
    """
    if lumen not in ("+z", "-z"):
        raise ValueError(f"lumen: filament shapes are measured on a flat patch, '+z' or '-z' (got {lumen!r})")
    up = 1.0 if lumen == "+z" else -1.0
    subunits = np.asarray(subunits)
    box = box_of(traj)
    n_frames = traj.n_frames
    out = {k: np.full(n_frames, np.nan) for k in ("radius", "pitch", "tilt", "height")}
    bound = np.zeros(n_frames, int)
    assembled = np.zeros(n_frames, int)
    axis = np.full((n_frames, 2), np.nan)
    top = [k for k in range(3) if k not in set(np.asarray(binding).tolist())]
    for f in range(n_frames):
        x = traj.xyz[f][subunits].astype(float)  # (n, 3, 3)
        # make each subunit whole, then the filament whole along its chain, across the periodic boundary
        x = x[:, :1] + minimum_image(x - x[:, :1], box[f])
        centres = x.mean(1)
        steps = minimum_image(np.diff(centres, axis=0), box[f])
        whole = centres[0] + np.r_[np.zeros((1, 3)), np.cumsum(steps, axis=0)]
        x += (whole - centres)[:, None, :]
        tree = cKDTree(np.mod(traj.xyz[f][heads], box[f]), boxsize=box[f])
        near = tree.query_ball_point(np.mod(x[:, binding].reshape(-1, 3), box[f]), reach, return_length=True)
        bound[f] = int((near.reshape(len(subunits), -1) > 0).all(axis=1).sum())
        run = longest_run(np.linalg.norm(steps, axis=1) <= JOINED)  # the part still assembled
        assembled[f] = run.stop - run.start
        if assembled[f] < 3:
            continue
        x, centres = x[run], whole[run]
        c = circle_centre(centres[:, :2])
        rel = centres[:, :2] - c
        rho = np.linalg.norm(rel, axis=1)
        phi = np.unwrap(np.arctan2(rel[:, 1], rel[:, 0]))
        height = up * centres[:, 2]
        out["radius"][f] = float(np.median(rho))
        if np.ptp(phi) > 0.5:
            slope = np.polyfit(phi, height, 1)[0]
            out["pitch"][f] = float(2 * np.pi * slope * np.sign(phi[-1] - phi[0]))
        out["height"][f] = float(height.max() - height.min())
        face = x[:, binding].mean(1) - x[:, top].mean(1)  # from the top bead to the binding face
        face /= np.linalg.norm(face, axis=1, keepdims=True)
        outward = np.c_[rel / np.where(rho > 0, rho, 1.0)[:, None], np.zeros(len(rel))]
        out["tilt"][f] = float(np.degrees(np.mean(np.arctan2(np.einsum("ij,ij->i", face, outward), up * face[:, 2]))))
        axis[f] = np.mod(c, box[f, :2])
    return FilamentShape(traj.time.copy(), out["radius"], out["pitch"], out["tilt"], out["height"], bound, assembled,
                         axis)


def longest_run(joined: np.ndarray) -> slice:
    """The subunits of the longest chain whose consecutive links are all ``joined`` ((n - 1,) bool)."""
    spans = runs(joined)
    if not len(spans):
        return slice(0, 1)
    start, stop = spans[np.argmax(spans[:, 1] - spans[:, 0])]
    return slice(int(start), int(stop) + 1)  # n links join n + 1 subunits


def circle_centre(xy: np.ndarray) -> np.ndarray:
    """(2,) centre of the least-squares circle through points ``xy`` (n, 2) (algebraic fit, exact
    for points on a circle or a helix seen along its axis, whatever arc they cover); their mean for
    fewer than 3 points or points on a line."""
    if len(xy) < 3:
        return xy.mean(0)
    a = np.c_[2 * xy, np.ones(len(xy))]
    solution, _, rank, _ = np.linalg.lstsq(a, (xy ** 2).sum(1), rcond=None)
    return solution[:2] if rank == 3 else xy.mean(0)


def stages(lumen_height: np.ndarray, direction: np.ndarray, neck_radius: np.ndarray, fission_frame: int,
           persist: int = 3) -> np.ndarray:
    """(n_frames,) int index into :data:`STAGES` of the membrane under a filament, per frame.

    flat; buckled: displaced towards the lumen by >= :data:`BUCKLED`; bud: a bud into the lumen
    (``direction`` +1, from :func:`~exomembrane.analysis.budding_summary`); neck: that bud with a
    constriction (finite ``neck_radius``); fission: from ``fission_frame`` on (-1: none), given only
    for a fission that left the parent sealed (the caller decides, from the topology). A stage
    short of fission counts only in runs of at least ``persist`` consecutive frames (a thermal
    spike of the largest displacement is not a buckle); shorter runs take the stage below.
    """
    h = np.nan_to_num(np.asarray(lumen_height, float), nan=0.0)
    bud = np.asarray(direction) == 1
    raw = np.where(bud & np.isfinite(neck_radius), 3, np.where(bud, 2, np.where(h >= BUCKLED, 1, 0)))
    stage = np.zeros(len(raw), int)
    for k in (1, 2, 3):
        held = _runs_of(raw >= k, persist)
        stage[held] = k
    if fission_frame >= 0:
        stage[fission_frame:] = 4
    return stage


def _runs_of(mask: np.ndarray, length: int) -> np.ndarray:
    """``mask`` with its runs of True shorter than ``length`` frames cleared."""
    out = np.zeros(len(mask), bool)
    for start, stop in runs(mask):
        if stop - start >= length:
            out[start:stop] = True
    return out


def first_times(stage: np.ndarray, time: np.ndarray) -> dict[str, float | None]:
    """``{stage: time it was first reached or passed}`` (None: never), for :data:`STAGES`."""
    reached = np.maximum.accumulate(np.asarray(stage))
    return {name: (float(time[np.argmax(reached >= k)]) if np.any(reached >= k) else None)
            for k, name in enumerate(STAGES)}
