"""The class report of a large class: seconds to read the gradebook and write every page.

    python benchmarks/report.py [--students 300] [--out DIR]

A gradebook (SQLite) is synthesized with ``--students`` students × the five assignments (300: 1,500 submissions)
as ``rl-course grade`` records them: each student hands in the solution, the untouched release or one of the
typical mistakes of ``tests/mistakes`` (its test cells lose their points, its feedback line says the catalog's
phrase), some late, and every tenth pair hands in the same answers twice. It then prints the seconds the report takes
(read the gradebook, match mistakes, fingerprint and compare every answer, draw, write), in this one process.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))


def notebook_json(answers: dict[str, str]) -> str:
    """A recorded autograded notebook holding just its answer cells, as ``class_record.answer_cells`` reads them."""
    cells = [{"cell_type": "code", "source": src, "metadata": {"nbgrader": {"grade_id": gid, "solution": True, "grade": False}},
              "outputs": [], "execution_count": None} for gid, src in answers.items()]
    return json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


def synthesize(db: Path, students: int) -> int:
    """Write the class into a fresh gradebook at ``db``; returns the number of submissions."""
    import nbformat
    from helpers import NOTEBOOKS, inject, without_demo_cells
    from mistakes import mistakes

    from rl_course.course.class_record import answer_cells

    os.environ["PATH"] = f"{Path(sys.executable).parent}:{os.environ['PATH']}"  # nbgrader runs alembic from there
    from nbgrader.api import Gradebook

    due = datetime(2026, 1, 1)
    kinds: dict[str, list[tuple[str, dict[str, str], set[str], str]]] = {}
    cells: dict[str, dict[str, float]] = {}
    with Gradebook(f"sqlite:///{db}", "rl-course") as gb:
        for assignment, name in NOTEBOOKS.items():
            source = nbformat.read(ROOT / "solutions" / assignment / name, as_version=4)
            gb.add_assignment(assignment, duedate=due)
            gb.add_notebook(Path(name).stem, assignment)
            cells[assignment] = {c.metadata.nbgrader.grade_id: c.metadata.nbgrader.points for c in source.cells
                                 if c.metadata.get("nbgrader", {}).get("grade")}
            for gid, points in cells[assignment].items():
                gb.add_grade_cell(gid, Path(name).stem, assignment, max_score=points, cell_type="code")
            solution = answer_cells({name: nbformat.writes(without_demo_cells(source))})
            released = answer_cells({name: (ROOT / "notebooks" / assignment / name).read_text()})
            kinds[assignment] = [("solution", solution, set(), ""), ("untouched", released, set(cells[assignment]), "")]
    for key, m in mistakes().items():
        nb = inject(m, nbformat.read(ROOT / "solutions" / m.assignment / NOTEBOOKS[m.assignment], as_version=4))
        kinds[m.assignment].append((key, answer_cells({"x": nbformat.writes(nb)}), set(m.fails), m.says))
    connection = sqlite3.connect(db)
    ids = dict(connection.execute("SELECT name, id FROM assignment").fetchall())
    cell_ids = dict(((a, n), i) for a, n, i in connection.execute(
        "SELECT a.name, b.name, b.id FROM base_cell b JOIN notebook nb ON b.notebook_id = nb.id "
        "JOIN assignment a ON nb.assignment_id = a.id"))
    notebook_ids = dict(connection.execute("SELECT a.name, nb.id FROM notebook nb JOIN assignment a ON nb.assignment_id = a.id"))
    connection.execute("CREATE TABLE IF NOT EXISTS rl_course_graded (course_id VARCHAR(128), student VARCHAR(128), "
                       "assignment VARCHAR(128), digest VARCHAR(64), grade TEXT, PRIMARY KEY (course_id, student, assignment))")
    count = 0
    for s in range(students):
        student = f"student{s:04d}"
        connection.execute("INSERT INTO student (id) VALUES (?)", (student,))
        for assignment, options in kinds.items():
            kind, answers, failing, says = options[(s // 2 if s % 20 < 2 else s) % len(options)]  # pairs 0–1, 20–21, … alike
            sa, sn = uuid.uuid4().hex, uuid.uuid4().hex
            late = due + timedelta(hours=s % 7 - 5)
            connection.execute("INSERT INTO submitted_assignment (id, assignment_id, student_id, timestamp) VALUES (?, ?, ?, ?)",
                               (sa, ids[assignment], student, late.isoformat(sep=" ")))
            connection.execute("INSERT INTO submitted_notebook (id, assignment_id, notebook_id, flagged) VALUES (?, ?, ?, 0)",
                               (sn, sa, notebook_ids[assignment]))
            feedback, score = [], 0.0
            for gid, points in cells[assignment].items():
                got = 0.0 if gid in failing else points
                score += got
                connection.execute("INSERT INTO grade (id, notebook_id, cell_id, auto_score, needs_manual_grade) VALUES (?, ?, ?, ?, 0)",
                                   (uuid.uuid4().hex, sn, cell_ids[assignment, gid], got))
                if gid in failing:
                    feedback.append(f"{assignment}.ipynb {gid} (0 / {points:g}): AssertionError: {says if gid == min(failing) else ''}")
            stored = {"graded": True, "score": score, "max_score": sum(cells[assignment].values()), "problem": "",
                      "feedback": feedback, "html": [], "notebooks": {"nb.ipynb": notebook_json(answers)}}
            connection.execute("INSERT INTO rl_course_graded VALUES ('rl-course', ?, ?, ?, ?)",
                               (student, assignment, kind, json.dumps(stored)))
            count += 1
    connection.commit()
    connection.close()
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--out", type=Path, help="keep the pages in this folder (default: a temporary one)")
    args = parser.parse_args()
    import rl_course
    from rl_course.course.class_record import read_class
    from rl_course.course.mistake_catalog import CATALOG, read_catalog
    from rl_course.course.report_pages import write_report

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "gradebook.db"
        started = time.perf_counter()
        n = synthesize(db, args.students)
        print(f"synthesized {n} submissions in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        submissions = read_class(f"sqlite:///{db}", "rl-course")
        read = time.perf_counter() - started
        reports = write_report(submissions, args.out or Path(tmp) / "report", read_catalog(ROOT / CATALOG), ROOT / "notebooks",
                               Path(rl_course.__file__).parent)
        total = time.perf_counter() - started
        pairs = sum(len(r.pairs) for r in reports)
        print(f"report of {len(submissions)} submissions: {total:.1f} s (reading the gradebook {read:.1f} s); "
              f"{pairs} similar pairs listed")


if __name__ == "__main__":
    main()
