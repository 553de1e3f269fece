"""The lecture deck runs top to bottom, every slider redraws its figure, and the exported page presents in Chromium.

The deck is executed once per session (a kernel kept open to drive the sliders afterwards), exported once, and
opened in the system's Chromium (/usr/bin/chromium, driven by Playwright; no browser is downloaded). Screenshots
of every slide go to $RL_COURSE_SCREENSHOTS if set, else to the test's temporary folder.
"""

import json
import os
import re
import shutil
from pathlib import Path

import nbformat
import numpy as np
import pytest

from rl_course import lecture, tabular
from rl_course.lecture import slides

ROOT = Path(__file__).resolve().parents[1]
DECK = ROOT / slides.DECK
HANG_GUARD_SECONDS = 600  # per cell; the whole deck: 24.5 s of the kernel's CPU, 137 s on two cores at load 14 (benchmarks/lecture.py)
PANELS = ("clip_panel", "horizon_panel", "weights_panel", "coefficient_panel", "lambda_panel", "gae_panel")

# Runs in the deck's kernel after the last cell: every control of every Live panel through its range.
DRIVE_SLIDERS = "import json as _json\nfrom rl_course.lecture import live as _live\nprint(_json.dumps(_live.drive_controls(globals())))"


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    """The deck executed top to bottom, its sliders then driven in the same kernel; (notebook, slider report)."""
    from nbclient import NotebookClient

    nb = nbformat.read(DECK, as_version=4)
    client = NotebookClient(nb, timeout=HANG_GUARD_SECONDS, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path_factory.mktemp("deck"))}})
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index)
        client.set_widgets_metadata()
        driver = nbformat.v4.new_code_cell(DRIVE_SLIDERS)
        nb.cells.append(driver)
        client.execute_cell(driver, len(nb.cells) - 1)
        check = nbformat.v4.new_code_cell("print(_json.dumps({'best_alphas': walk_table.best_alphas.tolist(), "
                                          "'best_errors': walk_table.best_errors.tolist(), 'walk': walk.states.tolist()}))")
        nb.cells.append(check)
        client.execute_cell(check, len(nb.cells) - 1)
    report = json.loads(driver.outputs[-1]["text"])
    values = json.loads(check.outputs[-1]["text"])
    del nb.cells[-2:]
    return nb, report, values


@pytest.fixture(scope="module")
def page(executed, tmp_path_factory):
    nb, _, _ = executed
    path = tmp_path_factory.mktemp("slides") / "credit_assignment.html"
    path.write_text(slides.export_html(nb), encoding="utf-8")
    return path


def test_the_deck_is_stored_without_outputs_and_its_cells_continue_slides_without_a_slide_type():
    nb = nbformat.read(DECK, as_version=4)
    assert not [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    kinds = [c.metadata.get("slideshow", {}).get("slide_type") for c in nb.cells]
    assert kinds[0] == "slide"
    # a cell that continues its slide has no slide type: nbconvert reads none as "-", and jupyterlab-slideshow (the live
    # path, tests/test_live_deck.py) shows a cell marked "-" on no slide at all
    assert set(kinds) <= {"slide", "subslide", "fragment", None, "skip", "notes"}
    assert slides.count_slides(nb) >= 20
    # each slide short: at most 900 characters of markdown
    long = [c.source[:40] for c in nb.cells if c.cell_type == "markdown" and len(c.source) > 900]
    assert not long, f"slides too long: {long}"


@pytest.mark.notebook
def test_the_deck_runs_top_to_bottom_without_errors(executed):
    nb, _, _ = executed
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {}) or 'src="data:image/png;base64,' in o.get("data", {}).get("text/html",
                                                                                                                               "")]
    assert len(images) >= 10, f"expected a figure per computed slide, got {len(images)}"
    live_figures = [o for o in outputs if 'class="rl-live"' in o.get("data", {}).get("text/html", "")]
    assert len(live_figures) == len(PANELS)
    animations = [o for o in outputs if "text/html" in o.get("data", {}) and "<img" in o["data"]["text/html"]]
    assert animations, "the eligibility-trace animation is missing"


