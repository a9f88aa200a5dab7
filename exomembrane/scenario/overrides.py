"""``--set key.path=value`` overrides of a scenario's data (before validation)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from exomembrane.config import ConfigError


def apply_overrides(data: dict, overrides: Mapping[str, Any], source: str) -> dict:
    """``data`` with each ``"a.b.c": value`` set, intermediate mappings created as needed; a
    number indexes a list (``builder.proteins.0.count``)."""
    out = dict(data)
    for key, value in overrides.items():
        parts = key.split(".")
        if not all(parts):
            raise ConfigError(f"{source}: --set {key}: key path must be dot-separated names, e.g. run.kT")
        if isinstance(value, str):
            try:
                value = yaml.safe_load(value)
            except yaml.YAMLError as err:
                raise ConfigError(f"{source}: --set {key}={value}: not a valid YAML value ({err})") from None
        node: Any = out
        for depth, name in enumerate(parts):
            where = ".".join(parts[:depth])
            part: int | str = name
            if isinstance(node, list):
                if not (name.isdigit() and int(name) < len(node)):
                    raise ConfigError(f"{source}: --set {key}: {where} is a list of {len(node)}; "
                                      f"{name!r} is not an index in 0..{len(node) - 1}")
                part = int(name)
            elif not isinstance(node, dict):
                raise ConfigError(f"{source}: --set {key}: {where} is {node!r}, not a section with keys")
            if depth == len(parts) - 1:
                node[part] = value
                break
            child = node[part] if isinstance(node, list) else node.get(part, {})  # type: ignore[index]
            node[part] = child = list(child) if isinstance(child, list) else dict(child) if isinstance(child, dict) \
                else child
            node = child
    return out
