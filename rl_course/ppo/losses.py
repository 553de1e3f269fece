"""The losses and diagnostics of PPO, as small functions on torch tensors (one entry per transition)."""

from __future__ import annotations

import torch

from rl_course.reference import reference


@reference
def probability_ratio(log_probs: torch.Tensor, old_log_probs: torch.Tensor) -> torch.Tensor:
    """ρ(θ) = π_θ(a|s) / π_old(a|s) = exp(log π_θ(a|s) − log π_old(a|s)); π_old is a constant (no gradient)."""
    return torch.exp(log_probs - old_log_probs.detach())


@reference
def clipped_surrogate(ratio: torch.Tensor, advantages: torch.Tensor, eps: float) -> torch.Tensor:
    """The clipped surrogate objective, to be maximized:

        L^CLIP = E[ min(ρ Ψ^GAE, clip(ρ, 1 − ε, 1 + ε) Ψ^GAE) ]
    """
    return torch.min(ratio * advantages, torch.clamp(ratio, 1 - eps, 1 + eps) * advantages).mean()


@reference
def clipped_value_loss(values: torch.Tensor, old_values: torch.Tensor, targets: torch.Tensor, eps: float | None) -> torch.Tensor:
    """The clipped critic loss, to be minimized:

        E[ max( (y − V)², (y − V_old − clip(V − V_old, −ε̂, ε̂))² ) ]

    The clipped prediction may move at most ε̂ from the critic's output V_old at collection time.
    With ``eps=None`` this is the plain squared error E[(y − V)²].
    """
    unclipped = (targets - values) ** 2
    if eps is None:
        return unclipped.mean()
    clipped = (targets - old_values - torch.clamp(values - old_values, -eps, eps)) ** 2
    return torch.max(unclipped, clipped).mean()


@reference
def normalize_advantages(advantages: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Ψ ← (Ψ − mean Ψ) / (std Ψ + 1e-8), over the transitions given (one minibatch)."""
    if advantages.numel() < 2:
        return advantages
    return (advantages - advantages.mean()) / (advantages.std() + eps)


@reference
def kl_penalty_objective(ratio: torch.Tensor, advantages: torch.Tensor, kl: torch.Tensor, kl_coef: float) -> torch.Tensor:
    """The lecture's objective with the KL term, to be maximized (the alternative to clipping):

        L^KLPEN = E[ ρ Ψ^GAE ] − C · E[ KL(π_old ‖ π_θ) ]

    ``kl`` holds KL(π_old(·|s) ‖ π_θ(·|s)) per transition; a policy that moves away from π_old pays C per nat.
    """
    return (ratio * advantages).mean() - kl_coef * kl.mean()


@reference
def adapt_kl_coef(kl_coef: float, kl: float, kl_target: float) -> float:
    """The adaptive penalty coefficient (Schulman et al. 2017), after an update that moved the policy by d = E[KL]:

        d > 1.5 d_targ  →  C ← 2 C        (moved too far: penalize more)
        d < d_targ / 1.5 →  C ← C / 2      (barely moved: penalize less)
        otherwise C stays.
    """
    if kl > 1.5 * kl_target:
        return kl_coef * 2
    if kl < kl_target / 1.5:
        return kl_coef / 2
    return kl_coef


def approx_kl(ratio: torch.Tensor) -> torch.Tensor:
    """KL(π_old ‖ π_θ) estimated from samples of π_old: E[(ρ − 1) − log ρ], the estimator k3 of Schulman's note
    "Approximating KL divergence" (2020): unbiased, never negative, of lower variance than −E[log ρ]."""
    with torch.no_grad():
        return ((ratio - 1) - torch.log(ratio)).mean()


def clip_fraction(ratio: torch.Tensor, eps: float) -> torch.Tensor:
    """The share of transitions whose ratio lies outside [1 − ε, 1 + ε]."""
    with torch.no_grad():
        return ((ratio - 1).abs() > eps).float().mean()


def explained_variance(values, targets) -> float:
    """1 − Var[y − V] / Var[y]: 1 for a perfect critic, 0 for one no better than a constant, negative if worse."""
    values, targets = torch.as_tensor(values, dtype=torch.float64), torch.as_tensor(targets, dtype=torch.float64)
    variance = targets.var()
    return float("nan") if variance == 0 else float(1 - (targets - values).var() / variance)
