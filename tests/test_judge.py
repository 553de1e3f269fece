"""rl_course.course.judge: the student's functions as the grader's process sees them, over plain data.

The kernel is stood in for by ``calls.answer`` on a namespace, behind a JSON round trip; grading through a
real kernel is tested by tests/test_course.py and tests/test_hostile.py."""

import json

import nbformat
import numpy as np
import pytest
import torch

from rl_course import calls, checks, tabular
from rl_course.course import judge, kernel_function


def in_kernel(**functions):
    """The notebook's ``functions`` as ``KernelFunction``s, answered as a kernel would answer them."""
    def ask(request):
        return json.loads(json.dumps(calls.answer(json.loads(json.dumps(request)), functions)))
    return {name: kernel_function.KernelFunction(name, ask) for name in functions}


def test_results_and_changes_in_place_come_back():
    def doubles_in_place(V, lst, d):
        V *= 2
        lst.append(5)
        d["new"] = 1
        return V.sum()

    f = in_kernel(f=doubles_in_place)["f"]
    V, lst, d = np.ones(3), [1], {"old": 0}
    assert f(V, lst, d) == 6.0
    np.testing.assert_array_equal(V, [2.0, 2.0, 2.0])
    assert lst == [1, 5] and d == {"old": 0, "new": 1}
    with pytest.raises(AssertionError, match="modified in place"):
        checks.expect_unchanged(np.ones(3), V, "the input table V")


def test_gradients_flow_through_the_kernel():
    def surrogate(ratio, adv, eps=0.2):
        return -torch.min(ratio * adv, ratio.clamp(1 - eps, 1 + eps) * adv).mean()

    f = in_kernel(surrogate=surrogate)["surrogate"]
    ratio = torch.tensor([0.5, 1.0, 1.5], requires_grad=True)
    adv = torch.tensor([1.0, -1.0, 1.0])
    f(ratio, adv, eps=0.2).backward()
    local = ratio.detach().clone().requires_grad_(True)
    surrogate(local, adv, eps=0.2).backward()
    torch.testing.assert_close(ratio.grad, local.grad)
    assert not ratio.grad.eq(0).all()


def test_grads_written_in_place_come_back():
    def clip(params, max_norm):
        total = torch.sqrt(sum((p.grad ** 2).sum() for p in params))
        for p in params:
            p.grad.mul_(min(1.0, max_norm / float(total)))
        return total

    f = in_kernel(clip=clip)["clip"]
    p = torch.nn.Parameter(torch.zeros(2))
    p.grad = torch.tensor([3.0, 4.0])
    total = f([p], 1.0)
    assert float(total.detach()) == pytest.approx(5.0)
    torch.testing.assert_close(p.grad, torch.tensor([0.6, 0.8]))


def test_own_work_and_what_the_function_raised():
    def unwritten(V):
        raise NotImplementedError()

    def calls_the_reference(V, s, r, s_next, terminated, gamma=1.0):
        return getattr(tabular, "td_error")(V, s, r, s_next, terminated, gamma)  # noqa: B009

    functions = in_kernel(a=unwritten, b=calls_the_reference)
    with pytest.raises(AssertionError, match="not written yet"):
        checks.assert_own_work(functions["a"])
    with pytest.raises(kernel_function.RaisedInKernel) as raised:
        functions["a"](np.zeros(2))
    assert raised.value.ename == "NotImplementedError"
    with pytest.raises(NameError, match="name 'c' is not defined"):
        kernel_function.KernelFunction("c", functions["a"]._request)()


def test_the_plan_comes_from_the_source_notebook():
    def cell(source, tags=(), **nbgrader):
        c = nbformat.v4.new_code_cell(source)
        c.metadata["nbgrader"] = nbgrader
        if tags:
            c.metadata["tags"] = list(tags)
        return c

    nb = nbformat.v4.new_notebook(cells=[
        cell("import numpy as np", tags=["fixture"], grade_id="setup"),
        cell("x = 1", grade_id="demo"),
        cell("def f(x):\n    return x\n\ndef helper():\n    pass\n", grade_id="f", solution=True),
        cell("assert f(1) == 1", grade_id="test_f", grade=True, points=1),
        cell("assert live_object()", tags=["judged-in-kernel"], grade_id="test_g", grade=True, points=1),
    ])
    plan = judge.Plan.of(nb)
    assert plan.fixtures == [("setup", "import numpy as np")]
    assert plan.tests == {"test_f": "assert f(1) == 1"}
    assert plan.functions == ["f", "helper"]


def test_a_generator_advances_as_if_the_call_were_local():
    f = in_kernel(draw=lambda n, generator=None: torch.randn(n, generator=generator))["draw"]
    g, local = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    torch.testing.assert_close(f(2, generator=g), torch.randn(2, generator=local))
    torch.testing.assert_close(torch.randn(2, generator=g), torch.randn(2, generator=local))  # g moved on as local did


def test_a_result_that_is_not_a_tensor_from_arguments_that_require_grad():
    f = in_kernel(norm=lambda params: float(sum(p.detach().abs().sum() for p in params)))["norm"]
    assert f([torch.nn.Parameter(torch.tensor([1.0, -2.0]))]) == 3.0


