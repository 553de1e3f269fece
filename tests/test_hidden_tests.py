"""The hidden tests judged by the wrong answers they reject: the differential checks (``checks.expect_agrees`` over
``rl_course.domains``) and the mistakes of kinds nobody wrote a worked test for (tests/mistakes/domain.py), decided
in this process by the source notebooks' own test cells (tests/verdicts.py)."""

import ast

import numpy as np
import pytest
import torch
from mistakes.domain import LEFT_OUT, domain_mistakes
from verdicts import NOTEBOOKS, answer_source, source_notebook, verdicts

from rl_course import checks, domains, probes, tabular

DOMAIN_MISTAKES = domain_mistakes()
# Graded functions without a differential check, and why: they act on live objects or draw at random, and their own
# tests (harnesses of rl_course.probes, statistics of many draws) judge them.
NOT_DIFFERENTIAL = {"collect_rollout": "runs environments", "ppo_update": "updates an agent", "train_ppo": "trains an agent",
                    "sample_actions": "draws at random", "orthogonal_matrix": "draws at random",
                    "clip_grad_norm_": "changes the gradients it is given, as its name says"}


@pytest.mark.parametrize("assignment", sorted(NOTEBOOKS))
def test_the_solution_passes_every_test_cell_in_process(assignment):
    left_out = LEFT_OUT if assignment == "04_ppo" else set()
    found = verdicts(assignment, only=_test_cells(assignment) - left_out)
    assert found and not any(found.values()), {k: v for k, v in found.items() if v}


@pytest.mark.parametrize("name", sorted(DOMAIN_MISTAKES))
def test_a_mistake_outside_the_worked_cases_loses_exactly_its_points(name):
    mistake = DOMAIN_MISTAKES[name]
    nb = source_notebook(mistake.assignment)
    found = verdicts(mistake.assignment, {mistake.cell: answer_source(mistake, nb)}, only=_test_cells(mistake.assignment) - LEFT_OUT)
    failed = {k for k, v in found.items() if v}
    assert failed == mistake.fails, f"{name} fails {sorted(failed)}, expected {sorted(mistake.fails)}: {found}"
    assert any(mistake.says in v for v in found.values() if v), f"no message says {mistake.says!r}: {found}"


@pytest.mark.parametrize("assignment", sorted(NOTEBOOKS))
def test_every_graded_function_is_checked_over_its_domain(assignment):
    nb = source_notebook(assignment)
    functions = [node.name for c in nb.cells if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")
                 for node in ast.parse(c.source).body if isinstance(node, ast.FunctionDef)]
    checked = {call.args[0].id for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")
               for call in ast.walk(ast.parse(c.source)) if isinstance(call, ast.Call)
               and ast.unparse(call.func) == "checks.expect_agrees"}
    assert set(functions) - set(NOT_DIFFERENTIAL) == checked, f"checked {sorted(checked)} of {functions}"


def _test_cells(assignment) -> set:
    return {c.metadata["nbgrader"]["grade_id"] for c in source_notebook(assignment).cells if c.metadata.get("nbgrader", {}).get("grade")}


# ---------------------------------------------------------------- checks.expect_agrees on its own


def reference_sum(x, scale=1.0):
    """A reference: scale · cumsum(x) as floats."""
    return scale * np.cumsum(np.asarray(x, dtype=float))


CASES = [domains.Case((np.array([1, 2, 3]),), {"scale": 0.5}, "three ints"),
         domains.Case(([1.5, -2.0],), {}, "a list"),
         domains.Case((np.array([0.25, 4.0, 1.0]),), {"scale": 2.0}, "three floats")]


def test_the_reference_itself_agrees():
    checks.expect_agrees(reference_sum, reference_sum, CASES, "the sums")


