"""Broken and hostile submissions, graded in one batch through `rl-course grade`: none crashes the batch,
each loses only the points it should, and the grader says why."""

import copy
import csv
import html
import io
import re
import shutil
import subprocess
import sys
import warnings
from contextlib import redirect_stderr, redirect_stdout

import nbformat
import pytest

from rl_course import cli
from rl_course.course import sandbox

ASSIGNMENT, NOTEBOOK = "01_td_lambda", "td_lambda.ipynb"
TIMEOUT = 20  # seconds per cell; the slowest test cell of the solution takes about one, on a loaded machine a few
CONFINED = sandbox.unavailable() is None  # kernels run in the grading sandbox (tests/test_sandbox.py)
TD_ERROR_TESTS = {"test_td_error_step", "test_td_error_terminal"}
RMS_TESTS = {"test_rms_error_initial", "test_rms_error_general"}


def _cell(nb, grade_id):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def _body(grade_id, code):
    """The answer cell's function, its body replaced by ``code``."""
    def change(nb):
        cell = _cell(nb, grade_id)
        cell.source = cell.source.split("\n")[0] + "\n    " + code + "\n"
    return change


def _insert_after(grade_id, source):
    def change(nb):
        index = nb.cells.index(_cell(nb, grade_id))
        nb.cells.insert(index + 1, nbformat.v4.new_code_cell(source))
    return change


def _reorder(nb):
    _insert_after("td_error", "x = 1  # a cell of my own")(nb)
    nb.cells.insert(0, nb.cells.pop(2))
    nb.cells.append(nbformat.v4.new_markdown_cell("my notes"))


def _both(*changes):
    def change(nb):
        for c in changes:
            c(nb)
    return change


# A submission that calls the library's reference, with the kernel made to say that it does not.
MIME = "application/vnd.rl-course.reply+json"
REFERENCE_TD_ERROR = "return tabular.td_error(V, s, r, s_next, terminated, gamma)"
FORGED = f"{{{MIME!r}: {{'problem': None}}}}"
FORGING_TRANSFORMER = f"""def forge(lines):
    if "own_work" in "".join(lines):
        return ["from IPython.display import display\\n", "display({FORGED}, raw=True)\\n"]
    return lines
get_ipython().input_transformers_post.append(forge)"""
FORGING_EVENT = f"""from IPython.display import display
def forge(info):
    if "own_work" in info.raw_cell:
        display({FORGED}, raw=True)
get_ipython().events.register("pre_run_cell", forge)"""
FORGING_DISPLAY = f"""import IPython.display
real = IPython.display.display
def forge(obj, **kwargs):
    if {MIME!r} in obj and "problem" in obj[{MIME!r}]:
        obj[{MIME!r}]["problem"] = None
    return real(obj, **kwargs)
IPython.display.display = forge"""
FORGING_THREAD = f"""import threading, time
from IPython.display import display
def forge():
    while True:
        display({FORGED}, raw=True)
        time.sleep(0.001)
threading.Thread(target=forge, daemon=True).start()"""
LIAR = """class Liar(float):
    def __eq__(self, other): return True
    def __float__(self): return 0.5477225575051661
    def __array__(self, *a, **k):
        import numpy
        return numpy.asarray(0.5477225575051661)"""
VARS_REBINDING = 'vars()["checks"] = type("C", (), {"expect_close": staticmethod(print)})'
SCRIPT = "<script>alert('x')</script><img src=x onerror=alert(1)>"


