"""autograde's steps for the course: nbgrader's own, with its Execute replaced by one that judges the test cells in the
grader's process (``rl_course.course.judge``), outlives a dying kernel, and, where the machine allows it, starts each
kernel in the grading sandbox (``rl_course.course.sandbox``), on the student edition of the library where
``c.Sandbox.student_edition`` asks for it (``rl_course.course.grading_edition``); the submitted HTML sanitized last."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import nbformat

from rl_course.course.layout import CourseError


def autograde_preprocessors(confined: bool = False, course_root: Path | None = None) -> list[type]:
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
