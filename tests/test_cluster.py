"""`rl-course grade --cluster`: a Dask scheduler and two workers, each a process of its own on loopback with a
working folder of its own, grade a class into a PostgreSQL gradebook as a local `--jobs 1` run does, through
a worker killed mid-grading, a submission that kills every worker grading it, and a client killed mid-run; then
`rl-course feedback` writes the feedback of that grading without starting a kernel.

The faults wait on what Dask reports (the scheduler's processing and remove-worker events, each worker's executing
tasks, pid and kernel), never on time."""

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from helpers import NOTEBOOKS, free_port, gradebook_scores, inject, without_demo_cells
from mistakes import mistakes

from rl_course.course import nbgrader_setup
from rl_course.course.cluster import _removals as cluster_removals

distributed = pytest.importorskip("distributed")
nbgrader_setup._put_own_scripts_on_path()  # nbgrader's Gradebook runs alembic by name, as the grading processes find it

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENTS = ("01_td_lambda", "02_forward_backward", "03_gae")
KILLER = "import os\nos.kill(os.getppid(), 9)  # the grading process: a local job, or a Dask worker\n"
KILLER_KEY = "kills_its_grader/01_td_lambda"
COUNTED = ("solution", "03_gae")  # each kernel that runs this submission adds a line to ran.txt
GRADE_OPTIONS = ["--unconfined", "--timeout", "120"]  # unconfined: the killer reaches its grader, as it can where bwrap is missing


def _read(folder, assignment):
    return without_demo_cells(nbformat.read(ROOT / folder / assignment / NOTEBOOKS[assignment], as_version=4))


def _class(folder: Path, counter: Path) -> list[tuple[str, str]]:
    """Ten submissions: the solutions and releases of 01–03, three typical mistakes, and a solution that kills its
    grader; the solution of 03 counts its executions in ``counter``."""
    def submit(student, assignment, nb):
        if (student, assignment) == COUNTED:
            nb.cells.insert(1, nbformat.v4.new_code_cell(f"with open({str(counter)!r}, 'a') as f:\n    f.write('ran\\n')"))
        (folder / student / assignment).mkdir(parents=True)
        nbformat.write(nb, folder / student / assignment / NOTEBOOKS[assignment])

    for assignment in ASSIGNMENTS:
        submit("solution", assignment, _read("solutions", assignment))
        submit("untouched", assignment, _read("notebooks", assignment))
    catalog = mistakes()
    for name in ("sign_flipped", sorted(n for n, m in catalog.items() if m.assignment == "02_forward_backward")[0],
                 sorted(n for n, m in catalog.items() if m.assignment == "03_gae")[0]):
        submit(name, catalog[name].assignment, inject(catalog[name], _read("solutions", catalog[name].assignment)))
    killer = _read("solutions", "01_td_lambda")
    killer.cells.insert(3, nbformat.v4.new_code_cell(KILLER))
    submit("kills_its_grader", "01_td_lambda", killer)
    return sorted((s.name, a.name) for s in folder.iterdir() for a in s.iterdir())


