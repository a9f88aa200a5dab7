"""Random lipid gas, the start of self-assembly runs."""
from __future__ import annotations

from typing import Annotated, ClassVar, Literal

import numpy as np
from pydantic import BeforeValidator, NonNegativeInt, PositiveFloat, PositiveInt
from scipy.spatial import cKDTree

from exomembrane.builders.fields import Composition as CompositionField
from exomembrane.builders.fields import repeat
from exomembrane.builders.registry import Section, register
from exomembrane.config import ConfigError
from exomembrane.model.forcefield import BOND, ForceField
from exomembrane.model.structure import Structure

from .lipids import Composition, counts, lay, species_codes

CELL = 2.2  # sigma: each lipid's middle sits in its own cubic cell of at least this size
MIN_DISTANCE = 0.9  # sigma: closest approach of beads of different lipids
MAX_TRIES = 200


def gas(ff: ForceField, n_lipids: int, box: float | tuple[float, float, float], *,
        composition: Composition = "LIP", seed: int = 0) -> Structure:
    """``n_lipids`` straight lipids, randomly placed and oriented, no two beads of different lipids
    closer than 0.9 sigma.

    Each lipid's centre is drawn in its own cell of a lattice (>= 2.2 sigma cells), then
    orientations of clashing lipids are redrawn until none clash.

    Parameters
    ----------
    n_lipids
        Number of lipids (> 0).
    box
        Box length(s) in sigma; must hold ``n_lipids`` cells.
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
    grid = np.floor(lengths / CELL).astype(int)
    if grid.prod() < n_lipids:
        raise ConfigError(f"box: {lengths.tolist()} sigma holds at most {int(grid.prod())} lipids "
                          f"({CELL:g} sigma cells); asked for n_lipids = {n_lipids}; enlarge the box")
    chosen = rng.choice(grid.prod(), size=n_lipids, replace=False)
    cell = lengths / grid
    centres = (np.stack(np.unravel_index(chosen, grid), axis=1) + rng.uniform(0.4, 0.6, (n_lipids, 3))) * cell
    sizes = np.array([len(ff.get(n).beads) for n in names])[codes]
    lipid = np.repeat(np.arange(n_lipids), sizes)
    d = np.empty((n_lipids, 3))
    redo = np.arange(n_lipids)
    for _ in range(MAX_TRIES):
        v = rng.normal(size=(len(redo), 3))
        d[redo] = v / np.linalg.norm(v, axis=1, keepdims=True)
        pos = lay(ff, names, codes, centres - 0.5 * (sizes - 1)[:, None] * BOND * d, d)
        pairs = cKDTree(pos % lengths, boxsize=lengths).query_pairs(MIN_DISTANCE, output_type="ndarray")
        pairs = pairs[lipid[pairs[:, 0]] != lipid[pairs[:, 1]]]
        if not len(pairs):
            return Structure(ff, names, codes, pos, lengths)
        redo = np.unique(lipid[pairs[:, 0]])
    raise ConfigError(f"box: could not place {n_lipids} lipids without overlaps in {lengths.tolist()} sigma; "
                      f"enlarge the box")


@register
class GasSection(Section):
    """``builder.kind: gas``: random lipid gas for self-assembly (:func:`gas`); lengths in sigma."""

    kind: Literal["gas"]
    n_lipids: PositiveInt
    box: Annotated[tuple[PositiveFloat, PositiveFloat, PositiveFloat], BeforeValidator(repeat(3))]
    composition: CompositionField = {"LIP": 1.0}
    seed: NonNegativeInt = 0
    LEAFLETS: ClassVar[tuple[str, ...]] = ("composition",)

    def build(self, ff: ForceField) -> Structure:
        return gas(ff, self.n_lipids, self.box, composition=self.composition, seed=self.seed)
