"""Enrichment with a bootstrap interval over molecules, one run and pooled over runs (seeds)."""
import numpy as np
import pytest

from exomembrane.analysis import pooled_enrichment
from exomembrane.analysis.enrichment import enrichment


def one_run(n_in: int, n_out: int, n_lipids_in: int, n_lipids_out: int, n_frames: int = 10, kind: str = "lumen"):
    """A run whose ``n_in`` molecules sit in the part and ``n_out`` in the rest in every frame."""
    member = np.r_[np.ones(n_in, np.int8), np.zeros(n_out, np.int8)][:, None].repeat(n_frames, axis=1)
    n_l = n_lipids_in + n_lipids_out
    inside = np.zeros((n_frames, n_l), bool)
    inside[:, :n_lipids_in] = True
    return enrichment(member, inside, ~inside, np.ones(n_frames, bool), 2000, 0.95, 0, kind)


def test_one_run_gives_the_known_ratio_and_its_per_molecule_counts():
    e = one_run(4, 8, 100, 400)  # 4/100 against 8/400: 2.0
    assert e.ratio == pytest.approx(2.0)
    assert e.in_part.tolist() == [10] * 4 + [0] * 8 and e.in_rest.sum() == 80
    assert e.ci[0] < 2.0 < e.ci[1]


def test_pooling_runs_keeps_the_ratio_and_narrows_the_interval():
    runs = [one_run(4, 8, 100, 400) for _ in range(4)]
    p = pooled_enrichment(runs)
    assert p.ratio == pytest.approx(2.0)
    assert p.n_molecules == 48 and p.frames.size == 40
    assert p.ci[1] - p.ci[0] < 0.7 * (runs[0].ci[1] - runs[0].ci[0])
    assert pooled_enrichment(runs[:1]).ratio == pytest.approx(runs[0].ratio)
    assert pooled_enrichment(runs[:1]).ci == pytest.approx(runs[0].ci, rel=0.05)


def test_pooling_weighs_runs_by_their_molecule_and_lipid_frames():
    # run 1: 6 of 12 in a part of 100 of 500 lipids; run 2: 0 of 12 in a part of 100 of 500 lipids
    p = pooled_enrichment([one_run(6, 6, 100, 400), one_run(0, 12, 100, 400)])
    assert p.ratio == pytest.approx((6 / 18) / (200 / 800))
    # a run with nothing packed pulls the lower end below that of the good run alone
    assert p.ci[0] < one_run(6, 6, 100, 400).ci[0]


def test_pooling_refuses_no_runs_and_mixed_kinds():
    with pytest.raises(ValueError, match="runs: give at least one"):
        pooled_enrichment([])
    with pytest.raises(ValueError, match="runs: all must count molecules the same way"):
        pooled_enrichment([one_run(1, 2, 10, 10), one_run(1, 2, 10, 10, kind="membrane")])
