"""Compartments as data: membranes name the compartment on each face, structures with several
membranes, the run directory keeps them (old ones are read from their sides), bad input names the
field; and the topology of built structures read with the recorded compartments."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from synthetic import structure_trajectory

import exomembrane as em
from exomembrane import ConfigError, analysis
from exomembrane.model.compartments import Membrane, compartments, from_sides
from exomembrane.run import MEMBRANES, Run, load_compartments
from exomembrane.scenario import load_scenario

SYSTEMS = Path(__file__).resolve().parent.parent / "systems"


def test_a_membrane_names_both_faces() -> None:
    mvb = Membrane("mvb", {"inside": "lumen", "outside": "cytosol"})
    assert mvb.closed and mvb.upper == "cytosol" and mvb.lower == "lumen" and mvb.face_of("lumen") == "inside"
    pm = Membrane("plasma", {"+z": "extracellular", "-z": "cytosol"})
    assert not pm.closed and pm.upper == "extracellular" and pm.positive == "+z"
    assert compartments([pm, mvb]) == ("extracellular", "cytosol", "lumen")
    assert Membrane.from_dict(mvb.to_dict()) == mvb
    assert from_sides({"lumen": "+z", "cytosol": "-z"}) == (Membrane("membrane", {"+z": "lumen", "-z": "cytosol"}),)


@pytest.mark.parametrize("faces, match", [
    ({"+z": "lumen"}, r"membranes\.mvb\.faces: must name a compartment on both faces"),
    ({"+z": "lumen", "inside": "cytosol"}, r"membranes\.mvb\.faces: must name a compartment on both faces"),
    ({"+z": "cytosol", "-z": "cytosol"}, r"membranes\.mvb\.faces: the two faces touch the same compartment 'cytosol'"),
    ({"+z": "lumen", "-z": "cyto sol"}, r"membranes\.mvb\.faces\.-z: compartment 'cyto sol' must be a word"),
])
def test_bad_membranes_name_the_field(faces, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        Membrane("mvb", faces)


def test_an_unknown_compartment_in_a_placement_names_the_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"builder\.proteins\.0\.where.*'extracellular'"):
        load_scenario(SYSTEMS / "ilv_ceramide_small.yaml", {"builder.proteins.0.where": "extracellular"})
    with pytest.raises(ConfigError, match=r"membranes\.mvb: no face touches compartment .extracellular."):
        Membrane("mvb", {"+z": "lumen", "-z": "cytosol"}).face_of("extracellular")


def mvb_under_plasma_membrane(ff: em.ForceField) -> em.Structure:
    """A closed MVB (lumen inside) in the cytosol below a plasma-membrane patch (extracellular above)."""
    mvb = em.builders.mvb_vesicle(ff, 8.0, padding=4.0)
    pm = em.builders.bilayer(ff, float(mvb.box[0]), box_z=float(mvb.box[2]) + 16.0)
    box = np.array([mvb.box[0], mvb.box[1], pm.box[2]])
    shift = np.array([0.0, 0.0, mvb.box[2] + 8.0 - pm.box[2] / 2])  # the patch 8 sigma above the MVB's box
    positions = np.concatenate([mvb.positions, np.mod(pm.positions + shift, box)])
    membranes = (mvb.membranes[0], Membrane("plasma", {"+z": "extracellular", "-z": "cytosol"}))
    return em.Structure(ff, mvb.species, np.concatenate([mvb.molecule_species, pm.molecule_species]), positions, box,
                        np.concatenate([mvb.leaflet, pm.leaflet]), membranes,
                        np.concatenate([mvb.membrane, np.ones(pm.n_molecules, int)]))


def test_a_structure_with_several_membranes_and_its_topology(ff: em.ForceField) -> None:
    s = mvb_under_plasma_membrane(ff)
    assert [m.name for m in s.membranes] == ["mvb", "plasma"] and s.sides == {}
    assert s.compartments == ("cytosol", "lumen", "extracellular")
    traj = structure_trajectory(s)
    lipid = s.is_lipid()
    t = analysis.topology(traj, [m.faces for m in s.membranes], s.membrane[lipid], s.leaflet[lipid], workers=1)
    assert t.n_membranes[0] == 2 and not t.open[0].any() and t.pores == []
    assert sorted(t.region_compartment[0]) == ["cytosol", "extracellular", "lumen"]
    assert not t.connected[0][~np.eye(3, dtype=bool)].any()  # every compartment sealed from the others


def test_several_membranes_need_unique_names_and_valid_indices(ff: em.ForceField) -> None:
    s = em.builders.bilayer(ff, 10.0)
    m = Membrane("a", {"+z": "up", "-z": "down"})
    with pytest.raises(ConfigError, match=r"membranes: names must be unique; repeated: \['a'\]"):
        em.Structure(ff, s.species, s.molecule_species, s.positions, s.box, s.leaflet, (m, m))
    with pytest.raises(ValueError, match="membrane: must be"):
        em.Structure(ff, s.species, s.molecule_species, s.positions, s.box, s.leaflet, (m,),
                     np.full(s.n_molecules, 3))


def test_the_run_directory_keeps_the_compartments_and_old_ones_still_read(tmp_path: Path) -> None:
    sc = load_scenario(SYSTEMS / "ilv_ceramide_small.yaml", {"run.steps": 0, "run.seed": 3, "run.platform": "CPU"})
    with Run.create(sc, tmp_path / "run") as run:
        structure = run.simulation.structure
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["membranes"] == [{"name": "mvb", "faces": {"+z": "lumen", "-z": "cytosol"}}]
    assert manifest["sides"] == {"lumen": "+z", "cytosol": "-z"}
    membranes, membrane, leaflet = load_compartments(tmp_path / "run")
    assert membranes == structure.membranes
    np.testing.assert_array_equal(membrane, structure.membrane)
    np.testing.assert_array_equal(leaflet, structure.leaflet)
    # a run directory from before compartments were recorded: its sides, all lipids in the one membrane
    (tmp_path / "run" / MEMBRANES).unlink()
    del manifest["membranes"]
    (tmp_path / "run" / "manifest.json").write_text(json.dumps(manifest))
    old, membrane, leaflet = load_compartments(tmp_path / "run")
    assert old == (Membrane("membrane", {"+z": "lumen", "-z": "cytosol"}),)
    np.testing.assert_array_equal(membrane, np.where(structure.is_lipid(), 0, -1))
    assert not leaflet.any()


def test_the_movie_colours_the_compartments(tmp_path: Path) -> None:
    from PIL import Image

    from exomembrane.run.movie import COLOURS, movie

    sc = load_scenario(SYSTEMS / "ilv_ceramide_small.yaml", {"run.steps": 200, "run.seed": 3, "run.platform": "CPU",
                                                             "run.report.trajectory": 100})
    with Run.create(sc, tmp_path / "run") as run:
        run.advance(run.remaining)
    path = movie(tmp_path / "run", fps=2)
    with Image.open(path) as gif:
        assert gif.n_frames == 3
        pixels = np.asarray(gif.convert("RGB")).reshape(-1, 3)
    for colour in COLOURS[:2]:  # lumen above, cytosol below: both drawn
        rgb = np.array([int(colour[i:i + 2], 16) for i in (1, 3, 5)])
        assert (np.abs(pixels - rgb).sum(axis=1) <= 6).mean() > 0.05, colour
    # every other frame, with the whole run's topology (as analyze --movie passes it)
    from exomembrane.run.report import load

    whole = load(tmp_path / "run").topology
    with Image.open(movie(tmp_path / "run", tmp_path / "half.gif", max_frames=2, topo=whole)) as gif:
        assert gif.n_frames == 2
