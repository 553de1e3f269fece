"""The student edition: built by `rl-course student-edition`, it holds no answers, and a student can do every assignment with it."""

import ast
import contextlib
import importlib
import importlib.util
import io
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import numpy as np
import pytest
from helpers import FULL_MARKS, NOTEBOOKS, without_demo_cells

from rl_course import advantages, cli, envs, tabular
from rl_course.course import answer_scan, answers, edition, grading_edition, withholding
from rl_course.course.layout import PACKAGE, RELEASE_DIR, SOURCE_DIR

ROOT = Path(__file__).resolve().parents[1]
RUNNER = Path(__file__).with_name("edition_runner.py")
ALL = sorted(NOTEBOOKS)
# The windows the notebook tests run in: each assignment open, the ones before it closed.
WINDOWS = {a[:2]: ([a[:2]], [b[:2] for b in ALL if b < a]) for a in ALL}


def instructor_files(course_root: Path) -> dict[str, bytes]:
    """The instructor's edition as it would be handed out: the library's source and the assignment folders."""
    course_root = Path(course_root)
    files = {}
    for folder in (PACKAGE, SOURCE_DIR, RELEASE_DIR):
        for path in sorted(p for p in (course_root / folder).rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            files[str(path.relative_to(course_root))] = path.read_bytes()
    return files


# ---------------------------------------------------------------- the map of answers


def test_every_reference_belongs_to_an_assignment():
    assert answers.unmapped_references() == []
    found = set(answers.references())
    assert len(found) == len(answers.ANSWERS) + len(answers.NOT_ASKED) == 31
    # a new @reference without an assignment is named, as is an entry that names no reference
    problems = answers.unmapped_references(found | {"rl_course.tabular.new_answer"})
    assert problems == ["rl_course.tabular.new_answer: a @reference with no assignment in rl_course.course.answers.ANSWERS"]
    problems = answers.unmapped_references(found - {"rl_course.advantages.gae"})
    assert problems == ["rl_course.advantages.gae: listed in rl_course.course.answers but not a @reference"]


def test_the_map_names_the_functions_the_notebooks_ask_for():
    """Each answer's notebook name is a function that its assignment's solution defines in an answer cell."""
    asked = {}
    for assignment in ALL:
        nb = nbformat.read(ROOT / "solutions" / assignment / NOTEBOOKS[assignment], as_version=4)
        asked[assignment] = {node.name for cell in nb.cells if cell.metadata.get("nbgrader", {}).get("solution")
                             for node in ast.walk(ast.parse(cell.source)) if isinstance(node, ast.FunctionDef)}
    for name, answer in {**answers.ANSWERS, **answers.COMPANIONS}.items():
        assert answer.assignment in ALL, name
        if answer.notebook_name is not None:
            assert answer.notebook_name in asked[answer.assignment], f"{name}: {answer.notebook_name} not asked in {answer.assignment}"


# ---------------------------------------------------------------- withholding and scanning, on small pieces


SOURCE = textwrap.dedent('''
    from rl_course.checks import reference

    @reference
    def gae(rewards, values, *rest, lam=0.9, **options):
        """Ψ^GAE, by the backward recursion."""
        following = 0.0  # the answer
        return [following + r for r in rewards]

    def kept(x):
        return x + 1
''')


def test_withholding_keeps_signature_docstring_and_mark_and_calls_the_notebooks_own(tmp_path, monkeypatch):
    answer = answers.Answer("03_gae", "gae")
    source, replaced = withholding.withhold(SOURCE, "withheld_demo", {"withheld_demo.gae": answer})
    assert replaced == {"withheld_demo.gae"}
    assert "the answer" not in source and "following" not in source
    assert "def kept(x):\n    return x + 1" in source
    (tmp_path / "withheld_demo.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "withheld_demo", raising=False)
    gae = importlib.import_module("withheld_demo").gae
    assert gae.__doc__ == "Ψ^GAE, by the backward recursion." and gae.__rl_course_reference__
    main = sys.modules["__main__"]
    with pytest.raises(NotImplementedError, match=r"^withheld_demo.gae is the answer of assignment 03_gae and is not in the "
                                                  r"student edition: write your own gae in the notebook and run its cell"):
        gae([1.0], [0.0])
    # the student's own, as a notebook defines it, gets what the library's was given: lam only where not the default
    monkeypatch.setattr(main, "gae", lambda *args, **kwargs: (args, kwargs), raising=False)
    assert gae([1.0], [0.0], 5, lam=0.5, extra=1) == (([1.0], [0.0], 5), {"lam": 0.5, "extra": 1})
    assert gae([1.0], [0.0]) == (([1.0], [0.0]), {})
    monkeypatch.setattr(main, "gae", lambda *args, **kwargs: gae(*args, **kwargs))  # one that calls the library's back
    with pytest.raises(NotImplementedError, match="your gae calls withheld_demo.gae, the answer of assignment 03_gae"):
        gae([1.0], [0.0])
    monkeypatch.setattr(main, "gae", gae)  # the library's, imported into the notebook
    with pytest.raises(NotImplementedError, match="is not in the student edition"):
        gae([1.0], [0.0])
    # a notebook can ask which edition it runs in: the stand-in is withheld, the library's other functions are not
    from rl_course.withheld import is_withheld

    assert is_withheld(gae) and not is_withheld(importlib.import_module("withheld_demo").kept)
    assert not is_withheld(advantages.gae) and not is_withheld(tabular.td_lambda_sweep)


def test_the_vectorized_sweep_is_withheld_while_01_or_02_is():
    """td_lambda_sweep holds TD(λ) with traces (01) and true online TD(λ) (02): withheld until both are solved."""
    assert answers.withheld_functions(ALL)["rl_course.tabular.td_lambda_sweep"].assignment == "01_td_lambda"
    assert answers.withheld_functions(ALL[1:])["rl_course.tabular.td_lambda_sweep"].assignment == "02_forward_backward"
    assert "rl_course.tabular.td_lambda_sweep" not in answers.withheld_functions(ALL[2:])
    source, replaced = withholding.withhold(Path(tabular.__file__).read_text(), "rl_course.tabular", answers.withheld_functions(ALL[1:]))
    assert "rl_course.tabular.td_lambda_sweep" in replaced and "EpisodeStream(runs)" not in source
    assert "instead='tabular.td_lambda_sweep_loop(runs, v_true, alphas, lams, episode_fn=your_episode_function)" in source


def test_normalized_bodies_see_through_renaming_and_reformatting_but_not_a_changed_formula():
    def body(source):
        return answer_scan.normalized_body(ast.parse(textwrap.dedent(source)).body[0])

    original = body('''
        def gae(rewards, values, lam):
            """doc"""
            out = np.zeros(len(rewards))  # comment
            for t in reversed(range(len(rewards))):
                out[t] = rewards[t] - values[t] + lam * (out[t + 1] if t + 1 < len(out) else 0.0)
            return out
    ''')
    renamed = body('''
        def my_estimator(r,v,l):
            result=np.zeros(len(r))
            for k in reversed(range(len(r))): result[k] = (r[k] - v[k]
                + l * (result[k + 1] if k + 1 < len(result) else 0.0))
            return result
    ''')
    changed = body('''
        def gae(rewards, values, lam):
            out = np.zeros(len(rewards))
            for t in reversed(range(len(rewards))):
                out[t] = rewards[t] - values[t] + lam * (out[t + 1] if t + 1 < len(out) else 1.0)
            return out
    ''')
    assert original == renamed
    assert original != changed


def _renamed_copy_of(function) -> str:
    """The source of a library function with every name changed and its layout rewritten by ast.unparse."""
    import inspect

    tree = ast.parse(textwrap.dedent(inspect.getsource(inspect.unwrap(function))))
    names = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            node.id = names.setdefault(node.id, f"v{len(names)}")
        elif isinstance(node, ast.arg):
            node.arg = names.setdefault(node.arg, f"v{len(names)}")
    tree.body[0].name, tree.body[0].decorator_list = "my_own_estimator", []
    return ast.unparse(tree)


def test_the_scan_finds_every_answer_of_the_instructors_edition():
    files = instructor_files(ROOT)
    findings = answer_scan.scan(files, ROOT, ALL)
    text = "\n".join(findings)
    for name in {**answers.ANSWERS, **answers.COMPANIONS}:  # every reference's body, in the library's source
        module, function = name.rsplit(".", 1)
        assert any(line.startswith(f"{module.replace('.', '/')}.py: {function} holds the answer") and f"{name} (" in line
                   for line in findings), name
    for assignment in ALL:
        solution = f"solutions/{assignment}/{NOTEBOOKS[assignment]}"
        assert f"{solution}: the file {solution}" in text
        assert f"{solution}: a file of solutions/" in text
        assert f"a line of the hidden tests of {assignment}" in text
        assert any(line.startswith(f"{solution} cell") and f"of {solution}" in line for line in findings), assignment
    assert not [line for line in findings if line.startswith("notebooks/") and "hidden tests" in line]


def test_the_scan_finds_an_answer_renamed_and_reformatted(tmp_path):
    hiding = _renamed_copy_of(advantages.gae)
    assert "deltas" not in hiding and "following" not in hiding
    findings = answer_scan.scan({"somewhere/helpers.py": hiding.encode()}, ROOT, ["03_gae"])
    assert findings == ["somewhere/helpers.py: my_own_estimator holds the answer rl_course.advantages.gae (assignment 03_gae)"]
    assert answer_scan.scan({"somewhere/helpers.py": hiding.encode()}, ROOT, ["04_ppo", "05_continuous"]) == []
    assert answer_scan.scan({"x/cache.cpython-311.pyc": b"\0"}, ROOT, ALL) == ["x/cache.cpython-311.pyc: compiled code"]


def test_the_guard_sees_a_reference_imported_inside_the_answer():
    """What a student who met the student edition's stand-in might try: importing the library's answer in the function."""
    from rl_course import checks

    def from_import(rewards, values, next_values, terminated, truncated, gamma, lam):
        from rl_course.advantages import gae as library_gae
        return library_gae(rewards, values, next_values, terminated, truncated, gamma, lam)

    def module_alias(rewards, values, next_values, terminated, gamma):
        import rl_course.advantages as adv
        return adv.batch_td_errors(rewards, values, next_values, terminated, gamma)

    def dotted(V, s, r, s_next, terminated, gamma=1.0):
        import rl_course.tabular
        return rl_course.tabular.td_error(V, s, r, s_next, terminated, gamma)

    def own_work(rewards, values, lam):
        import numpy as np

        from rl_course.tabular import Episode  # a helper of the library, not an answer
        deltas = np.asarray(rewards) - values[:-1]
        return deltas * lam, Episode

    for fn, name in ((from_import, "advantages.gae"), (module_alias, "advantages.batch_td_errors"), (dotted, "tabular.td_error")):
        with pytest.raises(AssertionError, match=rf"uses the library's reference implementation rl_course\.{name}; write"):
            checks.assert_own_work(fn)
    checks.assert_own_work(own_work)


# ---------------------------------------------------------------- building


class _Editions(dict):
    """The student editions of the windows, each built by `rl-course student-edition` when first asked for."""

    def __init__(self, folder: Path):
        super().__init__()
        self.folder = folder

    def __missing__(self, window: str) -> edition.Edition:
        open_, solved = WINDOWS[window]
        out = self.folder / window
        stdout = io.StringIO()
        with contextlib.redirect_stdout(stdout):
            code = cli.main(["student-edition", "--open", *open_, "--solved", *solved, "--out", str(out), "--course", str(ROOT)])
        assert code == 0
        wheel = next(out.glob("*.whl"))
        assert f"wrote {wheel}" in stdout.getvalue()
        solved = edition.resolve(ROOT, solved, "")
        self[window] = edition.Edition(wheel=wheel, notebooks=out / "notebooks", open=edition.resolve(ROOT, open_, ""),
                                       solved=solved, withheld=[a for a in ALL if a not in solved])
        return self[window]


@pytest.fixture(scope="module")
def editions(tmp_path_factory):
    return _Editions(tmp_path_factory.mktemp("editions"))


@pytest.mark.notebook
@pytest.mark.parametrize("window", sorted(WINDOWS))
def test_the_student_edition_holds_no_answer(editions, window):
    built = editions[window]
    files = answer_scan.edition_files(built.wheel, built.notebooks)
    assert answer_scan.scan(files, ROOT, built.withheld) == []
    # what it holds: the wheel's source files and Jupyter configuration, and the open notebooks, released
    notebooks = sorted(name for name in files if name.endswith(".ipynb"))
    assert notebooks == [f"notebooks/{a}/{NOTEBOOKS[a]}" for a in built.open]
    for name in notebooks:
        assert files[name] == (ROOT / name).read_bytes()
    assert not [name for name in files if name.endswith((".pyc", ".so")) or "solutions" in name]
    # the same scan over the same files with the instructor's library in the wheel finds every withheld answer
    with_answers = {**files, **{f"{built.wheel.name}/{name}": content for name, content in instructor_files(ROOT).items()
                                if name.startswith("rl_course/")}}
    found = "\n".join(answer_scan.scan(with_answers, ROOT, built.withheld))
    for name in answers.withheld_functions(built.withheld):
        assert f"{name} (assignment" in found, name


@pytest.mark.notebook
def test_solved_assignments_keep_their_answers_and_later_ones_do_not(editions):
    files = answer_scan.edition_files(editions["04"].wheel, editions["04"].notebooks)
    source = {name.split("/", 1)[1]: content.decode() for name, content in files.items() if name.endswith(".py")}
    tree = ast.parse(source["rl_course/advantages.py"])
    kept = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert "own_answer" not in ast.unparse(kept["gae"]) and "own_answer" not in ast.unparse(kept["td_errors"])
    assert "own_answer" in ast.unparse(ast.parse(source["rl_course/ppo/losses.py"]))
    found = "\n".join(answer_scan.scan(files, ROOT, ["03_gae"]))  # 03's answers are there …
    assert "rl_course.advantages.gae (assignment 03_gae)" in found and "rl_course.rollouts.collect_rollout (assignment" in found
    assert answer_scan.scan(files, ROOT, ["04_ppo", "05_continuous"]) == []  # … 04's and 05's are not


def test_a_bad_window_is_a_one_line_error(tmp_path, capsys):
    assert cli.main(["student-edition", "--open", "09", "--out", str(tmp_path / "e"), "--course", str(ROOT)]) == 2
    assert "--open 09: no such assignment (this course has: 01_td_lambda, 02_forward_backward" in capsys.readouterr().err
    assert cli.main(["student-edition", "--open", "02", "--solved", "01", "02", "--out", str(tmp_path / "e"),
                     "--course", str(ROOT)]) == 2
    assert "02_forward_backward: both open and solved" in capsys.readouterr().err
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "thesis.tex").write_text("mine")
    assert cli.main(["student-edition", "--open", "01", "--out", str(tmp_path / "busy"), "--course", str(ROOT)]) == 2
    assert "not empty and not an earlier student edition" in capsys.readouterr().err
    assert (tmp_path / "busy" / "thesis.tex").read_text() == "mine"


# ---------------------------------------------------------------- the student edition that a grading kernel imports


@pytest.fixture
def course_with_library(course_copy) -> Path:
    """A copy of the course with a library of its own (``rl_course/``), which the grading editions are built from."""
    shutil.copytree(ROOT / "rl_course", course_copy / "rl_course", ignore=shutil.ignore_patterns("__pycache__"))
    return course_copy


def _withheld_in(package: Path, module: str) -> set[str]:
    """The functions of ``module`` (``ppo/losses.py``) whose body is a call to ``own_answer``."""
    tree = ast.parse((package / module).read_text())
    return {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) and "own_answer" in ast.unparse(node.body[-1])}


