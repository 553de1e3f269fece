"""The grading sandbox: a submission's kernel sees its own working copy and the installed packages, nothing
else of the course; it cannot write outside its own folders, reach the network, or get past its caps.
Each attack below is graded through `rl-course feedback` beside an honest student, whose grade it must not touch."""

import copy
import csv
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import warnings
from pathlib import Path

import nbformat
import pytest
from helpers import gradebook_scores

from rl_course import cli
from rl_course.course import grading_edition, nbgrader_setup, sandbox

ASSIGNMENT, NOTEBOOK = "01_td_lambda", "td_lambda.ipynb"
CONFINED = sandbox.unavailable() is None

needs_the_sandbox = pytest.mark.skipif(
    not CONFINED and not os.environ.get("RL_COURSE_REQUIRE_SANDBOX"),
    reason=f"kernels cannot be confined here: {sandbox.unavailable()}")

# What each attack does, given the places it aims at; it prints "ATTACK SUCCEEDED" if it gets through (the words
# are joined as it runs, so that only its output, not its source in the feedback, can hold them).
PRELUDE = 'import os\nWON, LOST = "ATTACK " + "SUCCEEDED", "attack " + "failed:"\n'
ATTACKS = {
    "reads_a_solution": """
try:
    print(WON, len(open({solution!r}).read()))
except OSError as error:
    print(LOST, type(error).__name__)
""",
    "reads_another_submission": """
import glob
mine = os.getcwd()
theirs = [p for p in glob.glob("/tmp/**/*.ipynb", recursive=True) if not p.startswith(mine)]
try:
    print(WON, len(open({other!r}).read()), theirs)
except OSError as error:
    print(LOST, type(error).__name__, WON if theirs else "", theirs)
""",
    "writes_the_gradebook": """
import sqlite3
try:
    db = sqlite3.connect("file:{gradebook}?mode=rw", uri=True)
    db.execute("UPDATE grade SET auto_score = (SELECT max_score FROM grade_cells WHERE grade_cells.id = grade.cell_id)")
    db.commit()
    print(WON)
except sqlite3.Error as error:
    print(LOST, error)
""",
    "writes_outside_its_folder": """
from pathlib import Path
for target in [Path({outside!r}) / "planted.txt", Path.cwd().parents[2] / "planted.txt"]:
    try:
        target.write_text("planted")
        print(WON, target)
    except OSError as error:
        print(LOST, type(error).__name__, target)
""",
    "opens_a_network_connection": """
import socket
import subprocess
try:
    with socket.create_connection(("127.0.0.1", {port}), timeout=5) as s:
        s.sendall(b"stolen answers")
    print(WON)
except OSError as error:
    print(LOST, type(error).__name__)
""",
    "allocates_beyond_the_memory_cap": """
import numpy as np
try:
    hoard = np.empty(4 * 2**30, dtype=np.uint8)  # twice the cap, well within the machine's memory
    print(WON)
except MemoryError as error:
    print(LOST, "MemoryError")
""",
    "fork_bomb": """
import time
forked = 0
try:
    while forked < 100_000:
        if os.fork() == 0:
            time.sleep(120)
            os._exit(0)
        forked += 1
    print(WON, forked)
except OSError as error:
    print(LOST, type(error).__name__, "after", forked, "processes")
""",
}
SPIN = "spins_past_the_cpu_cap"  # its last cell spins: the CPU cap kills the kernel before the time limit stops the cell
CPU_LIMIT, TIMEOUT = 20, 120


