"""Cargo in the bud or ILV: membership of each molecule per frame and its enrichment."""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import mdtraj
import numpy as np
from scipy.spatial import Delaunay

from exomembrane.checks import check_fraction, check_positive

from ..clusters import TAIL_CONTACT
from ..enrichment import Enrichment, enrichment, frame_selection
from ..pbc import box_of, minimum_image, periodic_tree, wrap
from ..selection import lipid_indices, species_residues
from ..surface import Base
from .geometry import SLAB
from .state import Budding, budding_state

#: How cargo belongs to a bud: bound to its membrane, or inside its lumen.
CARGO_KINDS = ("membrane", "lumen")


def membership(traj: mdtraj.Trajectory, atoms: np.ndarray, mol: np.ndarray, kind: str, inside: np.ndarray,
                parent: np.ndarray, spheres: np.ndarray, gates: list[tuple[Base, int] | None],
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
            centre = spheres[f, :3]
            if gates[f] is None:  # after scission: inside the hull of the ILV's tail beads, whatever its shape
                core = tails[inside[f]]
                core = traj.xyz[f, core[core >= 0]].astype(np.float64)
                hull = Delaunay(centre + minimum_image(core - centre, box[f]))
                ok = hull.find_simplex(centre + minimum_image(com - centre, box[f])) >= 0
            else:  # before scission: inside the bud's sphere, on the bud's side of the base
                base, direction = gates[f]
                ok = np.linalg.norm(minimum_image(com - centre, box[f]), axis=1) < spheres[f, 3]
                ok &= direction * base.displacement(com, box[f]) >= 0
            out[:, f] = ok
    return out

def check_cargo(cargo: str | Sequence[str] | Mapping[str, str]) -> dict[str, str]:
    items = ({cargo: "membrane"} if isinstance(cargo, str) else dict(cargo) if isinstance(cargo, Mapping)
             else {name: "membrane" for name in cargo})
    for name, kind in items.items():
        if kind not in CARGO_KINDS:
            raise ValueError(f"cargo[{name!r}]: kind must be one of {CARGO_KINDS} (got {kind!r})")
    return items

def cargo_of(traj: mdtraj.Trajectory, state: Budding, species: str, kind: str, frames: Any, contact: float,
             n_boot: int, confidence: float, seed: int) -> tuple[Enrichment, np.ndarray]:
    """Enrichment of ``species`` in the bud/ILV of ``state`` (see :func:`cargo_enrichment`), and the
    membership (n_molecules, n_frames) it pools (see :func:`membership`)."""
    atoms, mol = species_residues(traj.topology, species, lipids=kind == "membrane")
    inside, parent = state.inside, state.parent
    member = membership(traj, atoms, mol, kind, inside, parent, state.spheres(), state.gates(), contact)
    if frames is not None:
        use = frame_selection(frames, traj.n_frames)
    else:  # from scission on if there is one, else every frame with a bud
        use = state.post if state.post.any() else np.ones(traj.n_frames, bool)
    use = use & inside.any(axis=1)
    return enrichment(member, inside, parent, use, n_boot, confidence, seed, kind), member

def cargo_enrichment(traj: mdtraj.Trajectory, lumen: str, species: str, kind: str = "membrane", *,
                     frames: Any = None, lipids: np.ndarray | None = None, contact: float = 2.0,
                     threshold: float = 5.0, max_asphericity: float = 0.15, n_boot: int = 2000,
                     confidence: float = 0.95, seed: int = 0, workers: int | None = None) -> Enrichment:
    """Enrichment of a cargo species in the bud (before scission) or ILV (after), per lipid, with a CI.

    Concentration is molecules per lipid: ``ratio = (n_bud / L_bud) / (n_parent / L_parent)``,
    with L the lipid counts of the bud/ILV and of the rest of the parent membrane, counts summed
    over the pooled frames. Membership of a molecule (a residue named ``species``) in a frame:

    - ``kind="membrane"`` (transmembrane or membrane-bound cargo): the membrane whose lipid bead is
      nearest to any of its beads, within ``contact`` sigma: the bud/ILV or the parent; farther
      molecules are unbound and not counted. A lipid species (a lipid-anchored cargo such as a
      GPI-anchored protein) belongs to the membrane it is a lipid of.
    - ``kind="lumen"`` (soluble cargo packaged into the bud/ILV): in the bud/ILV when its centroid
      lies inside the convex hull of the ILV's tail beads (after scission: an ILV of any shape) or
      the bud's fitted midplane sphere on the bud's side of the base (before); every other molecule
      of the species counts for the parent (the pool the bud packages from), so ratio 1 means
      packaged in proportion to the membrane the bud takes along.

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
    :class:`~exomembrane.analysis.enrichment.Enrichment`: ``ratio`` and ``ci`` (low, high), the pooled
    enrichment and its interval; ``per_frame`` (n_frames,) ratio per frame (NaN without bud/ILV);
    ``n_bud``, ``n_parent``, ``lipids_bud``, ``lipids_parent`` (n_frames,); ``frames`` pooled;
    ``n_molecules``; ``kind``, ``confidence``, ``method``.

    Example
    -------
    >>> e = cargo_enrichment(traj, "+z", "CD63"); e.ratio, e.ci
    """
    if kind not in CARGO_KINDS:
        raise ValueError(f"kind: must be one of {CARGO_KINDS} (got {kind!r})")
    check_positive(contact=contact, n_boot=n_boot)
    check_fraction("confidence", confidence)
    species_residues(traj.topology, species, lipids=kind == "membrane")  # fail early on a missing species
    state = budding_state(traj, lumen, lipids, threshold, SLAB, max_asphericity, TAIL_CONTACT, workers)
    return cargo_of(traj, state, species, kind, frames, contact, n_boot, confidence, seed)[0]