def test_a_grading_edition_is_built_once_per_window_and_again_after_a_library_edit(course_with_library, monkeypatch):
    first = grading_edition.library_for(course_with_library, "01_td_lambda")
    assert first.parent == course_with_library / "grading-editions" and first.name.startswith("01_td_lambda-")
    assert {"td_error", "td_lambda_episode", "rms_error", "td_lambda_sweep"} <= _withheld_in(first / "rl_course", "tabular.py")
    assert "clipped_surrogate" in _withheld_in(first / "rl_course", "ppo/losses.py")
    modules = sorted((first / "rl_course").rglob("*.py"))  # compiled as built: a kernel cannot write bytecode there
    assert len(modules) > 20 and all(Path(importlib.util.cache_from_source(str(m))).is_file() for m in modules)
    fourth = grading_edition.library_for(course_with_library, "04_ppo")
    assert _withheld_in(fourth / "rl_course", "tabular.py") == set()  # 01 and 02 are solved in 04's window
    assert "clipped_surrogate" in _withheld_in(fourth / "rl_course", "ppo/losses.py")
    tabular_ = (first / "rl_course" / "tabular.py").read_text()

    def no_build(*args):
        raise AssertionError("built again")

    with monkeypatch.context() as patched:
        patched.setattr(grading_edition, "write_library", no_build)
        assert grading_edition.library_for(course_with_library, "01_td_lambda") == first  # the cached one
    with open(course_with_library / "rl_course" / "tabular.py", "a") as library:
        library.write("\nEDITED = 1\n")
    edited = grading_edition.library_for(course_with_library, "01_td_lambda")
    assert edited != first and (edited / "rl_course" / "tabular.py").read_text().endswith("\nEDITED = 1\n")
    assert (first / "rl_course" / "tabular.py").read_text() == tabular_
    assert sorted(p.name for p in (course_with_library / "grading-editions").iterdir()) == sorted([first.name, fourth.name, edited.name])


