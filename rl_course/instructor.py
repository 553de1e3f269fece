"""The instructor's workflow on top of nbgrader: release the student notebooks, autograde submissions.

The course is an nbgrader course (``nbgrader_config.py`` at its root) whose source
directory is ``solutions/`` and release directory ``notebooks/``. Every operation here
runs nbgrader in a scratch course directory that links to ``solutions/``, so nothing in
the repository changes except what the operation is for: ``notebooks/`` on release, and
on grading the gradebook (``gradebook.db`` at the course root, or the database ``--db`` names).
"""

from __future__ import annotations

import csv
import functools
import json
import multiprocessing
import os
import re
import shutil
import sys
import tempfile
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterator

import nbformat

from rl_course import submissions
from rl_course.tampering import find_tampering

CONFIG_FILE = "nbgrader_config.py"
SOURCE_DIR = "solutions"
RELEASE_DIR = "notebooks"


class CourseError(Exception):
    """A problem the user can fix, reported as one line without a traceback."""


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


def find_course_root(start: Path | str | None = None) -> Path:
    """The nearest folder at or above ``start`` holding ``nbgrader_config.py`` and ``solutions/``."""
    start = Path(start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / CONFIG_FILE).is_file() and (folder / SOURCE_DIR).is_dir():
            return folder
    raise CourseError(f"no course found: neither {start} nor a parent holds {CONFIG_FILE} and {SOURCE_DIR}/")


def assignments(course_root: Path) -> list[str]:
    """The assignments of the course: the folders of ``solutions/`` that hold notebooks."""
    source = Path(course_root) / SOURCE_DIR
    return sorted(d.name for d in source.iterdir() if d.is_dir() and any(d.glob("*.ipynb")))


# ---------------------------------------------------------------- release


def release(course_root: Path) -> list[Path]:
    """Regenerate ``notebooks/`` from ``solutions/`` with ``nbgrader generate_assignment``; returns the written files."""
    course_root = Path(course_root)
    written = []
    with _scratch_course(course_root) as (api, scratch):
        for assignment in assignments(course_root):
            generated = _generate(api, scratch, assignment)
            target = course_root / RELEASE_DIR / assignment
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(generated, target)
            written += sorted(p for p in target.rglob("*") if p.is_file())
        for stale in _stale_release_folders(course_root):
            shutil.rmtree(stale)
    return written


def check_release(course_root: Path) -> list[str]:
    """What in the committed ``notebooks/`` differs from a fresh release; empty when in sync."""
    course_root = Path(course_root)
    problems = []
    with _scratch_course(course_root) as (api, scratch):
        for assignment in assignments(course_root):
            generated = _generate(api, scratch, assignment)
            committed = course_root / RELEASE_DIR / assignment
            for path in sorted(p for p in generated.rglob("*") if p.is_file()):
                rel = path.relative_to(generated)
                target = committed / rel
                shown = Path(RELEASE_DIR) / assignment / rel
                if not target.is_file():
                    problems.append(f"{shown}: missing from the release")
                elif not _same_file(path, target):
                    problems.append(f"{shown}: out of date with {SOURCE_DIR}/{assignment}/{rel}")
            for path in sorted(p for p in committed.rglob("*") if p.is_file()) if committed.is_dir() else []:
                if not (generated / path.relative_to(committed)).exists() and ".ipynb_checkpoints" not in path.parts:
                    problems.append(f"{Path(RELEASE_DIR) / assignment / path.relative_to(committed)}: not generated from {SOURCE_DIR}/")
    for stale in _stale_release_folders(course_root):
        problems.append(f"{stale.relative_to(course_root)}: no such assignment in {SOURCE_DIR}/")
    for assignment in assignments(course_root):
        for path in sorted((course_root / SOURCE_DIR / assignment).glob("*.ipynb")):
            problems += [f"{path.relative_to(course_root)}: {line}" for line in notebook_metadata_problems(path)]
    return problems


