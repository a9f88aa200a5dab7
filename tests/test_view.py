"""The nglview viewer without a browser: what it sends to NGL (structure text, frames, representations)."""
from __future__ import annotations

from pathlib import Path

import mdtraj
import nglview
import numpy as np
import pytest

import exomembrane as em
from exomembrane.notebook.view import (
    ANGSTROM,
    BeadTrajectory,
    label_sides,
    legend,
    load,
    shade,
    show,
    species_colors,
    tint,
)
from exomembrane.run import Run, load_trajectory
from exomembrane.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[1]


def parse_mol2(text: str) -> tuple[list[list[str]], np.ndarray]:
    """Atom records (split on whitespace) and (n, 2) 1-based bond pairs of a MOL2 text."""
    section, atoms, bonds = None, [], []
    for line in text.splitlines():
        if line.startswith("@<TRIPOS>"):
            section = line[9:]
        elif line.strip() and section == "ATOM":
            atoms.append(line.split())
        elif line.strip() and section == "BOND":
            bonds.append([int(v) for v in line.split()[1:3]])
    return atoms, np.array(bonds)


def messages(view: nglview.NGLWidget, method: str) -> list[dict]:
    """Calls queued for the NGL frontend (nglview keeps them in ``_ngl_msg_archive``)."""
    return [m for m in view._ngl_msg_archive if m["methodName"] == method]


def test_structure_above_100k_beads_keeps_serials_names_and_bonds(ff: em.ForceField) -> None:
    structure = em.builders.bilayer(ff, 145.0, upper={"LIP": 0.5, "LYSO": 0.5}, lower="CER")
    assert structure.n_beads > 100_000
    text = load(structure).get_structure_string()
    atoms, bonds = parse_mol2(text)
    assert len(atoms) == structure.n_beads
    assert [int(a[0]) for a in atoms] == list(range(1, structure.n_beads + 1))  # no wrap at 100 000
    resnames = np.asarray(structure.species)[structure.bead_species()]
    assert [a[7] for a in atoms] == resnames.tolist()  # 4-letter LYSO not cut to 3
    assert [int(a[6]) for a in atoms] == (structure.bead_molecule() + 1).tolist()
    np.testing.assert_array_equal(bonds - 1, structure.fene_bonds())
    assert bonds.max() > 100_000
    xyz = np.array([[float(v) for v in a[2:5]] for a in atoms[-3:]])
    np.testing.assert_allclose(xyz, structure.positions[-3:] * ANGSTROM, atol=1e-3)
    view = show(structure)
    assert view.n_components == 0 and len(messages(view, "loadFile")) == 1  # loads once the browser is ready


def test_frames_are_made_whole_across_the_box(ff: em.ForceField) -> None:
    structure = em.builders.gas(ff, 100, 12.0, composition={"LIP": 0.5, "LYSO": 0.5}, seed=3)
    wrapped = (structure.positions + 0.5 * structure.box + 0.37) % structure.box
    bonds = structure.fene_bonds()
    raw = np.linalg.norm(wrapped[bonds[:, 0]] - wrapped[bonds[:, 1]], axis=1)
    assert raw.max() > 5.0  # some bonds cross the box once wrapped bead by bead
    traj = BeadTrajectory(load(structure).beads, [wrapped], [structure.box])
    xyz = traj.get_coordinates(0) / ANGSTROM
    lengths = np.linalg.norm(xyz[bonds[:, 0]] - xyz[bonds[:, 1]], axis=1)
    built = np.linalg.norm(structure.positions[bonds[:, 0]] - structure.positions[bonds[:, 1]], axis=1)
    np.testing.assert_allclose(lengths, built, atol=1e-4)
    shift = (xyz - wrapped) / structure.box
    np.testing.assert_allclose(shift, np.round(shift), atol=1e-4)  # beads move by whole box vectors only


