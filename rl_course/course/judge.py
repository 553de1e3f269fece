"""Test cells decided in the grader's process, where the student's code cannot reach them.

A submission's kernel runs the notebook's other cells: the setup, the student's answers, the
demonstrations. At each test cell the grader does not send the cell to the kernel. It runs the cell
itself, as the source notebook in ``solutions/`` has it (hidden tests included), in a namespace of its
own that the notebook's *fixture* cells (tagged ``fixture``: imports, data, helpers) filled, with the
instructor's library. There, each function that the student's answer cells define is a
``KernelFunction`` (``rl_course.course.kernel_function``): calling it sends the arguments to the kernel as
plain data (``rl_course.wire``), the kernel calls the student's function (``rl_course.calls``) and sends back
the result, the arguments as the call left them, or the exception it raised. The checks, the expected values and the hidden test text
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
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import numpy as np
from traitlets import Unicode
from traitlets.config import LoggingConfigurable

from rl_course import wire
from rl_course.calls import MIME
from rl_course.course.kernel_function import KernelFunction, KernelTimeout, RaisedInKernel, bounded

FIXTURE = "fixture"
IN_KERNEL = "judged-in-kernel"
DEMO = "demo"
NOT_RUN = "not run when graded: this cell only demonstrates (run it in JupyterLab to see it)\n"


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
            return [_error(type(error).__name__, bounded(error))]
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
