"""The lecture's live figures: each a panel, built once and updated in place by ``update(**values)``, with a readout
(HTML: a table or numbers) beside it, which ``rl_course.lecture.live`` redraws whenever one of its controls moves.
Figures are made outside pyplot, so they show only where they are displayed."""

from __future__ import annotations

import numpy as np

from rl_course.lecture.data import (
    COEFFICIENT_GAMMA,
    COEFFICIENT_LAM,
    COEFFICIENT_TERMS,
    BiasVarianceSweep,
    clip_curves,
    coefficient_table,
    gae_weights,
    gradient_table,
    lambda_return_weights,
)

FIGSIZE = (9.0, 3.4)
DPI = 90


def new_figure(ncols: int = 2, figsize=FIGSIZE, **kwargs):
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


# The deck's live figures (``rl_course.lecture.live``): each built once, its artists updated in place by ``update``, which
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
        self.figure, (left, right) = new_figure(figsize=(8.4, 3.2))
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
        from rl_course.lecture.live import readout_line

        return readout_line(f"λ = {self.lam:.2f}, γ = {self.gamma:.2f}: weight of Ψ₍₁₎ = {self.forward[0]:.3f}, "
                            f"of Ψ₍∞₎ = {self.forward[-1]:.3f}; γλ = {self.backward[1]:.3f}")


class GaeWeightsPanel:
    """The weight of each Ψ₍₁₎(s_k) in Ψ^GAE(s_0) along a rollout in which step ``episode_end`` ends the episode
    (``gae_weights``, read off ``advantages.gae``)."""

    def __init__(self, horizon: int = 16, episode_end: int | None = 9):
        self.horizon, self.episode_end = int(horizon), episode_end
        self.figure, ax = new_figure(1, figsize=(8.0, 2.9))
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
        from rl_course.lecture.live import readout_line

        end = "" if self.episode_end is None else f"; past step {self.episode_end}: 0"
        return readout_line(f"γλ = {self.gamma * self.lam:.3f}: the weights {', '.join(f'{w:.2f}' for w in self.weights[:4])}, …{end}")


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
        from rl_course.lecture.live import html_table

        return html_table(["", *COEFFICIENT_COLUMNS], self.rows(), caption=f"λ = {self.lam:.2f}, γ = {self.gamma:.2f}")


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
        from rl_course.lecture.live import html_table

        shaded = 0 if self.advantage >= 0 else 1
        return html_table(["", "ρ < 1−ε", "inside", "ρ > 1+ε"], self.rows(), caption=f"∂L^CLIP/∂ρ by autograd, ε = {self.eps:.2f}",
                          highlight=shaded, colour="#e8f4e8" if shaded == 0 else "#f8e4e4")


def _gradient_word(g: float, advantage: float) -> str:
    """'0' where clipping stops the gradient, 'same' where it is the unclipped one (A), else the number."""
    return "0" if g == 0 else ("same" if np.isclose(g, advantage) else f"{g:+.2f}")




class BiasVariancePanel:
    """RMS bias and variance of the targets against N (``by="horizon"``: Ψ₍N₎) or λ (``by="lambda"``: Ψ^λ), measured
    once (``estimator_bias_variance``); a control moves the ring that marks the chosen estimator."""

    def __init__(self, measured: BiasVarianceSweep, by: str = "lambda"):
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
        self.figure, axes = new_figure(figsize=(8.4, 3.2))
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
        from rl_course.lecture.live import readout_line

        if self.chosen is None:
            return ""
        name = "N" if self.by == "horizon" else "λ"
        bias, variance = (y[self.chosen] for y in self.curves)
        return readout_line(f"{name} = {self.labels[self.chosen]}: RMS bias {bias:.3f}, variance {variance:.3f}")
