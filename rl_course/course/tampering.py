"""Submissions that tamper with the tests, found by reading the code a student wrote before it runs.

The test cells call the course's checks (``rl_course.checks``) and compare with the library; a student's cell
runs in the same kernel and could change them so that every check passes::

    checks.expect_close = lambda *args, **kwargs: None
    rl_course.reference.is_reference = lambda fn: False
    import numpy as checks

nbgrader restores test cells and locked cells from the source notebook, so what is read here is
every other code cell: answer cells, cells a student added, and a copy of a locked cell that
nbgrader's ``DeduplicateIds`` leaves unrestored. The things the tests rely on are the course's
package and numpy (``PROTECTED``), whatever name reaches them: the notebook's imports, the
student's own, and aliases (``g = checks``, ``for g in (checks,)``, ``def f(g=checks)``). A finding
is one line naming the cell, the line and what it does:

- assigning to, or deleting, an attribute of a protected thing (``checks.x = …``,
  ``tabular.td_error.__name__ = …``, ``getattr(checks, "np").allclose = …``), or ``setattr`` on one;
- rebinding an imported protected name at the top of a cell (``checks = …``, ``import numpy as checks``,
  ``def tabular(…)``); a computed result in an everyday name (``advantages = gae(…)``) is not one;
- the ways around both: ``exec``/``eval``/``compile``/``__import__``/``globals()``, ``__setattr__``,
  ``sys.modules``, builtins, frames, ``gc``, ``ctypes``, ``importlib``, ``pkgutil``, function internals
  (``__code__``, ``__globals__``).

Ordinary code is left alone: local variables, re-importing what the notebook imports, attributes
of one's own objects (``agent.x = …``, ``config.__dict__``), ``plt.rcParams[…] = …``. A reading
cannot see everything code can do at run time; this catches the direct attempts.
"""

from __future__ import annotations

import ast
import importlib

import nbformat

PROTECTED = ("rl_course", "numpy", "IPython", "ipykernel")  # what the tests rely on, and what carries the kernel's replies
CHECKS = ("rl_course", "rl_course.checks", "rl_course.reference")  # names bound to these (or to anything in them) are never rebound
ESCAPE_CALLS = {"exec", "eval", "compile", "__import__", "globals"}
ESCAPE_ATTRIBUTES = {"__globals__", "__builtins__", "__code__", "__closure__", "__setattr__", "__delattr__",
                     "f_globals", "f_locals", "f_back", "_getframe", "currentframe", "get_referrers", "get_objects",
                     "settrace", "setprofile", "input_transformers_post", "input_transformers_cleanup", "ast_transformers",
                     "display_pub", "display_formatter", "displayhook", "run_cell"}
CODE_MAGICS = {"time", "timeit", "prun", "capture", "debug"}  # magics whose argument or body is Python code run in the kernel
RUNNING_MAGICS = {"run", "load", "macro", "rerun", "recall", "script", "python", "python2", "python3", "pypy", "writefile"}
ESCAPE_MODULES = {"builtins", "ctypes", "gc", "importlib", "pkgutil"}


def find_tampering(submission: nbformat.NotebookNode, source: nbformat.NotebookNode) -> list[str]:
    """One line per attempt, in the cells of ``submission`` that nbgrader does not restore from ``source``."""
    imported = _imports(source.cells)
    reach = {name: what for name, what in imported.items() if _protected(what)}
    findings = []
    for number, cell in enumerate(submission.cells, start=1):
        if cell.cell_type != "code" or _restored(cell, number - 1, submission, source):
            continue
        tree = parse_code(cell.source)
        if tree is None:
            continue  # a syntax error fails the cell when it runs; nothing in it can run
        where = f"cell {number} ({cell.metadata.get('nbgrader', {}).get('grade_id', 'added by the student')})"
        own = {name: what for name, what in _imports([cell]).items() if _protected(what)}
        findings += [f"{where}, line {line}: {what}" for line, what in _rebinding(tree, imported)]
        reach.update(own)
        reach.update(_aliases(tree, reach))
        findings += [f"{where}, line {line}: {what}" for line, what in _attempts(tree, reach)]
    return findings


def _restored(cell, index: int, submission, source) -> bool:
    """Whether nbgrader overwrites this cell from the source: a locked or test cell's id, on the last cell
    that carries it (``DeduplicateIds`` strips the id from the earlier ones)."""
    grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
    locked = {c.metadata.nbgrader.grade_id for c in source.cells if c.metadata.get("nbgrader", {}).get("locked")
              or (c.metadata.get("nbgrader", {}).get("grade") and not c.metadata.nbgrader.get("solution"))}
    if grade_id not in locked:
        return False
    later = submission.cells[index + 1:]
    return not any(c.metadata.get("nbgrader", {}).get("grade_id") == grade_id for c in later)


