"""Random lipid gas, the start of self-assembly runs."""
from __future__ import annotations

import numpy as np

from ..config import ConfigError
from ..forcefield import ForceField
from ..structure import Structure
from .lipids import BOND, Composition, counts, lay, species_codes

CELL = 3.0  # sigma: each lipid gets its own cubic cell, so lipids never overlap


def gas(ff: ForceField, n_lipids: int, box: float | tuple[float, float, float], *,
        composition: Composition = "LIP", seed: int = 0) -> Structure:
    """``n_lipids`` straight lipids at random cells of a lattice, randomly oriented.

    Parameters
    ----------
    n_lipids
        Number of lipids (> 0).
    box
        Box length(s) in sigma; must hold ``n_lipids`` cells of 3 sigma.
    composition
        Species name or ``{name: fraction}``.
    seed
        Seeds cell choice, orientations and species placement.
    """
    lengths = np.broadcast_to(np.asarray(box, dtype=float), (3,)).copy()
    if not (isinstance(n_lipids, (int, np.integer)) and n_lipids > 0):
        raise ConfigError(f"n_lipids: must be a positive integer (got {n_lipids!r})")
    if not np.all(lengths > 0):
        raise ConfigError(f"box: lengths must be > 0 (got {lengths.tolist()})")
    rng = np.random.default_rng(seed)
    names, (codes,) = species_codes([counts(composition, n_lipids, ff, "composition")], rng)
    longest = max(len(ff.get(n).beads) for n in names)
    cell = max(CELL, (longest - 1) * BOND + 1.1)
    grid = np.floor(lengths / cell).astype(int)
    if grid.prod() < n_lipids:
        raise ConfigError(f"box: {lengths.tolist()} sigma holds at most {int(grid.prod())} lipids "
                          f"({cell:g} sigma cells); asked for n_lipids = {n_lipids}; enlarge the box")
    chosen = rng.choice(grid.prod(), size=n_lipids, replace=False)
    centres = (np.stack(np.unravel_index(chosen, grid), axis=1) + 0.5) * (lengths / grid)
    d = rng.normal(size=(n_lipids, 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    sizes = np.array([len(ff.get(n).beads) for n in names])[codes]
    ends = centres - 0.5 * (sizes - 1)[:, None] * BOND * d
    return Structure(ff, names, codes, lay(ff, names, codes, ends, d), lengths)
