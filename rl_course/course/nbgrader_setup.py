"""nbgrader set up for the course: its ``nbgrader_config.py`` loaded, a scratch course directory over
``solutions/`` for every operation, with autograde's steps (``rl_course.course.execution``), and whether this machine
confines the kernels (``rl_course.course.sandbox``).
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rl_course.course.execution import autograde_preprocessors
from rl_course.course.layout import CONFIG_FILE, SOURCE_DIR, CourseError, one_line


@contextmanager
def scratch_course(course_root: Path, timeout: int | None = None, parent: Path | None = None,
                    db_url: str | None = None, sandbox: dict | None = None, confined: bool = False,
                    student_edition: bool | None = None) -> Iterator[tuple[object, Path]]:
    """An nbgrader API over a temporary course directory whose ``source/`` links to ``solutions/``.

    The course's own ``nbgrader_config.py`` is loaded; only the folders are redirected, the
    gradebook to ``db_url`` (default: a throwaway one inside the scratch course), and with
    ``confined`` the kernels into the sandbox, its caps updated by ``sandbox``. ``student_edition``
    (True or False; None keeps the configuration's ``c.Sandbox.student_edition``) says whether
    kernels import the student edition of the graded assignment's window instead of the instructor's library.
    """
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    from rl_course.course.sanitize import SanitizeNotebook

    config = course_config(course_root)
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
        if student_edition is not None:
            config.Sandbox.student_edition = student_edition
        config.Autograde.autograde_preprocessors = autograde_preprocessors(confined, Path(course_root).resolve())
        config.OverwriteCells.add_missing_cells = True  # a deleted test cell comes back from the gradebook and runs
        config.Judge.source_directory = str(scratch / "source")  # test cells judged outside the kernel (course/judge.py)
        if SanitizeNotebook not in config.GenerateFeedback.get("preprocessors", []):  # a course config without it
            config.GenerateFeedback.preprocessors = [*config.GenerateFeedback.get("preprocessors", []), SanitizeNotebook]
        config.Execute.extra_arguments = ["--IPKernelApp.log_level=ERROR"]  # keep kernels' start-up chatter out of the report
        # a graded kernel is killed once its last cell ran: nothing it could still do (atexit hooks, its own shutdown,
        # which takes up to a second with torch loaded) counts towards the grade, and none of its files outlive it
        config.Execute.shutdown_kernel = "immediate"
        coursedir = CourseDirectory(config=config)
        yield NbGraderAPI(coursedir=coursedir, config=config), scratch


def course_config(course_root: Path):
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

    from rl_course.course.sandbox import Sandbox, unavailable

    config = course_config(course_root)
    config.Sandbox.update(sandbox or {})
    try:
        wanted = Sandbox(config=config).enabled
    except (TraitError, ValueError) as error:
        raise CourseError(f"sandbox: {one_line(error)}") from None
    why_not = unavailable() if wanted else None
    return wanted and why_not is None, why_not


def _put_own_scripts_on_path() -> None:
    """nbgrader runs helper commands (alembic) by name: find them beside this Python even without an activated venv."""
    scripts = str(Path(sys.executable).parent)
    if scripts not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = scripts + os.pathsep + os.environ.get("PATH", "")
