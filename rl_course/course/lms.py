"""The learning-management-system route: a bulk download in, a grade sheet out.

``collect`` imports an LMS's bulk download of one assignment (a zip or tar archive) into nbgrader's
submitted layout, ``DIR/<student>/<assignment>/<notebook>.ipynb``, through nbgrader's own
``zip_collect`` and its ``FileNameCollectorPlugin``, whose regular expression for each LMS's file names
is ``c.Collect.naming`` (defaults below, overridable in ``nbgrader_config.py``). The archive is checked
first (``rl_course.course.archives``) and what nbgrader extracts is a clean copy written from it: only regular
files, each path inside the archive, the total size and the number of files under the caps
``c.Collect.max_total_size`` and ``c.Collect.max_files``, nested archives included; one submission per
student and notebook (the latest by its time in the archive).

``write_sheet`` writes grades in the column layout each LMS imports:

- Canvas, the gradebook CSV: ``Student, ID, SIS User ID, SIS Login ID, Section`` then one column per
  assignment, and a ``Points Possible`` row; ``ID`` is the Canvas user ID of the download's file names.
- Moodle, the grading worksheet of one assignment: ``Identifier, Full name, Email address, Status,
  Grade, Maximum Grade, Grade can be changed, Last modified (submission), Last modified (grade),
  Feedback comments``; ``Identifier`` is ``Participant N``, N the number in the download's names.
"""

from __future__ import annotations

import csv
import posixpath
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from traitlets import Dict, Integer, Unicode, validate
from traitlets.config import Configurable

from rl_course.course.archives import ArchiveRefused, Member, check_archive
from rl_course.course.sandbox import parse_size

LMS_NAMES = ("canvas", "moodle")
ROSTER = ".lms-students.csv"  # written by collect beside the students' folders: student, name, lms
CANVAS_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
MOODLE_COLUMNS = ["Identifier", "Full name", "Email address", "Status", "Grade", "Maximum Grade", "Grade can be changed",
                  "Last modified (submission)", "Last modified (grade)", "Feedback comments"]

# nbgrader matches these against each extracted file's full path; student_id and file_id are required.
# Canvas:  leeann_12345_678901_td_lambda.ipynb, leeann_LATE_12345_678901_td_lambda-1.ipynb
#          (sortable name, late mark, user ID, submission ID, the file's name; -1 on a second upload)
# Moodle:  Ann Lee_123456_assignsubmission_file_td_lambda.ipynb, or in folders of that name with a trailing _
#          (full name, participant number, the plugin, the file's name)
NAMING = {
    "canvas": r"^(?:.*/)?(?P<name>[^/_]+)(?:_(?:LATE|late))?_(?P<student_id>\d+)_\d+_(?P<file_id>[^/]+)$",
    "moodle": r"^(?:.*/)?(?P<name>[^/]+?)_(?P<student_id>\d+)_assignsubmission_file_/?(?P<file_id>[^/]+)$",
}


class Collect(Configurable):
    """How bulk downloads are collected (``c.Collect.…`` in ``nbgrader_config.py``)."""

    naming = Dict(NAMING, help="nbgrader FileNameCollectorPlugin.named_regexp for each LMS's file names.").tag(config=True)
    max_total_size = Unicode("1G", help="Largest total size of the files in an archive, nested archives included, "
                                        "e.g. 1G.").tag(config=True)
    max_files = Integer(10_000, help="Most files in an archive, nested archives included.").tag(config=True)

    @validate("max_total_size")
    def _a_size(self, proposal):
        parse_size(proposal["value"])
        return proposal["value"]


@dataclass
class Collected:
    """What ``collect`` did: the students found (student → (name, files)), the files no student matched,
    the duplicates dropped (lines), the assignment, and the folder written."""

    assignment: str
    into: Path
    students: dict[str, tuple[str, list[str]]] = field(default_factory=dict)
    unmatched: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    replaced: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- collecting


