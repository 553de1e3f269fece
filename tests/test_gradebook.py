"""Grades are recorded in nbgrader's gradebook: SQLite by default, PostgreSQL when several graders share one,
and the gradebook holds exactly the scores `rl-course grade` reports, however many jobs or graders wrote it."""

import json
import subprocess
import sys
import warnings
from pathlib import Path

import nbformat
import pytest
from helpers import gradebook_scores

from rl_course import cli
from rl_course.course import gradebook

ASSIGNMENT, NOTEBOOK = "01_td_lambda", "td_lambda.ipynb"
DEMO_CELLS = {"sweep", "check_against_sweep"}


def _solution(course_root, change=None):
    nb = nbformat.read(course_root / "solutions" / ASSIGNMENT / NOTEBOOK, as_version=4)
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") not in DEMO_CELLS]
    for cell in nb.cells:
        if change and cell.metadata.get("nbgrader", {}).get("grade_id") == change[0]:
            cell.source = cell.source.split("\n")[0] + "\n    " + change[1] + "\n"
    return nb


def _submit(folder: Path, student: str, nb=None, text=None):
    target = folder / student / ASSIGNMENT
    target.mkdir(parents=True, exist_ok=True)
    if text is not None:
        (target / NOTEBOOK).write_text(text)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nbformat.write(nb, target / NOTEBOOK)


@pytest.mark.notebook
def test_several_graders_share_one_postgresql_gradebook(course_root, postgres_url, tmp_path):
    sections = {"a": tmp_path / "section_a", "b": tmp_path / "section_b"}
    _submit(sections["a"], "ann", _solution(course_root))
    _submit(sections["a"], "bo", _solution(course_root, ("td_error", "return 0.0")))
    _submit(sections["b"], "cy", _solution(course_root))
    _submit(sections["b"], "di", nbformat.read(course_root / "notebooks" / ASSIGNMENT / NOTEBOOK, as_version=4))
    graders = {name: subprocess.Popen(
        [sys.executable, "-m", "rl_course.cli", "grade", str(folder), "--json", "--jobs", "2", "--db", postgres_url,
         "--csv", str(tmp_path / f"{name}.csv"), "--course", str(course_root)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for name, folder in sections.items()}
    outputs = {name: p.communicate(timeout=600) for name, p in graders.items()}
    assert all(p.returncode == 0 for p in graders.values()), outputs
    scores = {**json.loads(outputs["a"][0]), **json.loads(outputs["b"][0])}
    assert scores["ann"][ASSIGNMENT]["score"] == scores["cy"][ASSIGNMENT]["score"] == 12
    assert 0 < scores["bo"][ASSIGNMENT]["score"] < 12 and scores["di"][ASSIGNMENT]["score"] == 0
    recorded = {(s, ASSIGNMENT): scores[s][ASSIGNMENT]["score"] for s in ("ann", "bo", "cy", "di")}
    assert gradebook_scores(postgres_url) == recorded

    # graded again: a corrected submission replaces its grade, an unreadable one leaves none behind
    regrade = tmp_path / "regrade"
    _submit(regrade, "bo", _solution(course_root))
    _submit(regrade, "ann", text="{ not a notebook")
    assert cli.main(["grade", str(regrade), "--db", postgres_url, "--csv", str(tmp_path / "again.csv"),
                     "--course", str(course_root)]) == 0
    recorded[("bo", ASSIGNMENT)] = 12.0
    del recorded[("ann", ASSIGNMENT)]
    assert gradebook_scores(postgres_url) == recorded


def test_the_gradebook_is_at_the_course_root_unless_configured(course_copy):
    assert gradebook.gradebook_url(course_copy) == f"sqlite:///{course_copy.resolve() / 'gradebook.db'}?timeout=60"
    assert gradebook.gradebook_url(course_copy, "sqlite:////srv/grades.db") == "sqlite:////srv/grades.db?timeout=60"
    assert gradebook.gradebook_url(course_copy, "postgresql://grader:secret@db/course") == "postgresql://grader:secret@db/course"
    with open(course_copy / "nbgrader_config.py", "a") as config:
        config.write('\nc.CourseDirectory.db_url = "postgresql://grader@db/course"\n')
    assert gradebook.gradebook_url(course_copy) == "postgresql://grader@db/course"


def test_preparing_the_gradebook_makes_the_table_of_digests_before_any_grade_is_recorded(course_root, tmp_path):
    # under the graders' lock: two graders recording their first grades at once would otherwise both create it, and
    # PostgreSQL refuses the second (the shared gradebook of the test above, now and then)
    from sqlalchemy import create_engine, inspect

    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    assert gradebook.prepare_gradebook(course_root, gradebook.gradebook_url(course_root, url), [ASSIGNMENT], ["ann"]) is not None
    assert "rl_course_graded" in inspect(create_engine(url)).get_table_names()


@pytest.mark.slow
def test_a_gradebook_that_cannot_be_reached_is_one_line_error(course_root, tmp_path, capsys):
    _submit(tmp_path / "submitted", "ann", text="{}")
    for url, says in [("postgresql://grader:secret@127.0.0.1:1/course", "Connection refused"),
                      ("no-such-db://x", "not a database URL")]:
        assert cli.main(["grade", str(tmp_path / "submitted"), "--db", url, "--course", str(course_root)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("rl-course: error: ") and "\n" not in err and says in err, err
        assert "secret" not in err
