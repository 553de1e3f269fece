"""The library that a grading kernel imports: the student edition of the window of the assignment being graded.

A submission's kernel that imported the instructor's ``rl_course`` could call or print the reference answer of
any assignment (04's losses from a notebook of 01). With ``c.Sandbox.student_edition = True`` it imports instead
the library a student's machine holds while that assignment is open: the assignment and every later one
withheld (``own_answer`` in place of their bodies), every earlier one solved, exactly the library of the wheel of
``rl-course student-edition --open A --solved <earlier>`` (``withholding.write_library``), and scanned the same way.

Each window's library is built once, as a package folder (no wheel, no pip), into ``grading-editions/`` beside the
course's other working data (``gradebook.db``), under a name keyed by a digest of the library's files and of what
the window withholds: an edit of the library builds a new one. Its modules are compiled to bytecode as it is built.
Two grading processes may build the same one at once: each builds in a folder of its own and renames it into place;
the first rename wins, the other is dropped.
"""

from __future__ import annotations

import compileall
import dataclasses
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from rl_course.course.answer_scan import scan
from rl_course.course.answers import withheld_functions
from rl_course.course.layout import PACKAGE, CourseError, assignments, library_folder
from rl_course.course.withholding import LIBRARY_IGNORED, write_library

CACHE_DIR = "grading-editions"


def withheld_in_window(course_root: Path, assignment: str) -> list[str]:
    """The assignments whose answers a kernel grading ``assignment`` must not hold: it and every later one."""
    known = assignments(course_root)
    if assignment not in known:
        raise CourseError(f"{assignment}: no such assignment, so no student edition to grade it with "
                          f"(this course has: {', '.join(known)})")
    return known[known.index(assignment):]


def library_for(course_root: Path, assignment: str, cache: Path | None = None) -> Path:
    """The folder holding the ``rl_course`` package of the student edition for grading ``assignment`` (put it first
    on the kernel's ``PYTHONPATH``), built into ``cache`` (default: the course's ``grading-editions/``) unless it is
    there already.

    Raises ``CourseError`` where the assignment is unknown or the scan finds an answer in what was built.
    """
    course_root = Path(course_root).resolve()
    withheld = withheld_in_window(course_root, assignment)
    cache = Path(cache or course_root / CACHE_DIR)
    folder = cache / f"{assignment}-{_digest(course_root, withheld)[:20]}"
    if (folder / PACKAGE / "__init__.py").is_file():
        return folder
    cache.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=cache))
    try:
        package = write_library(course_root, withheld, stage)
        files = {str(p.relative_to(stage)): p.read_bytes() for p in sorted(package.rglob("*")) if p.is_file()}
        findings = scan(files, course_root, withheld)
        if findings:
            raise CourseError(f"the student edition for grading {assignment} would hold answers, so none was built: "
                              f"{findings[0]}" + (f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""))
        # compiled once here: a kernel finds the folder read-only and would otherwise compile every module it imports
        compileall.compile_dir(package, quiet=1, force=True)
        stage.chmod(0o755)  # mkdtemp's 0700 would keep out a kernel that runs as a user of its own
        try:
            stage.rename(folder)
        except OSError:  # another grading process renamed its own build into place first: the same files
            if not (folder / PACKAGE / "__init__.py").is_file():
                raise
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return folder


def _digest(course_root: Path, withheld: list[str]) -> str:
    """SHA-256 of what the built library depends on: every file of the library that it copies, and the functions
    that the window withholds with the assignment each names (``withheld_functions``)."""
    digest = hashlib.sha256()
    library = library_folder(course_root)
    for path in sorted(library.rglob("*")):
        relative = path.relative_to(library)
        if path.is_file() and not LIBRARY_IGNORED(str(path.parent), [path.name]) and "__pycache__" not in relative.parts:
            digest.update(str(relative).encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    functions = {name: dataclasses.asdict(answer) for name, answer in withheld_functions(withheld).items()}
    digest.update(json.dumps([withheld, functions], sort_keys=True).encode())
    return digest.hexdigest()


def with_library(env: dict, folder: Path) -> dict:
    """A copy of the environment ``env`` whose ``PYTHONPATH`` starts with ``folder``: ``import rl_course`` finds its package."""
    rest = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    return {**env, "PYTHONPATH": os.pathsep.join([str(folder), *rest])}
