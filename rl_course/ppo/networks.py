"""The actor-critic: a policy π_θ(a|s) and a critic V_φ(s), two separate tanh MLPs, orthogonally initialized.

Orthogonal initialization (one of the lecture's "other hacks"): every weight matrix W starts as an
orthogonal matrix times a gain g, WᵀW = g² I (or W Wᵀ, whichever is smaller), biases at 0. The customary
gains: √2 for the tanh hidden layers, 0.01 for the policy's output (a nearly uniform, or zero-mean, first
policy), 1 for the critic's output.

The policy is one of torch's distributions: a ``Categorical`` over ``Discrete`` actions, a diagonal Gaussian
``Independent(Normal(μ(s), σ), 1)`` over ``Box`` actions (log-probabilities and entropies summed over the action
dimensions, ``torch.distributions.kl_divergence`` for both). With ``speed_measures`` (the default) the categorical is
``speed.Categorical`` and acting during rollouts runs the same networks in numpy (``speed.act_and_value``); without,
the categorical is torch's and acting runs the torch networks, sampling from torch's generator (the tests pin the
two together).

Where the student edition withholds the course's own functions (assignment 05), the agent computes with them
instead, so that a training run is the student's work: the weights are drawn by ``orthogonal_matrix`` and the
Gaussian policy is ``distributions.DiagonalGaussian`` (``gaussian_log_prob``, ``gaussian_entropy``, ``gaussian_kl``).
"""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from torch.distributions import Distribution, Independent, Normal

from rl_course.ppo import speed
from rl_course.ppo.distributions import DiagonalGaussian, gaussian_log_prob, sample_actions
from rl_course.ppo.normalization import ObservationStatistics
from rl_course.reference import reference
from rl_course.withheld import is_withheld

HIDDEN_GAIN, POLICY_GAIN, VALUE_GAIN = math.sqrt(2), 0.01, 1.0  # the customary gains of orthogonal initialization


