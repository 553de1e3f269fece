"""Stand-ins that a test puts in place of one of the student's functions for one call
(``checks.call_replacing``), to see how another of the student's functions uses it.

Each takes the student's own function first, then the probe's arguments, then the arguments of the call
it stands in for. They hold no expected value: the test compares what comes out.
"""

from __future__ import annotations

import numpy as np


def add_marker(n_step_estimates, marked_n: int, rewards, values, n, gamma: float = 1.0) -> np.ndarray:
    """Ψ₍N₎ from the student's ``n_step_estimates``, with 1 added to Ψ₍N₎(s_t) where N = ``marked_n`` and t + N < T:
    the forward view then grows by exactly its weight (1 − λ)λ^{N−1} of Ψ₍N₎ at those t."""
    out = np.array(n_step_estimates(rewards, values, n, gamma), dtype=float)
    if n == marked_n:
        out[: len(out) - marked_n] += 1.0
    return out
