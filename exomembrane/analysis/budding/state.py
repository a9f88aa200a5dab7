"""What the budding summary and the cargo enrichment share, computed once per trajectory."""
from __future__ import annotations

from dataclasses import dataclass

import mdtraj
import numpy as np

from exomembrane.checks import check_positive

from ..clusters import MIN_LIPIDS, membrane_clusters
from ..pbc import box_of
from ..selection import lipid_mask
from ..surface import Base, check_lumen
from .geometry import Bud, BudGeometry, bud_frames, geometry_arrays
from .scission import BRIEF, MIN_LEAFLET_FRACTION, Scission, find_scission


@dataclass
class Budding:
    """Everything :func:`budding_summary` and :func:`cargo_enrichment` need, computed once."""

    geometry: BudGeometry
    frames: list[tuple[np.ndarray, Bud] | None]
    split: Scission
    post: np.ndarray  # (n_frames,) bool, at or after scission

    @property
    def inside(self) -> np.ndarray:
        """(n_frames, n_lipids) bool: the bud's lipids before scission, the ILV's after."""
        return np.where(self.post[:, None], self.split.ilv, self.geometry.bud)

    @property
    def parent(self) -> np.ndarray:
        return self.geometry.membrane & ~self.inside

    def spheres(self) -> np.ndarray:
        """(n_frames, 4): centre and midplane radius of the bud (before) or ILV (after scission)."""
        bud = np.c_[self.geometry.bud_centre, self.geometry.bud_radius]
        ilv = np.c_[self.split.ilv_centre, self.split.ilv_radius]
        return np.where(self.post[:, None], ilv, bud)

    def gates(self) -> list[tuple[Base, int] | None]:
        return [None if p or item is None else (item[1].base, item[1].direction)
                for p, item in zip(self.post, self.frames)]

def budding_state(traj: mdtraj.Trajectory, lumen: str, lipids: np.ndarray | None, threshold: float, slab: float,
             max_asphericity: float, cutoff: float, workers: int | None, sealed: np.ndarray | None = None,
             brief: float = BRIEF) -> Budding:
    closed, sign = check_lumen(lumen)
    check_positive(threshold=threshold, slab=slab, max_asphericity=max_asphericity)
    box_of(traj)
    memb = membrane_clusters(traj, cutoff, workers=workers)
    mask = lipid_mask(lipids, *memb.shape)
    split = find_scission(traj, memb, mask, max_asphericity, MIN_LEAFLET_FRACTION, cutoff, MIN_LIPIDS, workers,
                         sealed, brief)
    member = (memb == split.parent[:, None]) & mask & (memb >= 0)
    frames = bud_frames(traj, member, closed, sign, threshold, slab, workers)
    post = np.arange(traj.n_frames) >= split.scission_frame if split.scission_frame >= 0 \
        else np.zeros(traj.n_frames, bool)
    return Budding(geometry_arrays(frames, member), frames, split, post)
