"""Time GAE on a rollout of T = 2048 steps × 64 environments: the library against a plain Python loop.

    python benchmarks/gae.py [--steps 2048] [--envs 64] [--repeats 5]

Random rewards, values and episode ends (terminations and time limits); the library's
results are checked against the loop (to 1e-6) before the
times are printed (best of N).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from rl_course import advantages


def plain_loop(rewards, values, next_values, terminated, truncated, gamma, lam):
    """Ψ^GAE(s_t) = Ψ₍₁₎(s_t) + λγ(1 − done_{t+1}) Ψ^GAE(s_{t+1}), one environment and one step at a time."""
    T, n = len(rewards), len(rewards[0])
    out = [[0.0] * n for _ in range(T)]
    for i in range(n):
        following = 0.0
        for t in range(T - 1, -1, -1):
            delta = rewards[t][i] + (0.0 if terminated[t][i] else gamma * next_values[t][i]) - values[t][i]
            following = delta + (0.0 if terminated[t][i] or truncated[t][i] else gamma * lam * following)
            out[t][i] = following
    return out


def best_time(fn, repeats):
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2048)
    parser.add_argument("--envs", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    shape = (args.steps, args.envs)
    r, v, nv = rng.normal(size=shape), rng.normal(size=shape), rng.normal(size=shape)
    terminated = rng.random(shape) < 0.005
    truncated = (rng.random(shape) < 0.002) & ~terminated
    gamma, lam = 0.99, 0.95
    lists = [x.tolist() for x in (r, v, nv, terminated, truncated)]

    runs = {
        "plain Python loop": lambda: np.array(plain_loop(*lists, gamma, lam)),
        "rl_course numpy gae": lambda: advantages.gae(r, v, nv, terminated, truncated, gamma, lam),
    }
    print(f"GAE on {args.steps} steps × {args.envs} environments, best of {args.repeats}")
    results = {name: best_time(fn, args.repeats) for name, fn in runs.items()}
    reference = results["plain Python loop"][1]
    for name, (seconds, result) in results.items():
        assert np.allclose(result, reference, atol=1e-6), name
        print(f"{name:>32}: {seconds * 1e3:9.1f} ms   {results['plain Python loop'][0] / seconds:7.1f}× the loop")


if __name__ == "__main__":
    main()
