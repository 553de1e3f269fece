"""What the lecture's slides compute, as data: the weights of the forward and backward views, the coefficient table,
the clipped surrogate and its gradient, eligibility traces, the random-walk experiment and the estimators' bias and
variance. Every quantity comes from the library's tested estimators (``advantages``, ``tabular``, ``ppo.losses``);
this module only arranges them."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from rl_course import advantages, envs, tabular

# The parameters of assignment 02's coefficient table and of assignment 01's random-walk experiment.
COEFFICIENT_LAM, COEFFICIENT_GAMMA, COEFFICIENT_TERMS = 0.8, 0.9, 5
RANDOM_WALK_RUNS, RANDOM_WALK_EPISODES, RANDOM_WALK_SEED = 100, 10, 0
# The small MDP of assignment 03: the uniformly random policy, γ = 0.9, and its poor critic 0.5·V^π + 1.
SMALL_MDP_GAMMA = 0.9
HORIZONS = (1, 2, 4, 8, 16, np.inf)
BIAS_VARIANCE_LAMS = tuple(np.round(np.linspace(0.0, 1.0, 21), 2))


# ---------------------------------------------------------------- λ-returns and GAE: the weights


def lambda_return_weights(lam: float, horizon: int) -> np.ndarray:
    """The forward view's weights of Ψ₍₁₎ … Ψ₍H−1₎ and Ψ₍∞₎ at a state H = ``horizon`` steps before the episode ends:

        w_N = (1 − λ) λ^{N−1}   for N = 1 … H−1,      w_∞ = λ^{H−1}   (every N ≥ H is Monte-Carlo)

    so that Ψ^λ = Σ_N w_N Ψ₍N₎ + w_∞ Ψ₍∞₎ (``advantages.lambda_estimates``) and the weights sum to one.
    Returns an array of length H, the last entry w_∞.
    """
    advantages.check_lambda(lam)
    if not (float(horizon).is_integer() and horizon >= 1):
        raise ValueError(f"horizon (steps left in the episode) must be an integer ≥ 1, got {horizon!r}")
    horizon = int(horizon)
    return np.r_[(1 - lam) * lam ** np.arange(horizon - 1), lam ** (horizon - 1)]


def gae_weights(lam: float, gamma: float, horizon: int, episode_end: int | None = None) -> np.ndarray:
    """The weight of Ψ₍₁₎(s_k) in Ψ^GAE(s_0), for k = 0 … horizon−1, read off ``advantages.gae``:

        Ψ^GAE(s_0) = Σ_k (γλ)^k Ψ₍₁₎(s_k)   up to the step that ends the episode, 0 after it

    Each column of one batched call holds a unit one-step error at a different step (rewards = the identity,
    values 0), so column k of Ψ^GAE(s_0) is the weight of Ψ₍₁₎(s_k). ``episode_end`` is the step whose
    transition ends the episode (done_{k+1}); the trace is zeroed there.
    """
    if not (float(horizon).is_integer() and horizon >= 1):
        raise ValueError(f"horizon must be an integer ≥ 1, got {horizon!r}")
    horizon = int(horizon)
    if episode_end is not None and not 0 <= episode_end < horizon:
        raise ValueError(f"episode_end must be a step in 0 … {horizon - 1} or None, got {episode_end!r}")
    impulses = np.eye(horizon)
    zeros = np.zeros((horizon, horizon))
    ended = np.zeros((horizon, horizon), dtype=bool)
    if episode_end is not None:
        ended[episode_end] = True
    return advantages.gae(impulses, zeros, zeros, ended, np.zeros_like(ended), gamma, lam)[0]


def coefficient_table(lam: float, gamma: float, n_terms: int = COEFFICIENT_TERMS, episode_length: int | None = None) -> dict:
    """The coefficient of each term of a rollout in Ψ^λ(s(0)), computed and from the lecture's table.

    Both views are linear in the rewards and values, so the coefficient of r(t) (or V(s(t))) is the estimate
    for a rollout in which that term is 1 and every other 0. Returns a dict of arrays, each (2, n_terms):
    row 0 for r(t), row 1 for V(s(t)), t = 0 … n_terms−1, under the keys

        "backward"          from ``advantages.backward_view_estimates``
        "forward"           from ``advantages.lambda_estimates``
        "lecture_backward"  r(t): (γλ)^t;  V(s(t)), t > 0: (γλ)^{t−1} γ − (γλ)^t;  V(s): −1
        "lecture_forward"   r(t): γ^t (1 − λ)(λ^t + λ^{t+1} + …);  V(s(t)), t > 0: (1 − λ) λ^{t−1} γ^t;
                            V(s): −(1 − λ)(1 + λ + λ² + …)      (with (1 − λ) Σ_{n≥t} λ^n = λ^t, also at λ = 1)

    The coefficients of the first terms do not depend on the episode's length once it is longer than
    ``n_terms``: assignment 02 reads them off an episode of 60 steps, the deck off the shortest that shows them,
    ``episode_length`` = n_terms + 1 by default (the forward view costs O(T²) per rollout, and a slider redraws it).
    """
    if not (float(n_terms).is_integer() and n_terms >= 1):
        raise ValueError(f"n_terms must be an integer ≥ 1, got {n_terms!r}")
    episode_length = int(n_terms) + 1 if episode_length is None else episode_length
    if episode_length <= n_terms:
        raise ValueError(f"episode_length must exceed n_terms ({n_terms}), got {episode_length}")
    advantages.check_lambda(lam)
    advantages.check_gamma(gamma)
    n_terms = int(n_terms)
    table = {key: np.empty((2, n_terms)) for key in ("backward", "forward", "lecture_backward", "lecture_forward")}
    for row, term in enumerate(("r", "V")):
        for t in range(n_terms):
            rewards, values = np.zeros(episode_length), np.zeros(episode_length + 1)
            (rewards if term == "r" else values)[t] = 1.0
            table["backward"][row, t] = advantages.backward_view_estimates(rewards, values, lam, gamma)[0]
            table["forward"][row, t] = advantages.lambda_estimates(rewards, values, lam, gamma)[0]
    t = np.arange(n_terms)
    table["lecture_backward"][0] = (gamma * lam) ** t
    table["lecture_forward"][0] = gamma**t * _tail(lam, t)
    table["lecture_backward"][1] = np.r_[-1.0, (gamma * lam) ** (t[1:] - 1) * gamma - (gamma * lam) ** t[1:]]
    table["lecture_forward"][1] = np.r_[-_tail(lam, 0), (1 - lam) * lam ** (t[1:] - 1.0) * gamma ** t[1:]]
    return table


def _tail(lam: float, start) -> np.ndarray:
    """(1 − λ)(λ^start + λ^{start+1} + …) = λ^start, the limit 1 at λ = 1."""
    return np.asarray(lam, dtype=float) ** np.asarray(start, dtype=float)


# ---------------------------------------------------------------- the clipped objective


def clip_curves(eps: float, advantage: float, rhos: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """L^CLIP(ρ) = min(ρ A, clip(ρ, 1 − ε, 1 + ε) A) of one transition, and ∂L^CLIP/∂ρ, at every ρ in ``rhos``.

    Both come from ``ppo.losses.clipped_surrogate``: the values one transition at a time (mapped over the ratios
    by ``torch.func.vmap``), the gradient by autograd through one batch (whose mean divides each gradient by the
    batch size, multiplied back).
    """
    import torch

    from rl_course.ppo.losses import clipped_surrogate

    if not eps > 0:
        raise ValueError(f"eps (ε) must be positive, got {eps}")
    rhos = np.asarray(rhos, dtype=float)
    if rhos.ndim != 1 or len(rhos) == 0 or np.any(rhos <= 0):
        raise ValueError("rhos must be a non-empty 1-D array of probability ratios ρ > 0")
    ratio = torch.tensor(rhos, dtype=torch.float64, requires_grad=True)
    advantages_ = torch.full_like(ratio, float(advantage))
    (gradient,) = torch.autograd.grad(clipped_surrogate(ratio, advantages_, eps) * len(rhos), ratio)
    with torch.no_grad():
        one_transition = torch.func.vmap(lambda r, a: clipped_surrogate(r[None], a[None], eps))
        values = one_transition(ratio, advantages_)
    return values.numpy(), gradient.numpy()


GRADIENT_CASES = ("ρ < 1 − ε", "1 − ε ≤ ρ ≤ 1 + ε", "ρ > 1 + ε")


def gradient_table(eps: float) -> np.ndarray:
    """∂L^CLIP/∂ρ for A = +1 (row 0) and A = −1 (row 1) at a ratio below, inside and above [1 − ε, 1 + ε]
    (ρ = (1 − ε)/2, 1 and 1 + 2ε), by autograd (``clip_curves``).

    The lecture's table: A ≥ 0 pushes π(a|s) up, and the gradient is 0 once ρ > 1 + ε, the unclipped one
    ("same") below; A < 0 pushes it down, 0 once ρ < 1 − ε, "same" above.
    """
    rhos = [(1 - eps) / 2 if eps < 1 else 0.25, 1.0, 1 + 2 * eps]
    return np.array([clip_curves(eps, a, rhos)[1] for a in (1.0, -1.0)])


# ---------------------------------------------------------------- eligibility traces


def trace_history(episode: tabular.Episode, lam: float, gamma: float = 1.0, trace: str = "accumulating",
                  n_states: int | None = None) -> np.ndarray:
    """The eligibility trace e(s) of every state at every step k of ``episode``, as TD(λ) uses it:

        e := 0;  for k = 0 … T−1:  e(s_k) ← e(s_k) + 1 (replacing: ← 1);  [update with α e Ψ₍₁₎];  e ← λγ e

    Row k is e just before the decay at step k, the coefficient with which Ψ₍₁₎ of step k updates each
    state (so offline TD(λ) adds α Σ_k e_k Ψ₍₁₎,k, as ``tabular.td_lambda_episode(online=False)`` does).
    Returns (T, n_states); ``n_states`` defaults to one more than the largest state visited.
    """
    if not isinstance(episode, tabular.Episode):
        raise TypeError(f"episode must be an rl_course.tabular.Episode, got {type(episode).__name__}")
    if trace not in tabular.TRACES:
        raise ValueError(f"trace must be one of {tabular.TRACES}, got {trace!r}")
    tabular.check_step_sizes(0.0, lam, gamma)
    size = int(episode.states.max()) + 1 if n_states is None else n_states
    if size <= episode.states.max():
        raise ValueError(f"n_states ({size}) must exceed the largest state visited ({episode.states.max()})")
    e = np.zeros(size)
    history = np.empty((len(episode), size))
    for k, s in enumerate(episode.states[:-1]):
        e[s] = e[s] + 1.0 if trace == "accumulating" else 1.0
        history[k] = e
        e = lam * gamma * e
    return history


# ---------------------------------------------------------------- measured tables


@dataclass(frozen=True)
class RandomWalkTable:
    """Assignment 01's experiment: mean RMS error per (λ, α) and, per λ, the best α and its error."""

    alphas: np.ndarray
    lams: tuple
    errors: np.ndarray  # (len(lams), len(alphas))

    @property
    def best_alphas(self) -> np.ndarray:
        return self.alphas[np.argmin(self.errors, axis=1)]

    @property
    def best_errors(self) -> np.ndarray:
        return self.errors.min(axis=1)

    def rows(self) -> list[str]:
        """The table as assignment 01 prints it: λ, the best α, its RMS error."""
        return [f"{lam:>6g}  {alpha:>7.3f}  {error:>9.4f}"
                for lam, alpha, error in zip(self.lams, self.best_alphas, self.best_errors, strict=True)]


