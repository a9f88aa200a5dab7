"""Long validation runs (`make validate`): what the CI tests cannot afford.

Writes ``tests/validation.json`` (every number) and ``tests/validation.md`` (the table the README
quotes), each entry with the machine, platform, wall time and the command that reproduces it.

    python tests/validation.py                 # everything (about 5 hours on two CPU cores; minutes on a GPU)
    python tests/validation.py --only flipflop # one part: flipflop, scission, cones, batch, kernels, fusion, pathways,
                                               # escrt, uptake, engulfment
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np

from exomembrane import ConfigError
from exomembrane import analysis as an
from exomembrane.engine.platform import cpu_model
from exomembrane.run import Run, load_trajectory
from exomembrane.run.report import RunData, analyze, load
from exomembrane.run.reports.budding import budding_of
from exomembrane.run.reports.escrt import escrt as escrt_part
from exomembrane.scenario import Scenario, load_scenario

HERE = Path(__file__).resolve().parent
SYSTEMS = HERE.parent / "systems"


def _machine() -> str:
    return f"{cpu_model()} ({platform.machine()}, {os.cpu_count()} cores)"


#: Where the fusion runs are kept: a later ``make validate`` analyses a finished run again (with the
#: analysis as it is then) instead of running it again, and resumes the pathway sweep.
KEPT = HERE.parent / "runs" / "validation"


def _kept_run(scenario: Scenario, label: str) -> tuple[dict, Path]:
    """Run ``scenario`` to its end in ``runs/validation/<label>``, or reuse the run there if it ran this
    very scenario to its end (its record ``validation_run.json`` holds the scenario and the timing)."""
    d = KEPT / label
    record = d / "validation_run.json"
    same = scenario.model_dump(mode="json")
    if record.is_file():
        info = json.loads(record.read_text())
        if info.pop("scenario", None) == same:
            return info, d
    d.parent.mkdir(parents=True, exist_ok=True)
    info = _run(scenario, d, overwrite=True)
    record.write_text(json.dumps({**info, "scenario": same}, indent=1) + "\n")
    return info, d


def _run(scenario: Scenario, directory: Path, steps: int | None = None, overwrite: bool = False) -> dict:
    t0 = time.perf_counter()
    with Run.create(scenario, directory, overwrite=overwrite) as run:
        run.advance(run.remaining if steps is None else steps)
        plat, beads = run.simulation.platform_choice.name, run.simulation.system.getNumParticles()
        done = run.step
    wall = time.perf_counter() - t0
    return {"platform": plat, "beads": beads, "steps": done, "wall_s": round(wall, 1),
            "steps_per_s": round(done / wall, 1), "tau": done * scenario.run.dt}


def flipflop(tmp: Path) -> dict:
    """Flip-flops per lipid per 1,000 tau of the 3-bead Cooke lipid and the 4-bead LIP4, tension-free
    flat bilayers (12 sigma, kT 1.1, w_c 1.6, friction 1/tau), 300 tau each."""
    out = {}
    for species in ("LIP", "LIP4"):
        sc = load_scenario(SYSTEMS / "flat_bilayer.yaml", {
            "builder.size": 12.0, "builder.upper": species, "builder.lower": species, "run.seed": 3,
            "run.steps": 30_000, "run.report.trajectory": 500, "run.report.thermo": 1000,
            "run.report.checkpoint": 15_000})
        info = _run(sc, tmp / f"flip_{species}")
        f = an.flip_flops(load_trajectory(tmp / f"flip_{species}"))
        out[species] = {**info, "flips": f["total"], "per_lipid_per_1000tau": round(f["per_lipid_per_1000tau"], 4),
                        "fraction_flipped": round(f["fraction_flipped"], 4)}
        print(species, out[species], flush=True)
    return out


def _budding_row(run: RunData, info: dict, enrichments: dict | None = None) -> dict:
    """The budding summary of a loaded run as one table row (times in tau, lengths in sigma), the
    one ``exomembrane analyze`` reports (its placed molecules as cargo: membrane cargo on the
    membrane, soluble cargo in the lumen) and kept in ``run.shared`` for the run's other reports;
    its enrichments are also put in ``enrichments`` (species -> Enrichment) if given."""
    traj, b = run.traj, budding_of(run)
    k, sep = b.scission_frame, b.separation
    if enrichments is not None:
        enrichments.update(b.enrichment)
    neck = b.neck_radius[:k] if k > 0 else b.neck_radius
    last = neck[np.isfinite(neck)][-3:]  # the last three frames with a neck before separation
    return {**info, "bud_height_max": round(float(np.nanmax(b.bud_height)), 2),
            "neck_radius_min": round(float(np.nanmin(neck)), 2) if np.isfinite(neck).any() else None,
            "neck_radius_before": round(float(np.mean(last)), 2) if last.size else None,
            "scission_time_tau": None if k < 0 else float(b.scission_time),
            "ilv_side": b.ilv_side,
            "ilv_diameter": None if k < 0 else round(float(np.nanmean(b.ilv_diameter[k:])), 2),
            "event": sep.event, "torn_off_tau": None if np.isnan(sep.detached) else sep.detached,
            "leak_start_tau": None if np.isnan(sep.leak_start) else sep.leak_start,
            "leak_end_tau": None if np.isnan(sep.leak_end) else sep.leak_end,
            "leak_frames": int(sep.parent_open.sum()), "reopened_frames": sep.reopened,
            "frame_tau": float(traj.time[1] - traj.time[0]),
            "largest_pore": round(sep.largest_pore, 2), "parent_resealed": sep.resealed,
            "vesicle_closed": sep.vesicle_closed if k >= 0 else None, "ilv_reopened_frames": b.ilv_reopened,
            "enrichment": {n: {"ratio": round(float(e.ratio), 2), "ci": [round(float(c), 2) for c in e.ci],
                               "molecules": e.n_molecules, "in_ilv_final": int(e.n_bud[-1]),
                               **({"leaked": b.leaked[n]} if n in b.leaked else {})}
                           for n, e in b.enrichment.items()}}


def scission(tmp: Path, seeds: tuple[int, ...] = (1, 2, 3, 4), control_seeds: tuple[int, ...] = (1, 2),
             adaptor_seeds: tuple[int, ...] = (1, 2, 3, 4)) -> dict:
    """The small ceramide-platform scenario (``systems/ilv_ceramide_small.yaml``, 400 tau) over
    ``seeds``: fission time, the neck before it, the parent's leak and largest pore, the ILV and
    its cargo; its negative controls: the RNA affinities off (over ``control_seeds``), RNA bound by
    the cargo adaptor alone (affinity_rna_platform 0, over ``adaptor_seeds``), no line tension
    (eps_T_TC 1.0, seed 1), and the boundary-tearing driver (eps_T_TC down to 0.1 over 30-100 tau,
    slow barostat, seed 1); and the cargo enrichments pooled over the runs of each design that
    split by fission (``pooled``: molecules resampled within each run)."""
    off = {"forcefield.params.affinity_rna_cargo": 0.0, "forcefield.params.affinity_rna_platform": 0.0}
    adaptor = "control: RNA by the cargo adaptor alone (affinity_rna_platform 0)"
    runs = {f"seed {seed}": (f"seed{seed}", {"run.seed": seed}) for seed in seeds}
    runs |= {f"control: RNA affinities 0, seed {seed}": (f"rna_off{seed}", {"run.seed": seed, **off})
             for seed in control_seeds}
    runs |= {f"{adaptor}, seed {seed}": (f"adaptor{seed}", {"run.seed": seed,
                                                           "forcefield.params.affinity_rna_platform": 0.0})
             for seed in adaptor_seeds}
    runs["control: no line tension (eps_T_TC 1.0), seed 1"] = ("no_line", {"run.seed": 1,
                                                                          "forcefield.params.eps_T_TC": 1.0})
    runs["control: boundary torn (eps_T_TC to 0.1), seed 1"] = ("torn", {
        "run.seed": 1, "run.barostat_interval": 100, "protocol.eps_T_TC": [[0, 0.7], [30, 0.7], [100, 0.1]]})
    out: dict = {}
    split: dict[str, dict[str, list]] = {"seeds": {}, "control: RNA affinities 0": {}, adaptor: {}}
    for label, (name, overrides) in runs.items():
        info, d = _kept_run(load_scenario(SYSTEMS / "ilv_ceramide_small.yaml", overrides), f"ilv_ceramide_{name}")
        enrichments: dict = {}
        out[label] = _budding_row(load(d), info, enrichments)
        group = "seeds" if label.startswith("seed") else label.rsplit(",", 1)[0]
        if group in split and out[label]["event"] == "fission":
            for species, e in enrichments.items():
                split[group].setdefault(species, []).append(e)
        print(label, out[label], flush=True)
    out["pooled"] = {group: {species: {"ratio": round(p.ratio, 2), "ci": [round(c, 2) for c in p.ci],
                                       "runs": len(es), "molecules": p.n_molecules}
                             for species, es in by.items() for p in [an.pooled_enrichment(es)]}
                     for group, by in split.items()}
    print("pooled", out["pooled"], flush=True)
    return out


def cones(tmp: Path) -> dict:
    """The small tetraspanin-cone scenario and its opposite-sign control: bud heights and direction."""
    out = {}
    for label, overrides in (("cones up to the lumen", {}), ("cones up to the cytosol",
                                                              {"builder.proteins.0.up": "cytosol"})):
        sc = load_scenario(SYSTEMS / "ilv_cones_small.yaml", {"run.seed": 5, "run.steps": 6_000, **overrides})
        d = tmp / label.replace(" ", "_")
        info = _run(sc, d)
        b = an.budding_summary(load_trajectory(d), "+z", {"CARG": "membrane"})
        out[label] = {**info, "lumen_height_last": round(float(b.lumen_height[-1]), 2),
                      "cytosol_height_last": round(float(b.cytosol_height[-1]), 2),
                      "direction_last": int(b.direction[-1]),
                      "scission_time_tau": None if b.scission_frame < 0 else float(b.scission_time),
                      "enrichment_CARG": round(float(b.enrichment["CARG"].ratio), 2)}
        print(label, out[label], flush=True)
    return out


def fusion(tmp: Path, seed: int = 1, control_steps: int = 10_000) -> dict:
    """The small MVB-PM fusion scenario as shipped (400 tau: fusion, pore widening, ILV release) and
    its negative controls: no tethers and no tension (``control_steps``: the MVB must not fuse) and
    an ILV of lipids miscible with the MVB's (eps_T_TC = 1: the release claim must fail); and the
    adhesion field alone (no tethers, no tension, gap 1.5 sigma: adhesion 0 and 1 eps); each
    analysed by ``exomembrane analyze``. The runs are kept in ``runs/validation`` (see :data:`KEPT`).
    The release run's picture of the release cut open is copied to ``notebooks/mvb_fusion_release.png``."""
    import shutil

    def one(label: str, overrides: dict) -> dict:
        info, d = _kept_run(load_scenario(SYSTEMS / "mvb_fusion_small.yaml", overrides), label)
        f = analyze(d)["fusion"]
        row = {**info, "first_tau": f["first_tau"], "final_stage": f["final_stage"],
               "pore_radius_max": round(f["pore_radius_max_sigma"], 1), "released_final": f["release"]["released_final"],
               "release_tau": f["release"]["first_tau"], "ilvs_closed_final": f["release"]["closed_final"],
               "cargo_built": f["release"]["cargo_built"], "cargo_released": f["release"]["cargo_released"],
               "leak_frames": f["leaks"]["frames"], "leaks": {k: v for k, v in f["leaks"]["joined"].items() if v},
               "mixing_proximal_final": round(f["mixing_proximal_final"], 2),
               "contact_area_max": round(f["contact_area_max_sigma2"], 1)}
        print(label, row, flush=True)
        return row

    out = {f"release run (seed {seed})": one("fusion_release", {"run.seed": seed})}
    picture = KEPT / "fusion_release" / "analysis" / "release.png"
    if picture.is_file():
        shutil.copy(picture, HERE.parent / "notebooks" / "mvb_fusion_release.png")
    out["control: no tethers, no tension"] = one("fusion_control", {
        "run.seed": seed, "run.steps": control_steps, "builder.tethers": None, "run.tension": 0.0, "protocol": {}})
    out["control: ILV lipids miscible (eps_T_TC 1)"] = one("fusion_miscible", {
        "run.seed": seed, "forcefield.params.eps_T_TC": 1.0})
    # adhesion between the contacting leaflets alone (no tethers, no tension, membranes 1.5 sigma apart)
    for depth in (0.0, 1.0):
        out[f"adhesion {depth:g}, no tethers, no tension, gap 1.5"] = one(f"fusion_adhesion_{depth:g}", {
            "run.seed": seed, "run.steps": control_steps, "builder.tethers": None, "run.tension": 0.0, "protocol": {},
            "builder.gap": 1.5, "forcefield.params.adhesion": depth})
    return out


