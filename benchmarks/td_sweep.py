"""Time the random-walk TD(λ) sweep: the library's vectorized reference against a plain per-run loop.

    python benchmarks/td_sweep.py [--runs 100] [--trace accumulating]

Both compute the textbook figure (8 values of λ × 57 of α, 100 runs × 10 episodes) on the
same episodes; the script checks they agree, then prints both wall times and the speed-up.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from rl_course import envs, tabular


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100, help="independent runs (default: 100)")
    parser.add_argument("--trace", choices=tabular.TRACES, default="accumulating")
    args = parser.parse_args()

    alphas, lams = np.array(tabular.FIGURE_ALPHAS), tabular.FIGURE_LAMS
    runs = tabular.random_walk_runs(n_runs=args.runs, n_episodes=10, seed=0)
    v_true = envs.random_walk_true_values()
    steps = sum(len(ep) for run in runs for ep in run)
    print(f"sweep: {len(lams)} λ × {len(alphas)} α × {args.runs} runs × 10 episodes ({steps} steps per (α, λ)), {args.trace} traces")

    timings = {}
    for name, sweep in (("vectorized", tabular.td_lambda_sweep), ("plain loop", tabular.td_lambda_sweep_loop)):
        started = time.perf_counter()
        errors = sweep(runs, v_true, alphas, lams, trace=args.trace, progress=False)
        timings[name] = (time.perf_counter() - started, errors)
        print(f"{name:>11}: {timings[name][0]:8.2f} s")

    (fast, fast_errors), (slow, slow_errors) = timings["vectorized"], timings["plain loop"]
    finite = np.isfinite(slow_errors)
    assert np.array_equal(finite, np.isfinite(fast_errors)) and np.allclose(fast_errors[finite], slow_errors[finite], rtol=1e-9)
    print(f"   speed-up: {slow / fast:8.1f}×  (the two agree on every (α, λ) to 1e-9)")


if __name__ == "__main__":
    main()
