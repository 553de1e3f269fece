"""The course's PPO against Stable-Baselines3's on CartPole-v1: time and steps until solved.

    pip install -e '.[bench]'
    python benchmarks/ppo_cartpole.py [--seeds 5] [--max-steps 100000] [--only rl_course]

Both run rl-zoo's published hyperparameters for CartPole-v1 (8 environments, n_steps 32,
batch 256, γ = 0.98, λ = 0.8, 20 epochs, learning rate 1e-3 and clip 0.2 both decayed
linearly, no entropy bonus), on the same seeds, alternating, each with one torch thread.
For every run it prints the environment steps and wall seconds until the mean return of
the last 20 episodes first reaches 475, then the medians and the ratio.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
from peers import command_line, cpu_description

from rl_course import ppo

SOLVED = 475.0


def run_rl_course(seed: int, max_steps: int) -> tuple[int | None, float]:
    started = time.perf_counter()
    training = ppo.train(ppo.PPOConfig(seed=seed, total_steps=max_steps), progress=False, stop_when_solved=True)
    return training.solved_at, time.perf_counter() - started


def run_stable_baselines3(seed: int, max_steps: int) -> tuple[int | None, float]:
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env

    class StopWhenSolved(BaseCallback):
        solved_at = None

        def _on_step(self) -> bool:
            recent = [info["r"] for info in list(self.model.ep_info_buffer)[-20:]]
            if len(recent) == 20 and np.mean(recent) >= SOLVED:
                self.solved_at = self.num_timesteps
                return False
            return True

    def linear(start):
        return lambda remaining: remaining * start

    started = time.perf_counter()
    env = make_vec_env("CartPole-v1", n_envs=8, seed=seed)
    model = PPO("MlpPolicy", env, n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98, n_epochs=20, ent_coef=0.0,
                learning_rate=linear(1e-3), clip_range=linear(0.2), seed=seed, device="cpu", verbose=0)
    callback = StopWhenSolved()
    model.learn(total_timesteps=max_steps, callback=callback)
    return callback.solved_at, time.perf_counter() - started


def main() -> None:
    args, runners = command_line(__doc__, {"rl_course": run_rl_course, "stable-baselines3": run_stable_baselines3}, "--max-steps")
    results = {name: [] for name in runners}
    print(cpu_description())
    print(f"CartPole-v1, rl-zoo hyperparameters, {args.seeds} seeds, at most {args.max_steps} steps; solved = mean of last 20 ≥ {SOLVED:g}")
    print(f"{'seed':>4}  " + "".join(f"{name + ' steps':>24}{'seconds':>9}" for name in runners))
    for seed in range(args.seeds):
        cells = []
        for name, run in runners.items():  # alternating, so drift on a shared machine hits both alike
            steps, seconds = run(seed, args.max_steps)
            results[name].append((steps, seconds))
            cells.append(f"{steps if steps else 'not solved':>24}{seconds:>9.1f}")
        print(f"{seed:>4}  " + "".join(cells), flush=True)

    medians = {}
    for name, rows in results.items():
        solved = [r for r in rows if r[0] is not None]
        medians[name] = (statistics.median(r[0] for r in solved) if solved else None,
                         statistics.median(r[1] for r in solved) if solved else None)
        print(f"{name:>18}: solved {len(solved)}/{len(rows)} seeds, median {medians[name][0]} steps, "
              f"median {medians[name][1]:.1f} s" if solved else f"{name:>18}: solved 0/{len(rows)} seeds")
    if len(medians) == 2 and all(m[0] is not None for m in medians.values()):
        ours, peer = medians["rl_course"], medians["stable-baselines3"]
        print(f"ratio rl_course / stable-baselines3: time {ours[1] / peer[1]:.2f}, steps {ours[0] / peer[0]:.2f}")
    print(f"at the end: {cpu_description()}")


if __name__ == "__main__":
    main()
