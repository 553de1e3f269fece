"""The domains of the graded functions of 04 and 05, on torch tensors with gradients, and of 05's running statistics,
schedules and KL penalty."""

from __future__ import annotations

import numpy as np

from rl_course.domains.case import EXACT, FORMS, SINGLE, Case, given_as, tensor, unit_number

# ---------------------------------------------------------------- 04 and 05: tensors, with gradients


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
        cases.append(Case((tensor(logits, dtype, grad=True), tensor(actions, index)), {},
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
        cases.append(Case((tensor(new, dtype, grad=True), tensor(old, dtype, grad=True)), {},
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
        cases.append(Case((tensor(ratio, dtype, grad=True), tensor(rng.normal(scale=2, size=B), dtype), clip), {},
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
        cases.append(Case((tensor(moved, dtype, grad=True), tensor(old, dtype), tensor(rng.normal(scale=3, size=B), dtype), eps), {},
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
        cases.append(Case((tensor(values),), {}, f"B = {B}, advantages {kind}", (1e-6, 1e-6)))
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
            args = (tensor(mean, dtype, True), tensor(log_std, dtype, True), tensor(actions, dtype))
        elif parts == "entropy":
            args = (tensor(log_std, dtype, True),)
        else:
            old_mean, old_log_std = mean + rng.normal(scale=0.5, size=(B, d)), log_std + rng.normal(scale=0.3, size=shape)
            args = (tensor(old_mean, dtype), tensor(old_log_std, dtype), tensor(mean, dtype, True), tensor(log_std, dtype, True))
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
        gamma, clip = unit_number(rng), float(rng.choice([10.0, 0.5]))
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
        args = (tensor(np.exp(rng.normal(scale=0.3, size=B)), dtype, True), tensor(rng.normal(scale=2, size=B), dtype),
                tensor(rng.exponential(0.02, size=B), dtype, True), coef)
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