def _stop(process: subprocess.Popen) -> None:
    """Stop a process started in a session of its own, and everything it started."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    process.wait(timeout=60)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A scheduler and two workers (each under a nanny, which restarts it when it dies), as separate processes on
    loopback, the scheduler configured as the README starts a grading cluster. Yields (address, client)."""
    tmp = tmp_path_factory.mktemp("dask")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASK_")}
    env["DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION"] = "1.0"  # as the README starts a grading cluster
    env["DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES"] = "1"
    bin_ = Path(sys.executable).parent
    port = free_port()
    processes = [subprocess.Popen([bin_ / "dask", "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                                  env=env, cwd=tmp, stdout=subprocess.DEVNULL, stderr=open(tmp / "scheduler.log", "w"),
                                  start_new_session=True)]
    address = f"tcp://127.0.0.1:{port}"
    client = None
    try:
        for name in ("one", "two"):
            (tmp / name).mkdir()
            processes.append(subprocess.Popen(
                [bin_ / "dask", "worker", address, "--name", name, "--nthreads", "1", "--local-directory", tmp / name,
                 "--host", "127.0.0.1", "--no-dashboard"],
                env=env, cwd=tmp / name, stdout=subprocess.DEVNULL, stderr=open(tmp / f"{name}.log", "w"), start_new_session=True))
        client = distributed.Client(address, timeout=60)
        client.wait_for_workers(2, timeout=120)
        yield address, client
    finally:
        if client is not None:
            client.close()
        for process in reversed(processes):
            _stop(process)


def _grade(folder, csv_path, db_url, *options, wait=True, command_="grade", env=None):
    command = [sys.executable, "-c", "import sys; from rl_course import cli; code = cli.main(sys.argv[1:]); "
               "assert 'distributed' not in sys.modules or '--cluster' in sys.argv, 'a local grading imported Dask'; sys.exit(code)",
               command_, str(folder), *(["--json"] if command_ == "grade" else []), "--csv", str(csv_path), "--db", db_url,
               "--course", str(ROOT), *GRADE_OPTIONS, *options]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                               env={**os.environ, **(env or {})})
    if not wait:
        return process
    try:
        out, err = process.communicate(timeout=1200)
    finally:
        _stop(process)
    return process.returncode, out, err


def _rows(csv_path):
    return {(r["student"], r["assignment"]): r for r in csv.DictReader(open(csv_path))}


def _recorded(db_url) -> set:
    """The submissions whose grade ``record`` finished: those with a digest row."""
    from sqlalchemy import create_engine, text

    with create_engine(db_url).connect() as connection:
        return {tuple(row) for row in connection.execute(text("SELECT student, assignment FROM rl_course_graded"))}


def _kill_a_worker_mid_grading(client, run: subprocess.Popen) -> tuple[str, str]:
    """SIGKILL a worker once Dask reports it grading a submission of ``run`` in a kernel: the scheduler's only task
    processing there (never yet on a worker that died), executing on the worker, which has an ipykernel child.
    Returns (the worker's address, the task's key)."""
    def processing(dask_scheduler):
        return {ws.address: [(str(ts.key), ts.suspicious) for ts in ws.processing] for ws in dask_scheduler.workers.values()}

    def grading(dask_worker):
        import psutil

        kernels = []
        for child in psutil.Process().children():
            try:
                kernels.append("ipykernel" in " ".join(child.cmdline()))
            except psutil.Error:
                pass
        return os.getpid(), [str(ts.key) for ts in dask_worker.state.executing], any(kernels)

    deadline = time.monotonic() + 900
    while run.poll() is None and time.monotonic() < deadline:
        tasks = client.run_on_scheduler(processing)
        for address, state in client.run(grading, on_error="return").items():
            if isinstance(state, BaseException):  # a worker dying or just restarted by its nanny
                continue
            pid, executing, kernel = state
            here = tasks.get(address, [])
            if (kernel and len(here) == 1 and here[0][0] in executing and here[0][1] == 0
                    and here[0][0].startswith("rl-course-grade-") and not here[0][0].endswith(KILLER_KEY)):
                os.kill(pid, signal.SIGKILL)
                return address, here[0][0]
        time.sleep(0.2)  # the polling interval of Dask's reports
    raise AssertionError("no worker was seen grading a submission in a kernel")


