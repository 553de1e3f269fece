"""nbgrader set up for the course: its ``nbgrader_config.py`` loaded, a scratch course directory over
``solutions/`` for every operation, and autograde's steps with an Execute that outlives a dying kernel
and, where the machine allows it, starts each kernel in the grading sandbox (``rl_course.course.sandbox``), on the
student edition of the library where ``c.Sandbox.student_edition`` asks for it (``rl_course.course.grading_edition``).
"""

from __future__ import annotations

import functools
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import nbformat

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
        config.Autograde.autograde_preprocessors = _autograde_preprocessors(confined, Path(course_root).resolve())
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


def _autograde_preprocessors(confined: bool = False, course_root: Path | None = None) -> list[type]:
    """nbgrader's autograde steps, with its Execute replaced by one that outlives the kernel (and, when
    ``confined``, starts it in the sandbox; the student edition it may import is built from ``course_root``), and the
    submitted HTML sanitized last (``rl_course.course.sanitize``): the autograded notebook is what Formgrader shows a
    teaching assistant."""
    from nbgrader.converters import Autograde
    from nbgrader.preprocessors import Execute

    from rl_course.course.sanitize import SanitizeNotebook

    return [*(execute_until_the_kernel_dies(confined, course_root) if step is Execute else step
              for step in Autograde.class_traits()["autograde_preprocessors"].default()), SanitizeNotebook]


@functools.cache
def execute_until_the_kernel_dies(confined: bool = False, course_root: Path | None = None) -> type:
    """nbgrader's Execute, except that when the kernel dies (``os._exit``, a killed process, a crash, the
    memory cap) only the cell it died in and the code cells after it fail, each with an error output
    saying so, instead of the whole submission: the tests that passed before keep their points.
    With ``confined``, kernels start in the sandbox (``rl_course.course.sandbox.ConfinedKernelManager``); either way
    their own stdout and stderr are captured, not printed (``rl_course.course.kernel_output``).
    With ``c.Sandbox.student_edition``, a kernel imports the student edition of ``course_root``'s library for
    the window of the assignment it grades (``rl_course.course.grading_edition.library_for``)."""
    from nbclient.exceptions import DeadKernelError
    from nbgrader.preprocessors import Execute

    from rl_course.course.judge import Judge

    def error(evalue: str):
        return nbformat.v4.new_output("error", ename="KernelDied", evalue=evalue, traceback=[f"KernelDied: {evalue}"])

    class ExecuteUntilTheKernelDies(Judge, Execute):
        def __init__(self, *args, **kwargs):
            from rl_course.course.kernel_output import CapturingKernelManager
            from rl_course.course.sandbox import ConfinedKernelManager

            kwargs.setdefault("kernel_manager_class", ConfinedKernelManager if confined else CapturingKernelManager)
            super().__init__(*args, **kwargs)

        def preprocess(self, nb, resources=None, km=None):
            self.died_in = None
            self.library = self._student_library(resources or {})
            return super().preprocess(nb, resources, km)

        def _student_library(self, resources: dict) -> Path | None:
            """The folder of the student edition that this notebook's kernel imports, None for the instructor's library."""
            from rl_course.course.grading_edition import library_for
            from rl_course.course.sandbox import Sandbox

            if not Sandbox(parent=self).student_edition or not self._plan(resources).all_judged_outside:
                return None  # a test cell judged in the kernel still calls the library's reference answers there
            assignment = resources.get("nbgrader", {}).get("assignment")
            if course_root is None or assignment is None:
                raise CourseError("c.Sandbox.student_edition: the kernel's library needs the course and the graded "
                                  f"assignment, got course {course_root} and assignment {assignment}")
            return library_for(course_root, assignment)

        def create_kernel_manager(self):
            km = super().create_kernel_manager()
            km.library = self.library  # where confined, the sandbox binds it in place of the instructor's library
            return km

        def start_new_kernel(self, **kwargs):
            if self.library is not None:
                from rl_course.course.grading_edition import with_library

                kwargs["env"] = with_library(dict(os.environ), self.library)
            return super().start_new_kernel(**kwargs)

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