def jupyterlab_metadata() -> dict:
    """The notebook metadata JupyterLab writes when it saves a notebook run on the course's ``python3`` kernel
    (ipykernel's kernel spec and language_info): a notebook stored with other metadata opens marked unsaved."""
    from ipykernel.ipkernel import IPythonKernel
    from ipykernel.kernelspec import KERNEL_NAME, get_kernel_dict

    spec = get_kernel_dict()
    return {"kernelspec": {"display_name": spec["display_name"], "language": spec["language"], "name": KERNEL_NAME},
            "language_info": dict(IPythonKernel.language_info)}


def notebook_metadata_problems(path: Path) -> list[str]:
    """How the metadata of the notebook at ``path`` differs from ``jupyterlab_metadata()``, one line each.

    The Python version is compared up to the minor version (3.11): its patch level is the machine's.
    """
    stored = json.loads(Path(path).read_text()).get("metadata", {})
    problems = []
    for key, expected in jupyterlab_metadata().items():
        got = dict(stored.get(key) or {})
        if key == "language_info":
            version = ".".join(str(expected.pop("version", "")).split(".")[:2])
            if not str(got.pop("version", "")).startswith(version + "."):
                problems.append(f"metadata.language_info.version is {stored.get(key, {}).get('version')!r}, not Python {version}.x")
        if got != expected:
            problems.append(f"metadata.{key} is {stored.get(key)!r}, not what JupyterLab writes: {jupyterlab_metadata()[key]!r} "
                            "(the notebook would open marked unsaved)")
    return problems


def _generate(api, scratch: Path, assignment: str) -> Path:
    result = api.generate_assignment(assignment, force=True, create=True)
    if not result["success"]:
        raise CourseError(f"{SOURCE_DIR}/{assignment}: nbgrader could not generate the release: {_last_line(result)}")
    return scratch / "release" / assignment


def _stale_release_folders(course_root: Path) -> list[Path]:
    release_dir = course_root / RELEASE_DIR
    known = set(assignments(course_root))
    return sorted(d for d in release_dir.iterdir() if d.is_dir() and d.name not in known) if release_dir.is_dir() else []


def _same_file(a: Path, b: Path) -> bool:
    if a.suffix == ".ipynb":
        try:
            return json.loads(a.read_text()) == json.loads(b.read_text())
        except json.JSONDecodeError:
            return False
    return a.read_bytes() == b.read_bytes()


# ---------------------------------------------------------------- grading


def grade(
    submitted: Path,
    course_root: Path,
    on_problem: Callable[[str], None] = lambda line: None,
    on_graded: Callable[[Grade, float], None] = lambda grade, seconds: None,
    timeout: int | None = None,
    feedback_dir: Path | None = None,
    jobs: int = 1,
    db_url: str | None = None,
    sandbox: dict | None = None,
    on_warning: Callable[[str], None] = lambda line: None,
) -> list[Grade]:
    """Autograde every submission under ``submitted`` (``<student>/<assignment>/<notebook>.ipynb``).

    A submission that cannot be graded (unknown assignment, missing or unreadable
    notebook, a link or special file, which are never followed: ``rl_course.submissions``) is
    reported through ``on_problem`` as one line naming the file and why, never quoting it, scores
    what it can (0 when nothing is gradable), and the rest of the batch is graded as usual.
    ``timeout`` overrides the seconds a cell may run (``nbgrader_config.py``'s ``ExecutePreprocessor.timeout``).
    With ``feedback_dir``, nbgrader's HTML feedback of every graded submission is written to
    ``feedback_dir/<student>/<assignment>/<notebook>.html``. Grading runs in ``jobs`` worker processes,
    that many submissions at once; the grades do not depend on ``jobs`` and are listed in the same order.

    Every grade is recorded in nbgrader's gradebook at ``db_url`` (default: ``gradebook_url(course_root)``),
    which then holds exactly the scores returned: a submission that could not be graded loses any
    score an earlier grading left there. Several graders, or ``jobs`` workers, may share one gradebook.

    Each submission's kernel runs confined (``rl_course.sandbox``), with the caps of ``c.Sandbox`` in
    ``nbgrader_config.py`` updated by ``sandbox`` (e.g. ``{"memory_limit": "4G"}``, ``{"enabled": False}``).
    Where confinement is not possible, ``on_warning`` is told why and the kernels run unconfined.
    """
    submitted, course_root = Path(submitted), Path(course_root)
    if not submitted.is_dir() and not submitted.is_symlink():
        raise CourseError(f"{submitted}: not a folder of submissions (expected {submitted}/<student>/<assignment>/<notebook>.ipynb)")
    if jobs < 1:
        raise CourseError(f"jobs must be at least 1, got {jobs}")
    try:
        tasks = [(t.student, t.assignment, t.folder) for t in submissions.discover(submitted, assignments(course_root), on_problem)]
    except submissions.NotGradable as error:
        raise CourseError(str(error)) from None
    if timeout is not None and timeout < 1:
        raise CourseError(f"the time limit per cell must be at least 1 second, got {timeout}")
    try:
        misnamed = submissions.Submissions(config=_load_config(course_root)).misnamed_notebooks
    except Exception as error:  # a value Enum does not allow
        raise CourseError(f"{CONFIG_FILE}: c.Submissions.misnamed_notebooks: {_one_line(error)}") from None
    confined, why_not = confinement(course_root, sandbox)
    if why_not:
        on_warning(f"submissions run unconfined, with the grader's rights: {why_not}")
    db_url = gradebook_url(course_root, db_url)
    prepare_gradebook(course_root, db_url, sorted({a for _, a, _ in tasks}), sorted({s for s, _, _ in tasks}))
    grades = []
    for grade_, problems, seconds in _grade_all(tasks, _Grader(course_root, db_url, timeout, feedback_dir, sandbox=dict(sandbox or {}),
                                                                    confined=confined, misnamed=misnamed), jobs):
        for line in problems:
            on_problem(line)
        grades.append(grade_)
        on_graded(grade_, seconds)
    return sorted(grades, key=lambda g: (g.student, g.assignment))


