"""The nbgrader round trip through the `rl-course` command: release, check, grade."""

import csv
import json
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from itertools import repeat

import nbformat
import pytest
import torch
from helpers import FULL_MARKS, NOTEBOOKS, grade_cell, gradebook_scores, inject, reported_scores, without_demo_cells
from mistakes import catalog, mistakes
from verdicts import answer_source, source_notebook, verdicts

from rl_course import cli
from rl_course.course import reports

ASSIGNMENT, NOTEBOOK = "01_td_lambda", "td_lambda.ipynb"
MISTAKES = mistakes()
# Through the grader: the first mistake (by name) in each answer cell, which carries that function's answers across the
# kernel's wire, and in 04, whose update and training tests run nowhere else, also the first mistake to fail each test
# cell, so that every way 04 can fail crosses the wire once. tests/verdicts.py decides every other mistake of the catalog
# without a kernel, by the notebooks' own test cells (below).
_FIRST = {}
for _name, _m in sorted(MISTAKES.items()):
    for _key in [_m.cell, *(sorted(_m.fails) if _m.assignment == "04_ppo" else [])]:
        _FIRST.setdefault((_m.assignment, _key), _name)
GRADED = {name: MISTAKES[name] for name in sorted(set(_FIRST.values()))}
# rms_error written as a loop (the solution is vectorized), and the same answer renamed, reformatted and commented
COPIED = {"copy_first": """def rms_error(V, v_true):
    \"\"\"RMS error over the non-terminal states.\"\"\"
    total = 0.0
    count = len(V) - 2
    for i in range(1, len(V) - 1):
        d = float(V[i]) - float(v_true[i])
        total += d * d
    return float(np.sqrt(total / count))
""", "copy_second": """def rms_error(V, v_true):
    # </pre><script>alert("copied")</script>
    acc = 0
    n_states = len( V ) - 2
    for k in range(1,len(V)-1):
        diff = float(V[k]) - float(v_true[k])   # the error at k
        acc += diff*diff
    return float(np.sqrt(acc/n_states))
"""}


def _points(nb) -> dict:
    return {c.metadata.nbgrader.grade_id: c.metadata.nbgrader.points for c in nb.cells
            if c.metadata.get("nbgrader", {}).get("grade")}


@pytest.fixture(scope="module")
def graded(course_root, tmp_path_factory):
    """Grade one class through `rl-course grade --json`: the solution (its graded cells and what they use), the
    untouched release (every cell), a broken file, the mistakes."""
    tmp = tmp_path_factory.mktemp("grading")
    submitted = tmp / "submitted"

    def read(folder, assignment):
        return nbformat.read(course_root / folder / assignment / NOTEBOOKS[assignment], as_version=4)

    def submit(student, nb=None, text=None, assignment=ASSIGNMENT):
        folder = submitted / student / assignment
        folder.mkdir(parents=True)
        if text is not None:
            (folder / NOTEBOOKS[assignment]).write_text(text)
        elif nb is not None:
            nbformat.write(nb, folder / NOTEBOOKS[assignment])

    for assignment in NOTEBOOKS:
        submit("solution", without_demo_cells(read("solutions", assignment)), assignment=assignment)
        submit("untouched", read("notebooks", assignment), assignment=assignment)
    submit("not_json", text="{ this is not a notebook")
    submit("empty_folder")
    folder = submitted / "stray" / "99_no_such_assignment"
    folder.mkdir(parents=True)
    (folder / NOTEBOOK).write_text("{}")
    for name, mistake in GRADED.items():
        submit(name, inject(mistake, read("solutions", mistake.assignment)), assignment=mistake.assignment)
    for student, source in COPIED.items():  # one answer handed in twice, renamed and reformatted, for the class report
        nb = without_demo_cells(read("solutions", ASSIGNMENT))
        grade_cell(nb, "rms_error").source = source
        submit(student, nb)

    csv_path = tmp / "grades.csv"
    db_url = f"sqlite:///{tmp / 'gradebook.db'}"
    out = tmp / "stdout.json"
    import contextlib
    import io

    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = cli.main(["grade", str(submitted), "--json", "--csv", str(csv_path), "--jobs", "2", "--db", db_url,
                         "--course", str(course_root)])
    out.write_text(stdout.getvalue())
    (tmp / "stderr.txt").write_text(stderr.getvalue())  # each submission's seconds, to read after a run
    return dict(code=code, scores=json.loads(stdout.getvalue()), stderr=stderr.getvalue(), csv=csv_path, db_url=db_url,
                points={a: _points(read("solutions", a)) for a in NOTEBOOKS}, submitted=submitted)


