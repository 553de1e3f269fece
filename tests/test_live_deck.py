"""The lecturer's live path of the README, in a real browser: the deck presented inside JupyterLab by
jupyterlab-slideshow, with the notebook's own kernel and widget manager, so the sliders work on the slides.

JupyterLab runs on loopback with a token, from this environment, on a copy of the deck in a temporary folder (the
committed deck is never opened, so no output can be saved into it). Only the deck's set-up cell and the figure of the
λ-return slide are run (Run All would add a minute of PPO). The presentation starts from the title slide with the deck
button of the notebook's toolbar and pages with the arrow keys to that slide, where the test checks what the class
sees: the heading as written (λ, not Λ), the sliders as controls (not ``HBox(children=…``), no code, and a figure
redrawn when a slider moves, by keyboard and by dragging. Screenshots go to ``$RL_COURSE_SCREENSHOTS`` (default: the
test's own temporary folder, ``screenshots/``). The server, its kernel and the browser are stopped even when it fails.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import stop_when_the_tests_end
from helpers import free_port, wait_for_jupyterlab

ROOT = Path(__file__).resolve().parents[1]
DECK = ROOT / "lecture" / "credit_assignment.ipynb"
BIN = Path(sys.executable).parent
FIGURE = "LambdaWeightsPanel"  # the code of the slide under test: "The forward view: the λ-return", sliders λ and γ
HANG_GUARD_MS = 240_000  # generous: a server start or a kernel's first imports on two busy cores
MARKER = "RL_COURSE_LIVE_DECK"  # in the environment of the server and its kernel, to find whatever is left of them

pytestmark = [pytest.mark.slow, pytest.mark.notebook]


def _chromium() -> str | None:
    return os.environ.get("RL_COURSE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def _skip_or_fail(reason: str) -> None:
    if os.environ.get("RL_COURSE_REQUIRE_BROWSER"):
        pytest.fail(f"RL_COURSE_REQUIRE_BROWSER is set but {reason}")
    pytest.skip(reason)


@pytest.fixture
def chromium() -> str:
    """The system's Chromium (never a download); skips without it unless RL_COURSE_REQUIRE_BROWSER is set."""
    path = _chromium()
    if path is None:
        _skip_or_fail("no chromium is installed (apt-get install chromium)")
    pytest.importorskip("playwright.sync_api")
    return path


def slide_of(nb, marker: str) -> tuple[int, int]:
    """(the cell that opens the slide, the code cell) of the slide whose code contains ``marker``."""
    code = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code" and marker in c.source)
    start = max(i for i in range(code + 1) if nb.cells[i].metadata.get("slideshow", {}).get("slide_type") == "slide")
    return start, code


def setup_cells(nb) -> list[int]:
    """The code cells left off the slides (``skip``): the imports every figure needs."""
    return [i for i, c in enumerate(nb.cells)
            if c.cell_type == "code" and c.metadata.get("slideshow", {}).get("slide_type") == "skip"]


def heading(markdown: str) -> str:
    """The text of the first heading of a markdown cell."""
    return next(line.lstrip("#").strip() for line in markdown.splitlines() if line.startswith("#"))


def _processes_of(home: Path) -> list[int]:
    """Every process whose environment carries MARKER=home: the server and its kernel."""
    marker, found = f"{MARKER}={home}".encode(), []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            with contextlib.suppress(OSError):
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
    return found


