"""The benchmark command runs and reports both builds (tiny sizes; timing itself is not tested)."""
from __future__ import annotations

import json

import openmm as mm
import pytest

import exomembrane as em
from exomembrane import bench
from exomembrane.bench import lammps as peer
from exomembrane.bench.engine import lammps_rates
from exomembrane.bench.raw import raw_system


def test_bench_reports_ours_and_raw(ff, tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert bench.main(["--platform", "CPU", "--sizes", "8", "--seconds", "0.2", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())
    assert len(rows) == 1 and rows[0]["beads"] == em.builders.bilayer(ff, 8.0).n_beads and rows[0]["ours_steps_per_s"] > 0
    assert rows[0]["raw_steps_per_s"] > 0
    printed = capsys.readouterr().out
    assert "/raw" in printed and f"CPU pair force: {rows[0]['pair_kernel']}" in printed


def test_raw_build_has_the_same_energy_as_ours(ff):
    s = em.builders.bilayer(ff, 8.0, seed=2)
    energies = []
    for system in (raw_system(s), em.create_system(s)):
        ctx = mm.Context(system, mm.VerletIntegrator(0.01), mm.Platform.getPlatformByName("Reference"))
        ctx.setPositions(s.positions)
        energies.append(ctx.getState(getEnergy=True).getPotentialEnergy()._value)
    assert abs(energies[0] - energies[1]) < 1e-6 * abs(energies[1])


def test_bench_live_runs_both_paths(ff, tmp_path, capsys):
    out = tmp_path / "live.json"
    assert bench.main(["--live", "--platform", "CPU", "--sizes", "8", "--seconds", "0.3", "--json", str(out)]) == 0
    (row,) = json.loads(out.read_text())
    assert row["beads"] == em.builders.bilayer(ff, 8.0).n_beads and row["rounds"] == 3
    assert row["headless_steps_per_s"] > 0 and row["live_steps_per_s"] > 0
    assert row["ratio"] == row["live_steps_per_s"] / row["headless_steps_per_s"]
    assert 0 < row["runner_busy_fraction"] < 0.5 and 0 < row["display_busy_fraction"] < 0.5
    assert "live steps/s" in capsys.readouterr().out


def test_bench_proteins_reports_both_patches(tmp_path, capsys):
    out = tmp_path / "proteins.json"
    assert bench.main(["--proteins", "--platform", "CPU", "--sizes", "24", "--seconds", "0.2", "--json", str(out)]) == 0
    (row,) = json.loads(out.read_text())
    assert 0.07 < row["protein_fraction"] < 0.13 and row["beads"] != row["lipid_beads"]
    assert row["lipid_steps_per_s"] > 0 and row["ratio"] == row["protein_steps_per_s"] / row["lipid_steps_per_s"]
    assert "with proteins" in capsys.readouterr().out


def test_bench_replicas_reports_ensemble_throughput(ff, tmp_path, capsys):
    out = tmp_path / "replicas.json"
    assert bench.main(["--replicas", "1", "2", "--platform", "CPU", "--sizes", "8", "--seconds", "0.2",
                       "--json", str(out)]) == 0
    one, two = json.loads(out.read_text())
    assert one["beads_per_replica"] == two["beads_per_replica"] == em.builders.bilayer(ff, 8.0).n_beads
    assert (one["replicas"], two["replicas"]) == (1, 2) and one["gain"] == 1.0
    assert two["replica_steps_per_s"] == 2 * two["steps_per_s"]
    assert two["gain"] == two["replica_steps_per_s"] / one["replica_steps_per_s"]
    assert "replica-steps/s" in capsys.readouterr().out


@pytest.mark.skipif(isinstance(peer.programs(), str), reason="LAMMPS (exomembrane[peer]) not installed")
def test_lammps_peer_has_our_energies_and_a_row(ff, tmp_path, capsys):
    s = em.builders.bilayer(ff, 8.0, upper={"LIP": 0.7, "CER": 0.3}, seed=3)  # two lipid species, three bead types
    rates = lammps_rates(s, 0.2, [1, 2])
    assert set(rates) == {1, 2} and min(rates.values()) > 0
    out = tmp_path / "bench.json"
    assert bench.main(["--platform", "CPU", "--sizes", "8", "--seconds", "0.2", "--lammps", "1",
                       "--json", str(out)]) == 0
    (row,) = json.loads(out.read_text())
    assert row["lammps_ranks"] == 1 and row["ratio_lammps"] == row["ours_steps_per_s"] / row["lammps_steps_per_s"]
    assert "/LAMMPS" in capsys.readouterr().out


def test_lammps_peer_refuses_to_time_different_energies(ff, monkeypatch):
    if isinstance(peer.programs(), str):
        pytest.skip("LAMMPS (exomembrane[peer]) not installed")
    s = em.builders.bilayer(ff, 8.0, seed=3)
    write = peer.write_inputs

    def stiffer_springs(structure, folder, seed=1):
        write(structure, folder, seed)
        script = folder / "in.lmp"
        script.write_text(script.read_text().replace("bond_coeff 2 harmonic 5.0 4.0", "bond_coeff 2 harmonic 5.5 4.0"))

    monkeypatch.setattr(peer, "write_inputs", stiffer_springs)
    with pytest.raises(RuntimeError, match="LAMMPS energies differ from ours"):
        lammps_rates(s, 0.2, [1])
