"""Implementation matters, measured: PPO on Pendulum-v1 with its full configuration and with each trick switched.

    python benchmarks/ablations.py [--seeds 5] [--steps 100000] [--jobs 2] [--out docs/figures/pendulum_ablations.png]

The full configuration is the Pendulum-v1 preset (``PPOConfig.for_env("Pendulum-v1")``); each variant
changes one setting of it (``VARIANTS``): a trick switched off, or, for the annealing the preset does not use,
switched on; two change how a trick is done (the critic loss clipped; the advantages normalized over the whole rollout
instead of each minibatch); two more replace or guard the clipped objective with the KL-based ones of the lecture. Every
configuration runs on the same seeds. It prints a table of final returns (10 evaluation episodes of the final policy,
its most likely action: median and range over the seeds; approx-KL: the median over the seeds of each run's median
approx-KL per update), the final return and the median approx-KL of every seed, and writes one
figure: the mean return of the last 20 training episodes against environment steps, the median over the
seeds with a band from the lowest to the highest seed, each variant beside the full configuration.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ENV = "Pendulum-v1"
ROOT = Path(__file__).resolve().parents[1]
FIGURE = ROOT / "docs" / "figures" / "pendulum_ablations.png"

# name → (what changes, the settings that change)
VARIANTS: dict[str, tuple[str, dict]] = {
    "full": ("the Pendulum-v1 preset", {}),
    "no obs normalization": ("raw observations", {"normalize_observations": False}),
    "no reward scaling": ("raw rewards", {"scale_rewards": False}),
    "no orthogonal init": ("torch's default initialization", {"orthogonal_init": False}),
    "no lr annealing": ("constant learning rate", {"anneal_lr": False}),
    "with ε annealing": ("ε decayed linearly to 0 (the preset keeps it constant)", {"anneal_clip": True}),
    "no gradient clipping": ("max_grad_norm None", {"max_grad_norm": None}),
    "no advantage normalization": ("raw Ψ^GAE in the loss", {"normalize_advantages": False}),
    "value clipping": ("critic loss clipped with ε̂ = 0.2 (Andrychowicz et al. 2021 advise against it)", {"clip_value": 0.2}),
    "batch advantage normalization": ("Ψ^GAE normalized once over the rollout, not per minibatch", {"advantage_scope": "batch"}),
    "KL penalty": ("E[ρΨ] − C·KL(π_old‖π_θ), C adapted toward 0.01, no clipping", {"objective": "kl_penalty"}),
    "KL early stopping": ("clipping, and the epochs stop once approx-KL > 0.03", {"early_stop_kl": 0.03}),
}


def run(job: tuple[str, int, int]) -> tuple[str, int, list[tuple[int, float]], float, float, float]:
    """One training run: (variant, seed, its episodes (end step, return), final evaluation return, seconds,
    the median over its updates of approx-KL, how far one update moved the policy)."""
    import torch

    from rl_course import ppo

    torch.set_num_threads(1)
    name, seed, steps = job
    started = time.perf_counter()
    config = ppo.PPOConfig.for_env(ENV, seed=seed, total_steps=steps, **VARIANTS[name][1])
    training = ppo.train(config, progress=False)
    seconds = time.perf_counter() - started
    final = float(ppo.evaluate(training.agent, ENV, n_episodes=10).mean())
    kl = float(np.median([row["approx_kl"] for row in training.history]))
    return name, seed, training.episodes, final, seconds, kl


def curve(episodes: list[tuple[int, float]], grid: np.ndarray, window: int = 20) -> np.ndarray:
    """The mean return of the last ``window`` episodes ended by each step of ``grid`` (NaN before the first)."""
    ends = np.array([end for end, _ in episodes])
    returns = np.array([r for _, r in episodes])
    out = np.full(len(grid), np.nan)
    for k, step in enumerate(grid):
        done = returns[ends <= step][-window:]
        if len(done):
            out[k] = done.mean()
    return out


def plot(curves: dict[str, np.ndarray], grid: np.ndarray, path: Path, seeds: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [n for n in VARIANTS if n != "full" and n in curves]
    cols = 3
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), sharex=True, sharey=True, squeeze=False)
    for ax, name in zip(axes.ravel(), names, strict=False):  # the grid's last row may have empty axes
        for label, color in (("full", "black"), (name, "tab:red")):
            runs = curves[label]
            with warnings.catch_warnings():  # before the first episode ends every seed's curve is NaN: nothing is drawn there
                warnings.simplefilter("ignore", RuntimeWarning)
                low, median, high = np.nanmin(runs, 0), np.nanmedian(runs, 0), np.nanmax(runs, 0)
            ax.fill_between(grid, low, high, color=color, alpha=0.15, lw=0)
            ax.plot(grid, median, color=color, lw=1.6, label=label)
        ax.set_title(name, fontsize="medium")
        ax.legend(fontsize="x-small", loc="lower right")
        ax.grid(alpha=0.3)
        ax.set_ylim(-1600, 0)
    for ax in axes.ravel()[len(names):]:
        ax.axis("off")
    for ax in axes[-1]:
        ax.set_xlabel("environment steps")
    for ax in axes[:, 0]:
        ax.set_ylabel("return (last 20 episodes)")
    fig.suptitle(f"PPO on {ENV}: the full configuration against each variant (median and range over {seeds} seeds)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="runs at once, one process each")
    parser.add_argument("--only", nargs="+", choices=list(VARIANTS), help="run these variants (and the full configuration)")
    parser.add_argument("--out", type=Path, default=FIGURE, help=f"the figure (default: {FIGURE.relative_to(ROOT)})")
    parser.add_argument("--record", type=Path, help="append each run's result to this file (JSON lines) as soon as it ends")
    args = parser.parse_args()
    if args.seeds < 1 or args.steps < 1 or args.jobs < 1:
        parser.error("--seeds, --steps and --jobs must be at least 1")
    names = ["full", *[n for n in VARIANTS if n != "full" and (not args.only or n in args.only)]]
    jobs = [(name, seed, args.steps) for seed in range(args.seeds) for name in names]

    from tqdm import tqdm

    results: dict[str, dict[int, tuple]] = {name: {} for name in names}
    with ProcessPoolExecutor(args.jobs) as pool:
        for name, seed, episodes, final, seconds, kl in tqdm(pool.map(run, jobs), total=len(jobs), desc="ablation runs", unit="run"):
            results[name][seed] = (episodes, final, seconds, kl)
            if args.record:
                with args.record.open("a") as record:
                    record.write(json.dumps({"variant": name, "seed": seed, "final": final, "approx_kl": kl, "seconds": seconds}) + "\n")

    grid = np.linspace(0, args.steps, 101)[1:]
    curves = {name: np.stack([curve(results[name][s][0], grid) for s in range(args.seeds)]) for name in names}
    print(f"\n{ENV}, {args.steps} steps, seeds 0–{args.seeds - 1}; final = 10 evaluation episodes of the final policy")
    print(f"{'configuration':<32}{'median final':>13}{'worst':>9}{'best':>9}{'training @end':>15}{'approx-KL':>11}{'seconds':>9}"
          "   what changes")
    for name in names:
        finals = [results[name][s][1] for s in range(args.seeds)]
        seconds = np.median([results[name][s][2] for s in range(args.seeds)])
        print(f"{name:<32}{np.median(finals):>13.1f}{min(finals):>9.1f}{max(finals):>9.1f}"
              f"{np.nanmedian(curves[name][:, -1]):>15.1f}{np.median([results[name][s][3] for s in range(args.seeds)]):>11.4f}"
              f"{seconds:>9.1f}   {VARIANTS[name][0]}")
    print("\nfinal return per seed (10 evaluation episodes each)")
    print(f"{'configuration':<32}" + "".join(f"{f'seed {s}':>9}" for s in range(args.seeds)))
    for name in names:
        print(f"{name:<32}" + "".join(f"{results[name][s][1]:>9.1f}" for s in range(args.seeds)))
    print("\nmedian approx-KL per update, per seed")
    print(f"{'configuration':<32}" + "".join(f"{f'seed {s}':>9}" for s in range(args.seeds)))
    for name in names:
        print(f"{name:<32}" + "".join(f"{results[name][s][3]:>9.4f}" for s in range(args.seeds)))
    plot(curves, grid, args.out, args.seeds)
    print(f"\nfigure: {args.out}")


if __name__ == "__main__":
    main()
