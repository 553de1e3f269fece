"""The PPO loop: collect a rollout → GAE → flatten → epochs of minibatch updates → log.

``train`` takes the pieces it is built from as arguments (``gae``, ``policy_objective``,
``value_loss``), so a notebook can train with its own implementations of them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from tqdm.auto import tqdm

from rl_course import advantages as adv
from rl_course.ppo.config import PPOConfig
from rl_course.ppo.losses import (
    approx_kl,
    clip_fraction,
    clipped_surrogate,
    clipped_value_loss,
    explained_variance,
    normalize_advantages,
    probability_ratio,
)
from rl_course.ppo.networks import ActorCritic
from rl_course.rollouts import collect_rollout, make_vector_env

RETURN_WINDOW = 20  # "mean return" is over the last 20 finished episodes


@dataclass
class Training:
    """What ``train`` returns: the trained agent, one dict of diagnostics per iteration, every finished episode."""

    agent: ActorCritic
    config: PPOConfig
    history: list[dict] = field(default_factory=list)
    episodes: list[tuple[int, float]] = field(default_factory=list)  # (environment step at its end, return)

    @property
    def solved_at(self) -> int | None:
        """The first environment step at which the mean return reached the environment's solved threshold."""
        hits = [row["step"] for row in self.history if row.get("solved")]
        return hits[0] if hits else None


def train(
    config: PPOConfig,
    gae: Callable = adv.gae,
    policy_objective: Callable = clipped_surrogate,
    value_loss: Callable = clipped_value_loss,
    progress: bool = True,
    on_iteration: Callable[[dict, "Training"], None] | None = None,
    stop_when_solved: bool = False,
) -> Training:
    """Train PPO as ``config`` says; returns a ``Training``.

    gae(rewards, values, next_values, terminated, truncated, gamma, lam)   numpy (T, n_envs) → Ψ^GAE
    policy_objective(ratio, advantages, eps)                               torch → L^CLIP (maximized)
    value_loss(values, old_values, targets, eps_hat)                       torch → critic loss (minimized)
    on_iteration(row, training)   called after every iteration (live plots, early stops)
    """
    config.check()
    threads = torch.get_num_threads()
    torch.set_num_threads(config.torch_threads)
    try:
        return _train(config, gae, policy_objective, value_loss, progress, on_iteration, stop_when_solved)
    finally:
        torch.set_num_threads(threads)