@pytest.mark.notebook
@pytest.mark.parametrize("assignment", sorted(NOTEBOOKS))
def test_solution_earns_full_marks(graded, assignment):
    assert graded["code"] == 0
    full = sum(graded["points"][assignment].values())
    assert full == FULL_MARKS[assignment]
    assert graded["scores"]["solution"][assignment] == {"score": full, "max_score": full}, _feedback(graded, "solution", assignment)
    assert _feedback(graded, "solution", assignment) == []


@pytest.mark.notebook
@pytest.mark.parametrize("assignment", sorted(NOTEBOOKS))
def test_untouched_release_earns_zero_without_crashing(graded, assignment):
    assert graded["scores"]["untouched"][assignment] == {"score": 0.0, "max_score": FULL_MARKS[assignment]}
    assert not [line for line in graded["stderr"].splitlines() if line.startswith("problem:") and "/untouched/" in line]


@pytest.mark.notebook
@pytest.mark.parametrize("mistake", sorted(GRADED))
def test_typical_mistakes_lose_exactly_their_points(graded, mistake):
    m = MISTAKES[mistake]
    feedback = _feedback(graded, mistake, m.assignment)
    # one feedback line per failing test cell, naming it and the points it lost; one of them names the problem
    named = {line.split()[1]: line for line in feedback}
    assert m.fails <= set(named) <= m.fails | m.may_also_fail, feedback
    lost = sum(graded["points"][m.assignment][cell] for cell in named)
    assert graded["scores"][mistake][m.assignment]["score"] == FULL_MARKS[m.assignment] - lost, feedback
    assignment = m.assignment
    for cell, line in named.items():
        assert f"(0 / {graded['points'][assignment][cell]:g})" in line and "Error" in line, line
    if named:  # a mistake that only may be caught (may_also_fail) can pass every test
        assert any(m.says in line for line in feedback), feedback


@pytest.fixture(scope="module")
def verdict_processes():
    """Two processes that decide verdicts (tests/verdicts.py), one torch thread each, as two grading jobs run."""
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn"), initializer=torch.set_num_threads,
                             initargs=(1,)) as pool:
        yield pool


@pytest.mark.parametrize("assignment", sorted(NOTEBOOKS))
def test_every_typical_mistake_fails_exactly_its_cells_without_a_kernel(verdict_processes, assignment):
    """The source notebook's test cells, hidden ones included, on each mistake of the catalog that is not graded
    through the grader (tests/verdicts.py): the cells that fail are those the catalog names (and may name), and one
    of their messages says what it says."""
    nb = source_notebook(assignment)
    decided = {name: m for name, m in sorted(MISTAKES.items()) if m.assignment == assignment and name not in GRADED}
    found_all = verdict_processes.map(verdicts, repeat(assignment), [{m.cell: answer_source(m, nb)} for m in decided.values()])
    wrong = []
    for (name, m), found in zip(decided.items(), found_all, strict=True):
        failed = {cell for cell, failure in found.items() if failure}
        if not m.fails <= failed <= m.fails | m.may_also_fail or (failed and not any(m.says in v for v in found.values() if v)):
            wrong.append(f"{name}: fails {sorted(failed)}, expected {sorted(m.fails)}: {found}")
    assert not wrong, "\n".join(wrong)


def test_the_catalog_of_mistakes_in_the_docs_is_up_to_date(course_root):
    assert (course_root / "docs" / "mistakes.md").read_text() == catalog(), "run: python -m tests.mistakes > docs/mistakes.md"


def _feedback(graded, student, assignment) -> list[str]:
    """The feedback lines of one graded submission, from the grades CSV."""
    rows = csv.DictReader(graded["csv"].open())
    row = next(r for r in rows if (r["student"], r["assignment"]) == (student, assignment))
    return row["feedback"].splitlines()


@pytest.mark.notebook
def test_broken_submissions_are_named_in_one_line_and_the_rest_is_graded(graded):
    lines = graded["stderr"].splitlines()
    problems = [line for line in lines if line.startswith("problem:")]
    sub = graded["submitted"]
    assert any(f"{sub / 'not_json' / ASSIGNMENT / NOTEBOOK}: not a readable notebook" in p for p in problems)
    assert any(f"{sub / 'empty_folder' / ASSIGNMENT / NOTEBOOK}: missing" in p for p in problems)
    assert any(f"{sub / 'stray' / '99_no_such_assignment'}: unknown assignment" in p for p in problems)
    assert graded["scores"]["not_json"][ASSIGNMENT] == {"score": 0.0, "max_score": 12.0}
    assert "99_no_such_assignment" not in graded["scores"].get("stray", {})


