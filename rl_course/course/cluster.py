"""Grading past one machine: the submissions go to the workers of an existing Dask cluster.

    rl-course grade DIR --cluster tcp://scheduler:8786

Each worker grades one submission per thread exactly as a local job of ``rl-course grade --jobs`` does
(``autograde.Grader``: a scratch course of its own under the worker's local directory, the sandbox,
the time limits) and returns what it found (``records.Graded``); this process, the client, records every
grade in the one gradebook and writes the grades CSV, the table and the HTML feedback, as a local run does.

The course (``nbgrader_config.py`` and ``solutions/``) travels to the workers with the work, and each
submission's gradable files with its task: the workers need the same Python environment with rl-course
installed (``pip install 'rl-course[cluster]'``), neither the course folder nor the submissions nor the gradebook.

Dask does the scheduling: ``Client.map`` one task per submission, ``as_completed`` for the results,
``retries`` for a failure of the grader itself, and the scheduler's ``allowed-failures`` for the workers that die:
the submissions of a worker that dies are handed to the others, and a submission that has killed
``allowed-failures`` + 1 workers (``KilledWorker``) gets 0 with a problem line. Grading wants the scheduler started
with the settings of ``SCHEDULER_SETTINGS`` (a submission that kills two workers gets 0, as a local run tries one
twice; a worker holds only the submissions it is grading, so a death costs no innocent one a try): the run reads the
scheduler's configuration and warns about each setting that differs, with the environment variable that sets it.
It reports each worker that left while grading, from the scheduler's own ``remove-worker`` events. The course and
the settings reach every worker, one that joins later too, in a worker plugin (``CoursePlugin``).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

from rl_course.course import autograde, layout, nbgrader_setup, pool
from rl_course.course.layout import CourseError
from rl_course.course.records import Graded, Submission

try:
    from distributed import WorkerPlugin
except ModuleNotFoundError:  # connect() says what to install
    WorkerPlugin = object

# the scheduler's configuration that grading wants: a submission that kills two workers gets 0 (as a local run, which
# tries it twice); a worker takes a submission only when a thread is free for it
SCHEDULER_SETTINGS = {"distributed.scheduler.allowed-failures": 1, "distributed.scheduler.worker-saturation": 1.0}
GATEWAY = "gateway:"  # --cluster gateway:NAME: the running cluster NAME of the Dask Gateway that dask_gateway is configured for


def connect(address: str):
    """A ``distributed.Client`` of the scheduler at ``address``; a ``CourseError`` naming it when it cannot be reached
    within Dask's connect timeout (``distributed.comm.timeouts.connect``: 30 s unless configured, e.g.
    ``DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT=10s``)."""
    try:
        from distributed import Client
    except ModuleNotFoundError:
        raise CourseError(f"--cluster {address}: Dask is not installed; pip install 'rl-course[cluster]'") from None
    if not str(address).strip():
        raise CourseError("--cluster: empty address; expected the Dask scheduler's, e.g. tcp://scheduler:8786")
    try:
        if address.startswith(GATEWAY):  # a cluster of Dask Gateway's (the hub's configured gateway), by name
            from dask_gateway import Gateway

            return Gateway().connect(address[len(GATEWAY):]).get_client(set_as_default=False)
        return Client(address, set_as_default=False)
    except ModuleNotFoundError as error:
        raise CourseError(f"--cluster {address}: {error.name} is not installed (pip install dask-gateway)") from None
    except (OSError, TimeoutError, ValueError, LookupError) as error:
        raise CourseError(f"--cluster {address}: cannot reach the Dask scheduler ({one_line(error)})") from None


def course_archive(course_root: Path) -> bytes:
    """``nbgrader_config.py`` and ``solutions/`` as a gzipped tar: what a worker needs of the course."""
    course_root = Path(course_root)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        paths = [course_root / layout.CONFIG_FILE, *sorted((course_root / layout.SOURCE_DIR).rglob("*"))]
        for path in paths:
            if path.is_file() and not path.is_symlink() and ".ipynb_checkpoints" not in path.parts:
                info = tar.gettarinfo(str(path), arcname=str(path.relative_to(course_root)))
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                info.mtime = 0
                with open(path, "rb") as f:
                    tar.addfile(info, f)
    return gzip.compress(buffer.getvalue(), mtime=0)


def grade_all(client, pending: list[Submission], grader: autograde.Grader,
              on_warning: Callable[[str], None] = lambda line: None) -> Iterator[Graded]:
    """Each submission's ``Graded`` as a worker of the cluster finishes it (in any order)."""
    from distributed import as_completed
    from distributed.scheduler import KilledWorker

    if not pending:
        return
    run = f"rl-course-grade-{uuid.uuid4().hex[:8]}-"
    by_key = {f"{run}{s.student}/{s.assignment}": s for s in pending}
    # the course and the settings (with the gradebook each scratch course starts from) go to every worker once, in a
    # plugin of this run's: the scheduler hands it to each worker that joins later too (one its nanny restarted)
    client.register_plugin(CoursePlugin(course_archive(grader.course_root), grader), name=run)
    settings, since = client.run_on_scheduler(_configuration, list(SCHEDULER_SETTINGS))
    for line in scheduler_warnings(settings):
        on_warning(line)
    departures = _Departures(client, by_key, since)
    futures, warned = {}, set()
    try:
        # one graph: the scheduler sees the whole class at once and queues it, a submission per worker thread at a time
        futures = dict(zip(client.map(grade_on_worker, pending, plugin=run, key=list(by_key), retries=1, pure=False), pending, strict=True))
        for future in as_completed(futures, loop=client.loop):
            submission = futures[future]
            try:
                graded, warning = future.result()
            except KilledWorker:
                graded, warning = autograde.not_graded(grader.course_root, submission, autograde.KILLED), None
            except Exception as error:  # a failure of the grader itself, twice: this submission is reported, the batch goes on
                graded, warning = autograde.not_graded(grader.course_root, submission, f"not graded: {one_line(error)}"), None
            for line in departures.new():
                on_warning(line)
            if warning and warning not in warned:
                warned.add(warning)
                on_warning(warning)
            yield graded
        for line in departures.new():
            on_warning(line)
    finally:
        client.cancel(list(futures))
        try:
            client.unregister_worker_plugin(run)
        except Exception:  # the scheduler is gone: nothing to take back
            pass


