"""Ψ₍₁₎, Ψ₍N₎, Ψ₍∞₎ and Ψ^λ: concrete vectors, and independent ways of computing the same quantity."""

import numpy as np
import pytest

from rl_course import advantages, tabular

R = np.array([0.0, 1.0, -1.0, 2.0])
V = np.array([0.5, 0.2, -0.3, 0.4, 9.0])  # 9.0 at the terminal s_T must never be used
GAMMA = 0.5


def test_td_errors_concrete():
    # r_t + γ V(s_{t+1}) − V(s_t), with V(s_4) := 0
    np.testing.assert_allclose(advantages.td_errors(R, V, GAMMA), [0 + 0.1 - 0.5, 1 - 0.15 - 0.2, -1 + 0.2 + 0.3, 2 + 0 - 0.4])


def test_n_step_concrete():
    # Ψ₍2₎(s_0) = r_0 + γ r_1 + γ² V(s_2) − V(s_0) = 0 + 0.5 − 0.075 − 0.5
    got = advantages.n_step_estimates(R, V, 2, GAMMA)
    np.testing.assert_allclose(got, [-0.075, 1 - 0.5 + 0.1 - 0.2, -1 + 1 - (-0.3), 2 - 0.4])


def test_n_step_limits():
    np.testing.assert_allclose(advantages.n_step_estimates(R, V, 1, GAMMA), advantages.td_errors(R, V, GAMMA))
    G = tabular.discounted_returns(R, GAMMA)
    for n in (4, 10, np.inf):
        np.testing.assert_allclose(advantages.n_step_estimates(R, V, n, GAMMA), G - V[:-1])


@pytest.mark.parametrize("n", [1, 2, 3, 7])
def test_n_step_is_a_discounted_sum_of_one_step_errors(n):
    """Ψ₍N₎(s_t) = Σ_{k<N} γ^k Ψ₍₁₎(s_{t+k}) (the sum stops at the end of the episode)."""
    rng = np.random.default_rng(n)
    r, v = rng.normal(size=9), rng.normal(size=10)
    deltas = advantages.td_errors(r, v, 0.9)
    expected = [sum(0.9**k * deltas[t + k] for k in range(min(n, 9 - t))) for t in range(9)]
    np.testing.assert_allclose(advantages.n_step_estimates(r, v, n, 0.9), expected)


@pytest.mark.parametrize("lam, gamma", [(0.0, 0.9), (0.5, 1.0), (0.8, 0.95), (1.0, 0.9)])
def test_forward_view_equals_backward_view(lam, gamma):
    rng = np.random.default_rng(7)
    for T in (1, 2, 13):
        r, v = rng.normal(size=T), rng.normal(size=T + 1)
        np.testing.assert_allclose(advantages.lambda_estimates(r, v, lam, gamma),
                                   advantages.backward_view_estimates(r, v, lam, gamma), atol=1e-12)


def test_lambda_limits():
    np.testing.assert_allclose(advantages.lambda_estimates(R, V, 0.0, GAMMA), advantages.td_errors(R, V, GAMMA))
    np.testing.assert_allclose(advantages.lambda_estimates(R, V, 1.0, GAMMA), advantages.n_step_estimates(R, V, np.inf, GAMMA))


def test_lambda_weights_sum_to_one_at_the_end():
    """With all rewards 0 and V = 1 everywhere but the terminal, every Ψ₍N₎ is γ^N·[bootstrap] − 1."""
    r, v = np.zeros(3), np.r_[np.ones(3), 0.0]
    # Ψ^λ(s_0) = (1−λ)(γ − 1) + λ(1−λ)(γ² − 1) + λ²(0 − 1) with λ = 0.5, γ = 1: 0 + 0 − 0.25
    np.testing.assert_allclose(advantages.lambda_estimates(r, v, 0.5, 1.0), [-0.25, -0.5, -1.0])


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="one more"):
        advantages.td_errors(R, V[:-1])
    with pytest.raises(ValueError, match="integer ≥ 1 or np.inf"):
        advantages.n_step_estimates(R, V, 0)
    with pytest.raises(ValueError, match=r"lam \(λ\) must be in \[0, 1\]"):
        advantages.backward_view_estimates(R, V, 2.0)
    with pytest.raises(ValueError, match="no steps"):
        advantages.td_errors([], [0.0])


