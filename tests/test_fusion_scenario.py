"""The fusion act end to end on the small variant, measured by the project's own analysis: SNARE-like
tethers zip the MVB to the plasma membrane, which dock, form a stalk and open a fusion pore, in that
order, with no leak elsewhere and the ILV closed throughout; the negative control (no tethers, no
tension) stays separate or docked and fails the claim. Longer runs (ILV release and its control,
pathway statistics) are in `make validate`."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from exomembrane.run import Run
from exomembrane.run.report import analyze
from exomembrane.scenario import load_scenario

SYSTEMS = Path(__file__).resolve().parent.parent / "systems"
SEED = 1
pytestmark = pytest.mark.slow  # two MD runs of ~23k beads (about 6 minutes on 2 cores)


def fused_in_order(fusion: dict[str, Any]) -> bool:
    """The claim: docked, then a stalk, then a pore joining the MVB lumen to the extracellular space."""
    t = fusion["first_tau"]
    return None not in (t["docked"], t["stalk"], t["pore"]) and t["docked"] <= t["stalk"] < t["pore"]


def run_and_analyze(tmp: Path, overrides: dict[str, Any], until_pore: int = 0) -> dict[str, Any]:
    """Run the small scenario with ``overrides`` and analyse it; with ``until_pore``, a run that has
    not opened a pore by its end goes on (the same run, resumed) up to that many steps."""
    sc = load_scenario(SYSTEMS / "mvb_fusion_small.yaml", {"run.seed": SEED, "run.platform": "CPU", **overrides})
    with Run.create(sc, tmp) as run:
        run.advance(run.remaining)
    summary = analyze(tmp)
    if until_pore and summary["fusion"]["first_tau"]["pore"] is None:  # pores open at ~100-250 tau by seed
        with Run.open(tmp) as run:
            run.target_steps = until_pore
            run.advance(run.remaining)
        summary = analyze(tmp)
    return summary


@pytest.fixture(scope="module")
def fusion(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return run_and_analyze(tmp_path_factory.mktemp("fusion") / "run", {"run.steps": 18000},
                           until_pore=30_000)  # 180 tau (seed 1's pore opens at 170 tau), up to 300


@pytest.fixture(scope="module")
def control(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    # 70 tau: the tethered run of the same seed is docked by 20 tau and has a stalk by 40 tau
    return run_and_analyze(tmp_path_factory.mktemp("control") / "run",
                           {"builder.tethers": None, "run.tension": 0.0, "protocol": {}, "run.steps": 7000})


def test_the_tethers_zip_the_mvb_into_fusion_in_order(fusion: dict[str, Any]) -> None:
    f = fusion["fusion"]
    assert fused_in_order(f), f["first_tau"]
    assert f["pore_radius_max_sigma"] >= 2.0
    assert f["content_mixing_tau"] == f["first_tau"]["pore"]
    assert f["mixing_proximal_final"] > 0.0  # the cytosolic leaflets are one monolayer at the junction
    assert {"fusion.png", "release.png", "stage.png", "pore_radius.png"} <= set(fusion["plots"])


def test_no_leak_away_from_the_fusion_site(fusion: dict[str, Any]) -> None:
    joined = fusion["fusion"]["leaks"]["joined"]
    assert joined["cytosol|extracellular"] == 0 and joined["cytosol|ilv_lumen"] == 0, joined
    # the ILV (an exosome membrane, immiscible with the MVB's) neither fuses back nor opens
    assert joined["ilv_lumen|mvb_lumen"] == 0 and joined["ilv_lumen|extracellular"] == 0, joined
    release = fusion["fusion"]["release"]
    assert release["ilvs"] == 1 and release["closed_final"] == 1 and release["reopened"] == 0


def test_without_tethers_and_tension_the_mvb_does_not_fuse(control: dict[str, Any]) -> None:
    f = control["fusion"]
    assert f["final_stage"] in ("separate", "docked") and f["first_tau"]["stalk"] is None
    assert not fused_in_order(f)