def test_two_graders_building_the_same_grading_edition_at_once_both_get_it(course_with_library, monkeypatch):
    from threading import Barrier

    both_built, scan = Barrier(2, timeout=60), answer_scan.scan

    def scan_then_wait(*args):  # each build waits for the other before renaming its folder into place
        found = scan(*args)
        both_built.wait()
        return found

    monkeypatch.setattr(grading_edition, "scan", scan_then_wait)
    with ThreadPoolExecutor(2) as pool:
        folders = list(pool.map(lambda _: grading_edition.library_for(course_with_library, "03_gae"), range(2)))
    assert folders[0] == folders[1] and (folders[0] / "rl_course" / "__init__.py").is_file()
    assert [p.name for p in (course_with_library / "grading-editions").iterdir()] == [folders[0].name]  # no build left behind


def test_a_grading_edition_for_an_unknown_assignment_or_with_an_answer_is_refused(course_with_library, monkeypatch):
    with pytest.raises(edition.CourseError, match="09_nope: no such assignment, so no student edition to grade it with "
                                                  r"\(this course has: 01_td_lambda, 02_forward_backward"):
        grading_edition.library_for(course_with_library, "09_nope")
    monkeypatch.setattr(grading_edition, "withheld_functions", lambda withheld: {})  # nothing withheld: the answers stay
    monkeypatch.setattr(grading_edition, "write_library", lambda root, withheld, folder: withholding.write_library(root, [], folder))
    with pytest.raises(edition.CourseError, match="the student edition for grading 05_continuous would hold answers, "
                                                  "so none was built: rl_course/"):
        grading_edition.library_for(course_with_library, "05_continuous")
    assert [p.name for p in (course_with_library / "grading-editions").iterdir()] == []


