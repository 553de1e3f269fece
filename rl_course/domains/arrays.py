"""The domains of the graded functions of 01–03, on numpy arrays and lists: tabular values, episodes of a chain,
rollouts of several environments."""

from __future__ import annotations

import numpy as np

from rl_course.domains.case import FORMS, Case, given_as, tolerance_for, unit_number
from rl_course.episodes import Episode

# ---------------------------------------------------------------- 01 and 02: tabular values, episodes of a chain


def td_error_cases(seed: int = 0, n: int = 30) -> list[Case]:
    """``td_error(V, s, r, s_next, terminated, gamma)``: V a 1-D array or list of numbers (ints or floats), s and s_next
    indices (Python or numpy ints), r a number, terminated a bool or numpy bool, γ ∈ [0, 1]; V(s′) of a terminal s′
    holds junk (it is never read)."""
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n):
        size, form = int(rng.integers(2, 9)), FORMS[i % len(FORMS)]
        V = rng.normal(scale=3, size=size)
        s, s_next = (int(x) for x in rng.integers(size, size=2))
        terminated = bool(rng.integers(2))
        if terminated:
            V[s_next] = 1e3 * rng.normal() if s_next != s else V[s_next]
        r = float(rng.normal(scale=2)) if i % 2 else int(rng.integers(-3, 4))
        gamma = unit_number(rng)
        index = (lambda x: np.int64(x)) if i % 3 == 0 else int
        flag = np.bool_(terminated) if i % 4 == 1 else terminated
        cases.append(Case((given_as(V, form), index(s), r, index(s_next), flag), {"gamma": gamma},
                          f"V as {form} of {size} states, s = {s} → s′ = {s_next}, terminated = {terminated}"
                          f"{' (a numpy bool)' if i % 4 == 1 else ''}, γ = {gamma:g}",
                          tolerance_for(form)))
    return cases


def chain_episode(rng, n_states: int, T: int, terminal: str = "ends") -> Episode:
    """An episode on ``n_states`` states: T steps between non-terminal states (revisits likely), then into a terminal
    state s_T. ``terminal``: "ends": both ends of the table are terminal, as in the random walk, and s_T is one of them;
    "anywhere": s_T may be any state, and no other is terminal."""
    if terminal == "ends":
        terminal, others = int(rng.choice([0, n_states - 1])), list(range(1, n_states - 1))
    else:
        terminal = int(rng.integers(n_states))
        others = [s for s in range(n_states) if s != terminal]
    states = [int(rng.choice(others)) for _ in range(T)] + [terminal]
    return Episode(states=states, rewards=np.round(rng.normal(scale=1.5, size=T), 2))


