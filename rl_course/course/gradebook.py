"""nbgrader's gradebook (SQLite or PostgreSQL, shared by several graders): grades recorded as autograde
records them, the digest each was given for (so an unchanged submission is not graded again), the
assignments and students prepared under a lock before grading, and its URL shown without the password."""

from __future__ import annotations

import functools
import json
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from rl_course.course.layout import CourseError, one_line
from rl_course.course.nbgrader_setup import course_config, scratch_course
from rl_course.course.records import Grade, Graded, Submission
from rl_course.course.release import generate


def record(db_url: str, course_id: str, graded: Graded, feedback_dir: Path | None = None) -> None:
    """Record a ``Graded`` in the gradebook as nbgrader's autograde does (the submission, its notebooks'
    automatic scores through ``SaveAutoGrades``; 0 for a notebook not submitted), or remove the
    submission's earlier grades when nothing could be graded; then its digest (``recorded``), last,
    so that an interrupted recording is graded again. Writes its HTML feedback under ``feedback_dir``."""
    from nbgrader.api import Gradebook
    from nbgrader.preprocessors import SaveAutoGrades
    from sqlalchemy.exc import SAWarning

    grade_ = graded.grade
    _forget_digest(db_url, course_id, grade_.student, grade_.assignment)
    if not graded.notebooks:
        _forget_submission(db_url, course_id, grade_.assignment, grade_.student)
    else:
        with warnings.catch_warnings(), Gradebook(db_url, course_id) as gb:
            warnings.simplefilter("ignore", SAWarning)  # nbgrader's own session bookkeeping, not a grading problem
            gb.update_or_create_student(grade_.student)
            submitted_at = _submitted_at(graded.submission.files.get("timestamp.txt"))
            gb.update_or_create_submission(grade_.assignment, grade_.student,
                                           **({"timestamp": submitted_at} if submitted_at else {}))
            for notebook in gb.find_assignment(grade_.assignment).notebooks:
                if f"{notebook.name}.ipynb" not in graded.notebooks:
                    for cell_grade in gb.find_submission_notebook(notebook.name, grade_.assignment, grade_.student).grades:
                        cell_grade.auto_score, cell_grade.needs_manual_grade = 0, False
            gb.db.commit()
        for name, text in graded.notebooks.items():
            resources = {"nbgrader": {"notebook": Path(name).stem, "assignment": grade_.assignment,
                                      "student": grade_.student, "db_url": db_url}}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SAWarning)
                SaveAutoGrades().preprocess(nbformat.reads(text, as_version=4), resources)
    if feedback_dir is not None:
        for rel, data in graded.feedback.items():
            path = Path(feedback_dir) / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
    _remember_digest(db_url, course_id, graded)


def _submitted_at(data: bytes | None):
    """When nbgrader's exchange says the submission was made (its ``timestamp.txt``), read as autograde reads
    it (``parse_utc``), so that the gradebook counts it late against the assignment's due date; None without one."""
    from nbgrader.utils import parse_utc

    text = (data or b"").decode("utf-8", "replace").strip()
    try:
        return parse_utc(text) if text else None
    except ValueError:
        return None


def has_feedback(stored: dict, feedback_dir: Path) -> bool:
    """Whether the HTML feedback of a recorded grade (``recorded``) is under ``feedback_dir``: none is
    needed where nothing was graded; a graded submission recorded without feedback has none."""
    if not stored["graded"]:
        return True
    return bool(stored["html"]) and all((Path(feedback_dir) / rel).is_file() for rel in stored["html"])


def stored_grade(submission: Submission, stored: dict) -> Grade:
    return Grade(submission.student, submission.assignment, float(stored["score"]), float(stored["max_score"]),
                 stored["problem"], tuple(stored["feedback"]))


