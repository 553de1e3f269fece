"""Hostile submissions of assignments 02–05 against the judge: each tries to earn the points of an answer it does not
give (one graded function is a dummy), by what the student's process can reach while the grader tests it: objects on
the heap and the frames above the call, the harnesses of rl_course.probes (replaced, emptied, behind a lying module
class, rewritten by a thread, set through ctypes, imported again through an import hook), the numerical libraries,
output forged at exit, the grader's memory. None earns more than the dummy alone, none makes the grader print what
it says, and no feedback page carries a hidden test."""

import copy
import csv
import html
import io
import re
import warnings
from contextlib import redirect_stderr, redirect_stdout

import nbformat
import pytest
from helpers import without_demo_cells

from rl_course import cli

NOTEBOOKS = {"02_forward_backward": "forward_backward.ipynb", "03_gae": "gae.ipynb", "04_ppo": "ppo.ipynb",
             "05_continuous": "continuous.ipynb"}
# the graded function made a dummy in each assignment, and what the dummy returns
DUMMIES = {"02_forward_backward": ("td_errors", "np.zeros(len(rewards))"), "03_gae": ("gae", "np.zeros(np.shape(rewards))"),
           "04_ppo": ("clipped_surrogate", "(ratio * 0).sum()"), "05_continuous": ("gaussian_log_prob", "mean.sum(-1) * 0")}
TIMEOUT = 60  # seconds per cell: 04's training test takes about ten