def collect(archive: Path, course_root: Path, into: Path, lms: str | None = None, assignment: str | None = None) -> Collected:
    """Collect the bulk download ``archive`` of one assignment into ``into/<student>/<assignment>/`` with
    nbgrader's ``zip_collect``, the file names read with ``c.Collect.naming[lms]`` (or, without ``lms``,
    nbgrader's own ``c.FileNameCollectorPlugin.named_regexp``). The assignment is the one whose notebook
    the files are named after, unless given. A student collected again is replaced."""
    from rl_course.course.layout import CourseError, assignments
    from rl_course.course.nbgrader_setup import course_config

    archive, course_root, into = Path(archive), Path(course_root), Path(into)
    config = course_config(course_root)
    settings = Collect(config=config)
    if lms is not None and lms not in settings.naming:
        raise CourseError(f"--lms {lms}: no file naming known for it (c.Collect.naming has: {', '.join(settings.naming)})")
    regexp = settings.naming[lms] if lms else config.FileNameCollectorPlugin.get("named_regexp", "")
    if not regexp:
        raise CourseError("how the archive's files are named is unknown: give --lms canvas|moodle, "
                          "or set c.FileNameCollectorPlugin.named_regexp in nbgrader_config.py")
    if not archive.is_file() or archive.is_symlink():
        raise CourseError(f"{archive}: not an archive file")
    try:
        members = check_archive(archive, parse_size(settings.max_total_size), settings.max_files)
    except ArchiveRefused as error:
        raise CourseError(str(error)) from None
    matcher = re.compile(regexp)
    known = assignments(course_root)
    assignment = assignment or _which_assignment(members, matcher, course_root, known)
    if assignment not in known:
        raise CourseError(f"--assignment {assignment}: no such assignment (this course has: {', '.join(known)})")
    kept, duplicates = _latest_per_student(members, matcher)
    result = Collected(assignment, into, duplicates=duplicates)
    with tempfile.TemporaryDirectory(prefix="rl-course-collect-") as tmp:
        scratch = Path(tmp)
        stem = re.sub(r"(\.tar)?\.[^.]+$", "", archive.name) or "download"
        folder = scratch / "downloaded" / assignment / "archive"
        folder.mkdir(parents=True)
        with zipfile.ZipFile(folder / f"{stem}.zip", "w") as clean:  # what nbgrader extracts: only what was checked
            for member in kept:
                clean.writestr(member.path, member.data)
        (scratch / "release").symlink_to((course_root / "notebooks").resolve(), target_is_directory=True)
        _zip_collect(scratch, course_root, assignment, regexp)
        _report(scratch, assignment, matcher, result)
        for student in sorted(result.students):
            target = into / student / assignment
            if target.exists() or target.is_symlink():
                result.replaced.append(student)
                shutil.rmtree(target) if target.is_dir() and not target.is_symlink() else target.unlink()
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copytree(scratch / "submitted" / student / assignment, target)
    _write_roster(into, lms or "nbgrader", {s: name for s, (name, _) in result.students.items()})
    return result


def _which_assignment(members: list[Member], matcher: re.Pattern, course_root: Path, known: list[str]) -> str:
    from rl_course.course.layout import SOURCE_DIR, CourseError

    notebooks = {p.name: a for a in known for p in (course_root / SOURCE_DIR / a).glob("*.ipynb")}
    votes = Counter()
    for member in members:
        match = matcher.match(member.path)
        name = match.group("file_id") if match else posixpath.basename(member.path)
        stem = re.sub(r"(-\d+| \(\d+\))?\.ipynb$", ".ipynb", name)
        if stem in notebooks:
            votes[notebooks[stem]] += 1
    if not votes:
        raise CourseError(f"no file of the archive is named after an assignment's notebook "
                          f"({', '.join(sorted(notebooks))}): give --assignment")
    return votes.most_common(1)[0][0]


def _latest_per_student(members: list[Member], matcher: re.Pattern) -> tuple[list[Member], list[str]]:
    """The members, each student's file kept once: of several with the same name, the latest (then the last in the archive)."""
    chosen: dict[tuple, Member] = {}
    for member in members:
        match = matcher.match(member.path)
        key = (match.group("student_id"), match.group("file_id")) if match else ("", member.path)
        if key in chosen and member.mtime < chosen[key].mtime:
            continue
        chosen[key] = member
    kept = [m for m in members if any(m is c for c in chosen.values())]
    lines = []
    for (student, file_id), member in sorted(chosen.items()):
        dropped = [m for m in members if m is not member and matcher.match(m.path)
                   and (matcher.match(m.path).group("student_id"), matcher.match(m.path).group("file_id")) == (student, file_id)]
        if student and dropped:
            lines.append(f"student {student} handed in {file_id} {len(dropped) + 1} times: kept {member.path} "
                         f"({datetime.fromtimestamp(member.mtime):%Y-%m-%d %H:%M}, the latest), dropped "
                         + ", ".join(m.path for m in dropped))
    return kept, lines


