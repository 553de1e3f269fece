"""The actor-critic: a policy π_θ(a|s) and a critic V_φ(s), separate tanh MLPs, orthogonally initialized."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from torch.distributions import Categorical, Normal


def mlp(sizes: list[int], output_gain: float) -> nn.Sequential:
    """tanh MLP; hidden layers orthogonal with gain √2, the output layer with ``output_gain``; biases 0."""
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layer = nn.Linear(n_in, n_out)
        last = i == len(sizes) - 2
        nn.init.orthogonal_(layer.weight, gain=output_gain if last else math.sqrt(2))
        nn.init.zeros_(layer.bias)
        layers += [layer] if last else [layer, nn.Tanh()]
    return nn.Sequential(*layers)


class ActorCritic(nn.Module):
    """π_θ(a|s): categorical over ``Discrete`` actions, or a diagonal Gaussian with a state-independent
    log-std over ``Box`` actions (log-probabilities and entropy summed over action dimensions); V_φ(s)."""

    def __init__(self, observation_space: gym.Space, action_space: gym.Space, hidden_sizes=(64, 64)):
        super().__init__()
        if not isinstance(observation_space, gym.spaces.Box) or len(observation_space.shape) != 1:
            raise ValueError(f"ActorCritic needs flat Box observations, got {observation_space}")
        obs_dim = observation_space.shape[0]
        self.discrete = isinstance(action_space, gym.spaces.Discrete)
        if self.discrete:
            n_out = int(action_space.n)
        elif isinstance(action_space, gym.spaces.Box) and len(action_space.shape) == 1:
            n_out = action_space.shape[0]
            self.log_std = nn.Parameter(torch.zeros(n_out))
        else:
            raise ValueError(f"unsupported action space {action_space}: PPO here handles Discrete and flat Box actions")
        self.action_space = action_space
        self.actor = mlp([obs_dim, *hidden_sizes, n_out], output_gain=0.01)
        self.critic = mlp([obs_dim, *hidden_sizes, 1], output_gain=1.0)

    def distribution(self, obs: torch.Tensor):
        out = self.actor(obs)
        if self.discrete:
            return Categorical(logits=out)
        return Normal(out, self.log_std.exp().expand_as(out))

    def log_prob(self, dist, actions: torch.Tensor) -> torch.Tensor:
        """log π(a|s), summed over the dimensions of a continuous action."""
        return dist.log_prob(actions) if self.discrete else dist.log_prob(actions).sum(-1)

    def entropy(self, dist) -> torch.Tensor:
        return dist.entropy() if self.discrete else dist.entropy().sum(-1)

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.critic(obs).squeeze(-1)

    # numpy in, numpy out: what rl_course.rollouts.collect_rollout calls

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Sample a ~ π(·|s) (or take its mode); returns (actions, log π(a|s))."""
        dist = self.distribution(torch.as_tensor(obs, dtype=torch.float32))
        if deterministic:
            actions = dist.probs.argmax(-1) if self.discrete else dist.mean
        else:
            actions = dist.sample()
        return actions.numpy(), self.log_prob(dist, actions).numpy()

    @torch.no_grad()
    def values(self, obs: np.ndarray) -> np.ndarray:
        return self.value(torch.as_tensor(np.asarray(obs), dtype=torch.float32)).double().numpy()

    def env_actions(self, actions: np.ndarray) -> np.ndarray:
        """What is sent to the environment: continuous actions clipped to its bounds (the sample itself is stored)."""
        if self.discrete:
            return actions
        return np.clip(actions, self.action_space.low, self.action_space.high)
