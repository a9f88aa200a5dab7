"""The life cycle chains: an ILV taken from a budding run directory (its last frame's closed ILV, with
its cargo and RNA) is placed in the MVB of the fusion act; a run without a scission, a folder that is
not a run and contradictory fields are refused, naming the field."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from synthetic import structure_trajectory

import exomembrane as em
from exomembrane import ConfigError, analysis
from exomembrane.builders import Ilv, Placement, mvb_at_membrane, mvb_patch
from exomembrane.builders.chain import ilv_from_run
from exomembrane.builders.compose import combine
from exomembrane.builders.fusion import _ilv
from exomembrane.model.compartments import Membrane
from exomembrane.scenario import load_scenario

SYSTEMS = Path(__file__).resolve().parent.parent / "systems"
MVB = Membrane("mvb", {"+z": "lumen", "-z": "cytosol"})
CARGO = [Placement(species="RNA", where="cytosol", count=2), Placement(species="CARG", count=3, up="lumen")]


def write_run(directory: Path, s: em.Structure) -> Path:
    """A run directory holding one frame of ``s`` and its recorded membranes (what a run writes)."""
    directory.mkdir()
    s.to_mdtraj().save_hdf5(str(directory / "topology.h5"))
    structure_trajectory(s).save_xtc(str(directory / "trajectory.xtc"))
    (directory / "manifest.json").write_text(json.dumps({"membranes": [m.to_dict() for m in s.membranes]}))
    np.savez_compressed(directory / "membranes.npz", membrane=s.membrane, leaflet=s.leaflet)
    return directory


def budded(ff: em.ForceField, with_ilv: bool = True) -> em.Structure:
    """An MVB patch (lumen +z) and, in its lumen, a closed ILV of radius 9 carrying RNA and cargo, its
    lipids of the patch's membrane (outer leaflet = the patch's luminal one), as after scission."""
    patch = mvb_patch(ff, 30.0, lumen="+z", box_z=62.0)
    parts = [(patch, np.zeros(3))]
    if with_ilv:
        ilv, _ = _ilv(ff, Ilv(radius=9.0, proteins=CARGO), 0, 1.2, 3)
        parts.append((ilv, np.array([15.0, 15.0, 46.0]) - ilv.box / 2))
    return combine(parts, patch.box, [MVB], [0] * len(parts))


def test_the_ilv_of_a_run_comes_with_its_cargo(ff: em.ForceField, tmp_path: Path) -> None:
    s = budded(ff)
    run = write_run(tmp_path / "ilv", s)
    ilv, radius = ilv_from_run(ff, run)
    assert radius == pytest.approx(9.0, abs=0.5)
    n_ilv = int((s.is_lipid() & (s.positions[s.molecule_start, 2] > 34.0)).sum())
    assert ilv.n_lipids == n_ilv
    assert {n: int(ilv.of_species(n).sum()) for n in ("RNA", "CARG")} == {"RNA": 2, "CARG": 3}
    lipid = ilv.is_lipid()
    assert (ilv.leaflet[lipid] == 1).sum() > (ilv.leaflet[lipid] == -1).sum() > 0  # outer leaflet the larger
    # placed in the fusion MVB: its own membrane, the compartments sealed as built
    fused = mvb_at_membrane(ff, 48.0, mvb_radius=16.0, gap=3.0, ilvs=[Ilv(run=str(run))])
    assert [m.name for m in fused.membranes] == ["plasma", "mvb", "ilv0"]
    assert (fused.membrane == 2).sum() == n_ilv and fused.of_species("RNA").sum() == 2
    t = analysis.topology(structure_trajectory(fused), [m.faces for m in fused.membranes],
                          fused.membrane[fused.is_lipid()], fused.leaflet[fused.is_lipid()], workers=1)
    assert t.n_membranes[0] == 3 and not t.open[0].any()
    assert not t.connected[0][~np.eye(4, dtype=bool)].any()


def test_refused_chains_name_the_field(ff: em.ForceField, tmp_path: Path) -> None:
    flat = write_run(tmp_path / "flat", budded(ff, with_ilv=False))
    with pytest.raises(ConfigError, match=r"ilvs\.0\.run: .*flat has no scission: its last frame"):
        mvb_at_membrane(ff, 48.0, mvb_radius=16.0, gap=3.0, ilvs=[Ilv(run=str(flat))])
    with pytest.raises(ConfigError, match=r"ilvs\.0\.run: .* is not a run directory"):
        mvb_at_membrane(ff, 48.0, mvb_radius=16.0, gap=3.0, ilvs=[Ilv(run=str(tmp_path))])
    run = write_run(tmp_path / "ilv", budded(ff))
    with pytest.raises(ConfigError, match=r"ilvs: 1 ILV\(s\) of midplane radii \[9\.\d\] sigma do not fit"):
        mvb_at_membrane(ff, 40.0, mvb_radius=12.0, gap=3.0, ilvs=[Ilv(run=str(run))])
    with pytest.raises(ConfigError, match=r"builder\.ilvs\.0: .*run: an ILV taken from a run is built from that run "
                                          r"alone; drop \['radius'\]"):
        load_scenario(SYSTEMS / "mvb_fusion_small.yaml", {"builder.ilvs": f"[{{run: {run}, radius: 7}}]"})


def test_the_chained_scenario_takes_the_ilv_of_a_budding_run(ff: em.ForceField, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """systems/mvb_fusion_chained.yaml reads runs/ilv (from where exomembrane runs): with a budding run
    there, its ILV and cargo are in the MVB with tethers and sealed compartments; without one, the
    scenario is refused naming the field."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"builder\.ilvs\.0\.run: runs/ilv is not a run directory"):
        load_scenario(SYSTEMS / "mvb_fusion_chained.yaml").build()
    (tmp_path / "runs").mkdir()
    s = budded(ff)
    write_run(tmp_path / "runs" / "ilv", s)
    fused = load_scenario(SYSTEMS / "mvb_fusion_chained.yaml").build()
    n_ilv = int((s.is_lipid() & (s.positions[s.molecule_start, 2] > 34.0)).sum())
    assert [m.name for m in fused.membranes] == ["plasma", "mvb", "ilv0"] and (fused.membrane == 2).sum() == n_ilv
    assert fused.of_species("RNA").sum() == 2 and fused.of_species("CARG").sum() == 3 and len(fused.tethers) == 8
    lipid = fused.is_lipid()
    t = analysis.topology(structure_trajectory(fused), [m.faces for m in fused.membranes], fused.membrane[lipid],
                          fused.leaflet[lipid], workers=1)
    assert t.n_membranes[0] == 3 and not t.connected[0][~np.eye(4, dtype=bool)].any()


@pytest.mark.parametrize("name", ["mvb_fusion_chained", "exosome_uptake_chained", "exosome_uptake_released"])
def test_a_chained_scenario_reads_back_as_written(name: str, tmp_path: Path) -> None:
    """A run writes its scenario with the defaults filled in; that file must read back (the fields a
    run-taken vesicle ignores are refused only when given other values)."""
    scenario = load_scenario(SYSTEMS / f"{name}.yaml").resolved()
    written = tmp_path / "scenario.yaml"
    written.write_text(scenario.to_yaml())
    assert load_scenario(written).to_yaml() == scenario.to_yaml()
