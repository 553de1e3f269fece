"""The static reading of a submission for attempts to rebind what the tests rely on."""

import nbformat
import pytest

from rl_course.course import tampering

SOURCE = nbformat.v4.new_notebook(cells=[
    nbformat.v4.new_code_cell("import numpy as np\nimport rl_course\nfrom rl_course import checks, tabular\n",
                              metadata={"nbgrader": {"grade_id": "setup", "locked": True, "grade": False, "solution": False}}),
    nbformat.v4.new_code_cell("def td_error(V):\n    raise NotImplementedError()\n",
                              metadata={"nbgrader": {"grade_id": "td_error", "solution": True, "grade": False, "locked": False}}),
    nbformat.v4.new_code_cell("checks.expect_close(td_error(1), 1, 'td_error')\n",
                              metadata={"nbgrader": {"grade_id": "test", "grade": True, "solution": False, "locked": True, "points": 1}}),
])


def _submission(answer: str, extra: str | None = None, in_test_cell: str | None = None):
    nb = nbformat.from_dict(nbformat.from_dict(SOURCE))
    nb.cells[1].source = answer
    if extra is not None:
        nb.cells.insert(2, nbformat.v4.new_code_cell(extra))
    if in_test_cell is not None:
        nb.cells[-1].source = in_test_cell
    return nb


@pytest.mark.parametrize("code, says", [
    ("checks.expect_close = lambda *a, **k: None", "changes checks.expect_close"),
    ("rl_course.checks.is_reference = lambda fn: False", "changes rl_course.checks.is_reference"),
    ("rl_course.reference.is_reference = lambda fn: False", "changes rl_course.reference.is_reference"),
    ("import rl_course.reference as mark\nmark.is_reference = print", "changes mark.is_reference"),
    ("from rl_course import reference\nreference.is_reference = print", "changes reference.is_reference"),
    ("checks = dict(expect_close=print)", "rebinds checks (rl_course.checks)"),  # a call's result, where no result belongs
    ("tabular.td_error.__rl_course_reference__ = False", "changes tabular.td_error.__rl_course_reference__"),
    ("del checks.expect_close", "changes checks.expect_close"),
    ("g = checks\ng.expect_close = print", "changes g.expect_close"),
    ("setattr(checks, 'expect_close', print)", "calls setattr on checks"),
    ("checks = None", "rebinds checks (rl_course.checks)"),
    ("def np():\n    pass", "rebinds np (numpy)"),
    ("import math as checks", "rebinds checks (rl_course.checks)"),
    ("from math import sqrt as tabular", "rebinds tabular (rl_course.tabular)"),
    ("tabular = my_fake_tabular", "rebinds tabular (rl_course.tabular)"),
    ("for checks in [None]:\n    pass", "rebinds checks"),
    ("with open('x') as checks:\n    pass", "rebinds checks"),
    ("(checks := None)", "rebinds checks"),
    ("from rl_course import checks as gg\ngg.expect_close = print", "changes gg.expect_close"),
    ("for g in (checks,):\n    g.expect_close = print", "changes g.expect_close"),
    ("g = [checks][0]\ng.expect_close = print", "changes g.expect_close"),
    ("def f(g=checks):\n    g.expect_close = print", "changes g.expect_close"),
    ("getattr(checks, 'np').allclose = print", "changes getattr(checks, 'np').allclose"),
    ("checks.__setattr__('expect_close', print)", "uses checks.__setattr__"),
    ("object.__setattr__(checks, 'expect_close', print)", "uses object.__setattr__"),
    ("s = setattr\ns(checks, 'expect_close', print)", "passes setattr around"),
    ("checks.__dict__['expect_close'] = print", "uses checks.__dict__"),
    ("def f():\n    global checks\n    checks = 1", "rebinds checks"),
    ("exec('checks.expect_close = print')", "calls exec()"),
    ("import sys\nsys.modules['rl_course.checks'] = None", "uses sys.modules"),
    ("import builtins\nbuiltins.print = None", "imports builtins"),
    ("import gc", "imports gc"),
    ("import pkgutil\np = pkgutil.resolve_name('rl_' + 'course.probes')", "imports pkgutil"),
    ("checks.expect_close.__code__ = (lambda *a: None).__code__", "uses checks.expect_close.__code__"),
    ("vars(checks)['expect_close'] = print", "calls vars on checks"),
    ("%time checks.expect_close = print", "changes checks.expect_close"),  # a magic's argument is code the kernel runs
    ("%timeit -n 1 -r 1 checks.expect_close = print", "changes checks.expect_close"),
    ("%%capture out\nchecks.expect_close = print", "changes checks.expect_close"),
    ("here = %pwd\nchecks.expect_close = print", "changes checks.expect_close"),  # IPython's syntax, not a syntax error
    ("%run mine.py", "runs %run"),
    ("get_ipython().input_transformers_post.append(lambda lines: lines)", "uses get_ipython().input_transformers_post"),
    ("ip = get_ipython()\nip.events.register('pre_run_cell', print)", "uses ip.events.register"),
    ("import IPython.display\nIPython.display.display = print", "changes IPython.display.display"),
    ("import sys\nsys.settrace(None)", "uses sys.settrace"),
])
def test_attempts_are_found_in_answer_cells_and_added_cells(code, says):
    for nb in (_submission(code), _submission("def td_error(V):\n    return V\n", extra=code)):
        findings = tampering.find_tampering(nb, SOURCE)
        assert any(says in line for line in findings), findings