@pytest.fixture(scope="module")
def graded(cluster, postgres_url, tmp_path_factory):  # noqa: F811
    """The class graded locally with one job, then on the cluster: a first run without the killer, whose client is
    killed after its third grade, and a re-run with it during which a worker is killed while it grades; then
    ``rl-course feedback`` on the cluster, which finds every grade recorded."""
    address, client = cluster
    tmp = tmp_path_factory.mktemp("cluster-grading")
    folder, counter = tmp / "submitted", tmp / "ran.txt"
    submissions = _class(folder, counter)
    local = _grade(folder, tmp / "local.csv", f"sqlite:///{tmp / 'local.db'}", "--jobs", "1")
    assert gradebook_scores(postgres_url) == {}, "the PostgreSQL gradebook should be empty before the cluster grades"

    killer = folder / KILLER_KEY.split("/")[0]
    killer.rename(tmp / "held")  # the killer is new in the re-run, so that the re-run meets it
    first = _grade(folder, tmp / "first.csv", postgres_url, "--cluster", address, wait=False)
    seen = []
    try:  # kill the client once it has recorded three grades
        for line in first.stderr:
            seen.append(line)
            if sum(line.startswith("graded ") for line in seen) == 3:
                break
    finally:
        _stop(first)
    (tmp / "first.stderr").write_text("".join(seen))
    recorded_after_first = _recorded(postgres_url)
    (tmp / "held").rename(killer)

    since = client.run_on_scheduler(time.time)
    rerun = _grade(folder, tmp / "cluster.csv", postgres_url, "--cluster", address, wait=False)
    try:
        killed, victim = _kill_a_worker_mid_grading(client, rerun)
        out, err = rerun.communicate(timeout=1200)
    finally:
        _stop(rerun)
    (tmp / "cluster.stderr").write_text(err)
    removals = [(worker, keys) for _, worker, keys in client.run_on_scheduler(cluster_removals, since)]

    ran = counter.read_text().count("ran")
    feedback = _grade(folder, tmp / "feedback.csv", postgres_url, "--cluster", address, "--out", str(tmp / "feedback"),
                      command_="feedback")
    return dict(submissions=submissions, local=local, tmp=tmp, rerun=(rerun.returncode, out, err), killed=killed,
                victim=victim, removals=removals,
                recorded_after_first=recorded_after_first, db_url=postgres_url, folder=folder, address=address,
                feedback=feedback, ran=(ran, counter.read_text().count("ran")))


@pytest.mark.notebook
def test_the_cluster_grades_as_a_local_job_does(graded):
    code, out, err = graded["local"]
    assert code == 0, err
    code, cluster_out, cluster_err = graded["rerun"]
    assert code == 0, cluster_err
    assert json.loads(cluster_out) == json.loads(out)
    assert _rows(graded["tmp"] / "cluster.csv") == _rows(graded["tmp"] / "local.csv")
    assert set(_rows(graded["tmp"] / "cluster.csv")) == set(graded["submissions"])
    scores = json.loads(out)
    full = {"01_td_lambda": 12.0, "02_forward_backward": 15.0, "03_gae": 10.0}
    assert scores["solution"] == {a: {"score": s, "max_score": s} for a, s in full.items()}
    assert scores["sign_flipped"]["01_td_lambda"]["score"] < 12


@pytest.mark.notebook
def test_every_grade_is_recorded_once_in_the_postgresql_gradebook(graded):
    recorded = gradebook_scores(graded["db_url"])
    rows = _rows(graded["tmp"] / "cluster.csv")
    assert recorded == {key: float(r["score"]) for key, r in rows.items() if key != ("kills_its_grader", "01_td_lambda")}
    from sqlalchemy import create_engine, text

    with create_engine(graded["db_url"]).connect() as connection:  # one submission row per student and assignment
        counts = connection.execute(text("SELECT s.student_id, a.name, count(*) FROM submitted_assignment s "
                                         "JOIN assignment a ON a.id = s.assignment_id GROUP BY s.student_id, a.name")).all()
    assert counts and all(n == 1 for _, _, n in counts)


@pytest.mark.notebook
def test_a_worker_killed_mid_grading_has_its_submission_graded_by_another_and_the_run_says_so(graded):
    victim = graded["victim"].split("-", 4)[-1]  # rl-course-grade-<run>-<student>/<assignment>
    assert (graded["killed"], graded["victim"]) in [(w, k) for w, keys in graded["removals"] for k in keys], graded["removals"]
    err = graded["rerun"][2]
    assert f"the Dask worker {graded['killed']} left the cluster while grading {victim};" in err, err
    student, assignment = victim.split("/")
    assert _rows(graded["tmp"] / "cluster.csv")[(student, assignment)] == _rows(graded["tmp"] / "local.csv")[(student, assignment)]