def random_walk_table(n_runs: int = RANDOM_WALK_RUNS, seed: int = RANDOM_WALK_SEED, trace: str = "accumulating") -> RandomWalkTable:
    """TD(λ) on the 19-state random walk, as in assignment 01 and ``rl-course demo``: ``n_runs`` runs × 10
    episodes from V = 0, the RMS error averaged over episodes and runs, for ``tabular.FIGURE_LAMS`` × ``FIGURE_ALPHAS``."""
    runs = tabular.random_walk_runs(n_runs=n_runs, n_episodes=RANDOM_WALK_EPISODES, seed=seed)
    alphas = np.array(tabular.FIGURE_ALPHAS)
    errors = tabular.td_lambda_sweep(runs, envs.random_walk_true_values(), alphas, tabular.FIGURE_LAMS, trace=trace, progress=False)
    return RandomWalkTable(alphas=alphas, lams=tuple(tabular.FIGURE_LAMS), errors=errors)


@dataclass(frozen=True)
class BiasVarianceSweep:
    """Bias and variance of critic targets y = Ψ + V, measured per N-step horizon and per λ (``estimator_bias_variance``)."""

    horizons: tuple
    lams: tuple
    bias_by_horizon: np.ndarray
    variance_by_horizon: np.ndarray
    bias_by_lambda: np.ndarray
    variance_by_lambda: np.ndarray
    n_episodes: int = 0


