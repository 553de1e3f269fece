"""The verdicts of a source notebook's test cells (hidden tests included) on given answers, in this process.

What the grader decides for each test cell, without a kernel: the notebook's setup and answer cells run here
(with an answer cell replaced where asked), then each test cell runs in a copy of that namespace, as
``rl_course.course.judge`` runs it beside a kernel. Fast enough to try many wrong answers against the hidden
tests (tests/test_hidden_tests.py); grading itself goes through ``rl-course grade`` (tests/test_course.py).
"""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path

import matplotlib
import nbformat
from nbgrader.preprocessors import ClearHiddenTests

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = {"01_td_lambda": "td_lambda.ipynb", "02_forward_backward": "forward_backward.ipynb", "03_gae": "gae.ipynb",
             "04_ppo": "ppo.ipynb", "05_continuous": "continuous.ipynb"}


def source_notebook(assignment: str, hidden_tests: bool = True) -> nbformat.NotebookNode:
    """The source notebook of ``assignment``; without its hidden tests (as Validate runs the release) unless ``hidden_tests``."""
    nb = nbformat.read(ROOT / "solutions" / assignment / NOTEBOOKS[assignment], as_version=4)
    return nb if hidden_tests else ClearHiddenTests().preprocess(nb, {})[0]


def answer_source(mistake, nb: nbformat.NotebookNode) -> str:
    """The answer cell of ``mistake`` (a ``tests.mistakes.Mistake``) with the mistake in it."""
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == mistake.cell)
    if mistake.source is not None:
        return mistake.source
    old, new = mistake.replace
    assert old in cell.source, f"the solution of {mistake.cell} no longer contains {old!r}"
    return cell.source.replace(old, new)


def verdicts(assignment: str, answers: dict[str, str] | None = None, only: set[str] | None = None,
             hidden_tests: bool = True) -> dict[str, str | None]:
    """Per test cell (``only`` those, when given), None when it passes, else its failure as "Type: message";
    ``answers`` replaces the source of answer cells by grade_id; ``hidden_tests=False``: the visible part only."""
    matplotlib.use("Agg")
    answers = answers or {}
    namespace: dict = {"__name__": "__main__"}
    tests: dict[str, str] = {}
    for cell in source_notebook(assignment, hidden_tests).cells:
        nbgrader, tags = cell.metadata.get("nbgrader", {}), cell.metadata.get("tags", [])
        if cell.cell_type != "code" or "demo" in tags:
            continue
        grade_id = nbgrader.get("grade_id")
        if nbgrader.get("grade"):
            if only is None or grade_id in only:
                tests[grade_id] = cell.source
            continue
        with _quiet():
            exec(compile(answers.get(grade_id, cell.source), f"<{grade_id}>", "exec"), namespace)  # noqa: S102
    found = {}
    for grade_id, source in tests.items():
        try:
            with _quiet():
                exec(compile(source, f"<{grade_id}>", "exec"), dict(namespace))  # noqa: S102
        except Exception as error:  # noqa: BLE001  (the verdict of a failed test cell)
            found[grade_id] = f"{type(error).__name__}: {error}"
        else:
            found[grade_id] = None
    return found


@contextlib.contextmanager
def _quiet():
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # what a wrong answer warns of (a division by zero) is its verdict's business
        yield
