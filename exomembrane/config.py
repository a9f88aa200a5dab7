"""Validated loading of YAML data files (force fields, species, scenarios).

Every user-facing file goes through :func:`load_yaml` and a pydantic model, so a bad file
raises :class:`ConfigError` naming the file, the key path, the value and what is allowed,
before anything is written or any OpenMM Context exists.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

M = TypeVar("M", bound=BaseModel)


class ConfigError(ValueError):
    """A configuration file or argument is invalid; the message says where and how to fix it."""


class Strict(BaseModel):
    """Base for config models: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def changed(self, names: set[str]) -> list[str]:
        """Those of ``names`` given other values than their defaults (a scenario written back with
        its defaults filled in reads as the same scenario)."""
        fields = type(self).model_fields
        return sorted(n for n in names & self.model_fields_set if getattr(self, n) != fields[n].get_default())


def format_validation_error(err: ValidationError, source: str, overrides: Mapping[str, Any] = {},
                            unions: Mapping[str, Sequence[str]] = {}) -> str:
    """One line per problem: ``source: key.path: problem (got value) [from --set]``.

    ``overrides``: the ``--set`` keys, marked where a problem comes from one. ``unions``: for each
    discriminated-union field (``"builder"``), its ``kind`` values: pydantic names the chosen
    member as a level of the path that the file does not have, and a bad or missing kind is
    reported as ``<field>.kind`` with the allowed values.
    """
    lines = []
    for e in err.errors():
        loc = [str(p) for p in e["loc"]]
        field = ".".join(loc)
        for key, tags in unions.items():
            depth = len(key.split("."))
            if loc[:depth] == key.split(".") and len(loc) > depth and loc[depth] in tags:
                del loc[depth]
        path = ".".join(loc) or "(top level)"
        if e["type"] == "extra_forbidden":
            msg = "unknown key; remove it or check its spelling"
        elif e["type"] in ("union_tag_invalid", "union_tag_not_found") and field in unions:
            path, msg = f"{field}.kind", f"must be one of {list(unions[field])}"
            e = {**e, "input": e.get("ctx", {}).get("tag", "nothing")}
        else:
            msg = e["msg"]
        got = e.get("input")
        shown = "" if isinstance(got, dict) or e["type"] == "missing" else f" (got {got!r})"
        origin = " [from --set]" if path in overrides else ""
        lines.append(f"{source}: {path}: {msg}{shown}{origin}")
    return "\n".join(lines)


def load_yaml(path: str | Path) -> Any:
    """Read a YAML file with ``yaml.safe_load`` (no code execution); errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: file not found")
    try:
        return yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML (only plain YAML is accepted; tags that "
                          f"construct Python objects are refused): {err}") from None


def parse(model: type[M], data: Any, source: str) -> M:
    """Validate ``data`` against ``model``; raise :class:`ConfigError` on failure."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of keys to values, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, source)) from None
