"""Observation normalization and reward scaling with running statistics, and the environments that apply them.

Two of the lecture's "other hacks":

- **observations**: s̃ = clip((s − μ_s) / √(σ_s² + 10⁻⁸), −c, c), with μ_s, σ_s² the running mean and
  variance of every observation seen so far, per coordinate;
- **rewards**: r̃_t = clip(r_t / √(σ_R² + 10⁻⁸), −c, c), with σ_R² the running variance of the discounted
  return R_t = γ R_{t−1} + r_t of the episode so far (R = 0 at an episode's start). No mean is subtracted: a
  shift of the rewards would change which behaviour is best (e.g. in an episode that may end early).

The running statistics are gymnasium's ``RunningMeanStd`` (Chan et al.'s parallel update of mean and
variance). gymnasium's vector ``NormalizeReward`` followed by its ``ClipReward`` compute exactly the reward
scaling above, and are used as they are. Its vector ``NormalizeObservation`` computes the normalization
above without the clip, but accepts only NEXT_STEP autoreset and leaves ``info["final_obs"]`` unnormalized;
the course's rollouts use SAME_STEP autoreset and bootstrap cut episodes from that final observation, so
``NormalizeObservation`` here is the same computation for SAME_STEP, normalizing ``final_obs`` alike.

Where the student edition withholds this module's functions (assignment 05), the training environments compute with
them instead, so that a training run is the student's work: ``update_running_stats`` takes in the observations, and
``ScaleRewards`` (``scale_rewards`` step by step) replaces gymnasium's two reward wrappers (the tests pin each pair together).

The statistics change during training and must be frozen afterwards: an agent is evaluated with the
statistics it was trained with (``ObservationStatistics``, kept in the agent and its checkpoint), which
evaluation episodes do not update.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode, VectorWrapper
from gymnasium.wrappers.utils import RunningMeanStd
from torch import nn

from rl_course.reference import reference
from rl_course.rollouts import make_vector_env
from rl_course.withheld import is_withheld

EPSILON = 1e-8  # under the square root, as in gymnasium's wrappers


def initial_stats(shape=()) -> tuple[np.ndarray, np.ndarray, float]:
    """(mean, variance, count) before any data: (0, 1, 10⁻⁴), as gymnasium's RunningMeanStd starts."""
    return np.zeros(shape), np.ones(shape), 1e-4


@reference
def update_running_stats(stats: tuple, batch) -> tuple[np.ndarray, np.ndarray, float]:
    """Merge a batch of m samples (axis 0) into the running (mean μ, variance σ², count n):

        δ = μ_B − μ,   n′ = n + m,   μ′ = μ + δ m / n′,   σ′² = (n σ² + m σ_B² + δ² n m / n′) / n′

    with μ_B, σ_B² the batch's mean and (population) variance: afterwards μ′, σ′² are the mean and
    variance of all samples seen, as if computed at once.
    """
    mean, var, count = stats
    batch = np.asarray(batch, dtype=float)
    if batch.ndim == 0 or len(batch) == 0:
        raise ValueError(f"batch must hold at least one sample along axis 0, got shape {batch.shape}")
    batch_mean, batch_var, m = batch.mean(0), batch.var(0), batch.shape[0]
    delta = batch_mean - mean
    total = count + m
    new_mean = mean + delta * m / total
    new_var = (var * count + batch_var * m + delta**2 * count * m / total) / total
    return new_mean, new_var, total


@reference
def normalize_observations(obs, stats: tuple, clip: float = 10.0, update: bool = True) -> tuple[np.ndarray, tuple]:
    """s̃ = clip((s − μ_s) / √(σ_s² + 10⁻⁸), −c, c) for a batch of observations (axis 0); returns (s̃, stats).

    While training (``update=True``) the statistics first take in the batch; in evaluation they are used
    as they are and returned unchanged.
    """
    if update:
        stats = update_running_stats(stats, obs)
    mean, var, _ = stats
    return np.clip((np.asarray(obs) - mean) / np.sqrt(var + EPSILON), -clip, clip), stats


@reference
def scale_rewards(rewards, dones, returns, stats: tuple, gamma: float, clip: float = 10.0) -> tuple[np.ndarray, np.ndarray, tuple]:
    """One vector step of reward scaling, for n_envs environments; returns (r̃, R, stats):

        R ← γ R + r                 the discounted return of each episode so far
        σ_R² ← running variance of R (the n_envs values of this step taken in)
        r̃ = clip(r / √(σ_R² + 10⁻⁸), −c, c)
        R ← 0 where the episode ended (done, for either reason), so the next one starts afresh
    """
    returns = gamma * np.asarray(returns, dtype=float) + np.asarray(rewards, dtype=float)
    stats = update_running_stats(stats, returns)
    scaled = np.clip(np.asarray(rewards, dtype=float) / np.sqrt(stats[1] + EPSILON), -clip, clip)
    return scaled, np.where(np.asarray(dones, dtype=bool), 0.0, returns), stats


