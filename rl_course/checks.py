"""What the notebooks' test cells call.

Every check raises ``AssertionError`` with a message a student can act on: what was
compared, where the first difference is, and the expected value against the one got,
e.g. ``V after the episode at state=7: expected 0.125, got 0.25``.

The library's reference implementations of graded functions are marked with
``@reference``; ``assert_own_work`` gives no credit to an answer that merely calls one, and
says which function is still to be written when it holds only the release's stub.

The checks set ``__tracebackhide__``, as IPython's debugger and traceback do, and the errors
they raise render their traceback (IPython's ``_render_traceback_``) without those frames, the
innermost included: a failing test cell shows the message, then the test cell's line, not the
lines of the checking helpers. The error is a plain ``AssertionError`` everywhere. In a kernel,
every ``AssertionError`` shows its message first, wrapped (``rl_course.tracebacks``).

nbgrader gives a test cell no credit when the cell writes anything to stderr, and Python shows
warnings on stderr: a deprecation notice raised inside correct code would cost the student the
cell's points. So importing this module in a Jupyter kernel shows warnings on stdout instead
(``warnings_to_stdout``); elsewhere (the ``rl-course`` command, scripts) nothing changes.
"""

from __future__ import annotations

import dis
import functools
import inspect
import re
import sys
import types
import warnings
from collections.abc import Callable, Sequence

import numpy as np

from rl_course import tracebacks
from rl_course.reference import is_reference, reference  # noqa: F401  (the mark, for the checks and tests)


def warnings_to_stdout() -> None:
    """Show warnings on stdout, formatted as Python formats them, so that they inform without failing a test cell."""

    def show(message, category, filename, lineno, file=None, line=None):
        sys.stdout.write(warnings.formatwarning(message, category, filename, lineno, line))

    warnings.showwarning = show


if "ipykernel" in sys.modules:
    warnings_to_stdout()
    from IPython import get_ipython

    if get_ipython() is not None:
        tracebacks.show_assertions_message_first(get_ipython())


def expect_close(
    got,
    expected,
    what: str,
    index_names: Sequence[str] = ("index",),
    atol: float = 1e-8,
    rtol: float = 1e-6,
    hint: str = "",
) -> None:
    """Assert ``got`` equals ``expected`` elementwise within tolerance; name the first wrong element.

    ``what`` names the quantity ("V after the episode"), ``index_names`` its axes
    (("state",) or ("t", "env")), ``hint`` a likely cause added to the message.
    """
    __tracebackhide__ = True
    suffix = f" ({hint})" if hint else ""
    if got is None:
        raise _failure(f"{what}: got None; did you forget to return the result?")
    expected = np.asarray(expected, dtype=float)
    try:
        got = np.asarray(got, dtype=float)
    except (TypeError, ValueError):
        raise _failure(f"{what}: expected numbers, got {type(got).__name__}") from None
    if got.shape != expected.shape:
        raise _failure(f"{what}: expected shape {expected.shape}, got shape {got.shape}")
    close = np.isclose(got, expected, atol=atol, rtol=rtol, equal_nan=False)
    if close.all():
        return
    first = tuple(int(i) for i in np.argwhere(~close)[0])
    where = _describe_index(first, index_names)
    n_wrong = int((~close).sum())
    others = f"; {n_wrong - 1} more element(s) differ" if n_wrong > 1 else ""
    raise _failure(
        f"{what}{where}: expected {_fmt(expected[first])}, got {_fmt(got[first])}{suffix}{others}"
    )


def expect_unchanged(before: np.ndarray, after: np.ndarray, what: str) -> None:
    """Assert an input array was not modified in place."""
    __tracebackhide__ = True
    if not np.array_equal(np.asarray(before), np.asarray(after), equal_nan=True):
        raise _failure(f"{what} was modified in place; work on a copy and return the new table")


def assert_own_work(fn: Callable, name: str | None = None, allow: Sequence[Callable] = ()) -> None:
    """Fail if ``fn`` is, or calls, one of the library's ``@reference`` implementations.

    Follows the names the function's code uses (and those of the helper functions it
    calls from the same notebook) and rejects any that resolves to a reference, whether
    imported by name or reached as a module attribute (``tabular.td_error``). References
    in ``allow`` (what an earlier assignment taught, say) may be used. A function that lives in a
    student's kernel (``rl_course.course.judge.KernelFunction``) is looked at there.
    """
    __tracebackhide__ = True
    name = name or getattr(fn, "__name__", repr(fn))
    in_kernel = getattr(type(fn), "own_work_problem", None)  # the grader's stand-in for a function of the kernel
    if in_kernel is not None:
        problem = in_kernel(fn, allow)
        if problem:
            raise _failure(problem)
        return
    if is_unwritten(fn):
        raise _failure(
            f"{name} is not written yet: write its code in place of `raise NotImplementedError()`, "
            "run its cell, then this one"
        )
    found = _find_reference_use(fn, seen=set(), allowed={id(a) for a in allow})
    if found:
        raise _failure(
            f"{name} uses the library's reference implementation {found}; "
            "write the computation yourself, without calling rl_course's solution"
        )