def escrt(tmp: Path, seeds: tuple[int, ...] = (1, 2, 3)) -> dict:
    """The ESCRT-III route on the small patch (``systems/ilv_escrt_small.yaml``) for 400 tau: the
    flat-to-helix protocol, then disassembly from the tip between 200 and 300 tau, over ``seeds``;
    and the flat filament (no protocol) as the negative control. Kept in ``runs/validation``;
    each analysed by ``exomembrane analyze`` (stage timeline, filament shape, the parent's leak)."""
    def one(label: str, overrides: dict) -> dict:
        info, d = _kept_run(load_scenario(SYSTEMS / "ilv_escrt_small.yaml", {"run.steps": 40_000, **overrides}), label)
        summary = analyze(d)
        e, b = summary["escrt"], summary["budding"]
        row = {**info, "stages": e["stages"], "stage_final": e["stage_final"],
               "lumen_height_max": round(e["lumen_height_max_sigma"], 1),
               "neck_radius_min": None if b["neck_radius_min_sigma"] is None else round(b["neck_radius_min_sigma"], 1),
               "radius": None if e["radius_sigma"] is None else round(e["radius_sigma"], 1),
               "tilt": None if e["tilt_deg"] is None else round(e["tilt_deg"]), "bound": e["bound"],
               "assembled": e["assembled"],
               "subunits": e["subunits"], "event": b["event"], "largest_pore": b["largest_pore_sigma"]}
        print(label, row, flush=True)
        return row

    out = {f"helix + disassembly, seed {seed}": one(f"escrt_{seed}", {
        "run.seed": seed, "protocol.disassembly": [[200, 0.0], [300, 1.0]]}) for seed in seeds}
    out["control: flat filament, seed 1"] = one("escrt_flat", {"run.seed": 1, "protocol": {}})
    return out