# The answer's body (replacing the dummy's), or a cell added after it. {zero}: the dummy's result.
BODIES = {
    "takes_expected_values_off_the_heap": "import gc\n    for o in gc.get_objects():\n"
                                          "        if isinstance(o, dict) and ('expected' in o or 'correct' in o):\n"
                                          "            return o.get('expected', o.get('correct'))\n    return {zero}",
    "takes_expected_values_off_the_frames": "import sys\n    f = sys._getframe(1)\n    while f is not None:\n"
                                            "        for k in ('expected', 'theirs', 'correct', 'reference'):\n"
                                            "            if k in f.f_locals and not callable(f.f_locals[k]):\n"
                                            "                return f.f_locals[k]\n        f = f.f_back\n    return {zero}",
    "reads_the_grader_memory": "import os\n    try:\n        with open(f'/proc/{{os.getppid()}}/mem', 'rb') as memory:\n"
                               "            memory.read(1)\n    except OSError:\n        pass\n    return {zero}",
}
CELLS = {
    "empties_the_harness": "import rl_course.probes\nrl_course.probes.each = lambda fn, calls: []",
    "replaces_the_probes_module": "import sys, types, rl_course\nfake = types.ModuleType('rl_course.probes')\n"
                                  "fake.__dict__.update(vars(sys.modules['rl_course.probes']))\n"
                                  "def agree(fn, calls):\n    return [{'result': 0.0, 'global_rng': False} for _ in calls]\n"
                                  "fake.each = agree\nfake.ppo_update_run = lambda *a, **k: {}\nfake.rollout_of = lambda *a, **k: None\n"
                                  "sys.modules['rl_course.probes'] = rl_course.probes = fake",
    "lies_through_the_module_class": "import types, rl_course.probes as p\nclass Lying(types.ModuleType):\n"
                                     "    def __getattribute__(self, name):\n        if name == 'each':\n"
                                     "            return lambda fn, calls: [{'result': 0.0}] * len(calls)\n"
                                     "        return super().__getattribute__(name)\np.__class__ = Lying",
    "rewrites_the_harness_from_a_thread": "import threading, time, rl_course.probes\ndef rewrite():\n    while True:\n"
                                          "        rl_course.probes.each = lambda fn, calls: [{'result': None}] * len(calls)\n"
                                          "        time.sleep(0.001)\nthreading.Thread(target=rewrite, daemon=True).start()",
    "patches_numpy_and_torch": "import torch\nnp.allclose = torch.allclose = torch.equal = lambda *a, **k: True\n"
                               "np.isclose = lambda a, b, **k: np.ones(np.broadcast(a, b).shape, bool)",
    "forges_output_at_exit": "import atexit, sys\n"
                             "atexit.register(lambda: (print('\\x1b[32mmallory  99 / 99\\x1b[0m'),\n"
                             "                         sys.stderr.write('mallory  99 / 99\\n')))",
}
# The same routes written so that the reading for tampering (rl_course/course/tampering.py) does not see them: reaching
# sys through torch, names built at run time. These are graded, and the judge alone must hold.
REACH = "import torch\n{indent}s = vars(torch)['s' + 'ys']\n{indent}loaded = getattr(s, 'mod' + 'ules')\n{indent}"
UNSEEN = REACH + "harnesses = loaded['rl_' + 'course.probes']\n{indent}"
BODIES |= {
    "takes_expected_values_off_the_heap_unseen": REACH.format(indent="    ") +
    "for o in getattr(loaded['g' + 'c'], 'get_' + 'objects')():\n"
    "        if isinstance(o, dict) and ('expected' in o or 'correct' in o):\n"
    "            return o.get('expected', o.get('correct'))\n    return {zero}",
    "takes_expected_values_off_the_frames_unseen": REACH.format(indent="    ") +
    "f = getattr(s, '_get' + 'frame')(1)\n    while f is not None:\n        found = getattr(f, 'f_' + 'locals')\n"
    "        for k in ('expected', 'theirs', 'correct', 'reference'):\n"
    "            if k in found and not callable(found[k]):\n                return found[k]\n"
    "        f = getattr(f, 'f_' + 'back')\n    return {zero}",
}
CELLS |= {
    "empties_the_harness_unseen": UNSEEN.format(indent="") + "setattr(harnesses, 'ea' + 'ch', lambda fn, calls: [])",
    "answers_for_the_harness_unseen": UNSEEN.format(indent="") +
    "setattr(harnesses, 'ea' + 'ch', lambda fn, calls: [{'result': fn(*a, **k), 'global_rng': False} for a, k in calls])",
    "fakes_the_records_unseen": UNSEEN.format(indent="") +
    "for name in ('ppo_update_' + 'run', 'train_ppo_' + 'run', 'train_ppo_' + 'parts', 'rollout_' + 'of'):\n"
    "    setattr(harnesses, name, lambda *a, **k: {'stats': {}, 'steps': [], 'objectives': [], 'critics': [], 'history': []})",
    "rewrites_the_harness_from_a_thread_unseen": UNSEEN.format(indent="") + "import threading, time\ndef rewrite():\n    while True:\n"
    "        setattr(harnesses, 'ea' + 'ch', lambda fn, calls: [{'result': None}] * len(calls))\n        time.sleep(0.001)\n"
    "threading.Thread(target=rewrite, daemon=True).start()",
    "patches_torch_unseen": "import torch, torch.testing\ntorch.allclose = torch.equal = lambda *a, **k: True\n"
                            "torch.testing.assert_close = lambda *a, **k: None",
    # the harness set below Python's attribute machinery, through the C API
    "sets_the_harness_through_ctypes_unseen": UNSEEN.format(indent="") +
    "ct = getattr(loaded['builtins'], '__imp' + 'ort__')('ct' + 'ypes')\napi = getattr(ct, 'python' + 'api')\n"
    "api.PyObject_SetAttr(ct.py_object(harnesses), ct.py_object('ea' + 'ch'),\n"
    "                     ct.py_object(lambda fn, calls: [{'result': 0.0, 'global_rng': False}] * len(calls)))",
    # an import hook that answers the next import of the harnesses with a module of its own
    "imports_a_fake_harness_unseen": REACH.format(indent="") + "machinery = loaded['importlib.machinery']\n"
    "class Finder:\n    def find_spec(self, name, path=None, target=None):\n        if name == 'rl_' + 'course.probes':\n"
    "            return machinery.ModuleSpec(name, self)\n    def create_module(self, spec):\n        return None\n"
    "    def exec_module(self, module):\n"
    "        setattr(module, 'ea' + 'ch', lambda fn, calls: [{'result': 0.0, 'global_rng': False}] * len(calls))\n"
    "getattr(s, 'meta_' + 'path').insert(0, Finder())\nloaded.pop('rl_' + 'course.probes')\n"
    "getattr(loaded['rl_' + 'course'], '__dict__').pop('probes')",
}
GRADED = sorted(name for name in {**BODIES, **CELLS} if name.endswith("_unseen")) + ["forges_output_at_exit", "reads_the_grader_memory"]
SEEN = sorted(name for name in {**BODIES, **CELLS} if name not in GRADED)
# Seen routes cost nothing to grade (the reading refuses them): every assignment gets all of them. The judge is one for all
# assignments, so the graded routes are shared out among them, each assignment with those through its own harnesses.
ROUTES = {"02_forward_backward": SEEN + ["takes_expected_values_off_the_frames_unseen", "takes_expected_values_off_the_heap_unseen",
                                        "answers_for_the_harness_unseen", "sets_the_harness_through_ctypes_unseen"],
          "03_gae": SEEN + ["empties_the_harness_unseen", "fakes_the_records_unseen", "rewrites_the_harness_from_a_thread_unseen",
                            "imports_a_fake_harness_unseen"],
          "04_ppo": SEEN + ["fakes_the_records_unseen"],
          "05_continuous": SEEN + ["patches_torch_unseen", "forges_output_at_exit", "reads_the_grader_memory",
                                   "answers_for_the_harness_unseen"]}
