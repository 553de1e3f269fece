"""The PPO loop: collect a rollout → GAE → flatten → epochs of minibatch updates → log.

``train`` takes the pieces it is built from as arguments (``gae``, ``policy_objective``,
``value_loss``), so a notebook can train with its own implementations of them. Every
implementation detail of the lecture's "implementation matters" slide is a switch of
``PPOConfig``: observation and reward normalization (in the environments, ``make_training_env``),
orthogonal initialization, learning-rate and ε annealing, gradient clipping, advantage
normalization, and the KL-penalty objective with KL early stopping as alternatives to clipping.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable

import gymnasium as gym
import numpy as np
import torch
from tqdm.auto import tqdm

from rl_course import advantages as adv
from rl_course.grading import reference
from rl_course.ppo.config import PPOConfig
from rl_course.ppo.losses import (
    adapt_kl_coef,
    approx_kl,
    clip_fraction,
    clipped_surrogate,
    clipped_value_loss,
    explained_variance,
    kl_penalty_objective,
    normalize_advantages,
    probability_ratio,
)
from rl_course.ppo.networks import ActorCritic, kl_divergence
from rl_course.ppo.normalization import make_training_env
from rl_course.ppo.optimization import attach_gradients, flatten_parameters, linear_schedule
from rl_course.rollouts import collect_rollout

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
        """The first environment step at which the mean return of the last 20 episodes reached the
        environment's solved threshold: the step that ended the episode which brought it there."""
        hits = solved_episodes([r for _, r in self.episodes], gym.spec(self.config.env_id).reward_threshold)
        return self.episodes[hits[0]][0] if len(hits) else None


def solved_episodes(returns: list[float], threshold: float | None, first: int = 0) -> np.ndarray:
    """The indices k ≥ ``first`` of the episodes at whose end the mean return of the last 20 episodes,
    mean(returns[k − 19], …, returns[k]), was at least ``threshold`` (none if there is no threshold)."""
    start = max(first - RETURN_WINDOW + 1, 0)  # the earliest episode in a window that ends at k ≥ first
    if threshold is None or len(returns) - start < RETURN_WINDOW:
        return np.array([], dtype=int)
    means = np.lib.stride_tricks.sliding_window_view(returns[start:], RETURN_WINDOW).mean(-1)  # windows ending at k
    return start + RETURN_WINDOW - 1 + np.flatnonzero(means >= threshold)


def episode_end_steps(rollout, first_step: int) -> np.ndarray:
    """The environment step at which each episode finished in ``rollout`` ended, in the order of
    ``rollout.episode_returns``: vector step t (n_envs environment steps) ends at first_step + n_envs · (t + 1)."""
    t, _ = np.nonzero(rollout.dones)  # row by row: the order in which the episodes were recorded
    return first_step + rollout.dones.shape[1] * (t + 1)


def make_optimizer(agent: ActorCritic, config: PPOConfig) -> torch.optim.Optimizer:
    """Adam with ε = 1e-5 over the agent's parameters kept in one flat tensor (``flatten_parameters``);
    its fused version (one kernel for the whole step) where this torch has one for CPU. ``update`` zeroes the
    gradients in place; elsewhere call ``attach_gradients`` after a ``zero_grad()`` that set them to None."""
    parameters = [flatten_parameters(agent)]
    try:
        return torch.optim.Adam(parameters, lr=config.learning_rate, eps=1e-5, fused=True)
    except (RuntimeError, ValueError):  # torch < 2.4 has no fused Adam on CPU
        return torch.optim.Adam(parameters, lr=config.learning_rate, eps=1e-5)