@pytest.mark.notebook
def test_a_grading_edition_holds_the_library_of_the_wheel_of_its_window(editions, tmp_path):
    built = editions["03"]
    library = grading_edition.library_for(ROOT, "03_gae", cache=tmp_path)
    files = {name.split("/", 1)[1]: content for name, content in answer_scan.edition_files(built.wheel, built.notebooks).items()
             if name.startswith(built.wheel.name) and name.split("/", 1)[1].startswith("rl_course/")}
    assert files == {str(p.relative_to(library)): p.read_bytes() for p in sorted(library.rglob("*"))
                     if p.is_file() and "__pycache__" not in p.parts}  # the bytecode compiled from them apart


# ---------------------------------------------------------------- a student's environment
#
# Each window's edition goes into a fresh virtual environment of its own, with pip, from its wheel alone (--no-deps):
# the packages it depends on are those already installed for the tests, seen through a path file, never their
# rl_course (an editable install, whose path file is not read there); `pip check` proves the wheel's requirements are
# met. The environment for JupyterLab also gets its own nbgrader, JupyterLab and Jupyter Server (the versions of the
# tests'), so that their extensions and configuration sit in the same prefix as the wheel's, as on a student's laptop.

SHARED = [Path(p) for p in dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])]
JUPYTER = ("nbgrader", "jupyterlab", "jupyter-server", "jupyter-core")


