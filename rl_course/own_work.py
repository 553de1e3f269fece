"""Whether a student's function is their own work: not one of the library's reference implementations, not
calling one, and no longer the release's stub.

The library marks the reference implementation of every graded function with ``@reference``
(``rl_course.reference``). ``assert_own_work`` follows the names a function's code uses, as Python compiled them
(``dis``: its globals, closure variables, what it imports itself and attribute chains on them), and those of the
helper functions of the same notebook it calls, and rejects any that resolves to a reference. Test cells call it
as ``checks.assert_own_work``.
"""

from __future__ import annotations

import dis
import inspect
import re
import sys
import types
from collections.abc import Callable, Sequence

from rl_course.reference import is_reference
from rl_course.tracebacks import failure


def assert_own_work(fn: Callable, name: str | None = None, allow: Sequence[Callable] = ()) -> None:
    """Fail if ``fn`` is, or calls, one of the library's ``@reference`` implementations.

    Follows the names the function's code uses (and those of the helper functions it
    calls from the same notebook) and rejects any that resolves to a reference, whether
    imported by name or reached as a module attribute (``tabular.td_error``). References
    in ``allow`` (what an earlier assignment taught, say) may be used. A function that lives in a
    student's kernel (``rl_course.course.kernel_function.KernelFunction``) is looked at there.
    """
    __tracebackhide__ = True
    name = name or getattr(fn, "__name__", repr(fn))
    in_kernel = getattr(type(fn), "own_work_problem", None)  # the grader's stand-in for a function of the kernel
    if in_kernel is not None:
        problem = in_kernel(fn, allow)
        if problem:
            raise failure(problem)
        return
    if is_unwritten(fn):
        raise failure(
            f"{name} is not written yet: write its code in place of `raise NotImplementedError()`, "
            "run its cell, then this one"
        )
    found = _find_reference_use(fn, seen=set(), allowed={id(a) for a in allow})
    if found:
        raise failure(
            f"{name} uses the library's reference implementation {found}; "
            "write the computation yourself, without calling rl_course's solution"
        )


def is_unwritten(fn) -> bool:
    """Whether ``fn`` still holds the release's stub: it raises ``NotImplementedError`` and never returns."""
    fn = inspect.unwrap(fn) if callable(fn) else fn
    code = getattr(fn, "__code__", None)
    if not isinstance(code, types.CodeType):
        return False
    instructions = list(dis.get_instructions(code))
    if any(ins.opname.startswith("RETURN") or ins.opname in ("YIELD_VALUE", "RETURN_GENERATOR") for ins in instructions):
        return False
    return any(ins.opname == "LOAD_GLOBAL" and ins.argval == "NotImplementedError" for ins in instructions)


def _find_reference_use(fn, seen: set, allowed: set) -> str | None:
    if id(fn) in allowed:
        return None
    if is_reference(fn):
        return _qualname(fn)
    fn = inspect.unwrap(fn) if callable(fn) else fn
    if isinstance(fn, (types.MethodType, classmethod, staticmethod)):
        fn = fn.__func__
    if not isinstance(fn, types.FunctionType) or id(fn) in seen:
        return None
    seen.add(id(fn))
    cells = dict(zip(fn.__code__.co_freevars, fn.__closure__ or (), strict=True))
    objects = list(_loaded_objects(fn.__code__, fn.__globals__, cells)) + list(fn.__defaults__ or ())
    for obj in objects:
        if id(obj) in allowed:
            continue
        if is_reference(obj):
            return _qualname(obj)
        if isinstance(obj, types.FunctionType) and obj.__module__ == fn.__module__:
            found = _find_reference_use(obj, seen, allowed)
            if found:
                return found
    return None


_MISSING = object()


