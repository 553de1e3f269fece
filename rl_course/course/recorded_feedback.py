"""nbgrader's HTML feedback for grades the gradebook already holds, without grading again.

``rl-course feedback`` after ``rl-course grade`` finds every unchanged submission recorded (``gradebook.recorded``)
with its autograded notebooks, but not its HTML feedback. Running the notebooks again would cost a kernel and
the whole notebook per submission; instead each recorded autograded notebook is put back where nbgrader's
``autograde`` leaves it (``autograded/<student>/<assignment>/``) in a scratch course, its scores saved in the scratch
gradebook (``SaveAutoGrades``, as autograde does), and ``generate_feedback`` writes the feedback: no kernel starts.
"""

from __future__ import annotations

import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import nbformat

from rl_course.course import gradebook
from rl_course.course.autograde import Grader
from rl_course.course.records import Graded, Submission
from rl_course.course.reports import html_feedback
from rl_course.course.submissions import NBGRADER_RECORDS


def feedback_of_recorded(grader: Grader, recorded: list[tuple[Submission, dict]]) -> Iterator[Graded]:
    """For each ``(submission, stored)`` (``stored``: what ``gradebook.recorded`` returns, its ``notebooks`` the
    autograded notebooks), the recorded grade as a ``Graded`` with nbgrader's HTML feedback, for ``gradebook.record``;
    its ``problems`` are only those met writing the feedback."""
    with tempfile.TemporaryDirectory(prefix="rl-course-feedback-") as tmp, \
            replace(grader, scratch_parent=Path(tmp)) as scratch:
        for submission, stored in recorded:
            yield _feedback(scratch, submission, stored)


def _feedback(grader: Grader, submission: Submission, stored: dict) -> Graded:
    from nbgrader.api import Gradebook
    from nbgrader.preprocessors import SaveAutoGrades
    from sqlalchemy.exc import SAWarning

    started = time.perf_counter()
    student, assignment = submission.student, submission.assignment
    grade = gradebook.stored_grade(submission, stored)
    notebooks = stored["notebooks"]
    if not notebooks:  # nothing was gradable: no feedback to write
        return Graded(submission, grade, [], 0.0)
    grader.learn(assignment)
    autograded = grader.scratch / "autograded" / student / assignment
    autograded.mkdir(parents=True, exist_ok=True)
    for name in NBGRADER_RECORDS:  # as autograde leaves them: generate_feedback hands them on, release_feedback needs them
        if name in submission.files:
            (autograded / name).write_bytes(submission.files[name])
    with warnings.catch_warnings(), Gradebook(grader.api.coursedir.db_url, grader.api.coursedir.course_id) as gb:
        warnings.simplefilter("ignore", SAWarning)
        gb.update_or_create_student(student)
        gb.update_or_create_submission(assignment, student)
    for name, text in notebooks.items():
        (autograded / name).write_text(text)
        resources = {"nbgrader": {"notebook": Path(name).stem, "assignment": assignment, "student": student,
                                  "db_url": grader.api.coursedir.db_url}}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SAWarning)
            SaveAutoGrades().preprocess(nbformat.reads(text, as_version=4), resources)
    html, problems = html_feedback(grader.api, grader.scratch, assignment, student)
    if problems:
        grade = replace(grade, problem="; ".join([grade.problem, *problems] if grade.problem else problems))
    return Graded(submission, grade, problems, time.perf_counter() - started, notebooks, html)
