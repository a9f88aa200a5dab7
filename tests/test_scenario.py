"""Scenario files: the shipped ones load and build; bad ones fail clearly, before anything is written."""
from __future__ import annotations

import re
from pathlib import Path

import openmm as mm
import pytest
import yaml

from exomembrane import ConfigError
from exomembrane.run import Run
from exomembrane.scenario import Scenario, load_scenario

SYSTEMS = Path(__file__).resolve().parent.parent / "systems"
SPECIES = Path(__file__).resolve().parent.parent / "forcefields" / "species"
TINY = {"name": "tiny", "builder": {"kind": "bilayer", "size": 6.0},
        "run": {"steps": 10, "seed": 3, "platform": "Reference"}}


def write(tmp_path: Path, data: object, name: str = "scenario.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def with_(base: dict, **sections: dict) -> dict:
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in base.items()}
    for key, values in sections.items():
        out[key] = {**out.get(key, {}), **values}
    return out


def fails(tmp_path: Path, data: object, *patterns: str, overrides: dict | None = None) -> str:
    """Load ``data`` as a scenario, expect ConfigError matching every pattern; nothing written."""
    path = write(tmp_path, data)
    before = sorted(tmp_path.iterdir())
    with pytest.raises(ConfigError) as info:
        load_scenario(path, overrides).build()
    msg = str(info.value)
    assert msg.startswith(str(path)), msg
    for p in patterns:
        assert re.search(p, msg), f"{p!r} not in {msg!r}"
    assert sorted(tmp_path.iterdir()) == before
    return msg


@pytest.mark.parametrize("name", ["flat_bilayer", "vesicle", "self_assembly"])
def test_shipped_scenarios_load_build_and_round_trip(name: str, tmp_path: Path) -> None:
    sc = load_scenario(SYSTEMS / f"{name}.yaml")
    assert sc.name == name
    structure = sc.build()
    assert structure.n_beads > 1000
    resolved = sc.resolved()
    assert 1 <= resolved.run.seed < 2**31
    again = load_scenario(write(tmp_path, resolved.to_yaml()))
    assert again.model_dump() == resolved.model_dump()


def test_defaults_are_filled(tmp_path: Path) -> None:
    sc = load_scenario(write(tmp_path, {"builder": {"kind": "vesicle", "radius": 6, "outer": "LIP"}}))
    assert sc.name == "scenario"  # from the file name
    assert sc.builder.inner == {"LIP": 1.0}
    assert sc.run.kT == 1.1 and sc.run.dt == 0.01 and sc.run.integrator == "langevin"
    assert sc.run.report.trajectory == 1000 and sc.protocol == {}
    dumped = yaml.safe_load(sc.to_yaml())
    assert dumped["builder"]["inner"] == {"LIP": 1.0} and dumped["run"]["seed"] is None


def test_unknown_keys(tmp_path: Path) -> None:
    fails(tmp_path, with_(TINY, run={"colour": "red"}), r"run\.colour: unknown key")
    fails(tmp_path, with_(TINY, extra={"a": 1}), r"extra: unknown key")
    fails(tmp_path, with_(TINY, builder={"radius": 8}), r"builder\.radius: unknown key")


def test_wrong_types_and_ranges(tmp_path: Path) -> None:
    fails(tmp_path, with_(TINY, run={"kT": "hot"}), r"run\.kT: .*valid number.*'hot'")
    fails(tmp_path, with_(TINY, run={"steps": 2.5}), r"run\.steps: .*integer")
    fails(tmp_path, with_(TINY, run={"dt": 0}), r"run\.dt: .*greater than 0 \(got 0\)")
    fails(tmp_path, with_(TINY, run={"tension": -1}), r"run\.tension: .*greater than or equal to 0")
    fails(tmp_path, with_(TINY, run={"seed": 0}), r"run\.seed: .*greater than or equal to 1")
    fails(tmp_path, with_(TINY, run={"report": {"trajectory": 0}}), r"run\.report\.trajectory: .*greater than 0")
    fails(tmp_path, with_(TINY, builder={"size": [10, -1]}), r"builder\.size\.1: .*greater than 0")
    fails(tmp_path, {"builder": {"kind": "vesicle", "radius": 3}}, r"builder\.radius: .*greater than or equal to 5")


def test_allowed_values_are_listed(tmp_path: Path) -> None:
    fails(tmp_path, with_(TINY, run={"integrator": "nose"}), r"run\.integrator: .*'langevin', 'dpd' or 'verlet'")
    fails(tmp_path, with_(TINY, run={"platform": "TPU"}), r"run\.platform: .*'CUDA', 'OpenCL', 'CPU' or 'Reference'")
    fails(tmp_path, with_(TINY, run={"precision": "half"}), r"run\.precision: .*'single', 'mixed' or 'double'")
    fails(tmp_path, {"builder": {"kind": "tube"}},
          r"builder\.kind: must be one of \['bilayer', 'vesicle', 'mvb_patch', 'mvb_vesicle', 'gas', 'mvb_fusion', 'exosome_uptake'\] \(got 'tube'\)")
    fails(tmp_path, {"run": {"steps": 5}}, r"builder: Field required")


