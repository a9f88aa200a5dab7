"""Every notebook runs top to bottom headless (nbclient), at the small size of ``EXOMEMBRANE_QUICK=1``.

Headless runs do not render widgets: tests/test_browser.py checks that in a real browser.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def execute(name: str, directory: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Run notebook ``name`` in ``directory``; returns the text of all its outputs."""
    monkeypatch.setenv("EXOMEMBRANE_QUICK", "1")
    monkeypatch.delenv("EXOMEMBRANE_RUN", raising=False)
    shutil.copy(NOTEBOOKS / name, directory / name)
    nb = nbformat.read(directory / name, as_version=4)
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(directory)}}).execute()
    texts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            texts.append(out.get("text", "") + str(out.get("data", {}).get("text/plain", "")))
    return texts


@pytest.mark.parametrize("name", sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")))
def test_notebooks_are_short_and_clean(name: str) -> None:
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert len(nb.cells) <= 15
    assert all(not c.outputs and c.execution_count is None for c in code), "commit notebooks without outputs"
    assert "EXOMEMBRANE_QUICK" in "".join(c.source for c in code)


def test_quickstart_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = "\n".join(execute("quickstart.ipynb", tmp_path, monkeypatch))
    assert "1 membrane(s)" in out and "'finished'" in out
    run = tmp_path / "runs" / "quickstart"
    assert (run / "checkpoint.chk").is_file() and (run / "trajectory.xtc").stat().st_size > 0


def test_analysis_runs_on_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = "\n".join(execute("analysis.ipynb", tmp_path, monkeypatch))
    assert "membranes in the last frame: 1" in out
    assert (tmp_path / "runs" / "analysis-demo" / "manifest.json").is_file()


@pytest.mark.slow  # an end-to-end MD run of several thousand steps
def test_ilv_budding_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = "\n".join(execute("ilv_budding.ipynb", tmp_path, monkeypatch))
    assert "sides {'lumen': '+z', 'cytosol': '-z'}" in out and "'finished'" in out
    assert "lumen side +z: bud height" in out
    run = tmp_path / "runs" / "ilv_budding"
    assert (run / "checkpoint.chk").is_file() and (run / "trajectory.xtc").stat().st_size > 0


@pytest.mark.slow  # an end-to-end MD run of several thousand steps
def test_ilv_escrt_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = "\n".join(execute("ilv_escrt.ipynb", tmp_path, monkeypatch))
    assert "60 filament subunits" in out and "'filament_tilt': 0.0" in out and "'finished'" in out
    assert "stages first reached (tau): {'flat': 0.0" in out and "of 60 subunits bound" in out
    assert (tmp_path / "runs" / "ilv_escrt" / "trajectory.xtc").stat().st_size > 0


@pytest.mark.slow  # an end-to-end MD run of several thousand steps
def test_sweeps_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = "\n".join(execute("sweeps.ipynb", tmp_path, monkeypatch))
    assert "3 points x 2 seeds" in out and "lipid_order_S.mean.png" in out
    table = __import__("pandas").read_csv(tmp_path / "runs" / "kT_scan" / "results.csv")
    assert len(table) == 6 and set(table["status"]) == {"ok"}


@pytest.mark.slow  # an end-to-end MD run of ~26k beads
def test_mvb_fusion_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = "\n".join(execute("mvb_fusion.ipynb", tmp_path, monkeypatch))
    assert "8 tethers" in out and "plasma  faces {'+z': 'extracellular', '-z': 'cytosol'}" in out
    assert "'finished'" in out and "fusion (plasma with mvb): final stage" in out
    analysis = tmp_path / "runs" / "mvb_fusion" / "analysis"
    assert (analysis / "release.png").is_file() and (analysis / "fusion.png").is_file()


@pytest.mark.slow  # an end-to-end MD run of ~17k beads
def test_exosome_uptake_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = "\n".join(execute("exosome_uptake.ipynb", tmp_path, monkeypatch))
    assert "ligands" in out and "exosome faces {'outside': 'extracellular', 'inside': 'exosome_lumen'}" in out
    assert "'finished'" in out and "uptake (exosome at the target):" in out and "outcome: " in out
    assert "the scan has not been run here" in out
    # the life cycle chained: the short budding act pinches off nothing, and the chain says so
    assert "the chain stops: " in out and "builder.ilvs.0.run: runs/life_cycle/budding has no scission" in out
    assert "budding" in out and "RNA" in out
    analysis = tmp_path / "runs" / "exosome_uptake" / "analysis"
    assert (analysis / "uptake.png").is_file() and (analysis / "uptake_cut.png").is_file()
