"""The lecture deck's pictures: what each slide computes, and the figure it draws, for given parameters.

Every quantity comes from the library's tested estimators (``advantages``, ``tabular``, ``ppo.losses``);
this module only arranges them. Data functions return arrays; each slider-driven figure is a panel, built once and
updated in place by ``update(**values)`` with a readout (HTML: a table or numbers) beside it, which
``rl_course.live`` redraws whenever one of its ipywidgets controls moves; ``plot_*`` return a panel's Figure
(outside pyplot, so it shows only where it is displayed).

    lambda_return_weights   forward view: the weight of Ψ₍N₎ in Ψ^λ, (1 − λ) λ^{N−1}, the rest on Ψ₍∞₎
    gae_weights             backward view: the weight of Ψ₍₁₎(s_{t+k}) in Ψ^GAE(s_t), (γλ)^k, zeroed past an episode end
    coefficient_table       the coefficient of r(t) and V(s(t)) in Ψ^λ(s(0)), both views and the lecture's closed forms
    clip_curves             L^CLIP of one transition against ρ and its gradient ∂L^CLIP/∂ρ
    gradient_table          that gradient for A > 0 and A < 0, below, inside and above [1 − ε, 1 + ε]
    trace_history           the eligibility trace e(s) of every state at every step of an episode
    random_walk_table       the textbook's random-walk experiment: RMS error per (λ, α), the best α per λ
    estimator_bias_variance bias and variance of Ψ₍N₎ and Ψ^λ targets on the small MDP
    ClipPanel, BiasVariancePanel, LambdaWeightsPanel, CoefficientPanel, GaeWeightsPanel   the deck's live figures
"""

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
class BiasVariance:
    """Bias and variance of critic targets y = Ψ + V, measured per N-step horizon and per λ (``estimator_bias_variance``)."""

    horizons: tuple
    lams: tuple
    bias_by_horizon: np.ndarray
    variance_by_horizon: np.ndarray
    bias_by_lambda: np.ndarray
    variance_by_lambda: np.ndarray
    n_episodes: int = 0


def estimator_bias_variance(n_episodes: int = 1000, seed: int = 0, gamma: float = SMALL_MDP_GAMMA,
                            horizons: Sequence = HORIZONS, lams: Sequence[float] = BIAS_VARIANCE_LAMS) -> BiasVariance:
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
    return BiasVariance(tuple(horizons), tuple(lams), *by_horizon.T, *by_lambda.T, n_episodes=n_episodes)


# ---------------------------------------------------------------- figures

FIGSIZE = (9.0, 3.4)
DPI = 90