@pytest.mark.notebook
def test_a_submission_that_kills_its_workers_gets_zero_and_a_problem_line(graded):
    row = _rows(graded["tmp"] / "cluster.csv")[("kills_its_grader", "01_td_lambda")]
    assert row["score"] == "0" and "the process grading it was killed" in row["problem"], row
    assert any(line.startswith("problem: ") and "kills_its_grader" in line for line in graded["rerun"][2].splitlines())
    # twice, as the scheduler is configured (Dask's default lets a task kill four), which the run does not warn about
    assert sum(any(k.endswith(KILLER_KEY) for k in keys) for _, keys in graded["removals"]) == 2, graded["removals"]
    assert "the Dask scheduler runs with" not in graded["rerun"][2], graded["rerun"][2]


@pytest.mark.notebook
def test_a_rerun_after_the_client_was_killed_grades_only_what_is_missing_or_changed(graded):
    already = len(graded["recorded_after_first"])
    assert already >= 3 and ("kills_its_grader", "01_td_lambda") not in graded["recorded_after_first"], graded["recorded_after_first"]
    err = graded["rerun"][2]
    total = len(graded["submissions"])
    assert f"{total} submissions: {total - already} graded, {already} unchanged" in err, err
    # one submission changes: only it is graded again
    nb_path = graded["folder"] / "untouched" / "03_gae" / NOTEBOOKS["03_gae"]
    nb = nbformat.read(nb_path, as_version=4)
    nb.cells[0].source += "\n\nRead the lecture first."
    nbformat.write(nb, nb_path)
    code, out, err = _grade(graded["folder"], graded["tmp"] / "again.csv", graded["db_url"], "--cluster", graded["address"])
    assert code == 0, err
    assert f"{total} submissions: 1 graded, {total - 1} unchanged" in err, err
    prepared, grading, each = map(float, re.search(r"^prepared in ([0-9.]+) s, graded in ([0-9.]+) s, ([0-9.]+) s per submission$",
                                                   err, re.MULTILINE).groups())
    assert prepared > 0 and grading > 0 and each == pytest.approx(grading, abs=0.051), err  # one submission: all of it (printed to 0.1 s)
    graded_now = [line for line in err.splitlines() if line.startswith("graded ")]
    assert len(graded_now) == 1 and graded_now[0].startswith("graded untouched/03_gae: 0 / 10 "), err
    assert _rows(graded["tmp"] / "again.csv") == _rows(graded["tmp"] / "cluster.csv")


@pytest.mark.notebook
def test_feedback_after_grading_writes_the_recorded_grades_feedback_without_starting_a_kernel(graded):
    code, out, err = graded["feedback"]
    assert code == 0, err
    total = len(graded["submissions"])
    assert f"{total} submissions: 0 graded, {total} unchanged" in err, err
    assert re.search(r"^prepared in [0-9.]+ s, graded in [0-9.]+ s$", err, re.MULTILINE), err  # nothing to divide
    before, after = graded["ran"]
    assert before >= 1 and after == before, graded["ran"]  # the counting submission's cell ran when graded, not since
    assert _rows(graded["tmp"] / "feedback.csv") == _rows(graded["tmp"] / "cluster.csv")
    feedback = graded["tmp"] / "feedback"
    for (student, assignment), row in _rows(graded["tmp"] / "feedback.csv").items():
        html = feedback / student / assignment / NOTEBOOKS[assignment].replace(".ipynb", ".html")
        if student == "kills_its_grader":
            assert not html.exists()
            continue
        text = html.read_text()
        assert f"Score: {float(row['score'])} / {float(row['max_score'])}" in text, (student, assignment)
        assert "BEGIN HIDDEN TESTS" not in text


