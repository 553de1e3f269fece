"""The student edition: what a student installs for an assignment window, without its answers.

This repository is the instructor's edition: the answers (``solutions/``), the hidden tests, and the
library's reference implementation of every graded function. For each assignment window the
instructor builds the student edition from it::

    rl-course student-edition --open 03 --solved 01 02 --out student-edition/

    student-edition/rl_course-0.1.0+student-py3-none-any.whl   the library; pip install it
    student-edition/notebooks/03_gae/gae.ipynb                 the released notebooks of the open assignments
                                                               (with the files they show, ``ASSETS``)

In the wheel, every graded function (``@reference``) of an open or future assignment keeps its
signature, docstring and mark, and its body is replaced by a call to ``rl_course.withheld.own_answer``:
the library then uses the function of the same name that the student wrote in the notebook, or says
clearly that the answer is not in this edition. Nothing else changes: environments, rollouts,
networks, plotting, the checks that test cells call. The answers of ``solved`` assignments (whose
deadline has passed) are kept, so that 04 trains with the GAE of 03 once 03 is closed. The wheel
holds source only, no bytecode. It also ships a Jupyter configuration that turns off the nbgrader
extensions only an instructor uses (Formgrader, Create Assignment, Course List).

``ANSWERS`` says which assignment each ``@reference`` belongs to, and under which name the notebook
defines the student's own; a test keeps it complete. ``COMPANIONS`` are functions that hold an answer in
another form (GAE on tensors, the vectorized TD(λ) sweep): withheld with it. A notebook that would use one
of them asks ``rl_course.withheld.is_withheld`` and, in the student edition, uses the student's own function.
``scan`` looks for answers in a set of files (the function bodies, compared as normalized syntax trees; the hidden tests' lines; files of
``solutions/``); the builder refuses an edition in which it finds any.
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import hashlib
import importlib
import io
import json
import pkgutil
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

import rl_course
from rl_course.course.judge import DEMO
from rl_course.course.layout import RELEASE_DIR, SOURCE_DIR, CourseError, assignments
from rl_course.course.release import check_release
from rl_course.course.tampering import parse_code
from rl_course.reference import is_reference

PACKAGE = "rl_course"


@dataclass(frozen=True)
class Answer:
    """Where a graded function is taught: its assignment, and the name of the student's own in that notebook
    (None where the notebook does not ask for it)."""

    assignment: str
    notebook_name: str | None = None
    also: tuple[str, ...] = ()  # further assignments whose answers it holds too: withheld while any of them is
    instead: str | None = None  # what a notebook that needs it does in the student edition, where no notebook_name says

    @property
    def assignments(self) -> tuple[str, ...]:
        return (self.assignment, *self.also)


# Every @reference of the library (module.qualname), with the assignment whose answer it is.
ANSWERS: dict[str, Answer] = {
    "rl_course.tabular.td_error": Answer("01_td_lambda", "td_error"),
    "rl_course.tabular.td_lambda_episode": Answer("01_td_lambda", "td_lambda_episode"),
    "rl_course.tabular.rms_error": Answer("01_td_lambda", "rms_error"),
    "rl_course.advantages.td_errors": Answer("02_forward_backward", "td_errors"),
    "rl_course.advantages.n_step_estimates": Answer("02_forward_backward", "n_step_estimates"),
    "rl_course.advantages.lambda_estimates": Answer("02_forward_backward", "lambda_estimates"),
    "rl_course.advantages.backward_view_estimates": Answer("02_forward_backward", "backward_view_estimates"),
    "rl_course.tabular.offline_lambda_return_episode": Answer("02_forward_backward", "offline_lambda_return_episode"),
    "rl_course.tabular.true_online_td_lambda_episode": Answer("02_forward_backward", "true_online_td_lambda_episode"),
    "rl_course.rollouts.collect_rollout": Answer("03_gae", "collect_rollout"),
    "rl_course.advantages.batch_td_errors": Answer("03_gae", "td_errors"),
    "rl_course.advantages.gae": Answer("03_gae", "gae"),
    "rl_course.ppo.losses.probability_ratio": Answer("04_ppo", "probability_ratio"),
    "rl_course.ppo.losses.clipped_surrogate": Answer("04_ppo", "clipped_surrogate"),
    "rl_course.ppo.losses.clipped_value_loss": Answer("04_ppo", "clipped_value_loss"),
    "rl_course.ppo.losses.normalize_advantages": Answer("04_ppo", "normalize_advantages"),
    "rl_course.ppo.trainer.update": Answer("04_ppo", "ppo_update"),
    "rl_course.ppo.trainer.train": Answer("04_ppo", "train_ppo"),
    "rl_course.ppo.distributions.gaussian_log_prob": Answer("05_continuous", "gaussian_log_prob"),
    "rl_course.ppo.distributions.gaussian_entropy": Answer("05_continuous", "gaussian_entropy"),
    "rl_course.ppo.distributions.sample_actions": Answer("05_continuous", "sample_actions"),
    "rl_course.ppo.distributions.gaussian_kl": Answer("05_continuous", "gaussian_kl"),
    "rl_course.ppo.normalization.update_running_stats": Answer("05_continuous", "update_running_stats"),
    "rl_course.ppo.normalization.normalize_observations": Answer("05_continuous", "normalize_observations"),
    "rl_course.ppo.normalization.scale_rewards": Answer("05_continuous", "scale_rewards"),
    "rl_course.ppo.networks.orthogonal_matrix": Answer("05_continuous", "orthogonal_matrix"),
    "rl_course.ppo.optimization.linear_schedule": Answer("05_continuous", "linear_schedule"),
    "rl_course.ppo.optimization.clip_grad_norm_": Answer("05_continuous", "clip_grad_norm_"),
    "rl_course.ppo.losses.kl_penalty_objective": Answer("05_continuous", "kl_penalty_objective"),
    "rl_course.ppo.losses.adapt_kl_coef": Answer("05_continuous", "adapt_kl_coef"),
}

# Functions that hold an answer in another form without being a reference of their own: withheld with it.
COMPANIONS: dict[str, Answer] = {
    "rl_course.advantages.gae_torch": Answer("03_gae"),  # GAE on torch tensors: the same recursion
    "rl_course.ppo.trainer.run_epochs": Answer("04_ppo"),  # the epochs of minibatch steps of ppo_update
    "rl_course.ppo.trainer.clipped_update": Answer("04_ppo"),  # ppo_update with L^CLIP
    "rl_course.ppo.trainer.kl_penalty_update": Answer("04_ppo"),  # ppo_update with the KL penalty instead
    # TD(λ) with accumulating and replacing traces, online and offline (01), and true online TD(λ) (02), over arrays
    "rl_course.tabular.td_lambda_sweep": Answer(
        "01_td_lambda", also=("02_forward_backward",),
        instead="tabular.td_lambda_sweep_loop(runs, v_true, alphas, lams, episode_fn=your_episode_function) computes the same numbers"),
}

# References that no assignment asks for, which demos of the notebooks run: kept in every edition.
NOT_ASKED: dict[str, str] = {
    "rl_course.tabular.online_lambda_return_episode": "the online λ-return of 02's figure, which no notebook asks for",
}

# Files of the repository that an assignment's notebook shows, handed out next to it (a student's edition has no docs/).
ASSETS: dict[str, tuple[str, ...]] = {
    "05_continuous": ("docs/figures/pendulum_ablations.png",),  # the ablations recorded by benchmarks/ablations.py
}

# What a student's JupyterLab loads: nbgrader's Validate button, nothing that needs a course's exchange or gradebook
# (on a laptop the Assignment List could only report "The exchange directory does not exist"). A course hub turns
# the Assignment List and the Nbgrader menu back on in its own, higher-priority, configuration.
# Validate (the button and `rl-course validate`) gives a cell as long as grading does (nbgrader_config.py's 300 s;
# nbgrader's own 30 s would stop the training runs of 04 and 05 and report a traceback instead of a verdict), and
# waits for a busy laptop's last outputs (nbclient's 4 s would do the same); it skips the cells tagged `demo`, as grading
# does (nbclient's skip_cells_with_tag, for the Execute that Validate runs only).
JUPYTER_CONFIG = {
    "etc/jupyter/nbgrader_config.json": {"Execute": {"timeout": 300, "iopub_timeout": 30},
                                         "Validator": {"Execute": {"skip_cells_with_tag": DEMO}}},
    "etc/jupyter/jupyter_server_config.d/rl_course_student.json": {
        "ServerApp": {"jpserver_extensions": {"nbgrader.server_extensions.formgrader": False,
                                              "nbgrader.server_extensions.course_list": False,
                                              "nbgrader.server_extensions.assignment_list": False}}},
    "etc/jupyter/labconfig/page_config.json": {
        "disabledExtensions": {"@jupyter/nbgrader:formgrader": True, "@jupyter/nbgrader:create-assignment": True,
                               "@jupyter/nbgrader:course-list": True, "@jupyter/nbgrader:assignment-list": True,
                               "@jupyter/nbgrader:menu": True,
                               "@jupyterlab/apputils-extension:announcements": True}},  # no "Jupyter news?" pop-up
}


@dataclass
class Edition:
    """A built student edition: the wheel, the folder of notebooks, and which assignments it opens, keeps and withholds."""

    wheel: Path
    notebooks: Path
    open: list[str]
    solved: list[str]
    withheld: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- the answers of the library


def references() -> dict[str, object]:
    """Every ``@reference`` function of the installed library, by ``module.qualname`` where it is defined."""
    found = {}
    for module_info in pkgutil.walk_packages(rl_course.__path__, prefix=f"{PACKAGE}."):
        module = importlib.import_module(module_info.name)
        for obj in vars(module).values():
            if is_reference(obj) and obj.__module__ == module.__name__:
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return found


def unmapped_references(found=None) -> list[str]:
    """The references (default: the library's, ``references()``) that ``ANSWERS`` and ``NOT_ASKED`` do not
    place, and the entries that name no reference, one line each."""
    found = set(references() if found is None else found)
    placed = set(ANSWERS) | set(NOT_ASKED)
    return sorted(f"{name}: a @reference with no assignment in rl_course.course.edition.ANSWERS" for name in found - placed) + \
        sorted(f"{name}: listed in rl_course.course.edition but not a @reference" for name in placed - found)


def resolve(course_root: Path, given: list[str], what: str) -> list[str]:
    """The assignment folders named by ``given`` ("03", "03_gae"), in course order; a clear error for an unknown one."""
    known = assignments(course_root)
    chosen = []
    for name in given:
        matches = [a for a in known if a == name or a.split("_")[0] == name]
        if len(matches) != 1:
            raise CourseError(f"{what} {name}: no such assignment (this course has: {', '.join(known)})")
        chosen.append(matches[0])
    return sorted(set(chosen))


def withheld_functions(withheld_assignments: list[str]) -> dict[str, Answer]:
    """The functions (``module.qualname``) whose bodies the edition replaces: those holding an answer of a withheld
    assignment, each with the first such assignment as its ``assignment``."""
    found = {}
    for name, answer in {**ANSWERS, **COMPANIONS}.items():
        withheld = [a for a in answer.assignments if a in withheld_assignments]
        if withheld:
            found[name] = answer if withheld[0] == answer.assignment else dataclasses.replace(answer, assignment=withheld[0])
    return found


# ---------------------------------------------------------------- building


def build(course_root: Path, open_: list[str], solved: list[str] = (), out: Path | None = None) -> Edition:
    """Build the student edition for a window in which ``open_`` are open and ``solved`` are closed, into ``out``.

    Raises ``CourseError`` if ``notebooks/`` is out of date, an assignment is both open and solved,
    or the scan finds an answer in what was built.
    """
    course_root = Path(course_root).resolve()
    open_, solved = resolve(course_root, list(open_), "--open"), resolve(course_root, list(solved), "--solved")
    if not open_:
        raise CourseError("--open: name at least one assignment")
    both = sorted(set(open_) & set(solved))
    if both:
        raise CourseError(f"{', '.join(both)}: both open and solved; an assignment is one or the other")
    problems = unmapped_references()
    if problems:
        raise CourseError("; ".join(problems))
    out = Path(out or course_root / "student-edition").resolve()
    earlier = out.exists() and any(out.iterdir())
    if earlier and (not (out / "notebooks").is_dir() or not list(out.glob("*.whl"))):
        raise CourseError(f"--out {out}: not empty and not an earlier student edition; choose an empty folder")
    stale = [line for line in _release_problems(course_root) if line.split("/")[1:2] and line.split("/")[1] in open_]
    if stale:
        raise CourseError(f"{stale[0]}: run `rl-course release` first")
    withheld = [a for a in assignments(course_root) if a not in solved]
    if earlier:
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    notebooks = out / "notebooks"
    for assignment in open_:
        shutil.copytree(course_root / RELEASE_DIR / assignment, notebooks / assignment,
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        for asset in ASSETS.get(assignment, ()):
            if not (course_root / asset).is_file():
                raise CourseError(f"{asset}: the notebook of {assignment} shows it, and it is not in {course_root}")
            shutil.copy(course_root / asset, notebooks / assignment / Path(asset).name)
    wheel = build_wheel(course_root, withheld, out)
    edition = Edition(wheel=wheel, notebooks=notebooks, open=open_, solved=solved, withheld=withheld)
    findings = scan(edition_files(edition), course_root, withheld)
    if findings:
        shutil.rmtree(out)
        raise CourseError(f"the student edition would hold answers, so none was written: {findings[0]}"
                          + (f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""))
    return edition


_RELEASE_CHECKED: dict[tuple[str, str], list[str]] = {}


def _release_problems(course_root: Path) -> list[str]:
    """``check_release``, run once for the same files: editions of several windows built in one process
    (the tests build one per window) regenerate the release once, not once each."""
    digest = hashlib.sha256()
    for path in sorted(p for folder in (SOURCE_DIR, RELEASE_DIR) for p in (course_root / folder).rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(course_root)).encode() + b"\0" + path.read_bytes() + b"\0")
    for path in sorted(course_root.glob("nbgrader_config.py")):
        digest.update(path.read_bytes())
    key = (str(course_root), digest.hexdigest())
    if key not in _RELEASE_CHECKED:
        _RELEASE_CHECKED[key] = check_release(course_root)
    return list(_RELEASE_CHECKED[key])


def build_wheel(course_root: Path, withheld_assignments: list[str], out: Path) -> Path:
    """The library's wheel with the answers of ``withheld_assignments`` replaced by ``own_answer``; returns its path."""
    with tempfile.TemporaryDirectory(prefix="rl-course-edition-") as tmp:
        stage = Path(tmp) / "stage"
        write_library(course_root, withheld_assignments, stage)
        config = Path(tmp) / "jupyter-config"
        for name, content in JUPYTER_CONFIG.items():
            (config / name).parent.mkdir(parents=True, exist_ok=True)
            (config / name).write_text(json.dumps(content, indent=2) + "\n")
        shutil.copy(course_root / "README.md", stage / "README.md")
        (stage / "pyproject.toml").write_text(_student_pyproject((course_root / "pyproject.toml").read_text(), config))
        result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                                 "--quiet", "--wheel-dir", str(out), str(stage)], capture_output=True, text=True)
        if result.returncode != 0:
            raise CourseError(f"the student wheel could not be built: {(result.stderr or result.stdout).strip().splitlines()[-1]}")
    wheels = sorted(out.glob("rl_course-*.whl"))
    if len(wheels) != 1:
        raise CourseError(f"{out}: expected one wheel after the build, found {len(wheels)}")
    return wheels[0]