def _train(config, gae, policy_objective, value_loss, progress, on_iteration, stop_when_solved) -> Training:
    import gymnasium as gym

    torch.manual_seed(config.seed)
    envs = make_vector_env(config.env_id, config.n_envs, **config.env_kwargs)
    agent = ActorCritic(envs.single_observation_space, envs.single_action_space, config.hidden_sizes)
    optimizer = torch.optim.Adam(agent.parameters(), lr=config.learning_rate, eps=1e-5)
    threshold = gym.spec(config.env_id).reward_threshold
    training = Training(agent, config)
    obs, _ = envs.reset(seed=config.seed)
    started, step = time.perf_counter(), 0
    bar = tqdm(total=config.n_iterations * config.batch_size, desc=f"PPO on {config.env_id}", unit="step", disable=not progress)
    try:
        for iteration in range(config.n_iterations):
            remaining = 1.0 - iteration / config.n_iterations
            lr = config.learning_rate * (remaining if config.anneal_lr else 1.0)
            eps = config.clip_eps * (remaining if config.anneal_clip else 1.0)
            for group in optimizer.param_groups:
                group["lr"] = lr

            # 1. collect a rollout with the current policy; π_old and V_old are what it recorded
            rollout = collect_rollout(envs, obs, agent.act, agent.values, config.n_steps, to_env=agent.env_actions)
            obs = rollout.last_observations
            step += config.batch_size
            training.episodes += [(step, float(r)) for r in rollout.episode_returns]

            # 2. advantages Ψ^GAE and critic targets y = Ψ^GAE + V_old
            psi = gae(rollout.rewards, rollout.values, rollout.next_values, rollout.terminated, rollout.truncated,
                      config.gamma, config.gae_lambda)
            targets = np.asarray(psi) + rollout.values

            # 3. flatten (T, n_envs) into one batch of transitions
            batch = {
                "obs": torch.as_tensor(rollout.observations.reshape(config.batch_size, -1), dtype=torch.float32),
                "actions": torch.as_tensor(rollout.actions.reshape(config.batch_size, *rollout.actions.shape[2:])),
                "log_probs": torch.as_tensor(rollout.log_probs.reshape(-1), dtype=torch.float32),
                "advantages": torch.as_tensor(np.asarray(psi).reshape(-1), dtype=torch.float32),
                "targets": torch.as_tensor(targets.reshape(-1), dtype=torch.float32),
                "values": torch.as_tensor(rollout.values.reshape(-1), dtype=torch.float32),
            }

            # 4. epochs of minibatch updates
            stats = update(agent, optimizer, batch, config, eps, policy_objective, value_loss)

            # 5. log
            recent = [r for _, r in training.episodes[-RETURN_WINDOW:]]
            mean_return = float(np.mean(recent)) if recent else float("nan")
            row = {
                "iteration": iteration + 1, "step": step, "seconds": time.perf_counter() - started,
                "learning_rate": lr, "clip_eps": eps, "mean_return": mean_return,
                "episodes": len(training.episodes),
                "solved": bool(threshold is not None and len(recent) == RETURN_WINDOW and mean_return >= threshold),
                "explained_variance": explained_variance(batch["values"], batch["targets"]),
                **stats,
            }
            training.history.append(row)
            bar.update(config.batch_size)
            bar.set_postfix(mean_return=f"{mean_return:.1f}", approx_kl=f"{stats['approx_kl']:.4f}")
            if on_iteration is not None:
                on_iteration(row, training)
            if stop_when_solved and row["solved"]:
                break
    finally:
        bar.close()
        envs.close()
    return training


def update(
    agent: ActorCritic,
    optimizer: torch.optim.Optimizer,
    batch: dict,
    config: PPOConfig,
    eps: float,
    policy_objective: Callable = clipped_surrogate,
    value_loss: Callable = clipped_value_loss,
) -> dict:
    """``config.n_epochs`` passes over ``batch`` in shuffled minibatches; returns the mean diagnostics.

    Per minibatch: ρ = π_θ/π_old, advantages normalized within the minibatch, loss
    −L^CLIP + c_V · L^V − c_H · entropy, one Adam step after clipping the global gradient norm.
    """
    n = len(batch["advantages"])
    sums = {"policy_loss": 0.0, "value_loss": 0.0, "entropy": 0.0, "approx_kl": 0.0, "clip_fraction": 0.0}
    count = 0
    for _ in range(config.n_epochs):
        order = torch.randperm(n)
        for start in range(0, n, config.minibatch_size):
            idx = order[start : start + config.minibatch_size]
            dist = agent.distribution(batch["obs"][idx])
            ratio = probability_ratio(agent.log_prob(dist, batch["actions"][idx]), batch["log_probs"][idx])
            advantages = batch["advantages"][idx]
            if config.normalize_advantages:
                advantages = normalize_advantages(advantages)
            policy_loss = -policy_objective(ratio, advantages, eps)
            critic_loss = value_loss(agent.value(batch["obs"][idx]), batch["values"][idx], batch["targets"][idx], config.clip_value)
            entropy = agent.entropy(dist).mean()
            loss = policy_loss + config.vf_coef * critic_loss - config.ent_coef * entropy
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"PPO loss is {loss.item()} (policy {policy_loss.item():.4g}, critic {critic_loss.item():.4g}, "
                    f"entropy {entropy.item():.4g}) at minibatch {count} of this update: check the rewards, "
                    "the learning rate and the loss functions for NaN or overflow"
                )
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(agent.parameters(), config.max_grad_norm)
            optimizer.step()
            for key, value in (("policy_loss", policy_loss), ("value_loss", critic_loss), ("entropy", entropy),
                               ("approx_kl", approx_kl(ratio)), ("clip_fraction", clip_fraction(ratio, eps))):
                sums[key] += float(value.detach())
            count += 1
    return {key: total / count for key, total in sums.items()}
