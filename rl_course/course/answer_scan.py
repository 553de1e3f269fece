"""The scan for answers where none may be: in a built student edition (``edition_files``) or in any set of files.
It finds the bodies of withheld answers (syntax trees compared, names numbered), lines of hidden tests, files of
``solutions/`` and compiled code; the edition's builder (``rl_course.course.edition``) refuses an edition in which it
finds any."""

from __future__ import annotations

import ast
import copy
import io
import zipfile
from pathlib import Path

import nbformat

from rl_course.course.answers import withheld_functions
from rl_course.course.layout import SOURCE_DIR, library_folder
from rl_course.course.tampering import parse_code


def edition_files(wheel: Path, notebooks: Path) -> dict[str, bytes]:
    """Every file of an edition (its ``wheel`` and its ``notebooks`` folder), by a name that says where it is:
    the wheel's members and the notebooks."""
    files = {}
    with zipfile.ZipFile(wheel) as archive:
        for member in archive.namelist():
            files[f"{wheel.name}/{member}"] = archive.read(member)
    for path in sorted(p for p in notebooks.rglob("*") if p.is_file()):
        files[str(path.relative_to(notebooks.parent))] = path.read_bytes()
    return files



def scan(files: dict[str, bytes], course_root: Path, withheld_assignments: list[str]) -> list[str]:
    """What of the answers of ``withheld_assignments`` the files hold, one line each (empty when none):

    - a function whose body is, up to names and formatting, that of a withheld reference of the
      instructor's library or of a solution in ``solutions/`` (syntax trees compared, names numbered
      in order of appearance, docstrings left out);
    - a line of a hidden test of any assignment (one that the visible cells do not also hold);
    - a file of ``solutions/``, by its content or a path through it, or an nbgrader solution or hidden-test marker;
    - compiled code (``.pyc``, ``.so``), which could hold an answer no reading finds.
    """
    course_root = Path(course_root)
    answers = _answer_bodies(course_root, withheld_assignments)
    hidden = _hidden_lines(course_root)
    solution_files = {p.read_bytes(): str(p.relative_to(course_root))
                      for p in (course_root / SOURCE_DIR).rglob("*") if p.is_file()}
    findings = []
    for name, content in sorted(files.items()):
        if content in solution_files:
            findings.append(f"{name}: the file {solution_files[content]}")
        if f"/{SOURCE_DIR}/" in f"/{name}":
            findings.append(f"{name}: a file of {SOURCE_DIR}/")
        if name.endswith((".pyc", ".pyo", ".so", ".pyd")):
            findings.append(f"{name}: compiled code")
            continue
        for source, where in _code_of(name, content):
            for marker in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS") if name.endswith(".ipynb") else ():
                if f"### {marker}" in source:
                    findings.append(f"{where}: the nbgrader marker {marker}")
            tree = parse_code(source)
            for node in ast.walk(tree) if tree is not None else ():
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    body = normalized_body(node)
                    if body in answers:
                        findings.append(f"{where}: {node.name} holds the answer {'; '.join(answers[body])}")
            text_lines = {line.strip() for line in source.splitlines()}
            for line in sorted(text_lines & set(hidden)):
                findings.append(f"{where}: a line of the hidden tests of {hidden[line]}: {line[:80]}")
    return findings


def normalized_body(node: ast.FunctionDef) -> str:
    """The function's body without its docstring, as a syntax tree whose names and parameters are numbered
    in order of first appearance: renaming variables or reformatting the code does not change it."""
    body = node.body[1:] if ast.get_docstring(node) is not None and len(node.body) > 1 else node.body
    module = ast.Module(body=copy.deepcopy(body), type_ignores=[])
    numbers: dict[str, str] = {}
    for arg in node.args.posonlyargs + node.args.args + node.args.kwonlyargs:
        numbers.setdefault(arg.arg, f"_{len(numbers)}")
    for child in ast.walk(module):
        if isinstance(child, ast.Name):
            child.id = numbers.setdefault(child.id, f"_{len(numbers)}")
        elif isinstance(child, ast.arg):
            child.arg = numbers.setdefault(child.arg, f"_{len(numbers)}")
    return ast.dump(module, annotate_fields=False)


def _answer_bodies(course_root: Path, withheld_assignments: list[str]) -> dict[str, list[str]]:
    """Normalized body → what it is, for every withheld reference and every solution function of a withheld assignment."""
    bodies: dict[str, list[str]] = {}
    package = library_folder(course_root)
    functions = withheld_functions(withheld_assignments)
    for path in sorted(package.rglob("*.py")):
        module = ".".join(path.relative_to(package.parent).with_suffix("").parts).removesuffix(".__init__")
        for node, qualname in module_functions(ast.parse(path.read_text())):
            name = f"{module}.{qualname}"
            if name in functions:
                bodies.setdefault(normalized_body(node), []).append(f"{name} (assignment {functions[name].assignment})")
    for assignment in withheld_assignments:
        for path in sorted((course_root / SOURCE_DIR / assignment).glob("*.ipynb")):
            for cell in nbformat.read(path, as_version=4).cells:
                if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution"):
                    for node in ast.walk(parse_code(cell.source) or ast.Module(body=[], type_ignores=[])):
                        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                            bodies.setdefault(normalized_body(node), []).append(f"{node.name} of {SOURCE_DIR}/{assignment}/{path.name}")
    return bodies


def _hidden_lines(course_root: Path) -> dict[str, str]:
    """Each stripped line of a hidden test that neither a visible cell of the source notebooks nor the library holds,
    with its assignment."""
    hidden, visible = {}, set()
    for path in sorted((course_root / SOURCE_DIR).glob("*/*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            inside = False
            for line in cell.source.splitlines():
                stripped = line.strip()
                if stripped == "### BEGIN HIDDEN TESTS":
                    inside = True
                elif stripped == "### END HIDDEN TESTS":
                    inside = False
                elif inside and len(stripped) > 24 and not stripped.startswith("#"):
                    hidden.setdefault(stripped, path.parent.name)
                elif not inside and not cell.metadata.get("nbgrader", {}).get("solution"):
                    visible.add(stripped)
    for path in library_folder(course_root).rglob("*.py"):  # code of the library is no secret of a test
        visible.update(line.strip() for line in path.read_text().splitlines())
    return {line: assignment for line, assignment in hidden.items() if line not in visible}


def _code_of(name: str, content: bytes):
    """(code, where) for a Python file, or each code cell of a notebook; nothing for other files."""
    if name.endswith(".py"):
        yield content.decode("utf-8", errors="replace"), name
    elif name.endswith(".ipynb"):
        try:
            nb = nbformat.read(io.StringIO(content.decode("utf-8")), as_version=4)
        except Exception:  # not a notebook: nothing to read as code
            return
        for number, cell in enumerate(nb.cells, start=1):
            if cell.cell_type == "code":
                yield cell.source, f"{name} cell {number}"



def module_functions(tree: ast.Module):
    """(node, qualname) of every function defined at module level or in a class."""
    def walk(body, prefix):
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield node, prefix + node.name
            elif isinstance(node, ast.ClassDef):
                yield from walk(node.body, f"{prefix}{node.name}.")
    yield from walk(tree.body, "")

