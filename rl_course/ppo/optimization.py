"""The lecture's "standard tricks" of the optimizer: annealed step sizes and global gradient clipping;
and the parameters of a network kept in one flat tensor, so the optimizer's step costs one pass."""

from __future__ import annotations

import math
from typing import Iterable

import torch
from torch import nn

from rl_course.grading import reference


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


def flatten_parameters(module: nn.Module) -> nn.Parameter:
    """Keep every parameter of ``module`` in one flat tensor, and every gradient in another; returns the flat
    parameter θ = (θ_1, …, θ_P), whose ``.grad`` is the flat gradient, for the optimizer and gradient clipping.

    Each parameter becomes a view of its slice of θ, and its ``.grad`` a view of the same slice of θ's
    gradient, into which backward accumulates. Adam's step, the global gradient norm and the zeroing then
    make one pass over one tensor instead of one per parameter (on the course's 9,155-parameter actor-critic
    that takes about a tenth off a PPO gradient step of the CartPole configuration). The module works as before
    (forward, ``parameters()``, ``state_dict``, ``load_state_dict``). Gradients are zeroed in place; a
    ``zero_grad()`` that sets them to None cuts them loose until ``attach_gradients(θ)`` restores the views.
    """
    parameters = list(module.parameters())
    flat = nn.Parameter(torch.cat([p.detach().reshape(-1) for p in parameters]))
    offset = 0
    for p in parameters:
        p.data = flat.data[offset : offset + p.numel()].view_as(p)
        offset += p.numel()
    flat.members = parameters  # what attach_gradients points back at θ's gradient
    attach_gradients(flat)
    return flat


def attach_gradients(flat: nn.Parameter) -> None:
    """Make θ's gradient (zeros if it was set to None) and each member's ``.grad`` a view of its slice, again."""
    if flat.grad is None:
        flat.grad = torch.zeros_like(flat)
    offset = 0
    for p in flat.members:
        if p.grad is None or p.grad.data_ptr() != flat.grad[offset:].data_ptr():
            p.grad = flat.grad[offset : offset + p.numel()].view_as(p)
        offset += p.numel()