def _figure(ncols: int = 2, figsize=FIGSIZE, **kwargs):
    """A Figure outside pyplot with fixed margins (a constrained layout would cost every redraw extra passes)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=DPI)
    axes = fig.subplots(1, ncols, **kwargs)
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.16, top=0.85, wspace=0.22)
    return fig, axes


def render(figure) -> bytes:
    """The figure as PNG bytes, drawn once in full."""
    import io

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", facecolor="white")
    return buffer.getvalue()


# The deck's live figures (``rl_course.live``): each built once, its artists updated in place by ``update``, which
# returns the key of the layout it leaves (the rest of the figure, drawn once per key). Changing numbers go to the
# readout (HTML beside the figure), not into the figure's text, which is what costs most to redraw.


def _heights(bars, heights) -> None:
    for bar, height in zip(bars, heights, strict=True):
        bar.set_height(height)


class LambdaWeightsPanel:
    """Two views of the same weights: (left) of Ψ₍N₎ in Ψ^λ, (1 − λ)λ^{N−1} and λ^{H−1} on Ψ₍∞₎
    (``lambda_return_weights``); (right) of Ψ₍₁₎(s_{t+k}), (γλ)^k (``gae_weights``)."""

    def __init__(self, horizon: int = 12):
        self.horizon = int(horizon)
        self.figure, (left, right) = _figure(figsize=(8.4, 3.2))
        self.left = left.bar(range(horizon), np.zeros(horizon), color=["tab:blue"] * (horizon - 1) + ["tab:orange"])
        left.set_xticks(range(horizon), [str(n) for n in range(1, horizon)] + ["∞"])
        left.set_xlabel("N")
        left.set_title(r"forward view: weight of $\Psi_{(N)}$ in $\Psi^\lambda$")
        self.right = right.bar(range(horizon), np.zeros(horizon), color="tab:green")
        right.set_xlabel("k")
        right.set_title(r"backward view: $(\gamma\lambda)^k$ on $\Psi_{(1)}(s_{t+k})$")
        for ax in (left, right):
            ax.set_ylim(0, 1.05)
            ax.grid(alpha=0.3, axis="y")
        self.dynamic = [*self.left, *self.right]

    def update(self, lam: float, gamma: float):
        self.lam, self.gamma = lam, gamma
        self.forward = lambda_return_weights(lam, self.horizon)
        self.backward = gae_weights(lam, gamma, self.horizon)
        _heights(self.left, self.forward)
        _heights(self.right, self.backward)
        return None

    def readout(self) -> str:
        from rl_course.live import readout_line

        return readout_line(f"λ = {self.lam:.2f}, γ = {self.gamma:.2f}: weight of Ψ₍₁₎ = {self.forward[0]:.3f}, "
                            f"of Ψ₍∞₎ = {self.forward[-1]:.3f}; γλ = {self.backward[1]:.3f}")


def plot_lambda_weights(lam: float, gamma: float, horizon: int = 12):
    """``LambdaWeightsPanel`` for λ and γ, as a Figure."""
    panel = LambdaWeightsPanel(horizon)
    panel.update(lam, gamma)
    return panel.figure


class GaeWeightsPanel:
    """The weight of each Ψ₍₁₎(s_k) in Ψ^GAE(s_0) along a rollout in which step ``episode_end`` ends the episode
    (``gae_weights``, read off ``advantages.gae``)."""

    def __init__(self, horizon: int = 16, episode_end: int | None = 9):
        self.horizon, self.episode_end = int(horizon), episode_end
        self.figure, ax = _figure(1, figsize=(8.0, 2.9))
        self.bars = ax.bar(range(horizon), np.zeros(horizon), color="tab:green")
        if episode_end is not None:
            ax.axvline(episode_end + 0.5, color="tab:red", ls="--", lw=1.5, label="done: the trace is zeroed")
            ax.legend(loc="upper right")
        ax.set_xlabel("k (step of the rollout)")
        ax.set_ylabel(r"weight in $\Psi^{GAE}(s_0)$")
        ax.set_title(r"$\Psi^{GAE}(s_0) = \sum_k\, (\gamma\lambda)^k\, \Psi_{(1)}(s_k)$")
        ax.set_ylim(0, 1.05)
        ax.grid(alpha=0.3, axis="y")
        self.dynamic = list(self.bars)

    def update(self, lam: float, gamma: float):
        self.lam, self.gamma = lam, gamma
        self.weights = gae_weights(lam, gamma, self.horizon, self.episode_end)
        _heights(self.bars, self.weights)
        return None

    def readout(self) -> str:
        from rl_course.live import readout_line

        end = "" if self.episode_end is None else f"; past step {self.episode_end}: 0"
        return readout_line(f"γλ = {self.gamma * self.lam:.3f}: the weights {', '.join(f'{w:.2f}' for w in self.weights[:4])}, …{end}")


def plot_gae_weights(lam: float, gamma: float, horizon: int = 16, episode_end: int | None = 9):
    """``GaeWeightsPanel`` for λ and γ, as a Figure."""
    panel = GaeWeightsPanel(horizon, episode_end)
    panel.update(lam, gamma)
    return panel.figure


COEFFICIENT_COLUMNS = ("backward view", "forward view", "lecture, backward", "lecture, forward")  # the closed forms: the slide's text


class CoefficientPanel:
    """The forward/backward coefficient table (``coefficient_table``) as the readout, beside a bar chart of it:
    bars from the backward view, dots from the forward view."""

    def __init__(self, n_terms: int = COEFFICIENT_TERMS):
        from matplotlib.figure import Figure

        self.n_terms = int(n_terms)
        self.figure = Figure(figsize=(4.0, 3.4), dpi=DPI)
        ax = self.figure.subplots()
        self.figure.subplots_adjust(left=0.16, right=0.97, bottom=0.15, top=0.9)
        ax.tick_params(labelsize=11)  # the figure is shown beside the table, scaled down: text a size up
        t = np.arange(self.n_terms)
        self.r_bars = ax.bar(t - 0.2, np.zeros(self.n_terms), width=0.4, label="r(t)")
        self.v_bars = ax.bar(t + 0.2, np.zeros(self.n_terms), width=0.4, label="V(s(t))")
        (self.r_dots,) = ax.plot(t - 0.2, np.zeros(self.n_terms), "k.", ms=8)
        (self.v_dots,) = ax.plot(t + 0.2, np.zeros(self.n_terms), "k.", ms=8, label="forward view")
        ax.axhline(0, color="black", lw=0.8)
        ax.set_xticks(t)
        ax.set_xlabel("t", fontsize=12)
        ax.set_title(r"coefficient in $\Psi^\lambda(s^{(0)})$", fontsize=13)
        ax.set_ylim(-1.05, 1.05)
        ax.legend(fontsize=11, loc="lower right")
        ax.grid(alpha=0.3, axis="y")
        self.dynamic = [*self.r_bars, *self.v_bars, self.r_dots, self.v_dots]

    def update(self, lam: float = COEFFICIENT_LAM, gamma: float = COEFFICIENT_GAMMA):
        self.lam, self.gamma = lam, gamma
        self.table = coefficient_table(lam, gamma, self.n_terms)
        _heights(self.r_bars, self.table["backward"][0])
        _heights(self.v_bars, self.table["backward"][1])
        self.r_dots.set_ydata(self.table["forward"][0])
        self.v_dots.set_ydata(self.table["forward"][1])
        return None

    def rows(self) -> list[list[str]]:
        """The table as shown: a row per term, r(0) … r(n−1), V(s), V(s(1)) …, a column per view and closed form."""
        names = [f"r({t})" for t in range(self.n_terms)] + ["V(s)"] + [f"V(s({t}))" for t in range(1, self.n_terms)]
        keys = ("backward", "forward", "lecture_backward", "lecture_forward")
        values = [[f"{self.table[key][row, t]:+.4f}" for key in keys] for row in (0, 1) for t in range(self.n_terms)]
        return [[name, *cells] for name, cells in zip(names, values, strict=True)]

    def readout(self) -> str:
        from rl_course.live import html_table

        return html_table(["", *COEFFICIENT_COLUMNS], self.rows(), caption=f"λ = {self.lam:.2f}, γ = {self.gamma:.2f}")


def plot_coefficient_table(lam: float = COEFFICIENT_LAM, gamma: float = COEFFICIENT_GAMMA, n_terms: int = COEFFICIENT_TERMS):
    """``CoefficientPanel``'s bar chart for λ and γ, as a Figure (its table: ``CoefficientPanel.rows``)."""
    panel = CoefficientPanel(n_terms)
    panel.update(lam, gamma)
    return panel.figure