def test_beads_styled_per_species_and_role(ff: em.ForceField) -> None:
    structure = em.builders.vesicle(ff, 6.0, outer={"LIP": 0.5, "LYSO": 0.5}, inner="CER")
    view = show(structure, scale=0.8, cutaway=50, colors={"CER": "#112233"})
    reps = {m["kwargs"]["sele"]: m["kwargs"] for m in messages(view, "addRepresentation")
            if m["args"] == ["spacefill"]}
    colors = species_colors(["CER", "LIP", "LYSO"], {"CER": "#112233"})
    assert len(set(colors.values())) == 3 and colors["CER"] == "#112233"
    expected = {("CER", "H"): (0.75, colors["CER"]), ("CER", "T1"): (1.0, tint(colors["CER"])),
                ("LYSO", "H"): (1.25, colors["LYSO"]), ("LIP", "T2"): (1.0, tint(colors["LIP"]))}
    for (resname, bead), (size, color) in expected.items():
        rep = reps[f"[{resname}] and .{bead}"]
        assert rep["radiusType"] == "size" and rep["radiusSize"] == pytest.approx(0.5 * size * ANGSTROM * 0.8)
        assert rep["color"] == color
    assert len(reps) == 9
    sticks = [m for m in messages(view, "addRepresentation") if m["args"] == ["licorice"]]
    assert len(sticks) == 1 and sticks[0]["kwargs"]["radiusSize"] < 0.5 * 0.75 * ANGSTROM * 0.8
    assert messages(view, "addBuffer")[0]["args"][0] == "cylinder"  # the unit cell
    stage = [m["kwargs"] for m in messages(view, "setParameters") if m["target"] == "Stage"]
    assert {"cameraType": "orthographic"} in stage
    assert any(m["args"][0].get("clipNear") == 50.0 for m in messages(view, "setParameters") if m["target"] == "Widget")
    assert messages(view, "rotate")  # side view
    html = view.legend.value
    for name in ("CER", "LIP", "LYSO"):
        assert name in html and colors[name] in html and tint(colors[name]) in html


@pytest.fixture(scope="module")
def patch(ff: em.ForceField) -> em.Structure:
    """A small MVB patch with a tetraspanin cone in the membrane and an RNA polymer in the cytosol."""
    return em.builders.mvb_patch(ff, 16.0, proteins=[em.builders.Placement(species="TSPN", count=1),
                                                  em.builders.Placement(species="RNA", count=1, where="cytosol")])


def test_proteins_and_cargo_have_their_own_colours_and_sticks(patch: em.Structure) -> None:
    view = show(patch, colors={"RNA": "#AA0000"})
    reps = [m for m in messages(view, "addRepresentation")]
    spacefill = {m["kwargs"]["sele"]: m["kwargs"]["color"] for m in reps if m["args"] == ["spacefill"]}
    colors = species_colors(["LIP", "TSPN", "RNA"], {"RNA": "#AA0000"})
    assert spacefill["[TSPN]"] == colors["TSPN"] and spacefill["[RNA]"] == "#AA0000"  # one colour, untinted
    assert spacefill["[LIP] and .H"] == colors["LIP"] and spacefill["[LIP] and .T1"] == tint(colors["LIP"])
    assert len(spacefill) == 5 and len(set(spacefill.values())) == 4  # LIP head, LIP tails, TSPN, RNA
    assert len(set(colors.values())) == 3
    sticks = {m["kwargs"]["sele"]: m["kwargs"] for m in reps if m["args"] == ["licorice"]}
    assert set(sticks) == {"[LIP]", "[TSPN]", "[RNA]"}
    assert sticks["[LIP]"]["color"] == "#777777"  # lipids as before
    for name in ("TSPN", "RNA"):
        assert sticks[f"[{name}]"]["color"] == shade(colors[name])
        assert sticks[f"[{name}]"]["radiusSize"] > sticks["[LIP]"]["radiusSize"]
    _, bonds = parse_mol2(load(patch).get_structure_string())
    assert len(bonds) == len(patch.bonds()) > len(patch.fene_bonds())  # the elastic network is drawn too
    html = view.legend.value
    assert "protein" in html and "polymer" in html and "tails" in html
    for name in ("LIP", "TSPN", "RNA"):
        assert f"<b>{name}</b>" in html and colors[name] in html
    assert tint(colors["TSPN"]) not in html
    assert not messages(view, "addShape")  # no side labels unless asked