LIBRARY_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.so")  # what of the library's folder an edition leaves out


def write_library(course_root: Path, withheld_assignments: list[str], folder: Path) -> Path:
    """The library's package (source only) copied into ``folder`` with the answers of ``withheld_assignments``
    replaced by ``own_answer``, as the student wheel holds it; returns the package's folder, ``folder/rl_course``."""
    functions = withheld_functions(withheld_assignments)
    package = Path(folder) / PACKAGE
    shutil.copytree(library_folder(course_root), package, ignore=LIBRARY_IGNORED)
    done = set()
    for path in sorted(package.rglob("*.py")):
        module = ".".join(path.relative_to(folder).with_suffix("").parts).removesuffix(".__init__")
        source, replaced = withhold(path.read_text(), module, functions)
        path.write_text(source)
        done |= replaced
    missing = sorted(set(functions) - done)
    if missing:
        raise CourseError(f"{missing[0]}: listed in rl_course.course.edition but not found in the library's source")
    return package


def _student_pyproject(text: str, jupyter_config: Path) -> str:
    """The course's pyproject.toml with a ``+student`` version and the Jupyter configuration as data files."""
    text, n = re.subn(r'(?m)^version = "([^"+]+)"', r'version = "\1+student"', text)
    if n != 1:
        raise CourseError("pyproject.toml: no version line to mark as the student edition")
    folders: dict[str, list[str]] = {}
    for name in JUPYTER_CONFIG:
        folders.setdefault(str(Path(name).parent), []).append(str(jupyter_config / name))
    return text + "\n[tool.setuptools.data-files]\n" + "".join(f'"{k}" = {json.dumps(v)}\n' for k, v in folders.items())