class ClipPanel:
    """L^CLIP against ρ and its gradient for one transition with advantage A (``clip_curves``), and the lecture's
    gradient table (``gradient_table``) as the readout, the row of A's sign shaded."""

    RHOS = np.linspace(0.2, 2.0, 181)
    layouts = ({"advantage": 1.0}, {"advantage": -1.0})

    def __init__(self):
        from matplotlib.figure import Figure

        rhos = self.RHOS
        self.figure = Figure(figsize=(6.6, 3.3), dpi=DPI)
        self.objective, self.slope = self.figure.subplots(1, 2)
        self.figure.subplots_adjust(left=0.08, right=0.98, bottom=0.17, top=0.9, wspace=0.28)
        self.spans = [ax.axvspan(0.8, 1.2, color="grey", alpha=0.15, zorder=0) for ax in (self.objective, self.slope)]
        (self.unclipped,) = self.objective.plot(rhos, rhos, color="grey", ls="--", lw=1, label=r"$\rho A$ (unclipped)")
        (self.curve,) = self.objective.plot(rhos, rhos, lw=2, label=r"$\min(\rho A,\ \mathrm{clip}(\rho)A)$")
        (self.gradient,) = self.slope.plot(rhos, np.zeros_like(rhos), lw=2)
        self.slope.set_title(r"$\partial L^{CLIP} / \partial\rho$ by autograd")
        self.legend = self.objective.legend(fontsize="small")
        for ax in (self.objective, self.slope):
            ax.set_xlim(rhos[0], rhos[-1])
            ax.set_xlabel(r"$\rho = \pi_\theta(a|s)\ /\ \pi^{old}(a|s)$")
            ax.grid(alpha=0.3)
        self.dynamic = [*self.spans, self.curve, self.gradient]
        self.advantage = None

    def update(self, eps: float = 0.2, advantage: float = 1.0):
        values, gradient = clip_curves(eps, advantage, self.RHOS)
        self.eps, self.grads = eps, gradient_table(eps)
        color = "tab:green" if advantage >= 0 else "tab:red"
        self.curve.set_ydata(values)
        self.gradient.set_ydata(gradient)
        for line in (self.curve, self.gradient):
            line.set_color(color)
        for span in self.spans:
            span.set_x(1 - eps)
            span.set_width(2 * eps)
        if advantage != self.advantage:  # the layout: what the sign and size of A change
            self.advantage = advantage
            self.unclipped.set_ydata(self.RHOS * advantage)
            low, high = sorted((self.RHOS[0] * advantage, self.RHOS[-1] * advantage))
            margin = 0.08 * (high - low) + 1e-9
            self.objective.set_ylim(min(low, 0) - margin, max(high, 0) + margin)
            self.slope.set_ylim(-1.3 * abs(advantage) - 0.05, 1.3 * abs(advantage) + 0.05)
            self.objective.set_title(rf"$L^{{CLIP}}$ of one transition, $A = {advantage:+g}$")
            self.legend.set_loc("upper left" if advantage >= 0 else "lower left")
            self.legend.get_lines()[1].set_color(color)  # the legend is drawn with the layout
        return float(advantage)

    def rows(self) -> list[list[str]]:
        """The gradient table: ∂L^CLIP/∂ρ below, inside and above [1 − ε, 1 + ε], for A = +1 and A = −1."""
        return [[label] + [_gradient_word(g, a) for g in row]
                for label, row, a in zip(("A ≥ 0: π(a|s) ↑", "A < 0: π(a|s) ↓"), self.grads, (1.0, -1.0), strict=True)]

    def readout(self) -> str:
        from rl_course.live import html_table

        shaded = 0 if self.advantage >= 0 else 1
        return html_table(["", "ρ < 1−ε", "inside", "ρ > 1+ε"], self.rows(), caption=f"∂L^CLIP/∂ρ by autograd, ε = {self.eps:.2f}",
                          highlight=shaded, colour="#e8f4e8" if shaded == 0 else "#f8e4e4")