@pytest.mark.notebook
def test_the_gradebook_holds_every_graded_score_written_by_two_jobs(graded):
    recorded = gradebook_scores(graded["db_url"])
    assert recorded == reported_scores(graded["csv"])
    assert recorded[("solution", "04_ppo")] == FULL_MARKS["04_ppo"] and ("not_json", ASSIGNMENT) not in recorded


@pytest.mark.notebook
def test_grades_csv_has_one_row_per_student_and_assignment(graded):
    rows = list(csv.DictReader(graded["csv"].open()))
    assert {(r["student"], r["assignment"]) for r in rows} == {(s, a) for s, d in graded["scores"].items() for a in d}
    assert all(int(r["max_score"]) == FULL_MARKS[r["assignment"]] for r in rows)
    problem = next(r for r in rows if r["student"] == "not_json")["problem"]
    assert problem.endswith("not a readable notebook (not JSON: line 1, column 3)")  # where, never what it holds
    assert "this is not a notebook" not in problem


def test_grades_csv_cuts_a_long_feedback_message_after_a_whole_word(tmp_path):
    message = "expected the advantages of every environment to match, " + "element by element " * 20 + "finally"
    cell = nbformat.v4.new_code_cell("", metadata={"nbgrader": {"grade": True, "grade_id": "test_long", "points": 2,
                                                           "locked": True, "solution": False, "schema_version": 3}})
    cell.outputs = [nbformat.v4.new_output("error", ename="AssertionError", evalue=message, traceback=[])]
    cell.metadata["nbgrader"]["score"] = 0
    nbformat.write(nbformat.v4.new_notebook(cells=[cell]), tmp_path / "gae.ipynb")
    (line,) = reports.feedback_lines(tmp_path)
    reports.write_grades_csv([reports.Grade("ann", "03_gae", 0.0, 2.0, feedback=(line,))], tmp_path / "grades.csv")
    (row,) = csv.DictReader((tmp_path / "grades.csv").open())
    why = row["feedback"].split(": ", 1)[1]
    assert len(why) <= 200 and why.endswith("…")
    words = why.removesuffix("…").split()
    full = f"AssertionError: {message}".split()
    assert words == full[:len(words)], "the last word of the message in the CSV is cut in two"


def test_grade_table_lists_score_over_max():
    table = reports.grades_table([reports.Grade("ann", "01_x", 3.0, 12.0), reports.Grade("bo", "02_y", 1.5, 4.0)])
    assert table.splitlines() == ["student  01_x    02_y", "ann      3 / 12  —", "bo       —       1.5 / 4"]


