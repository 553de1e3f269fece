"""Grading a class: seconds per submission with 1 and 2 jobs, and full marks on every repeated grading.

    python benchmarks/grading.py [--students 40] [--jobs 1 2] [--workers 20] [--rounds 10] [--sandbox]

A class of ``--students`` copies of every solution notebook is graded with ``rl-course grade``
once per value of ``--jobs``, in a fresh process each time; it prints the wall time, split into what a run pays
once (the process's start, finding the submissions, preparing the gradebook) and the grading (workers' start included)
per submission, checks that every copy earns full marks, and projects 1,500 submissions in one run at those
rates: on this machine with each number of jobs, and on ``--workers`` single-thread Dask workers. ``--rounds R`` then grades one copy of
each solution R more times, each in a process with its own PYTHONHASHSEED, and prints the scores
of every round: a correct solution must earn full marks every time. ``--sandbox`` grades the class
with its kernels confined and unconfined, alternating, three times each, with the largest ``--jobs``,
and prints the median seconds of both and their ratio (the target: confined within 10% of unconfined).

``--breakdown [--repeats R]`` grades one copy of each solution (``--assignments``) in this process, confined and unconfined,
and prints where the seconds go: the kernel's start (and shutdown), the setup cell's imports, the student's
cells, the test cells (with their hidden tests), nbgrader's own steps (copying, its database, the other
preprocessors), recording in the gradebook, and the sandbox (confined − unconfined); beside it **the limit**,
the same source notebook executed once, top to bottom, by nbclient in this warm process, and the ratio of
grading to it (the target: at most 1.15); with ``--repeats R``, the medians of R interleaved rounds (one grading varies
by a second or two).

``--cluster`` grades the class on a Dask cluster of two local workers (a scheduler and two
``dask worker --nthreads 1`` processes on loopback, started and stopped here) and with ``--jobs 2``,
alternating, and prints both and their ratio (the target: the cluster within 10% of ``--jobs 2``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def make_class(folder: Path, n_students: int, assignments: list[str] | None = None) -> int:
    """``folder/student_k/<assignment>/<notebook>.ipynb``: a copy of every solution notebook per student."""
    solutions = [p for p in sorted((ROOT / "solutions").glob("*/*.ipynb")) if not assignments or p.parent.name in assignments]
    for k in range(n_students):
        for notebook in solutions:
            target = folder / f"student_{k:02d}" / notebook.parent.name
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy(notebook, target)
    return n_students * len(solutions)


def grade(folder: Path, jobs: int, seed: int = 0, options: tuple[str, ...] = ()) -> tuple[dict, float, float]:
    """Scores from ``rl-course grade --json`` in a fresh process, its wall seconds, and the seconds of those it spent
    grading, from the first submission handed out to the last graded (its summary line; workers' start included):
    the rest (the process's start, finding the submissions, preparing the gradebook) is paid once per run."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "rl_course.cli", "grade", str(folder), "--json", "--regrade",
         *(() if "--cluster" in options else ("--jobs", str(jobs))), *options,
         "--csv", str(folder.parent / "grades.csv"), "--db", f"sqlite:///{folder.parent / 'gradebook.db'}", "--course", str(ROOT)],
        capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": str(seed)}, check=True,
    )
    took = time.perf_counter() - started
    grading = re.search(r"^prepared in [0-9.]+ s, graded in ([0-9.]+) s", result.stderr, re.MULTILINE)
    if grading is None:
        raise SystemExit(f"rl-course grade printed no 'prepared in … s, graded in … s' line:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout), took, float(grading[1])


def limit(notebook: Path) -> float:
    """Seconds nbclient takes to execute ``notebook`` once, top to bottom, in this process (kernel start included)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(notebook, as_version=4)
    started = time.perf_counter()
    NotebookClient(nb, kernel_name="python3", timeout=1200, resources={"metadata": {"path": str(notebook.parent)}}).execute()
    return time.perf_counter() - started


@contextmanager
def timed_execution(confined: bool):
    """Time what nbgrader's Execute step does while grading: {"execute", "setup", "student", "tests"} seconds."""
    from rl_course.course import execution

    cls = execution.execute_until_the_kernel_dies(confined, ROOT)  # the class the grader of ROOT uses
    spent = {"execute": 0.0, "setup": 0.0, "student": 0.0, "tests": 0.0}
    preprocess, preprocess_cell = cls.preprocess, cls.preprocess_cell

    def timed_preprocess(self, nb, resources=None, km=None):
        started = time.perf_counter()
        try:
            return preprocess(self, nb, resources, km)
        finally:
            spent["execute"] += time.perf_counter() - started

    def timed_cell(self, cell, resources, index):
        started = time.perf_counter()
        try:
            return preprocess_cell(self, cell, resources, index)
        finally:
            meta = cell.metadata.get("nbgrader", {})
            kind = "setup" if meta.get("grade_id") == "setup" else "tests" if meta.get("grade") else "student"
            spent[kind] += time.perf_counter() - started

    cls.preprocess, cls.preprocess_cell = timed_preprocess, timed_cell
    try:
        yield spent
    finally:
        cls.preprocess, cls.preprocess_cell = preprocess, preprocess_cell


def grade_one(notebook: Path, confined: bool, db_url: str) -> dict:
    """Grade one copy of ``notebook`` in this process: the seconds of each part."""
    from rl_course.course import autograde, gradebook

    assignment = notebook.parent.name
    with tempfile.TemporaryDirectory(prefix="rl-course-breakdown-") as tmp:
        folder = Path(tmp) / "submitted" / "student" / assignment
        folder.mkdir(parents=True)
        shutil.copy(notebook, folder)
        grader = autograde.Grader(ROOT, db_url, confined=confined, scratch_parent=Path(tmp))
        with grader:
            grader.grade(autograde.gather("warm", assignment, folder, ROOT))  # the scratch course learns the assignment
            started = time.perf_counter()
            submission = autograde.gather("student", assignment, folder, ROOT)
            with timed_execution(confined) as spent:
                graded = grader.grade(submission)
            total = time.perf_counter() - started
        started = time.perf_counter()
        gradebook.record(db_url, grader.course_id, graded)
        recording = time.perf_counter() - started
    assert graded.grade.score == graded.grade.max_score, graded.grade
    return {"total": total + recording, "kernel": spent["execute"] - spent["setup"] - spent["student"] - spent["tests"],
            "setup": spent["setup"], "student": spent["student"], "tests": spent["tests"],
            "nbgrader": total - spent["execute"], "record": recording}


def breakdown(assignments: list[str], repeats: int = 1) -> None:
    from rl_course.course import gradebook, nbgrader_setup

    confined = nbgrader_setup.confinement(ROOT)[0]
    print(f"one submission per assignment, graded in this process ({'confined' if confined else 'unconfined: no sandbox here'}); "
          f"seconds, the median of {repeats} round(s) of (unconfined, limit, confined); limit = nbclient executing the source "
          f"notebook once here")
    print(f"{'assignment':<20} {'limit':>6} {'grade':>6} {'ratio':>6} | {'kernel':>6} {'setup':>6} {'student':>7} "
          f"{'tests':>6} {'nbgrader':>8} {'record':>6} {'sandbox':>7}")
    with tempfile.TemporaryDirectory(prefix="rl-course-bench-") as tmp:
        db_url = gradebook.gradebook_url(ROOT, f"sqlite:///{Path(tmp) / 'gradebook.db'}")
        for assignment in assignments:
            notebook = next((ROOT / "solutions" / assignment).glob("*.ipynb"))
            gradebook.prepare_gradebook(ROOT, db_url, [assignment], ["student"])
            rounds = []
            for _ in range(repeats):  # interleaved, so that drift on the machine hits all three alike
                bare = grade_one(notebook, False, db_url)
                cap = limit(notebook)
                rounds.append((bare, cap, grade_one(notebook, True, db_url) if confined else bare))
            bare, boxed = ({key: statistics.median(r[k][key] for r in rounds) for key in rounds[0][k]} for k in (0, 2))
            cap = statistics.median(r[1] for r in rounds)
            sandbox = boxed["total"] - bare["total"]
            print(f"{assignment:<20} {cap:6.1f} {boxed['total']:6.1f} {boxed['total'] / cap:6.2f} | {boxed['kernel']:6.1f} "
                  f"{boxed['setup']:6.1f} {boxed['student']:7.1f} {boxed['tests']:6.1f} {boxed['nbgrader']:8.1f} "
                  f"{boxed['record']:6.1f} {sandbox:7.1f}", flush=True)


@contextmanager
def local_cluster(workers: int = 2):
    """A Dask scheduler and ``workers`` single-threaded workers on loopback, as processes of their own: its address."""
    import signal
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "1", "DASK_DISTRIBUTED__SCHEDULER__WORKER_SATURATION": "1.0"}
    dask = Path(sys.executable).parent / "dask"
    with tempfile.TemporaryDirectory(prefix="rl-course-dask-") as tmp:
        processes = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"], env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)]
        address = f"tcp://127.0.0.1:{port}"
        try:
            for k in range(workers):
                processes.append(subprocess.Popen([dask, "worker", address, "--nthreads", "1", "--local-directory", f"{tmp}/{k}",
                                                   "--host", "127.0.0.1", "--no-dashboard"], env=env, stdout=subprocess.DEVNULL,
                                                  stderr=subprocess.DEVNULL, start_new_session=True))
            from distributed import Client

            with Client(address, timeout=60) as client:
                client.wait_for_workers(workers, timeout=120)
            yield address
        finally:
            for process in processes:
                if process.poll() is None:
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def projection(per_submission: dict[int, float], once: dict[int, float], workers: int, submissions: int = 1500) -> str:
    """What ``submissions`` cost in one run: the seconds paid ``once`` per run, plus ``submissions`` times the measured
    seconds of grading per submission; here with each number of jobs, and on ``workers`` single-thread Dask workers, each
    as fast as one job here (grading seconds of one job ÷ workers; the cluster's overhead is --cluster's to measure)."""
    lines = [f"projected for {submissions:,} submissions (a class of {submissions // 5} × 5 assignments), once per run + grading:"]
    lines += [f"  {jobs} job(s) on this machine: {(once[jobs] + submissions * s) / 3600:5.2f} h "
              f"({once[jobs]:.0f} s + {submissions:,} × {s:.2f} s)" for jobs, s in per_submission.items()]
    if 1 in per_submission:
        lines.append(f"  {workers} single-thread Dask workers: {(once[1] + submissions * per_submission[1] / workers) / 60:5.1f} min "
                     f"({once[1]:.0f} s + {submissions:,} × {per_submission[1]:.2f} s ÷ {workers})")
    return "\n".join(lines)