def plot_clip(eps: float = 0.2, advantage: float = 1.0):
    """``ClipPanel`` for ε and A, as a Figure (its gradient table: ``ClipPanel.rows``)."""
    panel = ClipPanel()
    panel.update(eps, advantage)
    return panel.figure


def _gradient_word(g: float, advantage: float) -> str:
    """'0' where clipping stops the gradient, 'same' where it is the unclipped one (A), else the number."""
    return "0" if g == 0 else ("same" if np.isclose(g, advantage) else f"{g:+.2f}")


def plot_critic_loss(eps_hat: float = 0.2, target: float = 1.0, old_value: float = 0.3):
    """The clipped critic loss of one state against the new prediction V, from ``ppo.losses.clipped_value_loss``."""
    import torch

    from rl_course.ppo.losses import clipped_value_loss

    v = np.linspace(min(old_value, target) - 1.0, max(old_value, target) + 1.0, 161)
    def as_tensor(x):
        return torch.tensor([float(x)], dtype=torch.float64)

    plain = [float(clipped_value_loss(as_tensor(x), as_tensor(old_value), as_tensor(target), None)) for x in v]
    clipped = [float(clipped_value_loss(as_tensor(x), as_tensor(old_value), as_tensor(target), eps_hat)) for x in v]
    fig, ax = _figure(1, figsize=(8.0, 3.6))
    fig.subplots_adjust(bottom=0.3)
    ax.plot(v, plain, color="grey", ls="--", label=r"$(y - V)^2$")
    ax.plot(v, clipped, color="tab:purple", lw=2,
            label=r"$\max\left((y - V)^2,\ (y - V^{old} - \mathrm{clip}(V - V^{old}, \pm\hat\varepsilon))^2\right)$")
    ax.axvspan(old_value - eps_hat, old_value + eps_hat, color="grey", alpha=0.12)
    ax.axvline(old_value, color="black", lw=0.8)
    ax.axvline(target, color="tab:green", lw=0.8)
    ax.text(old_value, ax.get_ylim()[1] * 0.9, r" $V^{old}$", va="top")
    ax.text(target, ax.get_ylim()[1] * 0.9, r" $y$", va="top", color="tab:green")
    ax.set_xlabel(r"new prediction $V_\phi(s)$")
    side, sign = ("above", "+") if target > old_value else ("below", "-")  # the side of V_old toward y: flat there
    ax.set_title(rf"clipped critic loss, $\hat\varepsilon = {eps_hat:g}$: flat {side} $V^{{old}} {sign} \hat\varepsilon$,"
                 r" on the side toward $y$")
    # below the axes, so that it covers neither the curves nor the labels of V_old and y
    ax.legend(fontsize="small", loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=2, frameon=False)
    ax.grid(alpha=0.3)
    return fig


