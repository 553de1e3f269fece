"""Figures the notebooks and demos share."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def plot_alpha_sweep(
    alphas: Sequence[float],
    errors: np.ndarray,
    lams: Sequence[float],
    ax=None,
    title: str = "TD(λ) on the 19-state random walk",
    ylim: tuple[float, float] = (0.2, 0.6),
    legend: bool = True,
):
    """RMS error against step size α, one curve per λ (the textbook's random-walk figure).

    ``errors`` is shaped (len(lams), len(alphas)); diverged points (inf) and points above
    the plot are left out so each curve ends where that λ stops being usable.
    """
    import matplotlib.pyplot as plt

    errors = np.asarray(errors, dtype=float)
    if errors.shape != (len(lams), len(alphas)):
        raise ValueError(f"errors must be shaped (len(lams), len(alphas)) = {(len(lams), len(alphas))}, got {errors.shape}")
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.5))
    colors = plt.cm.viridis(np.linspace(0, 0.9, len(lams)))
    for lam, row, color in zip(lams, errors, colors, strict=True):
        shown = np.where(row <= ylim[1], row, np.nan)
        ax.plot(alphas, shown, color=color, lw=1.8, label=f"λ = {lam:g}")
    ax.set_xlabel("step size α")
    ax.set_ylabel("RMS error, first 10 episodes")
    ax.set_ylim(*ylim)
    ax.set_title(title)
    if legend:
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.grid(alpha=0.3)
    return ax


def plot_training(history: list[dict], episodes: list[tuple[int, float]], title: str = "PPO", threshold: float | None = None):
    """Four panels against environment steps: episode returns (and their running mean), the losses,
    approximate KL with the clip fraction, explained variance with the entropy."""
    import matplotlib.pyplot as plt

    steps = [row["step"] for row in history]
    fig, axes = plt.subplots(2, 2, figsize=(12, 7), sharex=True)
    ax = axes[0, 0]
    if episodes:
        ax.scatter(*zip(*episodes, strict=True), s=4, alpha=0.3, color="tab:blue", label="episode return")
    ax.plot(steps, [row["mean_return"] for row in history], color="tab:blue", label="mean of the last 20")
    if threshold is not None:
        ax.axhline(threshold, color="grey", ls="--", lw=1, label=f"solved ({threshold:g})")
    ax.set_title(f"{title}: returns")
    ax.legend(fontsize="small")
    panels = [
        (axes[0, 1], "losses", [("policy_loss", "policy loss −L^CLIP"), ("value_loss", "critic loss")]),
        (axes[1, 0], "update size", [("approx_kl", "approx. KL(π_old‖π)"), ("clip_fraction", "clip fraction")]),
        (axes[1, 1], "critic and policy", [("explained_variance", "explained variance"), ("entropy", "entropy")]),
    ]
    for ax, name, series in panels:
        for key, label in series:
            ax.plot(steps, [row[key] for row in history], label=label)
        ax.set_title(name)
        ax.legend(fontsize="small")
    axes[0, 1].set_yscale("symlog", linthresh=1e-2)
    # explained variance can start far below 0: the panel starts at −1, or lower where the entropy goes (a Gaussian's
    # differential entropy turns negative as σ shrinks)
    axes[1, 1].set_ylim(float(np.nanmin([-1.0, *(row["entropy"] for row in history)])) - 0.1, None)
    for ax in axes.ravel():
        ax.grid(alpha=0.3)
    for ax in axes[1]:
        ax.set_xlabel("environment steps")
    fig.tight_layout()
    return fig


class LiveCurve:
    """A learning curve that redraws in place in a notebook while training runs.

        live = LiveCurve("PPO on CartPole-v1", threshold=475)
        train(..., on_iteration=live.update)   # called with each iteration's row of diagnostics
        live.close()
    """

    def __init__(self, title: str = "", threshold: float | None = None, every: int = 10, key: str = "mean_return"):
        import matplotlib.pyplot as plt

        self.every, self.key, self.threshold = every, key, threshold
        self.steps, self.values = [], []
        self.fig, self.ax = plt.subplots(figsize=(7, 3.5))
        self.ax.set_title(title)
        self.ax.set_xlabel("environment steps")
        self.ax.set_ylabel("mean return (last 20 episodes)")
        self.ax.grid(alpha=0.3)
        (self.line,) = self.ax.plot([], [])
        if threshold is not None:
            self.ax.axhline(threshold, color="grey", ls="--", lw=1)
        plt.close(self.fig)  # shown through the display handle only
        self.handle = None

    def update(self, row: dict, *_) -> None:
        self.steps.append(row["step"])
        self.values.append(row[self.key])
        if len(self.steps) % self.every == 1 or self.every == 1:
            self._draw()

    def close(self) -> None:
        self._draw()

    def _draw(self) -> None:
        from IPython.display import display

        self.line.set_data(self.steps, self.values)
        self.ax.relim()
        self.ax.autoscale_view()
        if self.handle is None:
            self.handle = display(self.fig, display_id=True)
        else:
            self.handle.update(self.fig)
