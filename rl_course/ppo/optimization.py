"""The lecture's "standard tricks" of the optimizer: annealed step sizes and global gradient clipping; and the
optimizer the trainer uses (``make_optimizer``), Adam over the agent's parameters."""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn

from rl_course.ppo.speed import FlatAdam
from rl_course.reference import reference


@reference
def linear_schedule(start: float, iteration: int, n_iterations: int) -> float:
    """The value at iteration k of K, decayed linearly toward 0:  x_k = x_0 · (1 − k / K).

    Iteration 0 uses x_0 itself and the last one x_0 / K; used for Adam's learning rate and for ε.
    """
    if n_iterations < 1:
        raise ValueError(f"n_iterations must be at least 1, got {n_iterations}")
    if not 0 <= iteration < n_iterations:
        raise ValueError(f"iteration must be in [0, n_iterations) = [0, {n_iterations}), got {iteration}")
    return start * (1 - iteration / n_iterations)


@reference
def clip_grad_norm_(parameters: Iterable[torch.Tensor], max_norm: float) -> float:
    """Global gradient clipping, in place; returns the norm before clipping:

        ‖g‖ = √(Σ_p Σ_i g_{p,i}²)   over every parameter p together
        g ← g · min(1, max_norm / (‖g‖ + 10⁻⁶))

    One factor for all parameters: the direction of the whole step is kept, only its length is capped.
    """
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return 0.0
    norm = math.sqrt(sum(float((g.double() ** 2).sum()) for g in grads))
    factor = min(1.0, max_norm / (norm + 1e-6))
    for g in grads:
        g.mul_(factor)
    return norm


def make_optimizer(agent: nn.Module, config) -> torch.optim.Optimizer:
    """Adam with ε = 1e-5 (CleanRL's and SB3's) over the agent's parameters, at ``config.learning_rate``.

    With ``config.speed_measures`` it keeps them in one flat tensor (``speed.FlatAdam``: the same steps as
    ``torch.optim.Adam``, in fewer calls), else it is ``torch.optim.Adam`` over the separate parameters (torch's
    reference arithmetic, as ``FlatAdam``'s); either way the agent and the trainer see ordinary parameters.
    """
    if config.speed_measures:
        return FlatAdam(agent, lr=config.learning_rate, eps=1e-5)
    return torch.optim.Adam(agent.parameters(), lr=config.learning_rate, eps=1e-5, foreach=False, fused=False)