class BiasVariancePanel:
    """RMS bias and variance of the targets against N (``by="horizon"``: Ψ₍N₎) or λ (``by="lambda"``: Ψ^λ), measured
    once (``estimator_bias_variance``); a control moves the ring that marks the chosen estimator."""

    def __init__(self, measured: BiasVariance, by: str = "lambda"):
        if by not in ("horizon", "lambda"):
            raise ValueError(f"by must be 'horizon' or 'lambda', got {by!r}")
        self.measured, self.by = measured, by
        if by == "horizon":
            self.labels = ["∞" if h == np.inf else str(int(h)) for h in measured.horizons]
            self.x = np.arange(len(self.labels), dtype=float)
            self.curves = (measured.bias_by_horizon, measured.variance_by_horizon)
        else:
            self.labels = [f"{lam:.2f}" for lam in measured.lams]
            self.x = np.asarray(measured.lams, dtype=float)
            self.curves = (measured.bias_by_lambda, measured.variance_by_lambda)
        self.figure, axes = _figure(figsize=(8.4, 3.2))
        self.rings = []
        titles, colors = (r"RMS bias of $y = \Psi + V$", r"variance of $y$"), ("tab:blue", "tab:orange")
        for ax, y, title, color in zip(axes, self.curves, titles, colors, strict=True):
            ax.plot(self.x, y, marker="o", ms=4, color=color)
            (ring,) = ax.plot(self.x[:1], y[:1], "o", ms=12, mfc="none", mec="black", mew=2)
            ring.set_visible(False)
            self.rings.append(ring)
            if by == "horizon":
                ax.set_xticks(self.x, self.labels)
            ax.set_xlabel("N" if by == "horizon" else "λ")
            ax.set_title(title)
            ax.set_ylim(0, max(y) * 1.25)
            ax.grid(alpha=0.3)
        self.figure.suptitle(rf"small MDP, random policy, poor critic $V = 0.5\,V^\pi + 1$, {measured.n_episodes} episodes",
                             fontsize="medium")
        self.figure.subplots_adjust(top=0.8)
        self.dynamic = list(self.rings)
        self.chosen = None

    def update(self, **value):
        """``n=`` (a horizon of the measurement) or ``lam=`` (the nearest λ measured); None hides the ring."""
        (chosen,) = value.values() if len(value) == 1 else (None,)
        if chosen is None:
            self.chosen = None
        elif self.by == "horizon":
            self.chosen = list(self.measured.horizons).index(chosen)
        else:
            self.chosen = int(np.argmin(np.abs(self.x - chosen)))
        for ring, y in zip(self.rings, self.curves, strict=True):
            ring.set_visible(self.chosen is not None)
            if self.chosen is not None:
                ring.set_data([self.x[self.chosen]], [y[self.chosen]])
        return None

    def readout(self) -> str:
        from rl_course.live import readout_line

        if self.chosen is None:
            return ""
        name = "N" if self.by == "horizon" else "λ"
        bias, variance = (y[self.chosen] for y in self.curves)
        return readout_line(f"{name} = {self.labels[self.chosen]}: RMS bias {bias:.3f}, variance {variance:.3f}")