def test_platform_names_are_case_insensitive(tmp_path: Path) -> None:
    assert load_scenario(write(tmp_path, with_(TINY, run={"platform": "cpu"}))).run.platform == "CPU"


def test_several_problems_are_reported_together(tmp_path: Path) -> None:
    msg = fails(tmp_path, with_(TINY, run={"kT": -1, "dt": "x"}), r"run\.kT", r"run\.dt")
    assert len(msg.splitlines()) == 2


def test_bad_species_and_compositions(tmp_path: Path) -> None:
    fails(tmp_path, with_(TINY, builder={"upper": "FOO"}),
          r"builder\.upper\.FOO: unknown species 'FOO'; lipid species: \['ADM', 'ADP', 'CER', 'GPI', 'LGL', 'LIP', 'LIP4', 'LYSO', 'PE', 'RBA', 'RCL', 'RCR', 'SM'\]")
    fails(tmp_path, with_(TINY, builder={"upper": "TSPN"}), r"builder\.upper\.TSPN: protein, not a lipid: 'TSPN'")
    fails(tmp_path, with_(TINY, builder={"lower": {"LIP": 0.5, "NOPE": 0.5}}), r"builder\.lower\.NOPE: unknown species")
    msg = fails(tmp_path, with_(TINY, builder={"upper": {"LIP": 0.5, "CER": 0.4}}),
                r"builder\.upper: .*add up to 1 \(got 0\.9\)")
    assert "builder.lower" not in msg  # the default copy of upper is not reported twice
    fails(tmp_path, with_(TINY, builder={"upper": {}}), r"builder\.upper: .*composition is empty")


def test_missing_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.yaml: file not found"):
        load_scenario(tmp_path / "nope.yaml")
    fails(tmp_path, with_(TINY, forcefield={"species": ["missing.yaml"]}),
          r"forcefield\.species\.0: file not found: .*missing\.yaml")
    fails(tmp_path, with_(TINY, forcefield={"name": "other.yaml"}), r"forcefield\.name: file not found")
    fails(tmp_path, with_(TINY, forcefield={"name": "martini"}), r"unknown force field 'martini'; known: \['cooke'\]")


def test_shipped_scenarios_by_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # found by name from anywhere
    assert load_scenario("vesicle", {"builder.radius": 6}) == load_scenario(SYSTEMS / "vesicle.yaml",
                                                                           {"builder.radius": 6})
    shipped = sorted(p.stem for p in SYSTEMS.glob("*.yaml"))
    assert {"flat_bilayer", "vesicle", "ilv_ceramide_small"} <= set(shipped)
    with pytest.raises(ConfigError, match=r"'vesicles' is neither a file nor a shipped scenario; "
                                          rf"shipped: {re.escape(str(shipped))}"):
        load_scenario("vesicles")
    (tmp_path / "vesicle").write_text(yaml.safe_dump(TINY))  # a file of that name wins
    assert load_scenario("vesicle").name == "tiny"


def test_code_executing_yaml_is_refused(tmp_path: Path) -> None:
    fails(tmp_path, "!!python/object/apply:os.system ['touch pwned']\n", r"not valid YAML")
    assert not (tmp_path / "pwned").exists()
    fails(tmp_path, "- a list\n", r"expected a mapping")


def test_protocol_checks(tmp_path: Path) -> None:
    fails(tmp_path, with_(TINY, protocol={"foo": [[0, 1]]}),
          r"protocol\.foo: not a parameter of this force field or builder; allowed: \['kT', 'w_c', 'eps_T_T', .*'affinity_rna_cargo'")
    fails(tmp_path, with_(TINY, protocol={"w_c": [[1, 1.6], [1, 1.5]]}), r"protocol\.w_c: .*strictly increase")
    fails(tmp_path, with_(TINY, forcefield={"params": {"eps_T_TT": 1.2}}),
          r"forcefield\.params\.eps_T_TT: not a pair-table parameter of this force field; allowed: \['eps_T_T', ")
    fails(tmp_path, with_(TINY, protocol={"w_c": [[-1, 1.6]]}), r"protocol\.w_c\.0\.0: .*greater than or equal to 0")
    fails(tmp_path, with_(TINY, protocol={"w_c": []}), r"protocol\.w_c: .*at least 1 item")
    fails(tmp_path, with_(TINY, protocol={"kT": [[0, 1.1]]}, run={"integrator": "dpd"}),
          r"run\.integrator: protocols run with integrator 'langevin' only")


