"""What a folder of submissions holds, read without following links: the layout ``DIR/<student>/<assignment>/``.

Grading reads only regular files and folders. A symbolic link (to the solutions, to the grader's own
files, anywhere) or a special file (a FIFO, a device, a socket) is never opened: it is reported by
name and graded as missing. Each folder is opened relative to the one above it with ``O_NOFOLLOW``,
and each file is checked with ``fstat`` after it is opened, so a link swapped in between looking and
reading is not followed either.

No report ever quotes what a file holds: a file that cannot be graded is named, with the reason.

Settings (``nbgrader_config.py``): ``c.Submissions.misnamed_notebooks = "grade"`` (the default: an
assignment folder whose one notebook has another name, ``td_lambda (1).ipynb``, is graded as the
assignment's notebook, with a problem line saying so) or ``"refuse"`` (it scores 0).
"""

from __future__ import annotations

import json
import os
import stat
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nbformat
from traitlets import Enum
from traitlets.config import Configurable

ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".gz", ".7z", ".rar")
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
_DIR_FLAGS = _OPEN_FLAGS | os.O_DIRECTORY


class Submissions(Configurable):
    """How submitted files are taken (``c.Submissions.…`` in ``nbgrader_config.py``)."""

    misnamed_notebooks = Enum(["grade", "refuse"], "grade",
                              help="An assignment folder whose one notebook has another name than the assignment's: "
                                   "'grade' it as the assignment's notebook (with a problem line), or 'refuse' it (0).").tag(config=True)


class NotGradable(Exception):
    """A file or folder that grading does not read; its message is the reason, never the file's content."""


@dataclass(frozen=True)
class Task:
    """One student's folder for one assignment, found in the submitted folder."""

    student: str
    assignment: str
    folder: Path


