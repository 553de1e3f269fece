"""Figures the notebooks and demos share."""

from __future__ import annotations

from typing import Sequence

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
    for lam, row, color in zip(lams, errors, colors):
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