def plot_bias_variance_by_horizon(measured: BiasVariance, n=None):
    """RMS bias and variance of Ψ₍N₎ targets against N, the chosen N ringed."""
    panel = BiasVariancePanel(measured, "horizon")
    panel.update(n=n)
    return panel.figure


def plot_bias_variance_by_lambda(measured: BiasVariance, lam=None):
    """RMS bias and variance of Ψ^λ targets against λ, the chosen λ ringed."""
    panel = BiasVariancePanel(measured, "lambda")
    panel.update(lam=lam)
    return panel.figure


def plot_random_walk(table: RandomWalkTable):
    """Assignment 01's figure (RMS error against α, one curve per λ) beside its table of the best α per λ."""
    from matplotlib.figure import Figure

    from rl_course import plotting

    fig = Figure(figsize=(10.5, 3.8), dpi=DPI)
    curves, table_ax = fig.subplots(1, 2, width_ratios=[1.7, 1])
    fig.subplots_adjust(left=0.07, right=0.99, bottom=0.14, top=0.9, wspace=0.05)
    plotting.plot_alpha_sweep(table.alphas, table.errors, table.lams, ax=curves, title="TD(λ), accumulating traces", legend=False)
    curves.legend(fontsize="x-small", ncols=2, loc="lower right")
    table_ax.axis("off")
    cells = [[f"{lam:g}", f"{alpha:.3f}", f"{error:.4f}"]
             for lam, alpha, error in zip(table.lams, table.best_alphas, table.best_errors, strict=True)]
    shown = table_ax.table(cellText=cells, colLabels=["λ", "best α", "RMS error"], loc="center", cellLoc="center")
    shown.auto_set_font_size(False)
    shown.set_fontsize(9)
    best = int(np.argmin(table.best_errors)) + 1
    for col in range(3):
        shown[best, col].set_facecolor("#e8f4e8")
    return fig


def trace_animation(episode: tabular.Episode, lam: float = 0.8, gamma: float = 1.0, trace: str = "accumulating",
                    n_states: int = 21, interval: int = 250):
    """The eligibility trace of every state of the random walk as ``episode`` unfolds, one frame per step
    (``trace_history``); a matplotlib FuncAnimation (``.to_jshtml()`` plays it in a notebook or an HTML page)."""
    from matplotlib.animation import FuncAnimation
    from matplotlib.figure import Figure

    history = trace_history(episode, lam, gamma, trace, n_states)
    fig = Figure(figsize=(8.0, 2.8), dpi=100)  # shown at its pixel size, 800 × 280: its text as large as the slide's small print
    ax = fig.subplots()
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.2, top=0.87)
    bars = ax.bar(range(n_states), history[0], color="tab:blue")
    (walker,) = ax.plot([episode.states[0]], [-0.15], "v", color="tab:red", ms=12, clip_on=False)
    ax.set_xlim(-0.5, n_states - 0.5)
    ax.set_ylim(-0.25, max(1.05, history.max() * 1.05))
    ax.set_xticks(range(n_states), ["T"] + [str(s) for s in range(1, n_states - 1)] + ["T"])
    ax.set_xlabel("state s")
    ax.set_ylabel("e(s)")
    ax.grid(alpha=0.3, axis="y")

    def draw(k):
        for bar, height in zip(bars, history[k], strict=True):
            bar.set_height(height)
        walker.set_data([episode.states[k]], [-0.15])
        ax.set_title(f"{trace} traces, λ = {lam:g}, γ = {gamma:g}: step {k + 1} of {len(episode)}, in s = {episode.states[k]}")
        return (*bars, walker)

    return FuncAnimation(fig, draw, frames=len(episode), interval=interval, blit=False)