def _configuration(keys: list[str]) -> tuple[dict, float]:
    """Run on the scheduler: its Dask configuration of ``keys`` (``dask.config.get``), and its clock, which stamps
    its events."""
    import dask
    from distributed.metrics import time  # the clock of the scheduler's events

    return {key: dask.config.get(key) for key in keys}, time()


def scheduler_warnings(settings: dict) -> list[str]:
    """A line for each of the scheduler's ``settings`` that differs from grading's (``SCHEDULER_SETTINGS``): what
    it changes, and the environment variable to start the scheduler with."""
    lines = []
    for key, wanted in SCHEDULER_SETTINGS.items():
        value = settings.get(key)
        number = _number(value)
        if number == wanted:
            continue
        if key.endswith("allowed-failures"):
            killed = int(number) + 1 if number is not None and number >= 0 else "some number of"
            what = f"a submission gets 0 once it has killed {killed} workers, where a local run tries it twice"
        else:
            what = "a worker takes submissions before a thread is free for them, and one that dies costs them a try"
        variable = "DASK_" + key.upper().replace(".", "__").replace("-", "_")
        lines.append(f"the Dask scheduler runs with {key.rsplit('.', 1)[1]} = {value}: {what}; start it with {variable}={wanted}")
    return lines


def _number(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _removals(since: float, dask_scheduler=None) -> list[tuple[float, str, list[str]]]:
    """Run on the scheduler: its ``remove-worker`` events since ``since`` (its clock), each (time, the worker's address,
    the keys it was processing); read there, as the whole topic holds objects that do not travel."""
    return [(stamp, event["worker"], sorted(str(key) for key in event["processing-tasks"]))
            for stamp, event in dask_scheduler.get_events("all")
            if stamp >= since and isinstance(event, dict) and event.get("action") == "remove-worker"]


class _Departures:
    """The workers that left the cluster while grading this run's submissions (``_removals``): each one line, told once."""

    def __init__(self, client, by_key: dict[str, Submission], since: float):
        self.client, self.by_key, self.since, self.told = client, by_key, since, set()

    def new(self) -> list[str]:
        lines = []
        for stamp, worker, keys in self.client.run_on_scheduler(_removals, self.since):
            grading = sorted(f"{self.by_key[k].student}/{self.by_key[k].assignment}" for k in keys if k in self.by_key)
            if grading and (worker, stamp) not in self.told:
                self.told.add((worker, stamp))
                lines.append(f"the Dask worker {worker} left the cluster while grading {', '.join(grading)}; "
                             "the scheduler hands its submissions to the others")
        return lines


class CoursePlugin(WorkerPlugin):
    """A Dask worker plugin holding what every worker needs to grade this run's submissions: the course
    (``course_archive``) and the grader's settings."""

    def __init__(self, archive: bytes, grader: autograde.Grader):
        self.archive, self.grader = archive, grader


_local = threading.local()
_unpacking = threading.Lock()


def grade_on_worker(submission: Submission, plugin: str) -> tuple[Graded, str | None]:
    """Run on a Dask worker: grade ``submission`` with the course and settings of the worker's ``CoursePlugin``
    ``plugin`` in this thread's scratch course (made on its first task, kept for the next), confined where this
    machine allows; returns the ``Graded`` and, where the kernels ran unconfined, a warning saying why."""
    from distributed import get_worker

    worker = get_worker()
    archive, grader = worker.plugins[plugin].archive, worker.plugins[plugin].grader
    key = hashlib.sha256(archive).hexdigest()[:16]
    state = getattr(_local, "state", None)
    if state is None or state[0] != (key, grader):
        if state is not None:
            state[1].__exit__(None, None, None)
        root = Path(worker.local_directory) / "rl-course" / key
        course = _unpacked(archive, root / "course")
        confined, why_not = nbgrader_setup.confinement(course, grader.sandbox)
        pool.limit_kernel_threads(pool.kernel_threads(worker.state.nthreads))
        graded_by = replace(grader, course_root=course, scratch_parent=root, confined=confined).__enter__()
        warning = f"submissions run unconfined on the Dask worker {worker.address}: {why_not}" if why_not else None
        _local.state = state = ((key, grader), graded_by, warning)
    return state[1].grade(submission), state[2]


def _unpacked(archive: bytes, folder: Path) -> Path:
    """The course of ``archive`` unpacked at ``folder`` (once per worker process)."""
    with _unpacking:
        if not folder.is_dir():
            staging = folder.with_name(f"{folder.name}.{os.getpid()}.partial")
            staging.mkdir(parents=True, exist_ok=True)
            with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
                tar.extractall(staging, filter="data")
            staging.rename(folder)
    return folder


def one_line(error: Exception) -> str:
    return " ".join(str(error).split())[:200] or type(error).__name__