def _imports(cells) -> dict[str, str]:
    """Every name an import statement of these cells binds, with what it imports: ``{"np": "numpy", "checks": "rl_course.checks"}``."""
    names = {}
    for cell in cells:
        for node in ast.walk(parse_code(cell.source) or ast.Module(body=[], type_ignores=[])):
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


def _protected(what: str) -> bool:
    return what.split(".")[0] in PROTECTED


def _same(a: str, b: str) -> bool:
    """Whether two import paths of the course's package name one object (``rl_course.ppo.PPOConfig``,
    ``rl_course.ppo.config.PPOConfig``)."""
    if a == b:
        return True
    if not (a.startswith("rl_course") and b.startswith("rl_course")):
        return False
    return _resolve(a) is not None and _resolve(a) is _resolve(b)


def _resolve(path: str):
    module, _, name = path.rpartition(".")
    for candidate, attribute in ((path, None), (module, name)):
        try:
            found = importlib.import_module(candidate)
            return getattr(found, attribute) if attribute else found
        except (ImportError, AttributeError, ValueError):
            continue
    return None


def _rebinding(tree: ast.Module, imported: dict[str, str]):
    """(line, what) for each top-level (or ``global``) binding of a name the notebook imports from a protected
    package. A result computed into such a name (``advantages = gae(…)``, an everyday variable name) is
    not one, except for the names that reach the checks, the reference mark and numpy: no result belongs there."""
    protected = {name: what for name, what in imported.items() if _protected(what)}
    declared_global = {name for node in ast.walk(tree) if isinstance(node, ast.Global) for name in node.names}
    scopes = [node for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))]
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        for name, new in _bound_names(node):
            if name not in protected or (name not in declared_global and _inside_function(node, scopes)):
                continue
            if new is not None and _same(new, protected[name]):
                continue  # the same import again
            what = protected[name]
            strict = what in CHECKS or what.startswith(tuple(f"{module}." for module in CHECKS[1:])) or what.split(".")[0] == "numpy"
            if not strict and isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)) and isinstance(node.value, ast.Call):
                continue
            yield line, f"rebinds {name} ({what}), which the tests rely on"


def _bound_names(node: ast.AST):
    """(name, import path or None) for each name a statement or expression binds."""
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        yield from _bindings(node).items()
    elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        yield node.name, None
    elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.For, ast.AsyncFor, ast.comprehension)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        yield from ((t.id, None) for t in _flatten(targets) if isinstance(t, ast.Name))
    elif isinstance(node, ast.withitem) and node.optional_vars is not None:
        yield from ((t.id, None) for t in _flatten([node.optional_vars]) if isinstance(t, ast.Name))
    elif isinstance(node, ast.NamedExpr):
        yield node.target.id, None
    elif isinstance(node, ast.ExceptHandler) and node.name:
        yield node.name, None


def _inside_function(node: ast.AST, scopes: list) -> bool:
    return any(node is not scope and any(child is node for child in ast.walk(scope)) for scope in scopes)


def _aliases(tree: ast.Module, reach: dict[str, str]) -> dict[str, str]:
    """Names bound to a protected thing or a part of it without a call in between: ``g = checks``,
    ``g = [checks][0]``, ``for g in (checks,)``, ``(g := checks)``, ``def f(g=checks)``."""
    aliases = {}
    for node in ast.walk(tree):
        pairs = []
        if isinstance(node, ast.Assign):
            pairs = [(t, node.value) for t in node.targets]
        elif isinstance(node, (ast.AnnAssign, ast.NamedExpr)) and node.value is not None:
            pairs = [(node.target, node.value)]
        elif isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
            pairs = [(node.target, node.iter)]
        elif isinstance(node, ast.withitem) and node.optional_vars is not None:
            pairs = [(node.optional_vars, node.context_expr)]
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            positional = node.args.posonlyargs + node.args.args
            with_defaults = positional[len(positional) - len(node.args.defaults):]
            pairs = list(zip([ast.Name(a.arg) for a in with_defaults], node.args.defaults, strict=True))
            pairs += [(ast.Name(a.arg), d) for a, d in zip(node.args.kwonlyargs, node.args.kw_defaults, strict=True) if d is not None]
        for target, value in pairs:
            root = _uncalled_reference(value, {**reach, **aliases})
            if root is not None:
                aliases.update({t.id: reach.get(root, root) for t in _flatten([target]) if isinstance(t, ast.Name)})
    return aliases


