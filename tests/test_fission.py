"""Fission or rupture of the parent membrane after an ILV separates, on hand-built trajectories with
known answers (10 tau between frames), with the negative controls: a parent left with a pore, a
torn membrane without a vesicle, a pore that reseals too late."""
from __future__ import annotations

import numpy as np
import pytest
from synthetic import HEAD, LZ, PATCH, SIDE, Omega, Surface, plane, pore, sides_of, sphere, surfaces_trajectory

from exomembrane import analysis as an
from exomembrane.analysis.budding.fission import Separation

CENTRE = (SIDE / 2, SIDE / 2)
FACES = [{"+z": "lumen", "-z": "cytosol"}]


def frames(kinds: list[str], seed: int = 4) -> list[Surface]:
    """'bud': an Omega bud into the lumen; 'ilv': the intact patch with a detached vesicle above it;
    'cup': the same with the vesicle an open cup (50 degrees open); 'ilv+pore<r>': the patch with a
    pore of channel radius r; 'pore<r>', 'plane': the patch alone."""
    rng = np.random.default_rng(seed)
    top = [*CENTRE, Omega(bud=6.0).bud_centre_height + 4.0]
    out = []
    for kind in kinds:
        if kind == "bud":
            s = Omega(neck=3.5, bud=6.0).surface(rng, CENTRE)
        else:
            body = kind.split("+")[-1] if kind.startswith("ilv") else kind
            s = pore(float(body[4:]) + HEAD, rng=rng) if body.startswith("pore") else plane()
            if kind.startswith("ilv"):
                s = s + sphere(6.0, top, rng)
            if kind == "cup":
                s = s + sphere(6.0, top, rng, opening=np.radians(50))
        out.append(s.moved([0.0, 0.0, LZ / 2]))
    return out


def separated(kinds: list[str], **kwargs) -> tuple[an.BuddingSummary, Separation]:
    fr = frames(kinds)
    traj = surfaces_trajectory(fr, PATCH)
    n = an.lipid_indices(traj.topology)[0].size
    s = an.budding_summary(traj, "+z", membranes=FACES, membrane=np.zeros(n, int), leaflet=sides_of(fr, n),
                           workers=1, **kwargs)
    return s, s.separation


def test_fission_leaves_the_parent_closed() -> None:
    s, sep = separated(["bud", "bud", "ilv", "ilv"])
    assert s.scission_frame == 2 and sep.event == "fission"
    assert sep.resealed and not sep.parent_open.any() and np.isnan(sep.leak_start) and sep.leak_duration == 0


def test_a_parent_left_with_a_pore_is_a_rupture() -> None:
    s, sep = separated(["bud", "bud", "ilv+pore8", "ilv+pore8"])
    assert s.scission_frame == 2 and sep.event == "rupture"
    assert sep.leak_start == 20.0 and np.isnan(sep.leak_end) and not sep.resealed
    assert sep.largest_pore == pytest.approx(8.0, abs=1.0) and sep.leak_duration == np.inf
    assert sep.parent_open.tolist() == [False, False, True, True]


@pytest.mark.parametrize("reseal, event", [(20.0, "fission"), (5.0, "rupture")])
def test_a_pore_that_reseals_in_time_is_fission_and_too_late_is_rupture(reseal: float, event: str) -> None:
    s, sep = separated(["bud", "bud", "ilv+pore4", "ilv", "ilv"], reseal=reseal)
    assert s.scission_frame == 2 and sep.event == event
    assert sep.leak_start == 20.0 and sep.leak_end == 30.0 and sep.leak_duration == 10.0 and sep.resealed


@pytest.mark.parametrize("later, event, reopened", [(1, "fission", 1), (3, "rupture", 3)])
def test_a_brief_opening_after_the_parent_sealed_keeps_the_fission_a_long_one_does_not(
        later: int, event: str, reopened: int) -> None:
    """Sealed at the separation, then open for one frame (10 tau < reseal) or three (30 tau) later."""
    s, sep = separated(["bud", "bud", "ilv", "ilv"] + ["ilv+pore4"] * later + ["ilv"])
    assert s.scission_frame == 2 and sep.event == event and sep.reopened == reopened and sep.resealed
    from exomembrane.run.reports.budding import budding_report, budding_scalars

    text = budding_report(budding_scalars(s, "+z"))
    assert ("open again in 1 brief frame(s)" in text) == (event == "fission"), text


@pytest.mark.parametrize("kinds, event", [(["plane", "pore6", "pore6"], "rupture"),
                                          (["plane", "pore6", "plane"], "transient pore"),
                                          (["plane", "plane"], "none")])
def test_without_a_vesicle(kinds: list[str], event: str) -> None:
    s, sep = separated(kinds)
    assert s.scission_frame == -1 and sep.event == event