def full_marks(scores: dict) -> bool:
    return all(s["score"] == s["max_score"] for student in scores.values() for s in student.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=0, help="gradings of one copy of each solution, each with a new process seed")
    parser.add_argument("--sandbox", action="store_true", help="compare grading with confined and unconfined kernels")
    parser.add_argument("--assignments", nargs="+", default=None, help="only these assignments (default: all)")
    parser.add_argument("--breakdown", action="store_true", help="where the seconds of grading one submission go, beside the limit")
    parser.add_argument("--repeats", type=int, default=1, help="rounds of --breakdown; the medians are printed")
    parser.add_argument("--cluster", action="store_true", help="the class on two local Dask workers against --jobs 2")
    parser.add_argument("--workers", type=int, default=20, help="Dask workers of the projection for 1,500 submissions")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    if args.breakdown:
        breakdown(args.assignments or sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir()), args.repeats)
        return
    with tempfile.TemporaryDirectory(prefix="rl-course-bench-") as tmp:
        folder = Path(tmp) / "submitted"
        n = make_class(folder, args.students, args.assignments)
        print(f"a class of {args.students} students × {n // args.students} solution notebooks = {n} submissions")
        if args.cluster:
            seconds = {"cluster": [], "jobs 2": []}
            with local_cluster(2) as address:
                for _ in range(args.rounds or 1):
                    for mode, options, jobs in (("jobs 2", (), 2), ("cluster", ("--cluster", address), 1)):
                        scores, took, _ = grade(folder, jobs, options=options)
                        seconds[mode].append(took)
                        print(f"  {mode:>8}: {took:7.1f} s, {took / n:5.1f} s per submission; full marks for all: {full_marks(scores)}",
                              flush=True)
            cluster, local = (statistics.median(seconds[m]) for m in ("cluster", "jobs 2"))
            print(f"median: two Dask workers {cluster:.1f} s, --jobs 2 {local:.1f} s, ratio {cluster / local:.3f}")
            return
        baseline = None
        per_submission, once = {}, {}
        for jobs in args.jobs:
            scores, seconds, grading = grade(folder, jobs)
            baseline = baseline or seconds
            per_submission[jobs], once[jobs] = grading / n, seconds - grading
            print(f"  {jobs} job(s): {seconds:7.1f} s = {once[jobs]:4.1f} s once per run + {grading:6.1f} s grading, "
                  f"{grading / n:5.2f} s per submission, {baseline / seconds:4.2f}× one job; full marks for all: {full_marks(scores)}",
                  flush=True)
        print(projection(per_submission, once, args.workers))
        if args.rounds:
            single = Path(tmp) / "one"
            make_class(single, 1)
            print(f"{args.rounds} gradings of the solutions, each with its own PYTHONHASHSEED")
            results = []
            for seed in range(1, args.rounds + 1):
                scores, seconds, _ = grade(single, max(args.jobs), seed)
                row = {a: f"{s['score']:g}/{s['max_score']:g}" for a, s in scores["student_00"].items()}
                results.append(full_marks(scores))
                print(f"  round {seed:2d} ({seconds:5.1f} s): " + "  ".join(f"{a} {v}" for a, v in row.items()), flush=True)
            print(f"full marks in {sum(results)} of {args.rounds} rounds")
        if args.sandbox:
            jobs = max(args.jobs)
            seconds = {"confined": [], "unconfined": []}
            print(f"the class with {jobs} job(s), confined and unconfined, alternating")
            for _ in range(3):
                for mode, options in (("confined", ()), ("unconfined", ("--unconfined",))):
                    scores, took, _ = grade(folder, jobs, options=options)
                    seconds[mode].append(took)
                    print(f"  {mode:>10}: {took:7.1f} s; full marks for all: {full_marks(scores)}", flush=True)
            confined, unconfined = (statistics.median(seconds[m]) for m in ("confined", "unconfined"))
            print(f"median: confined {confined:.1f} s, unconfined {unconfined:.1f} s, ratio {confined / unconfined:.3f}")


if __name__ == "__main__":
    main()
