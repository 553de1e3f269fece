"""The library with answers withheld: the source of every graded function of the withheld assignments keeps its
signature, decorators and docstring, and its body becomes a call to ``rl_course.withheld.own_answer`` (``withhold``).
The student edition's wheel (``rl_course.course.edition``) and the grading kernels' library
(``rl_course.course.grading_edition``) are both written by ``write_library``."""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

from rl_course.course.answer_scan import module_functions
from rl_course.course.answers import Answer, withheld_functions
from rl_course.course.layout import PACKAGE, CourseError, library_folder

LIBRARY_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.so")  # what of the library's folder an edition leaves out


def write_library(course_root: Path, withheld_assignments: list[str], folder: Path) -> Path:
    """The library's package (source only) copied into ``folder`` with the answers of ``withheld_assignments``
    replaced by ``own_answer``, as the student wheel holds it; returns the package's folder, ``folder/rl_course``."""
    functions = withheld_functions(withheld_assignments)
    package = Path(folder) / PACKAGE
    shutil.copytree(library_folder(course_root), package, ignore=LIBRARY_IGNORED)
    done = set()
    for path in sorted(package.rglob("*.py")):
        module = ".".join(path.relative_to(folder).with_suffix("").parts).removesuffix(".__init__")
        source, replaced = withhold(path.read_text(), module, functions)
        path.write_text(source)
        done |= replaced
    missing = sorted(set(functions) - done)
    if missing:
        raise CourseError(f"{missing[0]}: listed in rl_course.course.answers but not found in the library's source")
    return package


def withhold(source: str, module: str, functions: dict[str, Answer]) -> tuple[str, set[str]]:
    """``source`` with the body of each function of ``functions`` defined in it replaced by a call to
    ``own_answer`` (signature, decorators and docstring kept); returns it and the names replaced."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    found = []
    for node, qualname in module_functions(tree):
        name = f"{module}.{qualname}"
        if name in functions:
            found.append((node, name))
    for node, name in sorted(found, key=lambda pair: pair[0].lineno, reverse=True):
        body = node.body[1:] if ast.get_docstring(node) is not None else node.body
        first, last = body[0].lineno, node.end_lineno
        if first == node.lineno:
            raise CourseError(f"{name}: its body shares a line with its signature; write it on lines of its own")
        indent = re.match(r"\s*", lines[first - 1]).group(0)
        answer = functions[name]
        instead = f", instead={answer.instead!r}" if answer.instead else ""
        stub = (f"{indent}from rl_course.withheld import own_answer\n\n"
                f"{indent}return own_answer({name!r}, {answer.assignment!r}, {answer.notebook_name!r}, locals(){instead})\n")
        lines[first - 1:last] = [stub]
    return "".join(lines), {name for _, name in found}