def recorded(db_url: str, course_id: str, submission: Submission) -> dict | None:
    """What ``record`` stored of ``submission``'s grade (score, problem, feedback lines, HTML files, autograded
    notebooks) if it was recorded for the same digest and the gradebook still holds that score; else None."""
    from nbgrader.api import Gradebook, MissingEntry
    from sqlalchemy import select

    table = _digest_table()
    try:
        with _engine(db_url).connect() as connection:
            row = connection.execute(select(table.c.digest, table.c.grade).where(
                table.c.course_id == course_id, table.c.student == submission.student,
                table.c.assignment == submission.assignment)).first()
    except Exception:  # no such table yet
        return None
    if row is None or row.digest != submission.digest:
        return None
    stored = json.loads(row.grade)
    with Gradebook(db_url, course_id) as gb:
        try:
            score = gb.find_submission(submission.assignment, submission.student).score
        except MissingEntry:
            score = None
    if stored["graded"] and score != stored["score"] or not stored["graded"] and score is not None:
        return None
    return stored


@functools.cache
def _digest_table():
    """Beside nbgrader's tables: the digest (``submission_digest``) each recorded grade was given for."""
    from sqlalchemy import Column, MetaData, String, Table, Text

    return Table("rl_course_graded", MetaData(), Column("course_id", String(128), primary_key=True),
                 Column("student", String(128), primary_key=True), Column("assignment", String(128), primary_key=True),
                 Column("digest", String(64), nullable=False), Column("grade", Text, nullable=False))


@functools.cache
def _engine(db_url: str):
    from sqlalchemy import create_engine

    return create_engine(db_url)


def _forget_digest(db_url: str, course_id: str, student: str, assignment: str) -> None:
    table = _digest_table()
    with _engine(db_url).begin() as connection:  # the table: made by prepare_gradebook
        connection.execute(table.delete().where(table.c.course_id == course_id, table.c.student == student,
                                                table.c.assignment == assignment))


def _remember_digest(db_url: str, course_id: str, graded: Graded) -> None:
    g = graded.grade
    stored = {"graded": bool(graded.notebooks), "score": g.score, "max_score": g.max_score, "problem": g.problem,
              "feedback": list(g.feedback), "html": sorted(graded.feedback), "notebooks": graded.notebooks}
    with _engine(db_url).begin() as connection:
        connection.execute(_digest_table().insert().values(course_id=course_id, student=g.student, assignment=g.assignment,
                                                           digest=graded.submission.digest, grade=json.dumps(stored)))


SQLITE_LOCK_SECONDS = 60  # how long a grading job waits for another one's write to an SQLite gradebook
GRADEBOOK_LOCK_KEY = 0x726C636F  # the PostgreSQL advisory lock graders take while they prepare a shared gradebook


def gradebook_url(course_root: Path, db_url: str | None = None) -> str:
    """Where grades are recorded: ``db_url`` if given (e.g. ``postgresql://grader@host/course``), else
    ``CourseDirectory.db_url`` of ``nbgrader_config.py``, else nbgrader's default ``gradebook.db`` at the
    course root. An SQLite gradebook is shared by waiting up to ``SQLITE_LOCK_SECONDS`` for a lock."""
    if not db_url:
        config = course_config(course_root).CourseDirectory
        db_url = config.db_url if "db_url" in config else f"sqlite:///{Path(course_root).resolve() / 'gradebook.db'}"
    try:
        from sqlalchemy.engine import make_url

        url = make_url(db_url)
    except Exception as error:
        raise CourseError(f"--db {db_url}: not a database URL ({one_line(error)}); e.g. sqlite:///gradebook.db "
                          f"or postgresql://user@host/dbname") from None
    if url.get_backend_name() == "sqlite" and "timeout" not in url.query:
        url = url.update_query_dict({"timeout": str(SQLITE_LOCK_SECONDS)})
    return url.render_as_string(hide_password=False)


