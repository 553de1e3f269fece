"""The course's PPO against Stable-Baselines3's on Pendulum-v1: returns at equal environment steps, and wall time.

    pip install -e '.[bench]'
    python benchmarks/ppo_pendulum.py [--seeds 5] [--steps 100000] [--only rl_course]

Stable-Baselines3 runs rl-zoo's published settings for Pendulum-v1 (4 environments, n_steps 1024,
minibatches of 64, γ = 0.9, λ = 0.95, 10 epochs, learning rate 1e-3, clip 0.2, no entropy bonus,
gSDE with sde_sample_freq 4); the course's PPO runs its Pendulum-v1 preset
(``PPOConfig.for_env("Pendulum-v1")``: 8 environments × 128 steps, γ = 0.95, λ = 0.9, the learning rate
annealed, observations and rewards normalized, a state-independent Gaussian; the rest as rl-zoo's).
Same seeds, same budget, alternating, one torch thread each.
For every run it prints the mean return of the last 20 training episodes at equal environment steps,
the mean return of 10 evaluation episodes of the final policy (its most likely action), and the wall
seconds; then the medians and the ratios.
"""

from __future__ import annotations

import statistics
import time

import gymnasium as gym
import numpy as np
from peers import command_line, cpu_description

from rl_course import ppo

ENV = "Pendulum-v1"
WINDOW = 20  # training return: the mean of the last 20 episodes
EVAL_EPISODES, EVAL_SEED = 10, 10_000  # the seeds of the evaluation episodes, as rl_course.ppo.evaluate uses them


def mean_return_at(episodes: list[tuple[int, float]], step: int) -> float:
    """The mean return of the last 20 episodes that ended by environment step ``step``."""
    done = [r for end, r in episodes if end <= step][-WINDOW:]
    return float(np.mean(done)) if done else float("nan")


def run_rl_course(seed: int, steps: int) -> dict:
    started = time.perf_counter()
    training = ppo.train(ppo.PPOConfig.for_env(ENV, seed=seed, total_steps=steps), progress=False)
    seconds = time.perf_counter() - started
    final = ppo.evaluate(training.agent, ENV, n_episodes=EVAL_EPISODES, seed=EVAL_SEED).mean()
    return {"episodes": training.episodes, "seconds": seconds, "final": float(final)}


def run_stable_baselines3(seed: int, steps: int) -> dict:
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.env_util import make_vec_env

    class RecordEpisodes(BaseCallback):
        def __init__(self):
            super().__init__()
            self.episodes = []

        def _on_step(self) -> bool:
            for info in self.locals["infos"]:
                if "episode" in info:
                    self.episodes.append((self.num_timesteps, float(info["episode"]["r"])))
            return True

    started = time.perf_counter()
    env = make_vec_env(ENV, n_envs=4, seed=seed)
    model = PPO("MlpPolicy", env, n_steps=1024, batch_size=64, gae_lambda=0.95, gamma=0.9, n_epochs=10, ent_coef=0.0,
                learning_rate=1e-3, clip_range=0.2, use_sde=True, sde_sample_freq=4, seed=seed, device="cpu", verbose=0)
    callback = RecordEpisodes()
    model.learn(total_timesteps=steps, callback=callback)
    seconds = time.perf_counter() - started
    eval_env, returns = gym.make(ENV), []
    for i in range(EVAL_EPISODES):
        obs, _ = eval_env.reset(seed=EVAL_SEED + i)
        total, done = 0.0, False
        while not done:
            action, _ = model.predict(obs, deterministic=True)
            obs, reward, terminated, truncated, _ = eval_env.step(action)
            total, done = total + float(reward), terminated or truncated
        returns.append(total)
    return {"episodes": callback.episodes, "seconds": seconds, "final": float(np.mean(returns))}


def main() -> None:
    args, runners = command_line(__doc__, {"rl_course": run_rl_course, "stable-baselines3": run_stable_baselines3}, "--steps")
    marks = [args.steps * k // 4 for k in (1, 2, 3, 4)]
    results = {name: [] for name in runners}
    print(cpu_description())
    print(f"{ENV}, {args.seeds} seeds, {args.steps} steps. Training return = mean of the last {WINDOW} episodes at the step; "
          f"final = {EVAL_EPISODES} evaluation episodes of the final policy, most likely action")
    print(f"{'seed':>4}  {'implementation':<18}" + "".join(f"{f'@{m // 1000}k':>9}" for m in marks) + f"{'final':>9}{'seconds':>9}")
    for seed in range(args.seeds):
        for name, run in runners.items():  # alternating, so drift on a shared machine hits both alike
            result = run(seed, args.steps)
            result["at"] = [mean_return_at(result["episodes"], m) for m in marks]
            results[name].append(result)
            print(f"{seed:>4}  {name:<18}" + "".join(f"{r:>9.1f}" for r in result["at"])
                  + f"{result['final']:>9.1f}{result['seconds']:>9.1f}", flush=True)

    print(f"\nmedians over {args.seeds} seeds")
    medians = {}
    for name, rows in results.items():
        at = [statistics.median(r["at"][k] for r in rows) for k in range(len(marks))]
        final, seconds = statistics.median(r["final"] for r in rows), statistics.median(r["seconds"] for r in rows)
        worst = min(r["final"] for r in rows)
        medians[name] = (at, final, seconds)
        print(f"{'':>4}  {name:<18}" + "".join(f"{v:>9.1f}" for v in at) + f"{final:>9.1f}{seconds:>9.1f}   worst final {worst:.1f}")
    if len(medians) == 2:
        (ours_at, ours_final, ours_s), (peer_at, peer_final, peer_s) = medians["rl_course"], medians["stable-baselines3"]
        print(f"rl_course − stable-baselines3 at {args.steps} steps: training return {ours_at[-1] - peer_at[-1]:+.1f}, "
              f"final {ours_final - peer_final:+.1f}; time ratio rl_course / stable-baselines3 {ours_s / peer_s:.2f}")


if __name__ == "__main__":
    main()