@pytest.mark.slow
def test_bias_variance_trade_off_is_measured_on_the_random_walk():
    """With a wrong critic (V = 0) the N-step targets lose bias and gain variance as N grows; the unbiased ones
    (Monte-Carlo, and every N with the true values) have intervals that reach 0, the biased ones do not."""
    import gymnasium as gym

    from rl_course import envs

    episodes = tabular.sample_episodes(gym.make("rl_course/RandomWalk-v0"), 300, seed=0)
    v_true = envs.random_walk_true_values()
    table = [advantages.target_bias_variance(episodes, np.zeros(21), v_true, lambda r, v, n=n: advantages.n_step_estimates(r, v, n))
             for n in (1, 4, 16, np.inf)]
    bias, variance = np.array([m.bias for m in table]), np.array([m.variance for m in table])
    assert (np.diff(bias[:-1]) < 0).all() and (np.diff(variance) > 0).all()
    assert all(m.bias_interval[0] > 0.1 for m in table[:-1]) and table[-1].bias_interval[0] == 0.0
    for m in table:
        assert m.bias_interval[0] <= m.bias <= m.bias_interval[1] and m.variance_interval[0] <= m.variance <= m.variance_interval[1]
    for n in (1, 8, np.inf):
        exact = advantages.target_bias_variance(episodes, v_true, v_true, lambda r, v, n=n: advantages.n_step_estimates(r, v, n))
        assert exact.bias_interval[0] == 0.0 and exact.bias_interval[1] < 0.08, (n, exact)


def synthetic_estimates(counts, bias, sd, seed=0):
    """Estimates of truth[g] with a known bias(g) and standard deviation sd(g): truth[g] + bias(g) + sd(g)·noise, shuffled,
    one per episode."""
    rng = np.random.default_rng(seed)
    truth = rng.normal(size=len(counts))
    groups = rng.permutation(np.repeat(np.arange(len(counts)), counts))
    estimates = truth[groups] + np.asarray(bias)[groups] + np.asarray(sd)[groups] * rng.normal(size=len(groups))
    return estimates, groups, truth, np.arange(len(groups))


def test_grouped_bias_variance_equals_a_direct_per_group_computation():
    """For each group seen n(g) ≥ 2 times: var(g) = np.var(ddof=1), bias(g)² = (np.mean − truth)² − var(g)/n(g);
    both averaged with the weights n(g)/Σn. A group seen once (2) or never (5) is left out."""
    counts = [300, 40, 1, 2, 500, 0]
    estimates, groups, truth, episodes = synthetic_estimates(counts, bias=[0.5, -0.2, 3.0, 0.3, 0.0, 0.0],
                                                             sd=[1.0, 0.3, 1.0, 2.0, 0.5, 1.0])
    seen = [g for g, n in enumerate(counts) if n >= 2]
    n = np.array([counts[g] for g in seen])
    variance = np.array([np.var(estimates[groups == g], ddof=1) for g in seen])
    bias_squared = np.array([(np.mean(estimates[groups == g]) - truth[g]) ** 2 for g in seen]) - variance / n
    weights = n / n.sum()
    got = advantages.grouped_bias_variance(estimates, groups, truth, episodes)
    assert got.variance == pytest.approx(weights @ variance, rel=1e-12, abs=1e-14)
    assert got.bias == pytest.approx(np.sqrt(weights @ bias_squared), rel=1e-12, abs=1e-14)


