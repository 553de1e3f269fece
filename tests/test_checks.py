import types
import warnings

import numpy as np
import pytest

from rl_course import checks, tabular
from rl_course import tabular as tab_alias


def test_expect_close_names_the_first_wrong_element():
    with pytest.raises(AssertionError) as info:
        checks.expect_close([0, 0.25, 0.5], [0, 0.25, 0.75], "V after the episode", index_names=("state",), hint="check the trace")
    assert str(info.value) == "V after the episode at state=2: expected 0.75, got 0.5 (check the trace)"


def test_expect_close_reports_counts_and_multi_axis_positions():
    got, expected = np.zeros((3, 2)), np.zeros((3, 2))
    got[1, 0], got[2, 1] = 1.0, 2.0
    with pytest.raises(AssertionError, match=r"A at t=1, env=0: expected 0, got 1; 1 more element\(s\) differ"):
        checks.expect_close(got, expected, "A", index_names=("t", "env"))


@pytest.mark.parametrize(
    "got, message",
    [
        (None, "got None; did you forget to return"),
        (np.zeros(4), r"expected shape \(3,\), got shape \(4,\)"),
        ("abc", "expected numbers, got str"),
        (np.array([0.0, np.nan, 0.0]), "at index=1: expected 0, got nan"),
    ],
)
def test_expect_close_explains_wrong_kinds_of_answers(got, message):
    with pytest.raises(AssertionError, match=message):
        checks.expect_close(got, np.zeros(3), "x")


def test_expect_close_passes_within_tolerance():
    checks.expect_close(0.1 + 0.2, 0.3, "sum")


def test_expect_unchanged():
    checks.expect_unchanged(np.ones(3), np.ones(3), "V")
    with pytest.raises(AssertionError, match="V was modified in place"):
        checks.expect_unchanged(np.ones(3), np.zeros(3), "V")


def _student(source: str, name: str, extra_globals=None):
    """Define a function the way a notebook cell does: in a fresh __main__-like namespace."""
    namespace = {"__name__": "__main__", "np": np, **(extra_globals or {})}
    exec(source, namespace)
    return namespace[name]


def test_own_work_passes_an_honest_answer_that_uses_its_own_helpers():
    namespace = {"__name__": "__main__", "np": np, "tabular": tabular}
    exec("def td_error(V, s, r, s2, t, gamma=1.0):\n    return r + (0 if t else gamma * V[s2]) - V[s]\n", namespace)
    exec("def f(V, ep):\n    return [td_error(V, 1, 0, 2, False)] + [tabular.Episode]\n", namespace)
    checks.assert_own_work(namespace["f"])
    # a module imported inside the function, and a local of a reference's name, on every Python's instructions
    exec("def g(V):\n    from rl_course import tabular as t\n    rms_error = lambda a, b: 0.0\n"
         "    return V, t.Episode, rms_error(V, V), [t.Episode for v in V]\n", namespace)
    checks.assert_own_work(namespace["g"])


@pytest.mark.parametrize(
    "source, extra",
    [
        ("def f(V):\n    return tabular.td_lambda_episode(V)\n", {"tabular": tabular}),
        ("def f(V):\n    return rl_course.tabular.td_error(V)\n", {"rl_course": __import__("rl_course")}),
        ("def f(V):\n    return ref(V)\n", {"ref": tabular.td_lambda_episode}),
        ("def helper(V):\n    return t.rms_error(V, V)\ndef f(V):\n    return helper(V)\n", {"t": tab_alias}),
        ("def f(V):\n    g = lambda x: tabular.td_error(x)\n    return g(V)\n", {"tabular": tabular}),
        # imports inside the function, reached through locals (Python 3.13 and later load two locals in one instruction)
        ("def f(V):\n    import rl_course.tabular as tb\n    return V, tb.td_error(V)\n", {}),
        ("def f(V):\n    import rl_course.tabular\n    return rl_course.tabular.td_error(V)\n", {}),
        ("def f(V):\n    import rl_course\n    x = V\n    return [x, rl_course.tabular.rms_error(x, x)]\n", {}),
        ("def f(V):\n    from rl_course import tabular as t\n    return [t.td_error(v) for v in V]\n", {}),
    ],
)
def test_own_work_catches_calls_to_the_reference(source, extra):
    f = _student(source, "f", extra)
    with pytest.raises(AssertionError, match="uses the library's reference implementation rl_course.tabular"):
        checks.assert_own_work(f)


def test_own_work_catches_the_reference_itself_and_closures():
    with pytest.raises(AssertionError, match="td_lambda_episode"):
        checks.assert_own_work(tabular.td_lambda_episode)

    def outer():
        ref = tabular.rms_error
        return lambda V: ref(V, V)

    with pytest.raises(AssertionError, match="rms_error"):
        checks.assert_own_work(outer())