def _grade_all(tasks: list, grader: "_Grader", jobs: int) -> Iterator[tuple[Grade, list[str], float]]:
    """(grade, problems, seconds) of each task as it finishes, graded in ``jobs`` worker processes, each
    with a scratch course (and gradebook) of its own.

    Student code runs in kernels that the workers start, so it can kill a worker (``os.kill(os.getppid(), 9)``)
    and with it the tasks that worker held. Those tasks are graded again one at a time, each in a fresh
    worker; a task that kills that one too gets 0 and a problem line, and the batch goes on.
    """
    with tempfile.TemporaryDirectory(prefix="rl-course-jobs-") as root:
        grader = replace(grader, scratch_parent=Path(root))
        lost = yield from _in_workers(tasks, grader, jobs)
        for task in lost:
            again = yield from _in_workers([task], grader, 1)
            for student, assignment, assignment_dir in again:
                yield _not_graded(grader, student, assignment,
                                  f"{assignment_dir}: not graded, the process grading it was killed (by the submission's code?)")


def _in_workers(tasks: list, grader: "_Grader", jobs: int):
    """Grade ``tasks`` in a pool of ``jobs`` workers, yielding results; returns the tasks whose worker died."""
    lost = []
    pool = ProcessPoolExecutor(min(jobs, len(tasks)) or 1, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_start_worker, initargs=(grader,))
    try:
        futures = {pool.submit(_grade_in_worker, *task): task for task in tasks}
        for done in as_completed(futures):
            try:
                yield done.result()
            except BrokenProcessPool:
                lost.append(futures[done])
            except Exception as error:  # a failure of the grader itself: this submission is reported, the batch goes on
                student, assignment, assignment_dir = futures[done]
                yield _not_graded(grader, student, assignment, f"{assignment_dir}: not graded: {_one_line(error)}")
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return lost


def _not_graded(grader: "_Grader", student: str, assignment: str, line: str) -> tuple[Grade, list[str], float]:
    _forget_submission(grader.db_url, grader.course_id, assignment, student)
    return Grade(student, assignment, 0.0, max_score(grader.course_root, assignment), line), [line], 0.0


def max_score(course_root: Path, assignment: str) -> float:
    """The points of every graded cell of the assignment's source notebooks."""
    return float(sum(cell.metadata.nbgrader.get("points", 0)
                     for path in (Path(course_root) / SOURCE_DIR / assignment).glob("*.ipynb")
                     for cell in nbformat.read(path, as_version=4).cells
                     if cell.metadata.get("nbgrader", {}).get("grade")))