def test_grouped_bias_variance_keeps_the_first_estimate_of_a_group_in_each_episode():
    """Later estimates of a group within one episode are left out, whatever they are: they see the same future."""
    estimates, groups, truth, episodes = synthetic_estimates([50, 80, 30], bias=[0.2, 0.0, -0.1], sd=[1.0, 0.5, 2.0], seed=3)
    once = advantages.grouped_bias_variance(estimates, groups, truth, episodes)
    repeated = advantages.grouped_bias_variance(np.r_[estimates, estimates + 100.0], np.r_[groups, groups], truth,
                                                np.r_[episodes, episodes])
    assert (repeated.bias, repeated.variance) == pytest.approx((once.bias, once.variance), rel=1e-12)
    assert repeated.bias_interval == pytest.approx(once.bias_interval, rel=1e-12)
    with pytest.raises(ValueError, match="one entry each"):
        advantages.grouped_bias_variance(estimates, groups, truth, episodes[:-1])
    with pytest.raises(ValueError, match="groups must index truth"):
        advantages.grouped_bias_variance(estimates, groups + 3, truth, episodes)


def test_grouped_bias_variance_of_correlated_visits_stays_unbiased():
    """Twenty visits per episode that share one noise draw (as revisits share a future): counted as independent,
    they would make an unbiased estimator look biased; one per episode, the interval reaches 0."""
    rng = np.random.default_rng(4)
    n_episodes, truth = 400, np.array([0.3, -0.7])
    noise = rng.normal(size=(n_episodes, 2))
    estimates = (truth + noise)[:, None, :] + 0.01 * rng.normal(size=(n_episodes, 20, 2))
    groups = np.broadcast_to([0, 1], estimates.shape)
    episodes = np.broadcast_to(np.arange(n_episodes)[:, None, None], estimates.shape)
    got = advantages.grouped_bias_variance(estimates, groups, truth, episodes)
    assert got.bias_interval[0] == 0.0 and got.variance == pytest.approx(1.0, abs=0.15)


@pytest.mark.slow
def test_grouped_bias_variance_recovers_a_known_bias_and_variance():
    """With 20 000 estimates per group, the measured RMS bias and mean variance are the true ones within 4 standard errors:
    var(g) has standard error σ²√(2/(n−1)); the corrected bias(g)² has standard error √(4b²σ²/n + 2σ⁴/n²).
    The 95 % intervals hold the truth, and the interval of an unbiased estimator reaches 0."""
    n, bias, sd = 20_000, np.array([0.5, -0.2, 0.0, 0.3]), np.array([1.0, 0.3, 2.0, 0.5])
    estimates, groups, truth, episodes = synthetic_estimates([n] * 4, bias, sd, seed=1)
    got = advantages.grouped_bias_variance(estimates, groups, truth, episodes)
    w = 1 / len(bias)
    variance_se = np.sqrt(np.sum((w * sd**2) ** 2 * 2 / (n - 1)))
    assert abs(got.variance - w * np.sum(sd**2)) < 4 * variance_se
    true_rms = np.sqrt(w * np.sum(bias**2))
    bias_squared_se = np.sqrt(np.sum(w**2 * (4 * bias**2 * sd**2 / n + 2 * sd**4 / n**2)))
    assert abs(got.bias**2 - true_rms**2) < 4 * bias_squared_se
    assert got.bias_interval[0] < true_rms < got.bias_interval[1]
    assert got.variance_interval[0] < w * np.sum(sd**2) < got.variance_interval[1]
    assert got.bias_interval[0] > 0.25  # far from 0
    unbiased = advantages.grouped_bias_variance(*synthetic_estimates([n] * 4, np.zeros(4), sd, seed=2))
    assert unbiased.bias**2 < 4 * np.sqrt(np.sum(w**2 * 2 * sd**4 / n**2))  # b = 0: bias² is 0 within 4 standard errors
    assert unbiased.bias_interval[0] == 0.0

