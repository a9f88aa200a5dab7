"""Soluble molecules adsorbed on a membrane species: an RNA granule docked on ceramide heads, a
peripheral protein on its lipids. A molecule counts as adsorbed in a frame when one of its beads
lies within ``reach`` of a head bead of the partner lipids (periodic box)."""
from __future__ import annotations

import mdtraj
import numpy as np

from exomembrane.checks import check_positive

from .selection import lipid_indices, species_residues

#: Distance (nm = sigma) from a partner head within which a bead is in contact: the Cooke pair
#: range 2^(1/6) b plus about half the attraction's width w_c.
REACH = 1.5


def adsorbed(traj: mdtraj.Trajectory, species: str, partner: str, reach: float = REACH) -> np.ndarray:
    """(n_frames, n_molecules) bool: each molecule of the soluble ``species`` (residue name) with a
    bead within ``reach`` nm of the head bead of a lipid named ``partner`` (residue name), per frame.

    Example
    -------
    >>> adsorbed(traj, "RNA", "CER").sum(axis=1)  # RNA chains on ceramide heads, per frame
    """
    check_positive(reach=reach)
    atoms, mol = species_residues(traj.topology, species)
    heads = lipid_indices(traj.topology)[0]
    heads = heads[[traj.topology.atom(int(h)).residue.name == partner for h in heads]]
    if not heads.size:
        raise ValueError(f"partner: no lipid named {partner!r} in the topology")
    molecule = np.full(traj.n_atoms, -1)
    molecule[atoms] = mol
    out = np.zeros((traj.n_frames, int(mol.max()) + 1), bool)
    for f, near in enumerate(mdtraj.compute_neighbors(traj, reach, heads, haystack_indices=atoms)):
        out[f, molecule[near]] = True
    return out