def _zip_collect(scratch: Path, course_root: Path, assignment: str, regexp: str) -> None:
    """``nbgrader zip_collect`` in the scratch course, with the course's own configuration."""
    from rl_course.course.layout import CONFIG_FILE, CourseError

    shutil.copy(course_root / CONFIG_FILE, scratch / CONFIG_FILE)
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", "zip_collect", assignment, "--force",
         f"--CourseDirectory.root={scratch}", "--CourseDirectory.release_directory=release",
         "--CourseDirectory.submitted_directory=submitted", f"--FileNameCollectorPlugin.named_regexp={regexp}"],
        cwd=scratch, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        last = [line for line in result.stderr.splitlines() if line.strip()][-1:] or ["no details"]
        raise CourseError(f"nbgrader zip_collect failed: {last[0].strip()}")


def _report(scratch: Path, assignment: str, matcher: re.Pattern, result: Collected) -> None:
    """Which extracted file went to which student, by nbgrader's own collector, and which went nowhere."""
    from nbgrader.plugins import FileNameCollectorPlugin

    collector = FileNameCollectorPlugin(named_regexp=matcher.pattern)
    extracted = scratch / "downloaded" / assignment / "extracted"
    for path in sorted(p for p in extracted.rglob("*") if p.is_file() and not p.is_symlink()):
        info = collector.collect(str(path))
        shown = str(path.relative_to(extracted))
        target = scratch / "submitted" / (info or {}).get("student_id", "") / assignment
        if info and target.is_dir():
            name, files = result.students.setdefault(info["student_id"], (info.get("name") or info["student_id"], []))
            files.append(shown)
        else:
            result.unmatched.append(shown)


def _write_roster(into: Path, lms: str, names: dict[str, str]) -> None:
    """``into/.lms-students.csv``: the students collected so far, with the names their LMS gave them."""
    roster = read_roster(into)
    roster.update({student: (name, lms) for student, name in names.items()})
    into.mkdir(parents=True, exist_ok=True)
    with open(into / ROSTER, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "name", "lms"])
        for student, (name, from_lms) in sorted(roster.items()):
            writer.writerow([student, name, from_lms])


def read_roster(into: Path) -> dict[str, tuple[str, str]]:
    """student → (name, lms) of ``into/.lms-students.csv``; empty when there is none."""
    path = Path(into) / ROSTER
    if not path.is_file() or path.is_symlink():
        return {}
    with open(path, newline="") as f:
        return {row["student"]: (row["name"], row["lms"]) for row in csv.DictReader(f)}


# ---------------------------------------------------------------- grade sheets


def write_sheet(grades: list, lms: str, path: Path, roster: dict[str, tuple[str, str]] | None = None) -> list[Path]:
    """Write ``grades`` (``rl_course.course.records.Grade``) in the layout ``lms`` imports; returns the files written:
    ``path`` for Canvas, one ``<path stem>-<assignment>.csv`` per assignment for Moodle (one worksheet each)."""
    roster = roster or {}
    path = Path(path)
    if lms == "canvas":
        columns = sorted({g.assignment for g in grades})
        points = {g.assignment: g.max_score for g in grades}
        cell = {(g.student, g.assignment): g.score for g in grades}
        with open(path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow([*CANVAS_COLUMNS, *columns])
            writer.writerow(["Points Possible", "", "", "", "", *(f"{points[a]:g}" for a in columns)])
            for student in sorted({g.student for g in grades}):
                writer.writerow([roster.get(student, (student,))[0], student, "", "", "",
                                 *(f"{cell[(student, a)]:g}" if (student, a) in cell else "" for a in columns)])
        return [path]
    if lms == "moodle":
        written = []
        for assignment in sorted({g.assignment for g in grades}):
            target = path.with_name(f"{path.stem}-{assignment}{path.suffix or '.csv'}")
            with open(target, "w", newline="") as f:
                writer = csv.writer(f)
                writer.writerow(MOODLE_COLUMNS)
                for g in sorted((g for g in grades if g.assignment == assignment), key=lambda g: g.student):
                    comments = "\n".join(g.feedback) or ("full marks" if g.score >= g.max_score else "")
                    writer.writerow([f"Participant {g.student}", roster.get(g.student, (g.student,))[0], "", "", f"{g.score:g}",
                                     f"{g.max_score:g}", "Yes", "", "", comments])
            written.append(target)
        return written
    raise ValueError(f"lms must be one of {', '.join(LMS_NAMES)}, got {lms!r}")
