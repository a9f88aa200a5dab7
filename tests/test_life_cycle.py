"""The life cycle chained (``exomembrane.run.life_cycle``): each act takes its vesicle from the run of
the act before it and the cargo is counted act by act; an act whose previous run holds no vesicle
to take is refused, naming the field."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from test_fusion_chain import budded, write_run
from test_uptake import released

import exomembrane as em
from exomembrane import ConfigError
from exomembrane.cli import main
from exomembrane.run.life_cycle import Act, cargo_through, life_cycle
from exomembrane.scenario import load_scenario


def finished(directory: Path, s: em.Structure, scenario: str) -> Path:
    """A hand-built run directory of ``s`` under ``scenario`` that reads as a finished run."""
    write_run(directory, s)
    (directory / "scenario.yaml").write_text(load_scenario(scenario).to_yaml())
    manifest = json.loads((directory / "manifest.json").read_text())
    (directory / "manifest.json").write_text(json.dumps({**manifest, "steps_done": 1, "steps_target": 1}))
    return directory


def test_the_cargo_is_counted_act_by_act(ff: em.ForceField, tmp_path: Path) -> None:
    """Budding hands on its ILV, a fusion run its released ILV, each with the RNA and cargo inside;
    a fusion run whose ILV is still in the MVB hands on nothing, and says why."""
    runs = [finished(tmp_path / "budding", budded(ff), "ilv_ceramide_small"),
            finished(tmp_path / "release", released(ff), "mvb_fusion_small"),
            finished(tmp_path / "stuck", released(ff, out=False), "mvb_fusion_small")]
    table = cargo_through(runs).set_index(["act", "species"])
    assert table.loc[("budding", "RNA"), "event"] == "ILV" and table.loc[("release", "RNA"), "event"] == "released"
    assert table.loc[("stuck", "RNA"), "event"].startswith(f"stuck: {runs[2]} released no ILV")
    assert list(table.loc[(slice(None), "RNA"), "carried"]) == [2, 2, 0]
    assert list(table.loc[(slice(None), "CARG"), "carried"]) == [3, 3, 0]
    assert list(table["total"]) == [3, 2, 3, 2, 3, 2]


@pytest.mark.slow  # an uptake run of 200 steps (~17k beads) and its report
def test_a_chain_runs_act_after_act(ff: em.ForceField, tmp_path: Path) -> None:
    """The uptake act takes the exosome the fusion act released (its folder set in
    builder.exosome_run), runs, and reports where the exosome's cargo is; finished acts are kept."""
    finished(tmp_path / "release", released(ff), "mvb_fusion_small")
    short = {"run.steps": 200, "run.report.trajectory": 100, "run.report.checkpoint": 200}
    acts = [Act("release", "mvb_fusion_small"), Act("uptake", "exosome_uptake_released", short)]
    runs = life_cycle(tmp_path, acts)
    assert runs == [tmp_path / "release", tmp_path / "uptake"]
    assert load_scenario(runs[1] / "scenario.yaml").builder.exosome_run == str(tmp_path / "release")
    assert json.loads((runs[1] / "manifest.json").read_text())["steps_done"] == 200
    table = cargo_through(runs).set_index(["act", "species"])
    rna = table.loc[("uptake", "RNA")]
    assert rna["total"] == 2 and rna["carried"] + rna["cytosol"] + rna["extracellular"] == 2
    assert rna["event"].split()[0] in ("unbound", "bound")
    stamp = (runs[1] / "trajectory.xtc").stat().st_mtime_ns
    life_cycle(tmp_path, acts)  # both finished: nothing runs again
    assert (runs[1] / "trajectory.xtc").stat().st_mtime_ns == stamp
    assert main(["life-cycle", "release=mvb_fusion_small", "uptake=exosome_uptake_released", "--out",
                 str(tmp_path), "--quiet"]) == 0  # headless: the same chain, its table written
    assert (runs[1] / "trajectory.xtc").stat().st_mtime_ns == stamp
    written = pd.read_csv(tmp_path / "cargo.csv").set_index(["act", "species"])
    assert written.loc[("uptake", "RNA"), "total"] == 2 and written.loc[("release", "CARG"), "carried"] == 3


def test_the_command_line_names_a_bad_act(ff: em.ForceField, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    finished(tmp_path / "release", released(ff), "mvb_fusion_small")
    assert main(["life-cycle", "budding", "--out", str(tmp_path)]) == 2
    assert "acts: 'budding': expected NAME=SCENARIO" in capsys.readouterr().err
    assert main(["life-cycle", "release=mvb_fusion_small", "again=ilv_ceramide_small", "--out", str(tmp_path)]) == 2
    assert "acts.1.scenario: a mvb_patch scenario takes no vesicle from a run" in capsys.readouterr().err
    assert not (tmp_path / "again").exists()


def test_a_chain_without_a_vesicle_is_refused_naming_the_field(tmp_path: Path) -> None:
    short = {"run.steps": 20, "run.report.trajectory": 10, "run.report.checkpoint": 20}
    budding = Act("budding", "ilv_ceramide_small", short)
    with pytest.raises(ConfigError, match=r"builder\.ilvs\.0\.run: .*budding has no scission: its last frame"):
        life_cycle(tmp_path, [budding, Act("release", "mvb_fusion_chained")])
    with pytest.raises(ConfigError, match=r"acts\.1\.scenario: a mvb_patch scenario takes no vesicle from a run"):
        life_cycle(tmp_path, [budding, Act("again", "ilv_ceramide_small")])
    with pytest.raises(ConfigError, match=r"acts: the names \['budding', 'budding'\] repeat"):
        life_cycle(tmp_path, [budding, budding])