_worker_grader: "_Grader | None" = None


def _start_worker(grader: "_Grader") -> None:
    """A worker's scratch course, open for the worker's life; it lies under a folder the parent removes."""
    global _worker_grader
    _worker_grader = grader.__enter__()


def _grade_in_worker(student: str, assignment: str, assignment_dir: Path):
    return _worker_grader.grade(student, assignment, assignment_dir)


@dataclass
class _Grader:
    """Grades one submission at a time in a scratch nbgrader course that records into the gradebook at
    ``db_url`` (``with _Grader(...) as grader``); ``prepare_gradebook`` has recorded the assignments and students."""

    course_root: Path
    db_url: str
    timeout: int | None = None
    feedback_dir: Path | None = None
    scratch_parent: Path | None = None
    sandbox: dict = field(default_factory=dict)
    confined: bool = False
    misnamed: str = "grade"

    @property
    def course_id(self) -> str:
        return _load_config(self.course_root).CourseDirectory.course_id

    def __enter__(self) -> "_Grader":
        from sqlalchemy.exc import SAWarning

        self._stack = ExitStack()
        self.api, self.scratch = self._stack.enter_context(
            _scratch_course(self.course_root, self.timeout, self.scratch_parent, db_url=self.db_url,
                            sandbox=self.sandbox, confined=self.confined))
        self._stack.enter_context(warnings.catch_warnings())
        warnings.simplefilter("ignore", SAWarning)  # nbgrader's own session bookkeeping, not a grading problem
        return self

    def __exit__(self, *exc_info) -> None:
        self._stack.__exit__(*exc_info)

    def grade(self, student: str, assignment: str, assignment_dir: Path) -> tuple[Grade, list[str], float]:
        """Autograde one student's assignment: (grade, problems, seconds)."""
        from nbgrader.api import Gradebook

        api, scratch = self.api, self.scratch
        started = time.perf_counter()
        problems = _copy_gradable(assignment_dir, scratch / "submitted" / student / assignment,
                                  Path(self.course_root) / SOURCE_DIR / assignment, self.misnamed)
        graded = any((scratch / "submitted" / student / assignment).glob("*.ipynb"))
        if graded:
            result = api.autograde(assignment, student, force=True, create=True)
            if not result["success"]:
                problems.append(f"{assignment_dir}: nbgrader could not autograde it: {_last_line(result)}")
                graded = False
        if not graded:
            _forget_submission(api.coursedir.db_url, api.coursedir.course_id, assignment, student)
        with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
            max_score = gb.find_assignment(assignment).max_score
            score = gb.find_submission(assignment, student).score if graded else 0.0
        feedback = _feedback(scratch / "autograded" / student / assignment) if graded else ()
        if graded and self.feedback_dir is not None:
            problems += _write_html_feedback(api, scratch, assignment, student, Path(self.feedback_dir))
        grade_ = Grade(student, assignment, float(score), float(max_score), "; ".join(problems), feedback)
        return grade_, problems, time.perf_counter() - started


def _write_html_feedback(api, scratch: Path, assignment: str, student: str, feedback_dir: Path) -> list[str]:
    """nbgrader's ``generate_feedback`` for one submission, copied out of the scratch course; returns the problems.

    The autograded notebook holds the hidden tests, restored for grading; the feedback is written
    from a copy without them (``_without_hidden_tests``), so it can be handed back.
    """
    for path in (scratch / "autograded" / student / assignment).glob("*.ipynb"):
        path.chmod(0o644)  # nbgrader leaves it read-only
        nbformat.write(_without_hidden_tests(nbformat.read(path, as_version=4)), path)
    result = api.generate_feedback(assignment, student)
    if not result["success"]:
        return [f"{student}/{assignment}: nbgrader could not write the feedback: {_last_line(result)}"]
    target = feedback_dir / student / assignment
    shutil.copytree(scratch / "feedback" / student / assignment, target, dirs_exist_ok=True)
    return []


