"""Composing built structures into one box: several membranes (and their molecules) side by side."""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from exomembrane.model.compartments import Membrane
from exomembrane.model.structure import Structure


def combine(parts: Sequence[tuple[Structure, np.ndarray]], box: np.ndarray, membranes: Sequence[Membrane],
            membership: Sequence[int]) -> Structure:
    """One structure from ``parts``: each (structure, offset (3,) sigma) moved by its offset and
    wrapped into ``box`` (3,) sigma molecule by molecule (each stays whole, its first bead in the
    box, as bonded forces need); the lipids of part k belong to ``membranes[membership[k]]``
    (-1: none), their leaflets as built.

    Example
    -------
    >>> both = combine([(mvb, np.zeros(3)), (pm, np.array([0, 0, 30.0]))], box, [mvb_m, pm_m], [0, 1])
    """
    if len(parts) != len(membership):
        raise ValueError(f"membership: one membrane index per part ({len(parts)}), got {len(membership)}")
    ff = parts[0][0].forcefield
    names = tuple(dict.fromkeys(n for s, _ in parts for n in s.species))
    box = np.asarray(box, float)
    codes, positions, leaflet, membrane, confined = [], [], [], [], []
    for (s, offset), k in zip(parts, membership):
        codes.append(np.array([names.index(n) for n in s.species], np.int32)[s.molecule_species])
        x = s.positions + np.asarray(offset, float)
        first = x[s.molecule_start]
        shift = np.mod(first, box) - first
        positions.append(x + np.repeat(shift, np.diff(np.r_[s.molecule_start, s.n_beads]), axis=0))
        leaflet.append(s.leaflet)
        membrane.append(np.where(s.is_lipid(), k, -1))
        confined.append(s.confined)
    return Structure(ff, names, np.concatenate(codes), np.concatenate(positions), box, np.concatenate(leaflet),
                     tuple(membranes), np.concatenate(membrane), np.concatenate(confined))
