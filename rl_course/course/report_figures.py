"""The class report's figures, drawn with matplotlib on its Agg canvas and embedded in the page as base64 PNG
(``data:`` URIs), so that a page opens from disk with no network."""

from __future__ import annotations

import base64
import io


def _figure(width: float, height: float):
    from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    return fig, fig.add_subplot()


def as_data_uri(fig) -> str:
    """The figure as a ``data:image/png;base64,…`` URI."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def score_histogram(scores: list[float], max_score: float, quartiles: tuple[float, float, float]) -> str:
    """Histogram of the scores, one bin per point from 0 to ``max_score``, with the quartiles (Q1, median, Q3)
    drawn as vertical lines."""
    fig, ax = _figure(7, 3)
    bins = [b - 0.5 for b in range(int(max_score) + 2)] if max_score <= 60 else 30
    ax.hist(scores, bins=bins, color="#4c72b0", edgecolor="white")
    for value, style, label in zip(quartiles, (":", "-", ":"), ("Q1", "median", "Q3"), strict=True):
        ax.axvline(value, color="#c44e52", linestyle=style, label=f"{label} {value:g}")
    ax.set_xlabel(f"score (of {max_score:g})")
    ax.set_ylabel("students")
    ax.legend(loc="upper left", fontsize="small")
    return as_data_uri(fig)


def horizontal_bars(labels: list[str], values: list[float], xlabel: str, color: str = "#4c72b0") -> str:
    """A horizontal bar per label, the first at the top (the lists come sorted, largest first)."""
    fig, ax = _figure(7, 0.8 + 0.28 * max(1, len(labels)))
    ax.barh(range(len(labels)), values, color=color)
    ax.set_yticks(range(len(labels)), [label if len(label) <= 60 else label[:57] + "…" for label in labels],
                  fontsize="small")
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    return as_data_uri(fig)
