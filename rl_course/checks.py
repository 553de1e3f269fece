"""What the notebooks' test cells call.

Every check raises ``AssertionError`` with a message a student can act on: what was
compared, where the first difference is, and the expected value against the one got,
e.g. ``V after the episode at state=7: expected 0.125, got 0.25``.

The library's reference implementations of graded functions are marked with
``@reference``; ``assert_own_work`` (``rl_course.own_work``, called here as ``checks.assert_own_work``) gives no
credit to an answer that merely calls one, and says which function is still to be written when it holds only the
release's stub.

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

import functools
import inspect
import sys
import warnings
from collections.abc import Callable, Sequence

import numpy as np

from rl_course import tracebacks
from rl_course.own_work import assert_own_work, is_unwritten  # noqa: F401  (the test cells call checks.assert_own_work)
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
        raise tracebacks.failure(f"{what}: got None; did you forget to return the result?")
    expected = np.asarray(expected, dtype=float)
    try:
        got = np.asarray(got, dtype=float)
    except (TypeError, ValueError):
        raise tracebacks.failure(f"{what}: expected numbers, got {type(got).__name__}") from None
    if got.shape != expected.shape:
        raise tracebacks.failure(f"{what}: expected shape {expected.shape}, got shape {got.shape}")
    close = np.isclose(got, expected, atol=atol, rtol=rtol, equal_nan=False)
    if close.all():
        return
    first = tuple(int(i) for i in np.argwhere(~close)[0])
    where = _describe_index(first, index_names)
    n_wrong = int((~close).sum())
    others = f"; {n_wrong - 1} more element(s) differ" if n_wrong > 1 else ""
    raise tracebacks.failure(
        f"{what}{where}: expected {_fmt(expected[first])}, got {_fmt(got[first])}{suffix}{others}"
    )


def expect_unchanged(before: np.ndarray, after: np.ndarray, what: str) -> None:
    """Assert an input array was not modified in place."""
    __tracebackhide__ = True
    if not np.array_equal(np.asarray(before), np.asarray(after), equal_nan=True):
        raise tracebacks.failure(f"{what} was modified in place; work on a copy and return the new table")


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
            raise tracebacks.failure(f"{on}: {name} raised {mine['raised']}")
        _expect_same_values(mine["result"], theirs["result"], on, index_names, list(outputs), atol, rtol, hint)
        for key, grad in theirs.get("grads", {}).items():
            argument = names.get(key, f"argument {key}")
            mine_grads = mine.get("grads") or {}
            if key not in mine_grads:
                raise tracebacks.failure(f"{on}: no gradient flows from the result back to {argument}; compute it with torch, "
                               "from the tensors given, without .item(), numpy or a new tensor")
            expect_close(_detached(mine_grads[key]), _detached(grad), f"{on}: the gradient with respect to {argument}",
                         index_names, atol=max(atol, 1e-7), rtol=max(rtol, 1e-5))
        (args_before, kwargs_before), (args_after, kwargs_after) = pristine[k], calls[k]
        for key, before in [*((str(i), a) for i, a in enumerate(args_before)), *kwargs_before.items()]:
            after = args_after[int(key)] if key.isdigit() else kwargs_after.get(key)
            if not _same(before, after):
                raise tracebacks.failure(f"{on}: {name} changed its argument {names.get(key, key)} in place; "
                               "work on a copy and return the result")
        if mine.get("global_rng"):
            raise tracebacks.failure(f"{on}: {name} drew from a global random generator (numpy's, Python's or torch's); "
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
            raise tracebacks.failure(f"{what}: expected a tuple of {len(expected)}, got {type(got).__name__}")
        for i, (g, e) in enumerate(zip(got, expected, strict=True)):
            part = outputs[i] if i < len(outputs) else f"part {i} of the result"
            _expect_same_values(g, e, f"{what}: {part}", index_names, [], atol, rtol, hint)
        return
    expect_close(_detached(got), _detached(expected), what, index_names, atol=atol, rtol=rtol, hint=hint)
    kind = np.asarray(_detached(expected)).dtype.kind
    got_kind = np.asarray(_detached(got)).dtype.kind
    if kind == "f" and got_kind in "biu":
        raise tracebacks.failure(f"{what}: the result holds {'bools' if got_kind == 'b' else 'integers'}, not floats "
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
        raise tracebacks.failure(f"{what}: got None; did you forget to return the result?")
    try:
        values = np.asarray(_detached(got), dtype=float)
    except (TypeError, ValueError):
        raise tracebacks.failure(f"{what}: expected numbers, got {type(got).__name__}") from None
    if shape is not None and values.shape != tuple(shape):
        raise tracebacks.failure(f"{what}: expected shape {tuple(shape)}, got shape {values.shape}")
    bad = ~np.isfinite(values)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        raise tracebacks.failure(f"{what}{_describe_index(first, index_names)}: expected a finite number, got {_fmt(values[first])}")


def _detached(x):
    """A torch tensor as a numpy array (detached, on the CPU); anything else as it is."""
    return x.detach().cpu().numpy() if hasattr(x, "detach") and hasattr(x, "cpu") else x


def _describe_index(index: tuple, names: Sequence[str]) -> str:
    if index == ():
        return ""
    names = list(names) + [f"axis{k}" for k in range(len(names), len(index))]
    return " at " + ", ".join(f"{n}={i}" for n, i in zip(names, index, strict=False))  # names may outnumber the axes


def _fmt(x) -> str:
    return f"{float(x):.6g}"
