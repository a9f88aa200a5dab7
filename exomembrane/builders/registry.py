"""The builder registry: each builder module registers the scenario section of its builder.

A section is a :class:`~exomembrane.config.Strict` model with a ``kind`` literal (the value of
``builder.kind`` in a scenario file) and a ``build(ff) -> Structure`` method. The scenario's
``builder`` field is the union of the registered sections, so a new builder (a new act) is one
module with its function and its section under ``@register``; no other file lists the kinds.

Example
-------
>>> from exomembrane.builders.registry import kinds
>>> kinds()
('bilayer', 'vesicle', 'mvb_patch', 'mvb_vesicle', 'gas')
"""
from __future__ import annotations

import typing
from typing import Any, ClassVar, TypeVar

from exomembrane.builders.place import Placement
from exomembrane.config import Strict
from exomembrane.model.forcefield import ForceField
from exomembrane.model.structure import Structure

_SECTIONS: dict[str, type[Section]] = {}
S = TypeVar("S", bound="type[Section]")


class Section(Strict):
    """Scenario section of a builder: its fields, what they name, and how to build from them."""

    kind: Any  # a Literal["name"] in each registered section
    LEAFLETS: ClassVar[tuple[str, ...]] = ()  # fields holding lipid compositions

    def build(self, ff: ForceField) -> Structure:
        """The starting structure, deterministic under the section's seed."""
        raise NotImplementedError

    def compositions(self) -> dict[str, dict[str, float]]:
        """``{field path: {lipid species: fraction}}`` of every lipid composition the section names."""
        return {name: getattr(self, name) for name in self.LEAFLETS}

    def parameters(self) -> tuple[str, ...]:
        """Global parameters the built structure adds to its System (e.g. ``zipper`` with tethers)."""
        return ()

    def placements(self) -> dict[str, Placement]:
        """``{field path: placement}`` of the molecules (proteins, cargo) the section places."""
        return {}

    #: Placement fields that may also name a lipid (lipid-anchored: mixed into a leaflet's composition).
    ANCHORED: ClassVar[tuple[str, ...]] = ()


def register(section: S) -> S:
    """Class decorator: make ``section`` the scenario section of ``builder.kind: <its kind>``."""
    kind = typing.get_args(section.model_fields["kind"].annotation)[0]  # type: ignore[call-overload]
    if kind in _SECTIONS and _SECTIONS[kind] is not section:
        raise ValueError(f"builder kind {kind!r} is registered twice: {_SECTIONS[kind].__module__} "
                         f"and {section.__module__}")
    _SECTIONS[kind] = section
    return section


def sections() -> tuple[type[Section], ...]:
    """The registered sections, in the order registered."""
    return tuple(_SECTIONS.values())


def kinds() -> tuple[str, ...]:
    """The registered ``builder.kind`` values, in the order registered."""
    return tuple(_SECTIONS)