def test_a_result_without_a_gradient_in_the_kernel_has_none_here():
    def through_numpy(x):
        return torch.as_tensor(x.detach().numpy() * 2), x * 3

    f = in_kernel(through_numpy=through_numpy)["through_numpy"]
    x = torch.tensor([1.0, 2.0], requires_grad=True)
    detached, connected = f(x)
    assert not detached.requires_grad and detached.grad_fn is None  # as a local call would leave it
    connected.sum().backward()
    torch.testing.assert_close(x.grad, torch.tensor([3.0, 3.0]))


def test_a_generator_argument_is_iterated_once_and_its_items_come_back_changed():
    def clip_in_place(params, max_norm):
        params = list(params)
        for p in params:
            p.grad.clamp_(-max_norm, max_norm)
        return len(params)

    f = in_kernel(clip=clip_in_place)["clip"]
    model = torch.nn.Linear(2, 1)
    for p in model.parameters():
        p.grad = torch.full_like(p, 5.0)
    assert f(model.parameters(), 1.0) == 2
    assert all(torch.equal(p.grad, torch.ones_like(p)) for p in model.parameters())


def test_a_second_reply_to_one_request_is_refused(monkeypatch):
    forged, real = {calls.MIME: {"problem": None}}, {calls.MIME: {"problem": "not written yet"}}
    grader = judge.Judge()
    grader.nb, grader._index, grader._deadline, grader.timeout = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell()]), 0, 1e18, 5

    def execute_cell(cell, index, store_history):  # the kernel's display messages, as nbclient hands them on
        for data in sent:
            grader.output(cell.outputs, {"msg_type": "display_data", "content": {"data": data}}, None, index)
    monkeypatch.setattr(grader, "execute_cell", execute_cell, raising=False)
    sent = [real]
    assert grader.ask_kernel({"own_work": "f"}) == {"problem": "not written yet"}
    sent = [forged, real]
    with pytest.raises(AssertionError, match="answered 2 times"):
        grader.ask_kernel({"own_work": "f"})
    sent = []
    with pytest.raises(AssertionError, match="gave no answer"):
        grader.ask_kernel({"own_work": "f"})


def _names(source: str) -> tuple[set, set]:
    """The names a cell binds anywhere (assignments, definitions, parameters, imports) and those it reads."""
    import ast

    bound, read = set(), set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.Name):
            (read if isinstance(node.ctx, ast.Load) else bound).add(node.id)
    return bound, read


@pytest.mark.parametrize("path", sorted(judge.Path(__file__).resolve().parents[1].glob("solutions/*/*.ipynb")), ids=lambda p: p.parent.name)
def test_grading_needs_no_name_that_only_a_demonstration_defines(path):
    cells = [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    demos = [c for c in cells if judge.DEMO in c.metadata.get("tags", [])]
    assert demos, f"{path.name} tags no demonstration cell"
    by_demos = set().union(*(_names(c.source)[0] for c in demos))
    others = [_names(c.source) for c in cells if c not in demos]
    bound = set().union(*(b for b, _ in others))
    needed = set().union(*(r for _, r in others))
    assert not (needed & by_demos) - bound, f"{path.name}: graded cells read names only a demonstration cell defines"
    plan = judge.Plan.of(nbformat.read(path, as_version=4))
    assert plan.demos == {c.metadata["nbgrader"]["grade_id"] for c in demos}
    assert not plan.demos & (set(plan.tests) | set(plan.in_kernel) | {name for name, _ in plan.fixtures})


PYPLOT = "import matplotlib.pyplot as plt"


@pytest.mark.parametrize("path", sorted(judge.Path(__file__).resolve().parents[1].glob("solutions/*/*.ipynb")), ids=lambda p: p.parent.name)
def test_only_the_demonstrations_that_plot_import_pyplot_each_for_itself(path):
    """A graded kernel runs no demonstration, so it never pays for pyplot's import; a student who runs one plotting
    cell alone still has plt."""
    for index, cell in enumerate(c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"):
        imports, plots = PYPLOT in cell.source.splitlines(), "plt" in _names(cell.source)[1]
        if judge.DEMO in cell.metadata.get("tags", []):
            assert imports == plots, f"{path.name}, code cell {index + 1}: a demonstration that plots imports pyplot itself"
        else:
            assert not imports and not plots, f"{path.name}, code cell {index + 1}: pyplot outside a demonstration"


def test_an_argument_the_call_left_unchanged_is_not_written_back_so_autograd_can_still_use_it():
    f = in_kernel(double=lambda x: 2 * x)["double"]
    w = torch.tensor([0.5, -1.0, 2.0], requires_grad=True)
    log_p = torch.log_softmax(w, -1)  # its backward needs its own output, unchanged since
    (f(log_p).sum() + log_p[0]).backward()
    expected = torch.autograd.grad((2 * torch.log_softmax(w, -1)).sum() + torch.log_softmax(w, -1)[0], w)[0]
    torch.testing.assert_close(w.grad, expected)


def test_a_harness_of_the_probes_runs_on_the_students_function_in_the_kernel():
    from rl_course import probes, rollouts

    collect = in_kernel(collect_rollout=rollouts.collect_rollout)["collect_rollout"]
    got = checks.call_through(probes.rollout_of, collect, 2, 12, 0, "left")
    expected = probes.rollout_of(rollouts.collect_rollout, 2, 12, 0, "left")
    assert isinstance(got, rollouts.Rollout) and got.terminated.any()
    for field in ("observations", "terminated", "next_values", "last_observations"):
        np.testing.assert_array_equal(getattr(got, field), getattr(expected, field))