def episode_cases(seed: int = 0, n: int = 24, terminal: str = "ends", options: dict | None = None) -> list[Case]:
    """``fn(V, episode, alpha, lam, gamma=…, **options)`` of one tabular episode: V a 1-D array or list of numbers (ints
    or floats), 0 at the episode's terminal state s_T (``chain_episode``'s ``terminal``); episodes of T = 1 … 12 steps
    with revisits; α ∈ (0, 1], λ, γ ∈ [0, 1]. ``options``: keyword → the values it takes in turn (``trace``, ``online``)."""
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n):
        size, T, form = int(rng.integers(3, 8)), int(rng.integers(1, 13)), FORMS[i % len(FORMS)]
        episode = chain_episode(rng, size, T, terminal)
        V = rng.uniform(-2, 2, size)
        V[episode.states[-1]] = 0.0
        alpha, lam, gamma = float(rng.choice([1.0, 0.5, rng.uniform(0.01, 0.9)])), unit_number(rng), unit_number(rng)
        kwargs = {"gamma": gamma}
        label = f"V as {form} of {size} states, T = {T}, α = {alpha:g}, λ = {lam:g}, γ = {gamma:g}"
        for k, (name, values) in enumerate((options or {}).items()):
            kwargs[name] = values[(i // (k + 1)) % len(values)]
            label += f", {name} = {kwargs[name]}"
        cases.append(Case((given_as(V, form), episode, alpha, lam), kwargs, label, tolerance_for(form)))
    return cases


def rms_error_cases(seed: int = 0, n: int = 20) -> list[Case]:
    """``rms_error(V, v_true)``: two 1-D arrays or lists of numbers (ints or floats) of one length n + 2 ≥ 3."""
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n):
        size, forms = int(rng.integers(3, 25)), (FORMS[i % len(FORMS)], FORMS[(i // 2) % len(FORMS)])
        V, v = rng.normal(scale=2, size=size), rng.normal(scale=2, size=size)
        cases.append(Case((given_as(V, forms[0]), given_as(v, forms[1])), {},
                          f"V as {forms[0]}, v_true as {forms[1]}, {size} entries", tolerance_for(*forms)))
    return cases


def rollout_cases(seed: int = 0, n: int = 24, parameter: str | None = None, junk: bool = True, infinite: bool = True) -> list[Case]:
    """``fn(rewards, values, [parameter,] gamma=γ)`` of one episode: rewards r_0 … r_{T−1} and values V(s_0) … V(s_T) as
    1-D arrays or lists of numbers (ints or floats), T = 1 … 15, γ ∈ [0, 1]; V(s_T) holds junk (it is never read), or 0
    without ``junk``. ``parameter``: "n" (N = 1 … T + 2, as a Python or numpy int, or, with ``infinite``, np.inf) or
    "lam" (λ ∈ [0, 1])."""
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n):
        T, forms = int(rng.integers(1, 16)), (FORMS[i % len(FORMS)], FORMS[(i // 3) % len(FORMS)])
        rewards, values = rng.normal(scale=2, size=T), np.append(rng.normal(scale=2, size=T), 1e3 * rng.normal() if junk else 0.0)
        gamma = unit_number(rng)
        args, label = [given_as(rewards, forms[0]), given_as(values, forms[1])], f"T = {T}, rewards as {forms[0]}, values as {forms[1]}"
        if parameter == "n":
            N = np.inf if i % 5 == 0 and infinite else int(rng.integers(1, T + 3))
            args.append(np.int64(N) if i % 5 == 2 else N)
            label += f", N = {N:g}"
        elif parameter == "lam":
            args.append(unit_number(rng))
            label += f", λ = {args[-1]:g}"
        cases.append(Case(tuple(args), {"gamma": gamma}, label + f", γ = {gamma:g}", tolerance_for(*forms)))
    return cases


# ---------------------------------------------------------------- 03: rollouts of several environments


def batch_cases(seed: int = 0, n: int = 24, gae: bool = False, junk: bool = True) -> list[Case]:
    """``td_errors(rewards, values, next_values, terminated, gamma)`` (and, with ``gae``, ``gae(…, truncated, gamma,
    lam)``) on (T, n_envs) arrays or nested lists: numbers as float64, float32 or integers; the flags as bools or as
    0/1 numbers, both set on some steps; T = 1 … 10, n_envs = 1 … 4, γ, λ ∈ [0, 1]. next_values after a terminated step
    holds junk (a terminal state has no value to read), or 0 without ``junk``."""
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n):
        T, n_envs, form = int(rng.integers(1, 11)), int(rng.integers(1, 5)), FORMS[i % len(FORMS)]
        rewards, values = rng.normal(scale=2, size=(T, n_envs)), rng.normal(scale=2, size=(T, n_envs))
        terminated, truncated = rng.random((T, n_envs)) < 0.25, rng.random((T, n_envs)) < 0.25
        next_values = np.where(terminated, 50 * rng.normal(size=(T, n_envs)) if junk else 0.0, np.roll(values, -1, axis=0))
        flags = ("bools", "0/1 floats", "0/1 ints")[i % 3]
        as_flags = {"bools": lambda x: x, "0/1 floats": lambda x: x.astype(float), "0/1 ints": lambda x: x.astype(np.int64)}[flags]
        args = [given_as(rewards, form), given_as(values, form), given_as(next_values, form), as_flags(terminated)]
        gamma = unit_number(rng)
        label = f"T = {T}, {n_envs} env(s), numbers as {form}, flags as {flags}, γ = {gamma:g}"
        if gae:
            lam = unit_number(rng)
            args += [as_flags(truncated), gamma, lam]
            label += f", λ = {lam:g}, {int((terminated & truncated).sum())} step(s) both terminated and truncated"
        else:
            args.append(gamma)
        cases.append(Case(tuple(args), {}, label, tolerance_for(form)))
    return cases
