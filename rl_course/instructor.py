"""The instructor's workflow on top of nbgrader: release the student notebooks, autograde submissions.

The course is an nbgrader course (``nbgrader_config.py`` at its root) whose source
directory is ``solutions/`` and release directory ``notebooks/``. Every operation here
runs nbgrader in a scratch course directory that links to ``solutions/``, so nothing in
the repository changes except what the operation is for (``notebooks/`` on release).
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import sys
import tempfile
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import nbformat

CONFIG_FILE = "nbgrader_config.py"
SOURCE_DIR = "solutions"
RELEASE_DIR = "notebooks"


class CourseError(Exception):
    """A problem the user can fix, reported as one line without a traceback."""


@dataclass
class Grade:
    """The autograded score of one student's assignment; ``problem`` says why it is not graded in full."""

    student: str
    assignment: str
    score: float
    max_score: float
    problem: str = ""


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


def notebooks_of(course_root: Path, assignment: str) -> list[str]:
    """The notebook names (without .ipynb) an assignment consists of."""
    return sorted(p.stem for p in (Path(course_root) / SOURCE_DIR / assignment).glob("*.ipynb"))


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
) -> list[Grade]:
    """Autograde every submission under ``submitted`` (``<student>/<assignment>/<notebook>.ipynb``).

    A submission that cannot be graded (unknown assignment, missing or unreadable
    notebook) is reported through ``on_problem`` as one line naming the file, scores what
    it can (0 when nothing is gradable), and the rest of the batch is graded as usual.
    """
    submitted, course_root = Path(submitted), Path(course_root)
    if not submitted.is_dir():
        raise CourseError(f"{submitted}: not a folder of submissions (expected {submitted}/<student>/<assignment>/<notebook>.ipynb)")
    known = assignments(course_root)
    grades = []
    with _scratch_course(course_root) as (api, scratch), warnings.catch_warnings():
        from nbgrader.api import Gradebook
        from sqlalchemy.exc import SAWarning

        warnings.simplefilter("ignore", SAWarning)  # nbgrader's own session bookkeeping, not a grading problem

        generated = set()
        for student_dir in sorted(d for d in submitted.iterdir() if d.is_dir() and not d.name.startswith(".")):
            for assignment_dir in sorted(d for d in student_dir.iterdir() if d.is_dir() and not d.name.startswith(".")):
                student, assignment = student_dir.name, assignment_dir.name
                if assignment not in known:
                    on_problem(f"{assignment_dir}: unknown assignment {assignment!r} (this course has: {', '.join(known)})")
                    continue
                if assignment not in generated:
                    _generate(api, scratch, assignment)
                    generated.add(assignment)
                started = time.perf_counter()
                problems = _copy_gradable(assignment_dir, scratch / "submitted" / student / assignment, notebooks_of(course_root, assignment))
                for line in problems:
                    on_problem(line)
                graded = any((scratch / "submitted" / student / assignment).glob("*.ipynb"))
                if graded:
                    result = api.autograde(assignment, student, force=True, create=True)
                    if not result["success"]:
                        line = f"{assignment_dir}: nbgrader could not autograde it: {_last_line(result)}"
                        on_problem(line)
                        problems.append(line)
                        graded = False
                with Gradebook(api.coursedir.db_url) as gb:
                    max_score = gb.find_assignment(assignment).max_score
                    score = gb.find_submission(assignment, student).score if graded else 0.0
                grade_ = Grade(student, assignment, float(score), float(max_score), "; ".join(problems))
                grades.append(grade_)
                on_graded(grade_, time.perf_counter() - started)
    return grades


def _copy_gradable(source: Path, target: Path, notebooks: list[str]) -> list[str]:
    """Copy a submission for grading, leaving out notebooks that are missing or unreadable; returns the problems."""
    problems = []
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    for name in notebooks:
        path = target / f"{name}.ipynb"
        shown = source / f"{name}.ipynb"
        if not path.is_file():
            problems.append(f"{shown}: missing (the assignment's notebook is {name}.ipynb)")
            continue
        try:
            nbformat.validate(nbformat.read(path, as_version=4))
        except Exception as error:  # not JSON, not a notebook, or an invalid one
            problems.append(f"{shown}: not a readable notebook ({_one_line(error)})")
            path.unlink()
    return problems


def write_grades_csv(grades: list[Grade], path: Path) -> None:
    """One row per student and assignment: student, assignment, score, max_score, problem."""
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "assignment", "score", "max_score", "problem"])
        for g in grades:
            writer.writerow([g.student, g.assignment, f"{g.score:g}", f"{g.max_score:g}", g.problem])


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


# ---------------------------------------------------------------- nbgrader plumbing


@contextmanager
def _scratch_course(course_root: Path) -> Iterator[tuple[object, Path]]:
    """An nbgrader API over a temporary course directory whose ``source/`` links to ``solutions/``.

    The course's own ``nbgrader_config.py`` is loaded; only the folders are redirected.
    """
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    config_path = Path(course_root) / CONFIG_FILE
    if not config_path.is_file():
        raise CourseError(f"{config_path}: missing; the course root must hold nbgrader's configuration")
    config = PyFileConfigLoader(config_path.name, path=str(config_path.parent)).load_config()
    _put_own_scripts_on_path()
    with tempfile.TemporaryDirectory(prefix="rl-course-") as tmp:
        scratch = Path(tmp)
        (scratch / "source").symlink_to((Path(course_root) / SOURCE_DIR).resolve(), target_is_directory=True)
        config.CourseDirectory.root = str(scratch)
        config.CourseDirectory.source_directory = "source"
        config.CourseDirectory.release_directory = "release"
        config.CourseDirectory.submitted_directory = "submitted"
        config.CourseDirectory.autograded_directory = "autograded"
        config.CourseDirectory.feedback_directory = "feedback"
        config.CourseDirectory.db_url = f"sqlite:///{scratch / 'gradebook.db'}"
        config.Exchange.root = str(scratch / "exchange")
        config.Execute.extra_arguments = ["--IPKernelApp.log_level=ERROR"]  # keep kernels' start-up chatter out of the report
        coursedir = CourseDirectory(config=config)
        yield NbGraderAPI(coursedir=coursedir, config=config), scratch


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
