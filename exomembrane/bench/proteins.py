"""Protein benchmark (``exomembrane bench --proteins``): an MVB patch with a tenth of its beads in
proteins and cargo against the same patch lipid-only."""
from __future__ import annotations

from typing import Any

from exomembrane.bench.raw import CPU_SIZES, GPU_SIZES, Mode, on_gpu, rate
from exomembrane.engine.simulation import create_simulation
from exomembrane.model.forcefield import load_forcefield


def protein_cost(platform: str, size: float, seconds: float, precision: str = "mixed",
                 fraction: float = 0.1) -> dict[str, Any]:
    """Steps/s of an MVB patch of lateral ``size`` sigma without and with ``fraction`` of its beads in
    proteins and cargo (tetraspanin cones, transmembrane cargo, RNA; every pair-table entry among
    them active), same engine, same settings, each timed over about ``seconds`` of wall time.

    Returns
    -------
    dict
        ``platform``, ``precision``, ``lipid_beads`` (lipid-only patch), ``beads`` (with proteins),
        ``protein_fraction`` (of the beads), ``lipid_steps_per_s``, ``protein_steps_per_s`` (1/s)
        and ``ratio`` (with/without proteins).
    """
    from exomembrane.builders import Placement, mvb_patch

    ff = load_forcefield()
    plain = mvb_patch(ff, size)
    per = {n: len(ff.get(n).beads) for n in ("TSPN", "CARG", "RNA")}
    # beads in proteins: cones 60 %, cargo 30 %, RNA 10 % (of fraction x the patch's beads)
    n = {k: max(1, round(w * fraction * plain.n_beads / per[k])) for k, w in (("TSPN", 0.6), ("CARG", 0.3),
                                                                               ("RNA", 0.1))}
    mixed = mvb_patch(ff, size, proteins=[Placement(species="TSPN", count=n["TSPN"]),
                                          Placement(species="CARG", count=n["CARG"]),
                                          Placement(species="RNA", count=n["RNA"], where="cytosol")])
    rates = []
    for s in (plain, mixed):
        sim = create_simulation(s, platform=platform, precision=precision, seed=1)
        rates.append(rate(sim.step, sim.context, seconds))
    protein_beads = int((~mixed.is_lipid()[mixed.bead_molecule()]).sum())
    return {"platform": platform, "precision": precision, "lipid_beads": plain.n_beads, "beads": mixed.n_beads,
            "protein_fraction": protein_beads / mixed.n_beads, "lipid_steps_per_s": rates[0],
            "protein_steps_per_s": rates[1], "ratio": rates[1] / rates[0]}


HEADER = (f"{'platform':<10}{'beads':>10}{'protein beads':>15}{'lipid-only steps/s':>20}{'with proteins':>15}"
          f"{'ratio':>7}")


def line(r: dict[str, Any]) -> str:
    """The table line of one :func:`protein_cost` row."""
    return (f"{r['platform']:<10}{r['beads']:>10}{r['protein_fraction']:>15.1%}{r['lipid_steps_per_s']:>20.1f}"
            f"{r['protein_steps_per_s']:>15.1f}{r['ratio']:>7.2f}")


def rows(platform: str, size: float, seconds: float, precision: str) -> list[dict[str, Any]]:
    """The one :func:`protein_cost` row of ``platform`` and ``size`` (sigma)."""
    return [protein_cost(platform, size, seconds, precision)]


def sizes(platform: str | None) -> tuple[float, ...]:
    """The two smallest GPU sizes on CUDA and OpenCL, the smallest CPU size elsewhere (sigma)."""
    return GPU_SIZES[:2] if on_gpu(platform) else CPU_SIZES[:1]


MODE = Mode(name="proteins", help="measure an MVB patch with 10%% of its beads in proteins against the lipid-only "
                                  "patch", rows=rows, sizes=sizes, header=HEADER, line=line)
