"""The package's layout: layers import only downwards, no import circles, the headless layers load no
notebook or command-line module, every package folder ships in the wheel, and a new builder kind
registers itself."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "exomembrane"

#: The foundation, which every layer may import.
BASE = {"version", "config", "resources", "checks"}
#: Each layer and what it may import besides itself and BASE. ``analysis`` is a library that needs only BASE.
LAYERS: dict[str, set[str]] = {
    "version": set(),
    "config": set(),
    "resources": set(),
    "checks": {"config"},
    "analysis": {"config", "checks"},
    "model": {"config", "checks", "resources"},
    "builders": {"config", "checks", "model", "analysis"},
    "engine": {"config", "checks", "model", "analysis"},
    "scenario": {"config", "checks", "resources", "model", "builders", "engine"},
    "run": {"config", "checks", "model", "builders", "engine", "scenario", "analysis"},
    "sweep": {"config", "checks", "model", "engine", "scenario", "run", "analysis"},
    "notebook": {"config", "checks", "model", "engine", "scenario", "run", "analysis"},
    "bench": {"config", "checks", "model", "builders", "engine", "scenario", "run", "analysis", "notebook"},
    "cli": {"config", "checks", "model", "engine", "scenario", "run", "sweep", "analysis", "bench"},
}
#: Third-party modules of the notebook and command-line layers, which the layers below must not import.
FRONT_ENDS = {"ipywidgets", "nglview", "argparse", "IPython"}
#: Of those, the ones no module of the headless layers may load at all (dask loads argparse).
NOTEBOOK = ("ipywidgets", "nglview", "IPython")


def modules() -> dict[str, Path]:
    """Dotted name -> file of every module of the package."""
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def imports(name: str, path: Path) -> list[tuple[str, bool]]:
    """(imported module, at module level?) of every import in a module, relative ones resolved."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    top = {id(node) for node in tree.body}
    top |= {id(n) for node in tree.body if isinstance(node, ast.If) for n in node.body}  # TYPE_CHECKING blocks
    known = modules_cache()
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, id(node) in top) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for a in node.names:  # ``from pkg import submodule`` imports the submodule
                sub = f"{base}.{a.name}"
                out.append((sub if sub in known else base, id(node) in top))
    return out


_MODULES: dict[str, Path] = {}


def modules_cache() -> dict[str, Path]:
    if not _MODULES:
        _MODULES.update(modules())
    return _MODULES


def layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "exomembrane" and len(parts) > 1 else None


def test_every_module_is_in_a_layer() -> None:
    unplaced = sorted(m for m in modules_cache() if m != "exomembrane" and layer(m) not in LAYERS)
    assert not unplaced, f"modules outside every layer (add them to LAYERS and docs/architecture.md): {unplaced}"


def test_layers_import_only_downwards() -> None:
    wrong = []
    for name, path in modules_cache().items():
        own = layer(name)
        if own is None:
            continue
        for target, _ in imports(name, path):
            other = layer(target)
            if target.startswith("exomembrane") and other not in (own, None) and other not in LAYERS[own] | BASE:
                wrong.append(f"{name} imports {target}")
            if target == "exomembrane" and own != "cli":
                wrong.append(f"{name} imports the top-level package")
    assert not wrong, "layers crossed the wrong way:\n" + "\n".join(sorted(wrong))


def test_no_import_circles() -> None:
    graph = {name: {t for t, top in imports(name, path) if top and t in modules_cache() and t != name}
             for name, path in modules_cache().items()}
    seen: dict[str, int] = {}  # 1: on the current path, 2: done
    circles = []

    def visit(node: str, trail: list[str]) -> None:
        seen[node] = 1
        for nxt in sorted(graph[node]):
            if seen.get(nxt) == 1:
                circles.append(" -> ".join(trail[trail.index(nxt):] + [nxt]))
            elif nxt not in seen:
                visit(nxt, trail + [nxt])
        seen[node] = 2

    for name in sorted(graph):
        if name not in seen:
            visit(name, [name])
    assert not circles, "import circles:\n" + "\n".join(circles)


def test_headless_layers_import_no_front_end_code() -> None:
    wrong = [f"{name} imports {target}" for name, path in modules_cache().items()
             if layer(name) not in (None, "notebook", "bench", "cli")
             for target, _ in imports(name, path) if target.split(".")[0] in FRONT_ENDS]
    assert not wrong, "\n".join(wrong)


def test_the_runner_and_the_report_load_no_notebook_or_cli_module() -> None:
    """Imported for real in a fresh interpreter: a Dask worker that analyses a run loads none of it."""
    code = ("import sys, exomembrane.run.report, exomembrane.run.runner, exomembrane.sweep, exomembrane.run.batch;"
            "import exomembrane.run.report as r; r._discover();"
            f"print(sorted(m for m in sys.modules if m.split('.')[0] in {NOTEBOOK!r} "
            "or m.startswith(('exomembrane.notebook', 'exomembrane.cli', 'exomembrane.bench'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_every_package_folder_ships_in_the_wheel() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    folders = {".".join(p.relative_to(ROOT).parts) for p in PACKAGE.rglob("*") if p.is_dir()
               and p.name != "__pycache__" and any(p.glob("*.py"))}
    data = set(config["package-dir"])
    for key, folder in config["package-dir"].items():
        data |= {key + "." + ".".join(p.relative_to(ROOT / folder).parts) for p in (ROOT / folder).rglob("*")
                 if p.is_dir() and any(p.glob("*.yaml"))}
    missing = sorted((folders | data) - listed)
    assert not missing, f"pyproject.toml [tool.setuptools] packages misses {missing}"
    for folder in folders:
        assert (ROOT / folder.replace(".", "/") / "__init__.py").is_file(), f"{folder} has no __init__.py"


def test_a_new_builder_kind_registers_itself(tmp_path: Path) -> None:
    """A builder module with a registered section is a new ``builder.kind``: no other file lists the kinds."""
    code = '''
from typing import Literal
import numpy as np
from exomembrane.builders import bilayer
from exomembrane.builders.registry import Section, kinds, register
from exomembrane.scenario.schema import Scenario

@register
class TwoPatches(Section):
    kind: Literal["two_patches"]
    size: float = 12.0
    def build(self, ff):
        return bilayer(ff, self.size)

print(kinds()[-1])
'''
    (tmp_path / "act.py").write_text(code)
    out = subprocess.run([sys.executable, str(tmp_path / "act.py")], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "two_patches", out.stderr


@pytest.mark.parametrize("kind", ["bilayer", "vesicle", "mvb_patch", "mvb_vesicle", "gas", "mvb_fusion", "exosome_uptake"])
def test_todays_acts_are_on_the_registries(kind: str) -> None:
    from exomembrane.builders.registry import kinds
    from exomembrane.run.report import ANY, reports

    assert kind in kinds()
    own = [r for r in reports(kind) if r not in reports(ANY)]  # not just the report for every kind
    assert own, kind


def test_the_old_builders_name_still_answers_with_a_warning() -> None:
    import exomembrane as em

    with pytest.warns(DeprecationWarning, match="exomembrane.builders"):
        old = em.build
    assert old is em.builders and old.bilayer is em.builders.bilayer
    with pytest.raises(AttributeError, match="no attribute 'bulid'"):
        em.bulid  # noqa: B018