def _student_env(folder: Path, wheel: Path, *also: str) -> Path:
    """A fresh virtual environment in ``folder`` with ``wheel`` (and the packages ``also``) installed by pip; returns its Python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    python = folder / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    (site / "_installed_for_the_tests.pth").write_text("".join(f"{path}\n" for path in SHARED))
    _pip([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--disable-pip-version-check",
          "--no-compile", "--no-deps", "--ignore-installed"], str(wheel), *also)
    _pip([sys.executable, "-m", "pip", "--python", str(python), "check", "--disable-pip-version-check"])
    return python


def _pip(command: list, *what: str) -> None:
    result = subprocess.run([*command, *what], capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]


@pytest.fixture(scope="module")
def student_pythons(editions, tmp_path_factory):
    """{window: the Python of a fresh environment with that window's edition installed}, made when first asked for."""
    folder = tmp_path_factory.mktemp("student")

    class Pythons(dict):
        def __missing__(self, window):
            self[window] = _student_env(folder / window, editions[window].wheel)
            return self[window]

    return Pythons()


def _with_solutions_pasted(released: Path, assignment: str) -> nbformat.NotebookNode:
    """The released notebook with the code of the solution pasted into each answer cell, markers left out."""
    nb = nbformat.read(released, as_version=4)
    solution = nbformat.read(ROOT / "solutions" / assignment / NOTEBOOKS[assignment], as_version=4)
    answers = {c.metadata.nbgrader.grade_id: c.source for c in solution.cells if c.metadata.get("nbgrader", {}).get("solution")}
    for cell in nb.cells:
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = "\n".join(line for line in answers[cell.metadata.nbgrader.grade_id].splitlines()
                                    if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))
    return nb


def _run_in(python: Path, notebooks: list[Path], tmp: Path) -> dict:
    out = tmp / "runs.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "JUPYTER"))}
    env["PATH"] = f"{python.parent}{os.pathsep}{env.get('PATH', '')}"
    result = subprocess.run([str(python), str(RUNNER), str(out), *map(str, notebooks)], capture_output=True, text=True,
                            env=env, cwd=tmp, timeout=3600)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(out.read_text())


def _windows_read(request) -> list[str]:
    """The windows whose runs the selected tests read: all of them, unless every selected test that reads runs
    names its assignment (``-k "01 or 02"`` runs those two windows only)."""
    needed = set()
    for item in request.session.items:
        if not {"student_runs", "graded_runs"} & set(getattr(item, "fixturenames", ())):
            continue
        assignment = getattr(getattr(item, "callspec", None), "params", {}).get("assignment")
        if assignment is None and "ablation" not in item.name:
            return sorted(WINDOWS)
        needed.add(assignment[:2] if assignment else "05")
    return sorted(needed)


@pytest.fixture(scope="module")
def student_runs(request, student_pythons, editions, tmp_path_factory):
    """Each released notebook with the solutions pasted in, run in the student edition of its window, in its folder
    as handed out (with the files it shows), two windows at a time, the longest first:
    {assignment: (the executed notebook's path, its record)}."""
    def run(window):
        built = editions[window]
        tmp = tmp_path_factory.mktemp(f"run-{window}")
        paths = []
        for assignment in built.open:
            shutil.copytree(built.notebooks / assignment, tmp / assignment)
            path = tmp / assignment / NOTEBOOKS[assignment]
            nbformat.write(_with_solutions_pasted(path, assignment), path)
            paths.append(path)
        records = _run_in(student_pythons[window], paths, tmp)
        return {assignment: (path, records[str(path)]) for assignment, path in zip(built.open, paths, strict=True)}

    windows = sorted(_windows_read(request), reverse=True)
    for window in windows:  # built one after the other: the command prints to this process's stdout
        editions[window]
    with ThreadPoolExecutor(max_workers=2) as pool:
        done = list(pool.map(run, windows))
    return {assignment: result for runs in done for assignment, result in runs.items()}