def _without_hidden_tests(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook with every ``### BEGIN HIDDEN TESTS`` … ``### END HIDDEN TESTS`` region removed
    (nbgrader's ``ClearHiddenTests``) and each error output cut to its last line, ``AssertionError: …``:
    a traceback quotes the hidden line that failed."""
    from nbgrader.preprocessors import ClearHiddenTests

    nb, _ = ClearHiddenTests().preprocess(nb, {})
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                output.traceback = [f"{output.ename}: {output.evalue}"]
    return nb


def _copy_gradable(source: Path, target: Path, solutions: Path, misnamed: str = "grade") -> list[str]:
    """Copy the files of a submission that the assignment has (its notebooks, and any file beside them in
    ``solutions/``), never following a link (``rl_course.submissions``), leaving out notebooks that are
    missing, unreadable or that tamper with the tests (``rl_course.tampering``); returns the problems, one line each.

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


def _feedback(autograded: Path) -> tuple[str, ...]:
    """One line per graded cell of the autograded notebooks that lost points, with nbgrader's verdict
    (``determine_grade``) and why: the cell's error, or what it wrote to stderr (nbgrader gives such a cell 0)."""
    from nbgrader.utils import determine_grade, is_grade

    lines = []
    for path in sorted(autograded.glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if not is_grade(cell) or cell.cell_type != "code":
                continue
            score, max_score = determine_grade(cell)
            if score is None or score >= max_score:
                continue
            grade_id = cell.metadata["nbgrader"]["grade_id"]
            lines.append(f"{path.name} {grade_id} ({score:g} / {max_score:g}): {_why_cell_failed(cell)}")
    return tuple(lines)


def _why_cell_failed(cell) -> str:
    for output in cell.outputs:
        if output.output_type == "error" and output.ename in ("KeyboardInterrupt", "CellTimeoutError"):
            return "ran past the time limit for one cell and was stopped (an endless loop?)"
        if output.output_type == "error":
            return _one_line(f"{output.ename}: {output.evalue}" if output.evalue else output.ename)
        if output.output_type == "stream" and output.name == "stderr":
            return "wrote to stderr: " + _one_line(output.text)
    return "partial credit"


def write_grades_csv(grades: list[Grade], path: Path) -> None:
    """One row per student and assignment: student, assignment, score, max_score, problem, feedback
    (its lines, one per line of the cell)."""
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "assignment", "score", "max_score", "problem", "feedback"])
        for g in grades:
            writer.writerow([g.student, g.assignment, f"{g.score:g}", f"{g.max_score:g}", g.problem, "\n".join(g.feedback)])


def grades_json(grades: list[Grade]) -> dict:
    """``{student: {assignment: {"score": x, "max_score": y}}}``."""
    table: dict = {}
    for g in grades:
        table.setdefault(g.student, {})[g.assignment] = {"score": g.score, "max_score": g.max_score}
    return table


def grades_table(grades: list[Grade]) -> str:
    """A student × assignment table of score / max (``—`` where nothing was submitted)."""
    students = sorted({g.student for g in grades})
    columns = sorted({g.assignment for g in grades})
    cell = {(g.student, g.assignment): f"{g.score:g} / {g.max_score:g}" for g in grades}
    rows = [["student", *columns]] + [[s, *(cell.get((s, a), "—") for a in columns)] for s in students]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in rows)


# ---------------------------------------------------------------- the gradebook

SQLITE_LOCK_SECONDS = 60  # how long a grading job waits for another one's write to an SQLite gradebook
GRADEBOOK_LOCK_KEY = 0x726C636F  # the PostgreSQL advisory lock graders take while they prepare a shared gradebook


def gradebook_url(course_root: Path, db_url: str | None = None) -> str:
    """Where grades are recorded: ``db_url`` if given (e.g. ``postgresql://grader@host/course``), else
    ``CourseDirectory.db_url`` of ``nbgrader_config.py``, else nbgrader's default ``gradebook.db`` at the
    course root. An SQLite gradebook is shared by waiting up to ``SQLITE_LOCK_SECONDS`` for a lock."""
    if not db_url:
        config = _load_config(course_root).CourseDirectory
        db_url = config.db_url if "db_url" in config else f"sqlite:///{Path(course_root).resolve() / 'gradebook.db'}"
    try:
        from sqlalchemy.engine import make_url

        url = make_url(db_url)
    except Exception as error:
        raise CourseError(f"--db {db_url}: not a database URL ({_one_line(error)}); e.g. sqlite:///gradebook.db "
                          f"or postgresql://user@host/dbname") from None
    if url.get_backend_name() == "sqlite" and "timeout" not in url.query:
        url = url.update_query_dict({"timeout": str(SQLITE_LOCK_SECONDS)})
    return url.render_as_string(hide_password=False)


