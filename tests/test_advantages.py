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


def test_bias_variance_trade_off_is_measured_on_the_random_walk():
    """With a wrong critic (V = 0) the N-step targets lose bias and gain variance as N grows."""
    import gymnasium as gym

    from rl_course import envs

    episodes = tabular.sample_episodes(gym.make("rl_course/RandomWalk-v0"), 300, seed=0)
    v_true = envs.random_walk_true_values()
    table = [advantages.target_bias_variance(episodes, np.zeros(21), v_true, lambda r, v, n=n: advantages.n_step_estimates(r, v, n))
             for n in (1, 4, 16, 64, np.inf)]
    bias, variance = np.array(table).T
    assert (np.diff(bias[:-1]) < 0).all() and (np.diff(variance) > 0).all()
    assert bias[-1] < 0.15 < 0.35 < bias[0]  # Monte-Carlo is unbiased (up to sampling noise); one step from V = 0 is far off
    exact, _ = advantages.target_bias_variance(episodes, v_true, v_true, lambda r, v: advantages.n_step_estimates(r, v, 1))
    assert exact < 0.03  # with the true values even one step is (nearly) unbiased


def synthetic_estimates(counts, bias, sd, seed=0):
    """Estimates of truth[g] with a known bias(g) and standard deviation sd(g): truth[g] + bias(g) + sd(g)·noise, shuffled."""
    rng = np.random.default_rng(seed)
    truth = rng.normal(size=len(counts))
    groups = rng.permutation(np.repeat(np.arange(len(counts)), counts))
    estimates = truth[groups] + np.asarray(bias)[groups] + np.asarray(sd)[groups] * rng.normal(size=len(groups))
    return estimates, groups, truth


def test_grouped_bias_variance_equals_a_direct_per_group_computation():
    """For each group seen n(g) ≥ 2 times: var(g) = np.var(ddof=1), bias(g)² = (np.mean − truth)² − var(g)/n(g);
    both averaged with the visit weights n(g)/Σn. A group seen once (2) or never (5) is left out."""
    counts = [300, 40, 1, 2, 500, 0]
    estimates, groups, truth = synthetic_estimates(counts, bias=[0.5, -0.2, 3.0, 0.3, 0.0, 0.0], sd=[1.0, 0.3, 1.0, 2.0, 0.5, 1.0])
    seen = [g for g, n in enumerate(counts) if n >= 2]
    n = np.array([counts[g] for g in seen])
    variance = np.array([np.var(estimates[groups == g], ddof=1) for g in seen])
    bias_squared = np.array([(np.mean(estimates[groups == g]) - truth[g]) ** 2 for g in seen]) - variance / n
    weights = n / n.sum()
    got_bias, got_variance = advantages.grouped_bias_variance(estimates, groups, truth)
    assert got_variance == pytest.approx(weights @ variance, rel=1e-12, abs=1e-14)
    assert got_bias == pytest.approx(np.sqrt(weights @ bias_squared), rel=1e-12, abs=1e-14)


def test_grouped_bias_variance_recovers_a_known_bias_and_variance():
    """With 20 000 estimates per group, the measured RMS bias and mean variance are the true ones within 4 standard errors:
    var(g) has standard error σ²√(2/(n−1)); the corrected bias(g)² has standard error √(4b²σ²/n + 2σ⁴/n²)."""
    n, bias, sd = 20_000, np.array([0.5, -0.2, 0.0, 0.3]), np.array([1.0, 0.3, 2.0, 0.5])
    estimates, groups, truth = synthetic_estimates([n] * 4, bias, sd, seed=1)
    got_bias, got_variance = advantages.grouped_bias_variance(estimates, groups, truth)
    w = 1 / len(bias)
    variance_se = np.sqrt(np.sum((w * sd**2) ** 2 * 2 / (n - 1)))
    assert abs(got_variance - w * np.sum(sd**2)) < 4 * variance_se
    true_rms = np.sqrt(w * np.sum(bias**2))
    bias_squared_se = np.sqrt(np.sum(w**2 * (4 * bias**2 * sd**2 / n + 2 * sd**4 / n**2)))
    assert abs(got_bias**2 - true_rms**2) < 4 * bias_squared_se
    unbiased_bias, _ = advantages.grouped_bias_variance(*synthetic_estimates([n] * 4, np.zeros(4), sd, seed=2))
    assert unbiased_bias**2 < 4 * np.sqrt(np.sum(w**2 * 2 * sd**4 / n**2))  # b = 0: bias² is 0 within 4 standard errors
