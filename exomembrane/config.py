"""Validated loading of YAML data files (force fields, species, scenarios).

Every user-facing file goes through :func:`load_yaml` and a pydantic model, so a bad file
raises :class:`ConfigError` naming the file, the key path, the value and what is allowed,
before anything is written or any OpenMM Context exists.
"""
from __future__ import annotations

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


def format_validation_error(err: ValidationError, source: str) -> str:
    """One readable paragraph from a pydantic error: ``source: key.path: problem (got value)``."""
    lines = []
    for e in err.errors():
        path = ".".join(str(p) for p in e["loc"]) or "(top level)"
        if e["type"] == "extra_forbidden":
            msg = "unknown key; remove it or check its spelling"
        else:
            msg = e["msg"]
        got = e.get("input")
        shown = "" if isinstance(got, dict) else f" (got {got!r})"
        lines.append(f"{source}: {path}: {msg}{shown}")
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
