"""Loading a scenario file: overrides, validation against the schema, and the checks that need
files or the force field. Every problem is a :class:`~exomembrane.ConfigError` naming the file,
the key path, the value and what is allowed, raised before anything is written."""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from exomembrane.config import ConfigError, load_yaml
from exomembrane.resources import data_dir
from exomembrane.scenario.overrides import apply_overrides
from exomembrane.scenario.schema import Scenario, validate


def load_scenario(path: str | Path, overrides: Mapping[str, Any] | None = None) -> Scenario:
    """Read and validate a scenario file.

    Parameters
    ----------
    path
        YAML file (read with ``yaml.safe_load``: tags that construct Python objects are refused),
        or the name of a shipped scenario (``"vesicle"`` for ``systems/vesicle.yaml``).
    overrides
        ``{"key.path": value}``, e.g. from ``--set run.kT=1.0``; string values are read as YAML
        (``"1.5"`` is a float, ``"null"`` None, ``"{LIP: 0.5, CER: 0.5}"`` a mapping).

    Relative force-field and species paths are taken relative to the scenario file and stored
    absolute. Raises :class:`ConfigError` naming the file and key path on any problem.
    """
    path = Path(path)
    if path.suffix not in (".yaml", ".yml") and not path.exists() and path.name == str(path):
        shipped = data_dir("systems")
        known = sorted(p.stem for p in shipped.glob("*.yaml"))
        if path.name not in known:
            raise ConfigError(f"scenario: {path.name!r} is neither a file nor a shipped scenario; shipped: {known}")
        path = shipped / f"{path.name}.yaml"
    source = str(path)
    data = load_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping of keys to values, got {type(data).__name__}")
    data = apply_overrides(data, overrides or {}, source)
    data.setdefault("name", path.stem)
    ff = data.get("forcefield")
    if isinstance(ff, dict):
        ff = dict(ff)
        name = ff.get("name")
        if isinstance(name, str) and name.endswith((".yaml", ".yml")):
            ff["name"] = str((path.parent / name).resolve())
        if isinstance(ff.get("species"), list):
            ff["species"] = [str((path.parent / s).resolve()) if isinstance(s, str) else s for s in ff["species"]]
        data["forcefield"] = ff
    return validate(data, source, overrides or {})