def test_bad_reseal_is_refused() -> None:
    s, _ = separated(["plane"])
    with pytest.raises(ValueError, match="reseal"):
        an.separation(s.topology, np.zeros(1, int), -1, reseal=-1.0)
    with pytest.raises(ValueError, match="parent"):
        an.separation(s.topology, np.zeros(3, int), -1)


@pytest.mark.parametrize("kinds, says", [
    (["bud", "bud", "ilv+pore8", "ilv+pore8"], "RUPTURE, not fission: open from t = 20 tau to the end of the run"),
    (["bud", "bud", "ilv+pore4", "ilv", "ilv"], "fission: the neck's pore resealed (open from t = 20 tau to t = 30 tau"),
    (["bud", "bud", "ilv", "ilv"], "fission: sealed in every frame")])
def test_the_report_names_the_event(kinds: list[str], says: str) -> None:
    from exomembrane.run.reports.budding import budding_report, budding_scalars

    s, _ = separated(kinds)
    scalars = budding_scalars(s, "+z")
    assert scalars["scission_frame"] == 2 and scalars["ilv_side"] == "lumen"
    text = budding_report(scalars)
    assert "scission        at t = 20 tau" in text and f"parent membrane {says}" in text, text


def test_a_separated_cup_is_no_fission() -> None:
    """A vesicle that is still an open cup when the run ends: its leaflets see one space."""
    def last(opening: float) -> Separation:
        top = [*CENTRE, 16.0]
        fr = frames(["bud"]) + [(plane() + sphere(6.0, top, np.random.default_rng(1), opening=opening))
                                .moved([0.0, 0.0, LZ / 2])]
        traj = surfaces_trajectory(fr, PATCH)
        n = an.lipid_indices(traj.topology)[0].size
        topo = an.topology(traj, FACES, np.zeros(n, int), sides_of(fr, n), workers=1)
        parent = np.array([int(np.bincount(m[m >= 0]).argmax()) for m in topo.membranes])
        vesicle = (topo.membranes >= 0) & (topo.membranes != parent[:, None])
        return an.separation(topo, parent, 1, vesicle=vesicle)

    closed, cup = last(0.0), last(np.radians(50))
    assert closed.vesicle_closed and closed.event == "fission"
    assert not cup.vesicle_closed and cup.event == "rupture" and cup.resealed


@pytest.mark.parametrize("kinds, torn", [(["bud", "bud", "cup", "cup"], 20.0), (["bud", "cup", "cup", "bud"], None),
                                         (["bud", "bud", "ilv", "ilv"], None)])
def test_a_piece_torn_off_open_is_a_rupture(kinds: list[str], torn: float | None) -> None:
    """A bud that comes off as an open cup and stays apart: no closed vesicle, so no scission, yet
    not a quiet membrane either; one that joins the parent again, or closes, is no torn piece."""
    from exomembrane.run.reports.budding import budding_report, budding_scalars

    s, sep = separated(kinds)
    scalars = budding_scalars(s, "+z")
    assert scalars["torn_off_tau"] == torn
    if torn is not None:
        assert s.scission_frame == -1 and sep.event == "rupture" and sep.resealed
        assert "a piece of the bud TORE OFF at t = 20 tau" in budding_report(scalars)
    else:
        assert sep.event in ("none", "fission") and np.isnan(sep.detached)


@pytest.mark.parametrize("kinds, frame, reopened", [
    (["bud", "bud", "ilv", "cup", "ilv", "ilv"], 2, 1),  # open 10 tau (< reseal): still the scission at 20 tau
    (["bud", "bud", "ilv", "cup", "cup", "cup", "ilv", "ilv"], 6, 0),  # open 30 tau: closed for good only at 60
    (["bud", "bud", "ilv", "bud", "ilv", "ilv"], 4, 0)])  # joined the parent again: a new scission at 40
def test_a_brief_opening_of_the_ilv_keeps_its_scission(kinds: list[str], frame: int, reopened: int) -> None:
    """A small ILV crowded by its cargo opens now and then (transient pores): an opening shorter than
    reseal while it stays apart does not undo the scission (it is reported), a long one or a
    rejoining does."""
    from exomembrane.run.reports.budding import budding_report, budding_scalars

    s, sep = separated(kinds)
    assert s.scission_frame == frame and s.ilv_reopened == reopened and sep.event == "fission"
    text = budding_report(budding_scalars(s, "+z"))
    assert ("open in 1 brief frame(s) after the scission" in text) == (reopened == 1), text
    traj = surfaces_trajectory(frames(kinds), PATCH)
    strict = an.scission(traj, brief=0.0)
    assert strict.scission_frame == max(frame, len(kinds) - 2) and strict.reopened == 0
    with pytest.raises(ValueError, match="brief: must be >= 0"):
        an.scission(traj, brief=-1.0)