class NormalizeObservation(VectorWrapper):
    """Vector observations normalized by running statistics and clipped, for SAME_STEP autoreset:

        s̃ = clip((s − μ_s) / √(σ_s² + 10⁻⁸), −clip, clip)

    ``obs_rms`` (gymnasium's RunningMeanStd) takes in every batch of observations returned by ``reset``
    and ``step`` while ``update_running_mean`` is true; ``info["final_obs"]`` of episodes that ended is
    normalized with the same statistics (it is what a cut episode bootstraps from).
    """

    def __init__(self, env: gym.vector.VectorEnv, clip: float = 10.0):
        super().__init__(env)
        if not clip > 0:
            raise ValueError(f"clip must be positive, got {clip}")
        self.clip = clip
        self.single_observation_space = gym.spaces.Box(-clip, clip, env.single_observation_space.shape, np.float32)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, self.num_envs)
        self.obs_rms = RunningMeanStd(shape=env.single_observation_space.shape)
        self.update_running_mean = True

    def normalize(self, obs: np.ndarray) -> np.ndarray:
        stats = (self.obs_rms.mean, self.obs_rms.var, self.obs_rms.count)
        normalized, _ = normalize_observations(obs, stats, self.clip, update=False)
        return normalized.astype(np.float32)

    def take_in(self, obs: np.ndarray) -> None:
        """The running statistics take in a batch of observations (by ``update_running_stats`` where it is withheld)."""
        if not self.update_running_mean:
            return
        if is_withheld(update_running_stats):
            rms = self.obs_rms
            mean, var, count = update_running_stats((rms.mean, rms.var, rms.count), obs)
            rms.mean, rms.var, rms.count = np.asarray(mean, dtype=float), np.asarray(var, dtype=float), float(count)
        else:
            self.obs_rms.update(obs)

    def reset(self, *, seed=None, options=None) -> tuple[np.ndarray, dict[str, Any]]:
        obs, info = self.env.reset(seed=seed, options=options)
        self.take_in(obs)
        return self.normalize(obs), info

    def step(self, actions):
        obs, rewards, terminated, truncated, info = self.env.step(actions)
        self.take_in(obs)
        if "final_obs" in info:
            info = dict(info)
            ended = np.flatnonzero(info.get("_final_obs", terminated | truncated))
            final = np.empty(self.num_envs, dtype=object)  # one entry per environment, as gymnasium gives it
            final[:] = list(info["final_obs"])
            for i in ended:
                final[i] = self.normalize(np.asarray(info["final_obs"][i])[None])[0]
            info["final_obs"] = final
        return self.normalize(obs), rewards, terminated, truncated, info


class ScaleRewards(VectorWrapper):
    """Vector rewards scaled by ``scale_rewards``, one step at a time: r̃ = clip(r / √(σ_R² + 10⁻⁸), −clip, clip), with
    σ_R² the running variance of the discounted returns R of the episodes so far (``returns``, ``stats``)."""

    def __init__(self, env: gym.vector.VectorEnv, gamma: float, clip: float = 10.0):
        super().__init__(env)
        self.gamma, self.clip = gamma, clip
        self.returns, self.stats = np.zeros(self.num_envs), initial_stats()

    def step(self, actions):
        obs, rewards, terminated, truncated, info = self.env.step(actions)
        scaled, self.returns, self.stats = scale_rewards(rewards, terminated | truncated, self.returns, self.stats, self.gamma,
                                                         self.clip)
        return obs, np.asarray(scaled, dtype=float), terminated, truncated, info


class ObservationStatistics(nn.Module):
    """The observation statistics an agent was trained with, frozen: s̃ = clip((s − μ_s) / √(σ_s² + 10⁻⁸), −clip, clip).

    Buffers ``mean``, ``var``, ``count`` (saved in the agent's state dict, so in its checkpoint); ``load``
    copies them from a training environment's ``obs_rms``. Calling it never changes them.
    """

    def __init__(self, shape: tuple, clip: float = 10.0):
        super().__init__()
        self.clip = clip
        self.register_buffer("mean", torch.zeros(shape, dtype=torch.float64))
        self.register_buffer("var", torch.ones(shape, dtype=torch.float64))
        self.register_buffer("count", torch.tensor(1e-4, dtype=torch.float64))

    def load(self, rms: RunningMeanStd) -> None:
        self.mean.copy_(torch.as_tensor(rms.mean))
        self.var.copy_(torch.as_tensor(rms.var))
        self.count.fill_(float(rms.count))

    @property
    def stats(self) -> tuple[np.ndarray, np.ndarray, float]:
        return self.mean.numpy().copy(), self.var.numpy().copy(), float(self.count)

    def forward(self, obs: np.ndarray) -> np.ndarray:
        normalized, _ = normalize_observations(obs, self.stats, self.clip, update=False)
        return normalized.astype(np.float32)


def make_training_env(config) -> tuple[gym.vector.VectorEnv, NormalizeObservation | None]:
    """The vector environments of a training run, with the normalizations ``config`` switches on:

        make_vector_env (SAME_STEP autoreset, episode returns recorded before any scaling)
        → NormalizeObservation(clip = config.obs_clip)                     if config.normalize_observations
        → gymnasium's NormalizeReward(γ = config.gamma) → ClipReward(±config.reward_clip)   if config.scale_rewards
          (ScaleRewards, the same numbers, where the student edition withholds scale_rewards)

    Returns (envs, the observation normalizer or None).
    """
    try:
        envs = make_vector_env(config.env_id, config.n_envs, **config.env_kwargs)
    except gym.error.DependencyNotInstalled as error:  # e.g. a MuJoCo task without MuJoCo
        extra = " (pip install 'rl-course[mujoco]')" if "mujoco" in str(error).lower() else ""
        raise ValueError(f"{config.env_id} needs a package that is not installed{extra}: {error}") from None
    observation_normalizer = None
    if config.normalize_observations:
        envs = observation_normalizer = NormalizeObservation(envs, clip=config.obs_clip)
    if config.scale_rewards and is_withheld(scale_rewards):
        envs = ScaleRewards(envs, gamma=config.gamma, clip=config.reward_clip)
    elif config.scale_rewards:
        envs = gym.wrappers.vector.NormalizeReward(envs, gamma=config.gamma, epsilon=EPSILON)
        envs = gym.wrappers.vector.ClipReward(envs, -config.reward_clip, config.reward_clip)
    assert envs.metadata.get("autoreset_mode") == AutoresetMode.SAME_STEP
    return envs, observation_normalizer
