"""The Gaussian policy head for continuous actions, as formulas on torch tensors (the categorical over discrete
actions is torch's, or ``speed.Categorical``).

π_θ(a|s) = Π_i N(a_i; μ_i(s), σ_i²): a diagonal Gaussian whose mean μ(s) is the actor's output and
whose log-std log σ is one parameter per action dimension, the same in every state. The action
dimensions are independent, so log-probabilities, entropies and KL divergences are sums over them.
These functions spell them out (the notebook of assignment 05 has students write them). In the student edition the
agent's Gaussian policy is ``DiagonalGaussian``, which computes with them, so a training run uses the student's own; the
instructor's edition computes the same quantities with ``torch.distributions`` (``Independent(Normal)``) and samples in
numpy (``speed.act_and_value``), which keeps its recorded runs reproducible (the tests pin each pair together).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch.distributions import Distribution, register_kl

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


class DiagonalGaussian(Distribution):
    """π(·|s) = N(μ(s), diag σ²) computed by this module's formulas: ``log_prob`` is ``gaussian_log_prob``,
    ``entropy`` is ``gaussian_entropy``, and ``torch.distributions.kl_divergence`` of two is ``gaussian_kl``.

    mean (..., d): μ(s) for a batch of states; log_std (d,): the state-independent log σ.
    """

    arg_constraints: dict = {}

    def __init__(self, mean: torch.Tensor, log_std: torch.Tensor):
        self.loc, self.log_std = mean, log_std
        super().__init__(mean.shape[:-1], mean.shape[-1:], validate_args=False)

    @property
    def mean(self) -> torch.Tensor:
        return self.loc

    @property
    def mode(self) -> torch.Tensor:
        return self.loc

    @property
    def stddev(self) -> torch.Tensor:
        return torch.exp(self.log_std).expand_as(self.loc)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """log π(a|s) per state: ``gaussian_log_prob(μ, log σ, a)``."""
        return gaussian_log_prob(self.loc, self.log_std, value)

    def entropy(self) -> torch.Tensor:
        """H(π(·|s)) per state: ``gaussian_entropy(log σ)``, the same in every state."""
        return gaussian_entropy(self.log_std).expand(self.batch_shape)

    def rsample(self, sample_shape=()) -> torch.Tensor:
        """a = μ + σ ξ, ξ ~ N(0, I) (torch's generator)."""
        shape = torch.Size(sample_shape) + self.batch_shape + self.event_shape
        return self.loc.expand(shape) + self.stddev.expand(shape) * torch.randn(shape, dtype=self.loc.dtype)


@register_kl(DiagonalGaussian, DiagonalGaussian)
def _kl_diagonal_gaussians(old: DiagonalGaussian, new: DiagonalGaussian) -> torch.Tensor:
    """KL(π_old ‖ π_θ) per state: ``gaussian_kl``."""
    return gaussian_kl(old.loc, old.log_std, new.loc, new.log_std)