def withhold(source: str, module: str, functions: dict[str, Answer]) -> tuple[str, set[str]]:
    """``source`` with the body of each function of ``functions`` defined in it replaced by a call to
    ``own_answer`` (signature, decorators and docstring kept); returns it and the names replaced."""
    tree = ast.parse(source)
    lines = source.splitlines(keepends=True)
    found = []
    for node, qualname in _functions(tree):
        name = f"{module}.{qualname}"
        if name in functions:
            found.append((node, name))
    for node, name in sorted(found, key=lambda pair: pair[0].lineno, reverse=True):
        body = node.body[1:] if ast.get_docstring(node) is not None else node.body
        first, last = body[0].lineno, node.end_lineno
        if first == node.lineno:
            raise CourseError(f"{name}: its body shares a line with its signature; write it on lines of its own")
        indent = re.match(r"\s*", lines[first - 1]).group(0)
        answer = functions[name]
        instead = f", instead={answer.instead!r}" if answer.instead else ""
        stub = (f"{indent}from rl_course.withheld import own_answer\n\n"
                f"{indent}return own_answer({name!r}, {answer.assignment!r}, {answer.notebook_name!r}, locals(){instead})\n")
        lines[first - 1:last] = [stub]
    return "".join(lines), {name for _, name in found}