def escrt_raft(tmp: Path, seeds: tuple[int, ...] = (1, 2, 3), scenario: str = "ilv_escrt_raft",
               rna: bool = False) -> dict:
    """The ESCRT-III route on a sphingolipid domain (``systems/<scenario>.yaml``) over ``seeds``: the
    stage timeline, fission time, the neck before it, the parent's leak and largest pore, the ILV and
    the cargo its scenario places (enrichments, molecules in the ILV, lumen cargo leaked into the
    MVB lumen, as ``exomembrane analyze`` counts them); its negative controls (seed 1): the domain
    without the filament, the filament kept flat (no protocol) and, with ``rna``, the RNA's affinity
    for the domain off (and a column: frames with the whole granule on the domain's heads); and the
    enrichments pooled over the seeds that split by fission."""
    name = scenario.removeprefix("ilv_")
    runs = {f"seed {seed}": (f"{name}_{seed}", {"run.seed": seed}) for seed in seeds}
    if rna:
        runs["control: RNA affinity 0, seed 1"] = (f"{name}_rna_off", {
            "run.seed": 1, "forcefield.params.affinity_rna_platform": 0.0})
    runs["control: no filament, seed 1"] = (f"{name}_nofilament", {"run.seed": 1, "builder.filaments": [],
                                                                   "protocol": {}})
    runs["control: flat filament, seed 1"] = (f"{name}_flat", {"run.seed": 1, "protocol": {}})
    out: dict = {}
    split: dict[str, list] = {}
    for label, (directory, overrides) in runs.items():
        info, d = _kept_run(load_scenario(SYSTEMS / f"{scenario}.yaml", overrides), directory)
        enrichments: dict = {}
        run = load(d)
        row = _budding_row(run, info, enrichments)
        e = escrt_part(run).summary.get("escrt")  # None without filaments
        row["stages"] = None if e is None else e["stages"]
        row["bound"] = None if e is None else f"{e['assembled']} / {e['bound']} of {e['subunits']}"
        if rna:  # the granule on the domain's ceramide heads: frames from 10 tau with every chain on
            traj = run.traj
            on = an.adsorbed(traj, "RNA", "CER")[traj.time >= 10.0 - 1e-6]
            row["rna_on_domain"] = f"{int(on.all(axis=1).sum())} of {len(on)}"
        if label.startswith("seed") and row["event"] == "fission":
            for species, en in enrichments.items():
                split.setdefault(species, []).append(en)
        out[label] = row
        print(label, row, flush=True)
    if split:
        out["pooled"] = {species: {"ratio": round(p.ratio, 2), "ci": [round(c, 2) for c in p.ci], "runs": len(es),
                                   "molecules": p.n_molecules}
                         for species, es in split.items() for p in [an.pooled_enrichment(es)]}
        print("pooled", out["pooled"], flush=True)
    return out


def escrt_raft_cargo(tmp: Path) -> dict:
    """:func:`escrt_raft` on ``systems/ilv_escrt_raft_cargo.yaml``: the GPI-anchored cargo in the domain
    and the RNA granule docked in the spiral's centre."""
    return escrt_raft(tmp, scenario="ilv_escrt_raft_cargo", rna=True)


#: Bending rigidity of the Cooke bilayer at kT 1.1, w_c 1.6 (kT), measured from its undulation spectrum
#: (README, physics validation: 12.0 +- 0.7 kT over 2000 tau). The platform's lipids share it: their
#: tails (TC) attract each other as the plain tails do (eps_TC_TC = 1).
KAPPA_KT = 12.0