def prepare_gradebook(course_root: Path, db_url: str, assignments_: list[str], students: list[str]) -> GradebookTemplate | None:
    """Record the assignments (their notebooks and cells, as ``nbgrader generate_assignment`` does) and
    the students in the gradebook, before submissions are graded into it concurrently; returns the
    SQLite gradebook that holds just those assignments, which each grader's scratch course starts from.

    Graders that share the gradebook prepare it one at a time (``_gradebook_lock``), each making the table of
    digests (``recorded``) if it is missing, and an assignment
    that the gradebook already holds as ``solutions/`` has it is left alone: nbgrader records it anew by
    deleting its rows, which would pull them from under the running jobs of another grader.
    """
    from nbgrader.api import Gradebook

    if not assignments_:
        return None
    with scratch_course(course_root) as (api, scratch):  # what generate_assignment records, in a throwaway gradebook
        for assignment in assignments_:
            generate(api, scratch, assignment)
        course_id = api.coursedir.course_id
        with Gradebook(api.coursedir.db_url, course_id) as gb:
            wanted = {assignment: _recorded(gb, assignment) for assignment in assignments_}
        template = GradebookTemplate(tuple(assignments_), (scratch / "gradebook.db").read_bytes())
    try:
        with _gradebook_lock(db_url):
            with Gradebook(db_url, course_id) as gb:
                stale = [assignment for assignment in assignments_ if _recorded(gb, assignment) != wanted[assignment]]
            if stale:
                with scratch_course(course_root, db_url=db_url) as (api, scratch):
                    for assignment in stale:
                        generate(api, scratch, assignment)
            with Gradebook(db_url, course_id) as gb:
                for student in students:
                    gb.update_or_create_student(student)
            with _engine(db_url).begin() as connection:  # made here, under the lock: two graders that both found it
                _digest_table().create(connection, checkfirst=True)  # missing would both create it, and one would fail
    except CourseError as error:
        raise CourseError(f"gradebook {shown_url(db_url)}: {error}") from None
    except ModuleNotFoundError as error:
        raise CourseError(f"gradebook {shown_url(db_url)}: its database driver is missing ({error}); "
                          f"for PostgreSQL: pip install 'rl-course[postgres]'") from None
    except Exception as error:  # the database cannot be reached, …
        raise CourseError(f"gradebook {shown_url(db_url)}: {one_line(error)}") from None
    return template


@dataclass(frozen=True)
class GradebookTemplate:
    """An SQLite gradebook holding ``assignments`` as ``nbgrader generate_assignment`` records them (``data``: its bytes)."""

    assignments: tuple[str, ...]
    data: bytes = field(repr=False)


def _recorded(gb, assignment: str) -> dict | None:
    """What a gradebook holds of an assignment: the cells of each notebook, without database ids."""
    from nbgrader.api import MissingEntry

    try:
        notebooks = gb.find_assignment(assignment).notebooks
    except MissingEntry:
        return None
    return {nb.name: sorted(sorted((key, repr(value)) for key, value in cell.to_dict().items() if key != "id")
                            for cell in (*nb.grade_cells, *nb.solution_cells, *nb.source_cells, *nb.task_cells))
            for nb in notebooks}


@contextmanager
def _gradebook_lock(db_url: str) -> Iterator[None]:
    """Held by one grader at a time among those sharing the gradebook: a PostgreSQL advisory lock, or
    an exclusive lock on a file beside an SQLite gradebook."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(db_url)
    if url.get_backend_name() == "postgresql":
        engine = create_engine(db_url)
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": GRADEBOOK_LOCK_KEY})
                try:
                    yield
                finally:
                    connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": GRADEBOOK_LOCK_KEY})
        finally:
            engine.dispose()
    elif url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        import fcntl

        with open(f"{url.database}.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
    else:
        yield


def _forget_submission(db_url: str, course_id: str, assignment: str, student: str) -> None:
    """Remove a submission's earlier grades from the gradebook: this time it could not be graded."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(db_url, course_id) as gb:
        try:
            gb.remove_submission(assignment, student)
        except MissingEntry:
            pass


def shown_url(db_url: str) -> str:
    """The URL with its password, if any, hidden."""
    from sqlalchemy.engine import make_url

    return make_url(db_url).render_as_string(hide_password=True)
