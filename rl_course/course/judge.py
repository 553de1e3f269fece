"""Test cells decided in the grader's process, where the student's code cannot reach them.

A submission's kernel runs the notebook's other cells: the setup, the student's answers, the
demonstrations. At each test cell the grader does not send the cell to the kernel. It runs the cell
itself, as the source notebook in ``solutions/`` has it (hidden tests included), in a namespace of its
own that the notebook's *fixture* cells (tagged ``fixture``: imports, data, helpers) filled, with the
instructor's library. There, each function that the student's answer cells define is a
``KernelFunction``: calling it sends the arguments to the kernel as plain data (``rl_course.wire``), the
kernel calls the student's function (``rl_course.calls``) and sends back the result, the arguments as
the call left them, or the exception it raised. The checks, the expected values and the hidden test text
never enter the kernel; what comes out of it is data, judged here.

The cell's outputs are the verdict only: nothing when it passes, one error output with the check's
message when it fails. What the test printed and what the student's code printed while it was called
are dropped, so that no hidden test can be read back from the feedback.

A test that needs live objects (environments, an agent and its optimizer) has them built in the kernel by a
harness of ``rl_course.probes`` (``checks.call_through``), which sends back what happened as data. A test
cell tagged ``judged-in-kernel`` still runs in the kernel (none of the course's does). A cell tagged ``demo``
only demonstrates (a sweep, a training run for a figure): grading does not run it, and its output says so.
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import math
import random
import sys
import time
import types
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import numpy as np
from traitlets import Unicode
from traitlets.config import LoggingConfigurable

from rl_course import wire
from rl_course.calls import MIME

FIXTURE = "fixture"
IN_KERNEL = "judged-in-kernel"
DEMO = "demo"
NOT_RUN = "not run when graded: this cell only demonstrates (run it in JupyterLab to see it)\n"
MESSAGE_LIMIT = 2000  # characters of a message that comes from the kernel


class RaisedInKernel(Exception):
    """The student's function raised ``ename`` with ``message`` in the kernel."""

    def __init__(self, ename: str, message: str):
        super().__init__(message)
        self.ename = ename if ename.isidentifier() else "Exception"


class KernelTimeout(Exception):
    """The kernel did not answer before the cell's time was up (its code was interrupted)."""


@dataclass
class Plan:
    """What the source notebook says about judging: the fixture cells' code, the test cells' code by
    grade_id (those tagged ``judged-in-kernel`` apart, in ``in_kernel``), the functions the answer cells
    define, and the demonstration cells (tagged ``demo``), which grading does not run."""

    fixtures: list[tuple[str, str]] = field(default_factory=list)
    tests: dict[str, str] = field(default_factory=dict)
    in_kernel: list[str] = field(default_factory=list)
    functions: list[str] = field(default_factory=list)
    demos: set[str] = field(default_factory=set)

    @property
    def all_judged_outside(self) -> bool:
        """Whether every test cell is judged here: the kernel then needs no reference answer at all."""
        return bool(self.tests) and not self.in_kernel

    @classmethod
    def of(cls, source: nbformat.NotebookNode) -> Plan:
        plan = cls()
        for index, cell in enumerate(source.cells):
            if cell.cell_type != "code":
                continue
            nbgrader = cell.metadata.get("nbgrader", {})
            tags = cell.metadata.get("tags", [])
            name = nbgrader.get("grade_id", f"cell {index + 1}")
            if nbgrader.get("grade") and IN_KERNEL in tags:
                plan.in_kernel.append(name)
            elif nbgrader.get("grade"):
                plan.tests[name] = cell.source
            elif DEMO in tags:
                plan.demos.add(name)
            elif FIXTURE in tags:
                plan.fixtures.append((name, cell.source))
            elif nbgrader.get("solution"):
                plan.functions += [node.name for node in ast.parse(cell.source).body if isinstance(node, ast.FunctionDef)]
        return plan


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
            raise AssertionError(f"{self.name} returned something the tests cannot read: {_bounded(reply['refused'])}")
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
        return None if problem is None else _bounded(problem)

    def _ask(self, request: dict) -> dict:
        reply = self._request(request)
        if "missing" in reply:
            raise NameError(f"name '{self.name}' is not defined")
        if "raised" in reply:
            raise RaisedInKernel(_bounded(reply["raised"]), _bounded(reply.get("message", "")))
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


def _bounded(text) -> str:
    """A message from the kernel: a string, control characters replaced, at most ``MESSAGE_LIMIT`` characters."""
    text = "".join(c if c.isprintable() or c == "\n" else "?" for c in str(text)[:MESSAGE_LIMIT])
    return text