@pytest.mark.notebook
def test_every_slider_redraws_a_figure_through_its_range(executed):
    _, report, _ = executed
    panels = {key.split(".")[0] for key in report}
    assert panels == set(PANELS)
    assert {"clip_panel.eps", "clip_panel.advantage", "horizon_panel.n", "weights_panel.lam", "weights_panel.gamma",
            "lambda_panel.lam", "gae_panel.gamma"} <= set(report)
    for key, visits in report.items():
        assert len(visits) >= 2, key
        for visit in visits:
            assert visit["png"] > 5_000 and visit["inked"] > 0.03, f"{key} = {visit['value']}: no figure drawn"
        # every move triggers exactly one redraw, which changes the picture (a position equal to the value before is no move)
        assert [v["redrawn"] for v in visits] == [int(v["moved"]) for v in visits], key
        assert [v["changed"] for v in visits] == [v["moved"] for v in visits], key
        assert sum(v["moved"] for v in visits) >= len(visits) - 1, key
    assert len(report["clip_panel.advantage"]) == 2 and len(report["horizon_panel.n"]) == len(lecture.HORIZONS)
    assert len(report["weights_panel.lam"]) == 21


@pytest.mark.notebook
def test_the_deck_shows_the_assignments_numbers(executed):
    """The random-walk table is assignment 01's (100 runs × 10 episodes, seed 0) and the walk its first episode."""
    _, _, values = executed
    expected = lecture.random_walk_table()
    np.testing.assert_array_equal(values["best_alphas"], expected.best_alphas)
    np.testing.assert_allclose(values["best_errors"], expected.best_errors, rtol=1e-12)
    first = tabular.sample_episodes(lecture.random_walk_env(), 1, seed=0)[0]
    assert values["walk"] == first.states.tolist()


@pytest.mark.notebook
def test_the_exported_page_is_self_contained(executed, page):
    nb, _, _ = executed
    html = page.read_text(encoding="utf-8")
    assert slides.network_references(html) == []
    assert "window.MathJax" in html and slides.MATHJAX_CDN not in html, "MathJax is not inlined (django-static-mathjax missing?)"
    assert "Reveal.initialize" in html and not re.search(r"<script[^>]*\bsrc=", html)  # every script inlined
    assert len(re.findall(r"<section[^>]*>\s*<section", html)) == slides.count_slides(nb)
    assert len(re.findall(r'<img[^>]*src="data:image/png;base64', html)) >= 10
    assert "application/vnd.jupyter.widget" not in html and "HBox(children" not in html
    assert ("controls (live in JupyterLab): ε = 0.20, advantage = A &gt; 0" in html
            or "controls (live in JupyterLab): ε = 0.20, advantage = A > 0" in html)
    assert "Traceback" not in html


def _slide_of(nb, cell_index: int) -> int:
    """The index (from 0) of the slide that shows cell ``cell_index``."""
    return sum(c.metadata.get("slideshow", {}).get("slide_type") == "slide" for c in nb.cells[: cell_index + 1]) - 1