@reference
def orthogonal_matrix(n_rows: int, n_cols: int, gain: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
    """A random (n_rows, n_cols) matrix g·Q with orthonormal rows or columns, whichever are fewer:

        X ~ N(0, 1) of shape (max, min);  X = Q R (QR decomposition);  Q ← Q · sign(diag R);  W = g Q (transposed if wide)

    The sign correction makes Q uniformly distributed over orthogonal matrices (what torch.nn.init.orthogonal_ draws).
    """
    if n_rows < 1 or n_cols < 1:
        raise ValueError(f"n_rows and n_cols must be at least 1, got {n_rows} × {n_cols}")
    tall = (max(n_rows, n_cols), min(n_rows, n_cols))
    q, r = torch.linalg.qr(torch.randn(tall, generator=generator))
    q = q * torch.sign(torch.diagonal(r))
    return gain * (q if n_rows >= n_cols else q.T)


def linear(n_in: int, n_out: int, gain: float, orthogonal: bool = True) -> nn.Linear:
    """y = x Wᵀ + b: W orthogonal with ``gain``, b = 0 (or torch's default init: uniform in ±1/√n_in).

    W is drawn by ``orthogonal_matrix`` where this edition withholds it (the student's own), else by torch's
    ``nn.init.orthogonal_`` (the same distribution: the tests pin the two together).
    """
    layer = nn.Linear(n_in, n_out)
    if orthogonal:
        if is_withheld(orthogonal_matrix):
            with torch.no_grad():
                layer.weight.copy_(orthogonal_matrix(n_out, n_in, gain))
        else:
            nn.init.orthogonal_(layer.weight, gain=gain)
        nn.init.zeros_(layer.bias)
    return layer


def mlp(sizes: list[int], output_gain: float, orthogonal: bool = True) -> nn.Sequential:
    """The one MLP of the course: s → tanh(W₁ s + b₁) → … → W_L h + b_L, layer sizes ``sizes`` (input first).

    Hidden layers start orthogonal with gain √2, the output layer with ``output_gain``.
    """
    layers = []
    for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        last = k == len(sizes) - 2
        layers.append(linear(n_in, n_out, output_gain if last else HIDDEN_GAIN, orthogonal))
        if not last:
            layers.append(nn.Tanh())
    return nn.Sequential(*layers)


def kl_divergence(old: Distribution, new: Distribution) -> torch.Tensor:
    """KL(π_old(·|s) ‖ π_θ(·|s)) per state (torch's closed forms): summed over the actions of a categorical,
    over the dimensions of a diagonal Gaussian."""
    return torch.distributions.kl_divergence(old, new)


class ActorCritic(nn.Module):
    """π_θ(a|s): categorical over ``Discrete`` actions, or a diagonal Gaussian with a state-independent
    log-std over ``Box`` actions; V_φ(s). Two separate tanh MLPs (``mlp``) with hidden layers ``hidden_sizes``:

        actor   s → tanh → … → tanh → linear (gain 0.01) → logits, or the Gaussian's mean μ(s)
        critic  s → tanh → … → tanh → linear (gain 1)    → V(s)

    Parameters: ``actor``, ``critic`` (``nn.Sequential``) and, for Gaussian policies, ``log_std`` (starting at
    ``log_std_init``); ``policy_head`` and ``value_head`` are the two output layers. ``orthogonal_init=False``
    leaves torch's default initialization. With ``obs_clip`` set, the agent keeps the observation statistics it
    was trained with (``obs_statistics``, frozen): ``observe(obs)`` turns raw observations of a single environment
    into its input, as evaluation needs. Acting (``act_and_value``, ``act``) samples from the agent's own numpy
    generator ``rng``, seeded from torch's random state when the agent is built: the same torch seed before
    building it gives the same actions. ``speed_measures=False`` (``PPOConfig.speed_measures``) is plain torch: torch's
    ``Categorical``, and acting through the torch networks from torch's generator.
    """

    def __init__(self, observation_space: gym.Space, action_space: gym.Space, hidden_sizes=(64, 64),
                 log_std_init: float = 0.0, orthogonal_init: bool = True, obs_clip: float | None = None,
                 speed_measures: bool = True):
        super().__init__()
        self.speed_measures = speed_measures
        if not isinstance(observation_space, gym.spaces.Box) or len(observation_space.shape) != 1:
            raise ValueError(f"ActorCritic needs flat Box observations, got {observation_space}")
        obs_dim = observation_space.shape[0]
        self.discrete = isinstance(action_space, gym.spaces.Discrete)
        if self.discrete:
            n_out = int(action_space.n)
        elif isinstance(action_space, gym.spaces.Box) and len(action_space.shape) == 1:
            n_out = action_space.shape[0]
        else:
            raise ValueError(f"unsupported action space {action_space}: PPO here handles Discrete and flat Box actions")
        self.action_space = action_space
        self.actor = mlp([obs_dim, *hidden_sizes, n_out], POLICY_GAIN, orthogonal_init)
        self.critic = mlp([obs_dim, *hidden_sizes, 1], VALUE_GAIN, orthogonal_init)
        if not self.discrete:
            self.log_std = nn.Parameter(torch.full((n_out,), float(log_std_init)))
        self.obs_statistics = None if obs_clip is None else ObservationStatistics(observation_space.shape, obs_clip)
        self.rng = np.random.default_rng(int(torch.randint(2**62, ())))  # acting's sampler, seeded from torch's

    @classmethod
    def for_config(cls, config, observation_space: gym.Space, action_space: gym.Space) -> ActorCritic:
        """The actor-critic a ``PPOConfig`` describes (layers, initial log-std, initialization, observation statistics)."""
        return cls(observation_space, action_space, config.hidden_sizes, log_std_init=config.log_std_init,
                   orthogonal_init=config.orthogonal_init, obs_clip=config.obs_clip if config.normalize_observations else None,
                   speed_measures=config.speed_measures)

    @property
    def policy_head(self) -> nn.Linear:
        """The actor's output layer."""
        return self.actor[-1]

    @property
    def value_head(self) -> nn.Linear:
        """The critic's output layer."""
        return self.critic[-1]

    def observe(self, obs: np.ndarray) -> np.ndarray:
        """Raw observations → the networks' input: normalized with the frozen training statistics, if any."""
        return obs if self.obs_statistics is None else self.obs_statistics(obs)

    def policy(self, out: torch.Tensor, log_std: torch.Tensor | None = None) -> Distribution:
        """π(·|s) from the actor's output (logits, or μ(s) with ``log_std``, by default the agent's own).
        torch's argument checks are off: on minibatches this small they cost more than the arithmetic."""
        if self.discrete:
            return speed.Categorical(out) if self.speed_measures else torch.distributions.Categorical(logits=out, validate_args=False)
        log_std = self.log_std if log_std is None else log_std
        if is_withheld(gaussian_log_prob):  # the student's own formulas
            return DiagonalGaussian(out, log_std)
        std = log_std.exp().expand_as(out)
        return Independent(Normal(out, std, validate_args=False), 1, validate_args=False)

    def distribution(self, obs: torch.Tensor) -> Distribution:
        """π_θ(·|s) for a batch of observations (..., obs_dim)."""
        return self.policy(self.actor(obs))

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        """V_φ(s) for a batch of observations (..., obs_dim): shape (...)."""
        return self.critic(obs).squeeze(-1)

    # numpy in, numpy out: what rl_course.rollouts.collect_rollout calls

    def act_and_value(self, obs: np.ndarray, deterministic: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sample a ~ π(·|s) (or take the mode); returns (actions, log π(a|s), V(s)), in numpy: from ``rng`` in numpy
        (``speed.act_and_value``), or, without ``speed_measures``, through the torch networks from torch's generator."""
        if self.speed_measures:
            return speed.act_and_value(self, obs, deterministic)
        with torch.no_grad():
            x = torch.as_tensor(np.asarray(obs, dtype=np.float32))
            dist, value = self.distribution(x), self.value(x).double().numpy()
            if not self.discrete and not deterministic and is_withheld(sample_actions):  # the student's own sampler
                actions, log_probs, _ = sample_actions(dist.mean, self.log_std, self.action_space.low, self.action_space.high)
                return actions.numpy(), log_probs.numpy(), value
            actions = dist.mode if deterministic else dist.sample()
            return actions.numpy(), dist.log_prob(actions).numpy(), value

    def act(self, obs: np.ndarray, deterministic: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Sample a ~ π(·|s) (or take its mode); returns (actions, log π(a|s))."""
        actions, log_probs, _ = self.act_and_value(obs, deterministic)
        return actions, log_probs

    def values(self, obs: np.ndarray) -> np.ndarray:
        """V(s) in numpy (float64), by the same computation as ``act_and_value``'s."""
        if self.speed_measures:
            return speed.values(self, obs)
        with torch.no_grad():
            return self.value(torch.as_tensor(np.asarray(obs, dtype=np.float32))).double().numpy()

    def env_actions(self, actions: np.ndarray) -> np.ndarray:
        """What is sent to the environment: continuous actions clipped to its bounds (the sample itself is stored)."""
        if self.discrete:
            return actions
        return np.clip(actions, self.action_space.low, self.action_space.high)
