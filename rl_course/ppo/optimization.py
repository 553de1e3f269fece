"""The lecture's "standard tricks" of the optimizer: annealed step sizes and global gradient clipping; and the
optimizer the trainer uses (``make_optimizer``), Adam over the agent's parameters kept in one flat tensor: the
speed measure of the update, with the figure that justifies it (``FlatAdam``)."""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch
from torch import nn

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


class FlatAdam(torch.optim.Adam):
    """Adam with ε = ``eps`` over every parameter of ``module``, kept in one flat tensor θ = (θ_1, …, θ_P) whose
    ``.grad`` holds every gradient: Adam's step, the global gradient norm and the zeroing each make one pass
    over θ instead of one per parameter tensor (a dozen for the actor-critic).

    The step is torch's reference implementation (``foreach=False``, not fused): elementwise the arithmetic of
    ``torch.optim.Adam`` over the separate parameters, on every CPU. (torch's fused CPU kernel takes about 30 µs
    less per step here, but on another AVX-512 machine the defaults with it learned more slowly; the reference
    arithmetic is the one the tests pin on every machine they run on.)

    Each parameter becomes a view of its slice of θ, and its ``.grad`` a view of the same slice of θ's gradient,
    into which backward accumulates. The module works as before (forward, ``parameters()``, ``state_dict``,
    ``load_state_dict``). ``param_groups`` hold θ alone: clip the gradient of what the optimizer steps.
    ``zero_grad`` zeroes θ's gradient in place, after pointing the views at it again (a ``module.zero_grad()``
    that set them to None cuts them loose); it never sets it to None, and refuses ``set_to_none=True``.

    Figures (``benchmarks/ppo_speed.py``, torch 2.13, one thread, AMD EPYC with AVX-512, 2 cores, load average
    7–8, process CPU time): a minibatch step of 256 (loss, backward, clipping, Adam) 2612 µs with ``FlatAdam``
    against 3408 µs with ``torch.optim.Adam`` over the separate parameters (0.77); the Adam step alone on θ
    81 µs here against 45 µs fused. The trainer's updates with it equal those of ``torch.optim.Adam`` (neither
    fused nor foreach) to float32 rounding: after 60 steps on a CartPole batch within 2e-6 (the tests).
    """

    def __init__(self, module: nn.Module, lr: float, eps: float = 1e-8):
        self.members = list(module.parameters())
        self.flat = nn.Parameter(torch.cat([p.detach().reshape(-1) for p in self.members]))
        self.offsets, offset = [], 0
        with torch.no_grad():
            for p in self.members:
                p.set_(self.flat.detach()[offset : offset + p.numel()].view_as(p))  # p now lives in its slice of θ
                self.offsets.append(offset)
                offset += p.numel()
        super().__init__([self.flat], lr=lr, eps=eps, foreach=False, fused=False)
        self.zero_grad()

    def zero_grad(self, set_to_none: bool = False) -> None:
        """θ's gradient zeroed in place. The members' gradients are views of it, so it is never set to None:
        ``set_to_none=True`` (torch's default for its own optimizers) is refused."""
        if set_to_none:
            raise ValueError("FlatAdam.zero_grad: set_to_none=True is not supported (the parameters' gradients are views "
                             "of one flat gradient, zeroed in place); call zero_grad() or zero_grad(set_to_none=False)")
        if self.flat.grad is None:
            self.flat.grad = torch.zeros_like(self.flat)
        grad = self.flat.grad
        grad.zero_()
        start, size = grad.data_ptr(), grad.element_size()
        for p, offset in zip(self.members, self.offsets, strict=True):
            if p.grad is None or p.grad.data_ptr() != start + offset * size:
                p.grad = grad[offset : offset + p.numel()].view_as(p)


def make_optimizer(agent: nn.Module, config) -> torch.optim.Optimizer:
    """Adam with ε = 1e-5 (CleanRL's and SB3's) over the agent's parameters, at ``config.learning_rate``.

    It keeps them in one flat tensor (``FlatAdam``: the same steps as ``torch.optim.Adam``, in fewer calls);
    the agent and the trainer see ordinary parameters.
    """
    return FlatAdam(agent, lr=config.learning_rate, eps=1e-5)
