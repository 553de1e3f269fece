"""The Gaussian policy head for continuous actions, as formulas on torch tensors.

π_θ(a|s) = Π_i N(a_i; μ_i(s), σ_i²): a diagonal Gaussian whose mean μ(s) is the actor's output and
whose log-std log σ is one parameter per action dimension, the same in every state. The action
dimensions are independent, so log-probabilities, entropies and KL divergences are sums over them.
``ActorCritic`` computes the same quantities with ``torch.distributions`` (``Independent(Normal)``), and
``acting`` the log-probability of its samples in numpy; these functions spell them out (the notebook of assignment 05 has students write them).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from rl_course.reference import reference

LOG_2PI = math.log(2 * math.pi)


@reference
def gaussian_log_prob(mean: torch.Tensor, log_std: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """log π(a|s) = Σ_i [ −(a_i − μ_i)² / (2σ_i²) − log σ_i − ½ log 2π ], summed over the last axis.

    mean, actions (..., d); log_std (d,) or broadcastable to them. Returns (...,).
    """
    std = torch.exp(log_std)
    per_dim = -((actions - mean) ** 2) / (2 * std**2) - log_std - 0.5 * LOG_2PI
    return per_dim.sum(-1)


@reference
def gaussian_entropy(log_std: torch.Tensor) -> torch.Tensor:
    """H(π(·|s)) = Σ_i [ ½ log(2πe) + log σ_i ]: the same in every state when log σ is state-independent."""
    return (0.5 * (LOG_2PI + 1) + log_std).sum(-1)


@reference
def gaussian_kl(mean_old: torch.Tensor, log_std_old: torch.Tensor, mean: torch.Tensor, log_std: torch.Tensor) -> torch.Tensor:
    """KL(π_old ‖ π_θ) = Σ_i [ log(σ_i/σ_i^old) + ((σ_i^old)² + (μ_i^old − μ_i)²) / (2σ_i²) − ½ ], summed over the last axis.

    The expectation is over actions of π_old, the policy that collected the data (the lecture's direction).
    """
    var, var_old = torch.exp(2 * log_std), torch.exp(2 * log_std_old)
    per_dim = log_std - log_std_old + (var_old + (mean_old - mean) ** 2) / (2 * var) - 0.5
    return per_dim.sum(-1)


@reference
def sample_actions(mean: torch.Tensor, log_std: torch.Tensor, low, high) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """a ~ N(μ, σ²) per dimension; returns (a, log π(a|s), the action sent to the environment).

    The environment only accepts actions inside its bounds, so it receives clip(a, low, high); the
    sample a itself is what is stored and scored: log π_old(a|s) is the probability of the sample,
    and the update later asks how likely the same a has become.
    """
    with torch.no_grad():
        actions = mean + torch.exp(log_std) * torch.randn_like(mean)
        log_probs = gaussian_log_prob(mean, log_std, actions)
    return actions, log_probs, np.clip(actions.numpy(), low, high)