def _functions(tree: ast.Module):
    """(node, qualname) of every function defined at module level or in a class."""
    def walk(body, prefix):
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield node, prefix + node.name
            elif isinstance(node, ast.ClassDef):
                yield from walk(node.body, f"{prefix}{node.name}.")
    yield from walk(tree.body, "")


# ---------------------------------------------------------------- the scan


def edition_files(edition: Edition) -> dict[str, bytes]:
    """Every file of an edition, by a name that says where it is: the wheel's members and the notebooks."""
    files = {}
    with zipfile.ZipFile(edition.wheel) as wheel:
        for member in wheel.namelist():
            files[f"{edition.wheel.name}/{member}"] = wheel.read(member)
    for path in sorted(p for p in edition.notebooks.rglob("*") if p.is_file()):
        files[str(path.relative_to(edition.notebooks.parent))] = path.read_bytes()
    return files


def instructor_files(course_root: Path) -> dict[str, bytes]:
    """The instructor's edition as it would be handed out: the library's source and the assignment folders."""
    course_root = Path(course_root)
    files = {}
    for folder in (PACKAGE, SOURCE_DIR, RELEASE_DIR):
        for path in sorted(p for p in (course_root / folder).rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            files[str(path.relative_to(course_root))] = path.read_bytes()
    return files


def scan(files: dict[str, bytes], course_root: Path, withheld_assignments: list[str]) -> list[str]:
    """What of the answers of ``withheld_assignments`` the files hold, one line each (empty when none):

    - a function whose body is, up to names and formatting, that of a withheld reference of the
      instructor's library or of a solution in ``solutions/`` (syntax trees compared, names numbered
      in order of appearance, docstrings left out);
    - a line of a hidden test of any assignment (one that the visible cells do not also hold);
    - a file of ``solutions/``, by its content or a path through it, or an nbgrader solution or hidden-test marker;
    - compiled code (``.pyc``, ``.so``), which could hold an answer no reading finds.
    """
    course_root = Path(course_root)
    answers = _answer_bodies(course_root, withheld_assignments)
    hidden = _hidden_lines(course_root)
    solution_files = {p.read_bytes(): str(p.relative_to(course_root))
                      for p in (course_root / SOURCE_DIR).rglob("*") if p.is_file()}
    findings = []
    for name, content in sorted(files.items()):
        if content in solution_files:
            findings.append(f"{name}: the file {solution_files[content]}")
        if f"/{SOURCE_DIR}/" in f"/{name}":
            findings.append(f"{name}: a file of {SOURCE_DIR}/")
        if name.endswith((".pyc", ".pyo", ".so", ".pyd")):
            findings.append(f"{name}: compiled code")
            continue
        for source, where in _code_of(name, content):
            for marker in ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS") if name.endswith(".ipynb") else ():
                if f"### {marker}" in source:
                    findings.append(f"{where}: the nbgrader marker {marker}")
            tree = parse_code(source)
            for node in ast.walk(tree) if tree is not None else ():
                if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    body = normalized_body(node)
                    if body in answers:
                        findings.append(f"{where}: {node.name} holds the answer {'; '.join(answers[body])}")
            text_lines = {line.strip() for line in source.splitlines()}
            for line in sorted(text_lines & set(hidden)):
                findings.append(f"{where}: a line of the hidden tests of {hidden[line]}: {line[:80]}")
    return findings


def normalized_body(node: ast.FunctionDef) -> str:
    """The function's body without its docstring, as a syntax tree whose names and parameters are numbered
    in order of first appearance: renaming variables or reformatting the code does not change it."""
    body = node.body[1:] if ast.get_docstring(node) is not None and len(node.body) > 1 else node.body
    module = ast.Module(body=copy.deepcopy(body), type_ignores=[])
    numbers: dict[str, str] = {}
    for arg in node.args.posonlyargs + node.args.args + node.args.kwonlyargs:
        numbers.setdefault(arg.arg, f"_{len(numbers)}")
    for child in ast.walk(module):
        if isinstance(child, ast.Name):
            child.id = numbers.setdefault(child.id, f"_{len(numbers)}")
        elif isinstance(child, ast.arg):
            child.arg = numbers.setdefault(child.arg, f"_{len(numbers)}")
    return ast.dump(module, annotate_fields=False)


def _answer_bodies(course_root: Path, withheld_assignments: list[str]) -> dict[str, list[str]]:
    """Normalized body → what it is, for every withheld reference and every solution function of a withheld assignment."""
    bodies: dict[str, list[str]] = {}
    package = library_folder(course_root)
    functions = withheld_functions(withheld_assignments)
    for path in sorted(package.rglob("*.py")):
        module = ".".join(path.relative_to(package.parent).with_suffix("").parts).removesuffix(".__init__")
        for node, qualname in _functions(ast.parse(path.read_text())):
            name = f"{module}.{qualname}"
            if name in functions:
                bodies.setdefault(normalized_body(node), []).append(f"{name} (assignment {functions[name].assignment})")
    for assignment in withheld_assignments:
        for path in sorted((course_root / SOURCE_DIR / assignment).glob("*.ipynb")):
            for cell in nbformat.read(path, as_version=4).cells:
                if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution"):
                    for node in ast.walk(parse_code(cell.source) or ast.Module(body=[], type_ignores=[])):
                        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                            bodies.setdefault(normalized_body(node), []).append(f"{node.name} of {SOURCE_DIR}/{assignment}/{path.name}")
    return bodies


def _hidden_lines(course_root: Path) -> dict[str, str]:
    """Each stripped line of a hidden test that neither a visible cell of the source notebooks nor the library holds,
    with its assignment."""
    hidden, visible = {}, set()
    for path in sorted((course_root / SOURCE_DIR).glob("*/*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            inside = False
            for line in cell.source.splitlines():
                stripped = line.strip()
                if stripped == "### BEGIN HIDDEN TESTS":
                    inside = True
                elif stripped == "### END HIDDEN TESTS":
                    inside = False
                elif inside and len(stripped) > 24 and not stripped.startswith("#"):
                    hidden.setdefault(stripped, path.parent.name)
                elif not inside and not cell.metadata.get("nbgrader", {}).get("solution"):
                    visible.add(stripped)
    for path in library_folder(course_root).rglob("*.py"):  # code of the library is no secret of a test
        visible.update(line.strip() for line in path.read_text().splitlines())
    return {line: assignment for line, assignment in hidden.items() if line not in visible}


def library_folder(course_root: Path) -> Path:
    """The library's source: the course's own ``rl_course/``, else the installed one."""
    own = Path(course_root) / PACKAGE
    return own if (own / "__init__.py").is_file() else Path(rl_course.__file__).resolve().parent


def _code_of(name: str, content: bytes):
    """(code, where) for a Python file, or each code cell of a notebook; nothing for other files."""
    if name.endswith(".py"):
        yield content.decode("utf-8", errors="replace"), name
    elif name.endswith(".ipynb"):
        try:
            nb = nbformat.read(io.StringIO(content.decode("utf-8")), as_version=4)
        except Exception:  # not a notebook: nothing to read as code
            return
        for number, cell in enumerate(nb.cells, start=1):
            if cell.cell_type == "code":
                yield cell.source, f"{name} cell {number}"