@pytest.fixture(scope="module")
def attacked(course_root, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("attacked")
    submitted, outside, gradebook = tmp / "submitted", tmp / "outside", tmp / "gradebook.db"
    outside.mkdir()
    listener = socket.create_server(("127.0.0.1", 0))
    received = []
    threading.Thread(target=lambda: received.append(listener.accept()), daemon=True).start()
    places = dict(solution=str(course_root / "solutions" / ASSIGNMENT / NOTEBOOK), gradebook=str(gradebook),
                  other=str(submitted / "honest" / ASSIGNMENT / NOTEBOOK), outside=str(outside),
                  port=listener.getsockname()[1])
    solution = nbformat.read(course_root / "solutions" / ASSIGNMENT / NOTEBOOK, as_version=4)
    solution.cells = [c for c in solution.cells if c.metadata.get("nbgrader", {}).get("grade_id") not in {"sweep", "check_against_sweep"}]
    submissions = {"honest": solution}
    for name, attack in ATTACKS.items():
        nb = copy.deepcopy(solution)
        nb.cells.insert(3, nbformat.v4.new_code_cell(PRELUDE + attack.strip().format(**places)))
        submissions[name] = nb
    submissions["writes_the_gradebook"].cells = [  # and its answer to rms_error is wrong: 2 points it wants back
        c if c.metadata.get("nbgrader", {}).get("grade_id") != "rms_error" else
        nbformat.v4.new_code_cell(c.source.split("\n")[0] + "\n    return 0.0\n", metadata=c.metadata)
        for c in submissions["writes_the_gradebook"].cells]
    submissions[SPIN] = copy.deepcopy(solution)
    submissions[SPIN].cells.append(nbformat.v4.new_code_cell("while True:\n    pass"))
    for name, nb in submissions.items():
        (submitted / name / ASSIGNMENT).mkdir(parents=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the cells added here have no ids; nbgrader gives them some
            nbformat.write(nb, submitted / name / ASSIGNMENT / NOTEBOOK)
    code = cli.main(["feedback", str(submitted), "--out", str(tmp / "feedback"), "--csv", str(tmp / "grades.csv"),
                     "--db", f"sqlite:///{gradebook}", "--jobs", "2", "--timeout", str(TIMEOUT), "--memory-limit", "2G",
                     "--cpu-limit", str(CPU_LIMIT), "--course", str(course_root)])
    listener.close()
    rows = {r["student"]: r for r in csv.DictReader((tmp / "grades.csv").open())}
    pages = {name: (tmp / "feedback" / name / ASSIGNMENT / "td_lambda.html").read_text() for name in submissions}
    return dict(code=code, rows=rows, pages=pages, received=received, outside=outside, gradebook=gradebook, tmp=tmp)


@needs_the_sandbox
@pytest.mark.notebook
@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_the_attack_fails_and_costs_nobody_else_a_point(attacked, attack):
    assert attacked["code"] == 0
    page = attacked["pages"][attack]
    assert "attack failed" in page and "ATTACK SUCCEEDED" not in page, re.findall(r"ATTACK SUCCEEDED[^<]*", page)
    assert attacked["rows"]["honest"]["score"] == "12"
    expected = "10" if attack == "writes_the_gradebook" else "12"  # the attack itself changes nothing of the grading
    assert attacked["rows"][attack]["score"] == expected, attacked["rows"][attack]


@needs_the_sandbox
@pytest.mark.notebook
def test_nothing_leaves_the_sandbox(attacked):
    assert attacked["received"] == [], "a kernel reached a server on the grader's loopback"
    assert list(attacked["outside"].iterdir()) == []
    assert not list(attacked["tmp"].rglob("planted.txt"))
    scores = gradebook_scores(f"sqlite:///{attacked['gradebook']}")
    assert scores[("writes_the_gradebook", ASSIGNMENT)] == 10 and scores[("honest", ASSIGNMENT)] == 12


@needs_the_sandbox
@pytest.mark.notebook
def test_a_fork_bomb_stops_at_the_process_cap(attacked):
    forked = int(re.search(r"attack failed: \w+ after (\d+) processes", attacked["pages"]["fork_bomb"]).group(1))
    assert 0 < forked < sandbox.Sandbox().process_limit


@needs_the_sandbox
@pytest.mark.notebook
def test_a_kernel_that_spins_past_its_cpu_seconds_is_killed(attacked):
    page = attacked["pages"][SPIN]
    assert "the kernel died while this cell ran" in page
    assert attacked["rows"][SPIN]["score"] == "12"  # the tests before it keep their points


def test_the_kernel_sees_no_course_folder_and_writes_only_in_memory(course_root, tmp_path):
    workdir = tmp_path / "autograded" / "ann" / ASSIGNMENT
    workdir.mkdir(parents=True)
    (workdir / NOTEBOOK).write_text("{}")
    argv = sandbox.command(["python", "-m", "ipykernel_launcher"], workdir, tmp_path / "ipc", sandbox.Sandbox())
    bound = {argv[i + 1] for i, flag in enumerate(argv) if flag in ("--ro-bind", "--bind", "--ro-bind-try")}
    assert str(course_root) not in bound and str(course_root / "solutions") not in bound
    assert not any(path.startswith(str(course_root / "solutions")) for path in bound)
    assert str(course_root / "rl_course") in bound
    assert ["--ro-bind", str(workdir / NOTEBOOK), str(workdir / NOTEBOOK)] == argv[argv.index(str(workdir / NOTEBOOK)) - 1:][:3]
    assert "--unshare-net" in argv and "--clearenv" in argv
    writable = {argv[i + 1] for i, flag in enumerate(argv) if flag in ("--bind", "--tmpfs")}
    assert writable == {str(tmp_path / "ipc"), "/tmp", "/dev/shm", str(workdir)}


@pytest.mark.parametrize("text, size", [("512M", 512 * 2**20), ("8G", 8 * 2**30), ("1.5g", int(1.5 * 2**30)), ("4096", 4096),
                                        ("2GiB", 2 * 2**30)])
def test_sizes_are_read_in_powers_of_1024(text, size):
    assert sandbox.parse_size(text) == size


def test_a_bad_cap_is_a_one_line_error(course_root, tmp_path, capsys):
    (tmp_path / "submitted" / "ann" / ASSIGNMENT).mkdir(parents=True)
    assert cli.main(["grade", str(tmp_path / "submitted"), "--memory-limit", "lots", "--course", str(course_root)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rl-course: error: sandbox:") and "lots" in err and "\n" not in err


@pytest.mark.slow
def test_without_confinement_grading_warns_once_and_goes_on(course_root, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sandbox, "unavailable", lambda: "bwrap is not installed (Debian and Ubuntu: apt install bubblewrap)")
    (tmp_path / "submitted" / "ann" / ASSIGNMENT).mkdir(parents=True)  # nothing to run: a missing notebook
    assert cli.main(["grade", str(tmp_path / "submitted"), "--db", f"sqlite:///{tmp_path / 'gb.db'}", "--csv",
                     str(tmp_path / "grades.csv"), "--course", str(course_root)]) == 0
    warnings_ = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]
    assert warnings_ == ["warning: submissions run unconfined, with the grader's rights: bwrap is not installed "
                         "(Debian and Ubuntu: apt install bubblewrap); see the README's \"Grading sandbox\" to enable it"]
    assert nbgrader_setup.confinement(course_root, {"enabled": False}) == (False, None)


def test_a_python_reached_through_a_link_is_reached_the_same_way_inside(tmp_path, monkeypatch):
    real = tmp_path / "real-venv"
    (real / "bin").mkdir(parents=True)
    (tmp_path / "venv").symlink_to(real)
    monkeypatch.setattr(sandbox, "readable_paths", lambda library=None: [tmp_path / "venv"])
    argv = sandbox.command(["true"], tmp_path, tmp_path, sandbox.Sandbox())
    assert ["--symlink", str(real), str(tmp_path / "venv")] == argv[argv.index("--symlink"):][:3]
    assert ["--ro-bind", str(real), str(real)] == argv[argv.index(str(real), argv.index("--symlink") + 2) - 1:][:3]


# ---------------------------------------------------------------- the library a grading kernel imports

# Run in a grading kernel: which rl_course it imports, whether 01's td_error and 04's losses are withheld there, whether it can
# list the instructor's library, and whether an edit of the course's library (EDITED, added by the test) reached it.
PROBE = """
import json, os
import rl_course
from rl_course import tabular
from rl_course.ppo import losses
from rl_course.withheld import is_withheld
try:
    instructors = len(os.listdir({instructors!r}))
except OSError as error:
    instructors = type(error).__name__
print(json.dumps(dict(library=os.path.dirname(rl_course.__file__), td_error=is_withheld(tabular.td_error),
                      losses=is_withheld(losses.clipped_surrogate), instructors=instructors,
                      edited=getattr(tabular, "EDITED", None))))
"""


NOTEBOOKS = {"01_td_lambda": "td_lambda", "04_ppo": "ppo", "05_continuous": "continuous"}


def _kernel_reports(course, assignment: str, confined: bool, student_edition: bool | None, workdir) -> dict:
    """What PROBE prints in a kernel started by the Execute step of grading ``assignment``'s notebook in ``course``."""
    workdir.mkdir(parents=True)
    with nbgrader_setup.scratch_course(course, confined=confined, student_edition=student_edition) as (api, _):
        execute = next(step for step in api.config.Autograde.autograde_preprocessors if step.__name__ == "ExecuteUntilTheKernelDies")
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(PROBE.format(instructors=str(sandbox.instructors_library())))])
        resources = {"nbgrader": {"assignment": assignment, "notebook": NOTEBOOKS[assignment]}, "metadata": {"path": str(workdir)}}
        nb, _ = execute(config=api.config).preprocess(nb, resources)
    outputs = nb.cells[0].outputs
    assert [o.get("name") for o in outputs] == ["stdout"], outputs
    return json.loads(outputs[0]["text"])


@pytest.mark.slow
@pytest.mark.parametrize("confined", [pytest.param(True, marks=needs_the_sandbox, id="confined"), pytest.param(False, id="unconfined")])
def test_a_grading_kernel_holds_only_the_student_edition_of_its_window(course_copy, tmp_path, confined):
    shutil.copytree(sandbox.instructors_library(), course_copy / "rl_course", ignore=shutil.ignore_patterns("__pycache__"))
    editions = course_copy / grading_edition.CACHE_DIR
    off = _kernel_reports(course_copy, ASSIGNMENT, confined, False, tmp_path / "off")  # the instructor's library
    assert off["library"] == str(sandbox.instructors_library()) and not off["td_error"] and not off["losses"]
    assert isinstance(off["instructors"], int)
    first = _kernel_reports(course_copy, ASSIGNMENT, confined, None, tmp_path / "01")  # the default: the student edition
    assert first["library"].startswith(f"{editions}/{ASSIGNMENT}-"), first
    assert first["td_error"] and first["losses"]  # 01's own answer and 04's: withheld
    assert first["instructors"] in (["FileNotFoundError", "PermissionError"] if confined else [off["instructors"]])
    fifth = _kernel_reports(course_copy, "05_continuous", confined, True, tmp_path / "05")
    assert fifth["library"].startswith(f"{editions}/05_continuous-")
    assert not fifth["td_error"] and not fifth["losses"]  # 01 and 04 are solved by then
    fourth = _kernel_reports(course_copy, "04_ppo", confined, True, tmp_path / "04")
    assert fourth["library"].startswith(f"{editions}/04_ppo-")
    assert not fourth["td_error"] and fourth["losses"]  # 01 is solved by then; 04's own answers are withheld
    with open(course_copy / "rl_course" / "tabular.py", "a") as library:
        library.write('\nEDITED = "after the first build"\n')
    edited = _kernel_reports(course_copy, ASSIGNMENT, confined, True, tmp_path / "edited")
    assert edited["edited"] == "after the first build" and first["edited"] is None
    assert edited["library"] != first["library"] and edited["td_error"]


# Run in a grading kernel: a process in a session of its own, out of reach of a signal to the kernel's process group.
LINGERING = """
import subprocess
subprocess.Popen(["sleep", {marker!r}], start_new_session=True)
"""


def _processes_running(argv: list[str]) -> list[int]:
    """The processes of this machine whose command line is ``argv``."""
    wanted = "\0".join(argv).encode() + b"\0"
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "cmdline").read_bytes() == wanted:
                found.append(int(entry.name))
        except OSError:
            continue  # ended while listed
    return found


