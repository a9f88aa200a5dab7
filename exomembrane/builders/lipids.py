"""Shared pieces of the builders: composition → counts, and placing molecules by their templates."""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from exomembrane.config import ConfigError
from exomembrane.model.forcefield import ForceField

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
            kind = ff.get(name).kind
        except ConfigError as err:
            raise ConfigError(f"{field}: {err}") from None
        if kind != "lipid":
            raise ConfigError(f"{field}.{name}: species {name} is a {kind}, not a lipid; place it as a protein")
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


def species_codes(per_group: list[dict[str, int]],
                  rng: np.random.Generator) -> tuple[tuple[str, ...], list[np.ndarray]]:
    """Species names present and, per group (leaflet), a shuffled array of species codes."""
    names = tuple(sorted({n for g in per_group for n, c in g.items() if c > 0}))
    arrays = []
    for g in per_group:
        codes = np.concatenate([np.full(c, names.index(n), np.int32) for n, c in g.items() if c > 0]
                               or [np.empty(0, np.int32)])
        arrays.append(rng.permutation(codes))
    return names, arrays


def frames(direction: np.ndarray, spin: np.ndarray | None = None) -> np.ndarray:
    """(L, 3, 3) orthonormal frames whose third row is ``direction`` (L, 3) unit vectors, the first
    two turned by ``spin`` (L,) radians about it (default 0)."""
    d = np.asarray(direction, dtype=float)
    helper = np.where(np.abs(d[:, :1]) < 0.9, [[1.0, 0.0, 0.0]], [[0.0, 1.0, 0.0]])
    e1 = np.cross(helper, d)
    e1 /= np.linalg.norm(e1, axis=1, keepdims=True)
    e2 = np.cross(d, e1)
    if spin is not None:
        c, s = np.cos(spin)[:, None], np.sin(spin)[:, None]
        e1, e2 = c * e1 + s * e2, c * e2 - s * e1
    return np.stack([e1, e2, d], axis=1)


def lay(ff: ForceField, names: tuple[str, ...], codes: np.ndarray, origin: np.ndarray,
        direction: np.ndarray, spin: np.ndarray | None = None) -> np.ndarray:
    """Positions of molecules placed by their species templates.

    codes (L,) species index into ``names``; origin (L, 3) sigma, where each template's origin
    goes (a lipid's last tail bead); direction (L, 3) unit vectors, where each template's +z axis
    points (a lipid's head); spin (L,) radians about that axis. Returns (n_beads, 3), molecules
    contiguous in species-file bead order.
    """
    templates = [ff.get(n).template for n in names]
    sizes = np.array([len(t) for t in templates])[codes]
    start = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    local = np.empty((int(sizes.sum()), 3))
    for k, t in enumerate(templates):
        sel = np.flatnonzero(codes == k)
        if sel.size:
            local[(start[sel][:, None] + np.arange(len(t))).ravel()] = np.tile(t, (sel.size, 1))
    mol = np.repeat(np.arange(len(codes)), sizes)
    basis = frames(direction, spin)
    return origin[mol] + np.einsum("nk,nkd->nd", local, basis[mol])