@pytest.mark.parametrize(("answer", "says"), [
    (lambda x, scale=1.0: np.cumsum(np.asarray(x, dtype=float)), "the sums, three ints at index=0: expected 0.5, got 1"),
    (lambda x, scale=1.0: np.cumsum(np.asarray(x)).astype(int) * scale, "the sums, a list at index=0: expected 1.5, got 1"),
    (lambda x, scale=1.0: np.cumsum(x, out=x if isinstance(x, np.ndarray) else None) * scale,
     "changed its argument x in place"),
    (lambda x, scale=1.0: scale * np.cumsum(np.asarray(x, dtype=float)) + 0 * np.random.random(), "drew from a global random generator"),
    (lambda x, scale=1.0: scale * np.cumsum([float(v) for v in x[::-1]])[::-1], "expected"),
    (lambda x, scale=1.0: 1 / 0, "raised ZeroDivisionError"),
])
def test_a_wrong_answer_is_named_with_its_case(answer, says):
    with pytest.raises(AssertionError) as failure:
        checks.expect_agrees(answer, reference_sum, CASES, "the sums")
    assert says in str(failure.value)


def test_a_result_of_integers_is_refused_where_the_reference_gives_floats():
    cases = [domains.Case((np.array([2, 4]),), {}, "two even ints")]
    with pytest.raises(AssertionError, match="the result holds integers, not floats"):
        checks.expect_agrees(lambda x: np.cumsum(x), reference_sum, cases, "the sums")


def test_state_carried_from_one_call_to_the_next_shows_when_the_first_case_comes_again():
    calls = []

    def remembers(x, scale=1.0):
        calls.append(1)
        return reference_sum(x, scale) + (len(calls) > len(CASES))  # right until the repeat
    with pytest.raises(AssertionError, match="three ints, called again after the others"):
        checks.expect_agrees(remembers, reference_sum, CASES, "the sums")


def test_a_gradient_that_differs_or_does_not_flow_is_named():
    cases = [domains.Case((torch.tensor([0.5, 2.0], requires_grad=True),), {}, "two numbers")]
    with pytest.raises(AssertionError, match="the gradient with respect to x"):
        checks.expect_agrees(lambda x: (x ** 2).detach() + x - x.detach(), lambda x: x ** 2, cases, "x²")
    with pytest.raises(AssertionError, match="no gradient flows from the result back to x"):
        checks.expect_agrees(lambda x: torch.tensor(x.detach().numpy() ** 2), lambda x: x ** 2, cases, "x²")


def test_each_reports_what_every_call_did():
    x = np.array([1.0, 2.0])
    got = probes.each(lambda v: v.sort() or np.random.random(), [[[x], {}], [[np.zeros(1)], {}]])
    assert [sorted(g) for g in got] == [["global_rng", "result"]] * 2 and all(g["global_rng"] for g in got)
    assert probes.each(lambda v: 1 / 0, [[[1], {}]])[0]["raised"].startswith("ZeroDivisionError")


@pytest.mark.parametrize("domain", [domains.td_error_cases, domains.rollout_cases, domains.batch_cases, domains.kl_coef_cases,
                                    domains.gaussian_cases, domains.running_stats_cases])
def test_domains_are_seeded_and_varied(domain):
    cases = domain(seed=3)
    assert [c.label for c in cases] == [c.label for c in domain(seed=3)] != [c.label for c in domain(seed=4)]
    assert len({c.label for c in cases}) > len(cases) // 2


def test_the_episode_domain_ends_where_the_table_ends_or_anywhere():
    ends = domains.episode_cases(seed=1)
    assert all(c.args[1].states[-1] in (0, len(c.args[0]) - 1) and 0 not in c.args[1].states[:-1] for c in ends)
    anywhere = domains.episode_cases(seed=1, terminal="anywhere")
    assert any(0 < c.args[1].states[-1] < len(c.args[0]) - 1 for c in anywhere)
    for c in ends + anywhere:  # the reference takes every case, V(s_T) = 0
        assert np.asarray(c.args[0])[c.args[1].states[-1]] == 0
        tabular.td_lambda_episode(*c.args, **c.kwargs)
