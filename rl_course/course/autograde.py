"""One submission's grading: its gradable files gathered (never following a link, leaving out a notebook
that tampers with the tests), the digest its grade depends on, and ``Grader``, which autogrades it with
nbgrader in a scratch course of its own and gives back what the gradebook records (``Graded``)."""

from __future__ import annotations

import functools
import json
import shutil
import tempfile
import time
import warnings
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import nbformat

from rl_course.course import submissions
from rl_course.course.layout import CONFIG_FILE, SOURCE_DIR, last_line
from rl_course.course.nbgrader_setup import course_config, scratch_course
from rl_course.course.records import Grade, Graded, Submission
from rl_course.course.release import generate
from rl_course.course.reports import feedback_lines, html_feedback
from rl_course.course.tampering import find_tampering

if TYPE_CHECKING:
    from rl_course.course.gradebook import GradebookTemplate


def gather(student: str, assignment: str, folder: Path, course_root: Path, misnamed: str = "grade", salt: str = "") -> Submission:
    """The gradable files of ``folder`` (``DIR/<student>/<assignment>``), read as ``_copy_gradable`` copies them."""
    with tempfile.TemporaryDirectory(prefix="rl-course-gather-") as tmp:
        target = Path(tmp) / "copy"
        problems = _copy_gradable(folder, target, Path(course_root) / SOURCE_DIR / assignment, misnamed)
        files = {p.name: p.read_bytes() for p in sorted(target.iterdir()) if p.is_file()}
    return Submission(student, assignment, Path(folder), files, problems, submission_digest(files, problems, salt))


def submission_digest(files: dict[str, bytes], problems: list[str], salt: str) -> str:
    """SHA-256 of what a grade depends on: the gradable files (name, bytes), the problems found gathering
    them, and ``salt`` (``Grader.settings_digest``: the assignment sources, the library, the settings)."""
    import hashlib

    digest = hashlib.sha256(salt.encode())
    for name, data in sorted(files.items()):
        digest.update(b"\0file\0" + name.encode() + b"\0" + hashlib.sha256(data).digest())
    for line in problems:
        digest.update(b"\0problem\0" + line.encode())
    return digest.hexdigest()


KILLED = "not graded, the process grading it was killed (by the submission's code?)"


def not_graded(course_root: Path, submission: Submission, why: str) -> Graded:
    """0 for a submission that could not be graded, with the problem line ``<folder>: <why>``."""
    line = f"{submission.folder}: {why}"
    problems = [*submission.problems, line]
    grade_ = Grade(submission.student, submission.assignment, 0.0, max_score(course_root, submission.assignment), "; ".join(problems))
    return Graded(submission, grade_, problems, 0.0)


def max_score(course_root: Path, assignment: str) -> float:
    """The points of every graded cell of the assignment's source notebooks."""
    return float(sum(cell.metadata.nbgrader.get("points", 0)
                     for path in (Path(course_root) / SOURCE_DIR / assignment).glob("*.ipynb")
                     for cell in nbformat.read(path, as_version=4).cells
                     if cell.metadata.get("nbgrader", {}).get("grade")))