def line_tension(tmp: Path, values: tuple[float, ...] = (0.7, 0.5)) -> dict:
    """Line tension of the ceramide platform's boundary against ``eps_T_TC``: a registered stripe
    domain (SM-type tails in both leaflets, plain heads, half-width 8 sigma) across a 40 sigma
    tension-free patch, 400 tau, capillary spectrum of its two boundaries over the last 300 tau
    (:func:`exomembrane.analysis.line_tension`); with it kappa / lambda and the platform radius of the
    ILV scenario in units of it (Lipowsky 1993: a domain buds once its radius exceeds a few kappa / lambda)."""
    out = {}
    stripe = [{"leaflet": leaf, "radius": 8.0, "shape": "stripe", "composition": "SM"}
              for leaf in ("cytosolic", "luminal")]
    domain = load_scenario(SYSTEMS / "ilv_ceramide_small.yaml").builder.domains[0].radius
    for eps in values:
        sc = load_scenario(SYSTEMS / "ilv_ceramide_small.yaml", {
            "builder.size": 40.0, "builder.domains": stripe, "builder.proteins": [], "protocol": {},
            "run.seed": 1, "run.steps": 40_000, "run.report.trajectory": 100, "forcefield.params.eps_T_TC": eps})
        d = tmp / f"line_{eps}"
        info = _run(sc, d)
        kT = sc.run.kT
        lt = an.line_tension(load_trajectory(d)[100:], "SM", kT=kT)
        xi = KAPPA_KT * kT / lt.value
        out[f"eps_T_TC {eps}"] = {**info, "line_tension": round(lt.value, 2), "error": round(lt.error, 2),
                                  "stripe_width": round(lt.width, 1), "kappa_over_lambda": round(xi, 2),
                                  "scenario_domain_radius": domain, "radius_over_xi": round(domain / xi, 1),
                                  "frames": lt.frames}
        print(eps, out[f"eps_T_TC {eps}"], flush=True)
    return out


#: Where the pathway sweep runs (kept, so that an interrupted ``make validate`` resumes it).
PATHWAYS = KEPT / "fusion_pathways"


def pathways(tmp: Path) -> dict:
    """Fusion pathway statistics: ``systems/sweeps/fusion_pathways.yaml`` (8 seeds x 3 PM tensions)
    run into ``runs/validation/fusion_pathways`` (resumed where an earlier run stopped): per tension,
    the fraction of runs that reached each stage and the median time each was first reached. The
    sweep's plots are copied to ``tests/validation_pathways.png`` (stage fractions against tension)."""
    import pandas as pd

    from exomembrane.scenario import load_scenario
    from exomembrane.sweep import SWEEP, load_sweep, run_sweep

    t0 = time.perf_counter()
    PATHWAYS.parent.mkdir(parents=True, exist_ok=True)
    sweep = load_sweep(SYSTEMS / "sweeps" / "fusion_pathways.yaml")
    run = load_scenario(sweep.scenario, sweep.fixed).run
    if (PATHWAYS / SWEEP).is_file():  # carried on to the file's run.steps where the file grew longer
        run_sweep(None, PATHWAYS, resume=True, steps=run.steps)
    else:
        run_sweep(sweep, PATHWAYS)
    stats = pd.read_csv(PATHWAYS / "statistics.csv")
    rows = pd.read_csv(PATHWAYS / "results.csv")
    leaked = (rows["fusion.leaks.frames"] > 0).groupby(rows["run.tension"]).sum()
    tau = run.steps * run.dt
    _pathway_plot(stats, HERE / "validation_pathways.png", tau)
    out: dict = {"wall_s": round(time.perf_counter() - t0, 1), "directory": str(PATHWAYS.relative_to(HERE.parent)),
                 "tau": round(tau, 1)}
    for _, row in stats.iterrows():
        key = f"tension {row['run.tension']:g}"
        out[key] = {"runs": int(row["runs"]), "leaked": int(leaked.get(row["run.tension"], 0))}
        for name in ("docked", "stalk", "pore", "release"):
            out[key][f"reached.{name}"] = _num(row.get(f"fusion.reached.{name}.mean"))
        out[key]["seen.hemifusion"] = _num(row.get("fusion.seen.hemifusion.mean"))
        for name in ("docked", "stalk", "hemifusion", "pore"):
            out[key][f"median_tau.{name}"] = _num(row.get(f"fusion.first_tau.{name}.median"))
        out[key]["median_tau.release"] = _num(row.get("fusion.release.first_tau.median"))
    return out


def _num(v) -> float | None:
    return None if v is None or not np.isfinite(v) else round(float(v), 2)


