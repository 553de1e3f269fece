"""The kernel's side of grading: run one of the student's functions on the arguments the grader sent.

The grader (``rl_course.course.judge``) keeps the hidden tests, the reference answers and every expected
value in its own process. To test a function it sends the kernel a request, in the ``rl_course.wire``
format, by executing one line, ``rl_course.calls.serve(<request>)``; the reply is shown as a display
output of the MIME type ``MIME`` and read from there. The requests:

- ``{"call": name, "args": [...], "kwargs": {...}}``: call the notebook's ``name``; the reply holds its
  ``result`` and the ``args``/``kwargs`` as they are after the call (so that a change made in place shows),
  or ``raised`` (the exception's type name) and ``message``, or ``missing`` when the notebook defines no
  such name, or ``refused`` when the result is not plain data;
- ``{"vjp": name, "args", "kwargs", "grad_outputs"}``: call it again and backpropagate ``grad_outputs``
  from its result (a tensor or a tuple of tensors) to the tensors of the arguments that require a gradient
  (``wire.grad_leaves``); the reply holds their ``grads``;
- ``{"own_work": name, "allow": [dotted names]}``: ``checks.assert_own_work`` on it; the reply holds the
  ``problem``, or None.

Nothing here decides a grade: a reply is what the student's code gave, whatever the code around it does.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import sys

from rl_course import wire

MIME = "application/vnd.rl-course.reply+json"


def serve(request: dict) -> None:
    """Answer ``request`` (see the module's docstring) with a display output of type ``MIME``."""
    from IPython.display import display

    display({MIME: answer(request, _notebook_namespace())}, raw=True)


def answer(request: dict, namespace: dict) -> dict:
    """The reply to ``request`` about the functions in ``namespace``, as plain data."""
    kind = next(k for k in ("call", "vjp", "own_work") if k in request)
    name = request[kind]
    if name not in namespace:
        return {"missing": name}
    fn = namespace[name]
    if kind == "own_work":
        return {"problem": _own_work_problem(fn, name, request.get("allow", []))}
    try:
        args, kwargs = wire.decode(request["args"], "args"), wire.decode(request["kwargs"], "kwargs")
        if kind == "vjp":
            return {"grads": wire.encode(_vjp(fn, args, kwargs, wire.decode(request["grad_outputs"])), "grads")}
        call = functools.partial(_probe(request["through"]), fn) if request.get("through") else fn
        with _replaced(namespace, request.get("replace")):
            result = call(*args, **kwargs)
    except BaseException as error:  # noqa: BLE001  (SystemExit and KeyboardInterrupt of the student's code too)
        return {"raised": type(error).__name__, "message": str(error)[:2000]}
    try:
        return {"result": wire.encode(result, "result"), "args": wire.encode(args, "args"), "kwargs": wire.encode(kwargs, "kwargs")}
    except wire.WireError as error:
        return {"refused": str(error)}


@contextlib.contextmanager
def _replaced(namespace: dict, replace: dict | None):
    """The notebook's function ``replace["name"]`` stood in for by ``replace["probe"]`` (``checks.call_replacing``)."""
    if not replace:
        yield
        return
    name = replace["name"]
    original = namespace[name]
    namespace[name] = functools.partial(_probe(replace["probe"]), original, *wire.decode(replace["probe_args"], "probe_args"))
    try:
        yield
    finally:
        namespace[name] = original


def _vjp(fn, args, kwargs, grad_outputs) -> list:
    """The gradients, with respect to the arguments' tensors that require one, of ``fn``'s result weighted by
    ``grad_outputs`` (a tensor of zeros where an input does not reach the result)."""
    import torch

    inputs = list(wire.grad_leaves((args, kwargs)))
    with torch.enable_grad():  # whatever mode the code around this line set
        outputs = fn(*args, **kwargs)
    outputs = list(outputs) if isinstance(outputs, (tuple, list)) else [outputs]
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs, strict=False)
             if isinstance(o, torch.Tensor) and o.requires_grad and g is not None]
    if not pairs or not inputs:
        return [torch.zeros_like(x) for x in inputs]
    grads = torch.autograd.grad([o for o, _ in pairs], inputs, [g for _, g in pairs], allow_unused=True)
    return [torch.zeros_like(x) if g is None else g for x, g in zip(inputs, grads, strict=True)]


def _own_work_problem(fn, name: str, allow: list[str]) -> str | None:
    from rl_course import checks

    try:
        checks.assert_own_work(fn, name, allow=[_resolve(dotted) for dotted in allow])
    except AssertionError as error:
        return str(error)
    return None


def _probe(dotted: str):
    """A function of ``rl_course.probes``, by its dotted name (nothing else is called by name)."""
    module, _, attribute = dotted.rpartition(".")
    if module != "rl_course.probes" or attribute.startswith("_"):
        raise ValueError(f"not a probe of rl_course.probes: {dotted}")
    return _resolve(dotted)


def _resolve(dotted: str):
    module, _, attribute = dotted.rpartition(".")
    return getattr(importlib.import_module(module), attribute)


def _notebook_namespace() -> dict:
    """The names the notebook's cells defined: IPython's user namespace."""
    from IPython import get_ipython

    shell = get_ipython()
    return shell.user_ns if shell is not None else vars(sys.modules["__main__"])
