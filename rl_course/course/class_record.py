"""What the gradebook holds of a class, read for the instructor's class report without grading anything again:
each submission's score, lateness and per-test-cell points (nbgrader's tables, SQLite or PostgreSQL), and the
feedback lines, problem and answer cells ``rl-course grade`` recorded beside them (``gradebook.recorded``)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field


@dataclass
class Submission:
    """One student's graded assignment: ``tests`` maps each test cell (``grade_id``) to ``(score, max_score)``;
    ``seconds_late`` is how long after the due date nbgrader's timestamp says it came (0 when on time or undated);
    ``answers`` maps each answer cell (``grade_id``) to the code the student wrote, never a test cell."""

    student: str
    assignment: str
    score: float
    max_score: float
    seconds_late: float = 0.0
    tests: dict[str, tuple[float, float]] = field(default_factory=dict)
    feedback: tuple[str, ...] = ()
    problem: str = ""
    answers: dict[str, str] = field(default_factory=dict)


_GRADES = """
SELECT a.name, sa.student_id, gc_cell.name, gc.max_score, g.auto_score, g.manual_score, g.extra_credit,
       sa.timestamp, a.duedate
FROM grade g
JOIN submitted_notebook sn ON g.notebook_id = sn.id
JOIN submitted_assignment sa ON sn.assignment_id = sa.id
JOIN assignment a ON sa.assignment_id = a.id
JOIN grade_cells gc ON g.cell_id = gc.id
JOIN base_cell gc_cell ON gc_cell.id = gc.id
WHERE a.course_id = :course
"""


def read_class(db_url: str, course_id: str) -> list[Submission]:
    """Every submission the gradebook at ``db_url`` holds for ``course_id``, with its test cells' points (a manual
    score overrides the automatic one, extra credit is added, as nbgrader's ``Grade.score``), lateness, and what
    grading recorded of it (feedback lines, problem, answer cells), ordered by assignment and student."""
    from sqlalchemy import create_engine, text

    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(text(_GRADES), {"course": course_id}).all()
            stored = _recorded_grades(connection, course_id)
    finally:
        engine.dispose()
    found: dict[tuple[str, str], Submission] = {}
    for assignment, student, cell, max_score, auto, manual, extra, timestamp, duedate in rows:
        sub = found.setdefault((assignment, student), Submission(student, assignment, 0.0, 0.0,
                                                                 seconds_late(timestamp, duedate)))
        score = (manual if manual is not None else auto or 0.0) + (extra or 0.0)
        sub.tests[cell] = (float(score), float(max_score))
    for (assignment, student), sub in found.items():
        sub.score = sum(s for s, _ in sub.tests.values())
        sub.max_score = sum(m for _, m in sub.tests.values())
        grade = stored.get((assignment, student), {})
        sub.feedback = tuple(grade.get("feedback", ()))
        sub.problem = grade.get("problem", "")
        sub.answers = answer_cells(grade.get("notebooks", {}))
    return [found[key] for key in sorted(found)]


def seconds_late(timestamp, duedate) -> float:
    """max(0, timestamp − due date) in seconds, as nbgrader's ``total_seconds_late``; 0 without either. Both may be
    datetimes or the ISO strings SQLite hands back."""
    from datetime import datetime

    if not timestamp or not duedate:
        return 0.0
    if isinstance(timestamp, str):
        timestamp = datetime.fromisoformat(timestamp)
    if isinstance(duedate, str):
        duedate = datetime.fromisoformat(duedate)
    return max(0.0, (timestamp - duedate).total_seconds())


def _recorded_grades(connection, course_id: str) -> dict[tuple[str, str], dict]:
    """``rl-course grade``'s table beside nbgrader's (``gradebook.recorded``); empty where it does not exist."""
    from sqlalchemy import text

    try:
        rows = connection.execute(text("SELECT assignment, student, grade FROM rl_course_graded WHERE course_id = :course"),
                                  {"course": course_id}).all()
    except Exception:  # graded by nbgrader alone: no feedback lines recorded
        connection.rollback()
        return {}
    return {(assignment, student): json.loads(grade) for assignment, student, grade in rows}


def answer_cells(notebooks: dict[str, str]) -> dict[str, str]:
    """The answer cells (nbgrader ``solution`` and not ``grade``) of recorded autograded notebooks by ``grade_id``:
    what the student wrote, and nothing of the tests beside it."""
    answers = {}
    for text_ in notebooks.values():
        try:
            cells = json.loads(text_)["cells"]
        except (ValueError, KeyError, TypeError):
            continue
        for cell in cells if isinstance(cells, list) else ():
            meta = cell.get("metadata", {}).get("nbgrader", {}) if isinstance(cell, dict) else {}
            if cell.get("cell_type") == "code" and meta.get("solution") and not meta.get("grade") and meta.get("grade_id"):
                source = cell.get("source", "")
                answers[meta["grade_id"]] = "".join(source) if isinstance(source, list) else str(source)
    return answers