def test_a_scheduler_not_configured_for_grading_is_named_with_the_variables_to_set():
    """The run reads the scheduler's own configuration (here an in-process scheduler, with Dask's defaults) and says
    what each setting that differs from grading's changes, and how to start the scheduler instead."""
    import dask

    from rl_course.course import cluster

    keys = list(cluster.SCHEDULER_SETTINGS)
    with distributed.LocalCluster(n_workers=0, processes=False, dashboard_address=":0") as local, \
            distributed.Client(local) as client:
        settings, _ = client.run_on_scheduler(cluster._configuration, keys)
        with dask.config.set({"distributed.scheduler.allowed-failures": 1, "distributed.scheduler.worker-saturation": 1.0}):
            configured, _ = client.run_on_scheduler(cluster._configuration, keys)
    assert settings == {"distributed.scheduler.allowed-failures": 3, "distributed.scheduler.worker-saturation": 1.1}
    assert cluster.scheduler_warnings(settings) == [
        "the Dask scheduler runs with allowed-failures = 3: a submission gets 0 once it has killed 4 workers, where a local "
        "run tries it twice; start it with DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES=1",
        "the Dask scheduler runs with worker-saturation = 1.1: a worker takes submissions before a thread is free for them, "
        "and one that dies costs them a try; start it with DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION=1.0"]
    assert cluster.scheduler_warnings(configured) == []
    assert len(cluster.scheduler_warnings({"distributed.scheduler.worker-saturation": "inf"})) == 2
    assert "killed some number of workers" in cluster.scheduler_warnings({"distributed.scheduler.allowed-failures": "many"})[0]


def test_an_unreachable_scheduler_is_a_one_line_error_naming_it(tmp_path):
    (tmp_path / "submitted").mkdir()
    address = f"tcp://127.0.0.1:{free_port()}"
    started = time.monotonic()
    code, out, err = _grade(tmp_path / "submitted", tmp_path / "g.csv", f"sqlite:///{tmp_path / 'g.db'}", "--cluster", address,
                            env={"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "2s"})  # Dask's own setting, 30 s by default
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith(f"rl-course: error: --cluster {address}: cannot reach the Dask scheduler"), err
    assert "after 2 s" in err, err
    assert time.monotonic() - started < 300  # the 2 s connect timeout, not a hang (a hang guard: generous for a loaded machine)


@pytest.mark.parametrize("jobs, cores, threads", [(1, 2, 2), (2, 2, 1), (3, 2, 1), (2, 16, 8), (4, 18, 4)])
def test_kernels_share_the_cores_among_the_jobs(jobs, cores, threads):
    from rl_course.course import pool

    assert pool.kernel_threads(jobs, cores) == threads


def test_the_digest_of_a_submission_changes_with_its_files_problems_and_settings():
    from rl_course.course import autograde

    files = {"td_lambda.ipynb": b"{}", "data.csv": b"1,2"}
    digest = autograde.submission_digest(files, [], "settings")
    assert digest == autograde.submission_digest(dict(reversed(files.items())), [], "settings")  # not the order
    changed = [autograde.submission_digest({**files, "data.csv": b"1,3"}, [], "settings"),
               autograde.submission_digest({"td_lambda.ipynb": b"{}"}, [], "settings"),
               autograde.submission_digest(files, ["x: graded as td_lambda.ipynb (misnamed)"], "settings"),
               autograde.submission_digest(files, [], "other settings")]
    assert len({digest, *changed}) == 5


def test_the_course_travels_to_the_workers_without_anything_else(course_root):
    import io
    import tarfile

    from rl_course.course import cluster

    archive = cluster.course_archive(course_root)
    names = tarfile.open(fileobj=io.BytesIO(archive)).getnames()
    assert "nbgrader_config.py" in names and f"solutions/01_td_lambda/{NOTEBOOKS['01_td_lambda']}" in names
    assert all(n == "nbgrader_config.py" or n.startswith("solutions/") for n in names)
    assert cluster.course_archive(course_root) == archive  # the same bytes each time: workers unpack it once
