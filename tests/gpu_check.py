"""Every GPU figure from one command: device and versions, the native kernel's tests, the engine
bench (ours with production outputs against raw OpenMM, with and without the native kernel), the
replica rows and a bounded production run of each act, in one report (Markdown + JSON).

    python tests/gpu_check.py                          # CUDA, production sizes (make gpu-check)
    python tests/gpu_check.py --platform OpenCL --quick   # the rehearsal on PoCL, small sizes

Each part runs as its own command under its own time box, so a slow part cannot starve the rest;
the report says what was cut short, with the command of every figure. The exit code is 1 if a
test failed, the native kernel fell back, or a part failed; 0 otherwise (parts cut short by their
time box are reported, not failed).
"""
from __future__ import annotations

import argparse
import json
import os
import platform as host
import re
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
#: Bilayer sizes (sigma): ~86k, ~346k, ~1.38M beads (production); ~1.3k (quick: PoCL runs the GPU
#: kernels on the CPU, ~100x slower than a GPU).
SIZES = {False: ["131.5", "263.0", "526.0"], True: ["16.4"]}
#: Replica rows: beads per replica ~21.6k (production), ~1.3k (quick).
REPLICAS = {False: (["1", "4", "8", "16"], "65.7"), True: (["1", "2"], "16.4")}
#: The production scenario of each act that exists, and its quick stand-in (scenario, steps).
ACTS = {False: [("ilv_ceramide", "400000"), ("mvb_fusion", "200000")],
        True: [("ilv_ceramide_small", "300"), ("mvb_fusion_small", "200")]}
VERSIONS = ("import openmm, mdtraj, numpy, importlib.metadata as m; "
            "print('OpenMM', openmm.__version__, '| platforms', [openmm.Platform.getPlatform(i).getName() "
            "for i in range(openmm.Platform.getNumPlatforms())], '| CUDA wheels', "
            "[d.metadata['Name'] + ' ' + d.version for d in m.distributions() if 'cuda' in d.metadata['Name']], "
            "'| mdtraj', mdtraj.__version__, '| numpy', numpy.__version__)")


def run(cmd: list[str], seconds: float, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``cmd`` under a time box of ``seconds``: its output, exit code, wall time, and whether it was cut."""
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, **(env or {}), "PYTHONUNBUFFERED": "1"})
    try:
        text, _ = proc.communicate(timeout=seconds)
        code, cut = proc.returncode, False
    except subprocess.TimeoutExpired:  # SIGINT first: a run checkpoints and says where it stopped
        proc.send_signal(signal.SIGINT)
        try:
            text, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            text, _ = proc.communicate()
        code, cut = None, True
    return {"command": " ".join(cmd) + ("" if not env else "  [" + " ".join(f"{k}={v}" for k, v in env.items()) + "]"),
            "returncode": code, "cut_short": cut, "wall_s": round(time.monotonic() - t0, 1), "output": text[-4000:]}


def pytest_counts(text: str) -> dict[str, int]:
    """passed/failed/skipped/error counts from pytest's summary line."""
    return {k: int(n) for n, k in re.findall(r"(\d+) (passed|failed|skipped|errors?|deselected)", text)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--platform", default="CUDA", choices=("CUDA", "OpenCL", "CPU"))
    parser.add_argument("--quick", action="store_true", help="rehearsal: small sizes (PoCL)")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", ROOT / "runs" / "gpu-check")),
                        help="report folder (default: $OUT, else runs/gpu-check)")
    parser.add_argument("--seconds", type=float, help="timed wall seconds per bench measurement")
    args = parser.parse_args(argv)
    quick, plat = args.quick, args.platform
    seconds = str(args.seconds or (1.0 if quick else 4.0))
    exe = [sys.executable, "-m", "exomembrane.cli"]
    args.out.mkdir(parents=True, exist_ok=True)
    report: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M"), "platform": plat, "quick": quick,
                              "python": sys.version.split()[0], "host": host.node(), "parts": {}}
    parts = report["parts"]

    def save() -> None:
        (args.out / "gpu-check.json").write_text(json.dumps(report, indent=1) + "\n")
        (args.out / "gpu-check.md").write_text(markdown(report))

    # 1. device, driver, versions, platforms
    smi = shutil.which("nvidia-smi")
    parts["device"] = run([smi, "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"], 30) \
        if smi else {"output": "no nvidia-smi on this machine", "returncode": 0, "cut_short": False, "command": "-"}
    parts["versions"] = run([sys.executable, "-c", VERSIONS], 60)
    parts["platforms"] = run([*exe, "platforms"], 240)
    save()
    # 2. the native kernel's tests and the cross-platform force tests on this platform
    for name, target in (("native tests", "tests/test_native.py"), ("force tests", "tests/test_forcefield.py")):
        part = run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", target, "-k", plat], 240)
        part["counts"] = pytest_counts(part["output"])
        parts[name] = part
        save()
    # 3. the engine bench, with and without the native kernel
    for name, env in (("bench", None), ("bench, CustomNonbondedForce", {"EXOMEMBRANE_NATIVE": "0"})):
        json_out = args.out / f"{name.replace(', ', '-').replace(' ', '-')}.json"
        part = run([*exe, "bench", "--platform", plat, "--sizes", *SIZES[quick], "--seconds", seconds, "--lammps",
                    "--json", str(json_out)], 150, env)
        part["rows"] = json.loads(json_out.read_text()) if json_out.is_file() else []
        parts[name] = part
        save()
    # 4. replica batches
    ks, size = REPLICAS[quick]
    json_out = args.out / "replicas.json"
    part = run([*exe, "bench", "--platform", plat, "--replicas", *ks, "--sizes", size, "--seconds", seconds,
                "--json", str(json_out)], 120)
    part["rows"] = json.loads(json_out.read_text()) if json_out.is_file() else []
    parts["replicas"] = part
    save()
    # 5. the production scenario of each act, for a bounded time, then its analysis
    for scenario, steps in ACTS[quick]:
        where = args.out / scenario
        part = run([*exe, "run", scenario, "--platform", plat, "--steps", steps, "--out", str(where), "--overwrite",
                    "--quiet"], 150)
        if (where / "manifest.json").is_file():
            analysed = run([*exe, "analyze", str(where), "--quiet"], 90)
            part["analyze"] = {k: analysed[k] for k in ("command", "returncode", "cut_short", "wall_s")}
            part["summary"] = act_summary(where)
        parts[f"act: {scenario}"] = part
        save()
    failed = [name for name, p in parts.items() if p.get("returncode") not in (0, None)]
    failed += [name for name, p in parts.items() if p.get("counts", {}).get("failed") or p.get("counts", {}).get("error")]
    fell_back = [r["pair_kernel"] for r in parts["bench"].get("rows", []) if not r["pair_kernel"].startswith("native")]
    report["failed"] = sorted(set(failed))
    report["fell_back"] = fell_back
    report["cut_short"] = [name for name, p in parts.items() if p.get("cut_short")]
    save()
    print(markdown(report))
    return 1 if failed or fell_back else 0