@pytest.fixture
def lab(tmp_path):
    """JupyterLab on loopback serving a copy of the deck, with settings and workspace of its own (no news pop-up over
    the slides); yields the URL that opens the copy. Stops the server and its kernel afterwards, failed or not."""
    if importlib.util.find_spec("jupyterlab_slideshow") is None:
        _skip_or_fail("jupyterlab-slideshow is not installed (pip install -e '.[lecture]')")
    home = tmp_path / "lab"
    notebooks = home / "notebooks"
    notebooks.mkdir(parents=True)
    shutil.copy(DECK, notebooks / DECK.name)
    news = home / "settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True)
    news.write_text(json.dumps({"fetchNews": "false"}))
    env = {**os.environ, MARKER: str(home), "JUPYTER_CONFIG_DIR": str(home / "config"),
           "JUPYTER_RUNTIME_DIR": str(home / "runtime"), "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces")}
    port, token = free_port(), secrets.token_hex(16)
    command = [str(BIN / "jupyter"), "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}", "--ServerApp.port_retries=0",
               f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={notebooks}",
               "--LabApp.expose_app_in_browser=True"]  # window.jupyterapp: the notebook's state, read by the test
    if os.geteuid() == 0:  # containers run tests as root
        command.append("--allow-root")
    log = (home / "jupyter-lab.log").open("w")
    server = subprocess.Popen(command, cwd=notebooks, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    watchdog = stop_when_the_tests_end([sys.executable, "-c", f"import os; os.killpg({server.pid}, 15)"], home)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_jupyterlab(server, url, token, home / "jupyter-lab.log", HANG_GUARD_MS / 1000)
        yield f"{url}/lab/tree/{DECK.name}?token={token}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)  # the server shuts its kernel down
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        for pid in _processes_of(home):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        log.close()
        watchdog.kill()
        watchdog.wait()


@pytest.fixture
def screenshots(tmp_path) -> Path:
    folder = Path(os.environ.get("RL_COURSE_SCREENSHOTS", tmp_path / "screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


NOTEBOOK = "jupyterapp.shell.currentWidget"
READY = f"{NOTEBOOK} && {NOTEBOOK}.sessionContext && {NOTEBOOK}.sessionContext.session?.kernel?.status === 'idle'"
RUN_CELLS = f"""async (indexes) => {{
    const panel = {NOTEBOOK};
    for (const index of indexes) {{ panel.content.activeCellIndex = index; await jupyterapp.commands.execute('notebook:run-cell'); }}
}}"""
ACTIVE = f"{NOTEBOOK}.content.activeCellIndex"
FIGURE_ON_SLIDE = ".jp-CodeCell.jp-deck-mod-visible .rl-live img"  # a redraw replaces the output, and the image with it
REDRAWN = f"(src) => document.querySelector('{FIGURE_ON_SLIDE}')?.src !== src"


def test_the_deck_presents_in_jupyterlab_with_sliders_that_redraw_their_figure(chromium, lab, screenshots):
    from playwright.sync_api import sync_playwright

    committed = hashlib.sha256(DECK.read_bytes()).hexdigest()
    nb = nbformat.read(DECK, as_version=4)
    start, code = slide_of(nb, FIGURE)
    title = heading(nb.cells[start].source)
    assert "λ" in title
    problems = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 860})
            page.set_default_timeout(HANG_GUARD_MS)
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.goto(lab)
            page.wait_for_function(f"window.jupyterapp && {READY}", timeout=HANG_GUARD_MS)
            page.evaluate(RUN_CELLS, [*setup_cells(nb), code])
            page.wait_for_function(f"{READY} && {NOTEBOOK}.content.widgets[{code}].model.executionCount !== null",
                                   timeout=HANG_GUARD_MS)
            assert page.locator(".jp-CodeCell.jp-mod-active .jp-Cell-inputWrapper").is_visible()  # hidden only on slides

            # as the lecturer: select the title slide, press the deck button, page on with the arrow key
            page.locator(".jp-Notebook .jp-Cell").first.click()
            page.locator(".jp-NotebookPanel-toolbar [data-jp-item-name='deck'] jp-button").click()
            page.wait_for_function("document.body.dataset.jpDeckMode === 'presenting'")
            for _ in range(len(nb.cells)):
                active = page.evaluate(ACTIVE)
                if active == start:
                    break
                page.keyboard.press("ArrowRight")
                page.wait_for_function(f"{ACTIVE} !== {active}")
            assert page.evaluate(ACTIVE) == start, "the arrow key did not page to the slide"

            shown = page.locator(".jp-Cell.jp-deck-mod-visible")
            slide = page.locator(".jp-Deck .jp-Notebook")
            assert shown.locator("h2").first.inner_text() == title  # as written: λ stays λ (no upper-casing theme)
            sliders = shown.locator(".widget-slider")
            assert sliders.count() == 2 and all(sliders.nth(i).is_visible() for i in range(2))
            text = slide.inner_text()
            assert "HBox(children" not in text and "live.live(" not in text, "the slide shows widget reprs or code"
            code_input = page.locator(".jp-CodeCell.jp-deck-mod-visible .jp-Cell-inputWrapper")
            assert code_input.count() == 1 and not code_input.is_visible(), "the figure's code shows on the slide"
            figure, readout = page.locator(FIGURE_ON_SLIDE), shown.locator(".rl-readout")
            assert figure.count() == 1 and readout.inner_text().startswith("λ = 0.80, γ = 0.90")
            page.screenshot(path=str(screenshots / "live_deck_before.png"))

            # the keyboard on the λ slider: one step, one redraw, and the slide stays
            before = figure.get_attribute("src")
            sliders.nth(0).locator(".noUi-handle").focus()
            page.keyboard.press("ArrowRight")
            page.wait_for_function(REDRAWN, arg=before)
            assert readout.inner_text().startswith("λ = 0.85, γ = 0.90")
            assert sliders.nth(0).locator(".widget-readout").inner_text() == "0.85"
            assert shown.locator("h2").first.inner_text() == title
            page.screenshot(path=str(screenshots / "live_deck_lambda_moved.png"))

            # the mouse on the γ slider: dragged to the left, the figure follows
            before = figure.get_attribute("src")
            box = sliders.nth(1).locator(".noUi-handle").bounding_box()
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            page.mouse.down()
            page.mouse.move(box["x"] - 50, box["y"] + box["height"] / 2, steps=8)
            page.mouse.up()
            page.wait_for_function(REDRAWN, arg=before)
            assert readout.inner_text().startswith("λ = 0.85, γ = ") and "γ = 0.90" not in readout.inner_text()
            page.screenshot(path=str(screenshots / "live_deck_gamma_dragged.png"))
        finally:
            browser.close()
    assert problems == [], problems
    assert hashlib.sha256(DECK.read_bytes()).hexdigest() == committed, "the committed deck changed"