def test_grading_a_missing_folder_is_one_line_error(course_root, tmp_path, capsys):
    assert cli.main(["grade", str(tmp_path / "nowhere"), "--course", str(course_root)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rl-course: error: ") and str(tmp_path / "nowhere") in err and "\n" not in err


@pytest.mark.slow
def test_committed_release_is_in_sync(course_root, capsys):
    assert cli.main(["release", "--check", "--course", str(course_root)]) == 0, capsys.readouterr().err


@pytest.mark.slow
def test_release_check_names_the_stale_notebook_and_release_fixes_it(course_copy, capsys):
    source = course_copy / "solutions" / ASSIGNMENT / NOTEBOOK
    nb = nbformat.read(source, as_version=4)
    nb.cells[0].source += "\n\nA new sentence."
    nbformat.write(nb, source)
    (course_copy / "notebooks" / "00_gone").mkdir()
    assert cli.main(["release", "--check", "--course", str(course_copy)]) == 1
    err = capsys.readouterr().err
    assert f"notebooks/{ASSIGNMENT}/{NOTEBOOK}: out of date with solutions/{ASSIGNMENT}/{NOTEBOOK}" in err
    assert "notebooks/00_gone: no such assignment in solutions/" in err
    assert cli.main(["release", "--course", str(course_copy)]) == 0
    assert cli.main(["release", "--check", "--course", str(course_copy)]) == 0
    released = nbformat.read(course_copy / "notebooks" / ASSIGNMENT / NOTEBOOK, as_version=4)
    assert "A new sentence." in released.cells[0].source
    assert "BEGIN HIDDEN TESTS" not in json.dumps(released) and "BEGIN SOLUTION" not in json.dumps(released)
    assert not (course_copy / "notebooks" / "00_gone").exists()


def test_release_hides_solutions_and_hidden_tests(course_root):
    released = nbformat.read(course_root / "notebooks" / ASSIGNMENT / NOTEBOOK, as_version=4)
    solution = nbformat.read(course_root / "solutions" / ASSIGNMENT / NOTEBOOK, as_version=4)
    for grade_id in ("td_error", "td_lambda_episode", "rms_error"):
        assert "raise NotImplementedError()" in grade_cell(released, grade_id).source
        assert "raise NotImplementedError()" not in grade_cell(solution, grade_id).source
    assert "HIDDEN" not in grade_cell(released, "test_td_lambda_trace_reset").source
    assert "tabular.td_lambda_episode(expected" in grade_cell(solution, "test_td_lambda_trace_reset").source


def test_no_course_found_is_explained(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["release", "--check"]) == 2
    assert "no course found" in capsys.readouterr().err


@pytest.fixture(scope="module")
def class_report(graded, course_root, tmp_path_factory):
    """`rl-course report` over the graded class: its pages and CSVs."""
    out = tmp_path_factory.mktemp("report")
    assert cli.main(["report", "--db", graded["db_url"], "--out", str(out), "--course", str(course_root)]) == 0
    return out


def _rows(report, assignment, table):
    return list(csv.DictReader((report / f"{assignment}-{table}.csv").open(encoding="utf-8")))


@pytest.mark.notebook
def test_class_report_losses_per_test_equal_the_gradebook(graded, class_report):
    from nbgrader.api import Gradebook

    lost, failing, n = {}, {}, {}
    with Gradebook(graded["db_url"], "rl-course") as gb:
        for assignment in gb.assignments:
            n[assignment.name] = len(assignment.submissions)
            for sub in assignment.submissions:
                for notebook in sub.notebooks:
                    for g in notebook.grades:
                        key = (assignment.name, g.name)
                        lost[key] = lost.get(key, 0) + g.max_score - g.score
                        failing[key] = failing.get(key, 0) + (g.score < g.max_score)
    for assignment in NOTEBOOKS:
        rows = _rows(class_report, assignment, "tests")
        assert {(assignment, r["test"]): float(r["points_lost"]) for r in rows} == {k: v for k, v in lost.items() if k[0] == assignment}
        assert all(abs(float(r["share_failing"]) - failing[assignment, r["test"]] / n[assignment]) < 1e-3 for r in rows)
        assert [float(r["points_lost"]) for r in rows] == sorted((float(r["points_lost"]) for r in rows), reverse=True)
        students = {r["student"]: float(r["score"]) for r in _rows(class_report, assignment, "students")}
        assert students == {s: d[assignment]["score"] for s, d in graded["scores"].items() if assignment in d
                            and s not in ("not_json", "empty_folder")}


@pytest.mark.notebook
def test_class_report_names_each_typical_mistake_and_counts_it(graded, class_report):
    for assignment in NOTEBOOKS:
        named = {r["student"]: set(filter(None, r["mistakes"].split("; "))) for r in _rows(class_report, assignment, "students")}
        counts = {r["mistake"]: int(r["students"]) for r in _rows(class_report, assignment, "mistakes")}
        assert counts == {m: sum(m in names for names in named.values()) for m in set().union(*named.values())}
        for student, mistake in GRADED.items():  # one finding, naming the mistake (among those its feedback cannot tell apart)
            if mistake.assignment == assignment and _feedback(graded, student, assignment):
                [finding] = named[student]
                assert finding.startswith(f"{mistake.cell}: ") or mistake.cell not in finding, finding
                assert student in finding.split(": ", 1)[1].split(" or "), (student, finding)
        assert named["solution"] == set() and named["untouched"] == set() if assignment != ASSIGNMENT else named["copy_first"] == set()


@pytest.mark.notebook
def test_class_report_ranks_the_copied_answer_first_and_flags_no_independent_one(class_report):
    pairs = _rows(class_report, ASSIGNMENT, "similarity")
    assert (pairs[0]["function"], pairs[0]["student_a"], pairs[0]["student_b"]) == ("rms_error", "copy_first", "copy_second")
    assert float(pairs[0]["score"]) == 1.0
    assert not [p for p in pairs if p["function"] == "rms_error" and "solution" in (p["student_a"], p["student_b"])]
    for assignment in NOTEBOOKS:  # the untouched release is the skeleton alone
        assert not [p for p in _rows(class_report, assignment, "similarity") if "untouched" in (p["student_a"], p["student_b"])]


@pytest.mark.notebook
def test_class_report_pages_escape_student_code_and_hold_no_hidden_test(class_report):
    pages = {p.name: p.read_text(encoding="utf-8") for p in class_report.glob("*.html")}
    assert set(pages) == {"index.html", *(f"{a}.html" for a in NOTEBOOKS)}
    page = pages[f"{ASSIGNMENT}.html"]
    assert "&lt;script&gt;alert(&quot;copied&quot;)" in page and "<script" not in page
    assert "similarity is evidence to look at, not a verdict" in page.lower()
    for text in pages.values():
        assert "BEGIN HIDDEN TESTS" not in text and "http://" not in text and "https://" not in text
        assert "For graders only" in text
