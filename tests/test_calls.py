"""rl_course.calls: the kernel's answers to the grader's requests, on plain data."""

import sys

import numpy as np
import torch

from rl_course import calls, tabular, wire


def request(kind, name, *args, **kwargs):
    return {kind: name, "args": wire.encode(list(args)), "kwargs": wire.encode(kwargs)}


def scale_in_place(V, factor=2.0):
    V *= factor
    return float(V.sum())


def test_a_call_gives_the_result_and_the_arguments_as_the_call_left_them():
    reply = calls.answer(request("call", "f", np.ones(3), factor=3.0), {"f": scale_in_place})
    assert wire.decode(reply["result"]) == 9.0
    np.testing.assert_array_equal(wire.decode(reply["args"])[0], [3.0, 3.0, 3.0])
    assert wire.decode(reply["kwargs"]) == {"factor": 3.0}


def test_a_name_the_notebook_lacks():
    assert calls.answer(request("call", "td_error"), {}) == {"missing": "td_error"}


def test_what_the_function_raises_even_system_exit():
    def exits():
        sys.exit(3)

    def fails(x):
        return x[10]

    assert calls.answer(request("call", "f"), {"f": exits}) == {"raised": "SystemExit", "message": "3"}
    reply = calls.answer(request("call", "f", [1]), {"f": fails})
    assert reply["raised"] == "IndexError" and "out of range" in reply["message"]


def test_a_result_that_is_not_plain_data_is_refused_without_being_touched():
    class Lying:
        def __array__(self, *args, **kwargs):
            raise RuntimeError("the grader must never call this")

    reply = calls.answer(request("call", "f"), {"f": lambda: Lying()})
    assert "refused" in reply and "Lying cannot be sent" in reply["refused"]


def test_vjp_backpropagates_through_the_students_function():
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    y = torch.tensor([3.0, 4.0], requires_grad=True)
    reply = calls.answer({"vjp": "f", "args": wire.encode([x, torch.ones(2)]), "kwargs": wire.encode({"y": y}),
                          "grad_outputs": wire.encode([torch.tensor(2.0)])},
                         {"f": lambda x, c, y: (x * y * c).sum()})
    gx, gy = wire.decode(reply["grads"])
    torch.testing.assert_close(gx, 2 * torch.tensor([3.0, 4.0]))
    torch.testing.assert_close(gy, 2 * torch.tensor([1.0, 2.0]))


def test_vjp_of_an_input_the_result_does_not_use_is_zero():
    x = torch.tensor([1.0], requires_grad=True)
    reply = calls.answer({"vjp": "f", "args": wire.encode([x]), "kwargs": wire.encode({}),
                          "grad_outputs": wire.encode([torch.tensor(1.0)])}, {"f": lambda x: torch.tensor(5.0)})
    torch.testing.assert_close(wire.decode(reply["grads"])[0], torch.zeros(1))


def test_own_work_in_the_kernel():
    def unwritten(V):
        raise NotImplementedError()

    def calls_the_reference(V, s, r, s_next, terminated, gamma=1.0):
        return tabular.td_error(V, s, r, s_next, terminated, gamma)

    def own(V):
        return float(V[0])

    namespace = {"a": unwritten, "b": calls_the_reference, "c": own}
    assert "not written yet" in calls.answer({"own_work": "a"}, namespace)["problem"]
    assert "reference implementation rl_course.tabular.td_error" in calls.answer({"own_work": "b"}, namespace)["problem"]
    assert calls.answer({"own_work": "c"}, namespace)["problem"] is None
    assert calls.answer({"own_work": "b", "allow": ["rl_course.tabular.td_error"]}, namespace)["problem"] is None


def test_a_call_through_a_probe_runs_the_harness_on_the_students_function():
    from rl_course import probes, rollouts

    seen = []

    def collect_rollout(envs, observations, policy, value, n_steps):
        seen.append((envs.num_envs, n_steps))
        return rollouts.collect_rollout(envs, observations, policy, value, n_steps)

    req = request("call", "collect_rollout", 2, 5, 0, "left", max_episode_steps=3)
    reply = calls.answer({**req, "through": "rl_course.probes.rollout_of"}, {"collect_rollout": collect_rollout})
    got = wire.decode(reply["result"])
    expected = probes.rollout_of(rollouts.collect_rollout, 2, 5, 0, "left", max_episode_steps=3)
    assert seen == [(2, 5)] and isinstance(got, rollouts.Rollout)
    np.testing.assert_array_equal(got.truncated, expected.truncated)
    assert got.truncated[2].all()  # the time limit of 3 steps cut both episodes at t = 2
    np.testing.assert_allclose(got.next_values, expected.next_values)


def test_only_a_probe_is_called_by_name():
    for dotted in ("os.system", "rl_course.rollouts.collect_rollout", "rl_course.probes._private"):
        reply = calls.answer({**request("call", "f", 1), "through": dotted}, {"f": lambda x: x})
        assert reply["raised"] == "ValueError" and "not a probe of rl_course.probes" in reply["message"], reply