def call_replacing(fn: Callable, replaced: str, probe: Callable, probe_args: tuple, *args, **kwargs):
    """``fn(*args, **kwargs)`` while the notebook's function ``replaced`` is, for that call only,
    ``probe(original, *probe_args, …)`` (a function of ``rl_course.probes``): how ``fn`` uses it shows in the result.
    A function that lives in a student's kernel is called there, with the probe put in place there.
    """
    in_kernel = getattr(type(fn), "call_replacing", None)
    if in_kernel is not None:
        return in_kernel(fn, replaced, probe, probe_args, args, kwargs)
    namespace = fn.__globals__
    original = namespace[replaced]
    namespace[replaced] = functools.partial(probe, original, *probe_args)
    try:
        return fn(*args, **kwargs)
    finally:
        namespace[replaced] = original


def call_through(probe: Callable, fn: Callable, *args, **kwargs):
    """``probe(fn, *args, **kwargs)``: a harness of ``rl_course.probes`` that calls ``fn`` on live objects it builds
    (environments, policies) from the plain data it is given. A function that lives in a student's kernel is
    called there, through the probe run there; what comes back is the probe's result.
    """
    in_kernel = getattr(type(fn), "call_through", None)
    if in_kernel is not None:
        return in_kernel(fn, probe, args, kwargs)
    return probe(fn, *args, **kwargs)


def expect_agrees(fn: Callable, correct: Callable, cases: Sequence, what: str, index_names: Sequence[str] = ("index",),
                  outputs: Sequence[str] = (), hint: str = "") -> None:
    """Assert that ``fn`` does what ``correct`` (the reference) does on every case of ``cases`` (``rl_course.domains``: inputs drawn
    from the whole domain its docstring promises), and keeps its contracts. On each case, in order:

    - it returns what the reference returns, within the case's tolerance (each part of a tuple, named by ``outputs``),
      as numbers with a fraction (not integers or bools) where the reference's are;
    - it passes the gradient the reference passes to each argument tensor that requires one (``probes.each``);
    - it leaves its arguments as they were, and draws nothing from numpy's, Python's or torch's global generator.

    The first case comes again at the end, with the same answer due: nothing may carry over from one call to the next.
    The message names the case (its ``label``), never the reference's code.
    """
    __tracebackhide__ = True
    import copy

    from rl_course import probes

    calls = [[list(c.args), dict(c.kwargs)] for c in cases]
    calls.append(copy.deepcopy(calls[0]))
    labels = [c.label for c in cases] + [f"{cases[0].label}, called again after the others"]
    tolerances = [getattr(c, "tolerance", (1e-8, 1e-6)) for c in cases] + [getattr(cases[0], "tolerance", (1e-8, 1e-6))]
    pristine = copy.deepcopy(calls)
    expected = probes.each(correct, copy.deepcopy(calls))
    got = call_through(probes.each, fn, calls)
    names = _parameter_names(correct)
    name = getattr(fn, "__name__", "the function")
    for k, (theirs, mine, label, (atol, rtol)) in enumerate(zip(expected, got, labels, tolerances, strict=True)):
        if "raised" in theirs:  # the case lies outside the reference's domain: the test is wrong, not the answer
            raise RuntimeError(f"the reference raised on {label}: {theirs['raised']}")
        on = f"{what}, {label}"
        if "raised" in mine:
            raise _failure(f"{on}: {name} raised {mine['raised']}")
        _expect_same_values(mine["result"], theirs["result"], on, index_names, list(outputs), atol, rtol, hint)
        for key, grad in theirs.get("grads", {}).items():
            argument = names.get(key, f"argument {key}")
            mine_grads = mine.get("grads") or {}
            if key not in mine_grads:
                raise _failure(f"{on}: no gradient flows from the result back to {argument}; compute it with torch, "
                               "from the tensors given, without .item(), numpy or a new tensor")
            expect_close(_detached(mine_grads[key]), _detached(grad), f"{on}: the gradient with respect to {argument}",
                         index_names, atol=max(atol, 1e-7), rtol=max(rtol, 1e-5))
        (args_before, kwargs_before), (args_after, kwargs_after) = pristine[k], calls[k]
        for key, before in [*((str(i), a) for i, a in enumerate(args_before)), *kwargs_before.items()]:
            after = args_after[int(key)] if key.isdigit() else kwargs_after.get(key)
            if not _same(before, after):
                raise _failure(f"{on}: {name} changed its argument {names.get(key, key)} in place; "
                               "work on a copy and return the result")
        if mine.get("global_rng"):
            raise _failure(f"{on}: {name} drew from a global random generator (numpy's, Python's or torch's); "
                           "it should use none")


