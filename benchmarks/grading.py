"""Grading a class: seconds per submission with 1 and 2 jobs, and full marks on every repeated grading.

    python benchmarks/grading.py [--students 40] [--jobs 1 2] [--rounds 10] [--sandbox]

A class of ``--students`` copies of every solution notebook is graded with ``rl-course grade``
once per value of ``--jobs``, in a fresh process each time; it prints the wall time per
submission and checks that every copy earns full marks. ``--rounds R`` then grades one copy of
each solution R more times, each in a process with its own PYTHONHASHSEED, and prints the scores
of every round: a correct solution must earn full marks every time. ``--sandbox`` grades the class
with its kernels confined and unconfined, alternating, three times each, with the largest ``--jobs``,
and prints the median seconds of both and their ratio (the target: confined within 10% of unconfined).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def make_class(folder: Path, n_students: int) -> int:
    """``folder/student_k/<assignment>/<notebook>.ipynb``: a copy of every solution notebook per student."""
    solutions = sorted((ROOT / "solutions").glob("*/*.ipynb"))
    for k in range(n_students):
        for notebook in solutions:
            target = folder / f"student_{k:02d}" / notebook.parent.name
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy(notebook, target)
    return n_students * len(solutions)


def grade(folder: Path, jobs: int, seed: int = 0, options: tuple[str, ...] = ()) -> tuple[dict, float]:
    """Scores from ``rl-course grade --json`` in a fresh process, and its wall seconds."""
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "rl_course.cli", "grade", str(folder), "--json", "--jobs", str(jobs), *options,
         "--csv", str(folder.parent / "grades.csv"), "--db", f"sqlite:///{folder.parent / 'gradebook.db'}", "--course", str(ROOT)],
        capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": str(seed)}, check=True,
    )
    return json.loads(result.stdout), time.perf_counter() - started


def full_marks(scores: dict) -> bool:
    return all(s["score"] == s["max_score"] for student in scores.values() for s in student.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=40)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--rounds", type=int, default=0, help="gradings of one copy of each solution, each with a new process seed")
    parser.add_argument("--sandbox", action="store_true", help="compare grading with confined and unconfined kernels")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="rl-course-bench-") as tmp:
        folder = Path(tmp) / "submitted"
        n = make_class(folder, args.students)
        print(f"a class of {args.students} students × {n // args.students} solution notebooks = {n} submissions")
        baseline = None
        for jobs in args.jobs:
            scores, seconds = grade(folder, jobs)
            baseline = baseline or seconds
            print(f"  {jobs} job(s): {seconds:7.1f} s, {seconds / n:5.1f} s per submission, "
                  f"{baseline / seconds:4.2f}× one job; full marks for all: {full_marks(scores)}", flush=True)
        if args.rounds:
            single = Path(tmp) / "one"
            make_class(single, 1)
            print(f"{args.rounds} gradings of the solutions, each with its own PYTHONHASHSEED")
            results = []
            for seed in range(1, args.rounds + 1):
                scores, seconds = grade(single, max(args.jobs), seed)
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
                    scores, took = grade(folder, jobs, options=options)
                    seconds[mode].append(took)
                    print(f"  {mode:>10}: {took:7.1f} s; full marks for all: {full_marks(scores)}", flush=True)
            confined, unconfined = (statistics.median(seconds[m]) for m in ("confined", "unconfined"))
            print(f"median: confined {confined:.1f} s, unconfined {unconfined:.1f} s, ratio {confined / unconfined:.3f}")


if __name__ == "__main__":
    main()
