"""Field types shared by the builders' scenario sections (validated with pydantic)."""
from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BeforeValidator, model_validator

from exomembrane.builders.registry import Section


def _composition(value: Any) -> Any:
    return {value: 1.0} if isinstance(value, str) else value


def _fractions(value: dict[str, float]) -> dict[str, float]:
    if not value:
        raise ValueError("composition is empty; give a species name or fractions like {LIP: 0.9, CER: 0.1}")
    negative = {k: v for k, v in value.items() if v < 0}
    if negative:
        raise ValueError(f"fractions must be >= 0 (got {negative})")
    total = sum(value.values())
    if abs(total - 1.0) > 1e-6:
        raise ValueError(f"fractions must add up to 1 (got {total:g})")
    return value


def repeat(n: int) -> Callable[[Any], Any]:
    """Before-validator: a single number becomes an ``n``-tuple of it (``size: 30`` -> (30, 30))."""
    return lambda v: (v,) * n if isinstance(v, (int, float)) and not isinstance(v, bool) else v


#: A species name (100 %) or ``{species: fraction}`` with fractions adding up to 1.
Composition = Annotated[dict[str, float], BeforeValidator(_composition), AfterValidator(_fractions)]


class TwoLeaflets(Section):
    """A section with two leaflet compositions (``LEAFLETS``); the second, if None, is the first."""

    LEAFLETS: ClassVar[tuple[str, ...]] = ()

    @model_validator(mode="after")
    def _symmetric(self) -> TwoLeaflets:
        first, second = self.LEAFLETS
        if getattr(self, second) is None:
            object.__setattr__(self, second, getattr(self, first))  # frozen model: fill the default once
        return self