PLAYER_SYMBOLS = {"fa-minus": "−", "fa-plus": "+", "fa-fast-backward": "«", "fa-step-backward": "◁", "fa-pause": "‖",
                  "fa-play": "▶", "fa-step-forward": "▷", "fa-fast-forward": "»"}  # in every common font


def animation_html(animation, default_mode: str = "once") -> str:
    """``animation.to_jshtml()`` that needs no network: the player's Font Awesome stylesheet (a CDN link) is
    dropped and its icons become plain symbols (a reversed ▶ plays backwards)."""
    import re

    html = animation.to_jshtml(default_mode=default_mode)
    html = re.sub(r"<link[^>]*font-awesome[^>]*>", "", html)

    def symbol(match) -> str:
        classes = match.group(1).split()
        text = next((PLAYER_SYMBOLS[c] for c in classes if c in PLAYER_SYMBOLS), "·")
        if "fa-flip-horizontal" in classes:
            text = "◀"
        return f'<span style="font-size: 16px; font-family: sans-serif">{text}</span>'

    return re.sub(r'<i class="fa ([^"]*)"></i>', symbol, html)


# ---------------------------------------------------------------- showing, and the deck's other pieces


def show(figure) -> None:
    """Display a figure of this module (not one of pyplot's) in a notebook, as a PNG."""
    from IPython.display import Image, display

    display(Image(data=render(figure), format="png"))


def horizon_slider(horizons: Sequence = HORIZONS, value=4):
    """A slider over the N-step horizons N (∞: Monte-Carlo)."""
    from rl_course.live import selection_slider

    return selection_slider("N", [("∞" if n == np.inf else str(int(n)), n) for n in horizons], value)


def random_walk_env(n_states: int = 19):
    """The random walk of the lectures, ``rl_course/RandomWalk-v0``."""
    import gymnasium as gym

    return gym.make(envs.RANDOM_WALK_ID, n_states=n_states)


def ablation_rows(first: int, last: int) -> bytes:
    """Rows ``first`` to ``last`` (from 0) of the ablation figure's grid of panels as PNG bytes, between the figure's
    title and its x axis: the grid of twelve panels in two parts, each large enough to read on a slide.

    The rows are found as the bands of the image between white gaps (a band of panels is taller than 100 pixels);
    the strip under the last row (its tick labels and the axis label) is put under the part."""
    import io

    from matplotlib.image import imread, imsave

    image = imread(ablation_figure())
    white = (image[..., :3].min(axis=2) > 0.98).all(axis=1)
    starts = np.flatnonzero(~white[1:] & white[:-1]) + 1  # where a band begins after a white gap
    ends = np.flatnonzero(white[1:] & ~white[:-1]) + 1
    if not white[0]:
        starts = np.r_[0, starts]
    bands = [(a, b) for a, b in zip(starts, ends, strict=False) if b - a > 100]
    if not 0 <= first <= last < len(bands):
        raise ValueError(f"first, last: rows {first} to {last} asked, the figure has {len(bands)} rows of panels")
    gap = 6
    title = image[:max(0, bands[0][0] - gap)]
    rows = image[max(0, bands[first][0] - gap):bands[last][1] + gap]
    axis = image[bands[-1][1] + gap:]
    out = io.BytesIO()
    imsave(out, np.concatenate([title, rows, axis]), format="png")
    return out.getvalue()


def ablation_figure():
    """The Pendulum-v1 ablation figure that ``benchmarks/ablations.py`` draws (docs/figures/pendulum_ablations.png)."""
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "docs" / "figures" / "pendulum_ablations.png"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: python benchmarks/ablations.py draws it")
    return path
