"""Fission or rupture: whether the parent membrane is sealed again after an ILV separates.

Scission (:func:`~exomembrane.analysis.scission`) only says that a new, separate, roughly round
membrane with two leaflets exists. A membrane biologist calls it **fission** when the new vesicle
is closed (its two leaflets look into two separate spaces) and the parent membrane is closed as
well, at the latest ``reseal`` after the separation (a transient pore that reseals is how a
Cooke-model neck divides, Pannuzzo, McDargh & Deserno, eLife 7:e39441, 2018), and **rupture**
when the parent keeps a pore (its compartments stay connected) or the vesicle is an open cup.
Without scission a piece of membrane that tears off and stays apart without closing (``detached``)
is a rupture, a parent that opens and stays open is a rupture too, one that opens and closes a
transient pore. Openness is measured by :func:`~exomembrane.analysis.topology.topology`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..topology import Topology, frame_step, runs, settled

#: Time (tau) within which the parent must be closed after separation for fission.
RESEAL = 20.0
#: The names of what happened to the parent membrane.
EVENTS = ("none", "fission", "rupture", "transient pore")


@dataclass(frozen=True)
class Separation:
    """What happened to the parent membrane (see the module docstring); times in ps (= tau).

    Attributes
    ----------
    event
        One of :data:`EVENTS`.
    parent_open
        (n_frames,) bool: the parent membrane is open (its leaflets see one region, or it has a pore).
    parent_pore
        (n_frames,) nm: radius of the parent's largest pore (0 without).
    leak_start, leak_end
        First frame time with the parent open; first time from which it stays closed to the end
        (NaN: never open / open at the end).
    largest_pore
        Largest parent pore radius over the run (nm).
    resealed
        The parent is closed at the end of the run.
    vesicle_closed
        The separated vesicle is closed at the end of the run (False without one).
    reopened
        Frames in which the parent, once sealed after the separation, was open again (brief
        openings, each shorter than ``reseal``, do not undo a fission; they are reported).
    detached
        Without a closed vesicle: the time from which a separate membrane that is not closed stays
        apart from the parent (a piece torn off); NaN if none.
    """

    event: str
    parent_open: np.ndarray
    parent_pore: np.ndarray
    leak_start: float
    leak_end: float
    largest_pore: float
    resealed: bool
    vesicle_closed: bool = False
    reopened: int = 0
    detached: float = np.nan

    @property
    def leak_duration(self) -> float:
        """Time (ps) from the first open frame to resealing; up to the last frame if still open; 0 if never open."""
        if np.isnan(self.leak_start):
            return 0.0
        return float((self.leak_end if not np.isnan(self.leak_end) else np.inf) - self.leak_start)


def separation(topo: Topology, parent: np.ndarray, scission_frame: int, reseal: float = RESEAL,
               vesicle: np.ndarray | None = None, detached: int = -1) -> Separation:
    """Classify a budding run as fission, rupture, a transient pore or nothing.

    Parameters
    ----------
    topo
        :func:`~exomembrane.analysis.topology.topology` of the run.
    parent
        (n_frames,) int: the parent membrane's cluster label per frame (``Scission.parent``).
    scission_frame
        The frame the ILV separated (-1: none).
    reseal
        Time (ps = tau) after separation by which the parent must be closed for fission; it must stay
        closed but for brief openings (each shorter than ``reseal``) and be closed at the end.
    vesicle
        (n_frames, n_lipids) bool: the separated vesicle's lipids (``Scission.ilv``); None: not checked
        (the vesicle counts as closed).
    detached
        Without scission: the frame from which a separate membrane that is not closed stays apart
        from the parent to the end (:func:`torn_off`); -1 none. It makes the event a rupture.

    Returns
    -------
    :class:`Separation`. ``leak_end`` with the parent open at the last frame is NaN (the leak lasts
    to the end of the run and beyond).

    Example
    -------
    >>> s = separation(topology(traj, faces, membrane, leaflet), scission(traj).parent, k)
    >>> s.event, s.leak_start, s.largest_pore
    """
    if not reseal >= 0:
        raise ValueError(f"reseal: must be >= 0 (got {reseal!r})")
    n = len(topo.time)
    parent = np.asarray(parent)
    if parent.shape != (n,):
        raise ValueError(f"parent: must be (n_frames,) = ({n},) cluster labels (got shape {parent.shape})")
    pore = np.zeros(n)
    for p in topo.pores:
        if p.membrane == parent[p.frame]:
            pore[p.frame] = max(pore[p.frame], p.radius)
    valid = (parent >= 0) & (parent < topo.open.shape[1])
    flagged = np.zeros(n, bool)
    flagged[valid] = topo.open[np.flatnonzero(valid), parent[valid]]
    is_open = flagged | (pore > 0)
    t = topo.time
    start = float(t[np.argmax(is_open)]) if is_open.any() else np.nan
    closed_from = settled(is_open)
    end = float(t[closed_from]) if is_open.any() and closed_from is not None else np.nan
    resealed = closed_from is not None
    vesicle_closed = scission_frame >= 0
    if scission_frame >= 0 and vesicle is not None:
        labels = topo.membranes[-1][np.asarray(vesicle)[-1]]
        labels = labels[labels >= 0]
        own = int(np.bincount(labels).argmax()) if labels.size else -1
        vesicle_closed = own >= 0 and not (own < topo.open.shape[1] and topo.open[-1, own]) and not any(
            p.frame == n - 1 and p.membrane == own for p in topo.pores)
    reopened = 0
    if scission_frame >= 0:
        closed = np.flatnonzero(~is_open[scission_frame:])
        sealed_at = scission_frame + int(closed[0]) if closed.size else None
        in_time = sealed_at is not None and t[sealed_at] <= t[scission_frame] + reseal
        brief = True
        if sealed_at is not None:
            later = is_open[sealed_at:]
            reopened = int(later.sum())
            brief = all((stop - start) * frame_step(t) < reseal for start, stop in runs(later))
        event = "fission" if in_time and brief and resealed and vesicle_closed else "rupture"
    elif detached >= 0:
        event = "rupture"
    elif is_open.any():
        event = "transient pore" if resealed else "rupture"
    else:
        event = "none"
    return Separation(event, is_open, pore, start, end, float(pore.max(initial=0.0)), bool(resealed),
                      bool(vesicle_closed), reopened,
                      float(t[detached]) if scission_frame < 0 and detached >= 0 else np.nan)


def torn_off(n_membranes: np.ndarray, scission_frame: int) -> int:
    """The frame from which more membranes than in the first frame exist to the end, when no closed
    vesicle separated (``scission_frame`` -1): a piece torn off that does not close; -1 if none.
    ``n_membranes`` (n_frames,) int, e.g. ``Scission.n_membranes``."""
    more = np.asarray(n_membranes) > (n_membranes[0] if len(n_membranes) else 0)
    if scission_frame >= 0 or not more.any():
        return -1
    first = settled(~more)
    return -1 if first is None else first
