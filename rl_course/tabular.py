"""Tabular TD(λ) with eligibility traces (the backward view), on recorded episodes.

An episode is the sequence s_0, r_0, s_1, r_1, …, s_T of a rollout that ends in the
terminal state s_T. Values live in a table V indexed by state; the value of a terminal
state is 0 and is never updated.

TD(0), the online «Monte-Carlo» TD(1) and everything between are one algorithm with a
trace-decay parameter λ:

    e(s) := 0 for all s at the start of each episode
    for k = 0 … T−1:
        Ψ₍₁₎ := r_k + γ V(s_{k+1}) − V(s_k)
        e(s_k) ← e(s_k) + 1                 (accumulating trace; replacing: e(s_k) ← 1)
        ∀s: V(s) ← V(s) + α e(s) Ψ₍₁₎
        ∀s: e(s) ← λγ e(s)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from tqdm.auto import tqdm

from rl_course import advantages
from rl_course.episodes import Episode, EpisodeStream, random_walk_runs, sample_episodes
from rl_course.reference import reference

__all__ = [  # Episode and its sampling live in rl_course.episodes; the notebooks find them here too
    "Episode", "sample_episodes", "random_walk_runs", "td_error", "td_lambda_episode", "rms_error",
    "true_online_td_lambda_episode", "online_lambda_return_episode", "offline_lambda_return_episode",
    "discounted_returns", "td_lambda_sweep", "td_lambda_sweep_loop", "check_step_sizes", "TRACES", "SWEEP_TRACES",
    "FIGURE_LAMS", "FIGURE_ALPHAS",
]

TRACES = ("accumulating", "replacing")
SWEEP_TRACES = TRACES + ("dutch",)  # dutch: true online TD(λ)


@reference
def td_error(V: np.ndarray, s: int, r: float, s_next: int, terminated: bool, gamma: float = 1.0) -> float:
    """The one-step TD error Ψ₍₁₎ = r + γ (1 − terminated) V(s′) − V(s).

    No value is bootstrapped past a terminal state: if the step ``terminated``, the
    target is r alone, whatever V holds at s′.
    """
    return float(r + gamma * (0.0 if terminated else V[s_next]) - V[s])


@reference
def td_lambda_episode(
    V: np.ndarray,
    episode: Episode,
    alpha: float,
    lam: float,
    gamma: float = 1.0,
    trace: str = "accumulating",
    online: bool = True,
) -> np.ndarray:
    """One episode of TD(λ) with eligibility traces; returns the new table (V is not modified).

        e(s) := 0 for all s
        for k = 0 … T−1:
            Ψ₍₁₎ := r_k + γ V(s_{k+1}) − V(s_k)          (0 in place of V at the terminal s_T)
            e(s_k) ← e(s_k) + 1   or, replacing, e(s_k) ← 1
            ∀s: V(s) ← V(s) + α e(s) Ψ₍₁₎
            ∀s: e(s) ← λγ e(s)

    λ = 0 is TD(0); λ = 1 is the online «Monte-Carlo» TD(1). With ``online=False`` Ψ₍₁₎
    is computed from the table as it was at the start of the episode and the summed
    increments are applied at the end (offline TD(λ)); offline TD(1) then equals the
    every-visit Monte-Carlo update α Σ_k [s_k = s] (G_k − V(s_k)).
    """
    V = _check_table(V)
    _check_episode(episode, len(V))
    check_step_sizes(alpha, lam, gamma)
    if trace not in TRACES:
        raise ValueError(f"trace must be one of {TRACES}, got {trace!r}")
    V_new = V.copy()
    V_read = V_new if online else V  # offline: every Ψ₍₁₎ uses the values of the episode start
    e = np.zeros_like(V)
    T = len(episode)
    for k in range(T):
        s, s_next = episode.states[k], episode.states[k + 1]
        psi = td_error(V_read, s, episode.rewards[k], s_next, terminated=(k == T - 1), gamma=gamma)
        e[s] = e[s] + 1.0 if trace == "accumulating" else 1.0
        V_new += alpha * e * psi
        e *= lam * gamma
    return V_new


@reference
def rms_error(V: np.ndarray, v_true: np.ndarray) -> float:
    """Root-mean-square error over the non-terminal states 1 … n (the ends 0 and n+1 are left out):

        RMS = √( (1/n) Σ_{s=1}^{n} (V(s) − v(s))² )
    """
    V, v_true = np.asarray(V, dtype=float), np.asarray(v_true, dtype=float)
    if V.shape != v_true.shape:
        raise ValueError(f"V and v_true must have the same shape, got {V.shape} and {v_true.shape}")
    return float(np.sqrt(np.mean((V[1:-1] - v_true[1:-1]) ** 2)))


@reference
def true_online_td_lambda_episode(V: np.ndarray, episode: Episode, alpha: float, lam: float, gamma: float = 1.0) -> np.ndarray:
    """One episode of true online TD(λ) with dutch traces; returns the new table (V is not modified).

        e(s) := 0 for all s,  V_old := 0
        for k = 0 … T−1:
            v := V(s_k),  v′ := V(s_{k+1})  (0 at the terminal s_T)
            δ := r_k + γ v′ − v
            e ← γλ e  and then  e(s_k) ← e(s_k) + 1 − αγλ ê   (ê: e(s_k) before the decay; the dutch trace)
            ∀s: V(s) ← V(s) + α (δ + v − V_old) e(s)
            V(s_k) ← V(s_k) − α (v − V_old)
            V_old ← v′

    At the end of every step it holds exactly the table of the online λ-return algorithm
    (``online_lambda_return_episode``) at that horizon (van Seijen & Sutton, 2014).
    """
    V = _check_table(V)
    _check_episode(episode, len(V))
    check_step_sizes(alpha, lam, gamma)
    V_new, e = V.copy(), np.zeros_like(V)
    v_old = 0.0
    T = len(episode)
    for k in range(T):
        s, s_next = episode.states[k], episode.states[k + 1]
        v, v_next = V_new[s], (0.0 if k == T - 1 else V_new[s_next])
        delta = episode.rewards[k] + gamma * v_next - v
        e_s = e[s]
        e *= gamma * lam
        e[s] += 1.0 - alpha * gamma * lam * e_s
        V_new += alpha * (delta + v - v_old) * e
        V_new[s] -= alpha * (v - v_old)
        v_old = v_next
    return V_new


@reference
def online_lambda_return_episode(V: np.ndarray, episode: Episode, alpha: float, lam: float, gamma: float = 1.0) -> np.ndarray:
    """The online λ-return algorithm (forward view, online); O(T²), for checking, not for speed.

    At every horizon h = 1 … T the episode is replayed from the table V_0 of its start with
    λ-returns truncated at h, which use what is known at time h:

        G^{λ|h}_{h−1} = r_{h−1} + γ b_h,     G^{λ|h}_t = r_t + γ ((1 − λ) b_{t+1} + λ G^{λ|h}_{t+1})
        V^h_{t+1}(s_t) = V^h_t(s_t) + α (G^{λ|h}_t − V^h_t(s_t))   for t = 0 … h−1,   V_h := V^h_h

    where b_k = V_{k−1}(s_k) is the value of s_k in the table of horizon k−1 (0 at the terminal).
    """
    V = _check_table(V)
    _check_episode(episode, len(V))
    check_step_sizes(alpha, lam, gamma)
    s, r, T = episode.states, episode.rewards, len(episode)
    b = np.zeros(T + 1)
    V_h = V.copy()
    for h in range(1, T + 1):
        b[h] = 0.0 if h == T else V_h[s[h]]
        G = np.empty(h)
        G[h - 1] = r[h - 1] + gamma * b[h]
        for t in range(h - 2, -1, -1):
            G[t] = r[t] + gamma * ((1 - lam) * b[t + 1] + lam * G[t + 1])
        V_h = V.copy()
        for t in range(h):
            V_h[s[t]] += alpha * (G[t] - V_h[s[t]])
    return V_h


@reference
def offline_lambda_return_episode(V: np.ndarray, episode: Episode, alpha: float, lam: float, gamma: float = 1.0) -> np.ndarray:
    """The offline λ-return algorithm: with the λ-return G^λ_t = V(s_t) + Ψ^λ(s_t) from the table
    of the episode start,

        V(s) ← V(s) + α Σ_{t: s_t = s} (G^λ_t − V(s_t))     applied once, at the end of the episode.

    Equal to offline TD(λ) with accumulating traces (``td_lambda_episode(..., online=False)``).
    """
    V = _check_table(V)
    _check_episode(episode, len(V))
    check_step_sizes(alpha, lam, gamma)
    psi = advantages.lambda_estimates(episode.rewards, V[episode.states], lam, gamma)
    return V + alpha * np.bincount(episode.states[:-1], weights=psi, minlength=len(V))


def discounted_returns(rewards: np.ndarray, gamma: float = 1.0) -> np.ndarray:
    """The Monte-Carlo returns of an episode, G_k = r_k + γ r_{k+1} + γ² r_{k+2} + … (G_T = 0)."""
    rewards = np.asarray(rewards, dtype=float)
    G = np.zeros(len(rewards) + 1)
    for k in range(len(rewards) - 1, -1, -1):
        G[k] = rewards[k] + gamma * G[k + 1]
    return G[:-1]


def td_lambda_sweep(
    runs: Sequence[Sequence[Episode]],
    v_true: np.ndarray,
    alphas: Sequence[float],
    lams: Sequence[float],
    gamma: float = 1.0,
    trace: str = "accumulating",
    online: bool = True,
    progress: bool = True,
) -> np.ndarray:
    """Mean RMS error of TD(λ) for every (λ, α), vectorized over runs and step sizes.

    Each run starts from V = 0 and learns from its episodes in order; after every episode
    the RMS error over the non-terminal states is recorded. The result, shaped
    (len(lams), len(alphas)), averages those errors over all episodes of all runs; a run
    that diverges gives ``inf``. Every (α, λ) sees the same episodes, so the curves differ
    only through the algorithm:

    - ``trace="accumulating"`` or ``"replacing"``: ``td_lambda_episode``, online or, with
      ``online=False``, offline (which equals the offline λ-return algorithm);
    - ``trace="dutch"``: ``true_online_td_lambda_episode`` (online only).

    Gives the same numbers as ``td_lambda_sweep_loop`` with the matching episode function.
    """
    alphas = np.asarray(alphas, dtype=float)
    v_true = np.asarray(v_true, dtype=float)
    if trace not in SWEEP_TRACES:
        raise ValueError(f"trace must be one of {SWEEP_TRACES}, got {trace!r}")
    if trace == "dutch" and not online:
        raise ValueError("dutch traces belong to true online TD(λ): use online=True")
    for lam in lams:
        check_step_sizes(alphas.min(initial=0.0), lam, gamma)
    stream = EpisodeStream(runs)
    rows = np.arange(stream.n_runs)
    errors = np.empty((len(lams), len(alphas)))
    label = {"dutch": "true online TD(λ)"}.get(trace, f"{'online' if online else 'offline'} TD(λ), {trace} traces")
    for i, lam in enumerate(tqdm(lams, desc=label, disable=not progress)):
        V = np.zeros((len(alphas), stream.n_runs, len(v_true)))
        e = np.zeros_like(V)
        pending = np.zeros_like(V)  # offline: increments waiting for the end of the episode
        v_old = np.zeros((len(alphas), stream.n_runs))  # dutch: V_old
        total = np.zeros((len(alphas), stream.n_runs))
        with np.errstate(over="ignore", invalid="ignore"):
            for t in range(stream.length):
                active, s, s_next = stream.active[:, t], stream.states[:, t], stream.next_states[:, t]
                first, ended = stream.first[:, t], stream.last[:, t]
                if first.any():
                    e[:, first] = 0.0
                    v_old[:, first] = 0.0
                v, v_next = V[:, rows, s], V[:, rows, s_next]
                psi = stream.rewards[:, t] + gamma * v_next - v
                if trace == "dutch":
                    e_s = e[:, rows, s]
                    e *= lam * gamma
                    e[:, rows, s] += 1.0 - alphas[:, None] * gamma * lam * e_s
                    V += (alphas[:, None] * (psi + v - v_old) * active)[:, :, None] * e
                    V[:, rows, s] -= alphas[:, None] * (v - v_old) * active
                    v_old = v_next
                else:
                    if trace == "accumulating":
                        e[:, rows, s] += 1.0
                    else:
                        e[:, rows, s] = 1.0
                    step = (alphas[:, None] * psi * active)[:, :, None] * e
                    if online:
                        V += step
                    else:
                        pending += step
                        if ended.any():
                            V[:, ended] += pending[:, ended]
                            pending[:, ended] = 0.0
                    e *= lam * gamma
                if ended.any():
                    total[:, ended] += np.sqrt(np.mean((V[:, ended, 1:-1] - v_true[1:-1]) ** 2, axis=-1))
        errors[i] = _inf_if_diverged(total.mean(axis=1) / stream.n_episodes)
    return errors


def td_lambda_sweep_loop(
    runs: Sequence[Sequence[Episode]],
    v_true: np.ndarray,
    alphas: Sequence[float],
    lams: Sequence[float],
    episode_fn=None,
    progress: bool = True,
    **kwargs,
) -> np.ndarray:
    """``td_lambda_sweep`` as a plain loop: one run, one (α, λ), one episode at a time.

    ``episode_fn`` (default: ``td_lambda_episode``) is called as
    ``episode_fn(V, episode, alpha, lam, **kwargs)``; pass your own to compare.
    """
    episode_fn = episode_fn or td_lambda_episode
    errors = np.empty((len(lams), len(alphas)))
    configs = [(i, j) for i in range(len(lams)) for j in range(len(alphas))]
    for i, j in tqdm(configs, desc=f"{getattr(episode_fn, '__name__', 'episode_fn')} sweep (loop)", disable=not progress):
        per_episode = []
        with np.errstate(over="ignore", invalid="ignore"):
            for episodes in runs:
                V = np.zeros(len(v_true))
                for episode in episodes:
                    V = episode_fn(V, episode, alphas[j], lams[i], **kwargs)
                    per_episode.append(rms_error(V, v_true))
        errors[i, j] = _inf_if_diverged(np.mean(per_episode))
    return errors


def _inf_if_diverged(x):
    """Errors of runs whose values overflowed (inf or nan) are reported as inf."""
    return np.where(np.isfinite(x), x, np.inf)


def _check_table(V) -> np.ndarray:
    V = np.asarray(V, dtype=float)
    if V.ndim != 1:
        raise ValueError(f"V must be a 1-D table of state values, got shape {V.shape}")
    return V


def _check_episode(episode, n_states: int) -> None:
    if not isinstance(episode, Episode):
        raise TypeError(f"episode must be an rl_course.tabular.Episode, got {type(episode).__name__}")
    if len(episode) == 0:
        raise ValueError("episode has no steps")
    if episode.states.min() < 0 or episode.states.max() >= n_states:
        raise ValueError(f"episode visits states outside the table V (size {n_states}): {episode.states.min()} … {episode.states.max()}")


def check_step_sizes(alpha, lam, gamma) -> None:
    if not alpha >= 0:
        raise ValueError(f"alpha must be ≥ 0, got {alpha}")
    if not 0 <= lam <= 1:
        raise ValueError(f"lam (λ) must be in [0, 1], got {lam}")
    if not 0 <= gamma <= 1:
        raise ValueError(f"gamma (γ) must be in [0, 1], got {gamma}")


# The textbook's random-walk experiment: 100 runs of 10 episodes, RMS error against α per λ.
FIGURE_LAMS = (0.0, 0.4, 0.8, 0.9, 0.95, 0.975, 0.99, 1.0)
# α every 0.005 up to 0.1, where the curves of λ near 1 live, then every 0.025 up to 1.
FIGURE_ALPHAS = tuple(np.unique(np.round(np.r_[np.linspace(0.0, 0.1, 21), np.linspace(0.1, 1.0, 37)], 3)))