def estimator_bias_variance(n_episodes: int = 1000, seed: int = 0, gamma: float = SMALL_MDP_GAMMA,
                            horizons: Sequence = HORIZONS, lams: Sequence[float] = BIAS_VARIANCE_LAMS) -> BiasVarianceSweep:
    """On ``rl_course/SmallMDP-v0`` (6 states, 2 actions, uniformly random policy, exact V^π by a linear solve),
    with assignment 03's poor critic V = 0.5·V^π + 1: the RMS bias and mean variance of the targets
    y_t = Ψ(s_t) + V(s_t) against V^π(s_t) (``advantages.target_bias_variance``) for Ψ₍N₎, N in ``horizons``
    (``advantages.n_step_estimates``), and for Ψ^λ, λ in ``lams`` (``advantages.backward_view_estimates``).
    """
    import gymnasium as gym

    env = gym.make(envs.SMALL_MDP_ID)
    try:
        mdp = env.unwrapped.mdp
        episodes = tabular.sample_episodes(env, n_episodes, seed=seed)
    finally:
        env.close()
    v_true = envs.policy_values(mdp, np.full(mdp.R.shape, 1.0 / mdp.R.shape[1]), gamma)
    critic = 0.5 * v_true + 1.0

    def measure(estimator: Callable) -> tuple[float, float]:
        measured = advantages.target_bias_variance(episodes, critic, v_true, estimator)
        return measured.bias, measured.variance

    by_horizon = np.array([measure(lambda r, v, n=n: advantages.n_step_estimates(r, v, n, gamma)) for n in horizons])
    by_lambda = np.array([measure(lambda r, v, lam=lam: advantages.backward_view_estimates(r, v, lam, gamma)) for lam in lams])
    return BiasVarianceSweep(tuple(horizons), tuple(lams), *by_horizon.T, *by_lambda.T, n_episodes=n_episodes)


def random_walk_env(n_states: int = 19):
    """The random walk of the lectures, ``rl_course/RandomWalk-v0``."""
    import gymnasium as gym

    return gym.make(envs.RANDOM_WALK_ID, n_states=n_states)
