"""Credit-assignment estimators Ψ on a recorded episode: one-step, N-step, Monte-Carlo and λ.

Every function takes the rewards r_0 … r_{T−1} of an episode that ends in a terminal
state s_T, and the values V(s_0) … V(s_T) of a value estimate along it (length T+1).
Whatever the estimate says at s_T is ignored: nothing is bootstrapped past the end of an
episode. Each returns one estimate per time step, Ψ(s_t) for t = 0 … T−1, and the critic's
regression target is y_t = Ψ(s_t) + V(s_t).

    Ψ₍₁₎(s_t) = r_t + γ V(s_{t+1}) − V(s_t)
    Ψ₍N₎(s_t) = r_t + γ r_{t+1} + … + γ^{N−1} r_{t+N−1} + γ^N V(s_{t+N}) − V(s_t)
    Ψ₍∞₎(s_t) = r_t + γ r_{t+1} + … + γ^{T−1−t} r_{T−1} − V(s_t)
    Ψ^λ(s_t)  = (1 − λ) Σ_{N≥1} λ^{N−1} Ψ₍N₎(s_t)          (forward view)
              = Σ_{k≥0} (γλ)^k Ψ₍₁₎(s_{t+k})                  (backward view)

N-step estimates that reach past the end of the episode are Monte-Carlo ones: Ψ₍N₎ = Ψ₍∞₎
for t + N ≥ T, so in the forward view the weight (1 − λ) Σ_{N ≥ T−t} λ^{N−1} = λ^{T−t−1}
of all those terms lands on Ψ₍∞₎ and the weights still sum to one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rl_course.reference import reference


@reference
def td_errors(rewards, values, gamma: float = 1.0) -> np.ndarray:
    """Ψ₍₁₎(s_t) = r_t + γ V(s_{t+1}) − V(s_t) for t = 0 … T−1, with V(s_T) taken as 0."""
    r, v = _check_episode(rewards, values, gamma)
    next_values = np.r_[v[1:-1], 0.0]
    return r + gamma * next_values - v[:-1]


@reference
def n_step_estimates(rewards, values, n, gamma: float = 1.0) -> np.ndarray:
    """Ψ₍N₎(s_t) = Σ_{k<N} γ^k r_{t+k} + γ^N V(s_{t+N}) − V(s_t); Monte-Carlo (no bootstrap) where t+N ≥ T.

    ``n`` is N ≥ 1, or ``np.inf`` for the Monte-Carlo estimate Ψ₍∞₎.
    """
    r, v = _check_episode(rewards, values, gamma)
    if not (n == np.inf or (float(n).is_integer() and n >= 1)):
        raise ValueError(f"n (N) must be an integer ≥ 1 or np.inf, got {n!r}")
    T = len(r)
    estimates = np.empty(T)
    for t in range(T):
        end = T if n == np.inf else min(t + int(n), T)
        discounts = gamma ** np.arange(end - t)
        bootstrap = gamma ** (end - t) * v[end] if end < T else 0.0
        estimates[t] = discounts @ r[t:end] + bootstrap - v[t]
    return estimates


@reference
def lambda_estimates(rewards, values, lam: float, gamma: float = 1.0) -> np.ndarray:
    """The forward view, as the explicit weighted sum of N-step estimates:

        Ψ^λ(s_t) = (1 − λ) Σ_{N=1}^{T−t−1} λ^{N−1} Ψ₍N₎(s_t) + λ^{T−t−1} Ψ₍∞₎(s_t)

    (the weight of every N-step estimate that reaches past the end goes to Ψ₍∞₎).
    """
    r, v = _check_episode(rewards, values, gamma)
    check_lambda(lam)
    T = len(r)
    by_n = np.array([n_step_estimates(r, v, n, gamma) for n in range(1, T)] + [n_step_estimates(r, v, np.inf, gamma)])
    estimates = np.empty(T)
    for t in range(T):
        weights = np.r_[(1 - lam) * lam ** np.arange(T - t - 1), lam ** (T - t - 1)]
        estimates[t] = weights @ np.r_[by_n[: T - t - 1, t], by_n[-1, t]]
    return estimates


@reference
def backward_view_estimates(rewards, values, lam: float, gamma: float = 1.0) -> np.ndarray:
    """The backward view, by the recursion from the end of the episode:

        Ψ^λ(s_{T−1}) = Ψ₍₁₎(s_{T−1}),   Ψ^λ(s_t) = Ψ₍₁₎(s_t) + γλ Ψ^λ(s_{t+1})

    which unrolls to Σ_{k=0}^{T−1−t} (γλ)^k Ψ₍₁₎(s_{t+k}).
    """
    check_lambda(lam)
    deltas = td_errors(rewards, values, gamma)
    estimates = np.empty_like(deltas)
    following = 0.0
    for t in range(len(deltas) - 1, -1, -1):
        following = deltas[t] + gamma * lam * following
        estimates[t] = following
    return estimates


def _check_episode(rewards, values, gamma) -> tuple[np.ndarray, np.ndarray]:
    r = np.asarray(rewards, dtype=float)
    v = np.asarray(values, dtype=float)
    if r.ndim != 1 or v.ndim != 1 or len(v) != len(r) + 1:
        raise ValueError(
            "expected rewards r_0 … r_{T-1} and values V(s_0) … V(s_T) (one more), both 1-D; "
            f"got rewards {r.shape} and values {v.shape}"
        )
    if len(r) == 0:
        raise ValueError("the episode has no steps")
    check_gamma(gamma)
    return r, v


def check_gamma(gamma) -> None:
    if not 0 <= gamma <= 1:
        raise ValueError(f"gamma (γ) must be in [0, 1], got {gamma}")


def check_lambda(lam) -> None:
    if not 0 <= lam <= 1:
        raise ValueError(f"lam (λ) must be in [0, 1], got {lam}")


@dataclass(frozen=True)
class BiasVariance:
    """A measured bias and variance, each with a bootstrap confidence interval (low, high) over episodes."""

    bias: float
    variance: float
    bias_interval: tuple[float, float]
    variance_interval: tuple[float, float]
    confidence: float


def target_bias_variance(episodes, V, v_true, estimator, **kwargs) -> BiasVariance:
    """Bias and variance of the critic targets y_t = Ψ(s_t) + V(s_t) of an estimator, measured.

    ``estimator(rewards, values)`` returns Ψ(s_t) for one episode (values = V along it).
    Targets are grouped by the state they start from and compared with V^π there, one
    target per state per episode (``grouped_bias_variance``, which takes ``kwargs``).
    """
    V, v_true = np.asarray(V, dtype=float), np.asarray(v_true, dtype=float)
    states = np.concatenate([ep.states[:-1] for ep in episodes])
    targets = np.concatenate([np.asarray(estimator(ep.rewards, V[ep.states]), dtype=float) + V[ep.states[:-1]] for ep in episodes])
    labels = np.concatenate([np.full(len(ep.rewards), i) for i, ep in enumerate(episodes)])
    return grouped_bias_variance(targets, states, v_true, labels, **kwargs)


def grouped_bias_variance(estimates, groups, truth, episodes, confidence: float = 0.95, n_bootstrap: int = 1000,
                          seed: int = 0) -> BiasVariance:
    """Bias and variance of noisy estimates of ``truth[g]``, each tagged with its group g and its episode.

    Estimates from one episode are correlated (a state visited twice sees the same future), so
    only the first estimate of each group in each episode is kept: x_e(g). Episodes are
    independent, so for each group seen in n(g) ≥ 2 episodes, var(g) is the sample variance of
    its x_e(g) and bias(g)² = (mean − truth[g])² − var(g)/n(g) removes the sampling noise of the
    mean. Returns the root-mean-square bias √E[bias(g)²] (0 where the estimate is negative) and
    the mean variance E[var(g)], weighted by n(g)/Σn, each with a basic bootstrap interval at
    ``confidence``: the episodes resampled with replacement ``n_bootstrap`` times, and the spread
    of each resampled estimate around its value on the sample (the truth of the resampled world)
    taken as the spread of the estimate around the truth. The interval of the bias is that of
    bias² with its ends put through √max(·, 0): an unbiased estimator's interval reaches 0.
    """
    estimates = np.asarray(estimates, dtype=float).ravel()
    groups, episodes = np.asarray(groups).ravel(), np.asarray(episodes).ravel()
    truth = np.asarray(truth, dtype=float)
    if not (len(estimates) == len(groups) == len(episodes)):
        raise ValueError(f"estimates, groups and episodes must have one entry each per estimate, got "
                         f"{len(estimates)}, {len(groups)} and {len(episodes)}")
    if len(groups) and (groups.min() < 0 or groups.max() >= len(truth)):
        raise ValueError(f"groups must index truth (0 … {len(truth) - 1}), got {groups.min()} … {groups.max()}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    episode_ids, episode_index = np.unique(episodes, return_inverse=True)
    n_episodes, n_groups = len(episode_ids), len(truth)
    first = np.unique(episode_index * n_groups + groups, return_index=True)[1]  # the first estimate of each (episode, group)
    cell = episode_index[first] * n_groups + groups[first]
    seen = np.zeros(n_episodes * n_groups)
    seen[cell] = 1.0
    value = np.zeros(n_episodes * n_groups)
    value[cell] = estimates[first]
    seen, value = seen.reshape(n_episodes, n_groups), value.reshape(n_episodes, n_groups)

    def measure(weights):  # weights: (B, n_episodes), how often each episode is drawn
        n = weights @ seen
        mean = (weights @ value) / np.maximum(n, 1)
        square = (weights @ value**2) / np.maximum(n, 1)
        counted = n > 1
        share = np.where(counted, n, 0.0)
        share = share / np.maximum(share.sum(axis=1, keepdims=True), 1)
        plug_in_variance = np.where(counted, square - mean**2, 0.0)  # the variance of the sample itself (ddof = 0)
        variance = plug_in_variance * n / np.where(counted, n - 1, 1)
        plug_in_bias_squared = np.where(counted, (mean - truth) ** 2, 0.0)
        bias_squared = plug_in_bias_squared - variance / np.maximum(n, 1)
        return ((share * bias_squared).sum(axis=1), (share * variance).sum(axis=1),
                (share * plug_in_bias_squared).sum(axis=1), (share * plug_in_variance).sum(axis=1))

    bias_squared, variance, plug_in_bias_squared, plug_in_variance = (x[0] for x in measure(np.ones((1, n_episodes))))
    draws = np.random.default_rng(seed).multinomial(n_episodes, np.full(n_episodes, 1 / n_episodes), size=n_bootstrap)
    boot_bias_squared, boot_variance, _, _ = measure(draws.astype(float))

    def interval(estimate, plug_in, replicates):
        # the basic bootstrap: estimate − (replicate − plug-in) stands for truth, the plug-in being the resampled world's truth
        low, high = np.percentile(replicates - plug_in, [(1 + confidence) / 2 * 100, (1 - confidence) / 2 * 100])
        return estimate - low, estimate - high

    bias_low, bias_high = interval(bias_squared, plug_in_bias_squared, boot_bias_squared)
    variance_low, variance_high = interval(variance, plug_in_variance, boot_variance)
    def root(x):
        return float(np.sqrt(max(x, 0.0)))

    return BiasVariance(root(bias_squared), float(variance), (root(bias_low), root(bias_high)),
                        (float(max(variance_low, 0.0)), float(variance_high)), confidence)


# ---------------------------------------------------------------- batched rollouts: GAE


@reference
def batch_td_errors(rewards, values, next_values, terminated, gamma: float) -> np.ndarray:
    """Ψ₍₁₎(s_t) = r_t + γ (1 − terminated_t) V(s_{t+1}) − V(s_t) on (T, n_envs) arrays.

    ``next_values`` holds V(s_{t+1}) of the same episode (for a step cut by a time limit, the
    value of its real final observation); a terminated step has no future to bootstrap from.
    """
    check_gamma(gamma)
    r, v, v_next, term = _check_batch(rewards, values, next_values, terminated)
    return r + gamma * (1.0 - term) * v_next - v


@reference
def gae(rewards, values, next_values, terminated, truncated, gamma: float, lam: float) -> np.ndarray:
    """Generalized Advantage Estimation on (T, n_envs) arrays, by the backward recursion

        Ψ^GAE(s_t) = Ψ₍₁₎(s_t) + γλ (1 − done_{t+1}) Ψ^GAE(s_{t+1}),   Ψ^GAE(s_T) := 0,

    where done_{t+1} = terminated_t or truncated_t: the recursion never crosses the end of an
    episode, while Ψ₍₁₎ of a truncated step still bootstraps from its final observation.
    Each environment (column) is independent. λ = 0 gives Ψ₍₁₎, λ = 1 the discounted return
    minus V (bootstrapped where the rollout or a time limit cut the episode).
    """
    check_lambda(lam)
    deltas = batch_td_errors(rewards, values, next_values, terminated, gamma)
    cut = _as_batch(truncated, deltas.shape, "truncated")
    carry = gamma * lam * (1.0 - np.maximum(_as_batch(terminated, deltas.shape, "terminated"), cut))
    advantages = np.empty_like(deltas)
    following = np.zeros(deltas.shape[1:])
    for t in range(len(deltas) - 1, -1, -1):
        following = deltas[t] + carry[t] * following
        advantages[t] = following
    return advantages



def _as_batch(flags, shape, name) -> np.ndarray:
    flags = np.asarray(flags)
    _check_batch_shapes({"rewards": shape, name: flags.shape})
    return flags.astype(float)


def _check_batch(rewards, values, next_values, terminated):
    r = np.asarray(rewards, dtype=float)
    _check_batch_shapes({"rewards": r.shape})
    arrays = [r]
    for name, array in (("values", values), ("next_values", next_values)):
        array = np.asarray(array, dtype=float)
        _check_batch_shapes({"rewards": r.shape, name: array.shape})
        arrays.append(array)
    return (*arrays, _as_batch(terminated, r.shape, "terminated"))


def _check_batch_shapes(shapes: dict) -> None:
    """The arrays of a batched rollout, by name → shape (rewards first): rewards is (T, n_envs) and every other has its shape."""
    (_, expected), *others = shapes.items()
    if len(expected) != 2:
        raise ValueError(f"rewards must be shaped (T, n_envs), got {expected}")
    for name, shape in others:
        if shape != expected:
            raise ValueError(f"{name} must have the shape of rewards {expected}, got {shape}")