def _pathway_plot(stats, path: Path, tau: float) -> None:
    """Fraction of runs reaching each stage (with its binomial standard error) against PM tension."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    x = stats["run.tension"].to_numpy(float)
    for name, column in [("docked", "fusion.reached.docked"), ("stalk", "fusion.reached.stalk"),
                         ("hemifusion seen", "fusion.seen.hemifusion"), ("pore", "fusion.reached.pore"),
                         ("ILV released", "fusion.reached.release")]:
        if f"{column}.mean" in stats:
            p, n = stats[f"{column}.mean"].to_numpy(float), stats["runs"].to_numpy(float)
            ax.errorbar(x, p, yerr=np.sqrt(p * (1 - p) / np.maximum(n, 1)), marker="o", capsize=3, label=name)
    ax.set_xlabel("PM tension (eps/sigma^2)")
    ax.set_ylabel("fraction of runs")
    ax.set_ylim(-0.05, 1.05)
    ax.set_title(f"mvb_fusion_small: stages reached in {tau:.0f} tau")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


#: Where the uptake sweep runs (kept, so that an interrupted ``make validate`` resumes it).
UPTAKE = KEPT / "uptake_wrapping"
#: The sweep's keys, as results.csv names them.
DENSITY, AFFINITY, RIGID = "builder.ligands.density", "forcefield.params.affinity_lipid_receptor", "builder.rigid"
OUTCOMES = ("bound", "wrapped", "engulfed", "merged", "torn")


def uptake(tmp: Path) -> dict:
    """Exosome wrapping against ligand density, affinity and softness: ``systems/sweeps/uptake_wrapping.yaml``
    run into ``runs/validation/uptake_wrapping`` (resumed where an earlier run stopped): per point,
    the final wrapped fraction (mean and standard error over seeds) and the fraction of runs ending in
    each outcome. The plot goes to ``tests/validation_uptake.png``."""
    import pandas as pd

    from exomembrane.sweep import SWEEP, load_sweep, run_sweep

    into = UPTAKE
    into.parent.mkdir(parents=True, exist_ok=True)
    sweep = load_sweep(SYSTEMS / "sweeps" / "uptake_wrapping.yaml")
    run = load_scenario(sweep.scenario, sweep.fixed).run
    if (into / SWEEP).is_file():
        run_sweep(None, into, resume=True, steps=run.steps)
    else:
        run_sweep(sweep, into)
    rows = pd.read_csv(into / "results.csv")
    rows = rows[rows["status"] == "ok"]
    tau = run.steps * run.dt
    # wall time from the first run's start to the last result, over every session that ran part of it
    started = min(datetime.fromisoformat(json.loads(m.read_text())["created"]).timestamp()
                  for m in into.glob("p*/seed-*/manifest.json"))
    finished = max(r.stat().st_mtime for r in into.glob("p*/seed-*/result.json"))
    out: dict = {"wall_s": round(finished - started, 1),
                 "directory": str(into.relative_to(HERE.parent)), "tau": round(tau, 1), "points": []}
    for (density, affinity, rigid), g in rows.groupby([DENSITY, AFFINITY, RIGID]):
        w = g["uptake.wrapped_fraction_final"].to_numpy(float)
        rigid = bool(rigid) if isinstance(rigid, (bool, np.bool_)) else str(rigid).lower() == "true"
        point = {"density": float(density), "affinity": float(affinity), "rigid": rigid, "runs": len(g),
                 "wrapped": round(float(w.mean()), 3),
                 "wrapped_se": round(float(w.std(ddof=1) / np.sqrt(len(w))), 3) if len(w) > 1 else None}
        point.update({f"ends.{k}": round(float(g[f"uptake.ends.{k}"].mean()), 2)
                      for k in OUTCOMES if f"uptake.ends.{k}" in g})
        first = pd.to_numeric(g["uptake.first_tau.wrapped"], errors="coerce").dropna()
        point.update({"reached_wrapped": round(float(g["uptake.reached.wrapped"].mean()), 2),
                      "first_wrapped_tau": round(float(first.median()), 1) if len(first) else None})
        out["points"].append(point)
    _uptake_plot(out["points"], HERE / "validation_uptake.png", tau)
    return out


def engulfment(tmp: Path, seeds: tuple[int, ...] = (1,)) -> dict:
    """Raft-mediated endocytosis (``systems/exosome_uptake_raft.yaml``, its 2000 tau) over ``seeds``,
    and the same without ligands (the negative control) for half as long; kept in
    ``runs/validation``, each read by ``exomembrane analyze``: the outcome with its time, when each
    stage was first reached, the wrapped fraction, bonds, and whether the target was ever holed."""
    def one(label: str, overrides: dict) -> dict:
        info, d = _kept_run(load_scenario(SYSTEMS / "exosome_uptake_raft.yaml", overrides), label)
        u = analyze(d)["uptake"]
        row = {**info, "outcome": u["outcome"], "outcome_tau": u["outcome_tau"], "first_tau": u["first_tau"],
               "wrapped_max": round(u["wrapped_fraction_max"], 2), "wrapped_final": round(u["wrapped_fraction_final"], 2),
               "bonds_final": u["bound_pairs_final"], "torn_frames": u["torn_frames"],
               "holed_frames": u["target_holed_frames"], "holed_first_tau": u["target_holed_first_tau"]}
        print(label, row, flush=True)
        return row

    steps = load_scenario(SYSTEMS / "exosome_uptake_raft.yaml").run.steps
    out = {f"raft, seed {seed}": one(f"engulfment_{seed}", {"run.seed": seed}) for seed in seeds}
    out["control: no ligands, seed 1"] = one("engulfment_control", {"run.seed": 1, "run.steps": steps // 2,
                                                                     "builder.ligands": None})
    return out


def life_cycle(tmp: Path) -> dict:
    """The whole life cycle chained (:func:`exomembrane.run.life_cycle.life_cycle`, the shipped acts)
    in ``runs/validation/life_cycle``, finished acts kept: per act its event and its cargo (in the
    run, carried on; for the uptake act where it ended)."""
    from exomembrane.run.life_cycle import LIFE_CYCLE, cargo_through
    from exomembrane.run.life_cycle import life_cycle as chain

    stopped = None
    try:
        acts = chain(KEPT / "life_cycle")
    except ConfigError as e:  # an act refused the run before it: the chain stops there, and says why
        stopped = str(e)
        acts = [KEPT / "life_cycle" / a.name for a in LIFE_CYCLE if (KEPT / "life_cycle" / a.name / "manifest.json").is_file()]
    rows = json.loads(cargo_through(acts).to_json(orient="records"))
    # MD wall time: every segment of every act, whichever session ran it (not the re-analysis of kept acts)
    segments = [seg for a in acts for seg in json.loads((Path(a) / "manifest.json").read_text())["segments"]]
    wall = sum(datetime.fromisoformat(g["ended"]).timestamp() - datetime.fromisoformat(g["started"]).timestamp()
               for g in segments if g.get("ended"))
    return {"wall_s": round(wall, 1), "directory": str((KEPT / "life_cycle").relative_to(HERE.parent)), "rows": rows,
            "stopped": stopped}


def _uptake_plot(points: list[dict], path: Path, tau: float) -> None:
    """Final wrapped fraction (mean +- s.e. over seeds) against ligand density, a line per affinity and
    softness; torn runs marked."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.5, 4))
    ax = fig.subplots()
    for (affinity, rigid) in sorted({(p["affinity"], p["rigid"]) for p in points}):
        line = sorted((p for p in points if p["affinity"] == affinity and p["rigid"] == rigid), key=lambda p: p["density"])
        x = [p["density"] for p in line]
        ax.errorbar(x, [p["wrapped"] for p in line], yerr=[p["wrapped_se"] or 0.0 for p in line], marker="s" if rigid
                    else "o", linestyle="--" if rigid else "-", capsize=3,
                    label=f"affinity {affinity:g} eps, {'rigid' if rigid else 'soft'}")
        torn = [p for p in line if p.get("ends.torn", 0) > 0]
        ax.scatter([p["density"] for p in torn], [p["wrapped"] for p in torn], marker="x", color="k", zorder=3)
    ax.axhline(0.9, color="0.6", lw=0.8)
    ax.set_xlabel("ligand density (per sigma^2 of the outer leaflet)")
    ax.set_ylabel(f"wrapped fraction at {tau:.0f} tau")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("uptake_wrapping sweep (x: some runs torn; grey line: wrapped)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


ENSEMBLE = {"lipid order S": "lipid_order_S.mean", "D (sigma^2/tau)": "diffusion_sigma2_per_tau.value",
            "kinetic kT": "thermo_second_half_mean.kT", "pair energy per bead": "thermo_second_half_mean.pair"}


def _same_ensemble(tmp: Path, part: str, legs: dict[str, dict], seeds: int) -> dict:
    """One fixed-area 16 sigma bilayer, 200 tau, ``seeds`` seeds, swept on a local Dask cluster once
    per leg (label -> sweep keys such as ``batch`` and ``set``). Observables per run, mean and
    standard error over seeds per leg, the first two legs' difference in standard errors, wall time."""
    from exomembrane.sweep import Sweep, run_sweep

    out: dict = {}
    for k, (label, leg) in enumerate(legs.items()):
        spec = Sweep.model_validate({
            "name": f"{part}{k}", "scenario": str(SYSTEMS / "flat_bilayer.yaml"), "seeds": seeds,
            "batch": leg.get("batch", 1),
            "set": {"builder.size": 16.0, "run.tension": None, "run.steps": 20_000, "run.report.trajectory": 500,
                    "run.report.thermo": 100, "run.report.checkpoint": 10_000, "run.platform": "CPU",
                    **leg.get("set", {})},
            "cluster": {"kind": "local", "workers": 1}})
        t0 = time.perf_counter()
        table = run_sweep(spec, tmp / f"{part}{k}", progress=False)
        wall = time.perf_counter() - t0
        table["thermo_second_half_mean.pair"] = table["thermo_second_half_mean.pair"] / table["n_beads"]
        out[label] = {"wall_s": round(wall, 1), "runs_ok": int((table["status"] == "ok").sum()),
                      "beads": int(table["n_beads"].iloc[0]),
                      **{name: [float(table[col].mean()), float(table[col].std(ddof=1) / np.sqrt(len(table)))]
                         for name, col in ENSEMBLE.items()}}
        print(label, out[label], flush=True)
    one, many = list(out.values())[:2]
    out["z"] = {name: round(abs(one[name][0] - many[name][0]) / float(np.hypot(one[name][1], many[name][1])), 2)
                for name in ENSEMBLE}
    return out


def batch(tmp: Path, seeds: int = 6) -> dict:
    """One run per task against all seeds as one replica batch (:mod:`exomembrane.run.batch`)."""
    return _same_ensemble(tmp, "batch", {"one run per task": {}, f"{seeds} replicas per Context": {"batch": seeds}},
                          seeds)


def kernels(tmp: Path, seeds: int = 4) -> dict:
    """The native CPU kernel against the native GPU kernel, run on OpenCL (a GPU, or PoCL on the CPU)."""
    from exomembrane.engine import native

    why = native.load("OpenCL")
    if why is not None:
        raise SystemExit(f"validation kernels: no native OpenCL kernel here ({why})")
    return _same_ensemble(tmp, "kernels", {"CPU, native CPU kernel": {},
                                "OpenCL, native GPU kernel": {"set": {"run.platform": "OpenCL"}}}, seeds)


PARTS = {"flipflop": flipflop, "scission": scission, "cones": cones, "batch": batch, "kernels": kernels,
         "fusion": fusion, "pathways": pathways, "escrt": escrt, "escrt_raft": escrt_raft,
         "escrt_raft_cargo": escrt_raft_cargo, "line_tension": line_tension, "uptake": uptake, "engulfment": engulfment, "life_cycle": life_cycle}


def _ensemble_table(r: dict) -> list[str]:
    labels = [k for k in r if k != "z"]
    names = list(r["z"])
    lines = [f"| fixed-area bilayer, {r[labels[0]]['runs_ok']} seeds | " + " | ".join(names) + " | runs ok | wall (s) |",
             "|---" * (len(names) + 3) + "|"]
    for label in labels:
        lines.append(f"| {label} ({r[label]['beads']} beads) | " + " | ".join(
            f"{r[label][n][0]:.4g} ± {r[label][n][1]:.2g}" for n in names) + f" | {r[label]['runs_ok']} | {r[label]['wall_s']} |")
    lines.append("| difference / combined s.e. | " + " | ".join(str(r["z"][n]) for n in names) + " | | |")
    return lines + [""]


def _cargo(r: dict) -> str:
    """"; cargo 3/3" per released ILV: its cargo molecules with it when released, of those it was built with."""
    pairs = [f"{k}/{b}" for b, k in zip(r.get("cargo_built", []), r.get("cargo_released", [])) if k is not None]
    return f"; cargo {', '.join(pairs)}" if pairs else ""


def markdown(results: dict) -> str:
    lines = [f"Machine: {results['machine']}; date {results['date']}; command: `make validate`", ""]
    if "flipflop" in results:
        lines += ["| lipid | flip-flops per lipid per 1,000 tau | lipids flipped | beads | tau | steps/s |",
                  "|---|---|---|---|---|---|"]
        for name, r in results["flipflop"].items():
            lines.append(f"| {name} | {r['per_lipid_per_1000tau']} ({r['flips']} flips) | {r['fraction_flipped']:.1%} "
                         f"| {r['beads']} | {r['tau']:.0f} | {r['steps_per_s']} |")
        lines.append("")
    if "scission" in results:
        lines += ["ILV by a ceramide platform (ilv_ceramide_small, 400 tau): fission or rupture as the topology shows it "
                  "(largest pore < 1.5: only openings narrower than a pore the coverage analysis resolves)",
                  "", "| run | event | separation (tau) | neck before it (narrowest) (sigma) | parent open "
                  "(frames; first to last, tau; brief frames after it sealed) | largest pore (sigma) | ILV diameter "
                  "(sigma) | ILV side | CARG "
                  "enrichment (95 % CI) | RNA enrichment (95 % CI) | beads | wall (s) | steps/s |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        pooled = results["scission"].get("pooled", {})
        for label, r in results["scission"].items():
            if label == "pooled":
                continue
            e = r["enrichment"]
            leak = "-" if r.get("leak_start_tau") is None else \
                f"{r.get('leak_frames', '?')}; {r['leak_start_tau']:.0f} to " \
                f"{'end' if r['leak_end_tau'] is None else round(r['leak_end_tau'])}" + \
                (f"; {r['reopened_frames']}" if r.get("reopened_frames") else "")
            lines.append(f"| {label} | {r.get('event', '-')} | {r['scission_time_tau']} | "
                         f"{r.get('neck_radius_before')} ({r.get('neck_radius_min')}) | {leak} | "
                         f"{r.get('largest_pore') or '< 1.5'} | {r['ilv_diameter']} | "
                         f"{ {1: 'lumen', -1: 'cytosol', 0: '-'}[r['ilv_side']] } | {e['CARG']['ratio']} {e['CARG']['ci']} | "
                         f"{e['RNA']['ratio']} {e['RNA']['ci']} | {r['beads']} | {r['wall_s']} | {r['steps_per_s']} |")
        lines.append("")
        if pooled:
            lines += ["Cargo enrichment pooled over the runs that split by fission (molecules resampled within "
                      "each run)", "", "| runs | species | enrichment | 95 % CI | runs pooled | molecules |",
                      "|---|---|---|---|---|---|"]
            lines += [f"| {group} | {species} | {p['ratio']} | {p['ci']} | {p['runs']} | {p['molecules']} |"
                      for group, by in pooled.items() for species, p in by.items()]
            lines.append("")
    if "line_tension" in results:
        lines += ["Line tension of the platform boundary (registered SM stripe, half-width 8 sigma, across a 40 sigma "
                  "patch, capillary spectrum over 300 tau; kappa = 12.0 kT from the undulation spectrum)", "",
                  "| eps_T_TC | line tension (eps/sigma) | kappa / lambda (sigma) | ILV domain radius / (kappa / lambda) "
                  "| wall (s) |", "|---|---|---|---|---|"]
        for label, r in results["line_tension"].items():
            lines.append(f"| {label.split()[-1]} | {r['line_tension']} +- {r['error']} | {r['kappa_over_lambda']} | "
                         f"{r['scenario_domain_radius']} / {r['kappa_over_lambda']} = {r['radius_over_xi']} | "
                         f"{r['wall_s']} |")
        lines.append("")
    for part in ("batch", "kernels"):
        if part in results:
            lines += _ensemble_table(results[part])
    if "fusion" in results:
        lines += ["| mvb_fusion_small | docked (tau) | stalk (tau) | hemifusion (tau) | pore (tau) | final stage | "
                  "largest pore (sigma) | ILVs released (first, tau) | ILVs closed at the end | leak frames | "
                  "largest contact (sigma^2) | beads | tau | steps/s |", "|---" * 14 + "|"]
        for label, r in results["fusion"].items():
            t = r["first_tau"]
            leaks = ", ".join(f"{k.replace('|', '-')} {v}" for k, v in r.get("leaks", {}).items())
            lines.append(f"| {label} | {t['docked']} | {t['stalk']} | {t['hemifusion']} | {t['pore']} | "
                         f"{r['final_stage']} | {r['pore_radius_max']} | {r['released_final']} ({r['release_tau']}"
                         f"{_cargo(r)}) | "
                         f"{r.get('ilvs_closed_final', '-')} | {r['leak_frames']}{f' ({leaks})' if leaks else ''} | "
                         f"{r.get('contact_area_max', '-')} | "
                         f"{r['beads']} | {r['tau']:.0f} | {r['steps_per_s']} |")
        lines.append("")
    if "pathways" in results:
        p = results["pathways"]
        lines += [f"Fusion pathways ({p['directory']}, {p['wall_s']:.0f} s): fraction of runs that reached each stage "
                  f"within {p.get('tau', 200):.0f} tau, and the median time (tau) of those that did", "",
                  "| PM tension (eps/sigma^2) | runs | docked | stalk | hemifusion seen | pore | ILV released | "
                  "median docked | median stalk | median pore | median release | runs with a leak |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for key, r in p.items():
            if key.startswith("tension"):
                lines.append(f"| {key.split()[1]} | {r['runs']} | {r['reached.docked']} | {r['reached.stalk']} | "
                             f"{r['seen.hemifusion']} | {r['reached.pore']} | {r['reached.release']} | "
                             f"{r['median_tau.docked']} | {r['median_tau.stalk']} | {r['median_tau.pore']} | "
                             f"{r['median_tau.release']} | {r.get('leaked', '-')} |")
        lines.append("")
    if "escrt" in results:
        lines += ["ESCRT-III route (ilv_escrt_small, 400 tau; stage first reached, tau)", "",
                  "| run | buckled | bud | neck | fission | largest displacement into the lumen (sigma) | narrowest neck "
                  "(sigma) | parent membrane | filament radius / tilt at the end | joined / bound at the end | wall (s) | "
                  "steps/s |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for label, r in results["escrt"].items():
            t = r["stages"]
            lines.append(f"| {label} | {t['buckled']} | {t['bud']} | {t['neck']} | {t['fission']} | "
                         f"{r['lumen_height_max']} | {r['neck_radius_min']} | {r['event']} | {r['radius']} sigma / "
                         f"{r['tilt']} deg | {r['assembled']} / {r['bound']} of {r['subunits']} | {r['wall_s']} | "
                         f"{r['steps_per_s']} |")
        lines.append("")
    titles = {"escrt_raft": "ESCRT-III route on a sphingolipid domain (ilv_escrt_raft, 700 tau, no cargo)",
              "escrt_raft_cargo": "ESCRT-III route on a sphingolipid domain with GPI cargo and a docked RNA granule "
                                  "(ilv_escrt_raft_cargo, 900 tau)"}
    for part, title in titles.items():
        if part not in results:
            continue
        lines += [f"{title}: stages first reached (tau), fission or rupture as the topology shows it (largest pore "
                  "< 1.5: only openings narrower than a pore the coverage analysis resolves); cargo: enrichment in the "
                  "ILV per lipid (95 % CI), molecules in the ILV in the last frame, RNA leaked into the MVB lumen", "",
                  "| run | buckled | bud | neck | fission | event | neck before it (narrowest) (sigma) | parent open "
                  "(frames; first to last, tau) | largest pore (sigma) | ILV diameter (sigma) | ILV side | "
                  "GPI (in the ILV) | RNA (in the ILV; leaked) | frames from 10 tau with all RNA on CER heads | "
                  "filament joined / bound at the end | beads | wall (s) | steps/s |", "|---" * 18 + "|"]
        pooled = results[part].get("pooled", {})
        for label, r in results[part].items():
            if label == "pooled":
                continue
            t = r["stages"] or {"buckled": "-", "bud": "-", "neck": "-",
                                "fission": r.get("scission_time_tau") or "-"}  # no filament: the analysis's split
            en = r.get("enrichment", {})
            cargo = [f"{en[n]['ratio']} {en[n]['ci']} ({en[n].get('in_ilv_final', '-')} of {en[n]['molecules']}"
                     + (f"; {en[n]['leaked']}" if "leaked" in en[n] else "") + ")" if n in en else "-"
                     for n in ("GPI", "RNA")]
            leak = "-" if r.get("leak_start_tau") is None else \
                f"{r['leak_frames']}; {r['leak_start_tau']:.0f} to " \
                f"{'end' if r['leak_end_tau'] is None else round(r['leak_end_tau'])}"
            event = r["event"] + (f" (a piece torn off from {r['torn_off_tau']:.0f})" if r.get("torn_off_tau") else "")
            lines.append(f"| {label} | {t['buckled']} | {t['bud']} | {t['neck']} | {t['fission']} | {event} | "
                         f"{r['neck_radius_before']} ({r['neck_radius_min']}) | {leak} | {r['largest_pore'] or '< 1.5'} | "
                         f"{r['ilv_diameter']} | {({1: 'lumen', -1: 'cytosol'}).get(r['ilv_side'], '-')} | "
                         f"{cargo[0]} | {cargo[1]} | {r.get('rna_on_domain', '-')} | "
                         f"{r['bound'] or '-'} | {r['beads']} | {r['wall_s']} | {r['steps_per_s']} |")
        lines.append("")
        if pooled:
            lines += ["Pooled over the seeds that split by fission (molecules resampled within each run)", "",
                      "| species | enrichment | 95 % CI | runs pooled | molecules |", "|---|---|---|---|---|"]
            lines += [f"| {species} | {p['ratio']} | {p['ci']} | {p['runs']} | {p['molecules']} |"
                      for species, p in pooled.items()]
            lines.append("")
    if "uptake" in results:
        u = results["uptake"]
        lines += [f"Exosome uptake ({u['directory']}, {u['wall_s'] / 60:.0f} min from the first run's start to the last result): final wrapped fraction (mean +- s.e. over "
                  f"seeds) after {u['tau']:.0f} tau and the fraction of runs ending in each outcome", "",
                  "| ligand density (sigma^-2) | affinity (eps) | exosome | runs | wrapped fraction | reached wrapped "
                  "(median first tau) | ends bound | ends wrapped | ends engulfed | ends merged | ends torn |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in u["points"]:
            lines.append(f"| {r['density']:g} | {r['affinity']:g} | {'rigid' if r['rigid'] else 'soft'} | {r['runs']} | "
                         f"{r['wrapped']} +- {r['wrapped_se']} | {r.get('reached_wrapped', '-')} "
                         f"({r.get('first_wrapped_tau')}) | " + " | ".join(str(r.get(f"ends.{k}", "-"))
                                                                            for k in OUTCOMES) + " |")
        lines.append("")
    if "engulfment" in results:
        lines += ["Raft-mediated endocytosis (exosome_uptake_raft; stage first reached, tau)", "",
                  "| run | outcome | at (tau) | bound | wrapped | engulfed | wrapped fraction max / final | bonds | "
                  "target holed (frames, first) | tau | wall (s) | steps/s |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for label, r in results["engulfment"].items():
            first = r["first_tau"]
            lines.append(f"| {label} | {r['outcome']} | {r['outcome_tau']} | " +
                         " | ".join(str(first.get(k)) for k in ("bound", "wrapped", "engulfed")) +
                         f" | {r['wrapped_max']} / {r['wrapped_final']} | {r['bonds_final']} | "
                         f"{r['holed_frames']}, {r['holed_first_tau']} | {r['tau']:.0f} | {r['wall_s']} | "
                         f"{r['steps_per_s']} |")
        lines.append("")
    if "life_cycle" in results:
        c = results["life_cycle"]
        lines += [f"The life cycle chained ({c['directory']}: ilv_ceramide_small -> mvb_fusion_chained -> "
                  f"exosome_uptake_released, MD {c['wall_s'] / 60:.0f} min): the cargo act by act", "",
                  "| act | event | species | in the run | carried on (uptake: inside the exosome) | target cytosol | "
                  "extracellular |", "|---|---|---|---|---|---|---|"]
        for r in c["rows"]:
            lines.append(f"| {r['act']} | {r['event']} | {r['species']} | {r['total']} | {r['carried']} | "
                         f"{'-' if r['cytosol'] is None else r['cytosol']} | "
                         f"{'-' if r['extracellular'] is None else r['extracellular']} |")
        if c.get("stopped"):
            lines += ["", f"The chain stopped: {c['stopped']}"]
        lines.append("")
    if "cones" in results:
        lines += ["| ilv_cones_small | lumen height (sigma) | cytosol height (sigma) | direction | scission (tau) | "
                  "CARG enrichment | tau | steps/s |", "|---|---|---|---|---|---|---|---|"]
        for label, r in results["cones"].items():
            lines.append(f"| {label} | {r['lumen_height_last']} | {r['cytosol_height_last']} | {r['direction_last']} | "
                         f"{r['scission_time_tau']} | {r['enrichment_CARG']} | {r['tau']:.0f} | {r['steps_per_s']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(PARTS), action="append", help="run only these parts")
    args = parser.parse_args(argv)
    path = HERE / "validation.json"
    results: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.only or PARTS:
            part = PARTS[name](Path(tmp))
            # read again before writing: another validation run may have written its parts meanwhile
            results = json.loads(path.read_text()) if path.exists() else {}
            results.update({name: part}, machine=_machine(), date=time.strftime("%Y-%m-%d"))
            path.write_text(json.dumps(results, indent=1) + "\n")
    (HERE / "validation.md").write_text(markdown(results))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
