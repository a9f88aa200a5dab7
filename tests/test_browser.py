"""Real-browser tests: JupyterLab + headless Debian chromium run the quickstart, ILV budding and fusion notebooks.

Headless execution (nbclient) passes even when the widget's JavaScript is missing or mismatched
(nglview 4.0.1 is an example), so these tests load a notebook in JupyterLab, run all cells and
check from pixels that the NGL canvas draws the membrane (and moves while the live run goes on).
They regenerate ``notebooks/quickstart.png``, ``notebooks/ilv_budding.png`` and
``notebooks/mvb_fusion.png``. Needs ``/usr/bin/chromium`` (``apt-get install chromium``; never ``playwright install``).
"""
from __future__ import annotations

import io
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from exomembrane import cli

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
         "--disable-background-networking", "--no-first-run"]
#: JavaScript console messages that mean a widget cannot render.
FATAL = re.compile(r"not registered|Failed to load model class|Could not create (a )?view|"
                   r"Error loading|Uncaught|Class \S+ not found", re.I)
SCREENSHOT = ROOT / "notebooks" / "quickstart.png"
ILV_SCREENSHOT = ROOT / "notebooks" / "ilv_budding.png"
ESCRT_SCREENSHOT = ROOT / "notebooks" / "ilv_escrt.png"
FUSION_SCREENSHOT = ROOT / "notebooks" / "mvb_fusion.png"
UPTAKE_SCREENSHOT = ROOT / "notebooks" / "exosome_uptake.png"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def jupyterlab(root: Path, env: dict[str, str] | None = None, timeout: float = 90.0) -> Iterator[tuple[str, str]]:
    """Run JupyterLab on 127.0.0.1 with a token, serving ``root``; yields (base URL, token).

    Settings, workspaces and page config live in a scratch folder: announcements off, notebook
    windowing off (all cells stay in the DOM), no restored workspace. The server and its kernels
    run at low priority (``nice``) so that simulations leave the browser room to render.
    """
    port, token = _free_port(), secrets.token_hex(16)
    config = root / ".lab-config"
    (config / "labconfig").mkdir(parents=True, exist_ok=True)
    (config / "labconfig" / "page_config.json").write_text(json.dumps(
        {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}))
    tracker = config / "settings" / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True, exist_ok=True)
    (tracker / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none"}))
    full_env = {**os.environ, **(env or {}), "JUPYTER_CONFIG_DIR": str(config),
                "JUPYTERLAB_SETTINGS_DIR": str(config / "settings"),
                "JUPYTERLAB_WORKSPACES_DIR": str(config / "workspaces"),
                "JUPYTER_RUNTIME_DIR": str(config / "runtime")}
    log = open(root / "jupyterlab.log", "wb")
    proc = subprocess.Popen(
        ["nice", "-n", "15", sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
         f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True", "--allow-root"],
        cwd=root, env=full_env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("JupyterLab did not start:\n"
                                       + (root / "jupyterlab.log").read_text()[-3000:]) from None
                time.sleep(0.5)
        yield base, token
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def canvas_pixels(png: bytes) -> np.ndarray:
    """(h, w, 3) uint8 RGB of a screenshot."""
    from PIL import Image
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def picture_stats(rgb: np.ndarray) -> tuple[int, float]:
    """(distinct colours after 4-bit quantisation, fraction of pixels unlike the corner background)."""
    q = (rgb >> 4).reshape(-1, 3).astype(np.int32)
    distinct = len(np.unique(q[:, 0] * 256 + q[:, 1] * 16 + q[:, 2]))
    background = rgb[2, 2].astype(int)
    drawn = np.abs(rgb.astype(int) - background).sum(axis=2) > 30
    return distinct, float(drawn.mean())


# JavaScript run in the page: state of the open notebook (cells run, errors, kernel busy).
NOTEBOOK_STATE = """() => {
  if (!window.jupyterapp) return null;
  const panel = window.jupyterapp.shell.currentWidget;
  if (!panel || !panel.content || !panel.sessionContext || !panel.sessionContext.session) return null;
  const cells = panel.content.model.cells;
  let code = 0, done = 0; const errors = [];
  for (let i = 0; i < cells.length; i++) {
    const c = cells.get(i);
    if (c.type !== 'code') continue;
    code += 1;
    if (c.executionCount) done += 1;
    for (let k = 0; k < c.outputs.length; k++) {
      const o = c.outputs.get(k).toJSON();
      if (o.output_type === 'error') errors.push(o.ename + ': ' + o.evalue);
    }
  }
  return {code, done, errors, status: panel.sessionContext.session.kernel.status};
}"""


@contextmanager
def notebook_page(base: str, token: str, name: str, console: list[str]) -> Iterator[object]:
    """A chromium page with notebook ``name`` open in JupyterLab and its kernel idle."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
            page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
            page.goto(f"{base}/lab/tree/{name}?token={token}")
            page.wait_for_function(f"() => {{ const s = ({NOTEBOOK_STATE})(); return s && s.status === 'idle'; }}",
                                   timeout=90_000)
            yield page
        finally:
            browser.close()


def fail_on_console(console: list[str]) -> None:
    bad = [m for m in console if FATAL.search(m)]
    assert not bad, "JavaScript errors in the page:\n" + "\n".join(bad)


@pytest.fixture
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.skip("needs Debian chromium at /usr/bin/chromium (apt-get install chromium); "
                    ".ci/run installs it")
    pytest.importorskip("playwright", reason="pip install playwright (the test extra)")
    return CHROMIUM


def snapshot(page: object, element: object) -> bytes:
    """PNG of ``element`` as shown now (a clip of the page: no wait for the page to stop changing)."""
    element.scroll_into_view_if_needed()
    return page.screenshot(clip=element.bounding_box())


def wait_for_picture(page: object, canvas: object, accept: object, timeout: float,
                     what: str) -> tuple[bytes, np.ndarray]:
    """Screenshot ``canvas`` until ``accept(rgb)`` holds; fails after ``timeout`` s naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        png = snapshot(page, canvas)
        rgb = canvas_pixels(png)
        if accept(rgb):
            return png, rgb
        if time.monotonic() > deadline:
            distinct, drawn = picture_stats(rgb)
            pytest.fail(f"{what}: not seen within {timeout:.0f} s ({distinct} colours, {drawn:.1%} drawn)")
        time.sleep(0.3)


def membrane_drawn(rgb: np.ndarray) -> bool:
    """Many colours (shaded beads of several species/roles) over a good part of the canvas."""
    distinct, drawn = picture_stats(rgb)
    return distinct >= 40 and drawn >= 0.05


# JavaScript: start running all cells (no waiting for them).
RUN_ALL = "() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }"


@contextmanager
def running(notebook: str, tmp_path: Path) -> Iterator[tuple[object, list[str]]]:
    """(page, console messages) of ``notebooks/<notebook>`` opened in JupyterLab (quick sizes) with
    Run All started."""
    shutil.copy(ROOT / "notebooks" / notebook, tmp_path / notebook)
    console: list[str] = []
    with jupyterlab(tmp_path, {"EXOMEMBRANE_QUICK": "1"}) as (base, token), \
            notebook_page(base, token, notebook, console) as page:
        fail_on_console(console)
        page.evaluate(RUN_ALL)
        yield page, console
# JavaScript: append a code cell with ``source`` to the open notebook and start it (no waiting for it).
RUN_NEW_CELL = """async (source) => {
  const app = window.jupyterapp, nb = app.shell.currentWidget.content;
  nb.activeCellIndex = nb.widgets.length - 1;
  await app.commands.execute('notebook:insert-cell-below');
  nb.activeCell.model.sharedModel.setSource(source);
  app.commands.execute('notebook:run-cell');
}"""


def changed(before: np.ndarray) -> object:
    """Accepts a picture with more than 1 % of its pixels different from ``before``."""
    return lambda rgb: (rgb.shape == before.shape
                        and np.abs(rgb.astype(int) - before).sum(axis=2).astype(bool).mean() > 0.01)


def wait_for_notebook(page: object, console: list[str], timeout: float) -> None:
    """Until every code cell has run and the kernel is idle; fails on errors in cells or the console."""
    deadline = time.monotonic() + timeout
    while (state := page.evaluate(NOTEBOOK_STATE))["done"] < state["code"] or state["status"] != "idle":
        assert not state["errors"], f"cells failed: {state['errors']}"
        fail_on_console(console)
        assert time.monotonic() < deadline, f"notebook did not finish in {timeout:.0f} s: {state}"
        time.sleep(1)
    assert not state["errors"], f"cells failed: {state['errors']}"
    fail_on_console(console)


def kinetic_kT(page: object) -> float:
    """The last kinetic kT (eps) shown by the live plots."""
    text = page.locator(".widget-html", has_text="kinetic kT").inner_text()
    return float(re.search(r"kinetic kT \(eps\):\s*([-0-9.e]+)", text).group(1))


def test_quickstart_renders_moves_and_steers(chromium: Path, tmp_path: Path) -> None:
    """Run All in JupyterLab: the vesicle draws in every view (the finished live panel is saved as
    the README picture); the replay moves when its frame advances; a continued live run moves the
    view, obeys the kT slider and the Stop button while a cell awaits it, and leaves files that
    ``exomembrane analyze`` reads."""
    with running("quickstart.ipynb", tmp_path) as (page, console):
        canvases = page.locator(".jp-OutputArea canvas")
        build, live, replay = canvases.nth(0), canvases.nth(1), canvases.nth(2)
        build.wait_for(timeout=120_000)
        wait_for_picture(page, build, membrane_drawn, 60, "the built vesicle in the first view")
        fail_on_console(console)
        wait_for_notebook(page, console, 300)
        wait_for_picture(page, live, membrane_drawn, 30, "the vesicle in the live view")
        finished = page.locator(".widget-html", has_text="exomembrane resume")
        SCREENSHOT.write_bytes(snapshot(page, page.locator(".jp-OutputArea-child").filter(has=finished)))

        _, before = wait_for_picture(page, replay, membrane_drawn, 30, "the replayed trajectory")
        replay.hover()  # shows nglview's player
        page.locator(".jp-OutputArea .widget-play button").last.click()
        wait_for_picture(page, replay, changed(before), 30, "a change of the replay when its frame advances")

        _, before = wait_for_picture(page, live, membrane_drawn, 30, "the vesicle in the live view")
        page.evaluate(RUN_NEW_CELL, "live.start(1_000_000)\nawait live.wait_async()")  # until Stop
        wait_for_picture(page, live, changed(before), 90, "a change of the live view as the run advances")
        readout = page.locator(".widget-hslider", has_text="kT").locator(".widget-readout")
        readout.click()
        page.keyboard.press("Control+A")
        page.keyboard.type("1.8")
        page.keyboard.press("Enter")
        deadline = time.monotonic() + 90
        while kinetic_kT(page) < 1.5:  # thermostat at 1.8 eps: the beads heat up within a few tau
            assert time.monotonic() < deadline, f"kT slider not applied: kinetic kT {kinetic_kT(page)}"
            time.sleep(0.5)
        page.locator(".jp-OutputArea button", has_text="Stop").click()
        status = page.locator(".widget-html", has_text="exomembrane resume")
        status.wait_for(timeout=120_000)  # stopped, with a checkpoint
        assert "stopped" in status.inner_text()
        wait_for_notebook(page, console, 120)  # the waiting cell returned
        fail_on_console(console)

    assert cli.main(["analyze", str(tmp_path / "runs" / "quickstart"), "--quiet"]) == 0


def patch_drawn(rgb: np.ndarray) -> bool:
    """Many colours (lipids, platform, cargo, RNA) over a strip of the canvas: a flat patch seen
    edge-on covers less of it than a vesicle."""
    distinct, drawn = picture_stats(rgb)
    return distinct >= 40 and drawn >= 0.03


def dark_text(rgb: np.ndarray) -> bool:
    """Near-black pixels (the side labels' text; lit beads and the grey box edges are lighter) in
    both the upper and the lower half of the picture: the lumen and cytosol labels."""
    dark = rgb.astype(int).sum(axis=2) < 150
    half = rgb.shape[0] // 2
    return dark[:half].sum() >= 40 and dark[half:].sum() >= 40


def test_ilv_budding_renders_with_sides_labelled(chromium: Path, tmp_path: Path) -> None:
    """Run All in JupyterLab: the MVB patch with its ceramide platform, cargo and RNA draws cut open
    from the side with the lumen and cytosol labelled (saved as ``notebooks/ilv_budding.png``), the
    live run draws and plots the bud height, and the analysis cell runs."""
    with running("ilv_budding.ipynb", tmp_path) as (page, console):
        canvases = page.locator(".jp-OutputArea canvas")
        build, live = canvases.nth(0), canvases.nth(1)
        build.wait_for(timeout=120_000)
        wait_for_picture(page, build, lambda rgb: patch_drawn(rgb) and dark_text(rgb), 60,
                         "the MVB patch with its side labels in the first view")
        fail_on_console(console)
        start = page.locator(".jp-OutputArea").filter(has=page.locator("canvas")).first  # the view and its legend
        assert all(name in start.inner_text() for name in ("CARG", "RNA", "CER", "SM", "protein", "polymer"))
        ILV_SCREENSHOT.write_bytes(snapshot(page, start))
        wait_for_notebook(page, console, 300)
        wait_for_picture(page, live, patch_drawn, 30, "the patch in the live view")
        plots = page.locator(".widget-html", has_text="bud height into the lumen").inner_text()
        assert re.search(r"bud height into the lumen \(sigma\):\s*[0-9.]", plots), plots
        assert page.locator(".widget-hslider", has_text="eps_T_TC").count() == 1
        assert "lumen side +z: bud height" in page.locator(".jp-OutputArea-output", has_text="lumen side").inner_text()


def test_ilv_escrt_renders_and_steers_the_filament(chromium: Path, tmp_path: Path) -> None:
    """Run All in JupyterLab: the MVB patch with its ESCRT-III spiral draws cut open with the sides
    labelled (saved as ``notebooks/ilv_escrt.png``), the live run draws with the filament's geometry,
    binding and disassembly on sliders and plots its tilt, and the analysis prints the stages."""
    with running("ilv_escrt.ipynb", tmp_path) as (page, console):
        canvases = page.locator(".jp-OutputArea canvas")
        build, live = canvases.nth(0), canvases.nth(1)
        build.wait_for(timeout=120_000)
        wait_for_picture(page, build, lambda rgb: patch_drawn(rgb) and dark_text(rgb), 60,
                         "the MVB patch and its spiral with the side labels in the first view")
        fail_on_console(console)
        start = page.locator(".jp-OutputArea").filter(has=page.locator("canvas")).first
        assert all(name in start.inner_text() for name in ("ESC3", "LIP", "protein"))
        ESCRT_SCREENSHOT.write_bytes(snapshot(page, start))
        wait_for_notebook(page, console, 300)
        wait_for_picture(page, live, patch_drawn, 30, "the patch in the live view")
        for name in ("filament_radius", "filament_tilt", "filament_pitch", "filament_binding", "disassembly"):
            assert page.locator(".widget-hslider", has_text=name).count() == 1, name
        plots = page.locator(".widget-html", has_text="filament tilt").inner_text()
        assert re.search(r"filament tilt \(deg\):\s*-?[0-9.]", plots), plots
        assert "of 60 subunits bound" in page.locator(".jp-OutputArea-output", has_text="subunits bound").inner_text()


def built_and_steered(page: object, console: list[str], what: str, legend: tuple[str, ...], screenshot: Path,
                      seconds: float, sliders: tuple[str, ...]) -> None:
    """The steps the membrane notebooks share: ``what`` drawn in the first view with every species of
    ``legend`` in its legend (saved to ``screenshot``), the notebook run to its end within ``seconds``,
    the membranes in the live view and one slider for each of ``sliders``."""
    canvases = page.locator(".jp-OutputArea canvas")
    build, live = canvases.nth(0), canvases.nth(1)
    build.wait_for(timeout=120_000)
    wait_for_picture(page, build, membrane_drawn, 60, f"{what} in the first view")
    fail_on_console(console)
    start = page.locator(".jp-OutputArea").filter(has=page.locator("canvas")).first
    assert all(name in start.inner_text() for name in legend)
    screenshot.write_bytes(snapshot(page, start))
    wait_for_notebook(page, console, seconds)
    wait_for_picture(page, live, membrane_drawn, 30, "the membranes in the live view")
    for name in sliders:
        assert page.locator(".widget-hslider", has_text=name).count() == 1, name


def test_mvb_fusion_renders_and_steers_the_zipper(chromium: Path, tmp_path: Path) -> None:
    """Run All in JupyterLab: the MVB under the plasma membrane with its tethers draws cut open
    (saved as ``notebooks/mvb_fusion.png``), the live run draws with zipper and tension sliders and
    plots the fusion stage, and the report and the cut-open picture come out."""
    with running("mvb_fusion.ipynb", tmp_path) as (page, console):
        built_and_steered(page, console, "the MVB under the plasma membrane", ("TMA", "PE", "ADP", "SM", "CARG", "LIP"),
                          FUSION_SCREENSHOT, 420, ("zipper", "tension"))
        plots = page.locator(".widget-html", has_text="fusion stage").inner_text()
        assert re.search(r"fusion stage \(0-4\):\s*[0-9.]", plots), plots
        report = page.locator(".jp-OutputArea-output", has_text="fusion (plasma with mvb)").inner_text()
        assert "final stage" in report and "leak" in report.lower()  # "leaks  none: ..." or "LEAK ..."
        assert page.locator(".jp-OutputArea-output img").count() >= 2  # fusion.png and release.png


def test_exosome_uptake_renders_and_steers_the_affinity(chromium: Path, tmp_path: Path) -> None:
    """Run All in JupyterLab: the exosome over the target patch with its ligands and receptors draws
    cut open (saved as ``notebooks/exosome_uptake.png``), the live run draws with the affinity and
    tension sliders and plots the wrapped fraction, and the report and the cut-open picture come out."""
    with running("exosome_uptake.ipynb", tmp_path) as (page, console):
        built_and_steered(page, console, "the exosome over the target", ("LGL", "RCL", "LIP"), UPTAKE_SCREENSHOT, 300,
                          ("affinity_lipid_receptor", "tension"))
        plots = page.locator(".widget-html", has_text="wrapped fraction").inner_text()
        assert re.search(r"wrapped fraction:\s*[0-9.]", plots), plots
        report = page.locator(".jp-OutputArea-output", has_text="uptake (exosome at the target)").inner_text()
        assert "bonds" in report and "wrapped" in report
        assert page.locator(".jp-OutputArea-output img").count() >= 2  # uptake.png and uptake_cut.png
        chain = page.locator(".jp-OutputArea-output", has_text="the chain stops").inner_text()
        assert "has no scission" in chain  # the short budding act, and the cargo table after it
        assert "RNA" in page.locator(".jp-OutputArea-output table", has_text="budding").inner_text()
