"""Submissions that tamper with the tests, found by reading the code a student wrote before it runs.

The test cells call the course's grading helpers and the library; a student's cell runs in the
same kernel and could rebind them so that every check passes::

    grading.expect_close = lambda *args, **kwargs: None
    rl_course.grading.is_reference = lambda fn: False
    import numpy as grading

nbgrader restores test cells and locked cells from the source notebook, so what is read here is
every other code cell: the answer cells and any cell a student added (or stripped of its
metadata). A finding is one line naming the cell, the line and what it does:

- assigning to, or deleting, an attribute of anything the notebook imports (``grading.x = …``,
  ``tabular.td_error.__name__ = …``), or ``setattr``/``delattr`` on it;
- rebinding an imported name at the top level of a cell or through ``global`` (``grading = …``,
  ``def expect_close(…)``, ``import numpy as grading``); importing the same thing again is fine;
- the ways around both: ``exec``/``eval``/``compile``/``__import__``, ``sys.modules``, builtins,
  frames, ``gc``, ``ctypes``, ``importlib``, function internals (``__code__``, ``__globals__``).
"""

from __future__ import annotations

import ast

import nbformat

ESCAPE_CALLS = {"exec", "eval", "compile", "__import__", "globals", "vars"}
ESCAPE_ATTRIBUTES = {"modules", "__builtins__", "__globals__", "__code__", "__closure__", "__dict__",
                     "_getframe", "currentframe", "f_globals", "f_locals", "get_referrers", "get_objects"}
ESCAPE_MODULES = {"builtins", "ctypes", "gc", "importlib", "inspect"}


def imported_names(cells) -> dict[str, str]:
    """Every name an import statement of these cells binds, with what it imports: ``{"np": "numpy", "grading": "rl_course.grading"}``."""
    names = {}
    for cell in cells:
        for node in ast.walk(_parse(cell.source) or ast.Module(body=[], type_ignores=[])):
            names.update(_bindings(node))
    return names


def _bindings(node: ast.AST) -> dict[str, str]:
    """What an import statement binds: ``import a.b`` binds a to a, ``import a.b as c`` c to a.b, ``from a import b`` b to a.b."""
    if isinstance(node, ast.Import):
        return {alias.asname or alias.name.split(".")[0]: alias.name if alias.asname else alias.name.split(".")[0]
                for alias in node.names}
    if isinstance(node, ast.ImportFrom) and node.module:
        return {alias.asname or alias.name: f"{node.module}.{alias.name}" for alias in node.names}
    return {}


def find_tampering(submission: nbformat.NotebookNode, source: nbformat.NotebookNode) -> list[str]:
    """One line per attempt, in the cells of ``submission`` that nbgrader does not restore from ``source``."""
    restored = {c.metadata.nbgrader.grade_id for c in source.cells
                if c.metadata.get("nbgrader", {}).get("locked") or (c.metadata.get("nbgrader", {}).get("grade")
                                                                     and not c.metadata.nbgrader.get("solution"))}
    imported = imported_names(source.cells)
    aliases = {}  # names students bind to imported things (g = grading): changing g.x changes grading.x
    findings = []
    for number, cell in enumerate(submission.cells, start=1):
        if cell.cell_type != "code" or cell.metadata.get("nbgrader", {}).get("grade_id") in restored:
            continue
        tree = _parse(cell.source)
        if tree is None:
            continue  # a syntax error fails the cell when it runs; nothing in it can run
        where = f"cell {number} ({cell.metadata.get('nbgrader', {}).get('grade_id', 'added by the student')})"
        aliases.update(_aliases(tree, {**imported, **aliases}))
        findings += [f"{where}, line {line}: {what}" for line, what in _attempts(tree, imported, aliases)]
    return findings


def _aliases(tree: ast.Module, imported: dict[str, str]) -> dict[str, str]:
    """Names a cell binds to an imported thing or a part of one, without calling anything: ``g = grading``, ``f = grading.expect_close``."""
    aliases = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, (ast.Name, ast.Attribute)) \
                and _root_name(node.value) in imported and "(" not in ast.unparse(node.value):
            aliases.update({t.id: ast.unparse(node.value) for t in _flatten(node.targets) if isinstance(t, ast.Name)})
    return aliases


def _attempts(tree: ast.Module, imported: dict[str, str], aliases: dict[str, str]):
    """(line, what) for each attempt in one cell's code."""
    reachable = {**imported, **aliases}
    declared_global = {name for node in ast.walk(tree) if isinstance(node, ast.Global) for name in node.names}
    top_level = set(map(id, tree.body))
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        # attributes of imported things: x.attr = …, del x.attr, x.attr += …
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            for target in _flatten(targets):
                root = _root_name(target)
                if isinstance(target, ast.Attribute) and root in reachable:
                    yield line, f"changes {ast.unparse(target)}, which the tests rely on"
                elif isinstance(target, ast.Name) and target.id in imported and (id(node) in top_level or target.id in declared_global):
                    yield line, f"rebinds {target.id} ({imported[target.id]}), which the tests rely on"
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.name in imported \
                and (id(node) in top_level or node.name in declared_global):
            yield line, f"redefines {node.name} ({imported[node.name]}), which the tests rely on"
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for name, what in _bindings(node).items():
                if name in imported and imported[name] != what:
                    yield line, f"rebinds {name} ({imported[name]}) to {what}, which the tests rely on"
                if what.split(".")[0] in ESCAPE_MODULES:
                    yield line, f"imports {what}, which can reach into the tests' objects"
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in ESCAPE_CALLS:
                yield line, f"calls {node.func.id}(), which can run code the grader cannot read"
            elif node.func.id in {"setattr", "delattr"} and node.args and _root_name(node.args[0]) in reachable:
                yield line, f"calls {node.func.id} on {ast.unparse(node.args[0])}, which the tests rely on"
        elif isinstance(node, ast.Attribute) and node.attr in ESCAPE_ATTRIBUTES:
            yield line, f"uses {ast.unparse(node)}, which can reach into the tests' objects"
        elif isinstance(node, ast.Name) and node.id in {"__builtins__", "builtins"}:
            yield line, f"uses {node.id}, which can replace what the tests call"


def _flatten(targets):
    for target in targets:
        if isinstance(target, (ast.Tuple, ast.List)):
            yield from _flatten(target.elts)
        elif isinstance(target, ast.Starred):
            yield from _flatten([target.value])
        else:
            yield target


def _root_name(node) -> str | None:
    """``a`` for ``a``, ``a.b.c``, ``a[0].b`` and ``a(…).b``."""
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _parse(source: str) -> ast.Module | None:
    """The cell's code without IPython's magics and shell escapes; None if it is not Python."""
    lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()]
    try:
        return ast.parse("\n".join(lines))
    except SyntaxError:
        return None
