"""Typical mistakes of students, one module per assignment, each injected into the solution notebook
and graded through `rl-course grade` by tests/test_course.py; docs/mistakes.md is their catalog."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Mistake:
    """A wrong answer: the answer cell ``cell`` with ``replace = (old, new)`` applied to the solution
    (or replaced by ``source``), the test cells it must fail, and a phrase the feedback must contain.
    ``may_also_fail``: test cells whose verdict depends on a training run that the mistake only
    weakens (the hidden CartPole run, an update's improvement): either verdict is right, and costs exactly its points."""

    cell: str
    what: str
    fails: frozenset
    says: str
    replace: tuple[str, str] | None = None
    source: str | None = None
    may_also_fail: frozenset = frozenset()
    assignment: str = field(default="", compare=False)


def mistakes() -> dict[str, Mistake]:
    """Every mistake of every assignment, by name."""
    from . import continuous, forward_backward, gae, ppo, td_lambda

    found = {}
    for module in (td_lambda, forward_backward, gae, ppo, continuous):
        for name, mistake in module.MISTAKES.items():
            assert name not in found, f"two mistakes are called {name}"
            found[name] = Mistake(**{**mistake.__dict__, "assignment": module.ASSIGNMENT})
    return found


def mistake(cell: str, what: str, fails, says: str, replace: tuple[str, str] | None = None, source: str | None = None,
            may_also_fail=()) -> Mistake:
    return Mistake(cell, what, frozenset(fails), says, replace, source, frozenset(may_also_fail))


def catalog() -> str:
    """docs/mistakes.md: the table of every mistake, by assignment and graded function."""
    lines = ["# Typical mistakes and what they cost", "",
             "Each row is a wrong answer that `make test` injects into the solution notebook (`tests/mistakes/`,",
             "`tests/test_course.py`): the points it loses are those of the test cells listed, and the feedback line of",
             "one of them contains the phrase quoted. Every mistake of 04 is graded through `rl-course grade`; of the",
             "others, the first of each graded function is, and all are decided by the notebook's own test cells in",
             "the test process (`tests/verdicts.py`).",
             "Regenerate this page with `python -m tests.mistakes > docs/mistakes.md`.", ""]
    by_assignment: dict = {}
    for name, m in mistakes().items():
        by_assignment.setdefault(m.assignment, []).append((name, m))
    for assignment, rows in by_assignment.items():
        lines += [f"## {assignment}", "", "| graded function | mistake | test cells that fail | the feedback says |", "|---|---|---|---|"]
        for name, m in rows:  # in the order of the notebook
            fails = ", ".join(f"`{c}`" for c in sorted(m.fails))
            if m.may_also_fail:
                fails += "; perhaps " + ", ".join(f"`{c}`" for c in sorted(m.may_also_fail))
            lines.append(f"| `{m.cell}` | {m.what} (`{name}`) | {fails} | “{m.says}” |")
        lines.append("")
    from .domain import domain_mistakes

    lines += ["## Beyond the worked cases", "",
              "Wrong answers of kinds no worked test was written against (integer and list inputs, inputs changed in place,",
              "identity for equality, cancellation, axes, both flags on one step, the edge of a band). The differential",
              "checks (`checks.expect_agrees` over `rl_course.domains`) catch them; `tests/test_hidden_tests.py` decides",
              "them with the notebooks' own test cells.", "",
              "| assignment | graded function | mistake | test cells that fail | the feedback says |", "|---|---|---|---|---|"]
    for name, m in domain_mistakes().items():
        fails = ", ".join(f"`{c}`" for c in sorted(m.fails))
        lines.append(f"| {m.assignment} | `{m.cell}` | {m.what} (`{name}`) | {fails} | “{m.says}” |")
    lines.append("")
    return "\n".join(lines)