def test_builder_argument_errors_name_the_key_and_write_nothing(tmp_path: Path) -> None:
    sc = load_scenario(write(tmp_path, {"builder": {"kind": "gas", "n_lipids": 500, "box": 6}}))
    out = tmp_path / "out"
    with pytest.raises(ConfigError, match=r"scenario\.yaml: builder\.box: .*holds at most"):
        Run.create(sc, out)
    assert not out.exists()
    small = load_scenario(write(tmp_path, with_(TINY, builder={"size": 4.0})))
    with pytest.raises(ConfigError, match=r"box: .* smaller than twice the pair cutoff"):
        Run.create(small, out)
    assert not out.exists()


def test_overrides(tmp_path: Path) -> None:
    path = write(tmp_path, TINY)
    sc = load_scenario(path, {"run.kT": "1.0", "builder.upper": "{LIP: 0.5, CER: 0.5}", "run.tension": "null",
                              "run.report.thermo": 7, "forcefield.w_c": "1.5"})
    assert sc.run.kT == 1.0 and sc.builder.upper == {"LIP": 0.5, "CER": 0.5} and sc.run.tension is None
    assert sc.run.report.thermo == 7 and sc.forcefield.w_c == 1.5
    assert sc.with_overrides({"run.steps": 99}).run.steps == 99
    fails(tmp_path, TINY, r"run\.steps: .*\(got -3\) \[from --set\]", overrides={"run.steps": "-3"})
    fails(tmp_path, TINY, r"run\.kTT: unknown key", overrides={"run.kTT": "1"})
    fails(tmp_path, TINY, r"--set run\.kT\.x: run\.kT is 1\.1, not a section", overrides={"run.kT": 1.1,
                                                                                            "run.kT.x": "1"})


def test_overrides_index_lists() -> None:
    base = load_scenario("ilv_cones_small")
    sc = base.with_overrides({"builder.proteins.0.up": "cytosol", "builder.proteins.1.count": "3"})
    assert [p.up for p in sc.builder.proteins[:2]] == ["cytosol", "lumen"] and sc.builder.proteins[1].count == 3
    assert base.builder.proteins[0].up == "lumen"  # the original is untouched
    for key, words in (("builder.proteins.3.up", "builder.proteins is a list of 3; '3' is not an index in 0..2"),
                       ("builder.proteins.first.up", "'first' is not an index")):
        with pytest.raises(ConfigError, match=words.replace(".", r"\.")):
            base.with_overrides({key: "cytosol"})


def test_relative_species_file_and_simulation_settings(tmp_path: Path) -> None:
    species = yaml.safe_load((SPECIES / "LIP.yaml").read_text()) | {
        "name": "NEW", "bead_types": {"TN": {"role": "tail", "size": 1.0}},
        "pairs": [{"types": ["TN", "TN"], "eps": 0.8, "param": "eps_new"}]}
    species["beads"] = [{"name": "H", "type": "H"}, {"name": "T1", "type": "TN"}, {"name": "T2", "type": "TN"}]
    (tmp_path / "ff").mkdir()
    write(tmp_path / "ff", species, "new.yaml")
    data = with_(TINY, forcefield={"species": ["ff/new.yaml"], "w_c": 1.5, "params": {"eps_T_T": 0.9}},
                 builder={"size": 8.0, "upper": {"LIP": 0.5, "NEW": 0.5}},
                 protocol={"w_c": [[0, 1.5], [1, 1.8]]}, run={"tension": 0.0})
    sc = load_scenario(write(tmp_path, data))
    assert sc.forcefield.species == [str(tmp_path / "ff" / "new.yaml")]
    structure = sc.build()
    assert structure.species == ("LIP", "NEW")
    sim = sc.simulation(structure)
    ctx = sim.context
    assert ctx.getParameter("w_c") == pytest.approx(1.5) and ctx.getParameter("eps_new") == pytest.approx(0.8)
    assert ctx.getParameter("eps_T_T") == pytest.approx(0.9)
    assert sim.platform_choice.name == "Reference"
    sim.step(50)  # the protocol ramps w_c above the force field's 1.6: the cutoff must allow it
    assert ctx.getParameter("w_c") == pytest.approx(1.65, abs=0.005)
    sim.step(70)
    assert ctx.getParameter("w_c") == pytest.approx(1.8)
    assert any(isinstance(f, mm.MonteCarloMembraneBarostat) for f in sim.system.getForces())


def test_scenario_built_in_python() -> None:
    sc = Scenario.model_validate(TINY)
    assert sc.builder.lower == {"LIP": 1.0}
    assert sc.build().n_lipids == 50