def _parameter_names(fn) -> dict[str, str]:
    """Position (as a string) or keyword → the parameter's name, from ``fn``'s signature."""
    try:
        parameters = list(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return {}
    return {**{str(i): p for i, p in enumerate(parameters)}, **{p: p for p in parameters}}


def _expect_same_values(got, expected, what: str, index_names, outputs: list, atol: float, rtol: float, hint: str) -> None:
    __tracebackhide__ = True
    if isinstance(expected, tuple):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            raise _failure(f"{what}: expected a tuple of {len(expected)}, got {type(got).__name__}")
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            part = outputs[i] if i < len(outputs) else f"part {i} of the result"
            _expect_same_values(g, e, f"{what}: {part}", index_names, [], atol, rtol, hint)
        return
    expect_close(_detached(got), _detached(expected), what, index_names, atol=atol, rtol=rtol, hint=hint)
    kind = np.asarray(_detached(expected)).dtype.kind
    got_kind = np.asarray(_detached(got)).dtype.kind
    if kind == "f" and got_kind in "biu":
        raise _failure(f"{what}: the result holds {'bools' if got_kind == 'b' else 'integers'}, not floats "
                       "(an array made like an integer input keeps its dtype)")


def _same(a, b) -> bool:
    """Whether two arguments hold the same values (arrays, tensors, lists, dicts, records, numbers)."""
    if hasattr(a, "detach") and hasattr(b, "detach"):
        return a.shape == b.shape and a.dtype == b.dtype and bool(((a == b) | (a.isnan() & b.isnan())).all())
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape and a.dtype == b.dtype
                and np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if hasattr(a, "__dataclass_fields__"):
        return type(a) is type(b) and all(_same(getattr(a, f), getattr(b, f)) for f in a.__dataclass_fields__)
    return a == b or (a != a and b != b)  # noqa: PLR0124  (NaN equals NaN here)


def expect_finite(got, what: str, shape: tuple | None = None, index_names: Sequence[str] = ("index",)) -> None:
    """Assert ``got`` holds finite numbers (of ``shape``, when given); name the first element that is not.

    For the visible part of a test: it proves the function runs and returns numbers of the
    right form, without saying which numbers are right.
    """
    __tracebackhide__ = True
    if got is None:
        raise _failure(f"{what}: got None; did you forget to return the result?")
    try:
        values = np.asarray(_detached(got), dtype=float)
    except (TypeError, ValueError):
        raise _failure(f"{what}: expected numbers, got {type(got).__name__}") from None
    if shape is not None and values.shape != tuple(shape):
        raise _failure(f"{what}: expected shape {tuple(shape)}, got shape {values.shape}")
    bad = ~np.isfinite(values)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise _failure(f"{what}{_describe_index(first, index_names)}: expected a finite number, got {_fmt(values[first])}")


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


def _detached(x):
    """A torch tensor as a numpy array (detached, on the CPU); anything else as it is."""
    return x.detach().cpu().numpy() if hasattr(x, "detach") and hasattr(x, "cpu") else x


def _failure(message: str) -> AssertionError:
    """An ``AssertionError`` that IPython shows without the frames that set ``__tracebackhide__``."""
    error = AssertionError(message)
    error._render_traceback_ = lambda: tracebacks.without_hidden_frames(error)
    return error


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


def _describe_index(index: tuple, names: Sequence[str]) -> str:
    if index == ():
        return ""
    names = list(names) + [f"axis{k}" for k in range(len(names), len(index))]
    return " at " + ", ".join(f"{n}={i}" for n, i in zip(names, index, strict=False))  # names may outnumber the axes


def _fmt(x) -> str:
    return f"{float(x):.6g}"