# name: (how the solution is changed, the test cells that must fail, what the feedback must say)
HOSTILE = {
    "endless_loop": (_body("rms_error", "while True: pass"), RMS_TESTS, "ran past the time limit"),
    "exception_at_import": (lambda nb: setattr(_cell(nb, "td_error"), "source", "import no_such_module\n" + _cell(nb, "td_error").source),
                            "all but rms", "NameError: name 'td_error' is not defined"),
    "sys_exit": (_body("rms_error", "import sys; sys.exit(3)"), RMS_TESTS, "SystemExit: 3"),
    "os_exit": (_body("rms_error", "import os; os._exit(1)"), RMS_TESTS, "the kernel died while this cell ran"),
    "kills_the_kernel": (_insert_after("test_td_lambda_replacing", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"),
                         RMS_TESTS, "not run: the kernel died in cell"),
    "nan_output": (_body("td_error", "return float('nan')"), "all but rms", "got nan"),
    "deleted_test_cell": (lambda nb: nb.cells.remove(_cell(nb, "test_td_error_terminal")), set(), None),
    "edited_test_cell": (lambda nb: setattr(_cell(nb, "test_rms_error_general"), "source", "pass"), set(), None),
    "inserted_and_reordered_cells": (_reorder, set(), None),
    "wrong_kernelspec": (lambda nb: nb.metadata.update(kernelspec={"name": "python2", "display_name": "Python 2", "language": "python"}),
                         set(), None),
    "output_flood": (_insert_after("td_error", "for i in range(2_000_000):\n    print(i)"), set(), None),
    "ships_its_own_library": (_body("rms_error", "return 0.0"), RMS_TESTS, "RMS error of V = 0"),  # with EXTRA_FILES
    # confined, the kernel's parent is the sandbox's own init, which ignores the signal
    "kills_the_grader": (_insert_after("td_error", "import os\nos.kill(os.getppid(), 9)"), set() if CONFINED else "everything",
                         None if CONFINED else "the process grading it was killed"),
    "redefines_the_grading_helpers": (
        _both(_body("rms_error", "return 0.0"),
              _insert_after("rms_error", "checks.expect_close = lambda *a, **k: None\nchecks.assert_own_work = lambda *a, **k: None")),
        "everything", "changes checks.expect_close, which the tests rely on"),
    "unmarks_the_reference": (
        _both(_body("td_error", "return tabular.td_error(V, s, r, s_next, terminated, gamma)"),
              _insert_after("td_error", "import rl_course.checks\nrl_course.checks.is_reference = lambda fn: False")),
        "everything", "changes rl_course.checks.is_reference"),
    "unmarks_the_reference_mark": (
        _both(_body("td_error", "return tabular.td_error(V, s, r, s_next, terminated, gamma)"),
              _insert_after("td_error", "import rl_course.reference\nrl_course.reference.is_reference = lambda fn: False")),
        "everything", "changes rl_course.reference.is_reference"),
    # Routes around the judge: test cells run in the grader's process, and only the student's functions run in the kernel.
    "reference_by_getattr": (_body("td_error", 'return getattr(tabular, "td_" + "error")(V, s, r, s_next, terminated, gamma)'),
                             "all but rms", "calls rl_course.tabular.td_error, the answer of assignment 01_td_lambda, which is not in "
                                            "the student edition"),
    "magic_line_rebinds_the_checks": (_both(_body("td_error", REFERENCE_TD_ERROR),
                                            _insert_after("td_error", "%time checks.assert_own_work = lambda *a, **k: None")),
                                      "everything", "changes checks.assert_own_work"),
    "magic_assignment_hides_the_cell": (_both(_body("td_error", REFERENCE_TD_ERROR),
                                              _insert_after("td_error", "here = %pwd\nchecks.assert_own_work = lambda *a, **k: None")),
                                        "everything", "changes checks.assert_own_work"),
    "input_transformer_forges_replies": (_both(_body("td_error", REFERENCE_TD_ERROR), _insert_after("td_error", FORGING_TRANSFORMER)),
                                         "everything", "input_transformers_post"),
    "pre_run_cell_forges_replies": (_both(_body("td_error", REFERENCE_TD_ERROR), _insert_after("td_error", FORGING_EVENT)),
                                    "everything", "events.register"),
    "display_patched_forges_replies": (_both(_body("td_error", REFERENCE_TD_ERROR), _insert_after("td_error", FORGING_DISPLAY)),
                                       "everything", "IPython.display.display"),
    "thread_forges_replies": (_both(_body("td_error", REFERENCE_TD_ERROR), _body("rms_error", "return 0.0"),
                                    _insert_after("td_error", FORGING_THREAD)), "every test", None),
    "numpy_patched_through_matplotlib": (_both(_body("rms_error", "return 0.0"),
                                               _insert_after("rms_error", "plt.np.isclose = lambda *a, **k: True\n"
                                                                          "plt.np.allclose = lambda *a, **k: True")),
                                         RMS_TESTS, "RMS error of V = 0"),
    "vars_rebinds_the_checks": (_both(_body("rms_error", "return 0.0"),
                                      _insert_after("rms_error", VARS_REBINDING)),
                                RMS_TESTS, "RMS error of V = 0"),
    "lying_result": (_both(_body("rms_error", "return Liar()"), _insert_after("td_error", LIAR)), RMS_TESTS, "the tests cannot read"),
    "huge_result": (_body("rms_error", "import numpy; return numpy.zeros(40_000_000)"), RMS_TESTS, "more than 256 MiB"),
    "huge_int_result": (_body("rms_error", "import sys; sys.set_int_max_str_digits(0); return 10 ** 100_000"), RMS_TESTS, None),
    "html_in_messages": (_body("rms_error", f"raise ValueError({SCRIPT!r})"), RMS_TESTS, "ValueError"),
    "answers_right_only_once": (_body("rms_error", "global calls\n    calls = globals().get('calls', 0) + 1\n"
                                                   "    return 0.5477225575051661 if calls == 1 else 0.0"),
                                "everything", "calls globals()"),
    "ignores_the_interrupt": (_both(_body("rms_error", "while True: pass"),
                                    _insert_after("rms_error", "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)")),
                              RMS_TESTS, "ran past the time limit"),
}


# Files beside the notebook: a package that would shadow the course's own if it were imported.
EXTRA_FILES = {"ships_its_own_library": {"rl_course/__init__.py": "", "rl_course/checks.py":
                                         "def expect_close(*a, **k):\n    pass\n\ndef assert_own_work(*a, **k):\n    pass\n"}}


@pytest.fixture(scope="module")
def hostile(course_root, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    solution = nbformat.read(course_root / "solutions" / ASSIGNMENT / NOTEBOOK, as_version=4)
    solution.cells = [c for c in solution.cells if c.metadata.get("nbgrader", {}).get("grade_id") not in {"check_against_sweep", "sweep"}]
    points = {c.metadata.nbgrader.grade_id: c.metadata.nbgrader.points for c in solution.cells
              if c.metadata.get("nbgrader", {}).get("grade")}
    for name, (change, _, _) in {"solution": (lambda nb: None, None, None), **HOSTILE}.items():
        nb = copy.deepcopy(solution)
        change(nb)
        folder = tmp / "submitted" / name / ASSIGNMENT
        folder.mkdir(parents=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the cells added here have no ids; nbgrader gives them some
            nbformat.write(nb, folder / NOTEBOOK)
        for relative, text in EXTRA_FILES.get(name, {}).items():
            (folder / relative).parent.mkdir(parents=True, exist_ok=True)
            (folder / relative).write_text(text)
    stdout, stderr = io.StringIO(), io.StringIO()
    with redirect_stdout(stdout), redirect_stderr(stderr):
        code = cli.main(["feedback", str(tmp / "submitted"), "--out", str(tmp / "feedback"), "--csv", str(tmp / "grades.csv"),
                         "--timeout", str(TIMEOUT), "--jobs", "2", "--db", f"sqlite:///{tmp / 'gradebook.db'}",
                         "--course", str(course_root)])
    rows = {r["student"]: r for r in csv.DictReader((tmp / "grades.csv").open())}
    return dict(code=code, stdout=stdout.getvalue(), stderr=stderr.getvalue(), rows=rows, points=points,
                feedback=tmp / "feedback", submitted=tmp / "submitted")


def _failing(spec, points) -> set:
    if spec in ("everything", "every test"):  # not graded (a problem line), or graded and failing every test
        return set(points)
    if spec == "all but rms":
        return set(points) - RMS_TESTS
    return spec


@pytest.mark.notebook
def test_the_batch_is_graded_and_the_solution_keeps_full_marks(hostile):
    assert hostile["code"] == 0
    assert set(hostile["rows"]) == {"solution", *HOSTILE}
    assert (hostile["rows"]["solution"]["score"], hostile["rows"]["solution"]["max_score"]) == ("12", "12")
    assert re.search(r"^solution +12 / 12$", hostile["stdout"], re.MULTILINE), hostile["stdout"]


@pytest.mark.notebook
def test_html_feedback_is_written_for_every_graded_submission(hostile):
    written = {p.relative_to(hostile["feedback"]).parts[0] for p in hostile["feedback"].glob(f"*/{ASSIGNMENT}/td_lambda.html")}
    assert written == {name for name, row in hostile["rows"].items() if not row["problem"]}
    html = (hostile["feedback"] / "nan_output" / ASSIGNMENT / "td_lambda.html").read_text()
    assert "expected 0.3, got nan" in html and "test_td_error_step" in html


@pytest.mark.notebook
@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_submission_loses_only_its_points_and_is_told_why(hostile, case):
    _, spec, reason = HOSTILE[case]
    failing = _failing(spec, hostile["points"])
    row = hostile["rows"][case]
    expected = sum(hostile["points"].values()) - sum(hostile["points"][c] for c in failing)
    assert float(row["score"]) == expected, row
    if spec == "everything":  # not graded at all: one problem line says why
        assert reason in row["problem"] and row["problem"] in hostile["stderr"], row
        return
    named = {line.split()[1]: line for line in row["feedback"].splitlines()}
    assert set(named) == failing, row["feedback"]
    assert reason is None or reason in row["feedback"], row["feedback"]


def _release_with_answers(course_root, tmp_path, td_error_body=None):
    """The student release of 01 with every answer cell filled in from the solution (demo cells left out)."""
    release = nbformat.read(course_root / "notebooks" / ASSIGNMENT / NOTEBOOK, as_version=4)
    solution = nbformat.read(course_root / "solutions" / ASSIGNMENT / NOTEBOOK, as_version=4)
    release.cells = [c for c in release.cells if c.metadata.get("nbgrader", {}).get("grade_id") not in {"check_against_sweep", "sweep"}]
    for cell in release.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = _cell(solution, cell.metadata.nbgrader.grade_id).source
    if td_error_body is not None:
        _body("td_error", td_error_body)(release)
    path = tmp_path / NOTEBOOK
    nbformat.write(release, path)
    return path


@pytest.mark.notebook
@pytest.mark.parametrize("td_error_body, verdict", [(None, "Success! Your notebook passes all the tests."),
                                                    ("return float('nan')", "VALIDATION FAILED ON 9 CELL(S)!")])
def test_students_see_the_verdict_of_the_visible_tests_before_submitting(course_root, tmp_path, td_error_body, verdict):
    path = _release_with_answers(course_root, tmp_path, td_error_body)
    result = subprocess.run([sys.executable, "-m", "nbgrader", "validate", str(path)], cwd=course_root,
                            capture_output=True, text=True, timeout=600)
    assert verdict in result.stdout, result.stdout + result.stderr
    if td_error_body is not None:  # the failing cells are listed with their error
        assert "expected 0.3, got nan" in result.stdout and '"""Ψ₍₁₎ of ordinary steps (1 point)."""' in result.stdout


@pytest.mark.notebook
def test_one_job_grades_as_two_jobs_do(hostile, course_root, tmp_path):
    some = ["solution", "nan_output", "kills_the_kernel", "redefines_the_grading_helpers"]
    for name in some:
        shutil.copytree(hostile["submitted"] / name, tmp_path / "submitted" / name)
    with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()):
        assert cli.main(["grade", str(tmp_path / "submitted"), "--csv", str(tmp_path / "grades.csv"), "--jobs", "1",
                         "--timeout", str(TIMEOUT), "--db", f"sqlite:///{tmp_path / 'gradebook.db'}", "--course", str(course_root)]) == 0
    def same_folder(row, submitted):
        return {**row, "problem": row["problem"].replace(str(submitted), "DIR")}

    one_job = [same_folder(r, tmp_path / "submitted") for r in csv.DictReader((tmp_path / "grades.csv").open())]
    assert one_job == [same_folder(hostile["rows"][name], hostile["submitted"]) for name in sorted(some)]


@pytest.mark.notebook
def test_a_submission_that_kills_its_unconfined_grader_is_graded_alone_and_the_batch_goes_on(hostile, course_root, tmp_path):
    for name in ("solution", "kills_the_grader"):
        shutil.copytree(hostile["submitted"] / name, tmp_path / "submitted" / name)
    stderr = io.StringIO()
    with redirect_stdout(io.StringIO()), redirect_stderr(stderr):
        assert cli.main(["grade", str(tmp_path / "submitted"), "--csv", str(tmp_path / "grades.csv"), "--jobs", "2", "--unconfined",
                         "--timeout", str(TIMEOUT), "--db", f"sqlite:///{tmp_path / 'gradebook.db'}", "--course", str(course_root)]) == 0
    rows = {r["student"]: r for r in csv.DictReader((tmp_path / "grades.csv").open())}
    assert rows["solution"]["score"] == "12" and rows["kills_the_grader"]["score"] == "0"
    assert "the process grading it was killed" in rows["kills_the_grader"]["problem"], stderr.getvalue()


@pytest.mark.notebook
def test_a_cell_is_stopped_at_the_time_limit_given(hostile):
    seconds = re.search(r"graded endless_loop/01_td_lambda: .* \((\d+) s\)", hostile["stderr"]).group(1)
    assert int(seconds) < 10 * TIMEOUT  # two cells stopped after TIMEOUT each, not after the configured 300 s


@pytest.mark.notebook
def test_html_feedback_keeps_the_hidden_tests_hidden(hostile, course_root):
    source = nbformat.read(course_root / "solutions" / ASSIGNMENT / NOTEBOOK, as_version=4)
    release = nbformat.read(course_root / "notebooks" / ASSIGNMENT / NOTEBOOK, as_version=4)
    shown = "\n".join(cell.source for cell in release.cells)  # a hint the visible part gives too is not hidden
    hidden = [line.strip() for cell in source.cells if "### BEGIN HIDDEN TESTS" in cell.source
              for line in cell.source.split("### BEGIN HIDDEN TESTS")[1].split("### END HIDDEN TESTS")[0].splitlines()
              if len(line.strip()) > 30 and line.strip() not in shown]
    assert len(hidden) > 10
    for page in hostile["feedback"].glob("*/*/*.html"):
        text = " ".join(html.unescape(re.sub(r"<[^>]+>", "", page.read_text())).split())  # what a reader sees
        assert "HIDDEN TESTS" not in text, page
        leaked = [line for line in hidden if " ".join(line.split()) in text]
        assert not leaked, (page, leaked[:3])


@pytest.mark.notebook
def test_what_the_kernel_sends_reaches_the_feedback_as_text(hostile):
    page = (hostile["feedback"] / "html_in_messages" / ASSIGNMENT / "td_lambda.html").read_text()
    assert "ValueError" in page and "alert" in page  # the message is shown, as text
    assert "<script>alert" not in page and "<img src=x" not in page


@pytest.mark.notebook
def test_no_reply_forged_in_the_kernel_and_no_reference_reached_by_name_earns_a_point(hostile):
    forged = [name for name in HOSTILE if "forges" in name or name.startswith(("reference_by", "magic_"))]
    assert len(forged) == 7
    assert all(float(hostile["rows"][name]["score"]) <= 2 for name in forged), {n: hostile["rows"][n]["score"] for n in forged}
