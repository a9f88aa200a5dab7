"""Shared pieces of the builders: composition → counts, and laying lipids along directions."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..config import ConfigError
from ..forcefield import ForceField

BOND = 0.97  # sigma, near the FENE+WCA bond minimum, so no minimisation is needed
Composition = Mapping[str, float] | str


def counts(composition: Composition, n: int, ff: ForceField, field: str) -> dict[str, int]:
    """Split ``n`` lipids by fractions (largest remainder); ``"LIP"`` means 100 % LIP.

    Raises ConfigError naming ``field`` for unknown species or bad fractions.
    """
    comp = {composition: 1.0} if isinstance(composition, str) else dict(composition)
    if not comp:
        raise ConfigError(f"{field}: composition is empty; give e.g. {{'LIP': 0.9, 'CER': 0.1}}")
    for name, frac in comp.items():
        try:
            ff.get(name)
        except ConfigError as err:
            raise ConfigError(f"{field}: {err}") from None
        if not (isinstance(frac, (int, float)) and frac >= 0):
            raise ConfigError(f"{field}.{name}: fraction must be a number >= 0 (got {frac!r})")
    total = float(sum(comp.values()))
    if abs(total - 1.0) > 1e-6:
        raise ConfigError(f"{field}: fractions must add up to 1 (got {total:g} from {comp})")
    exact = np.array(list(comp.values())) * n
    base = np.floor(exact).astype(int)
    order = np.argsort(-(exact - base), kind="stable")
    base[order[: n - base.sum()]] += 1
    return dict(zip(comp, base.tolist()))


def species_codes(per_group: list[dict[str, int]], rng: np.random.Generator) -> tuple[tuple[str, ...], list[np.ndarray]]:
    """Species names present and, per group (leaflet), a shuffled array of species codes."""
    names = tuple(sorted({n for g in per_group for n, c in g.items() if c > 0}))
    arrays = []
    for g in per_group:
        codes = np.concatenate([np.full(c, names.index(n), np.int32) for n, c in g.items() if c > 0]
                               or [np.empty(0, np.int32)])
        arrays.append(rng.permutation(codes))
    return names, arrays


def lay(ff: ForceField, names: tuple[str, ...], codes: np.ndarray, tail_end: np.ndarray,
        direction: np.ndarray) -> np.ndarray:
    """Positions of lipids laid straight: last bead at ``tail_end``, head along ``direction``.

    codes (L,) species index; tail_end (L, 3) sigma; direction (L, 3) unit vectors tail→head.
    Returns (n_beads, 3), lipids contiguous with the head first.
    """
    sizes = np.array([len(ff.get(n).beads) for n in names])[codes]
    lipid = np.repeat(np.arange(len(codes)), sizes)
    start = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    within = np.arange(sizes.sum()) - np.repeat(start, sizes)
    steps = (sizes[lipid] - 1 - within) * BOND
    return tail_end[lipid] + steps[:, None] * direction[lipid]