@pytest.mark.slow
@needs_the_sandbox
def test_no_process_a_confined_kernel_started_outlives_its_grading(course_root, tmp_path):
    marker = f"600.{os.getpid()}"  # sleep's seconds: a command line no other process has
    workdir = tmp_path / "work"
    workdir.mkdir()
    with nbgrader_setup.scratch_course(course_root, confined=True, student_edition=False) as (api, _):
        execute = next(step for step in api.config.Autograde.autograde_preprocessors if step.__name__ == "ExecuteUntilTheKernelDies")
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(LINGERING.format(marker=marker)),
                                             nbformat.v4.new_code_cell("print('last cell')")])
        nb, _ = execute(config=api.config).preprocess(nb, {"metadata": {"path": str(workdir)}})
    assert [o.get("text") for o in nb.cells[1].outputs] == ["last cell\n"], nb.cells[1].outputs
    try:
        assert _processes_running(["sleep", marker]) == [], "a process the kernel started outlived the grading"
    finally:
        for pid in _processes_running(["sleep", marker]):
            os.kill(pid, 9)


def test_the_instructors_library_installed_among_the_packages_is_hidden_from_a_kernel_on_the_student_edition(tmp_path, monkeypatch):
    packages, edition_ = tmp_path / "site-packages", tmp_path / "edition"
    (packages / "rl_course").mkdir(parents=True)
    (packages / "rl_course" / "tabular.py").write_text("answers")
    (edition_ / "rl_course").mkdir(parents=True)
    monkeypatch.setattr(sandbox, "readable_paths", lambda library=None: [packages, *([library] if library else [])])
    monkeypatch.setattr(sandbox, "instructors_library", lambda: packages / "rl_course")
    (tmp_path / "work").mkdir()
    (tmp_path / "ipc").mkdir()
    for library, seen in ((None, "tabular.py"), (edition_, "")):
        argv = sandbox.command(["ls", "-A", str(packages / "rl_course")], tmp_path / "work", tmp_path / "ipc", sandbox.Sandbox(),
                               library=library)
        hides = any(argv[i:i + 2] == ["--tmpfs", str(packages / "rl_course")] for i in range(len(argv)))
        assert hides == (library is not None)
        if CONFINED:
            listed = subprocess.run(argv, capture_output=True, text=True, timeout=60)
            assert (listed.returncode, listed.stdout.strip()) == (0, seen), listed