class Judge(LoggingConfigurable):
    """Mixed into the Execute preprocessor that autograde runs: judges the test cells of the source notebook
    in this process (the module's docstring) and sends every other cell to the kernel."""

    source_directory = Unicode("", help="The folder of the source notebooks, <assignment>/<notebook>.ipynb; "
                                        "empty: every cell runs in the kernel.").tag(config=True)
    _replies: list | None = None  # while ask_kernel waits: the replies of type MIME, as the kernel's messages carried them

    def preprocess(self, nb, resources=None, km=None):
        self.plan = self._plan(resources or {})
        self.namespace = None
        rng = _global_rng_state()
        try:
            return super().preprocess(nb, resources, km)
        finally:
            _set_global_rng_state(rng)

    def _plan(self, resources: dict) -> Plan:
        info = resources.get("nbgrader", {})
        if not self.source_directory or "assignment" not in info:
            return Plan()
        path = Path(self.source_directory) / info["assignment"] / f"{info['notebook']}.ipynb"
        return Plan.of(nbformat.read(path, as_version=4)) if path.is_file() else Plan()

    def preprocess_cell(self, cell, resources, index):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.cell_type == "code" and grade_id in self.plan.demos and not cell.metadata.get("nbgrader", {}).get("grade"):
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=NOT_RUN)]
            cell.execution_count = None
            return cell, resources
        judged = cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("grade") and grade_id in self.plan.tests
        if not judged or self.died_in is not None:
            return super().preprocess_cell(cell, resources, index)
        self._index = index
        self._deadline = time.monotonic() + self.timeout if self.timeout else math.inf
        cell.outputs = self.judge(grade_id)
        cell.execution_count = None
        return cell, resources

    def judge(self, grade_id: str) -> list:
        """The outputs of the test cell ``grade_id``: none when it passes, its verdict as one error output."""
        from nbclient.exceptions import DeadKernelError

        try:
            if self.namespace is None:
                self.namespace = self._fixtures()
            code = compile(self.plan.tests[grade_id], f"<test cell {grade_id}>", "exec")
            with _silenced():
                exec(code, dict(self.namespace))  # noqa: S102  (the instructor's test, from the source notebook)
        except DeadKernelError:
            self.died_in = self._index
            return [_error("KernelDied", "the kernel died while this cell ran (os._exit, a killed process, a crash, or too much memory)")]
        except KernelTimeout as error:
            return [_error("CellTimeoutError", str(error))]
        except RaisedInKernel as error:
            return [_error(error.ename, str(error))]
        except wire.WireError as error:
            return [_error("AssertionError", f"the answer could not be read: {error}")]
        except Exception as error:  # noqa: BLE001  (a failed check, or a test that failed on what the answer gave)
            return [_error(type(error).__name__, _bounded(error))]
        return []

    def _fixtures(self) -> dict:
        """The namespace the test cells run in: the fixture cells run here, then the student's functions."""
        namespace = {"__name__": "__judge__"}
        for name, source in self.plan.fixtures:
            with _silenced():
                exec(compile(source, f"<fixture cell {name}>", "exec"), namespace)  # noqa: S102  (from the source notebook)
        for name in self.plan.functions:
            namespace[name] = KernelFunction(name, self.ask_kernel)
        return namespace

    def ask_kernel(self, request: dict) -> dict:
        """Send ``request`` to ``rl_course.calls.serve`` in the kernel and give back its reply."""
        line = f'__import__("rl_course.calls", fromlist=["serve"]).serve(__import__("json").loads({json.dumps(request)!r}))'
        call = nbformat.v4.new_code_cell(line)
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise KernelTimeout("ran past the time limit for one cell and was stopped (an endless loop?)")
        timeout = self.timeout
        self.timeout = None if math.isinf(left) else max(1, math.ceil(left))  # the test cell's time, calls together
        test_cell = self.nb.cells[self._index]
        replies = self._replies = []
        try:
            self.execute_cell(call, self._index, store_history=False)
        finally:
            self.timeout = timeout
            self._replies = None
            self.nb.cells[self._index] = test_cell  # nbclient puts the cell it ran in the notebook at that index
        if len(replies) > 1:  # serve answers once: another came from a hook, a thread or the student's own display
            raise AssertionError(f"the kernel answered {len(replies)} times instead of once (a reply forged by the notebook's code?)")
        if replies and isinstance(replies[0], dict):
            return replies[0]  # plain dicts and lists, as the kernel's message carried them
        for output in call.outputs:
            if output.output_type == "error" and output.ename in ("KeyboardInterrupt", "CellTimeoutError"):
                raise KernelTimeout("ran past the time limit for one cell and was stopped (an endless loop?)")
        raise AssertionError("the kernel gave no answer (its display or its code was changed?)")

    def output(self, outs, msg, display_id, cell_index):
        """nbclient's handling of an output message, except that a reply of ``rl_course.calls.serve`` is kept as
        the message's data instead of becoming a notebook output, which nbformat would convert and validate
        number by number."""
        data = msg["content"].get("data") if msg["msg_type"] == "display_data" else None
        if self._replies is not None and isinstance(data, dict) and MIME in data:
            self._replies.append(data[MIME])
            return None
        return super().output(outs, msg, display_id, cell_index)


def _error(ename: str, evalue: str):
    return nbformat.v4.new_output("error", ename=ename, evalue=evalue, traceback=[f"{ename}: {evalue}"])


@contextlib.contextmanager
def _silenced():
    """What the tests print is not shown: neither on the grader's terminal nor in the feedback."""
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        yield


def _global_rng_state():
    torch = sys.modules.get("torch")
    return random.getstate(), np.random.get_state(), torch.get_rng_state() if torch is not None else None


def _set_global_rng_state(state) -> None:
    python, numpy, torch_state = state
    random.setstate(python)
    np.random.set_state(numpy)
    if torch_state is not None:
        sys.modules["torch"].set_rng_state(torch_state)
