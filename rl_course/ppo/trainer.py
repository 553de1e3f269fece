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
from collections.abc import Callable
from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np
import torch
from tqdm.auto import tqdm

from rl_course import advantages as adv
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
from rl_course.ppo.optimization import clip_grad_norm_, linear_schedule, make_optimizer
from rl_course.reference import reference
from rl_course.rollouts import collect_rollout
from rl_course.withheld import is_withheld

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


@reference
def train(
    config: PPOConfig,
    gae: Callable = adv.gae,
    policy_objective: Callable = clipped_surrogate,
    value_loss: Callable = clipped_value_loss,
    progress: bool = True,
    on_iteration: Callable[[dict, Training], None] | None = None,
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
        return _training_run(config, gae, policy_objective, value_loss, progress, on_iteration, stop_when_solved)
    finally:
        torch.set_num_threads(threads)


def _training_run(config, gae, policy_objective, value_loss, progress, on_iteration, stop_when_solved) -> Training:
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
            rollout = collect_rollout(envs, obs, agent.act_and_value, agent.values, config.n_steps, to_env=agent.env_actions)
            obs = rollout.last_observations
            if observation_normalizer is not None:  # the agent keeps the statistics its observations were normalized with
                agent.obs_statistics.load(observation_normalizer.obs_rms)
            first_new = len(training.episodes)
            ends = episode_end_steps(rollout, step)
            training.episodes += [(int(end), float(r)) for end, r in zip(ends, rollout.episode_returns, strict=True)]
            step += config.batch_size

            # 2. advantages Ψ^GAE and critic targets y = Ψ^GAE + V_old
            psi = np.asarray(gae(rollout.rewards, rollout.values, rollout.next_values, rollout.terminated,
                                 rollout.truncated, config.gamma, config.gae_lambda))

            # 3. flatten (T, n_envs) into one batch of transitions
            batch = flatten(rollout, psi)

            # 4. epochs of minibatch updates
            stats = update(agent, optimizer, batch, config, eps, policy_objective, value_loss, kl_coef)
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


def flatten(rollout, psi: np.ndarray) -> dict[str, torch.Tensor]:
    """The rollout's (T, n_envs) arrays as one batch of T · n_envs transitions, float32 tensors (actions as stored):
    obs, actions, log_probs (log π_old(a|s)), advantages (Ψ^GAE), targets (y = Ψ^GAE + V_old), values (V_old)."""
    size = rollout.rewards.size

    def flat(x, dtype=torch.float32):
        x = np.asarray(x)
        return torch.as_tensor(x.reshape(size, *x.shape[2:]), dtype=dtype)

    return {"obs": flat(rollout.observations), "actions": flat(rollout.actions, None), "log_probs": flat(rollout.log_probs),
            "advantages": flat(psi), "targets": flat(psi + rollout.values), "values": flat(rollout.values)}


@dataclass
class MinibatchStats:
    """What one minibatch contributes to an update's diagnostics (no gradient)."""

    policy_loss: torch.Tensor
    """−L^CLIP (or −L^KLPEN) of the minibatch."""
    value_loss: torch.Tensor
    """L^V of the minibatch."""
    entropy: torch.Tensor
    """mean H(π(·|s)) over the minibatch."""
    ratio: torch.Tensor
    """ρ of each of its transitions, before the step."""


DIAGNOSTICS = ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction")


def diagnostics(steps: list[MinibatchStats], eps: float) -> dict:
    """The DIAGNOSTICS of an update: the losses and the entropy averaged over its minibatches, approx-KL and the
    clip fraction over all their transitions."""
    ratios = torch.cat([s.ratio for s in steps])
    return {
        "policy_loss": float(torch.stack([s.policy_loss for s in steps]).mean()),
        "value_loss": float(torch.stack([s.value_loss for s in steps]).mean()),
        "entropy": float(torch.stack([s.entropy for s in steps]).mean()),
        "approx_kl": float(approx_kl(ratios)),
        "clip_fraction": float(clip_fraction(ratios, eps)),
    }


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
    """One PPO update: ``config.n_epochs`` shuffled passes over ``batch`` in minibatches, one Adam step each, on

        loss = −L^π + c_V · L^V(V, V_old, y, ε̂) − c_H · mean H(π(·|s))

    with ρ = π_θ(a|s) / π_old(a|s) and the advantages Ψ normalized per minibatch (or once over the batch,
    ``config.advantage_scope == "batch"``), and L^π as ``config.objective`` names it:

        "clip"         L^CLIP = ``policy_objective``(ρ, Ψ, ε)
        "kl_penalty"   E[ρ Ψ] − C · E[KL(π_old ‖ π_θ)],   C = ``kl_coef`` (default ``config.kl_coef``)

    π_old is the policy before the update's first step. The gradient is clipped to a global norm of
    ``config.max_grad_norm`` (by ``clip_grad_norm_`` where the student edition withholds it, else by torch's, which the
    tests pin to it). With ``config.early_stop_kl`` the update stops at the first minibatch whose approx-KL exceeds it
    (before its step). Returns the mean diagnostics (``diagnostics``): with the KL penalty also ``kl``, the mean
    KL(π_old ‖ π_θ) over the batch after the update (what ``adapt_kl_coef`` moves C with), approx-KL and the clip
    fraction then measured with ``config.clip_eps``; with early stopping also ``epochs``, the passes made.
    """
    penalized = config.objective == "kl_penalty"
    if penalized:
        kl_coef, eps = config.kl_coef if kl_coef is None else kl_coef, config.clip_eps
        with torch.no_grad():  # π_old: the actor's outputs on the whole batch, and the log-std of now
            batch = {**batch, "old_out": agent.actor(batch["obs"])}
        old_log_std = None if agent.discrete else agent.log_std.detach().clone()
    if config.normalize_advantages and config.advantage_scope == "batch":
        batch = {**batch, "advantages": normalize_advantages(batch["advantages"])}
    per_minibatch = config.normalize_advantages and config.advantage_scope == "minibatch"
    parameters = [p for group in optimizer.param_groups for p in group["params"]]  # what the optimizer steps
    clip = clip_grad_norm_ if is_withheld(clip_grad_norm_) else torch.nn.utils.clip_grad_norm_  # the student's own, where withheld
    steps: list[MinibatchStats] = []
    stopped = None  # the minibatch whose approx-KL stopped the update
    for minibatch in minibatches(batch, config.minibatch_size, config.n_epochs):
        dist = agent.distribution(minibatch["obs"])
        ratio = probability_ratio(dist.log_prob(minibatch["actions"]), minibatch["log_probs"])
        advantages = normalize_advantages(minibatch["advantages"]) if per_minibatch else minibatch["advantages"]
        if penalized:
            kl = kl_divergence(agent.policy(minibatch["old_out"], old_log_std), dist)
            pi_loss = -kl_penalty_objective(ratio, advantages, kl, kl_coef)
        else:
            pi_loss = -policy_objective(ratio, advantages, eps)
        critic_loss = value_loss(agent.value(minibatch["obs"]), minibatch["values"], minibatch["targets"], config.clip_value)
        entropy = dist.entropy().mean()
        loss = pi_loss + config.vf_coef * critic_loss - config.ent_coef * entropy
        stats = MinibatchStats(pi_loss.detach(), critic_loss.detach(), entropy.detach(), ratio.detach())
        if config.early_stop_kl is not None and float(approx_kl(stats.ratio)) > config.early_stop_kl:
            stopped = stats  # π_θ has moved too far from π_old already: no further steps
            break
        check_finite(loss, stats, len(steps))
        optimizer.zero_grad()
        loss.backward()
        if config.max_grad_norm is not None:
            clip(parameters, config.max_grad_norm)
        optimizer.step()
        steps.append(stats)
    result = diagnostics(steps or [stopped], eps)  # stopped before the first step: those of the unchanged policy
    if config.early_stop_kl is not None:  # the passes made, a fraction when one was cut short
        result["epochs"] = len(steps) / -(-len(batch["advantages"]) // config.minibatch_size)
    if penalized:
        with torch.no_grad():
            result["kl"] = float(kl_divergence(agent.policy(batch["old_out"], old_log_std), agent.distribution(batch["obs"])).mean())
    return result


def check_finite(loss: torch.Tensor, stats: MinibatchStats, step: int) -> None:
    """Stop with a message naming the terms when the loss is NaN or infinite (before it reaches the weights)."""
    if not math.isfinite(loss.item()):
        raise FloatingPointError(
            f"PPO loss is {loss.item()} (policy {float(stats.policy_loss):.4g}, critic {float(stats.value_loss):.4g}, "
            f"entropy {float(stats.entropy):.4g}) at minibatch {step} of this update: check the rewards, "
            "the learning rate and the loss functions for NaN or overflow"
        )


def minibatches(batch: dict, size: int, n_epochs: int = 1):
    """``n_epochs`` passes over the transitions of ``batch``, each in a fresh random order (``torch.randperm``),
    cut into minibatches of ``size`` (the last of each pass may be smaller)."""
    n = len(batch["advantages"])
    for _ in range(n_epochs):
        order = torch.randperm(n)
        for start in range(0, n, size):
            idx = order[start : start + size]
            yield {key: value[idx] for key, value in batch.items()}