def _chromium() -> str | None:
    return os.environ.get("RL_COURSE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture
def screenshots(tmp_path) -> Path:
    folder = Path(os.environ.get("RL_COURSE_SCREENSHOTS", tmp_path / "screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.mark.notebook
def test_every_slide_of_the_page_shows_in_chromium(executed, page, screenshots):
    chromium = _chromium()
    if chromium is None:
        if os.environ.get("RL_COURSE_REQUIRE_BROWSER"):
            pytest.fail("RL_COURSE_REQUIRE_BROWSER is set but no chromium is installed (apt-get install chromium)")
        pytest.skip("no chromium on this machine (apt-get install chromium)")
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    nb, _, _ = executed
    requested, problems = [], []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        try:
            view = browser.new_page(viewport={"width": 1280, "height": 860})
            view.route(re.compile(r"^(https?|wss?)://"), lambda route: (requested.append(route.request.url), route.abort()))
            view.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            view.on("console", lambda message: problems.append(f"console: {message.text}") if message.type == "error" else None)
            view.goto(page.as_uri())
            view.wait_for_function("window.Reveal && Reveal.isReady()", timeout=30_000)
            view.wait_for_function("window.MathJax && MathJax.startup && MathJax.startup.promise", timeout=30_000)
            view.evaluate("MathJax.startup.promise")
            total = view.evaluate("Reveal.getTotalSlides()")
            assert total == slides.count_slides(nb)
            for index in range(total):
                view.evaluate(f"Reveal.slide({index})")
                view.wait_for_timeout(150)
                slide = view.evaluate("""() => {
                    const s = Reveal.getCurrentSlide();
                    return {text: s.innerText.trim(), images: s.querySelectorAll('img').length,
                            formulas: s.querySelectorAll('mjx-container').length, texErrors: s.querySelectorAll('mjx-merror').length,
                            brokenImages: [...s.querySelectorAll('img')].filter(i => !i.complete || i.naturalWidth === 0).length,
                            raw: (s.innerText.match(/\\$\\$|\\\\frac|\\\\mathbb/g) || []).length};
                }""")
                view.screenshot(path=str(screenshots / f"slide_{index + 1:02d}.png"))
                where = f"slide {index + 1}: {slide['text'][:60]!r}"
                assert len(slide["text"]) > 20 or slide["images"], f"{where} is empty"
                assert not re.search(r"Traceback|Error:|NameError|is not defined", slide["text"]), f"{where} shows an error"
                assert slide["texErrors"] == 0 and slide["raw"] == 0, f"{where}: a formula did not typeset"
                assert slide["brokenImages"] == 0, f"{where}: an image did not load"
            # the animation plays: its frame changes after pressing play
            animated = next(i for i, c in enumerate(nb.cells) if "trace_animation" in c.source)
            view.evaluate(f"Reveal.slide({_slide_of(nb, animated)})")
            frame = view.locator(".animation img").first
            before = frame.get_attribute("src")
            view.locator(".animation button[title='Play']").first.click()
            view.wait_for_timeout(800)
            assert frame.get_attribute("src") != before, "the eligibility-trace animation does not play"
            view.screenshot(path=str(screenshots / "animation_playing.png"))
        finally:
            browser.close()
    assert requested == [], f"the page tried to load from the network: {requested}"
    assert problems == [], problems


def _tiny_deck(path: Path, code: str) -> Path:
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# A title\n\n$$\\rho(\\theta) = \\frac{\\pi_\\theta}{\\pi^{\\text{old}}}$$",
                                      metadata={"slideshow": {"slide_type": "slide"}}),
        nbformat.v4.new_code_cell(code, metadata={"slideshow": {"slide_type": "-"}}),
        nbformat.v4.new_markdown_cell("## Second", metadata={"slideshow": {"slide_type": "slide"}}),
    ])
    nbformat.write(nb, path)
    return path


def test_rl_course_slides_writes_one_page_that_loads_nothing(tmp_path, capsys):
    from rl_course import cli

    deck = _tiny_deck(tmp_path / "tiny.ipynb", "from rl_course import lecture\nlecture.show(lecture.plot_critic_loss())")
    assert cli.main(["slides", "--deck", str(deck), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    page = tmp_path / "out" / "tiny.html"
    assert f"wrote {page}: 2 slides" in out and "loads nothing from the network" in out
    html = page.read_text(encoding="utf-8")
    assert slides.network_references(html) == [] and len(re.findall(r'<img[^>]*src="data:image/png;base64', html)) == 1
    assert "lecture.show" not in html  # inputs are hidden


def test_rl_course_slides_names_the_failing_cell(tmp_path, capsys):
    from rl_course import cli

    deck = _tiny_deck(tmp_path / "broken.ipynb", "raise ValueError('lam (λ) must be in [0, 1]')")
    assert cli.main(["slides", "--deck", str(deck), "--out", str(tmp_path / "out")]) == 2
    assert "lam (λ) must be in [0, 1]" in capsys.readouterr().err
    assert not (tmp_path / "out" / "broken.html").exists()


def test_network_references_finds_what_a_page_would_fetch():
    page = ('<link rel="stylesheet" href="https://cdn.example/x.css"><script src="//cdn.example/y.js"></script>'
            '<script>var a = "https://ignored.example";</script><style>@import url(https://cdn.example/z.css); '
            'b { background: url("http://cdn.example/i.png") } c { background: url(data:image/png;base64,AAAA) }</style>'
            '<a href="https://www.example">a link is not fetched</a><img src="data:image/png;base64,AAAA">')
    assert slides.network_references(page) == ["https://cdn.example/x.css", "//cdn.example/y.js",
                                                 "https://cdn.example/z.css", "http://cdn.example/i.png"]
