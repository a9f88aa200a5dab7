"""The fusion starting structure: an MVB with ILVs under a plasma-membrane patch, its compartments
sealed as built (measured by the topology analysis), its geometry, bad input naming the field, and
a short run of the shipped scenario."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from synthetic import structure_trajectory

import exomembrane as em
from exomembrane import ConfigError, analysis
from exomembrane.builders import Ilv, mvb_at_membrane
from exomembrane.run import Run
from exomembrane.scenario import load_scenario

SYSTEMS = Path(__file__).resolve().parent.parent / "systems"


@pytest.fixture(scope="module")
def fused(ff: em.ForceField) -> em.Structure:
    return mvb_at_membrane(ff, 48.0, mvb_radius=20.0, gap=1.5, ilvs=[Ilv(radius=5.0), Ilv(radius=5.0)])


def test_membranes_and_compartments(fused: em.Structure) -> None:
    assert [m.name for m in fused.membranes] == ["plasma", "mvb", "ilv0", "ilv1"]
    assert fused.compartments == ("extracellular", "cytosol", "mvb_lumen", "ilv_lumen")
    assert fused.membranes[0].faces == {"+z": "extracellular", "-z": "cytosol"}
    assert fused.membranes[2].faces == {"outside": "mvb_lumen", "inside": "ilv_lumen"}
    lipids = fused.is_lipid()
    assert (fused.membrane[lipids] >= 0).all() and set(np.unique(fused.membrane[lipids])) == {0, 1, 2, 3}
    assert fused.confined[fused.membrane >= 2].all() and not fused.confined[fused.membrane < 2].any()


def test_the_built_compartments_are_sealed(fused: em.Structure) -> None:
    lipid = fused.is_lipid()
    t = analysis.topology(structure_trajectory(fused), [m.faces for m in fused.membranes], fused.membrane[lipid],
                          fused.leaflet[lipid], workers=1)
    assert t.n_membranes[0] == 4 and not t.open[0].any() and t.pores == []
    assert set(t.region_compartment[0]) == {"extracellular", "cytosol", "mvb_lumen", "ilv_lumen"}
    assert not t.connected[0][~np.eye(4, dtype=bool)].any()


def test_the_gap_between_the_plasma_membrane_and_the_mvb(fused: em.Structure) -> None:
    heads = fused.molecule_start[fused.is_lipid()]
    pm = fused.positions[heads[fused.membrane[fused.is_lipid()] == 0]]
    mvb = fused.positions[heads[fused.membrane[fused.is_lipid()] == 1]]
    lower_pm = pm[:, 2] < np.median(pm[:, 2])
    gap = pm[lower_pm, 2].min() - mvb[:, 2].max()
    assert gap == pytest.approx(1.5 + 2 * (2.5 - 2.44), abs=0.3)  # head surfaces 1.5 apart (bead centres 2.44 in)


@pytest.mark.parametrize("kwargs, match", [
    ({"mvb_radius": 10.0, "ilvs": [Ilv(radius=5.0), Ilv(radius=5.0)]}, r"ilvs: 2 ILV\(s\) .* do not fit"),
    ({"mvb_radius": 25.0}, r"mvb_radius: an MVB of midplane radius 25.0 sigma needs lateral box edges"),
    ({"gap": -1.0}, r"gap: must be >= 0"),
])
def test_bad_input_names_the_field(ff: em.ForceField, kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        mvb_at_membrane(ff, 40.0, **kwargs)


def test_the_scenario_validates_its_fields() -> None:
    with pytest.raises(ConfigError, match=r"builder\.gap: Input should be greater than or equal to 0"):
        load_scenario(SYSTEMS / "mvb_fusion_small.yaml", {"builder.gap": -2})
    with pytest.raises(ConfigError, match=r"builder\.ilvs\.0\.outer\.XYZ: unknown species"):
        load_scenario(SYSTEMS / "mvb_fusion_small.yaml", {"builder.ilvs": "[{radius: 5, outer: XYZ}]"})


def test_the_shipped_scenario_runs_and_stays_sealed(tmp_path: Path) -> None:
    sc = load_scenario(SYSTEMS / "mvb_fusion_small.yaml", {"run.steps": 300, "run.seed": 5, "run.platform": "CPU",
                                                           "run.report.trajectory": 150})
    with Run.create(sc, tmp_path / "run") as run:
        run.advance(run.remaining)
    from exomembrane.run.report import analyze

    summary = analyze(tmp_path / "run")
    assert summary["topology"]["compartments"] == ["extracellular", "cytosol", "mvb_lumen", "ilv_lumen"]
    assert summary["topology"]["leaks"] == [] and summary["membranes"]["last"] == 3


def test_ilvs_carry_their_cargo(ff: em.ForceField) -> None:
    """RNA in an ILV's lumen (topologically cytosol) and transmembrane cargo in its membrane."""
    from exomembrane.builders import Placement

    ilv = Ilv(radius=9.0, proteins=[Placement(species="RNA", where="cytosol", count=2),
                                     Placement(species="CARG", count=4, up="lumen")])
    s = mvb_at_membrane(ff, 48.0, mvb_radius=16.0, gap=3.0, ilvs=[ilv])
    centre = s.positions[s.molecule_start[s.membrane == 2]].mean(0)
    for name, lo, hi in (("RNA", 0.0, 9.0 - 2.5), ("CARG", 9.0 - 2.5, 9.0 + 2.5)):
        beads = np.isin(s.bead_molecule(), np.flatnonzero(s.of_species(name)))
        r = np.linalg.norm(s.positions[beads] - centre, axis=1)
        assert s.of_species(name).sum() in (2, 4) and lo <= r.min() and r.max() <= hi, name
    with pytest.raises(ConfigError, match=r"ilvs\.0\.proteins\.0\.where: the cytosol of this membrane has no room"):
        mvb_at_membrane(ff, 48.0, mvb_radius=16.0, gap=3.0,
                        ilvs=[Ilv(radius=5.0, proteins=[Placement(species="RNA", where="cytosol", count=2)])])
