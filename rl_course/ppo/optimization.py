"""The lecture's "standard tricks" of the optimizer: annealed step sizes and global gradient clipping."""

from __future__ import annotations

import math
from typing import Iterable

import torch

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
