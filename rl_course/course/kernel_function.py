"""The student's functions as the grader's test cells see them: a ``KernelFunction`` stands in for each function the
notebook's answer cells define. Calling it sends the arguments to the kernel as plain data (``rl_course.wire``), the
kernel calls the student's function (``rl_course.calls``) and sends back the result, the arguments as the call left
them (written back into the caller's, ``write_back``), or the exception it raised (``RaisedInKernel``). Where the
arguments carry tensors that require a gradient, the call is a node of torch's graph whose backward asks the kernel
for the gradients. What comes back is data, bounded (``bounded``), judged in the grader."""

from __future__ import annotations

import sys
import types

import numpy as np

from rl_course import wire

MESSAGE_LIMIT = 2000  # characters of a message that comes from the kernel


class RaisedInKernel(Exception):
    """The student's function raised ``ename`` with ``message`` in the kernel."""

    def __init__(self, ename: str, message: str):
        super().__init__(message)
        self.ename = ename if ename.isidentifier() else "Exception"


class KernelTimeout(Exception):
    """The kernel did not answer before the cell's time was up (its code was interrupted)."""


class KernelFunction:
    """The student's function ``name``, called in the kernel on plain data (the module's docstring)."""

    def __init__(self, name: str, request):
        self.__name__ = self.name = name
        self._request = request

    def __repr__(self) -> str:
        return f"<the notebook's {self.name}>"

    def __call__(self, *args, **kwargs):
        torch = sys.modules.get("torch")
        if torch is not None and torch.is_grad_enabled():
            leaves = list(wire.grad_leaves((args, kwargs)))
            if leaves:
                return _through_autograd(self, args, kwargs, leaves)
        return self.call(args, kwargs)

    def call(self, args, kwargs, replace: dict | None = None, through: str | None = None):
        """The result of the student's function on ``args``, ``kwargs``, which are changed as the call changed them
        (``replace``: a probe stands in for another function; ``through``: a harness calls it, ``rl_course.calls``)."""
        args = [wire.Iterator(a) if isinstance(a, types.GeneratorType) else a for a in args]  # a generator is used up
        request = {"call": self.name, "args": wire.encode(list(args), "args"), "kwargs": wire.encode(kwargs, "kwargs")}
        if replace:
            request["replace"] = replace
        if through:
            request["through"] = through
        reply = self._ask(request)
        if "refused" in reply:
            raise AssertionError(f"{self.name} returned something the tests cannot read: {bounded(reply['refused'])}")
        result = wire.decode(reply.get("result"), "result")
        write_back(list(args), wire.decode(reply.get("args"), "args"))
        write_back(kwargs, wire.decode(reply.get("kwargs"), "kwargs"))
        return result

    def call_replacing(self, replaced: str, probe, probe_args: tuple, args, kwargs):
        """``checks.call_replacing`` in the kernel: the probe is named there by its dotted name."""
        return self.call(args, kwargs, {"name": replaced, "probe": f"{probe.__module__}.{probe.__qualname__}",
                                        "probe_args": wire.encode(list(probe_args), "probe_args")})

    def call_through(self, probe, args, kwargs):
        """``checks.call_through`` in the kernel: the harness is named there by its dotted name, and what it
        returns comes back (the arguments are plain data the harness builds its objects from)."""
        return self.call(args, kwargs, through=f"{probe.__module__}.{probe.__qualname__}")

    def gradients(self, args, kwargs, grad_outputs) -> list:
        """The kernel's backward pass through the student's function (``rl_course.calls``' ``vjp``)."""
        reply = self._ask({"vjp": self.name, "args": wire.encode(list(args), "args"), "kwargs": wire.encode(kwargs, "kwargs"),
                           "grad_outputs": wire.encode(list(grad_outputs), "grad_outputs")})
        grads = wire.decode(reply.get("grads"), "grads")
        if not isinstance(grads, list):
            raise AssertionError(f"{self.name}: the kernel sent no gradients")
        return grads

    def own_work_problem(self, allow=()) -> str | None:
        """What ``checks.assert_own_work`` finds in the kernel: the function is unwritten or calls a reference."""
        reply = self._ask({"own_work": self.name, "allow": [f"{a.__module__}.{a.__qualname__}" for a in allow]})
        problem = reply.get("problem")
        return None if problem is None else bounded(problem)

    def _ask(self, request: dict) -> dict:
        reply = self._request(request)
        if "missing" in reply:
            raise NameError(f"name '{self.name}' is not defined")
        if "raised" in reply:
            raise RaisedInKernel(bounded(reply["raised"]), bounded(reply.get("message", "")))
        return reply