@pytest.mark.notebook
@pytest.mark.parametrize("assignment", ALL)
def test_released_notebook_with_the_solutions_runs_in_the_student_edition(student_runs, student_pythons, assignment):
    path, record = student_runs[assignment]
    assert record["failed_cell"] is None, f"{assignment}: cell {record['failed_cell']} failed:\n{record['error']}"
    assert record["rl_course"].startswith(str(student_pythons[assignment[:2]].parents[1])), record["rl_course"]
    print(f"{assignment}: {record['seconds']:.0f} s in the student edition")


def _cell(path: Path, grade_id: str) -> nbformat.NotebookNode:
    return next(c for c in nbformat.read(path, as_version=4).cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def _text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs)


@pytest.mark.notebook
@pytest.mark.parametrize("assignment", ["01_td_lambda", "02_forward_backward"])
def test_the_sweep_figures_come_from_the_students_own_functions(student_runs, assignment):
    """The vectorized sweep is an answer of 01 and 02, withheld in their editions (a call would fail the run): the
    figure and its table of the best α come from the student's functions."""
    path, _ = student_runs[assignment]
    sweep = _cell(path, "sweep")
    assert any("image/png" in o.get("data", {}) for o in sweep.outputs)
    assert ("best α (acc.)" if assignment == "01_td_lambda" else "α = 0.") in _text(sweep)
    if assignment == "01_td_lambda":
        assert "comes from your td_lambda_episode" in _text(_cell(path, "check_against_sweep"))


@pytest.mark.notebook
def test_the_ablation_figure_is_handed_out_with_05(student_runs):
    path, _ = student_runs["05_continuous"]
    assert (path.parent / "pendulum_ablations.png").read_bytes() == (ROOT / "docs" / "figures" / "pendulum_ablations.png").read_bytes()
    assert any("image/png" in o.get("data", {}) for o in _cell(path, "ablation_figure").outputs)


