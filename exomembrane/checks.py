"""Argument checks shared by every layer: each error names the argument, the value and what is allowed."""
from __future__ import annotations


def check_positive(error: type[ValueError] = ValueError, **values: float) -> None:
    """Raise ``error`` (a ValueError; :class:`~exomembrane.ConfigError` for configuration) naming the
    first of ``values`` that is not > 0 (NaN included).

    >>> check_positive(dt=0.01, kT=1.1)
    """
    for name, v in values.items():
        if not v > 0:
            raise error(f"{name}: must be > 0 (got {v!r})")


def check_fraction(name: str, value: float, error: type[ValueError] = ValueError) -> None:
    """Raise ``error`` unless 0 < ``value`` < 1 (a probability or confidence level)."""
    if not 0 < value < 1:
        raise error(f"{name}: must lie in (0, 1) (got {value!r})")


__all__ = ["check_fraction", "check_positive"]
