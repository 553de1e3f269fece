"""The deck's other pieces: its still figures (the clipped critic loss, the random-walk experiment), the
eligibility-trace animation and its offline player, showing a figure, the horizon slider, and the ablation figure cut
into rows for two slides."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rl_course import tabular
from rl_course.lecture.data import HORIZONS, RandomWalkTable, trace_history
from rl_course.lecture.panels import DPI, new_figure, render


def plot_critic_loss(eps_hat: float = 0.2, target: float = 1.0, old_value: float = 0.3):
    """The clipped critic loss of one state against the new prediction V, from ``ppo.losses.clipped_value_loss``."""
    import torch

    from rl_course.ppo.losses import clipped_value_loss

    v = np.linspace(min(old_value, target) - 1.0, max(old_value, target) + 1.0, 161)
    def as_tensor(x):
        return torch.tensor([float(x)], dtype=torch.float64)

    plain = [float(clipped_value_loss(as_tensor(x), as_tensor(old_value), as_tensor(target), None)) for x in v]
    clipped = [float(clipped_value_loss(as_tensor(x), as_tensor(old_value), as_tensor(target), eps_hat)) for x in v]
    fig, ax = new_figure(1, figsize=(8.0, 3.6))
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


def show(figure) -> None:
    """Display a figure of this module (not one of pyplot's) in a notebook, as a PNG."""
    from IPython.display import Image, display

    display(Image(data=render(figure), format="png"))


def horizon_slider(horizons: Sequence = HORIZONS, value=4):
    """A slider over the N-step horizons N (∞: Monte-Carlo)."""
    from rl_course.lecture.live import selection_slider

    return selection_slider("N", [("∞" if n == np.inf else str(int(n)), n) for n in horizons], value)


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

    path = Path(__file__).resolve().parents[2] / "docs" / "figures" / "pendulum_ablations.png"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: python benchmarks/ablations.py draws it")
    return path
