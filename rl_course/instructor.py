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
    wanted = jupyterlab_metadata()
    problems = []
    for key in wanted:
        expected, got = dict(wanted[key]), dict(stored.get(key) or {})
        if key == "language_info":
            version = ".".join(str(expected.pop("version", "")).split(".")[:2])
            if not str(got.pop("version", "")).startswith(version + "."):
                problems.append(f"metadata.language_info.version is {stored.get(key, {}).get('version')!r}, not Python {version}.x")
        if got != expected:
            problems.append(f"metadata.{key} is {stored.get(key)!r}, not what JupyterLab writes: {wanted[key]!r} "
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
    cluster: str | None = None,
    regrade: bool = False,
    on_start: Callable[[int, int], None] = lambda to_grade, total: None,
) -> list[Grade]:
    """Autograde every submission under ``submitted`` (``<student>/<assignment>/<notebook>.ipynb``).

    A submission that cannot be graded (unknown assignment, missing or unreadable
    notebook, a link or special file, which are never followed: ``rl_course.submissions``) is
    reported through ``on_problem`` as one line naming the file and why, never quoting it, scores
    what it can (0 when nothing is gradable), and the rest of the batch is graded as usual.
    ``timeout`` overrides the seconds a cell may run (``nbgrader_config.py``'s ``ExecutePreprocessor.timeout``).
    With ``feedback_dir``, nbgrader's HTML feedback of every graded submission is written to
    ``feedback_dir/<student>/<assignment>/<notebook>.html``. Grading runs in ``jobs`` worker processes,
    that many submissions at once, or with ``cluster`` (a Dask scheduler's address) on the workers of
    that Dask cluster (``rl_course.cluster``); the grades do not depend on either and are listed in the same order.

    Every grade is recorded, by this process, in nbgrader's gradebook at ``db_url`` (default:
    ``gradebook_url(course_root)``), which then holds exactly the scores returned: a submission that could
    not be graded loses any score an earlier grading left there. Several graders may share one gradebook.
    A submission whose grade the gradebook already holds for the same files, the same ``solutions/``, the
    same library and the same settings (``submission_digest``) is not graded again unless ``regrade``:
    re-running an interrupted grading grades only what is missing or changed. ``on_start(to_grade, total)``
    is told how many will be graded before the first one is.

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
    session = None
    if cluster is not None:
        from rl_course import cluster as dask_cluster  # Dask only where a cluster is asked for

        session = dask_cluster.connect(cluster)
    try:
        if session is None:
            confined, why_not = confinement(course_root, sandbox)
            if why_not:
                on_warning(f"submissions run unconfined, with the grader's rights: {why_not}")
        else:
            confined = False  # each worker confines its kernels where it can, and says so where it cannot
        db_url = gradebook_url(course_root, db_url)
        template = prepare_gradebook(course_root, db_url, sorted({a for _, a, _ in tasks}), sorted({s for s, _, _ in tasks}))
        grader = _Grader(course_root, db_url, timeout, feedback_dir, sandbox=dict(sandbox or {}), confined=confined, misnamed=misnamed,
                         template=template)
        salt = grader.settings_digest(with_confinement=session is None)
        found = [gather(student, assignment, folder, course_root, misnamed, salt) for student, assignment, folder in tasks]
        grades, pending, unfed = [], [], []
        for submission in found:
            stored = None if regrade else recorded(db_url, grader.course_id, submission)
            if stored is None or feedback_dir is not None and not has_feedback(stored, feedback_dir) and "notebooks" not in stored:
                pending.append(submission)
            elif feedback_dir is not None and not has_feedback(stored, feedback_dir):
                unfed.append((submission, stored))
            else:
                grades.append(stored_grade(submission, stored))
        if unfed:  # graded before without this feedback: nbgrader's generate_feedback on the recorded notebooks, no kernel
            from rl_course.recorded_feedback import feedback_of_recorded

            for graded in feedback_of_recorded(grader, unfed):
                record(db_url, grader.course_id, graded, feedback_dir)
                for line in graded.problems:
                    on_problem(line)
                grades.append(graded.grade)
        for grade_ in grades:
            on_graded(grade_, 0.0)
        on_start(len(pending), len(found))
        results = (_grade_all(pending, grader, jobs) if session is None
                   else dask_cluster.grade_all(session, pending, grader, on_warning))
        for graded in results:
            record(db_url, grader.course_id, graded, feedback_dir)
            for line in graded.problems:
                on_problem(line)
            grades.append(graded.grade)
            on_graded(graded.grade, graded.seconds)
    finally:
        if session is not None:
            session.close()
    return sorted(grades, key=lambda g: (g.student, g.assignment))


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


def gather(student: str, assignment: str, folder: Path, course_root: Path, misnamed: str = "grade", salt: str = "") -> Submission:
    """The gradable files of ``folder`` (``DIR/<student>/<assignment>``), read as ``_copy_gradable`` copies them."""
    with tempfile.TemporaryDirectory(prefix="rl-course-gather-") as tmp:
        target = Path(tmp) / "copy"
        problems = _copy_gradable(folder, target, Path(course_root) / SOURCE_DIR / assignment, misnamed)
        files = {p.name: p.read_bytes() for p in sorted(target.iterdir()) if p.is_file()}
    return Submission(student, assignment, Path(folder), files, problems, submission_digest(files, problems, salt))


def submission_digest(files: dict[str, bytes], problems: list[str], salt: str) -> str:
    """SHA-256 of what a grade depends on: the gradable files (name, bytes), the problems found gathering
    them, and ``salt`` (``_Grader.settings_digest``: the assignment sources, the library, the settings)."""
    import hashlib

    digest = hashlib.sha256(salt.encode())
    for name, data in sorted(files.items()):
        digest.update(b"\0file\0" + name.encode() + b"\0" + hashlib.sha256(data).digest())
    for line in problems:
        digest.update(b"\0problem\0" + line.encode())
    return digest.hexdigest()


def _grade_all(pending: list[Submission], grader: "_Grader", jobs: int) -> Iterator[Graded]:
    """Each submission's ``Graded`` as it finishes, graded in ``jobs`` worker processes, each with a scratch
    course (and gradebook) of its own.

    Student code runs in kernels that the workers start, so it can kill a worker (``os.kill(os.getppid(), 9)``)
    and with it the submissions that worker held. Those are graded again one at a time, each in a fresh
    worker; one that kills that one too gets 0 and a problem line, and the batch goes on.
    """
    with tempfile.TemporaryDirectory(prefix="rl-course-jobs-") as root:
        grader = replace(grader, scratch_parent=Path(root))
        threads = kernel_threads(jobs)
        lost = yield from _in_workers(pending, grader, jobs, threads)
        for submission in lost:
            again = yield from _in_workers([submission], grader, 1, threads)
            for submission_ in again:
                yield not_graded(grader.course_root, submission_, KILLED)


KILLED = "not graded, the process grading it was killed (by the submission's code?)"


def kernel_threads(jobs: int, cores: int | None = None) -> int:
    """Threads each kernel's OpenMP/MKL/torch may use so that ``jobs`` kernels share the cores without
    oversubscribing them: ``max(1, cores // jobs)`` (cores: those this process may run on)."""
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // max(1, jobs))


THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")  # read by torch and numpy's BLAS when the kernel imports them


def limit_kernel_threads(threads: int) -> None:
    """Let the kernels this process starts use ``threads`` threads each, unless the grader set its own limit."""
    for name in THREAD_VARIABLES:
        os.environ.setdefault(name, str(threads))


def _in_workers(pending: list[Submission], grader: "_Grader", jobs: int, threads: int):
    """Grade ``pending`` in a pool of ``jobs`` workers, yielding ``Graded``; returns the submissions whose worker died."""
    lost = []
    pool = ProcessPoolExecutor(min(jobs, len(pending)) or 1, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_start_worker, initargs=(grader, threads))
    try:
        futures = {pool.submit(_grade_in_worker, submission): submission for submission in pending}
        for done in as_completed(futures):
            try:
                yield done.result()
            except BrokenProcessPool:
                lost.append(futures[done])
            except Exception as error:  # a failure of the grader itself: this submission is reported, the batch goes on
                yield not_graded(grader.course_root, futures[done], f"not graded: {_one_line(error)}")
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return lost


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


_worker_grader: "_Grader | None" = None


def _start_worker(grader: "_Grader", threads: int = 1) -> None:
    """A worker's scratch course, open for the worker's life; it lies under a folder the parent removes."""
    global _worker_grader
    limit_kernel_threads(threads)
    _worker_grader = grader.__enter__()


def _grade_in_worker(submission: Submission) -> Graded:
    return _worker_grader.grade(submission)


@dataclass
class _Grader:
    """Grades one submission at a time in a scratch nbgrader course with a gradebook of its own
    (``with _Grader(...) as grader``); what it gives is recorded in the gradebook at ``db_url`` by ``record``."""

    course_root: Path
    db_url: str
    timeout: int | None = None
    feedback_dir: Path | None = None
    scratch_parent: Path | None = None
    sandbox: dict = field(default_factory=dict)
    confined: bool = False
    misnamed: str = "grade"
    template: "GradebookTemplate | None" = None  # the scratch gradebook starts as this one, its assignments recorded

    @property
    def course_id(self) -> str:
        return _load_config(self.course_root).CourseDirectory.course_id

    def settings_digest(self, with_confinement: bool = True) -> str:
        """What every grade depends on besides the submission: the course's configuration and sources, the
        library's code, the time limit and the sandbox's caps (not the HTML feedback: ``recorded_feedback`` writes
        it from a recorded grade's notebooks)."""
        import hashlib

        digest = hashlib.sha256()
        library = Path(__file__).resolve().parent
        for path in [Path(self.course_root) / CONFIG_FILE, *sorted((Path(self.course_root) / SOURCE_DIR).rglob("*")),
                     *sorted(library.rglob("*.py"))]:
            if path.is_file() and ".ipynb_checkpoints" not in path.parts:
                digest.update(str(path.name).encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
        digest.update(json.dumps([self.timeout, sorted(self.sandbox.items()), self.confined if with_confinement else None],
                                 default=str).encode())
        return digest.hexdigest()

    def __enter__(self) -> "_Grader":
        from sqlalchemy.exc import SAWarning

        self._stack = ExitStack()
        self.api, self.scratch = self._stack.enter_context(
            _scratch_course(self.course_root, self.timeout, self.scratch_parent, sandbox=self.sandbox, confined=self.confined))
        self._stack.enter_context(warnings.catch_warnings())
        warnings.simplefilter("ignore", SAWarning)  # nbgrader's own session bookkeeping, not a grading problem
        self._generated: set[str] = set()
        if self.template is not None:
            (self.scratch / "gradebook.db").write_bytes(self.template.data)
            self._generated.update(self.template.assignments)
        return self

    def __exit__(self, *exc_info) -> None:
        self._stack.__exit__(*exc_info)

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
        if assignment not in self._generated:  # the scratch gradebook learns the assignment once
            _generate(api, scratch, assignment)
            self._generated.add(assignment)
        graded = any(target.glob("*.ipynb"))
        if graded:
            result = api.autograde(assignment, student, force=True, create=True)
            if not result["success"]:
                problems.append(f"{submission.folder}: nbgrader could not autograde it: {_last_line(result)}")
                graded = False
        with Gradebook(api.coursedir.db_url, api.coursedir.course_id) as gb:
            max_score_ = gb.find_assignment(assignment).max_score
            score = gb.find_submission(assignment, student).score if graded else 0.0
        autograded = scratch / "autograded" / student / assignment
        notebooks = {p.name: p.read_text() for p in sorted(autograded.glob("*.ipynb"))} if graded else {}
        feedback = _feedback(autograded) if graded else ()
        html: dict[str, bytes] = {}
        if graded and self.feedback_dir is not None:
            html, more = _html_feedback(api, scratch, assignment, student)
            problems += more
        grade_ = Grade(student, assignment, float(score), float(max_score_), "; ".join(problems), feedback)
        return Graded(submission, grade_, problems, time.perf_counter() - started, notebooks, html)


def _html_feedback(api, scratch: Path, assignment: str, student: str) -> tuple[dict[str, bytes], list[str]]:
    """nbgrader's ``generate_feedback`` for one submission: its files by path under the feedback folder
    (``<student>/<assignment>/…``), and the problems.

    The autograded notebook holds the hidden tests, restored for grading; the feedback is written
    from a copy without them (``_without_hidden_tests``), so it can be handed back.
    """
    for path in (scratch / "autograded" / student / assignment).glob("*.ipynb"):
        path.chmod(0o644)  # nbgrader leaves it read-only
        nbformat.write(_without_hidden_tests(nbformat.read(path, as_version=4)), path)
    result = api.generate_feedback(assignment, student)
    if not result["success"]:
        return {}, [f"{student}/{assignment}: nbgrader could not write the feedback: {_last_line(result)}"]
    written = scratch / "feedback" / student / assignment
    return {str(Path(student) / assignment / p.relative_to(written)): p.read_bytes()
            for p in sorted(written.rglob("*")) if p.is_file()}, []


def record(db_url: str, course_id: str, graded: Graded, feedback_dir: Path | None = None) -> None:
    """Record a ``Graded`` in the gradebook as nbgrader's autograde does (the submission, its notebooks'
    automatic scores through ``SaveAutoGrades``; 0 for a notebook not submitted), or remove the
    submission's earlier grades when nothing could be graded; then its digest (``recorded_grade``), last,
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


def recorded_grade(db_url: str, course_id: str, submission: Submission, feedback_dir: Path | None = None) -> Grade | None:
    """The grade the gradebook holds for ``submission`` if it was recorded for the same digest, the
    gradebook still holds that score, and its HTML feedback is where ``feedback_dir`` wants it; else None."""
    stored = recorded(db_url, course_id, submission)
    if stored is None or feedback_dir is not None and not has_feedback(stored, feedback_dir):
        return None
    return stored_grade(submission, stored)


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
    with _engine(db_url).begin() as connection:
        table.create(connection, checkfirst=True)
        connection.execute(table.delete().where(table.c.course_id == course_id, table.c.student == student,
                                                table.c.assignment == assignment))


def _remember_digest(db_url: str, course_id: str, graded: Graded) -> None:
    g = graded.grade
    stored = {"graded": bool(graded.notebooks), "score": g.score, "max_score": g.max_score, "problem": g.problem,
              "feedback": list(g.feedback), "html": sorted(graded.feedback), "notebooks": graded.notebooks}
    with _engine(db_url).begin() as connection:
        connection.execute(_digest_table().insert().values(course_id=course_id, student=g.student, assignment=g.assignment,
                                                           digest=graded.submission.digest, grade=json.dumps(stored)))


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


def prepare_gradebook(course_root: Path, db_url: str, assignments_: list[str], students: list[str]) -> "GradebookTemplate | None":
    """Record the assignments (their notebooks and cells, as ``nbgrader generate_assignment`` does) and
    the students in the gradebook, before submissions are graded into it concurrently; returns the
    SQLite gradebook that holds just those assignments, which each grader's scratch course starts from.

    Graders that share the gradebook prepare it one at a time (``_gradebook_lock``), and an assignment
    that the gradebook already holds as ``solutions/`` has it is left alone: nbgrader records it anew by
    deleting its rows, which would pull them from under the running jobs of another grader.
    """
    from nbgrader.api import Gradebook

    if not assignments_:
        return None
    with _scratch_course(course_root) as (api, scratch):  # what generate_assignment records, in a throwaway gradebook
        for assignment in assignments_:
            _generate(api, scratch, assignment)
        course_id = api.coursedir.course_id
        with Gradebook(api.coursedir.db_url, course_id) as gb:
            wanted = {assignment: _recorded(gb, assignment) for assignment in assignments_}
        template = GradebookTemplate(tuple(assignments_), (scratch / "gradebook.db").read_bytes())
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
