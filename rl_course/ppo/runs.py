"""A training run with its outputs, as ``rl-course train`` writes them: the learning curves (PNG), the
metrics of every iteration (CSV), a checkpoint and an animation (GIF) of the agent where the mean
return peaked (PPO can slip after solving)."""

from __future__ import annotations

import copy
import csv
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import gymnasium as gym

from rl_course.ppo.config import PPOConfig
from rl_course.ppo.evaluation import render_episode, save_checkpoint, save_gif
from rl_course.ppo.trainer import Training, train


@dataclass
class Run:
    """What ``train_and_save`` did: the training, its wall seconds, the files written, where the kept agent is from."""

    training: Training
    seconds: float
    written: list[Path] = field(default_factory=list)
    best_step: int | None = None
    """the step of the iteration where the mean return of the last 20 episodes peaked: the checkpoint's and GIF's agent."""
    best_mean_return: float = -math.inf

    def summary(self) -> str:
        """One line: steps, seconds, the final mean return and whether (and when) the threshold was reached."""
        config, last = self.training.config, self.training.history[-1]
        threshold = gym.spec(config.env_id).reward_threshold
        solved = f"reached {threshold:g} at step {self.training.solved_at}" if self.training.solved_at else (
            f"did not reach {threshold:g}" if threshold is not None else "no solved threshold")
        return (f"{config.env_id}: {last['step']} steps, {self.seconds:.1f} s, mean return of the last 20 episodes "
                f"{last['mean_return']:.1f}, {solved}")


def train_and_save(config: PPOConfig, out: Path | str, gif: bool = True) -> Run:
    """Train PPO as ``config`` says and write into ``out``: ppo_<env>_curves.png, ppo_<env>_metrics.csv,
    ppo_<env>.pt (the agent where the mean return peaked) and, with ``gif``, ppo_<env>.gif of that agent."""
    import matplotlib.pyplot as plt

    from rl_course import plotting

    best = {"mean_return": -math.inf, "step": None, "state": None}

    def keep_the_best(row: dict, training: Training) -> None:
        if row["mean_return"] > best["mean_return"]:
            best.update(mean_return=row["mean_return"], step=row["step"], state=copy.deepcopy(training.agent.state_dict()))

    config.check()
    started = time.perf_counter()
    training = train(config, on_iteration=keep_the_best)
    run = Run(training, time.perf_counter() - started, best_step=best["step"], best_mean_return=best["mean_return"])
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stem = out / f"ppo_{config.env_id}"
    fig = plotting.plot_training(training.history, training.episodes, title=f"PPO on {config.env_id}",
                                 threshold=gym.spec(config.env_id).reward_threshold)
    fig.savefig(f"{stem}_curves.png", dpi=110)
    plt.close(fig)
    with open(f"{stem}_metrics.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(training.history[0]))
        writer.writeheader()
        writer.writerows(training.history)
    if best["state"] is not None:
        training.agent.load_state_dict(best["state"])
    save_checkpoint(f"{stem}.pt", training.agent, config)
    run.written = [Path(f"{stem}_curves.png"), Path(f"{stem}_metrics.csv"), Path(f"{stem}.pt")]
    if gif:
        save_gif(render_episode(training.agent, config.env_id, seed=config.seed), f"{stem}.gif")
        run.written.append(Path(f"{stem}.gif"))
    return run
