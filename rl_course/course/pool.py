"""The local worker pool: submissions graded in worker processes, each with a scratch course of its own,
the kernels' threads shared out among them, and a submission whose code kills its worker graded again alone."""

from __future__ import annotations

import multiprocessing
import os
import tempfile
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from pathlib import Path

from rl_course.course.autograde import KILLED, Grader, not_graded
from rl_course.course.layout import one_line
from rl_course.course.records import Graded, Submission


def grade_all(pending: list[Submission], grader: Grader, jobs: int) -> Iterator[Graded]:
    """Each submission's ``Graded`` as it finishes, graded in ``jobs`` worker processes, each with a scratch
    course (and gradebook) of its own.

    Student code runs in kernels that the workers start, so it can kill a worker (``os.kill(os.getppid(), 9)``)
    and with it the submissions that worker held. Those are graded again one at a time, each in a fresh
    worker; one that kills that one too gets 0 and a problem line, and the batch goes on.

    The later assignments train (04, 05) and take the longest to grade, so they are handed out first
    (``longest_first``): the last submissions a worker takes are short ones and the jobs end together.
    """
    pending = longest_first(pending)
    with tempfile.TemporaryDirectory(prefix="rl-course-jobs-") as root:
        grader = replace(grader, scratch_parent=Path(root))
        threads = kernel_threads(jobs)
        lost = yield from _in_workers(pending, grader, jobs, threads)
        for submission in lost:
            again = yield from _in_workers([submission], grader, 1, threads)
            for submission_ in again:
                yield not_graded(grader.course_root, submission_, KILLED)


def longest_first(pending: list[Submission]) -> list[Submission]:
    """``pending`` with the later assignments first (they grade longest), each assignment's students in order."""
    by_student = sorted(pending, key=lambda s: s.student)
    return sorted(by_student, key=lambda s: s.assignment, reverse=True)


def kernel_threads(jobs: int, cores: int | None = None) -> int:
    """Threads each kernel's OpenMP/MKL/torch may use so that ``jobs`` kernels share the cores without
    oversubscribing them: ``max(1, cores // jobs)`` (cores: those this process may run on)."""
    if cores is None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // max(1, jobs))


THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")  # read by torch and numpy's BLAS when the kernel imports them


def limit_kernel_threads(threads: int) -> None:
    """Let the kernels this process starts use ``threads`` threads each, unless the grader set its own limit."""
    for name in THREAD_VARIABLES:
        os.environ.setdefault(name, str(threads))


def _in_workers(pending: list[Submission], grader: Grader, jobs: int, threads: int):
    """Grade ``pending`` in a pool of ``jobs`` workers, yielding ``Graded``; returns the submissions whose worker died."""
    lost = []
    pool = ProcessPoolExecutor(min(jobs, len(pending)) or 1, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_start_worker, initargs=(grader, threads))
    try:
        futures = {pool.submit(_grade_in_worker, submission): submission for submission in pending}
        for done in as_completed(futures):
            try:
                yield done.result()
            except BrokenProcessPool:
                lost.append(futures[done])
            except Exception as error:  # a failure of the grader itself: this submission is reported, the batch goes on
                yield not_graded(grader.course_root, futures[done], f"not graded: {one_line(error)}")
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return lost


_worker_grader: Grader | None = None


def _start_worker(grader: Grader, threads: int = 1) -> None:
    """A worker's scratch course, open for the worker's life; it lies under a folder the parent removes."""
    global _worker_grader
    limit_kernel_threads(threads)
    _worker_grader = grader.__enter__()


def _grade_in_worker(submission: Submission) -> Graded:
    return _worker_grader.grade(submission)
