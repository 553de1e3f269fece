"""The laptop path of the README, in a real browser: JupyterLab with the student edition's Jupyter configuration,
the released 01 opened, Validate pressed on the untouched notebook and again after the solution is typed in.

JupyterLab runs on loopback with a token, from the repository's own environment, with the configuration the
student wheel installs (``rl_course.course.edition.JUPYTER_CONFIG``) as its Jupyter configuration; Chromium is the
system's, driven by Playwright. Every process the test starts is stopped, even when it fails. Screenshots go to
``$RL_COURSE_SCREENSHOTS`` (default: the test's own temporary folder, ``screenshots/``).
"""

from __future__ import annotations

import ast
import concurrent.futures
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from helpers import free_port, wait_for_jupyterlab

from rl_course.course.edition import JUPYTER_CONFIG

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT, NOTEBOOK = "01_td_lambda", "td_lambda.ipynb"
BIN = Path(sys.executable).parent
TOKEN = "laptop-student-token"
ERROR_TEXTS = ("Error fetching courses", "exchange directory does not exist", "Formgrader", "Create Assignment",
               "Assignment List", "Course List")


def _chromium() -> str | None:
    return os.environ.get("RL_COURSE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


pytestmark = [
    pytest.mark.notebook,
    pytest.mark.skipif(_chromium() is None, reason="no chromium on this machine"),
]


@pytest.fixture
def screenshots(tmp_path) -> Path:
    folder = Path(os.environ.get("RL_COURSE_SCREENSHOTS", tmp_path / "screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def laptop_environment(home: Path) -> dict:
    """The environment of a student's shell after the README's set-up: the student edition's Jupyter configuration
    (what the wheel installs under ``<venv>/etc/jupyter``) and no settings of their own."""
    prefix = home / "venv-etc"
    for name, content in JUPYTER_CONFIG.items():
        (prefix / name).parent.mkdir(parents=True, exist_ok=True)
        (prefix / name).write_text(json.dumps(content, indent=2) + "\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "VIRTUAL_ENV"))}
    env.update(JUPYTER_CONFIG_PATH=str(prefix / "etc" / "jupyter"), JUPYTER_CONFIG_DIR=str(home / ".jupyter"),
               JUPYTER_RUNTIME_DIR=str(home / "runtime"), HOME=str(home), PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}",
               NO_COLOR="1")
    return env


@contextlib.contextmanager
def jupyter_lab(home: Path, env: dict):
    """`jupyter lab notebooks/` (the README's command) on loopback with a token; yields its URL; stops it and its kernels."""
    port = free_port()
    command = [str(BIN / "jupyter"), "lab", "notebooks/", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
               f"--IdentityProvider.token={TOKEN}"]
    if os.geteuid() == 0:  # containers run tests as root; a student's laptop does not
        command.append("--allow-root")
    log = (home / "jupyter-lab.log").open("w")
    lab = subprocess.Popen(command, cwd=home, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_jupyterlab(lab, url, TOKEN, home / "jupyter-lab.log")
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(lab.pid, signal.SIGTERM)  # the server, and the kernels it started (same session)
        try:
            lab.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(lab.pid, signal.SIGKILL)
            lab.wait()
        log.close()


def rl_course_validate(notebook: Path, env: dict) -> tuple[int, str]:
    """The README's command line check: `rl-course validate NOTEBOOK`; returns its exit status and output."""
    result = subprocess.run([str(BIN / "rl-course"), "validate", str(notebook)], capture_output=True, text=True, env=env,
                            cwd=notebook.parent, timeout=300)
    return result.returncode, result.stdout


def failed_cells(verdict: str) -> list[str]:
    """The start of the first line (the docstring) of each test cell a verdict lists as failed, the dialog's or the
    command's (which cuts lines at nbgrader's Validator.width, 90 characters)."""
    blocks = verdict.split("The following cell failed:")[1:]
    return [block.strip().splitlines()[0].strip()[:60] for block in blocks]


def solution_code(grade_id: str) -> str:
    """The solution of an answer cell, as a student would type it: without nbgrader's markers."""
    solution = nbformat.read(ROOT / "solutions" / ASSIGNMENT / NOTEBOOK, as_version=4)
    cell = next(c for c in solution.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)
    return "\n".join(line for line in cell.source.splitlines() if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))


def press_validate(page, screenshot: Path) -> str:
    page.get_by_role("toolbar", name="main area toolbar").get_by_text("Validate",
                                                                      exact=True).click()  # the button, not the word in the text
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for(timeout=240_000)
    page.locator(".jp-Dialog #validation-message").wait_for(timeout=240_000)
    page.screenshot(path=str(screenshot))
    text = dialog.inner_text()
    dialog.get_by_role("button").last.click()
    dialog.wait_for(state="detached")
    return text


def assert_no_error_panels(page) -> None:
    body = page.locator("body").inner_text()
    for text in ERROR_TEXTS:
        assert text not in body, f"{text!r} shows in the student's JupyterLab"
    assert "Nbgrader" not in page.locator(".lm-MenuBar").inner_text(), "a Nbgrader menu is offered on a laptop"
    assert page.locator(".jp-Notification-Toast-error, .jp-toast-error").count() == 0, "an error notification shows"


def test_a_laptop_student_validates_01_in_jupyterlab_as_rl_course_validate_does(tmp_path, screenshots):
    from playwright.sync_api import sync_playwright

    home = tmp_path / "student"
    (home / "notebooks").mkdir(parents=True)
    shutil.copytree(ROOT / "notebooks" / ASSIGNMENT, home / "notebooks" / ASSIGNMENT)
    notebook = home / "notebooks" / ASSIGNMENT / NOTEBOOK
    env = laptop_environment(home)
    released = nbformat.read(notebook, as_version=4)
    answers = [(i, c.metadata.nbgrader.grade_id) for i, c in enumerate(released.cells) if c.metadata.get("nbgrader", {}).get("solution")]
    graded = [c for c in released.cells if c.metadata.get("nbgrader", {}).get("grade")]

    with jupyter_lab(home, env) as url, sync_playwright() as playwright, \
            concurrent.futures.ThreadPoolExecutor(1) as background:
        browser = playwright.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{url}/lab/tree/{ASSIGNMENT}/{NOTEBOOK}?token={TOKEN}")
            page.locator(".jp-Notebook .jp-Cell").first.wait_for(timeout=240_000)
            page.locator(".jp-StatusBar-TextItem", has_text="Idle").first.wait_for(timeout=240_000)
            page.wait_for_timeout(1500)  # the kernel's language_info reaches the notebook's metadata
            page.screenshot(path=str(screenshots / "01_opened.png"))
            tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text=NOTEBOOK)
            assert "jp-mod-dirty" not in (tab.get_attribute("class") or ""), \
                "the notebook opens marked unsaved: its stored metadata is not what JupyterLab writes"
            assert_no_error_panels(page)

            # untouched: the button and the command report the same failing cells, all the graded ones
            command = background.submit(rl_course_validate, notebook, env)
            dialog = press_validate(page, screenshots / "02_validate_untouched.png")
            code, output = command.result()
            assert "failed" in dialog.lower() and code == 1, (dialog[:2000], output[-2000:])
            assert failed_cells(dialog) == failed_cells(output) == [c.source.splitlines()[0][:60] for c in graded], (dialog[:3000],
                                                                                                                     output[-3000:])
            assert "td_error is not written yet" in dialog and "td_lambda_episode is not written yet" in dialog
            assert "NotImplementedError\n" not in dialog and "checks.py" not in dialog  # named, and the checks' frames hidden

            # the solution typed into each answer cell through the editor, saved: both report success
            cells = page.locator(".jp-Notebook .jp-Cell")
            for index, grade_id in answers:
                editor = cells.nth(index).locator(".cm-content")
                editor.scroll_into_view_if_needed()
                editor.click()
                page.keyboard.press("Control+a")
                page.keyboard.insert_text(solution_code(grade_id))
            page.keyboard.press("Escape")
            page.screenshot(path=str(screenshots / "03_solution_typed.png"))
            page.keyboard.press("Control+s")
            page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.jp-mod-dirty").wait_for(state="detached", timeout=240_000)
            saved = nbformat.read(notebook, as_version=4)
            assert [saved.cells[i].source for i, _ in answers] == [solution_code(g) for _, g in answers]
            command = background.submit(rl_course_validate, notebook, env)
            dialog = press_validate(page, screenshots / "04_validate_solution.png")
            code, output = command.result()
            assert "Success! Your notebook passes all the tests." in dialog, dialog[:3000]
            assert code == 0 and "Success! Your notebook passes all the tests." in output, output[-3000:]
            assert_no_error_panels(page)
        finally:
            browser.close()
    assert not re.search(r"Traceback|\[E ", (home / "jupyter-lab.log").read_text()), (home / "jupyter-lab.log").read_text()[-3000:]


# ------------------------------------------------------------------ what the browser test relies on, checked cheaply

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _run_cells(sources: list[str], tmp_path: Path) -> list:
    """Run the cells in a real IPython kernel (nbclient, the course's python3 kernel); returns the executed cells."""
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    NotebookClient(nb, kernel_name="python3", timeout=120, allow_errors=True, resources={"metadata": {"path": str(tmp_path)}}).execute()
    return nb.cells


def _error(cell) -> tuple[str, str, str]:
    error = next(o for o in cell.outputs if o.output_type == "error")
    return error.ename, error.evalue, ANSI.sub("", "\n".join(error.traceback))


def test_a_failing_check_shows_its_message_then_the_test_cells_line_in_ipythons_traceback(tmp_path):
    """Message first, wrapped between words to lines nbgrader's Validate does not cut (83 columns and its indent of 4),
    then the test cell's line without the checks' frames; a test cell's own assert shows its message first too."""
    own = "a test cell's own assertion, whose message is longer than the 83 columns a line of the verdict keeps whole"
    cells = _run_cells([
        "import numpy as np\nfrom rl_course import checks",
        'def td_error(V, s):\n    """Ψ₍₁₎."""\n    # YOUR CODE HERE\n    raise NotImplementedError()',
        '"""A test cell."""\nchecks.assert_own_work(td_error)',
        'got = np.array([0.0, 0.5])\nchecks.expect_close(got, [0.0, 0.25], "V after the episode", index_names=("state",))',
        f'x = 1\nassert x == 2, "{own}"',
        'def rms(V):\n    return V[5]\nrms([1.0])',
    ], tmp_path)
    for cell, message, line in [(cells[2], "td_error is not written yet: write its code in place of `raise NotImplementedError()`, "
                                           "run its cell, then this one", "checks."),
                                (cells[3], "V after the episode at state=1: expected 0.25, got 0.5", "checks."),
                                (cells[4], own, "assert x == 2")]:
        ename, evalue, traceback = _error(cell)
        assert (ename, evalue) == ("AssertionError", message)
        lines = [line for line in traceback.splitlines() if line.strip()]
        top = next(i for i, line in enumerate(lines) if line.startswith("-----"))
        assert " ".join(lines[:top]) == f"AssertionError: {message}", traceback  # the message first, then the test cell's line
        assert max(map(len, lines[:top])) <= 83, traceback
        assert "checks.py" not in traceback and "_failure" not in traceback and "skipping hidden" not in traceback, traceback
        arrow = max(i for i, line in enumerate(lines) if line.startswith("---->"))
        assert line in lines[arrow], traceback  # the test cell's line that failed, and its context
        assert all(re.match(r"\s+\d+ ", line) for line in lines[arrow + 1:]), traceback
        assert " ".join(traceback.split()).count(message) == 1 + (message in lines[arrow]), traceback  # and in the line itself
    ename, _, traceback = _error(cells[5])  # a student's own error keeps its frames: where in their code it broke
    assert ename == "IndexError" and "in rms" in traceback and "return V[5]" in traceback, traceback


LONG = "a message longer than a line of nbgrader's verdict, which cuts lines at 90 characters, and that it shows in full"


def _graded_notebook(path: Path, x: int) -> Path:
    grade = {"grade": True, "grade_id": "test_x", "locked": True, "points": 1, "schema_version": 3, "solution": False, "task": False}
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(f"from rl_course import checks  # noqa: F401\nx = {x}"),
                                         nbformat.v4.new_code_cell('"""x is one (1 point)."""\nassert x == 1, "x should be 1: ' + LONG +
                                                                   '"', metadata={"nbgrader": grade})])
    nbformat.write(nb, path)
    return path


