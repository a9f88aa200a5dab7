"""The shipped force fields and scenarios: beside the package in a source checkout (editable
install), inside it when installed from a wheel."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

_HERE = Path(__file__).resolve().parent


def data_dir(kind: Literal["forcefields", "systems"]) -> Path:
    """The folder of shipped ``forcefields`` (``<name>.yaml`` and ``species/``) or ``systems`` (scenarios)."""
    for folder in (_HERE / kind, _HERE.parent / kind):
        if folder.is_dir():
            return folder
    raise FileNotFoundError(f"{kind}: no {kind}/ folder beside or inside {_HERE}; reinstall exomembrane")
