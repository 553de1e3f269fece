"""The student edition: what a student installs for an assignment window, without its answers.

This repository is the instructor's edition: the answers (``solutions/``), the hidden tests, and the
library's reference implementation of every graded function. For each assignment window the
instructor builds the student edition from it::

    rl-course student-edition --open 03 --solved 01 02 --out student-edition/

    student-edition/rl_course-0.1.0+student-py3-none-any.whl   the library; pip install it
    student-edition/notebooks/03_gae/gae.ipynb                 the released notebooks of the open assignments
                                                               (with the files they show, ``ASSETS``)

In the wheel, every graded function (``@reference``) of an open or future assignment keeps its
signature, docstring and mark, and its body is replaced by a call to ``rl_course.withheld.own_answer``:
the library then uses the function of the same name that the student wrote in the notebook, or says
clearly that the answer is not in this edition. Nothing else changes: environments, rollouts,
networks, plotting, the checks that test cells call. The answers of ``solved`` assignments (whose
deadline has passed) are kept, so that 04 trains with the GAE of 03 once 03 is closed. The wheel
holds source only, no bytecode. It also ships a Jupyter configuration that turns off the nbgrader
extensions only an instructor uses (Formgrader, Create Assignment, Course List).

``rl_course.course.answers`` says which assignment each ``@reference`` belongs to, and under which name the
notebook defines the student's own; functions that hold an answer in another form are withheld with it. A notebook
that would use one of them asks ``rl_course.withheld.is_withheld`` and, in the student edition, uses the student's
own function. ``rl_course.course.answer_scan`` looks for answers in what was built (the function bodies, compared
as normalized syntax trees; the hidden tests' lines; files of ``solutions/``); the builder refuses an edition in
which it finds any.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from rl_course.course.answer_scan import edition_files, scan
from rl_course.course.answers import unmapped_references
from rl_course.course.judge import DEMO
from rl_course.course.layout import RELEASE_DIR, SOURCE_DIR, CourseError, assignments
from rl_course.course.release import check_release
from rl_course.course.withholding import write_library

# Files of the repository that an assignment's notebook shows, handed out next to it (a student's edition has no docs/).
ASSETS: dict[str, tuple[str, ...]] = {
    "05_continuous": ("docs/figures/pendulum_ablations.png",),  # the ablations recorded by benchmarks/ablations.py
}

# What a student's JupyterLab loads: nbgrader's Validate button, nothing that needs a course's exchange or gradebook
# (on a laptop the Assignment List could only report "The exchange directory does not exist"). A course hub turns
# the Assignment List and the Nbgrader menu back on in its own, higher-priority, configuration.
# Validate (the button and `rl-course validate`) gives a cell as long as grading does (nbgrader_config.py's 300 s;
# nbgrader's own 30 s would stop the training runs of 04 and 05 and report a traceback instead of a verdict), and
# waits for a busy laptop's last outputs (nbclient's 4 s would do the same); it skips the cells tagged `demo`, as grading
# does (nbclient's skip_cells_with_tag, for the Execute that Validate runs only).
JUPYTER_CONFIG = {
    "etc/jupyter/nbgrader_config.json": {"Execute": {"timeout": 300, "iopub_timeout": 30},
                                         "Validator": {"Execute": {"skip_cells_with_tag": DEMO}}},
    "etc/jupyter/jupyter_server_config.d/rl_course_student.json": {
        "ServerApp": {"jpserver_extensions": {"nbgrader.server_extensions.formgrader": False,
                                              "nbgrader.server_extensions.course_list": False,
                                              "nbgrader.server_extensions.assignment_list": False}}},
    "etc/jupyter/labconfig/page_config.json": {
        "disabledExtensions": {"@jupyter/nbgrader:formgrader": True, "@jupyter/nbgrader:create-assignment": True,
                               "@jupyter/nbgrader:course-list": True, "@jupyter/nbgrader:assignment-list": True,
                               "@jupyter/nbgrader:menu": True,
                               "@jupyterlab/apputils-extension:announcements": True}},  # no "Jupyter news?" pop-up
}


@dataclass
class Edition:
    """A built student edition: the wheel, the folder of notebooks, and which assignments it opens, keeps and withholds."""

    wheel: Path
    notebooks: Path
    open: list[str]
    solved: list[str]
    withheld: list[str] = field(default_factory=list)


def resolve(course_root: Path, given: list[str], what: str) -> list[str]:
    """The assignment folders named by ``given`` ("03", "03_gae"), in course order; a clear error for an unknown one."""
    known = assignments(course_root)
    chosen = []
    for name in given:
        matches = [a for a in known if a == name or a.split("_")[0] == name]
        if len(matches) != 1:
            raise CourseError(f"{what} {name}: no such assignment (this course has: {', '.join(known)})")
        chosen.append(matches[0])
    return sorted(set(chosen))


# ---------------------------------------------------------------- building


def build(course_root: Path, open_: list[str], solved: list[str] = (), out: Path | None = None) -> Edition:
    """Build the student edition for a window in which ``open_`` are open and ``solved`` are closed, into ``out``.

    Raises ``CourseError`` if ``notebooks/`` is out of date, an assignment is both open and solved,
    or the scan finds an answer in what was built.
    """
    course_root = Path(course_root).resolve()
    open_, solved = resolve(course_root, list(open_), "--open"), resolve(course_root, list(solved), "--solved")
    if not open_:
        raise CourseError("--open: name at least one assignment")
    both = sorted(set(open_) & set(solved))
    if both:
        raise CourseError(f"{', '.join(both)}: both open and solved; an assignment is one or the other")
    problems = unmapped_references()
    if problems:
        raise CourseError("; ".join(problems))
    out = Path(out or course_root / "student-edition").resolve()
    earlier = out.exists() and any(out.iterdir())
    if earlier and (not (out / "notebooks").is_dir() or not list(out.glob("*.whl"))):
        raise CourseError(f"--out {out}: not empty and not an earlier student edition; choose an empty folder")
    stale = [line for line in _release_problems(course_root) if line.split("/")[1:2] and line.split("/")[1] in open_]
    if stale:
        raise CourseError(f"{stale[0]}: run `rl-course release` first")
    withheld = [a for a in assignments(course_root) if a not in solved]
    if earlier:
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    notebooks = out / "notebooks"
    for assignment in open_:
        shutil.copytree(course_root / RELEASE_DIR / assignment, notebooks / assignment,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        for asset in ASSETS.get(assignment, ()):
            if not (course_root / asset).is_file():
                raise CourseError(f"{asset}: the notebook of {assignment} shows it, and it is not in {course_root}")
            shutil.copy(course_root / asset, notebooks / assignment / Path(asset).name)
    wheel = build_wheel(course_root, withheld, out)
    edition = Edition(wheel=wheel, notebooks=notebooks, open=open_, solved=solved, withheld=withheld)
    findings = scan(edition_files(edition.wheel, edition.notebooks), course_root, withheld)
    if findings:
        shutil.rmtree(out)
        raise CourseError(f"the student edition would hold answers, so none was written: {findings[0]}"
                          + (f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""))
    return edition


_RELEASE_CHECKED: dict[tuple[str, str], list[str]] = {}


def _release_problems(course_root: Path) -> list[str]:
    """``check_release``, run once for the same files: editions of several windows built in one process
    (the tests build one per window) regenerate the release once, not once each."""
    digest = hashlib.sha256()
    for path in sorted(p for folder in (SOURCE_DIR, RELEASE_DIR) for p in (course_root / folder).rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(course_root)).encode() + b"\0" + path.read_bytes() + b"\0")
    for path in sorted(course_root.glob("nbgrader_config.py")):
        digest.update(path.read_bytes())
    key = (str(course_root), digest.hexdigest())
    if key not in _RELEASE_CHECKED:
        _RELEASE_CHECKED[key] = check_release(course_root)
    return list(_RELEASE_CHECKED[key])


def build_wheel(course_root: Path, withheld_assignments: list[str], out: Path) -> Path:
    """The library's wheel with the answers of ``withheld_assignments`` replaced by ``own_answer``; returns its path."""
    with tempfile.TemporaryDirectory(prefix="rl-course-edition-") as tmp:
        stage = Path(tmp) / "stage"
        write_library(course_root, withheld_assignments, stage)
        config = Path(tmp) / "jupyter-config"
        for name, content in JUPYTER_CONFIG.items():
            (config / name).parent.mkdir(parents=True, exist_ok=True)
            (config / name).write_text(json.dumps(content, indent=2) + "\n")
        shutil.copy(course_root / "README.md", stage / "README.md")
        (stage / "pyproject.toml").write_text(_student_pyproject((course_root / "pyproject.toml").read_text(), config))
        result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                                 "--quiet", "--wheel-dir", str(out), str(stage)], capture_output=True, text=True)
        if result.returncode != 0:
            raise CourseError(f"the student wheel could not be built: {(result.stderr or result.stdout).strip().splitlines()[-1]}")
    wheels = sorted(out.glob("rl_course-*.whl"))
    if len(wheels) != 1:
        raise CourseError(f"{out}: expected one wheel after the build, found {len(wheels)}")
    return wheels[0]


def _student_pyproject(text: str, jupyter_config: Path) -> str:
    """The course's pyproject.toml with a ``+student`` version and the Jupyter configuration as data files."""
    text, n = re.subn(r'(?m)^version = "([^"+]+)"', r'version = "\1+student"', text)
    if n != 1:
        raise CourseError("pyproject.toml: no version line to mark as the student edition")
    folders: dict[str, list[str]] = {}
    for name in JUPYTER_CONFIG:
        folders.setdefault(str(Path(name).parent), []).append(str(jupyter_config / name))
    return text + "\n[tool.setuptools.data-files]\n" + "".join(f'"{k}" = {json.dumps(v)}\n' for k, v in folders.items())
