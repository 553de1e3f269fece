"""GAE on batched rollouts: an independent weighted sum, its limits, the λ-return of assignment 02, its arguments checked."""

import numpy as np
import pytest

from rl_course import advantages


def random_rollout(T=40, n=5, seed=0, p_end=0.08):
    rng = np.random.default_rng(seed)
    r, v, nv = rng.normal(size=(T, n)), rng.normal(size=(T, n)), rng.normal(size=(T, n))
    ends = rng.random((T, n)) < p_end
    terminated = ends & (rng.random((T, n)) < 0.5)
    truncated = ends & ~terminated
    return r, v, nv, terminated, truncated


def explicit_gae(r, v, nv, terminated, truncated, gamma, lam):
    """Σ_k (γλ)^k Ψ₍₁₎(s_{t+k}) up to and including the step that ends the episode (or the rollout)."""
    T, n = r.shape
    deltas = r + gamma * (~terminated) * nv - v
    out = np.zeros((T, n))
    for i in range(n):
        for t in range(T):
            k = t
            while True:
                out[t, i] += (gamma * lam) ** (k - t) * deltas[k, i]
                if terminated[k, i] or truncated[k, i] or k == T - 1:
                    break
                k += 1
    return out


@pytest.mark.parametrize("gamma, lam", [(0.99, 0.95), (0.9, 0.0), (1.0, 1.0), (0.98, 0.8)])
def test_gae_equals_the_explicit_weighted_sum(gamma, lam):
    for seed in range(3):
        rollout = random_rollout(seed=seed)
        np.testing.assert_allclose(advantages.gae(*rollout, gamma, lam), explicit_gae(*rollout, gamma, lam), atol=1e-6)


def test_lambda_zero_is_one_step():
    r, v, nv, term, trunc = random_rollout(seed=4)
    np.testing.assert_allclose(advantages.gae(r, v, nv, term, trunc, 0.99, 0.0), advantages.batch_td_errors(r, v, nv, term, 0.99))


def test_lambda_one_is_the_discounted_return_minus_v():
    r, v, nv, term, trunc = random_rollout(seed=5)
    continuing = ~(term | trunc)[:-1]
    nv[:-1][continuing] = v[1:][continuing]  # as in a real rollout: V(s_{t+1}) is the value stored at t+1
    gamma, (T, n) = 0.97, r.shape
    G = np.zeros((T, n))
    for i in range(n):
        following = None
        for t in range(T - 1, -1, -1):
            if term[t, i]:
                following = r[t, i]
            elif trunc[t, i] or t == T - 1:
                following = r[t, i] + gamma * nv[t, i]  # bootstrap where the episode was cut
            else:
                following = r[t, i] + gamma * following
            G[t, i] = following
    np.testing.assert_allclose(advantages.gae(r, v, nv, term, trunc, gamma, 1.0), G - v, atol=1e-10)


@pytest.mark.parametrize("lam, gamma", [(0.0, 0.9), (0.7, 0.95), (1.0, 0.99)])
def test_gae_of_a_finished_episode_is_the_lambda_return_of_assignment_02(lam, gamma):
    rng = np.random.default_rng(6)
    T = 12
    r, values = rng.normal(size=T), rng.normal(size=T + 1)
    terminated = np.zeros((T, 1), bool)
    terminated[-1] = True
    got = advantages.gae(r[:, None], values[:-1, None], np.r_[values[1:-1], 0.0][:, None], terminated, np.zeros((T, 1), bool), gamma, lam)
    np.testing.assert_allclose(got[:, 0], advantages.lambda_estimates(r, values, lam, gamma), atol=1e-10)


def test_batched_equals_one_environment_at_a_time():
    rollout = random_rollout(seed=7, n=6)
    batched = advantages.gae(*rollout, 0.99, 0.9)
    for i in range(6):
        single = advantages.gae(*(x[:, i : i + 1] for x in rollout), 0.99, 0.9)
        np.testing.assert_allclose(batched[:, i], single[:, 0])


def test_truncation_bootstraps_and_termination_does_not():
    r, v, nv = np.zeros((3, 1)), np.zeros((3, 1)), np.full((3, 1), 10.0)
    no = np.zeros((3, 1), bool)
    end = no.copy()
    end[1] = True
    cut = advantages.gae(r, v, nv, no, end, 0.5, 1.0)
    stop = advantages.gae(r, v, nv, end, no, 0.5, 1.0)
    np.testing.assert_allclose(cut[:, 0], [5 + 0.5 * 5, 5, 5])  # step 1 bootstraps from its final observation: 0.5·10
    np.testing.assert_allclose(stop[:, 0], [5, 0, 5])  # step 1 ends in a terminal state: nothing after it


def test_shapes_are_checked():
    r, v, nv, term, trunc = random_rollout()
    with pytest.raises(ValueError, match=r"next_values must have the shape of rewards \(40, 5\), got \(40, 4\)"):
        advantages.gae(r, v, nv[:, :4], term, trunc, 0.99, 0.95)
    with pytest.raises(ValueError, match=r"rewards must be shaped \(T, n_envs\)"):
        advantages.gae(r[:, 0], v, nv, term, trunc, 0.99, 0.95)
    with pytest.raises(ValueError, match=r"truncated must have the shape"):
        advantages.gae(r, v, nv, term, trunc[:3], 0.99, 0.95)


def test_gae_names_what_it_refuses():
    """λ or γ outside [0, 1], an array whose shape differs from the rewards': each refused with a message naming it."""
    rollout = random_rollout()
    r, v, nv, term, trunc = rollout
    for gamma, lam, message in [(0.99, 1.5, r"lam \(λ\) must be in \[0, 1\], got 1.5"), (0.99, -0.1, r"lam \(λ\) must be in \[0, 1\]"),
                                (1.2, 0.95, r"gamma \(γ\) must be in \[0, 1\], got 1.2")]:
        with pytest.raises(ValueError, match=message):
            advantages.gae(*rollout, gamma, lam)
    wrong = [((r, v[:, :4], nv, term, trunc), r"values must have the shape of rewards \(40, 5\), got \(40, 4\)"),
             ((r, v, nv[:-1], term, trunc), r"next_values must have the shape of rewards \(40, 5\), got \(39, 5\)"),
             ((r, v, nv, term[:, 0], trunc), r"terminated must have the shape of rewards \(40, 5\), got \(40,\)"),
             ((r, v, nv, term, trunc[:3]), r"truncated must have the shape of rewards \(40, 5\), got \(3, 5\)"),
             ((r[:, 0], v, nv, term, trunc), r"rewards must be shaped \(T, n_envs\), got \(40,\)")]
    for args, message in wrong:
        with pytest.raises(ValueError, match=message):
            advantages.gae(*args, 0.99, 0.95)