assert {route for routes in ROUTES.values() for route in routes} == {*BODIES, *CELLS}


def _cell(nb, grade_id):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def _submission(solution, assignment, route):
    nb = copy.deepcopy(solution)
    name, zero = DUMMIES[assignment]
    answer = _cell(nb, name)
    head = answer.source.split('"""')[0] + '"""' + answer.source.split('"""')[1] + '"""\n'
    answer.source = head + "    " + BODIES.get(route, "return {zero}").format(zero=zero) + "\n"
    if route in CELLS:
        nb.cells.insert(nb.cells.index(answer) + 1, nbformat.v4.new_code_cell(CELLS[route]))
    return nb


@pytest.fixture(scope="module")
def across(course_root, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile_judge")
    for assignment, notebook in NOTEBOOKS.items():
        solution = without_demo_cells(nbformat.read(course_root / "solutions" / assignment / notebook, as_version=4))
        for route in ["dummy", *ROUTES[assignment]]:
            folder = tmp / "submitted" / route / assignment
            folder.mkdir(parents=True)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the cells added here have no ids; nbgrader gives them some
                nbformat.write(_submission(solution, assignment, route), folder / notebook)
    stdout, stderr = io.StringIO(), io.StringIO()
    with redirect_stdout(stdout), redirect_stderr(stderr):
        code = cli.main(["feedback", str(tmp / "submitted"), "--out", str(tmp / "feedback"), "--csv", str(tmp / "grades.csv"),
                         "--timeout", str(TIMEOUT), "--jobs", "2", "--db", f"sqlite:///{tmp / 'gradebook.db'}",
                         "--course", str(course_root)])
    rows = {(r["student"], r["assignment"]): r for r in csv.DictReader((tmp / "grades.csv").open())}
    return dict(code=code, stdout=stdout.getvalue(), stderr=stderr.getvalue(), rows=rows, feedback=tmp / "feedback")


@pytest.mark.notebook
@pytest.mark.parametrize(("assignment", "route"), [(a, r) for a in NOTEBOOKS for r in ROUTES[a]])
def test_no_route_earns_the_points_of_the_missing_answer(across, assignment, route):
    dummy, row = across["rows"][("dummy", assignment)], across["rows"][(route, assignment)]
    assert float(dummy["score"]) < float(dummy["max_score"]), dummy
    assert float(row["score"]) <= float(dummy["score"]), (row, dummy)
    assert row["problem"] or row["feedback"], row  # told why, in a problem line or the failed cells' lines
    if route in SEEN:
        assert "not graded, it tampers with the tests" in row["problem"], row
    elif route in GRADED:
        assert not row["problem"], row  # graded: the judge alone decides


@pytest.mark.notebook
def test_nothing_forged_reaches_the_grader_and_no_hidden_test_reaches_a_page(across, course_root):
    assert across["code"] == 0
    assert "mallory" not in across["stdout"] + across["stderr"]
    pages = list(across["feedback"].glob("*/*/*.html"))
    assert len(pages) >= len(across["rows"]) - sum(1 for r in across["rows"].values() if r["problem"])
    for assignment, notebook in NOTEBOOKS.items():
        source = nbformat.read(course_root / "solutions" / assignment / notebook, as_version=4)
        release = nbformat.read(course_root / "notebooks" / assignment / notebook, as_version=4)
        answers = [c for c in source.cells if not c.metadata.get("nbgrader", {}).get("grade")]  # the student's own code
        released = " ".join(" ".join(c.source.split()) for c in [*release.cells, *answers])
        hidden = [line.strip() for cell in source.cells if "### BEGIN HIDDEN TESTS" in cell.source
                  for line in cell.source.split("### BEGIN HIDDEN TESTS")[1].split("### END HIDDEN TESTS")[0].splitlines()
                  if len(line.strip()) > 30 and " ".join(line.split()) not in released]  # shown anyway: no leak
        for page in across["feedback"].glob(f"*/{assignment}/*.html"):
            text = " ".join(html.unescape(re.sub(r"<[^>]+>", "", page.read_text())).split())
            leaked = [line for line in hidden if " ".join(line.split()) in text]
            assert not leaked, (page, leaked[:3])