def test_rl_course_validate_prints_nbgraders_verdict_and_exits_1_when_a_test_cell_fails(tmp_path, capsys, monkeypatch):
    from rl_course import cli

    monkeypatch.chdir(tmp_path)
    assert cli.main(["validate", str(_graded_notebook(tmp_path / "wrong.ipynb", 2))]) == 1
    out = capsys.readouterr().out
    assert "VALIDATION FAILED ON 1 CELL(S)!" in out and failed_cells(out) == ['"""x is one (1 point)."""'] and "x should be 1" in out
    assert f"AssertionError: x should be 1: {LONG}" in " ".join(out.split())  # wrapped between words, not cut
    assert "..." not in out.split("The error was:")[1].split("-----")[0]
    assert cli.main(["validate", str(_graded_notebook(tmp_path / "right.ipynb", 1))]) == 0
    assert "Success! Your notebook passes all the tests." in capsys.readouterr().out
    assert cli.main(["validate", str(tmp_path / "missing.ipynb")]) == 2
    assert capsys.readouterr().err.strip() == f"rl-course: error: NOTEBOOK: no notebook at {tmp_path / 'missing.ipynb'}"


def test_rl_course_validate_on_a_passing_notebook_prints_the_verdict_and_no_warnings(tmp_path):
    """Neither nbgrader's "No nbgrader_config.py file found" (a student's folder has none) nor ipykernel's warning about
    unencrypted TCP (the kernel runs on the same machine) stands next to the verdict, on stdout or stderr."""
    notebook = _graded_notebook(tmp_path / "right.ipynb", 1)
    done = subprocess.run([sys.executable, "-c", "import sys; from rl_course import cli; sys.exit(cli.main(sys.argv[1:]))",
                           "validate", notebook.name], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == "Success! Your notebook passes all the tests."
    assert "nbgrader_config.py" not in done.stderr and "TCP" not in done.stderr and "WARNING" not in done.stderr, done.stderr


def test_validate_gives_a_cell_the_time_grading_gives_it():
    """The student configuration's cell time limit for Validate is the course's for grading (nbgrader_config.py)."""
    from traitlets.config import Config

    course = Config()
    exec((ROOT / "nbgrader_config.py").read_text(), {"get_config": lambda: course})
    student = JUPYTER_CONFIG["etc/jupyter/nbgrader_config.json"]["Execute"]
    assert student["timeout"] == course.ExecutePreprocessor.timeout
    assert student["iopub_timeout"] >= 10


@pytest.mark.parametrize("configuration", ["student", "course"])
def test_validate_skips_the_cells_tagged_demo_as_grading_does(tmp_path, capsys, monkeypatch, configuration):
    """With the student edition's configuration and with the course's own, Validate does not run a demonstration cell:
    here it would set x = 2 after x = 1, and the test cell fails only when it runs."""
    from rl_course import cli

    path = _graded_notebook(tmp_path / "notebook.ipynb", 1)
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(1, nbformat.v4.new_code_cell("x = 2  # a figure, say", metadata={"tags": ["demo"]}))
    nbformat.write(nb, path)
    if configuration == "student":
        (tmp_path / "nbgrader_config.json").write_text(json.dumps(JUPYTER_CONFIG["etc/jupyter/nbgrader_config.json"]))
        monkeypatch.chdir(tmp_path)
    else:
        monkeypatch.chdir(ROOT)
    assert cli.main(["validate", str(path)]) == 0, capsys.readouterr().out
    monkeypatch.chdir(tmp_path / "..")  # no configuration: every cell runs, and the demonstration cell's x fails the test
    (tmp_path / "nbgrader_config.json").unlink(missing_ok=True)
    assert cli.main(["validate", str(path)]) == 1


def test_every_notebook_is_stored_with_the_metadata_jupyterlab_writes(tmp_path):
    from rl_course.course import layout, release

    notebooks = sorted(ROOT.glob(f"{layout.SOURCE_DIR}/*/*.ipynb")) + sorted(ROOT.glob(f"{layout.RELEASE_DIR}/*/*.ipynb"))
    assert len(notebooks) >= 10
    assert {str(path.relative_to(ROOT)): release.notebook_metadata_problems(path) for path in notebooks} == \
        {str(path.relative_to(ROOT)): [] for path in notebooks}
    old = nbformat.v4.new_notebook(metadata={"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                                             "language_info": {"name": "python"}})
    nbformat.write(old, tmp_path / "old.ipynb")
    problems = release.notebook_metadata_problems(tmp_path / "old.ipynb")
    assert len(problems) == 3 and all("metadata." in line for line in problems), problems
    assert "'Python 3 (ipykernel)'" in problems[0] and "not Python 3.11.x" in problems[1]


# Helpers of rl_course.checks that call the function they are given, by the argument's position.
CALLS_ITS_ARGUMENT = {"checks.call_through": 1, "checks.call_replacing": 0}


def _called_names(tree) -> set[str]:
    """The names the code calls: directly, or through a helper of ``rl_course.checks`` it hands them to."""
    called = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Name):
            called.add(node.func.id)
        position = CALLS_ITS_ARGUMENT.get(ast.unparse(node.func))
        if position is not None and len(node.args) > position and isinstance(node.args[position], ast.Name):
            called.add(node.args[position].id)
    return called


@pytest.mark.parametrize("path", sorted(ROOT.glob("notebooks/*/*.ipynb")), ids=lambda p: p.parent.name)
def test_the_visible_part_of_every_graded_cell_runs_the_function_it_grades(path):
    """So that Validate fails on an unwritten or crashing function: the release's test cell names the function in
    ``assert_own_work`` (which fails while it is unwritten) and calls it, directly or through a helper of the notebook."""
    nb = nbformat.read(path, as_version=4)
    helpers = {}
    for cell in nb.cells:
        if cell.cell_type == "code" and not cell.metadata.get("nbgrader", {}).get("grade"):
            with contextlib.suppress(SyntaxError):
                for node in ast.parse(cell.source).body:
                    if isinstance(node, ast.FunctionDef):
                        helpers[node.name] = _called_names(node)
    missing = []
    for cell in nb.cells:
        if not cell.metadata.get("nbgrader", {}).get("grade"):
            continue
        body = ast.parse(cell.source).body
        body = body[1:] if isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) else body  # its docstring
        first = body[0]
        assert isinstance(first, ast.Expr) and ast.unparse(first.value.func) == "checks.assert_own_work", cell.source
        graded = first.value.args[0].id
        callers = {graded} | {name for name, calls in helpers.items() if graded in calls}
        if not callers & _called_names(ast.Module(body=body[1:], type_ignores=[])):
            missing.append(cell.metadata.nbgrader.grade_id)
    assert missing == [], f"{path.name}: these test cells do not run their function outside the hidden tests"
