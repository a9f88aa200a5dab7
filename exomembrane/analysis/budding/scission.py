"""Scission: a new closed vesicle separates from the parent membrane and stays."""
from __future__ import annotations

from dataclasses import dataclass

import mdtraj
import numpy as np

from exomembrane.checks import check_positive

from ..clusters import MIN_LIPIDS, TAIL_CONTACT, membrane_clusters, parent_labels
from ..leaflets import assign_leaflets
from ..pbc import box_of
from ..selection import lipid_mask
from ..shape import vesicle_shape
from ..topology import frame_step, runs, settled
from .fission import RESEAL

#: Smallest share of a vesicle's lipids in its second leaflet (an R = 4 sigma vesicle has ~12 %).
MIN_LEAFLET_FRACTION = 0.1
#: Openings (tau) of a separated vesicle shorter than this do not undo its scission: as long as
#: the parent's transient pore may last (:data:`~exomembrane.analysis.budding.fission.RESEAL`).
BRIEF = RESEAL


@dataclass(frozen=True)
class Scission:
    """Scission of a bud (see :func:`scission`); lengths in nm.

    Attributes
    ----------
    scission_frame
        First frame from which a new closed vesicle exists and stays (but for brief openings); -1 if none.
    n_membranes, n_closed
        (n_frames,) int: all membranes; closed vesicles besides the parent.
    ilv
        (n_frames, n_lipids) bool: the ILV's lipids (from the scission frame on).
    ilv_centre, ilv_radius
        (n_frames, 3) centre in the box and (n_frames,) midplane radius (mean of outer and inner
        head radii); NaN before scission.
    parent
        (n_frames,) int: the parent's membrane label.
    reopened
        Frames after scission in which the ILV, still apart from the parent, was not closed (brief
        openings, each shorter than ``brief``: transient pores of a small, crowded vesicle).
    """

    scission_frame: int
    n_membranes: np.ndarray
    n_closed: np.ndarray
    ilv: np.ndarray
    ilv_centre: np.ndarray
    ilv_radius: np.ndarray
    parent: np.ndarray
    reopened: int = 0

    @property
    def ilv_diameter(self) -> np.ndarray:
        """(n_frames,) nm: twice the midplane radius."""
        return 2 * self.ilv_radius


def find_scission(traj: mdtraj.Trajectory, memb: np.ndarray, mask: np.ndarray, max_asphericity: float,
              min_leaflet_fraction: float, cutoff: float, min_lipids: int, workers: int | None,
              sealed: np.ndarray | None = None, brief: float = BRIEF) -> Scission:
    """See :func:`scission`; ``sealed`` (n_frames, >= n_membranes) bool, from the topology
    (:meth:`~exomembrane.analysis.topology.Topology.sealed`), replaces the two-leaflet test."""
    n_f, n_l = memb.shape
    parent = parent_labels(memb, mask)
    n_memb = memb.max(axis=1, initial=-1) + 1
    multi = np.flatnonzero(n_memb >= 2)
    closed: dict[tuple[int, int], tuple[np.ndarray, float]] = {}  # (frame, label) -> (centre, midplane radius)
    if multi.size:
        leaf = assign_leaflets(traj[multi], cutoff, min_lipids, cutoff, workers) if sealed is None else None
        for i, f in enumerate(multi):
            for k in range(int(n_memb[f])):
                sel = memb[f] == k
                if k == parent[f]:
                    continue
                if leaf is None:
                    if not sealed[f, k]:  # type: ignore[index]
                        continue  # open: its two faces see one region, or it has a pore
                else:
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
    frame = stays(later, n_memb > (n_memb[0] if n_f else 0), traj.time, brief)
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
    reopened = int((~later[frame:]).sum()) if frame >= 0 else 0
    return Scission(frame, n_memb, n_closed, ilv, centre, radius, parent, reopened)


def stays(closed: np.ndarray, apart: np.ndarray, time: np.ndarray, brief: float) -> int:
    """The first frame from which a new vesicle stays apart to the end and closed but for openings
    each shorter than ``brief`` (ps), closed in that frame and the last; -1 if none. ``closed``,
    ``apart``, ``time`` (n_frames,): a new closed vesicle exists; a new membrane exists (open or
    closed); frame times (ps)."""
    start = settled(~np.asarray(apart, bool))
    if start is None or not len(closed) or not closed[-1]:
        return -1
    closed = np.asarray(closed, bool)
    long = [stop for first, stop in runs(~closed[start:]) if (stop - first) * frame_step(time) >= brief]
    begin = start + (int(long[-1]) if long else 0)  # after the last opening too long to be brief
    return begin + int(np.argmax(closed[begin:]))


def scission(traj: mdtraj.Trajectory, lipids: np.ndarray | None = None, max_asphericity: float = 0.15,
             min_leaflet_fraction: float = MIN_LEAFLET_FRACTION, cutoff: float = TAIL_CONTACT,
             min_lipids: int = MIN_LIPIDS, brief: float = BRIEF,
             workers: int | None = None) -> Scission:
    """Scission frame of a bud and the size of the separated vesicle (ILV).

    A membrane other than the parent (the :func:`membrane_clusters` cluster holding most of
    ``lipids``; default the largest) is a **closed vesicle** when its two leaflets are separate,
    i.e. :func:`assign_leaflets` gives its lipids two labels each holding at least
    ``min_leaflet_fraction`` of them (a pore or open edge joins the leaflets of a cup or sheet into
    one label), and it is roughly spherical (:func:`vesicle_shape` asphericity at most
    ``max_asphericity``; a hemispherical cup has ~0.11, a disc 0.25). **Scission** is the first
    frame from which on every frame has more closed vesicles than the first frame, but for openings
    of the new vesicle each shorter than ``brief`` while it stays apart from the parent (the
    transient pores of a small vesicle crowded by its cargo, as the parent's in
    :func:`~exomembrane.analysis.separation`): a new closed membrane appears and stays. The ILV is
    the new closed vesicle made of the most lipids that were in the parent the frame before; in
    later frames it is followed by lipid overlap.

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
    brief
        Time (ps = tau): openings of the new vesicle shorter than this do not undo its scission
        (counted in ``Scission.reopened``); 0: it must be closed in every frame from scission on.
    workers
        Threads working on frames at once (default: one per CPU).

    Returns
    -------
    :class:`Scission`.

    Example
    -------
    >>> s = scission(traj); s.scission_frame, s.ilv_diameter[-1]
    """
    check_positive(max_asphericity=max_asphericity, min_leaflet_fraction=min_leaflet_fraction)
    if not brief >= 0:
        raise ValueError(f"brief: must be >= 0 tau (got {brief!r})")
    box_of(traj)
    memb = membrane_clusters(traj, cutoff, min_lipids, workers)
    mask = lipid_mask(lipids, *memb.shape)
    return find_scission(traj, memb, mask, max_asphericity, min_leaflet_fraction, cutoff, min_lipids, workers,
                         brief=brief)
