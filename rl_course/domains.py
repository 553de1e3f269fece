"""The inputs each graded function's docstring promises, drawn from the whole of it: the cases of the differential
hidden tests (``checks.expect_agrees``), which compare a student's function with the reference on every one.

A domain covers what its docstring allows and nothing more: sizes from the smallest up (T = 1, one environment,
one action dimension), numpy arrays of float64, float32 and integers, Python lists, numpy scalars, the ends of
every interval (γ, λ = 0 and 1; ε̂ = 0 or None; a step both terminated and truncated), values far from zero
with a small spread, and junk in the entries the docstring says are never read. Every draw is seeded: the same
seed gives the same cases.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rl_course.tabular import Episode

FORMS = ("float64", "float32", "int", "list", "list of ints")
EXACT = (1e-8, 1e-6)  # (atol, rtol) of a comparison in double precision
SINGLE = (1e-5, 1e-5)  # where an input is float32: an answer may keep single precision


@dataclass(frozen=True)
class Case:
    """One call: ``fn(*args, **kwargs)``, described in words by ``label``, compared within ``tolerance`` (atol, rtol)."""

    args: tuple
    kwargs: dict = field(default_factory=dict)
    label: str = ""
    tolerance: tuple = EXACT


def given_as(values, form: str):
    """``values`` (floats) in the ``form`` of ``FORMS``: an array of that dtype or a (nested) list; the integer forms round."""
    values = np.asarray(values, dtype=float)
    if form in ("int", "list of ints"):
        values = np.round(values).astype(np.int64)
    elif form == "float32":
        values = values.astype(np.float32)
    return values.tolist() if form.startswith("list") else values


def _tolerance(*forms: str) -> tuple:
    return SINGLE if "float32" in forms else EXACT


def _unit(rng, ends=(0.0, 1.0)) -> float:
    """A number of [0, 1]: one of its ends a third of the time each way, else drawn between them."""
    pick = rng.integers(4)
    return float(ends[pick]) if pick < 2 else float(rng.uniform(0.05, 0.99))


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
        gamma = _unit(rng)
        index = (lambda x: np.int64(x)) if i % 3 == 0 else int
        flag = np.bool_(terminated) if i % 4 == 1 else terminated
        cases.append(Case((given_as(V, form), index(s), r, index(s_next), flag), {"gamma": gamma},
                          f"V as {form} of {size} states, s = {s} → s′ = {s_next}, terminated = {terminated}"
                          f"{' (a numpy bool)' if i % 4 == 1 else ''}, γ = {gamma:g}",
                          _tolerance(form)))
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
        alpha, lam, gamma = float(rng.choice([1.0, 0.5, rng.uniform(0.01, 0.9)])), _unit(rng), _unit(rng)
        kwargs = {"gamma": gamma}
        label = f"V as {form} of {size} states, T = {T}, α = {alpha:g}, λ = {lam:g}, γ = {gamma:g}"
        for k, (name, values) in enumerate((options or {}).items()):
            kwargs[name] = values[(i // (k + 1)) % len(values)]
            label += f", {name} = {kwargs[name]}"
        cases.append(Case((given_as(V, form), episode, alpha, lam), kwargs, label, _tolerance(form)))
    return cases


def rms_error_cases(seed: int = 0, n: int = 20) -> list[Case]:
    """``rms_error(V, v_true)``: two 1-D arrays or lists of numbers (ints or floats) of one length n + 2 ≥ 3."""
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n):
        size, forms = int(rng.integers(3, 25)), (FORMS[i % len(FORMS)], FORMS[(i // 2) % len(FORMS)])
        V, v = rng.normal(scale=2, size=size), rng.normal(scale=2, size=size)
        cases.append(Case((given_as(V, forms[0]), given_as(v, forms[1])), {},
                          f"V as {forms[0]}, v_true as {forms[1]}, {size} entries", _tolerance(*forms)))
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
        gamma = _unit(rng)
        args, label = [given_as(rewards, forms[0]), given_as(values, forms[1])], f"T = {T}, rewards as {forms[0]}, values as {forms[1]}"
        if parameter == "n":
            N = np.inf if i % 5 == 0 and infinite else int(rng.integers(1, T + 3))
            args.append(np.int64(N) if i % 5 == 2 else N)
            label += f", N = {N:g}"
        elif parameter == "lam":
            args.append(_unit(rng))
            label += f", λ = {args[-1]:g}"
        cases.append(Case(tuple(args), {"gamma": gamma}, label + f", γ = {gamma:g}", _tolerance(*forms)))
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
        gamma = _unit(rng)
        label = f"T = {T}, {n_envs} env(s), numbers as {form}, flags as {flags}, γ = {gamma:g}"
        if gae:
            lam = _unit(rng)
            args += [as_flags(truncated), gamma, lam]
            label += f", λ = {lam:g}, {int((terminated & truncated).sum())} step(s) both terminated and truncated"
        else:
            args.append(gamma)
        cases.append(Case(tuple(args), {}, label, _tolerance(form)))
    return cases


# ---------------------------------------------------------------- 04 and 05: tensors, with gradients


def _tensor(values, dtype: str = "float64", grad: bool = False):
    import torch

    tensor = torch.as_tensor(np.asarray(values), dtype=getattr(torch, dtype))
    return tensor.requires_grad_() if grad else tensor


def log_prob_cases(seed: int = 0, n: int = 16) -> list[Case]:
    """``log_prob_of_actions(logits, actions)``: logits a (B, n_actions) float32 or float64 tensor of any scale (raw, not
    normalized; rows whose entries lie hundreds apart), requiring a gradient; actions a (B,) tensor of an integer dtype
    (int64, int32 or uint8) with entries in 0 … n_actions − 1; B ≥ 1, n_actions ≥ 2."""
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n):
        B, k = int(rng.integers(1, 9)), int(rng.integers(2, 6))
        dtype, index = ("float64", "float32")[i % 2], ("int64", "int32", "uint8")[i % 3]
        scale = (1.0, 10.0, 300.0)[i % 3]
        logits = rng.normal(scale=scale, size=(B, k)) + rng.normal(scale=5)
        actions = rng.integers(k, size=B)
        cases.append(Case((_tensor(logits, dtype, grad=True), _tensor(actions, index)), {},
                          f"B = {B}, {k} actions, logits of scale {scale:g} as {dtype}, actions as {index}",
                          SINGLE if dtype == "float32" else EXACT))
    return cases


def ratio_cases(seed: int = 0, n: int = 16) -> list[Case]:
    """``probability_ratio(log_probs, old_log_probs)``: two (B,) float tensors of log-probabilities (≤ 0; of continuous
    actions they may be positive), from −1000 up, both requiring a gradient; B ≥ 1."""
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n):
        B, dtype = int(rng.integers(1, 9)), ("float64", "float32")[i % 2]
        old = -rng.exponential((1.0, 5.0, 900.0)[i % 3], size=B) + (3.0 if i % 4 == 3 else 0.0)
        new = old + rng.normal(scale=0.3, size=B)
        cases.append(Case((_tensor(new, dtype, grad=True), _tensor(old, dtype, grad=True)), {},
                          f"B = {B}, log-probabilities down to {old.min():.4g}, as {dtype}", SINGLE if dtype == "float32" else EXACT))
    return cases


def surrogate_cases(seed: int = 0, n: int = 16, eps: tuple = ()) -> list[Case]:
    """``clipped_surrogate(ratio, advantages, eps)``: ρ a (B,) tensor of positive ratios, on both sides of and inside
    [1 − ε, 1 + ε] (never on its edges), requiring a gradient; advantages a (B,) tensor of either sign; ε ∈ (0, 1)
    (the values of ``eps`` in turn, when given)."""
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n):
        B, dtype = int(rng.integers(1, 13)), ("float64", "float32")[i % 2]
        clip = eps[i % len(eps)] if eps else float(rng.choice([0.1, 0.2, 0.3, rng.uniform(0.05, 0.6)]))
        ratio = np.exp(rng.normal(scale=0.4, size=B))
        ratio[np.isclose(np.abs(ratio - 1), clip, atol=1e-3)] += 2e-3  # away from the kinks
        cases.append(Case((_tensor(ratio, dtype, grad=True), _tensor(rng.normal(scale=2, size=B), dtype), clip), {},
                          f"B = {B}, ε = {clip:g}, {int((np.abs(ratio - 1) > clip).sum())} ratio(s) outside [1 − ε, 1 + ε], as {dtype}",
                          SINGLE if dtype == "float32" else EXACT))
    return cases


def value_loss_cases(seed: int = 0, n: int = 16, unclipped: bool = True) -> list[Case]:
    """``clipped_value_loss(values, old_values, targets, eps)``: three (B,) float tensors, values requiring a gradient,
    moved from old_values by more and by less than ε̂ (never by exactly ε̂); ε̂ > 0, 0, or (with ``unclipped``) None."""
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n):
        B, dtype = int(rng.integers(1, 13)), ("float64", "float32")[i % 2]
        eps = (None if unclipped else 0.5, 0.0, 0.2, float(rng.uniform(0.05, 1.0)))[i % 4]
        old = rng.normal(scale=2, size=B)
        moved = old + rng.normal(scale=0.5, size=B)
        if eps:
            moved[np.isclose(np.abs(moved - old), eps, atol=1e-3)] += 2e-3
        cases.append(Case((_tensor(moved, dtype, grad=True), _tensor(old, dtype), _tensor(rng.normal(scale=3, size=B), dtype), eps), {},
                          f"B = {B}, ε̂ = {eps}, as {dtype}", SINGLE if dtype == "float32" else EXACT))
    return cases


def normalize_cases(seed: int = 0, n: int = 12) -> list[Case]:
    """``normalize_advantages(advantages)``: a (B,) float64 tensor, B ≥ 2: any scale, all equal, or far from zero with a
    small spread (a mean of 10⁶, a spread of 10⁻²)."""
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n):
        B = int(rng.integers(2, 65))
        kind = ("spread", "equal", "far from zero")[i % 3]
        values = {"spread": rng.normal(scale=5, size=B) - 2, "equal": np.full(B, rng.normal()),
                  "far from zero": 1e6 + rng.normal(scale=1e-2, size=B)}[kind]
        cases.append(Case((_tensor(values),), {}, f"B = {B}, advantages {kind}", (1e-6, 1e-6)))
    return cases


def gaussian_cases(seed: int = 0, n: int = 16, parts: str = "log_prob") -> list[Case]:
    """The diagonal Gaussian's functions on B ≥ 1 rows of d ≥ 1 action dimensions (float32 or float64 tensors; μ and log σ
    require a gradient; log σ ∈ [−3, 1] of shape (d,), shared by every row, or (B, d)):
    ``parts`` "log_prob": (mean, log_std, actions); "entropy": (log_std,); "kl": (mean_old, log_std_old, mean, log_std)."""
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n):
        B, d, dtype = int(rng.integers(1, 7)), int(rng.integers(1, 5)), ("float64", "float32")[i % 2]
        shared = i % 3 == 0
        shape = (d,) if shared else (B, d)
        mean, log_std = rng.normal(scale=2, size=(B, d)), rng.uniform(-3, 1, size=shape)
        label = f"B = {B}, d = {d}, log σ of shape {shape}, as {dtype}"
        tol = SINGLE if dtype == "float32" else EXACT
        if parts == "log_prob":
            actions = mean + np.exp(log_std) * rng.normal(scale=2, size=(B, d))
            args = (_tensor(mean, dtype, True), _tensor(log_std, dtype, True), _tensor(actions, dtype))
        elif parts == "entropy":
            args = (_tensor(log_std, dtype, True),)
        else:
            old_mean, old_log_std = mean + rng.normal(scale=0.5, size=(B, d)), log_std + rng.normal(scale=0.3, size=shape)
            args = (_tensor(old_mean, dtype), _tensor(old_log_std, dtype), _tensor(mean, dtype, True), _tensor(log_std, dtype, True))
        cases.append(Case(args, {}, label, tol))
    return cases


# ---------------------------------------------------------------- 05: running statistics, schedules, the KL penalty


def running_stats_cases(seed: int = 0, n: int = 16, observations: bool = False, update=(True, False)) -> list[Case]:
    """``update_running_stats(stats, batch)``: stats = (mean, var, count), mean and var float arrays of shape (d,),
    count > 0 (a float or an int); batch an (m, d) array (float or int) or nested list, m ≥ 1; values far from zero
    with a small spread too. With ``observations``: ``normalize_observations(obs, stats, clip=…, update=…)``,
    clip > 0 (small enough to clip some), update taking the values of ``update`` in turn."""
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n):
        m, d, form = int(rng.integers(1, 9)), int(rng.integers(1, 5)), FORMS[i % len(FORMS)]
        centre, spread = (0.0, 3.0) if i % 4 else (1e4, 1e-2)
        batch = centre + rng.normal(scale=spread, size=(m, d))
        count = (1e-4, 7, float(rng.integers(1, 50)))[i % 3]
        stats = (centre + rng.normal(scale=spread, size=d), rng.uniform(0.5, 2, size=d) * spread ** 2, count)
        if form in ("int", "list of ints") and spread < 1:
            form = "float64"
        label = f"m = {m}, d = {d}, batch as {form}, count = {count:g}, values around {centre:g} ± {spread:g}"
        if observations:
            clip, updates = float(rng.choice([10.0, 1.0, 0.5])), update[i % len(update)]
            cases.append(Case((given_as(batch, form), stats), {"clip": clip, "update": updates},
                              label + f", clip = {clip:g}, update = {updates}", (1e-6, 1e-6)))
        else:
            cases.append(Case((stats, given_as(batch, form)), {}, label, (1e-6, 1e-6)))
    return cases


def scale_rewards_cases(seed: int = 0, n: int = 16) -> list[Case]:
    """``scale_rewards(rewards, dones, returns, stats, gamma, clip=…)``: rewards and returns (n_envs,) arrays (float or
    int) or lists, dones (n_envs,) bools or 0/1 numbers, stats = (mean, var, count) of the returns (arrays of shape
    () or floats; count > 0), γ ∈ [0, 1], clip > 0."""
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n):
        n_envs, form = int(rng.integers(1, 6)), FORMS[i % len(FORMS)]
        rewards, returns = rng.normal(scale=3, size=n_envs), rng.normal(scale=10, size=n_envs)
        dones = rng.random(n_envs) < 0.4
        stats = (np.array(rng.normal()), np.array(rng.uniform(1, 50)), float(rng.integers(1, 100)))
        gamma, clip = _unit(rng), float(rng.choice([10.0, 0.5]))
        flags = (dones, dones.astype(float), dones.tolist())[i % 3]
        cases.append(Case((given_as(rewards, form), flags, given_as(returns, form), stats, gamma), {"clip": clip},
                          f"{n_envs} env(s), numbers as {form}, γ = {gamma:g}, clip = {clip:g}", (1e-6, 1e-6)))
    return cases


def schedule_cases(seed: int = 0, n: int = 16) -> list[Case]:
    """``linear_schedule(start, iteration, n_iterations)``: start > 0 (a float or an int), 0 ≤ iteration < n_iterations
    (the first and the last iteration included; Python or numpy ints)."""
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n):
        K = int(rng.integers(1, 200))
        k = (0, K - 1, int(rng.integers(K)))[i % 3]
        start = (3e-4, 0.2, 1)[i % 3]
        as_int = np.int64 if i % 2 else int
        cases.append(Case((start, as_int(k), as_int(K)), {}, f"x_0 = {start:g}, k = {k}, K = {K}"))
    return cases


def kl_penalty_cases(seed: int = 0, n: int = 12) -> list[Case]:
    """``kl_penalty_objective(ratio, advantages, kl, kl_coef)``: three (B,) float tensors, ρ and KL requiring a gradient,
    KL ≥ 0; C ≥ 0 (a float or an int)."""
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n):
        B, dtype = int(rng.integers(1, 13)), ("float64", "float32")[i % 2]
        coef = (0.0, 1, float(rng.uniform(0.01, 5)))[i % 3]
        args = (_tensor(np.exp(rng.normal(scale=0.3, size=B)), dtype, True), _tensor(rng.normal(scale=2, size=B), dtype),
                _tensor(rng.exponential(0.02, size=B), dtype, True), coef)
        cases.append(Case(args, {}, f"B = {B}, C = {coef:g}, as {dtype}", SINGLE if dtype == "float32" else EXACT))
    return cases


def kl_coef_cases(seed: int = 0, n: int = 24) -> list[Case]:
    """``adapt_kl_coef(kl_coef, kl, kl_target)``: C > 0, KL ≥ 0 (a float or a numpy float), d_targ > 0; KL below, inside and
    above the band [d_targ / 1.5, 1.5 d_targ], at its upper edge 1.5 d_targ exactly, and a hair either side of its edges."""
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n):
        target = float(2.0 ** -int(rng.integers(4, 9)))  # a power of two: 1.5 d_targ and KL / d_targ are exact
        kl = (0.0, target / 3, target, 3 * target, 1.5 * target, 1.5 * target * (1 + 1e-9), 1.5 * target * (1 - 1e-9),
              target / 1.5 * (1 - 1e-9), target / 1.5 * (1 + 1e-9))[i % 9]
        coef = float(rng.choice([0.2, 1.0, rng.uniform(0.01, 10)]))
        cases.append(Case((coef, np.float64(kl) if i % 2 else kl, target), {}, f"C = {coef:g}, KL = {kl:.10g}, d_targ = {target:g}"))
    return cases
