"""The GPU check's rehearsal: the same script at small sizes on OpenCL (PoCL on a CPU), producing a
report with every section (``make gpu-check PLATFORM=OpenCL QUICK=1``)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from exomembrane.engine import native

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = ["device", "versions", "platforms", "native tests", "force tests", "bench", "bench, CustomNonbondedForce",
            "replicas", "act: ilv_ceramide_small", "act: mvb_fusion_small"]


@pytest.mark.slow
@pytest.mark.skipif(native.load("OpenCL") is not None, reason=f"no native OpenCL kernel: {native.load('OpenCL')}")
def test_the_rehearsal_fills_every_section(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, str(ROOT / "tests" / "gpu_check.py"), "--platform", "OpenCL", "--quick",
                          "--out", str(tmp_path)], capture_output=True, text=True, timeout=900)
    report = json.loads((tmp_path / "gpu-check.json").read_text())
    assert list(report["parts"]) == SECTIONS
    markdown = (tmp_path / "gpu-check.md").read_text()
    assert all(f"## {name}" in markdown for name in SECTIONS) and "## Verdict" in markdown
    assert out.returncode == 0, (report["failed"], report["fell_back"], out.stdout[-3000:])
    assert report["parts"]["native tests"]["counts"]["passed"] > 0
    bench = report["parts"]["bench"]["rows"]
    assert bench and bench[0]["pair_kernel"].startswith("native") and bench[0]["ratio"] > 0
    assert report["parts"]["bench, CustomNonbondedForce"]["rows"][0]["pair_kernel"].startswith("CustomNonbondedForce")
    assert [r["replicas"] for r in report["parts"]["replicas"]["rows"]] == [1, 2]
    act = report["parts"]["act: ilv_ceramide_small"]["summary"]
    assert act["steps_done"] == 300 and act["steps_per_s"] > 0 and "budding" in act