def test_reference_marks_only_what_students_write():
    assert checks.is_reference(tabular.td_error) and checks.is_reference(tabular.td_lambda_episode)
    assert not checks.is_reference(tabular.sample_episodes) and not checks.is_reference(types.SimpleNamespace)


def test_own_work_may_use_what_earlier_assignments_taught():
    f = _student("def f(V):\n    return tabular.td_error(V) + tabular.rms_error(V, V)\n", "f", {"tabular": tabular})
    with pytest.raises(AssertionError, match="rms_error"):
        checks.assert_own_work(f, allow=[tabular.td_error])
    checks.assert_own_work(f, allow=[tabular.td_error, tabular.rms_error])


def test_warnings_are_shown_on_stdout_where_nbgrader_does_not_take_points(capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        checks.warnings_to_stdout()
        warnings.warn("this tensor requires grad", UserWarning, stacklevel=1)
    out, err = capsys.readouterr()
    assert "UserWarning: this tensor requires grad" in out
    assert err == ""


@pytest.mark.parametrize(
    "source, reference",
    [
        ("def f(envs, obs, pi, v):\n    return rollouts.collect_rollout(envs, obs, pi, v, 8)\n", "rl_course.rollouts.collect_rollout"),
        ("def f(*args):\n    return ppo.trainer.update(*args)\n", "rl_course.ppo.trainer.update"),
        ("def f(config):\n    return ppo.train(config)\n", "rl_course.ppo.trainer.train"),
    ],
)
def test_later_assignments_cannot_hand_in_the_library_trainer(source, reference):
    from rl_course import ppo, rollouts

    f = _student(source, "f", {"rollouts": rollouts, "ppo": ppo})
    with pytest.raises(AssertionError, match=f"reference implementation {reference}"):
        checks.assert_own_work(f)


def _defined(source: str, name: str):
    namespace = {"np": np}
    exec(source, namespace)
    return namespace[name]


STUB = 'def f(V, s):\n    """Docstring."""\n    # YOUR CODE HERE\n    raise NotImplementedError()\n'


@pytest.mark.parametrize("source, unwritten", [
    (STUB, True),
    ('def f(V, s):\n    x = V[s]\n    raise NotImplementedError()\n', True),  # begun, the stub still at its end
    ('def f(V, s):\n    return V[s]\n', False),
    ('def f(V, s):\n    if s < 0:\n        raise NotImplementedError("negative states")\n    return V[s]\n', False),
    ('def f(V, s):\n    raise ValueError("no")\n', False),  # written, wrongly: its own error shows
    ('def f(V, s):\n    yield V[s]\n', False),
])
def test_an_unwritten_function_is_told_apart_from_a_written_one(source, unwritten):
    assert checks.is_unwritten(_defined(source, "f")) is unwritten


def test_own_work_names_the_function_still_to_write():
    with pytest.raises(AssertionError, match=r"^td_error is not written yet: write its code in place of `raise NotImplementedError\(\)`"):
        checks.assert_own_work(_defined(STUB.replace("def f", "def td_error"), "td_error"))


@pytest.mark.parametrize("got, shape, message", [
    (None, None, "x: got None; did you forget to return"),
    ("abc", None, "x: expected numbers, got str"),
    (np.zeros(4), (3,), r"x: expected shape \(3,\), got shape \(4,\)"),
    (np.array([0.0, np.inf]), (2,), "x at t=1: expected a finite number, got inf"),
    (np.array([[0.0], [np.nan]]), None, "x at t=1, env=0: expected a finite number, got nan"),
])
def test_expect_finite_says_what_is_wrong_without_giving_the_answer(got, shape, message):
    with pytest.raises(AssertionError, match=message):
        checks.expect_finite(got, "x", shape=shape, index_names=("t", "env"))


def test_expect_finite_passes_numbers_of_the_shape_asked_tensors_with_gradients_included():
    torch = pytest.importorskip("torch")
    checks.expect_finite(0.5, "x", shape=())
    checks.expect_finite([1.0, 2.0], "x", shape=(2,))
    checks.expect_finite(torch.ones(2, 3, requires_grad=True) * 2, "x", shape=(2, 3))
    with pytest.raises(AssertionError, match=r"expected shape \(\), got shape \(1,\)"):
        checks.expect_finite(torch.ones(1), "x", shape=())


def test_the_library_carries_the_reference_mark_without_the_checks():
    """Importing the library in a Jupyter kernel leaves ``warnings.showwarning`` alone: only the checks change it."""
    import subprocess
    import sys

    code = (
        "import sys, warnings, ipykernel; shown = warnings.showwarning\n"
        "import rl_course.advantages, rl_course.tabular, rl_course.rollouts, rl_course.ppo\n"
        "assert 'rl_course.checks' not in sys.modules, 'the library imported the checks'\n"
        "assert warnings.showwarning is shown, 'importing the library replaced warnings.showwarning'\n"
        "import rl_course.checks\n"
        "assert warnings.showwarning is not shown, 'the checks no longer show warnings on stdout in a kernel'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