@dataclass
class Grader:
    """Grades one submission at a time in a scratch nbgrader course with a gradebook of its own
    (``with Grader(...) as grader``); what it gives is recorded in the gradebook at ``db_url`` by ``record``."""

    course_root: Path
    db_url: str
    timeout: int | None = None
    feedback_dir: Path | None = None
    scratch_parent: Path | None = None
    sandbox: dict = field(default_factory=dict)
    confined: bool = False
    student_edition: bool | None = None  # kernels on the window's student edition (None: nbgrader_config.py's c.Sandbox)
    misnamed: str = "grade"
    template: GradebookTemplate | None = None  # the scratch gradebook starts as this one, its assignments recorded

    @functools.cached_property
    def course_id(self) -> str:
        """``c.CourseDirectory.course_id`` of the course's ``nbgrader_config.py``, read once per grader."""
        return course_config(self.course_root).CourseDirectory.course_id

    def settings_digest(self, with_confinement: bool = True) -> str:
        """What every grade depends on besides the submission: the course's configuration and sources, the
        library's code, the time limit, the sandbox's caps and which library kernels import (not the HTML feedback:
        ``recorded_feedback`` writes it from a recorded grade's notebooks)."""
        import hashlib

        digest = hashlib.sha256()
        library = Path(__file__).resolve().parents[1]
        for path in [Path(self.course_root) / CONFIG_FILE, *sorted((Path(self.course_root) / SOURCE_DIR).rglob("*")),
                     *sorted(library.rglob("*.py"))]:
            if path.is_file() and ".ipynb_checkpoints" not in path.parts:
                digest.update(str(path.name).encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
        digest.update(json.dumps([self.timeout, sorted(self.sandbox.items()), self.confined if with_confinement else None,
                                  self.student_edition], default=str).encode())
        return digest.hexdigest()

    def __enter__(self) -> Grader:
        from sqlalchemy.exc import SAWarning

        self._stack = ExitStack()
        self.api, self.scratch = self._stack.enter_context(
            scratch_course(self.course_root, self.timeout, self.scratch_parent, sandbox=self.sandbox, confined=self.confined,
                            student_edition=self.student_edition))
        self._stack.enter_context(warnings.catch_warnings())
        warnings.simplefilter("ignore", SAWarning)  # nbgrader's own session bookkeeping, not a grading problem
        self._generated: set[str] = set()
        if self.template is not None:
            (self.scratch / "gradebook.db").write_bytes(self.template.data)
            self._generated.update(self.template.assignments)
        return self

    def __exit__(self, *exc_info) -> None:
        self._stack.__exit__(*exc_info)

    def learn(self, assignment: str) -> None:
        """The scratch gradebook learns ``assignment`` from its source (nbgrader's generate_assignment), once."""
        if assignment not in self._generated:
            generate(self.api, self.scratch, assignment)
            self._generated.add(assignment)

    def grade(self, submission: Submission) -> Graded:
        """Autograde one student's assignment in the scratch course."""
        from nbgrader.api import Gradebook

        api, scratch = self.api, self.scratch
        student, assignment = submission.student, submission.assignment
        started = time.perf_counter()
        problems = list(submission.problems)
        target = scratch / "submitted" / student / assignment
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        for name, data in submission.files.items():
            (target / name).write_bytes(data)
        self.learn(assignment)
        graded = any(target.glob("*.ipynb"))
        if graded:
            result = api.autograde(assignment, student, force=True, create=True)
            if not result["success"]:
                problems.append(f"{submission.folder}: nbgrader could not autograde it: {last_line(result)}")
                graded = False
        with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
            max_score_ = gb.find_assignment(assignment).max_score
            score = gb.find_submission(assignment, student).score if graded else 0.0
        autograded = scratch / "autograded" / student / assignment
        notebooks = {p.name: p.read_text() for p in sorted(autograded.glob("*.ipynb"))} if graded else {}
        feedback = feedback_lines(autograded) if graded else ()
        html: dict[str, bytes] = {}
        if graded and self.feedback_dir is not None:
            html, more = html_feedback(api, scratch, assignment, student)
            problems += more
        grade_ = Grade(student, assignment, float(score), float(max_score_), "; ".join(problems), feedback)
        return Graded(submission, grade_, problems, time.perf_counter() - started, notebooks, html)


def _copy_gradable(source: Path, target: Path, solutions: Path, misnamed: str = "grade") -> list[str]:
    """Copy the files of a submission that the assignment has (its notebooks, and any file beside them in
    ``solutions/``), never following a link (``rl_course.course.submissions``), leaving out notebooks that are
    missing, unreadable or that tamper with the tests (``rl_course.course.tampering``); returns the problems, one line each.

    Nothing else is copied: the kernel runs in the submission's folder, where a student's own
    ``rl_course/`` or ``numpy.py`` would be imported in place of the real one.
    """
    problems, copied = submissions.copy_gradable(source, target, solutions, misnamed)
    for name, submission in copied.items():
        attempts = find_tampering(submission, nbformat.read(solutions / name, as_version=4))
        if attempts:
            problems.append(f"{source / name}: not graded, it tampers with the tests: " + "; ".join(attempts))
            (target / name).unlink()
    return problems