@pytest.mark.notebook
def test_the_solved_window_trains_04_with_the_librarys_gae(student_pythons, tmp_path):
    """With 01–03 solved, the library's GAE and TD(λ) sweep are the real ones; 04's answers are the stand-ins; in 01's
    window the sweep says what to use instead."""
    rng = np.random.default_rng(0)
    r, v, nv = rng.normal(size=(6, 3)), rng.normal(size=(6, 3)), rng.normal(size=(6, 3))
    term, trunc = rng.random((6, 3)) < 0.2, rng.random((6, 3)) < 0.2
    script = textwrap.dedent(f"""
        import json, numpy as np, torch
        from rl_course import advantages, envs, ppo, tabular
        r, v, nv, term, trunc = (np.array(x) for x in json.loads({json.dumps(json.dumps([r.tolist(), v.tolist(), nv.tolist(),
                                                                                       term.tolist(), trunc.tolist()]))}))
        print(json.dumps(advantages.gae(r, v, nv, term, trunc, 0.9, 0.8).tolist()))
        sweep = lambda: tabular.td_lambda_sweep(tabular.random_walk_runs(3, 2), envs.random_walk_true_values(), [0.1, 0.3],
                                                [0.0, 0.9], trace="dutch", progress=False)
        try:
            print(json.dumps(sweep().tolist()))
        except NotImplementedError as error:
            print(error)
        try:
            ppo.probability_ratio(torch.zeros(2), torch.zeros(2))
        except NotImplementedError as error:
            print(error)
    """)
    result = subprocess.run([str(student_pythons["04"]), "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert result.returncode == 0, result.stderr
    got, swept, message = result.stdout.splitlines()
    np.testing.assert_allclose(json.loads(got), advantages.gae(r, v, nv, term, trunc, 0.9, 0.8))
    np.testing.assert_allclose(json.loads(swept), tabular.td_lambda_sweep(tabular.random_walk_runs(3, 2), envs.random_walk_true_values(),
                                                                          [0.1, 0.3], [0.0, 0.9], trace="dutch", progress=False))
    assert message == ("rl_course.ppo.losses.probability_ratio is the answer of assignment 04_ppo and is not in the student "
                       "edition: write your own probability_ratio in the notebook and run its cell (the library calls it from there)")
    train = subprocess.run([str(student_pythons["04"].parent / "rl-course"), "train", "--steps", "256", "--no-gif", "--out", str(tmp_path)],
                           capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert train.returncode == 2 and train.stderr.startswith(
        "rl-course: error: rl_course.ppo.trainer.train is the answer of assignment 04_ppo and is not in the student edition"), train.stderr
    only_the_sweep = textwrap.dedent("""
        from rl_course import envs, tabular
        try:
            tabular.td_lambda_sweep(tabular.random_walk_runs(3, 2), envs.random_walk_true_values(), [0.1], [0.9], progress=False)
        except NotImplementedError as error:
            print(error)
    """)
    for window, assignment in (("01", "01_td_lambda"), ("02", "02_forward_backward")):
        result = subprocess.run([str(student_pythons[window]), "-c", only_the_sweep], capture_output=True, text=True, cwd=tmp_path,
                                timeout=300)
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines()[0] == (
            f"rl_course.tabular.td_lambda_sweep is the answer of assignment {assignment} and is not in the student edition: "
            "tabular.td_lambda_sweep_loop(runs, v_true, alphas, lams, episode_fn=your_episode_function) computes the same numbers"), result


@pytest.mark.notebook
def test_05s_training_in_the_student_edition_is_the_students_own(student_pythons, tmp_path):
    """In 05's window, PPO on Pendulum computes with the student's functions (the notebook's __main__): with the solution's
    they train (the policy moves: approx-KL > 0 every update); with a gaussian_log_prob that returns the right values
    without their gradient (through numpy) the policy never moves; without a scale_rewards the run says what to write."""
    solution = nbformat.read(ROOT / "solutions" / "05_continuous" / NOTEBOOKS["05_continuous"], as_version=4)
    answers = tmp_path / "answers.py"
    answers.write_text("\n\n".join(c.source for c in solution.cells if c.metadata.get("nbgrader", {}).get("solution")))
    script = textwrap.dedent(f"""
        import json
        import numpy as np
        import torch
        from rl_course import ppo
        exec(open({str(answers)!r}).read())

        def approx_kls():
            config = ppo.PPOConfig.for_env("Pendulum-v1", seed=0, total_steps=4096, n_steps=256)
            return [row["approx_kl"] for row in ppo.train(config, progress=False).history]

        right = approx_kls()
        def gaussian_log_prob(mean, log_std, actions):
            per_dim = -((actions - mean) ** 2) / (2 * torch.exp(2 * log_std)) - log_std - 0.5 * np.log(2 * np.pi)
            return torch.as_tensor(per_dim.detach().numpy().sum(-1))
        detached = approx_kls()
        del scale_rewards
        try:
            approx_kls()
        except NotImplementedError as error:
            print(error)
        print(json.dumps([right, detached]))
    """)
    result = subprocess.run([str(student_pythons["05"]), "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    message, runs = result.stdout.splitlines()[-2:]
    right, detached = json.loads(runs)
    assert len(right) == len(detached) == 2  # two updates
    assert all(kl > 1e-5 for kl in right), right
    assert all(abs(kl) < 1e-9 for kl in detached), detached  # ρ = 1 throughout, to rounding
    assert message == ("rl_course.ppo.normalization.scale_rewards is the answer of assignment 05_continuous and is not in the "
                       "student edition: write your own scale_rewards in the notebook and run its cell (the library calls it "
                       "from there)"), message


# ---------------------------------------------------------------- graded by the instructor's edition


IMPORTS_REFERENCE = '''def gae(rewards, values, next_values, terminated, truncated, gamma, lam):
    from rl_course.advantages import gae as library_gae
    return library_gae(rewards, values, next_values, terminated, truncated, gamma, lam)
'''
# The library's answers reached by a name the bytecode does not hold: the grading kernel of 03 (04) has none to reach.
REACHES_REFERENCE = {"03_gae": ("collect_rollout", '''def collect_rollout(envs, observations, policy, value, n_steps):
    return getattr(rollouts, "collect_" + "rollout")(envs, observations, policy, value, n_steps)
'''), "04_ppo": ("clipped_surrogate", '''def clipped_surrogate(ratio, advantages, eps):
    return getattr(ppo.losses, "clipped_" + "surrogate")(ratio, advantages, eps)
''')}


@pytest.fixture(scope="module")
def graded_runs(student_runs, editions, tmp_path_factory):
    """Grade with the instructor's edition, in one call: each notebook run in the student edition (the cells that only
    demonstrate left out, as in test_course) and a 03 whose gae imports the library's. The untouched notebooks an
    edition hands out are those of notebooks/, which test_course grades."""
    tmp = tmp_path_factory.mktemp("graded")
    submitted = tmp / "submitted"
    for assignment, (path, _) in student_runs.items():
        nb = without_demo_cells(nbformat.read(path, as_version=4))
        (submitted / "solved_in_student_edition" / assignment).mkdir(parents=True)
        nbformat.write(nb, submitted / "solved_in_student_edition" / assignment / NOTEBOOKS[assignment])
    _submit_imports_reference(submitted)
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = cli.main(["grade", str(submitted), "--json", "--csv", str(tmp / "grades.csv"), "--jobs", "2",
                         "--db", f"sqlite:///{tmp / 'gradebook.db'}", "--course", str(ROOT)])
    assert code == 0, stderr.getvalue()
    return json.loads(stdout.getvalue()), stderr.getvalue()


@pytest.mark.notebook
@pytest.mark.parametrize("assignment", ALL)
def test_a_notebook_done_in_the_student_edition_earns_full_marks_and_untouched_zero(graded_runs, editions, assignment):
    scores, stderr = graded_runs
    full = FULL_MARKS[assignment]
    assert scores["solved_in_student_edition"][assignment] == {"score": full, "max_score": full}, stderr
    # untouched, it is the release of notebooks/, byte for byte: test_course's untouched student, graded to 0
    handed_out = editions[assignment[:2]].notebooks / assignment / NOTEBOOKS[assignment]
    assert handed_out.read_bytes() == (ROOT / "notebooks" / assignment / NOTEBOOKS[assignment]).read_bytes()


def _submit_imports_reference(submitted: Path) -> None:
    """A solution of 03 whose gae imports the library's, as one written against the student edition might, and
    solutions of 03 and 04 that reach the library's answers by getattr."""
    cheats = [("imports_reference", "03_gae", "gae", IMPORTS_REFERENCE)]
    cheats += [("reaches_reference", assignment, grade_id, source) for assignment, (grade_id, source) in REACHES_REFERENCE.items()]
    for student, assignment, grade_id, source in cheats:
        cheat = without_demo_cells(_with_solutions_pasted(ROOT / "notebooks" / assignment / NOTEBOOKS[assignment], assignment))
        next(c for c in cheat.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id).source = source
        (submitted / student / assignment).mkdir(parents=True)
        nbformat.write(cheat, submitted / student / assignment / NOTEBOOKS[assignment])


@pytest.mark.notebook
def test_a_submission_that_imports_a_withheld_answer_gets_the_guards_feedback(graded_runs):
    scores, stderr = graded_runs
    block = stderr.split("graded imports_reference/03_gae:")[1].split("\ngraded ")[0]
    lines = [line.strip() for line in block.splitlines()[1:]]
    assert scores["imports_reference"]["03_gae"]["score"] == FULL_MARKS["03_gae"] - 5  # the five gae tests, a point each
    assert lines and all("AssertionError: gae uses the library's reference implementation rl_course.advantages.gae; write the "
                         "computation yourself, without calling rl_course's solution" in line for line in lines), lines
    assert "Traceback" not in stderr


@pytest.mark.notebook
@pytest.mark.parametrize("assignment, tests, calls", [
    ("03_gae", {"test_collect_basic", "test_collect_truncation", "test_collect_episode_ends"}, "rl_course.rollouts.collect_rollout"),
    ("04_ppo", {"test_surrogate_values", "test_surrogate_positive_advantage", "test_surrogate_negative_advantage"},
     "rl_course.ppo.losses.clipped_surrogate")])
def test_a_submission_that_reaches_a_withheld_answer_by_a_computed_name_finds_none_in_the_grading_kernel(graded_runs, assignment,
                                                                                                        tests, calls):
    scores, stderr = graded_runs
    block = stderr.split(f"graded reaches_reference/{assignment}:")[1].split("\ngraded ")[0]
    failing = {line.split()[1]: line.strip() for line in block.splitlines()[1:]}
    # the tests of the function lose their points; those of functions that call it (04's ppo_update) may lose theirs
    assert tests <= set(failing) and scores["reaches_reference"][assignment]["score"] <= FULL_MARKS[assignment] - len(tests), block
    assert all(f"AnswerWithheld: your {calls.rsplit('.', 1)[1]} calls {calls}, the answer of assignment {assignment}" in failing[test]
               for test in tests), block


@pytest.mark.notebook
def test_a_students_jupyterlab_has_the_student_tools_of_nbgrader_only(editions, tmp_path):
    from importlib.metadata import version

    python = _student_env(tmp_path / "venv", editions["01"].wheel, *(f"{name}=={version(name)}" for name in JUPYTER))
    jupyter = python.parent / "jupyter"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "VIRTUAL_ENV"))}
    env.update(JUPYTER_CONFIG_DIR=str(tmp_path / "user-config"), NO_COLOR="1")  # a student without settings of their own
    lab = subprocess.run([str(jupyter), "labextension", "list"], capture_output=True, text=True, env=env, cwd=tmp_path)
    lab = lab.stdout + lab.stderr
    disabled = lab.split("Disabled extensions:")[1].split()
    assert {"@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment", "@jupyter/nbgrader:course-list",
            "@jupyter/nbgrader:assignment-list", "@jupyter/nbgrader:menu"} <= set(disabled)  # a laptop has no exchange
    assert "@jupyter/nbgrader:validate-assignment" not in disabled
    server = subprocess.run([str(jupyter), "server", "extension", "list"], capture_output=True, text=True, env=env,
                            cwd=tmp_path)
    server = server.stdout + server.stderr
    state = dict(re.findall(r"^\s*(nbgrader\.server_extensions\.\w+) \S*(enabled|disabled)", server, re.M))
    assert state == {"nbgrader.server_extensions.formgrader": "disabled", "nbgrader.server_extensions.course_list": "disabled",
                     "nbgrader.server_extensions.assignment_list": "disabled",
                     "nbgrader.server_extensions.validate_assignment": "enabled"}, server