@pytest.mark.parametrize("code", [
    "def td_error(V):\n    return np.asarray(V) * 2\n",
    "import numpy as np\nimport rl_course\n",  # the same imports again
    "def td_error(V, tabular=None):\n    checks = V\n    return checks\n",  # local names that shadow nothing outside
    "import matplotlib.pyplot as plt\nplt.rcParams['figure.dpi'] = 100\n",
    "env = make()\nenv.unwrapped._state = 4\n",
    "%matplotlib inline\nx = 1\n",
    "%load_ext autoreload\n%autoreload 2\n%time y = td_error(V)\nfrom IPython.display import display\ndisplay(y)\n",
    "def td_error(V:\n",  # a syntax error fails when it runs; it cannot tamper
    "from tqdm import tqdm\nfrom tqdm.notebook import tqdm\n",
    "from rl_course.tabular import td_error as reference\nfrom rl_course import checks\n",
    "advantages = np.zeros(3)\nenvs = make()\n",  # results in everyday names the notebooks import modules as
    "tabular = compute()\n",
    "for m in agent.modules():\n    m.weight = None\nprint(vars(config), config.__dict__)\n",
    "import torch\ntorch.backends.cudnn.deterministic = True\n",
    "import inspect\nprint(inspect.signature(td_error))\n",
    "class Buffer:\n    def __init__(self):\n        setattr(self, 'x', 1)\n",
])
def test_ordinary_code_is_not_an_attempt(code):
    assert tampering.find_tampering(_submission(code), SOURCE) == []


def test_cells_nbgrader_restores_are_not_read():
    nb = _submission("def td_error(V):\n    return V\n", in_test_cell="checks = None")
    assert tampering.find_tampering(nb, SOURCE) == []


def test_a_copy_of_a_test_cell_before_it_is_read():
    """nbgrader keeps the id on the last cell that carries it; an earlier copy runs as the student wrote it."""
    nb = _submission("def td_error(V):\n    return V\n")
    copy = nbformat.from_dict(nb.cells[-1])
    copy.source = "checks.expect_close = print"
    nb.cells.insert(2, copy)
    assert any("changes checks.expect_close" in line for line in tampering.find_tampering(nb, SOURCE))


def test_the_course_solutions_do_not_look_like_attempts(course_root):
    for path in sorted((course_root / "solutions").glob("*/*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        assert tampering.find_tampering(nb, nb) == [], path


def test_findings_name_the_cell_and_the_line():
    nb = _submission("def td_error(V):\n    return V\n", extra="x = 1\nchecks.expect_close = print")
    assert tampering.find_tampering(nb, SOURCE) == [
        "cell 3 (added by the student), line 2: changes checks.expect_close, which the tests rely on"]
