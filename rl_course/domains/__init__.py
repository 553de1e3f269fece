"""The inputs each graded function's docstring promises, drawn from the whole of it: the cases of the differential
hidden tests (``checks.expect_agrees``), which compare a student's function with the reference on every one.

A domain covers what its docstring allows and nothing more: sizes from the smallest up (T = 1, one environment,
one action dimension), numpy arrays of float64, float32 and integers, Python lists, numpy scalars, the ends of
every interval (γ, λ = 0 and 1; ε̂ = 0 or None; a step both terminated and truncated), values far from zero
with a small spread, and junk in the entries the docstring says are never read. Every draw is seeded: the same
seed gives the same cases.

    case      Case, the forms an input comes in, the tolerances of a comparison
    arrays    01–03: tabular values, episodes of a chain, rollouts of several environments (numpy arrays and lists)
    tensors   04 and 05: torch tensors with gradients; running statistics, schedules, the KL penalty
"""

from rl_course.domains.arrays import batch_cases, chain_episode, episode_cases, rms_error_cases, rollout_cases, td_error_cases
from rl_course.domains.case import EXACT, FORMS, SINGLE, Case, given_as
from rl_course.domains.tensors import (
    gaussian_cases,
    kl_coef_cases,
    kl_penalty_cases,
    log_prob_cases,
    normalize_cases,
    ratio_cases,
    running_stats_cases,
    scale_rewards_cases,
    schedule_cases,
    surrogate_cases,
    value_loss_cases,
)

__all__ = [
    "Case", "FORMS", "EXACT", "SINGLE", "given_as", "td_error_cases", "chain_episode", "episode_cases",
    "rms_error_cases", "rollout_cases", "batch_cases", "log_prob_cases", "ratio_cases", "surrogate_cases",
    "value_loss_cases", "normalize_cases", "gaussian_cases", "running_stats_cases", "scale_rewards_cases",
    "schedule_cases", "kl_penalty_cases", "kl_coef_cases",
]
