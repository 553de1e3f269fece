"""The records grading hands between its parts: a ``Submission`` as it is gathered, the ``Graded`` result of grading
it, and the ``Grade`` reported per student and assignment."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Grade:
    """The autograded score of one student's assignment.

    ``problem`` says why it could not be graded in full; ``feedback`` holds one line per test cell
    that lost points, e.g. ``td_lambda.ipynb test_td_error_terminal (0 / 1): AssertionError: …``.
    """

    student: str
    assignment: str
    score: float
    max_score: float
    problem: str = ""
    feedback: tuple[str, ...] = ()


@dataclass
class Submission:
    """One student's assignment as it is handed to a grader: the gradable files (``_copy_gradable``), the
    problems found while gathering them, and ``digest``, what its grade depends on (``submission_digest``)."""

    student: str
    assignment: str
    folder: Path
    files: dict[str, bytes]
    problems: list[str]
    digest: str


@dataclass
class Graded:
    """What grading a ``Submission`` gives, for the process that holds the gradebook to record (``record``):
    the grade, its problems, the seconds it took, the autograded notebooks (JSON text by file name; none
    when nothing was gradable) and nbgrader's HTML feedback (bytes by path under the feedback folder)."""

    submission: Submission
    grade: Grade
    problems: list[str]
    seconds: float
    notebooks: dict[str, str] = field(default_factory=dict)
    feedback: dict[str, bytes] = field(default_factory=dict)