def kind(mode: int) -> str | None:
    """What a file of this ``st_mode`` is, in words, when grading does not read it; None for a regular file or folder."""
    for test, words in ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
                        (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")):
        if test(mode):
            return words
    return None if stat.S_ISREG(mode) or stat.S_ISDIR(mode) else "not a regular file"


def is_archive(name: str) -> bool:
    """Whether a file name ends as an archive does (``.zip``, ``.tar.gz``, …)."""
    return name.lower().endswith(ARCHIVE_SUFFIXES)


def _archive_stem(name: str) -> str:
    lower = name.lower()
    for suffix in sorted(ARCHIVE_SUFFIXES, key=len, reverse=True):
        if lower.endswith(suffix):
            return name[: -len(suffix)]
    return name


def discover(submitted: Path, known: list[str], on_problem: Callable[[str], None]) -> list[Task]:
    """The student × assignment folders of ``submitted`` to grade, reporting through ``on_problem`` what is not one.

    Hidden entries (``.name``) are passed over. A link or special file where a student or assignment
    folder should be is reported and not followed; a link in place of a known assignment's folder is
    still a task, so that it is graded (as 0) with the reason. An archive in place of an assignment
    folder (``01_td_lambda.zip``) or of a student folder is reported by name, as is an unknown assignment.
    """
    submitted = Path(submitted)
    if submitted.is_symlink():
        raise NotGradable(f"{submitted}: a symbolic link; grading does not follow links: give the folder itself")
    tasks = []
    for student_entry in _entries(submitted):
        student_path = submitted / student_entry.name
        what = kind(student_entry.stat(follow_symlinks=False).st_mode)
        if what:
            on_problem(f"{student_path}: {what} where a student's folder should be, not followed")
            continue
        if not student_entry.is_dir(follow_symlinks=False):
            if is_archive(student_entry.name):
                on_problem(f"{student_path}: an archive where a student's folder should be, not opened "
                           f"(unpack it into {submitted}/<student>/<assignment>/, or use `rl-course collect`)")
            continue
        try:
            entries = _entries(student_path)
        except OSError as error:
            on_problem(f"{student_path}: cannot be read ({os.strerror(error.errno) if error.errno else error})")
            continue
        for entry in entries:
            path = student_path / entry.name
            what = kind(entry.stat(follow_symlinks=False).st_mode)
            if entry.is_dir(follow_symlinks=False) or what:
                if entry.name not in known:
                    on_problem(f"{path}: unknown assignment {entry.name!r} (this course has: {', '.join(known)})"
                               + (f"; it is {what}, not followed" if what else ""))
                else:
                    tasks.append(Task(student_entry.name, entry.name, path))
            elif is_archive(entry.name):
                stem = _archive_stem(entry.name)
                where = f"the assignment folder {stem}/" if stem in known else "an assignment folder"
                on_problem(f"{path}: an archive where {where} should be, not opened (unpack it, or use `rl-course collect`)")
    return sorted(tasks, key=lambda t: (t.student, t.assignment))


def _entries(folder: Path) -> list[os.DirEntry]:
    with os.scandir(folder) as it:
        return sorted((e for e in it if not e.name.startswith(".")), key=lambda e: e.name)


def _why_not_opened(name: str, dir_fd: int, error: OSError) -> str:
    """Why the folder ``name`` of ``dir_fd`` could not be opened, in words."""
    try:
        mode = os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode
    except FileNotFoundError:
        return "missing"
    if stat.S_ISDIR(mode):
        return f"cannot be opened ({os.strerror(error.errno)})"
    return f"{kind(mode) or 'not a folder'}, not followed"


class _Folder:
    """A folder opened without following links (``with _Folder.open(path) as folder``), its entries as lstat sees them."""

    def __init__(self, fd: int, shown: Path):
        self.fd, self.shown = fd, shown

    @classmethod
    def open(cls, path: Path, levels: int = 3) -> _Folder:
        """Open ``path``, and each of its last ``levels - 1`` parents below the first, with ``O_NOFOLLOW``."""
        path = Path(path)
        parts = path.parts[-levels:]
        top = Path(*path.parts[: len(path.parts) - levels]) if len(path.parts) > levels else Path(path.anchor or ".")
        fd = os.open(top, _DIR_FLAGS)
        try:
            for i, part in enumerate(parts):
                try:
                    child = os.open(part, _DIR_FLAGS, dir_fd=fd)
                except OSError as error:
                    raise NotGradable(f"{Path(top, *parts[: i + 1])}: {_why_not_opened(part, fd, error)}") from None
                os.close(fd)
                fd = child
        except BaseException:
            os.close(fd)
            raise
        return cls(fd, path)

    def __enter__(self) -> _Folder:
        return self

    def __exit__(self, *exc_info) -> None:
        os.close(self.fd)

    def names(self) -> list[str]:
        return sorted(os.listdir(self.fd))

    def what(self, name: str) -> str | None:
        """``kind`` of the entry ``name`` ("a folder" for a folder), "missing" when there is none."""
        try:
            mode = os.stat(name, dir_fd=self.fd, follow_symlinks=False).st_mode
        except FileNotFoundError:
            return "missing"
        return "a folder" if stat.S_ISDIR(mode) else kind(mode)

    def read(self, name: str) -> bytes:
        """The bytes of the regular file ``name``; ``NotGradable`` for anything else, naming it and what it is."""
        what = self.what(name)
        if what == "missing":
            raise NotGradable(f"{self.shown / name}: missing")
        if what:
            raise NotGradable(f"{self.shown / name}: {what}, not read")
        try:
            fd = os.open(name, _OPEN_FLAGS, dir_fd=self.fd)
        except OSError as error:
            raise NotGradable(f"{self.shown / name}: cannot be opened ({os.strerror(error.errno)})") from None
        with os.fdopen(fd, "rb") as f:
            mode = os.fstat(fd).st_mode
            if not stat.S_ISREG(mode):  # swapped since it was looked at
                raise NotGradable(f"{self.shown / name}: {kind(mode) or 'a folder'}, not read")
            return f.read()


def read_notebook(data: bytes, shown: Path) -> nbformat.NotebookNode:
    """The notebook in ``data``; ``NotGradable`` naming ``shown`` and why not, without quoting ``data``."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise NotGradable(f"{shown}: not a readable notebook (not UTF-8 text: byte {error.start})") from None
    try:
        content = json.loads(text)
    except json.JSONDecodeError as error:
        raise NotGradable(f"{shown}: not a readable notebook (not JSON: line {error.lineno}, column {error.colno})") from None
    if not isinstance(content, dict) or "cells" not in content:
        raise NotGradable(f"{shown}: not a readable notebook (JSON, but not a notebook: no cells)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # cells without ids: nbgrader adds them
            nb = nbformat.reads(text, as_version=4)
            nbformat.validate(nb)
    except Exception:  # its messages quote the offending values
        raise NotGradable(f"{shown}: not a readable notebook (it does not follow the notebook format, nbformat 4)") from None
    return nb


# What nbgrader's exchange writes beside a submission (submit, collect): when it was submitted, for the lateness of
# autograde, and the secret that release_feedback names its feedback by, so that the student's fetch_feedback finds it.
NBGRADER_RECORDS = ("timestamp.txt", "submission_secret.txt")


def copy_gradable(source: Path, target: Path, solutions: Path,
                  misnamed: str = "grade") -> tuple[list[str], dict[str, nbformat.NotebookNode]]:
    """Copy what grading reads of the submission folder ``source`` (``DIR/<student>/<assignment>``) to ``target``:
    its notebooks, the files beside them that ``solutions`` has, and nbgrader's ``NBGRADER_RECORDS``, each a regular file read through
    ``O_NOFOLLOW``. Returns the problems, one line each, and the notebooks copied (by the assignment's names).

    A notebook that is missing is looked for under another name: with one notebook of another name
    (``td_lambda (1).ipynb``) and one missing, that one is graded in its place (``misnamed="grade"``)
    or refused (``"refuse"``); two or more are named and none is graded.
    """
    problems: list[str] = []
    copied: dict[str, nbformat.NotebookNode] = {}
    target.mkdir(parents=True)
    expected = sorted(p.name for p in solutions.glob("*.ipynb"))
    try:
        folder = _Folder.open(source)
    except NotGradable as error:
        return [f"{error}; 0 for {', '.join(expected)}"], copied
    with folder:
        names = folder.names()
        for own in sorted({p.name for p in solutions.iterdir() if p.is_file() and p.suffix != ".ipynb"} | set(NBGRADER_RECORDS)):
            if own in names:
                try:
                    (target / own).write_bytes(folder.read(own))
                except NotGradable as error:
                    problems.append(str(error))
        others = [n for n in names if n.endswith(".ipynb") and n not in expected and not n.startswith(".")]
        missing = [n for n in expected if n not in names]
        chosen = {n: n for n in expected if n in names}
        if missing and others:
            if len(missing) == 1 and len(others) == 1 and misnamed == "grade":
                chosen[missing[0]] = others[0]
                problems.append(f"{source / others[0]}: graded as {missing[0]}, the assignment's notebook (misnamed)")
            elif len(missing) == 1 and len(others) == 1:
                problems.append(f"{source / missing[0]}: missing; {others[0]} is there instead, not graded "
                                f"(misnamed notebooks are refused: c.Submissions.misnamed_notebooks)")
            else:
                problems.append(f"{source / missing[0]}: missing; {len(others)} notebooks of other names are there, "
                                f"none graded (which one is it?): {', '.join(others)}")
            missing = missing[1:]
        archives = [n for n in names if is_archive(n)]
        for name in missing:
            problems.append(f"{source / name}: missing (the assignment's notebook is {name})"
                            + (f"; an archive is there, not opened: {', '.join(archives)}" if archives else ""))
        for name, found in sorted(chosen.items()):
            try:
                nb = read_notebook(folder.read(found), source / found)
            except NotGradable as error:
                problems.append(str(error))
                continue
            problems += large_outputs(nb, source / found)
            nbformat.write(nb, target / name)
            copied[name] = nb
    return problems, copied


# Bytes of saved output in one cell worth a problem line: far above any plot or table of the course.
LARGE_OUTPUT = 10_000_000


def large_outputs(nb: nbformat.NotebookNode, shown: Path, limit: int = LARGE_OUTPUT) -> list[str]:
    """One problem line per code cell of ``nb`` (read from ``shown``) whose saved outputs take more than ``limit``
    bytes as JSON. Such a notebook is graded as any other (grading clears the outputs and runs the cell again);
    the line tells the instructor why its grading was slow and its feedback page large."""
    if limit <= 0:
        raise ValueError(f"limit: expected a positive number of bytes, got {limit}")
    problems = []
    for number, cell in enumerate(nb.cells, start=1):
        size = len(json.dumps(cell.get("outputs", []))) if cell.cell_type == "code" else 0
        if size > limit:
            problems.append(f"{shown}: cell {number} holds {size / 1e6:.0f} MB of saved output "
                            f"(graded; grading runs the cell again)")
    return problems
