"""The class report's pure parts (rl_course.course.class_report, mistake_catalog, report_pages) on small synthesized
classes; the report of a graded class is tests/test_course.py's."""

from pathlib import Path

import pytest
from mistakes import mistakes

import rl_course
from rl_course.course import class_report, report_pages
from rl_course.course.class_record import Submission, answer_cells, seconds_late
from rl_course.course.mistake_catalog import Mistake, findings, mistakes_shown, read_catalog

ROOT = Path(__file__).resolve().parents[1]
RMS_SAYS = "RMS error of V = 0 on the 19-state walk"
CATALOG = [Mistake("01", "rms_error", "mean_absolute_error", "|e|", frozenset({"test_rms"}), RMS_SAYS),
           Mistake("01", "rms_error", "no_square_root", "e²", frozenset({"test_rms"}), RMS_SAYS + ": expected 0.5"),
           Mistake("01", "td_error", "sign_flipped", "−", frozenset({"test_a", "test_b"}), "expected 0.3, got -0.3")]


def test_the_catalog_in_the_docs_reads_back_every_typical_mistake():
    rows = read_catalog(ROOT / "docs" / "mistakes.md")
    assert {(m.assignment, m.name) for m in rows} == {(m.assignment, name) for name, m in mistakes().items()}
    assert all(m.says and m.cells for m in rows)


def test_a_mistake_is_shown_by_its_phrase_and_all_its_failing_cells_and_rows_alike_are_named_together():
    line = "nb.ipynb test_rms (0 / 1): AssertionError: " + RMS_SAYS + ": expected 0.5, got 0.3"
    assert findings(mistakes_shown("01", (line,), CATALOG))[0][0] == "rms_error: mean_absolute_error or no_square_root"
    assert [m.name for m in mistakes_shown("01", ("nb.ipynb test_rms (0 / 1): " + RMS_SAYS,), CATALOG)] == ["mean_absolute_error"]
    one = ("nb.ipynb test_a (0 / 1): AssertionError: expected 0.3, got -0.3",)
    assert mistakes_shown("01", one, CATALOG) == [] and mistakes_shown("02", (line,), CATALOG) == []
    assert [m.name for m in mistakes_shown("01", (*one, "nb.ipynb test_b (0 / 2): AssertionError: x"), CATALOG)] == ["sign_flipped"]


def test_quartiles_and_losses_per_test():
    assert class_report.quartiles([0, 1, 2, 3, 4]) == (1.0, 2.0, 3.0) and class_report.quartiles([]) == (0.0, 0.0, 0.0)
    subs = [Submission("a", "01", 1, 3, tests={"t1": (0, 1), "t2": (1, 2)}),
            Submission("b", "01", 3, 3, tests={"t1": (1, 1), "t2": (2, 2)}),
            Submission("c", "01", 0, 3, tests={"t1": (0, 1), "t2": (0, 2)})]
    losses = class_report.test_losses(subs)
    assert [(t.test, t.points_lost, t.share_failing) for t in losses] == [("t2", 3, pytest.approx(2 / 3)), ("t1", 2, pytest.approx(2 / 3))]


def test_lateness_and_answer_cells():
    assert seconds_late("2026-01-02 01:00:00", "2026-01-02 00:00:00") == 3600.0
    assert seconds_late("2026-01-01 00:00:00", "2026-01-02 00:00:00") == 0.0 and seconds_late(None, "2026-01-02") == 0.0
    nb = ('{"cells": [{"cell_type": "code", "source": ["x = 1\\n", "y = 2"],'
          ' "metadata": {"nbgrader": {"grade_id": "f", "solution": true}}},'
          ' {"cell_type": "code", "source": "assert x", "metadata": {"nbgrader": {"grade_id": "t", "grade": true, "solution": false}}}]}')
    assert answer_cells({"n.ipynb": nb, "bad.ipynb": "{"}) == {"f": "x = 1\ny = 2"}


def test_pages_escape_what_students_wrote_and_say_whom_they_are_for(tmp_path):
    hostile = '<script>alert(1)</script>'
    loop = ("def rms_error(V, v_true):\n    t = 0\n    for i in range(1, len(V) - 1):\n        t += (V[i] - v_true[i]) ** 2\n"
            "    return (t / (len(V) - 2)) ** 0.5\n")
    subs = [Submission(f"s{i}{hostile if i == 0 else ''}", "01_td_lambda", 12.0, 12.0, tests={"t": (1, 1)},
                       problem=hostile if i == 1 else "", answers={"rms_error": (f"# {hostile}\n" if i < 2 else "") + loop})
            for i in range(2)]
    out = tmp_path / "report"
    reports = report_pages.write_report(subs, out, [], ROOT / "notebooks", Path(rl_course.__file__).parent)
    assert [(p.first, p.second, p.score) for p in reports[0].pairs] == [(subs[0].student, "s1", 1.0)]
    page = (out / "01_td_lambda.html").read_text()
    assert "<script" not in page and "&lt;script&gt;" in page and class_report.SIMILARITY_THRESHOLD == 0.8
    assert "For graders only" in (out / "index.html").read_text() and "not a verdict" in page
    assert (out / "01_td_lambda-similarity.csv").read_text().count("\n") == 2


def test_csv_cells_never_run_as_formulas(tmp_path):
    subs = [Submission("=HYPERLINK(1)", "01_td_lambda", -1.0, 12.0, problem="+cmd", tests={"t": (0, 1)})]
    report_pages.write_report(subs, tmp_path, [], ROOT / "notebooks", Path(rl_course.__file__).parent)
    text = (tmp_path / "01_td_lambda-students.csv").read_text()
    assert "'=HYPERLINK(1)" in text and "'+cmd" in text and ",-1," in text
