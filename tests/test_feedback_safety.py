"""What a hostile submission can put in front of people, graded through `rl-course feedback` in a process of its own
(so that the kernels' file descriptors are those of a real grader's terminal): no script, event handler or
`javascript:` link in the feedback page or in the autograded notebook Formgrader shows, and nothing the kernel writes
to its own stdout or stderr among the grader's lines. A correct solution keeps its marks and its formulas."""

import json
import os
import re
import sqlite3
import subprocess
import sys
import warnings

import nbformat
import pytest

ASSIGNMENT, NOTEBOOK = "01_td_lambda", "td_lambda.ipynb"
FORGED = "12 / 12 FORGED"

# Cells inserted after the answer cell td_error: the kernel's own streams, then HTML that would run in a reader's page.
FORGING = f"""import os, subprocess, sys
os.write(2, b"\\x1b[32malice {FORGED} fd2\\x1b[0m\\n")
os.write(1, b"\\ralice {FORGED} fd1\\n")
sys.__stderr__.write("alice {FORGED} sys.__stderr__\\n"); sys.__stderr__.flush()
subprocess.run(["sh", "-c", "echo alice {FORGED} subprocess >&2"])
"""
MARKDOWN = """Notes <script>alert("md-script")</script> <img src=x onerror=alert("md-img")> <svg onload=alert("md-svg")></svg>
[click](javascript:alert("md-link")) <iframe src="https://example.org"></iframe> <style>.output { display: none }</style>
<a href="javascript:alert('md-a')">a</a> <div style="position: fixed; top: 0">12 / 12</div>

$\\text{<img/src=x/onerror=alert("mathml")>}$
"""
OUTPUTS = """from IPython.display import HTML, Javascript, Markdown, display
display(HTML('<script>alert("out-script")</script><b onclick="alert(1)">bold</b><a href="javascript:alert(2)">a</a>'))
display(Javascript('alert("out-js")'))
display(Markdown('<img src=x onerror=alert("out-md")>'))
display({"application/vnd.jupyter.widget-view+json": {"model_id": "x"}, "image/svg+xml": "<svg onload=alert(3)></svg>",
         "text/plain": "a widget"}, raw=True)
"""
UNSAFE_TAG = re.compile(r"<(script|iframe|svg|style|object|embed)\b|<[^>]*\s(on[a-z]+\s*=|[a-z]+\s*=\s*[\"']?\s*javascript:)", re.I)


def _unsafe(html: str) -> list[str]:
    """The tags of ``html`` that would run code or pull in a frame or a stylesheet."""
    return [m.group(0)[:80] for m in UNSAFE_TAG.finditer(html)]


@pytest.fixture(scope="module")
def graded(course_root, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("feedback-safety")
    solution = nbformat.read(course_root / "solutions" / ASSIGNMENT / NOTEBOOK, as_version=4)
    solution.cells = [c for c in solution.cells if c.metadata.get("nbgrader", {}).get("grade_id") not in {"check_against_sweep", "sweep"}]
    hostile = nbformat.from_dict(json.loads(nbformat.writes(solution)))
    at = 1 + next(i for i, c in enumerate(hostile.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == "td_error")
    hostile.cells[at:at] = [nbformat.v4.new_code_cell(FORGING), nbformat.v4.new_markdown_cell(MARKDOWN), nbformat.v4.new_code_cell(OUTPUTS)]
    hostile.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}, "version_major": 2, "version_minor": 0}}
    for name, nb in (("solution", solution), ("hostile", hostile)):
        (tmp / "submitted" / name / ASSIGNMENT).mkdir(parents=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the cells added here have no ids; nbgrader gives them some
            nbformat.write(nb, tmp / "submitted" / name / ASSIGNMENT / NOTEBOOK)
    db = tmp / "gradebook.db"
    path = os.pathsep.join(filter(None, [str(course_root), os.environ.get("PYTHONPATH")]))
    result = subprocess.run([sys.executable, "-m", "rl_course.cli", "feedback", str(tmp / "submitted"), "--out", str(tmp / "feedback"),
                             "--timeout", "30", "--jobs", "2", "--db", f"sqlite:///{db}", "--course", str(course_root)],
                            capture_output=True, text=True, timeout=600, cwd=tmp,
                            env={**os.environ, "PYTHONPATH": path})
    with sqlite3.connect(db) as connection:
        recorded = {student: json.loads(grade) for student, grade in connection.execute("select student, grade from rl_course_graded")}
    pages = {name: (tmp / "feedback" / name / ASSIGNMENT / "td_lambda.html").read_text() for name in ("solution", "hostile")}
    return dict(result=result, recorded=recorded, pages=pages)


@pytest.mark.notebook
def test_the_kernels_own_output_never_reaches_the_graders_terminal(graded):
    result = graded["result"]
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"^hostile +12 / 12$", result.stdout, re.M), result.stdout  # the streams cost no points here
    for stream in (result.stdout, result.stderr):
        assert FORGED not in stream and "\x1b" not in stream and "\r" not in stream, stream


@pytest.mark.notebook
def test_the_feedback_page_holds_no_script_handler_or_javascript_link(graded):
    page, solution = graded["pages"]["hostile"], graded["pages"]["solution"]
    assert "md-script" in page and "out-script" in page  # the cells are there, as text
    assert _unsafe(page) == _unsafe(solution), set(_unsafe(page)) - set(_unsafe(solution))  # only the page's own MathJax
    assert not re.search(r"<[^>]*javascript:", page, re.I), re.findall(r"<[^>]*javascript:[^>]*>", page, re.I)
    assert "position: fixed" not in page and "widget-state" not in page


@pytest.mark.notebook
def test_the_autograded_notebook_holds_no_script_handler_or_javascript_link(graded):
    from nbconvert.filters import markdown2html

    nb = nbformat.reads(graded["recorded"]["hostile"]["notebooks"][NOTEBOOK], as_version=4)
    shown = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            shown.append(markdown2html(cell.source))
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            assert set(data) <= {"text/plain", "text/html", "text/markdown", "image/png", "image/jpeg", "text/latex",
                                 "application/json"}, data
            shown += [data.get("text/html", ""), markdown2html(data.get("text/markdown", ""))]
    assert any("md-script" in html for html in shown) and any("out-script" in html for html in shown)
    for html in shown:
        assert not _unsafe(html) and not re.search(r"<[^>]*javascript:", html, re.I), html
    assert "widgets" not in nb.metadata


@pytest.mark.notebook
def test_a_correct_solution_keeps_full_marks_and_its_formulas(graded):
    assert re.search(r"^solution +12 / 12$", graded["result"].stdout, re.M), graded["result"].stdout
    page = graded["pages"]["solution"]
    assert page.count("<math") > 20 and re.search(r'<math [^>]*display="block"', page)
    assert "<table>" in page and "V after the episode at state=3" in page