@reference
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
    torch.manual_seed(config.seed)
    envs, observation_normalizer = make_training_env(config)
    agent = ActorCritic.for_config(config, envs.single_observation_space, envs.single_action_space)
    optimizer = make_optimizer(agent, config)
    kl_coef = config.kl_coef
    threshold = gym.spec(config.env_id).reward_threshold
    training = Training(agent, config)
    obs, _ = envs.reset(seed=config.seed)
    started, step = time.perf_counter(), 0
    bar = tqdm(total=config.n_iterations * config.batch_size, desc=f"PPO on {config.env_id}", unit="step", disable=not progress)
    try:
        for iteration in range(config.n_iterations):
            lr = linear_schedule(config.learning_rate, iteration, config.n_iterations) if config.anneal_lr else config.learning_rate
            eps = linear_schedule(config.clip_eps, iteration, config.n_iterations) if config.anneal_clip else config.clip_eps
            for group in optimizer.param_groups:
                group["lr"] = lr

            # 1. collect a rollout with the current policy; π_old and V_old are what it recorded
            #    (act_and_value evaluates actor and critic in one pass)
            rollout = collect_rollout(envs, obs, agent.act_and_value, agent.values, config.n_steps, to_env=agent.env_actions)
            obs = rollout.last_observations
            if observation_normalizer is not None:  # the agent keeps the statistics its observations were normalized with
                agent.obs_statistics.load(observation_normalizer.obs_rms)
            first_new = len(training.episodes)
            ends = episode_end_steps(rollout, step)
            training.episodes += [(int(end), float(r)) for end, r in zip(ends, rollout.episode_returns)]
            step += config.batch_size

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
            stats = update(agent, optimizer, batch, config, eps, policy_objective, value_loss, kl_coef=kl_coef)
            if config.objective == "kl_penalty":  # C moves toward the target KL for the next update
                stats["kl_coef"] = kl_coef
                kl_coef = adapt_kl_coef(kl_coef, stats["kl"], config.kl_target)

            # 5. log
            recent = [r for _, r in training.episodes[-RETURN_WINDOW:]]
            mean_return = float(np.mean(recent)) if recent else float("nan")
            row = {
                "iteration": iteration + 1, "step": step, "seconds": time.perf_counter() - started,
                "learning_rate": lr, "clip_eps": eps, "mean_return": mean_return,
                "episodes": len(training.episodes),
                # the mean of the last 20 returns reached the threshold at the end of an episode of this rollout
                "solved": len(solved_episodes([r for _, r in training.episodes], threshold, first=first_new)) > 0,
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


DIAGNOSTICS = ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction")


def diagnostics(records: list[tuple], eps: float) -> dict:
    """The DIAGNOSTICS of an update from its minibatches' (policy loss, critic loss, entropy, ρ): the losses and
    the entropy averaged over the minibatches, approx-KL and the clip fraction over all their transitions."""
    losses = torch.stack([torch.stack([value.reshape(()) for value in record[:3]]) for record in records]).mean(0)
    ratios = torch.cat([record[3] for record in records])
    return dict(zip(DIAGNOSTICS, [*losses.tolist(), float(approx_kl(ratios)), float(clip_fraction(ratios, eps))]))


@reference
def update(
    agent: ActorCritic,
    optimizer: torch.optim.Optimizer,
    batch: dict,
    config: PPOConfig,
    eps: float,
    policy_objective: Callable = clipped_surrogate,
    value_loss: Callable = clipped_value_loss,
    kl_coef: float | None = None,
) -> dict:
    """``config.n_epochs`` passes over ``batch`` in shuffled minibatches; returns the mean diagnostics.

    Per minibatch: ρ = π_θ/π_old, advantages normalized within the minibatch (once over the whole batch with
    ``config.advantage_scope == "batch"``), loss
    −L^CLIP + c_V · L^V − c_H · entropy, one Adam step after clipping the global gradient norm.
    With ``config.objective == "kl_penalty"`` the policy term is −(E[ρΨ] − C·KL(π_old‖π_θ)) with
    C = ``kl_coef``, and the diagnostics add ``kl``, the mean KL(π_old‖π_θ) over the batch after the update.
    The diagnostics: the losses and the entropy averaged over the minibatches, approx-KL and the clip
    fraction over all their transitions.
    With ``config.early_stop_kl`` the update stops at the first minibatch whose approx-KL exceeds it
    (before its step); ``epochs`` tells how many passes were made (a fraction when one was cut short).
    """
    penalty = config.objective == "kl_penalty"
    if penalty:  # π_old is the policy before the first step of this update: its outputs on the whole batch
        with torch.no_grad():
            batch = {**batch, "old_out": agent.actor(batch["obs"])}
        old_log_std = agent.log_std.detach().clone() if not agent.discrete else None
    normalize = config.normalize_advantages
    if normalize and (config.advantage_scope == "batch" or config.minibatch_size >= len(batch["advantages"])):
        # over the whole batch (or one minibatch, the batch itself, every epoch): the normalized advantages are computed once
        batch, normalize = {**batch, "advantages": normalize_advantages(batch["advantages"])}, False
    parameters = [p for group in optimizer.param_groups for p in group["params"]]  # the agent's, or them flattened
    for p in parameters:
        if hasattr(p, "members"):  # flattened: its gradient views may have been set to None since the last update
            attach_gradients(p)
    records = []  # per minibatch (policy loss, critic loss, entropy, ρ), turned into the diagnostics once at the end
    n_minibatches = -(-len(batch["advantages"]) // config.minibatch_size)
    stopped = False
    for _ in range(config.n_epochs):
        for minibatch in minibatches(batch, config.minibatch_size):
            kl = None
            if penalty:
                kl = (kl_coef if kl_coef is not None else config.kl_coef, old_policy(agent, minibatch["old_out"], old_log_std))
            loss, record = minibatch_loss(agent, minibatch, config, eps, policy_objective, value_loss, kl, normalize)
            if config.early_stop_kl is not None and approx_kl(record[3]).item() > config.early_stop_kl:
                stopped = True  # this minibatch's policy has moved too far from π_old already: no further steps
                break
            if not math.isfinite(loss.item()):
                policy_loss, critic_loss, entropy = (float(value) for value in record[:3])
                raise FloatingPointError(
                    f"PPO loss is {loss.item()} (policy {policy_loss:.4g}, critic {critic_loss:.4g}, "
                    f"entropy {entropy:.4g}) at minibatch {len(records)} of this update: check the rewards, "
                    "the learning rate and the loss functions for NaN or overflow"
                )
            for p in parameters:  # in place: flattened gradients stay views of one tensor
                if p.grad is not None:
                    p.grad.zero_()
            loss.backward()
            if config.max_grad_norm is not None:
                torch.nn.utils.clip_grad_norm_(parameters, config.max_grad_norm, foreach=True)
            optimizer.step()
            records.append(record)
        if stopped:
            break
    steps = len(records)
    stats = diagnostics(records or [record], eps)  # stopped before the first step: those of the unchanged policy
    if config.early_stop_kl is not None:
        stats["epochs"] = steps / n_minibatches
    if penalty:
        with torch.no_grad():
            stats["kl"] = float(kl_divergence(old_policy(agent, batch["old_out"], old_log_std), agent.distribution(batch["obs"])).mean())
    return stats


def old_policy(agent: ActorCritic, old_out: torch.Tensor, old_log_std: torch.Tensor | None):
    """π_old(·|s) from the actor's outputs recorded before the update (and the log-std of then)."""
    if agent.discrete:
        return agent.policy(old_out)
    return torch.distributions.Normal(old_out, old_log_std.exp().expand_as(old_out), validate_args=False)


def minibatches(batch: dict, size: int):
    """The transitions of ``batch`` in a random order, cut into minibatches of ``size`` (the last may be smaller).

    When one minibatch holds the whole batch it is the batch itself, unshuffled: every loss is a mean
    over the minibatch, so shuffling would only reorder the terms of those means.
    """
    n = len(batch["advantages"])
    if size >= n:
        yield batch
        return
    order = torch.randperm(n)
    for start in range(0, n, size):
        idx = order[start : start + size]
        yield {key: value[idx] for key, value in batch.items()}


def minibatch_loss(agent, minibatch, config, eps, policy_objective, value_loss, kl=None, normalize=None) -> tuple[torch.Tensor, tuple]:
    """The loss of one minibatch, to be minimized, and what its diagnostics are made of, without gradient:
    (−L^CLIP, L^V, mean H(π(·|s)), ρ per transition).

        loss = −L^CLIP + c_V · L^V − c_H · mean H(π(·|s))

    ``kl = (C, π_old)`` replaces L^CLIP by the KL-penalty objective E[ρΨ] − C·KL(π_old‖π_θ). The advantages
    are normalized within the minibatch if ``normalize`` (default: ``config.normalize_advantages``).
    """
    dist, values = agent.distribution_and_value(minibatch["obs"])  # actor and critic in one pass
    ratio = probability_ratio(agent.log_prob(dist, minibatch["actions"]), minibatch["log_probs"])
    advantages = minibatch["advantages"]
    if config.normalize_advantages if normalize is None else normalize:
        advantages = normalize_advantages(advantages)
    if kl is None:
        policy_loss = -policy_objective(ratio, advantages, eps)
    else:
        coef, old = kl
        policy_loss = -kl_penalty_objective(ratio, advantages, kl_divergence(old, dist), coef)
    critic_loss = value_loss(values, minibatch["values"], minibatch["targets"], config.clip_value)
    loss = policy_loss + config.vf_coef * critic_loss
    if config.ent_coef != 0:
        entropy = agent.entropy(dist).mean()
        loss = loss - config.ent_coef * entropy
    if config.ent_coef == 0:  # a diagnostic only: no gradient needed
        with torch.no_grad():
            entropy = agent.entropy(dist).mean()
    return loss, (policy_loss.detach(), critic_loss.detach(), entropy.detach(), ratio.detach())
