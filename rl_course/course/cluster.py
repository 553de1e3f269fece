"""Grading past one machine: the submissions go to the workers of an existing Dask cluster.

    rl-course grade DIR --cluster tcp://scheduler:8786

Each worker grades one submission per thread exactly as a local job of ``rl-course grade --jobs`` does
(``autograde._Grader``: a scratch course of its own under the worker's local directory, the sandbox,
the time limits) and returns what it found (``autograde.Graded``); this process, the client, records every
grade in the one gradebook and writes the grades CSV, the table and the HTML feedback, as a local run does.

The course (``nbgrader_config.py`` and ``solutions/``) travels to the workers with the work, and each
submission's gradable files with its task: the workers need the same Python environment with rl-course
installed (``pip install 'rl-course[cluster]'``), neither the course folder nor the submissions nor the gradebook.

Dask does the scheduling: ``Client.submit`` one task per submission, ``as_completed`` for the results,
``retries`` for a failure of the grader itself, and the scheduler's ``allowed-failures``
(``DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES``) for the workers that die: the submissions of a worker that
dies are handed to the others, and a submission that has killed ``allowed-failures`` + 1 workers
(``KilledWorker``) gets 0 with a problem line. Start the scheduler with ``allowed-failures`` 1 to stop at two.
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
from rl_course.course.autograde import Graded, Submission
from rl_course.course.layout import CourseError

CONNECT_SECONDS = 10  # how long to try the scheduler's address before giving up
GATEWAY = "gateway:"  # --cluster gateway:NAME: the running cluster NAME of the Dask Gateway that dask_gateway is configured for


def connect(address: str, timeout: float = CONNECT_SECONDS):
    """A ``distributed.Client`` of the scheduler at ``address``; a ``CourseError`` naming it when it cannot be reached."""
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
        return Client(address, timeout=timeout, set_as_default=False)
    except ModuleNotFoundError as error:
        raise CourseError(f"--cluster {address}: {error.name} is not installed (pip install dask-gateway)") from None
    except (OSError, TimeoutError, ValueError, LookupError) as error:
        raise CourseError(f"--cluster {address}: cannot reach the Dask scheduler ({_one_line(error)})") from None


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


def grade_all(client, pending: list[Submission], grader: autograde._Grader,
              on_warning: Callable[[str], None] = lambda line: None) -> Iterator[Graded]:
    """Each submission's ``Graded`` as a worker of the cluster finishes it (in any order)."""
    from distributed import as_completed
    from distributed.scheduler import KilledWorker

    if not pending:
        return
    archive = course_archive(grader.course_root)
    # hash=False: keys of this run's own, so that another client's scatter of the same bytes (a run killed a moment ago,
    # whose data the scheduler forgets when it notices) cannot take this run's data with it
    course = client.scatter(archive, broadcast=True, hash=False)
    settings = client.scatter(grader, broadcast=True, hash=False)  # with the gradebook each scratch course starts from: sent once
    run = uuid.uuid4().hex[:8]
    futures = {client.submit(grade_on_worker, course, settings, submission, retries=1,
                             key=f"rl-course-grade-{run}-{submission.student}/{submission.assignment}"): submission
               for submission in pending}
    workers = set(client.scheduler_info()["workers"])
    warned = set()
    try:
        for future in as_completed(futures, loop=client.loop):
            submission = futures[future]
            try:
                graded, warning = future.result()
            except KilledWorker:
                graded, warning = autograde.not_graded(grader.course_root, submission, autograde.KILLED), None
            except Exception as error:  # a failure of the grader itself, twice: this submission is reported, the batch goes on
                graded, warning = autograde.not_graded(grader.course_root, submission, f"not graded: {_one_line(error)}"), None
            now = set(client.scheduler_info()["workers"])
            for gone in sorted(workers - now):
                on_warning(f"the Dask worker {gone} left the cluster; the scheduler hands its submissions to the others")
            workers = now
            if warning and warning not in warned:
                warned.add(warning)
                on_warning(warning)
            yield graded
    finally:
        client.cancel(list(futures))


_local = threading.local()
_unpacking = threading.Lock()


def grade_on_worker(archive: bytes, grader: autograde._Grader, submission: Submission) -> tuple[Graded, str | None]:
    """Run on a Dask worker: grade ``submission`` with the course of ``archive`` in this thread's scratch
    course (made on its first task, kept for the next), confined where this machine allows; returns the
    ``Graded`` and, where the kernels ran unconfined, a warning saying why."""
    from distributed import get_worker

    worker = get_worker()
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


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split())[:200] or type(error).__name__