def _loaded_objects(code: types.CodeType, globals_: dict, cells: dict, local_imports: dict | None = None):
    """The objects a function's code loads: globals, closure variables, what it imports itself
    (``from rl_course.advantages import gae``, of modules already imported), and attribute chains on them.

    ``tabular.td_error`` yields the module and then ``tabular.td_error`` itself; a local
    function's own ``td_error`` is a different object and is not confused with it. The code's instructions are
    read through ``_instructions``, which names them alike on every Python version.
    """
    current, imported, fromlist = _MISSING, _MISSING, None
    local_imports = {} if local_imports is None else local_imports  # shared with the code nested in it (lambdas, comprehensions)
    previous = None
    for op, arg in _instructions(code):
        if op in ("LOAD_GLOBAL", "LOAD_NAME"):
            current = globals_.get(arg, _MISSING)
        elif op == "IMPORT_NAME":  # an import inside the function, of a module already imported
            module = sys.modules.get(arg if fromlist else arg.split(".")[0], _MISSING)
            current = imported = module
        elif op == "IMPORT_FROM" and imported is not _MISSING:
            current = getattr(imported, arg, _MISSING)
        elif op == "STORE" and current is not _MISSING and previous in ("IMPORT_NAME", "IMPORT_FROM"):
            local_imports[arg] = current
            current, previous = _MISSING, op
            continue
        elif op == "LOAD_LOCAL" and arg in local_imports:
            current = local_imports[arg]
        elif op == "LOAD_LOCAL" and arg in cells:
            current = cells[arg].cell_contents if _cell_has_value(cells[arg]) else _MISSING
        elif op == "LOAD_ATTR" and current is not _MISSING:
            current = getattr(current, arg, _MISSING) if not isinstance(current, types.ModuleType) else \
                getattr(current, arg, sys.modules.get(f"{current.__name__}.{arg}", _MISSING))  # a submodule imported
        else:
            current, previous = _MISSING, op
            if op == "LOAD_CONST":
                fromlist = arg  # the last constant before IMPORT_NAME is its fromlist
                if isinstance(arg, types.CodeType):
                    yield from _loaded_objects(arg, globals_, cells, local_imports)
            continue
        previous = op
        if current is not _MISSING:
            yield current


def _instructions(code: types.CodeType):
    """``(op, name)`` for each of ``code``'s instructions (``dis``), the opcodes that differ between Python versions
    named alike: ``LOAD_LOCAL`` for a load of a local or closure variable (``LOAD_FAST``, ``LOAD_FAST_CHECK``,
    ``LOAD_FAST_BORROW``, ``LOAD_DEREF``, …), ``STORE`` for a store to one, ``LOAD_ATTR`` for ``LOAD_METHOD`` too, and
    ``LOAD_CONST`` for every constant; an instruction that does two of these (``LOAD_FAST_LOAD_FAST``,
    ``STORE_FAST_LOAD_FAST``, …, Python 3.13 and later) comes as the two. Others keep their own name."""
    for ins in dis.get_instructions(code):
        name, arg = ins.opname, ins.argval
        parts = re.findall(r"(LOAD|STORE)_FAST", name)
        if len(parts) == 2 and isinstance(arg, tuple) and len(arg) == 2:
            yield from ((_LOCAL_OPS[kind], a) for kind, a in zip(parts, arg, strict=True))
        elif name.startswith(("LOAD_FAST", "LOAD_DEREF", "LOAD_CLOSURE")):
            yield "LOAD_LOCAL", arg
        elif name.startswith(("STORE_FAST", "STORE_DEREF")):
            yield "STORE", arg
        elif name in ("LOAD_ATTR", "LOAD_METHOD"):
            yield "LOAD_ATTR", arg
        elif name.startswith(("LOAD_CONST", "LOAD_SMALL_INT")):
            yield "LOAD_CONST", arg
        else:
            yield name, arg


_LOCAL_OPS = {"LOAD": "LOAD_LOCAL", "STORE": "STORE"}


def _cell_has_value(cell) -> bool:
    try:
        cell.cell_contents  # noqa: B018  (reading an empty cell raises ValueError)
    except ValueError:
        return False
    return True


def _qualname(fn) -> str:
    return f"{fn.__module__}.{fn.__qualname__}"