def _uncalled_reference(expr: ast.AST, reach: dict[str, str]) -> str | None:
    """A protected name the value of ``expr`` may be (or contain) without being called: None if there is none."""
    if isinstance(expr, ast.Name):
        return expr.id if expr.id in reach else None
    if isinstance(expr, ast.Call):
        is_getattr = isinstance(expr.func, ast.Name) and expr.func.id == "getattr" and expr.args
        return _uncalled_reference(expr.args[0], reach) if is_getattr else None
    if isinstance(expr, ast.Lambda):
        return None
    for child in ast.iter_child_nodes(expr):
        found = _uncalled_reference(child, reach)
        if found is not None:
            return found
    return None


def _attempts(tree: ast.Module, reach: dict[str, str]):
    """(line, what) for each change of a protected thing, and each way around the reading, in one cell's code."""
    direct_calls = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            for target in _flatten(targets):
                if isinstance(target, ast.Attribute) and _root_name(target) in reach:
                    yield line, f"changes {ast.unparse(target)}, which the tests rely on"
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            for what in _bindings(node).values():
                if what.split(".")[0] in ESCAPE_MODULES:
                    yield line, f"imports {what}, which can reach into the tests' objects"
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in ESCAPE_CALLS:
                yield line, f"calls {node.func.id}(), which can run code the grader cannot read"
            elif node.func.id in {"setattr", "delattr", "vars"} and node.args and _root_name(node.args[0]) in reach:
                yield line, f"calls {node.func.id} on {ast.unparse(node.args[0])}, which the tests rely on"
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("run_line_magic", "run_cell_magic"):
            name = node.args[0].value if node.args and isinstance(node.args[0], ast.Constant) else None
            if name is None or name in RUNNING_MAGICS:
                yield line, f"runs %{name or '…'}, code the grader cannot read"
        elif (isinstance(node, ast.Attribute) and node.attr in ("register", "unregister")
              and isinstance(node.value, ast.Attribute) and node.value.attr == "events"):
            yield line, f"uses {ast.unparse(node)}, which runs code at every cell the grader runs"
        elif isinstance(node, ast.Name) and node.id in {"setattr", "delattr"} and id(node) not in direct_calls:
            yield line, f"passes {node.id} around, which can change what the tests rely on"
        elif isinstance(node, ast.Attribute):
            root = _root_name(node.value)
            if node.attr in ESCAPE_ATTRIBUTES or (node.attr == "modules" and root == "sys") or (node.attr == "__dict__" and root in reach):
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
    """``a`` for ``a``, ``a.b.c``, ``a[0].b`` and ``getattr(a, "b").c``; None where a call's result is the root."""
    while True:
        if isinstance(node, (ast.Attribute, ast.Subscript)):
            node = node.value
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr" and node.args:
            node = node.args[0]
        else:
            return node.id if isinstance(node, ast.Name) else None


def parse_code(source: str) -> ast.Module | None:
    """The cell's code as IPython runs it (``x = %pwd`` is ``x = get_ipython().run_line_magic("pwd", "")``), with the
    code that magics such as ``%time`` and ``%%capture`` run added at their lines; None if it is not Python."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        python = TransformerManager().transform_cell(source)
    except Exception:  # noqa: BLE001  (IPython's own reading failed: read the plain lines)
        python = "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())
    try:
        tree = ast.parse(python)
    except SyntaxError:
        return None
    for node in list(ast.walk(tree)):
        inner = _magic_code(node)
        if inner is not None:
            ast.increment_lineno(inner, node.lineno - 1)
            tree.body += inner.body
    return tree


def _magic_code(node: ast.AST) -> ast.Module | None:
    """The code a ``%time``-like magic call runs, parsed (its leading options skipped)."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("run_line_magic", "run_cell_magic") and len(node.args) >= 2
            and all(isinstance(a, ast.Constant) and isinstance(a.value, str) for a in node.args)
            and node.args[0].value in CODE_MAGICS):
        return None
    code = node.args[2].value if node.func.attr == "run_cell_magic" and len(node.args) > 2 else node.args[1].value
    words = code.split(" ")
    for skip in range(min(len(words), 8)):
        inner = parse_code(" ".join(words[skip:]).lstrip())
        if inner is not None:
            return inner
    return None