def test_trajectories_colour_proteins_like_structures(patch: em.Structure) -> None:
    view = show(patch.to_mdtraj(), forcefield=em.load_forcefield())
    sele = {m["kwargs"]["sele"] for m in messages(view, "addRepresentation")}
    assert {"[TSPN]", "[RNA]", "[LIP] and .H"} <= sele


def test_sides_are_labelled(patch: em.Structure) -> None:
    view = show(patch, sides=patch.sides, cutaway=50)
    texts = [shape for m in messages(view, "addShape") for shape in m["args"][1] if shape[0] == "text"]
    labels = {t[4]: t[1] for t in texts}
    assert set(labels) == {"lumen (+z)", "cytosol (-z)"}
    z = patch.box[2] * ANGSTROM
    mid = np.median(patch.positions[:, 2]) * ANGSTROM
    assert labels["lumen (+z)"][2] > mid + 0.15 * z and labels["cytosol (-z)"][2] < mid - 0.15 * z
    with pytest.raises(ValueError, match="sides.lumen: 'up' is not a side"):
        label_sides(view, {"lumen": "up"}, patch.box)


def test_long_trajectories_are_subsampled(ff: em.ForceField) -> None:
    structure = em.builders.bilayer(ff, 6.0)
    top = structure.to_mdtraj()
    n = 1201
    xyz = structure.positions[None] + np.linspace(0, 1, n)[:, None, None]
    traj = mdtraj.Trajectory(xyz, top.topology, unitcell_lengths=np.tile(structure.box, (n, 1)),
                             unitcell_angles=np.full((n, 3), 90.0))
    frames = load(traj, max_frames=500)
    assert frames.n_frames == 401  # stride 3
    np.testing.assert_allclose(frames.get_coordinates(1) / ANGSTROM, traj.xyz[3], atol=1e-4)
    view = show(traj, stride=100)
    assert view.max_frame == 12
    assert load(traj, stride=1).n_frames == n


def test_simulation_shows_its_current_state(ff: em.ForceField) -> None:
    sim = em.create_simulation(em.builders.bilayer(ff, 6.0), platform="Reference", seed=1)
    sim.step(20)
    frames = load(sim)
    state = sim.context.getState(getPositions=True, enforcePeriodicBox=True)
    np.testing.assert_allclose(frames.frames[0], state.getPositions(asNumpy=True)._value)
    assert frames.beads.resnames[0] == "LIP" and frames.beads.names[:3].tolist() == ["H", "T1", "T2"]


def test_run_directories_are_read_with_a_stride(tmp_path: Path) -> None:
    scenario = load_scenario(ROOT / "systems" / "flat_bilayer.yaml",
                             {"builder.size": 8.0, "run.platform": "CPU", "run.seed": 1, "run.report.trajectory": 10})
    with Run.create(scenario, tmp_path / "run") as run:
        run.advance(200)
    assert load(tmp_path / "run").n_frames == 21
    frames = load(tmp_path / "run", max_frames=5)
    assert frames.n_frames == 5 and frames.beads.resnames[0] == "LIP"  # stride 5: frames 0, 5, ..., 20
    np.testing.assert_allclose(frames.frames[1], load_trajectory(tmp_path / "run").xyz[5])


def test_unknown_objects_are_refused() -> None:
    with pytest.raises(TypeError, match="cannot view a dict"):
        show({})


def test_legend_escapes_names() -> None:
    assert "&lt;X&gt;" in legend({"<X>": "#000000"}).value