def prepare_gradebook(course_root: Path, db_url: str, assignments_: list[str], students: list[str]) -> None:
    """Record the assignments (their notebooks and cells, as ``nbgrader generate_assignment`` does) and
    the students in the gradebook, before submissions are graded into it concurrently.

    Graders that share the gradebook prepare it one at a time (``_gradebook_lock``), and an assignment
    that the gradebook already holds as ``solutions/`` has it is left alone: nbgrader records it anew by
    deleting its rows, which would pull them from under the running jobs of another grader.
    """
    from nbgrader.api import Gradebook

    if not assignments_:
        return
    with _scratch_course(course_root) as (api, scratch):  # what generate_assignment records, in a throwaway gradebook
        for assignment in assignments_:
            _generate(api, scratch, assignment)
        course_id = api.coursedir.course_id
        with Gradebook(api.coursedir.db_url, course_id) as gb:
            wanted = {assignment: _recorded(gb, assignment) for assignment in assignments_}
    try:
        with _gradebook_lock(db_url):
            with Gradebook(db_url, course_id) as gb:
                stale = [assignment for assignment in assignments_ if _recorded(gb, assignment) != wanted[assignment]]
            if stale:
                with _scratch_course(course_root, db_url=db_url) as (api, scratch):
                    for assignment in stale:
                        _generate(api, scratch, assignment)
            with Gradebook(db_url, course_id) as gb:
                for student in students:
                    gb.update_or_create_student(student)
    except CourseError as error:
        raise CourseError(f"gradebook {shown_url(db_url)}: {error}") from None
    except ModuleNotFoundError as error:
        raise CourseError(f"gradebook {shown_url(db_url)}: its database driver is missing ({error}); "
                          f"for PostgreSQL: pip install 'rl-course[postgres]'") from None
    except Exception as error:  # the database cannot be reached, …
        raise CourseError(f"gradebook {shown_url(db_url)}: {_one_line(error)}") from None


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


# ---------------------------------------------------------------- nbgrader plumbing


@contextmanager
def _scratch_course(course_root: Path, timeout: int | None = None, parent: Path | None = None,
                    db_url: str | None = None, sandbox: dict | None = None, confined: bool = False) -> Iterator[tuple[object, Path]]:
    """An nbgrader API over a temporary course directory whose ``source/`` links to ``solutions/``.

    The course's own ``nbgrader_config.py`` is loaded; only the folders are redirected, the
    gradebook to ``db_url`` (default: a throwaway one inside the scratch course), and with
    ``confined`` the kernels into the sandbox, its caps updated by ``sandbox``.
    """
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    config = _load_config(course_root)
    _put_own_scripts_on_path()
    with tempfile.TemporaryDirectory(prefix="rl-course-", dir=parent) as tmp:
        scratch = Path(tmp)
        (scratch / "source").symlink_to((Path(course_root) / SOURCE_DIR).resolve(), target_is_directory=True)
        config.CourseDirectory.root = str(scratch)
        config.CourseDirectory.source_directory = "source"
        config.CourseDirectory.release_directory = "release"
        config.CourseDirectory.submitted_directory = "submitted"
        config.CourseDirectory.autograded_directory = "autograded"
        config.CourseDirectory.feedback_directory = "feedback"
        config.CourseDirectory.db_url = db_url or f"sqlite:///{scratch / 'gradebook.db'}"
        config.Exchange.root = str(scratch / "exchange")
        if timeout is not None:
            config.Execute.timeout = timeout
        config.Sandbox.update(sandbox or {})
        config.Autograde.autograde_preprocessors = _autograde_preprocessors(confined)
        config.OverwriteCells.add_missing_cells = True  # a deleted test cell comes back from the gradebook and runs
        config.Execute.extra_arguments = ["--IPKernelApp.log_level=ERROR"]  # keep kernels' start-up chatter out of the report
        coursedir = CourseDirectory(config=config)
        yield NbGraderAPI(coursedir=coursedir, config=config), scratch


