"""Compartments: the named spaces a structure's membranes separate, and which face of each membrane
touches which.

A membrane is a flat periodic patch (faces ``+z`` and ``-z``) or a closed membrane (faces
``inside`` and ``outside``). Its positive face (``+z`` / ``outside``) is the one its upper/outer
leaflet (``Structure.leaflet`` = +1) faces; the negative face (``-z`` / ``inside``) is faced by the
lower/inner leaflet (-1). Compartments are names (``cytosol``, ``lumen``, ``extracellular``, ...):
builders record them, the run manifest keeps them, and analysis reads them, never guessing them
from coordinates. Lengths in nm (= sigma).

Example
-------
>>> mvb = Membrane("mvb", {"inside": "lumen", "outside": "cytosol"})
>>> mvb.closed, mvb.upper, mvb.lower
(True, 'cytosol', 'lumen')
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from exomembrane.config import ConfigError

#: The faces of a flat periodic patch and of a closed membrane, positive (upper/outer leaflet) first.
PATCH_FACES = ("+z", "-z")
CLOSED_FACES = ("outside", "inside")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Membrane:
    """One membrane and the compartment each of its two faces touches.

    Attributes
    ----------
    name
        The membrane's name (``mvb``, ``plasma``, ``ilv``, ...).
    faces
        ``{face: compartment}`` with faces ``{"+z", "-z"}`` (patch) or ``{"inside", "outside"}``.
    """

    name: str
    faces: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "faces", dict(self.faces))
        where = f"membranes.{self.name}"
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise ConfigError(f"membranes: name {self.name!r} must be a word (letters, digits, _), e.g. 'mvb'")
        keys = set(self.faces)
        if keys not in (set(PATCH_FACES), set(CLOSED_FACES)):
            raise ConfigError(f"{where}.faces: must name a compartment on both faces of a patch {list(PATCH_FACES)} "
                              f"or of a closed membrane {list(CLOSED_FACES)} (got faces {sorted(keys)})")
        for face, comp in self.faces.items():
            if not isinstance(comp, str) or not _NAME.match(comp):
                raise ConfigError(f"{where}.faces.{face}: compartment {comp!r} must be a word (letters, digits, _)")
        if len(set(self.faces.values())) < 2:
            raise ConfigError(f"{where}.faces: the two faces touch the same compartment "
                              f"{next(iter(self.faces.values()))!r}; a membrane separates two compartments")

    @property
    def closed(self) -> bool:
        """True for a closed membrane (faces inside/outside), False for a flat periodic patch."""
        return "inside" in self.faces

    @property
    def positive(self) -> str:
        """The face of the upper/outer leaflet: ``+z`` or ``outside``."""
        return CLOSED_FACES[0] if self.closed else PATCH_FACES[0]

    @property
    def negative(self) -> str:
        """The face of the lower/inner leaflet: ``-z`` or ``inside``."""
        return CLOSED_FACES[1] if self.closed else PATCH_FACES[1]

    @property
    def upper(self) -> str:
        """The compartment the upper/outer leaflet (``leaflet`` +1) faces."""
        return self.faces[self.positive]

    @property
    def lower(self) -> str:
        """The compartment the lower/inner leaflet (``leaflet`` -1) faces."""
        return self.faces[self.negative]

    def face_of(self, compartment: str) -> str:
        """The face that touches ``compartment``; ConfigError naming the allowed ones otherwise."""
        for face, comp in self.faces.items():
            if comp == compartment:
                return face
        raise ConfigError(f"membranes.{self.name}: no face touches compartment {compartment!r}; "
                          f"its faces touch {sorted(self.faces.values())}")

    def to_dict(self) -> dict[str, Any]:
        """JSON form, as the run manifest keeps it."""
        return {"name": self.name, "faces": dict(self.faces)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Membrane:
        """Inverse of :meth:`to_dict`."""
        return cls(str(data["name"]), dict(data["faces"]))


def compartments(membranes: Sequence[Membrane]) -> tuple[str, ...]:
    """The compartments the membranes separate, in order of first mention."""
    return tuple(dict.fromkeys(c for m in membranes for c in (m.upper, m.lower)))


def check_membranes(membranes: Sequence[Membrane]) -> None:
    """Membrane names are unique; ConfigError naming the repeated one otherwise."""
    names = [m.name for m in membranes]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(f"membranes: names must be unique; repeated: {twice}")


def from_sides(sides: Mapping[str, str], name: str = "membrane") -> tuple[Membrane, ...]:
    """The one membrane of a structure described by ``{compartment: face}`` (run directories
    written before compartments were recorded)."""
    if not sides:
        return ()
    return (Membrane(name, {face: comp for comp, face in sides.items()}),)