def test_the_grade_digest_changes_with_the_library_kernels_import(course_root, course_copy):
    from rl_course.course.autograde import Grader

    default = Grader(course_root, "sqlite://").settings_digest()
    assert Grader(course_root, "sqlite://", student_edition=False).settings_digest() != Grader(
        course_root, "sqlite://", student_edition=True).settings_digest()
    assert Grader(course_root, "sqlite://", sandbox={"student_edition": True}).settings_digest() != default
    before = Grader(course_copy, "sqlite://").settings_digest()
    with open(course_copy / "nbgrader_config.py", "a") as config:
        config.write("\nc.Sandbox.student_edition = True\n")
    assert Grader(course_copy, "sqlite://").settings_digest() != before


def test_grading_kernels_start_through_the_provisioners_the_package_registers():
    """jupyter_client starts a kernel through the provisioner its spec names; the two grading managers name ours, which
    the package's entry points register (a manager whose provisioner is not found fails at the kernel's start)."""
    from jupyter_client.provisioning import KernelProvisionerFactory

    from rl_course.course.kernel_output import CapturingKernelManager, CapturingProvisioner

    factory = KernelProvisionerFactory.instance()
    pairs = ((CapturingKernelManager, CapturingProvisioner), (sandbox.ConfinedKernelManager, sandbox.ConfinedProvisioner))
    for manager, provisioner in pairs:
        km = manager(kernel_name="python3")
        try:
            assert km.kernel_spec.metadata["kernel_provisioner"] == {"provisioner_name": manager.provisioner_name}
            assert type(factory.create_provisioner_instance("k", km.kernel_spec, km)) is provisioner
            assert km.kernel_spec.interrupt_mode == ("message" if manager is sandbox.ConfinedKernelManager else "signal")
        finally:
            shutil.rmtree(getattr(km, "folder", "/nonexistent"), ignore_errors=True)