def _load_config(course_root: Path):
    """The course's ``nbgrader_config.py``, as nbgrader reads it."""
    from traitlets.config.loader import PyFileConfigLoader

    config_path = Path(course_root) / CONFIG_FILE
    if not config_path.is_file():
        raise CourseError(f"{config_path}: missing; the course root must hold nbgrader's configuration")
    return PyFileConfigLoader(config_path.name, path=str(config_path.parent)).load_config()


def confinement(course_root: Path, sandbox: dict | None = None) -> tuple[bool, str | None]:
    """Whether kernels run confined, with the caps of ``nbgrader_config.py`` updated by ``sandbox``, and
    why they cannot be where confinement is wanted but this machine does not allow it."""
    from traitlets import TraitError

    from rl_course.sandbox import Sandbox, unavailable

    config = _load_config(course_root)
    config.Sandbox.update(sandbox or {})
    try:
        wanted = Sandbox(config=config).enabled
    except (TraitError, ValueError) as error:
        raise CourseError(f"sandbox: {_one_line(error)}") from None
    why_not = unavailable() if wanted else None
    return wanted and why_not is None, why_not


def _autograde_preprocessors(confined: bool = False) -> list[type]:
    """nbgrader's autograde steps, with its Execute replaced by one that outlives the kernel (and, when
    ``confined``, starts it in the sandbox)."""
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import Execute

    return [_execute_until_the_kernel_dies(confined) if step is Execute else step
            for step in Autograde.class_traits()["autograde_preprocessors"].default()]


@functools.cache
def _execute_until_the_kernel_dies(confined: bool = False) -> type:
    """nbgrader's Execute, except that when the kernel dies (``os._exit``, a killed process, a crash, the
    memory cap) only the cell it died in and the code cells after it fail, each with an error output
    saying so, instead of the whole submission: the tests that passed before keep their points.
    With ``confined``, kernels start in the sandbox (``rl_course.sandbox.ConfinedKernelManager``)."""
    from nbclient.exceptions import DeadKernelError
    from nbgrader.preprocessors import Execute

    def error(evalue: str):
        return nbformat.v4.new_output("error", ename="KernelDied", evalue=evalue, traceback=[f"KernelDied: {evalue}"])

    class ExecuteUntilTheKernelDies(Execute):
        def __init__(self, *args, **kwargs):
            if confined:
                from rl_course.sandbox import ConfinedKernelManager

                kwargs.setdefault("kernel_manager_class", ConfinedKernelManager)
            super().__init__(*args, **kwargs)

        def preprocess(self, nb, resources=None, km=None):
            self.died_in = None
            return super().preprocess(nb, resources, km)

        def preprocess_cell(self, cell, resources, index):
            if self.died_in is not None:
                if cell.cell_type == "code":
                    cell.outputs = [error(f"not run: the kernel died in cell {self.died_in + 1}")]
                return cell, resources
            try:
                return super().preprocess_cell(cell, resources, index)
            except DeadKernelError:
                self.died_in = index
                cell.outputs.append(error("the kernel died while this cell ran (os._exit, a killed process, a crash, or too much memory)"))
                return cell, resources

    return ExecuteUntilTheKernelDies


def _put_own_scripts_on_path() -> None:
    """nbgrader runs helper commands (alembic) by name: find them beside this Python even without an activated venv."""
    scripts = str(Path(sys.executable).parent)
    if scripts not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = scripts + os.pathsep + os.environ.get("PATH", "")


_EXCEPTION_LINE = re.compile(r"^\s*(?:\[\w+\]\s*)?([\w.]*(?:Error|Exception|Exit)\b.*)$")


def _last_line(result: dict) -> str:
    """The most telling line of an nbgrader failure: the last exception other than nbgrader's summary."""
    text = "\n".join(part for part in (result.get("log"), result.get("error")) if part)
    causes = [m.group(1) for m in map(_EXCEPTION_LINE.match, text.splitlines()) if m and "NbGraderException" not in m.group(1)]
    if causes:
        return causes[-1].strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no details"


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split())[:200]