def act_summary(where: Path) -> dict[str, Any]:
    """τ simulated, steps/s, ns/day and the act's own summary lines of a run directory."""
    manifest = json.loads((where / "manifest.json").read_text())
    out: dict[str, Any] = {"steps_done": manifest["steps_done"], "n_beads": manifest["n_beads"]}
    segments = manifest.get("segments", [])
    if segments:  # from the segment's start to the last output written (a run cut short has no end)
        started = datetime.fromisoformat(segments[-1]["started"]).timestamp()
        wall = (where / "thermo.csv").stat().st_mtime - started
        steps = manifest["steps_done"] - segments[-1]["from_step"]
        if wall > 0 and steps > 0:
            rate = steps / wall
            out.update(steps_per_s=round(rate, 1), ns_per_day=round(rate * 0.01 / 1000 * 86400, 1))
    summary = where / "analysis" / "summary.json"
    if summary.is_file():
        data = json.loads(summary.read_text())
        out["tau_simulated"] = data["time_tau"][1]
        for key in ("budding", "fusion", "topology"):
            if key in data:
                out[key] = {k: v for k, v in data[key].items() if not isinstance(v, (list, dict))}
    return out


def markdown(report: dict[str, Any]) -> str:
    """The report as Markdown: one section per part, with its command, time and figures."""
    p = report["parts"]
    lines = [f"# GPU check: {report['platform']}{' (quick rehearsal)' if report['quick'] else ''}, {report['date']}", ""]
    for name, part in p.items():
        state = "cut short by its time box" if part.get("cut_short") else f"exit {part.get('returncode')}"
        lines += [f"## {name}", "", f"`{part.get('command', '-')}` ({state}, {part.get('wall_s', 0)} s)", ""]
        if "counts" in part:
            lines += [f"tests: {part['counts']}", ""]
        if name.startswith("bench") and part.get("rows"):
            lines += ["| beads | pair kernel | ours steps/s | raw steps/s | ours particle-steps/s | ours / raw |",
                      "|---|---|---|---|---|---|"]
            lines += [f"| {r['beads']} | {r['pair_kernel'][:40]} | {r['ours_steps_per_s']:.1f} | {r['raw_steps_per_s']:.1f} "
                      f"| {r['ours_particle_steps_per_s']:.3e} | {r['ratio']:.2f} |" for r in part["rows"]]
            lines.append("")
        elif name == "replicas" and part.get("rows"):
            lines += ["| beads/replica | replicas | steps/s | replica-steps/s | particle-steps/s | gain |",
                      "|---|---|---|---|---|---|"]
            lines += [f"| {r['beads_per_replica']} | {r['replicas']} | {r['steps_per_s']:.1f} | "
                      f"{r['replica_steps_per_s']:.1f} | {r['particle_steps_per_s']:.3e} | "
                      f"{'-' if not r.get('gain') else round(r['gain'], 2)} |" for r in part["rows"]]
            lines.append("")
        elif "summary" in part:
            lines += ["```", json.dumps(part["summary"], indent=1), "```", ""]
        else:
            lines += ["```", part.get("output", "").strip()[-1500:], "```", ""]
    if "failed" in report:
        lines += ["## Verdict", "", f"failed: {report['failed'] or 'none'}; native kernel fell back: "
                  f"{report['fell_back'] or 'no'}; cut short: {report['cut_short'] or 'none'}", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