def _through_autograd(fn: KernelFunction, args, kwargs, leaves):
    """``fn(*args, **kwargs)`` as a node of torch's graph: its backward asks the kernel for the gradients."""
    import torch

    result = fn.call(args, kwargs)
    outputs = result if isinstance(result, tuple) else (result,)
    # an output with no gradient in the kernel (computed in numpy, a new tensor) gets none here either
    kept = tuple(isinstance(r, torch.Tensor) and r.requires_grad for r in outputs)

    class KernelCall(torch.autograd.Function):
        @staticmethod
        def forward(ctx, *inputs):
            # the result's tensors become this node's outputs, not leaves of their own
            detached = tuple(r.detach() if isinstance(r, torch.Tensor) else r for r in outputs)
            ctx.mark_non_differentiable(*(r for r, k in zip(detached, kept, strict=True) if isinstance(r, torch.Tensor) and not k))
            return detached if isinstance(result, tuple) else detached[0]

        @staticmethod
        def backward(ctx, *grad_outputs):
            return tuple(g.to(x.dtype) for g, x in zip(fn.gradients(args, kwargs, grad_outputs), leaves, strict=True))

    return KernelCall.apply(*leaves)


def write_back(original, after) -> None:
    """Change ``original`` (arrays, tensors, lists, dicts, records) in place into ``after``, as the kernel's
    call changed its copy: the test then sees what a call in its own process would have left."""
    torch = sys.modules.get("torch")
    if isinstance(original, np.ndarray) and isinstance(after, np.ndarray):
        if original.shape == after.shape and original.flags.writeable:
            original[...] = after
    elif torch is not None and isinstance(original, torch.Tensor) and isinstance(after, torch.Tensor):
        with torch.no_grad():
            if original.shape == after.shape and not torch.equal(original, after.to(original.dtype)):
                original.copy_(after)  # only where the call changed it: a copy bumps the version that autograd checks
            if after.grad is None:
                original.grad = None
            elif original.grad is not None and original.grad.shape == after.grad.shape:
                original.grad.copy_(after.grad)
            elif after.grad.shape == original.shape:
                original.grad = after.grad.to(original.dtype)
    elif torch is not None and type(original) is torch.Generator and type(after) is torch.Generator:
        original.set_state(after.get_state())  # the draws the call made
    elif isinstance(original, np.random.Generator) and isinstance(after, np.random.Generator):
        original.bit_generator.state = after.bit_generator.state
    elif isinstance(original, list) and isinstance(after, list):
        for i, (o, a) in enumerate(zip(original, after, strict=False)):
            if _mutable(o):
                write_back(o, a)
            else:
                original[i] = a
        del original[len(after):]
        original.extend(after[len(original):])
    elif isinstance(original, dict) and isinstance(after, dict):
        for key in list(original):
            if key not in after:
                del original[key]
        for key, a in after.items():
            if key in original and _mutable(original[key]):
                write_back(original[key], a)
            else:
                original[key] = a
    elif isinstance(original, wire.Iterator) and isinstance(after, wire.Iterator):
        write_back(original.items, after.items)
    elif isinstance(original, tuple) and isinstance(after, tuple):
        for o, a in zip(original, after, strict=False):
            write_back(o, a)
    elif hasattr(original, "__dataclass_fields__") and type(original) is type(after):
        for name in original.__dataclass_fields__:
            write_back(getattr(original, name), getattr(after, name))


def _mutable(value) -> bool:
    torch = sys.modules.get("torch")
    return (isinstance(value, (np.ndarray, list, dict, tuple, np.random.Generator, wire.Iterator))
            or hasattr(value, "__dataclass_fields__")
            or (torch is not None and isinstance(value, (torch.Tensor, torch.Generator))))


def bounded(text) -> str:
    """A message from the kernel: a string, control characters replaced, at most ``MESSAGE_LIMIT`` characters."""
    text = "".join(c if c.isprintable() or c == "\n" else "?" for c in str(text)[:MESSAGE_LIMIT])
    return text
