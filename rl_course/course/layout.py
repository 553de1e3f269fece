"""The course's layout: its root (``nbgrader_config.py`` beside ``solutions/``), the assignments, and the
one-line errors a user can fix (``CourseError``), with nbgrader's failures cut to their most telling line.

The course is an nbgrader course whose source directory is ``solutions/`` and release directory
``notebooks/``. Every operation of ``rl_course.course`` runs nbgrader in a scratch course directory
that links to ``solutions/`` (``rl_course.course.nbgrader_setup``), so nothing in the repository changes
except what the operation is for: ``notebooks/`` on release, and on grading the gradebook
(``gradebook.db`` at the course root, or the database ``--db`` names).
"""

from __future__ import annotations

import re
from pathlib import Path

CONFIG_FILE = "nbgrader_config.py"
PACKAGE = "rl_course"  # the library: the course's own folder of that name, else the installed package
SOURCE_DIR = "solutions"
RELEASE_DIR = "notebooks"


class CourseError(Exception):
    """A problem the user can fix, reported as one line without a traceback."""


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


_EXCEPTION_LINE = re.compile(r"^\s*(?:\[\w+\]\s*)?([\w.]*(?:Error|Exception|Exit)\b.*)$")


def last_line(result: dict) -> str:
    """The most telling line of an nbgrader failure: the last exception other than nbgrader's summary."""
    text = "\n".join(part for part in (result.get("log"), result.get("error")) if part)
    causes = [m.group(1) for m in map(_EXCEPTION_LINE.match, text.splitlines()) if m and "NbGraderException" not in m.group(1)]
    if causes:
        return causes[-1].strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no details"


ONE_LINE_LIMIT = 200  # characters of an error's line among the grader's lines, in a report, in the grades' CSV


def one_line(error: Exception) -> str:
    """``error``'s text on one line of at most 200 characters, without control characters (a terminal's colours,
    a carriage return): it is printed among the grader's lines. A longer text ends with "…" after the last whole
    word that fits, so that no word is cut in two (a single word longer than the line is cut where it must be)."""
    from rl_course.course.kernel_output import printable

    text = " ".join(printable(str(error)).split())
    if len(text) <= ONE_LINE_LIMIT:
        return text
    kept = text[:ONE_LINE_LIMIT - 1]
    if text[ONE_LINE_LIMIT - 1] != " " and " " in kept:
        kept = kept[:kept.rindex(" ")]
    return kept.rstrip() + "…"


def library_folder(course_root: Path) -> Path:
    """The library's source: the course's own ``rl_course/``, else the installed one."""
    own = Path(course_root) / PACKAGE
    if (own / "__init__.py").is_file():
        return own
    import rl_course

    return Path(rl_course.__file__).resolve().parent
