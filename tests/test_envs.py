import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import rl_course  # noqa: F401
from rl_course import envs


def random_walk_mrp(n_states: int = 19) -> tuple[np.ndarray, np.ndarray]:
    """Transition matrix P and expected rewards r of the random walk under the random policy."""
    size = n_states + 2
    P = np.zeros((size, size))
    r = np.zeros(size)
    for s in range(1, n_states + 1):
        P[s, s - 1] = P[s, s + 1] = 0.5
    r[1] = -0.5  # half the time the walk falls off the left end
    r[n_states] += 0.5
    P[:, 0] = P[:, -1] = 0.0  # the terminal value is 0: no bootstrapping past the end
    return P, r


def test_true_values_closed_form_matches_linear_solve():
    for n in (5, 19):
        P, r = random_walk_mrp(n)
        np.testing.assert_allclose(envs.random_walk_true_values(n), envs.markov_reward_process_values(P, r, 1.0), atol=1e-12)


def test_nineteen_state_values_are_tenths():
    np.testing.assert_allclose(envs.random_walk_true_values(19)[1:-1], (np.arange(1, 20) - 10) / 10)
    assert envs.random_walk_true_values(19)[[0, -1]].tolist() == [0.0, 0.0]


def test_registered_env_passes_gymnasium_checks():
    env = gym.make("rl_course/RandomWalk-v0")
    check_env(env.unwrapped)
    obs, _ = env.reset(seed=0)
    assert obs == 10
    assert env.unwrapped.render_mode is None


def test_walk_ends_at_either_end_with_the_right_reward():
    env = gym.make("rl_course/RandomWalk-v0", n_states=3)
    env.reset(seed=0)
    assert env.step(envs.RIGHT)[:3] == (3, 0.0, False)
    assert env.step(envs.RIGHT)[:3] == (4, 1.0, True)
    env.reset()
    env.step(envs.LEFT)
    assert env.step(envs.LEFT)[:3] == (0, -1.0, True)


def test_empirical_returns_match_true_values():
    """The mean return from state 4 of a 5-state walk is V(4) = 1/3 within sampling error."""
    env = gym.make("rl_course/RandomWalk-v0", n_states=5)
    rng = np.random.default_rng(0)
    returns = []
    env.reset(seed=0)
    for _ in range(4000):
        env.reset()
        env.unwrapped._state = 4  # V(4) = 2·4/6 − 1 = 1/3
        done, G = False, 0.0
        while not done:
            _, r, done, _, _ = env.step(int(rng.integers(2)))
            G += r
        returns.append(G)
    assert abs(np.mean(returns) - 1 / 3) < 3 * np.std(returns) / np.sqrt(len(returns))


@pytest.mark.parametrize("n_states", [0, 4, -3, 2.5])
def test_bad_sizes_are_refused_with_a_clear_message(n_states):
    with pytest.raises(ValueError, match="n_states must be a positive odd integer"):
        envs.RandomWalk(n_states=n_states)


def test_stepping_after_the_end_is_an_error():
    env = envs.RandomWalk(n_states=1)
    env.reset(seed=0)
    env.step(envs.LEFT)
    with pytest.raises(RuntimeError, match="call reset"):
        env.step(envs.LEFT)
    env.reset()
    with pytest.raises(ValueError, match="action must be 0"):
        env.step(5)


def small_mdp_and_policy(seed=0, n_states=6, n_actions=3):
    mdp = envs.random_mdp(n_states, n_actions, end_probability=0.1, seed=seed)
    pi = np.random.default_rng(seed + 100).dirichlet(np.ones(n_actions), size=n_states)  # π(a|s), rows sum to 1
    return mdp, pi


@pytest.mark.parametrize("gamma", [0.0, 0.9, 1.0])
def test_policy_values_satisfy_the_bellman_equation(gamma):
    """V^π(s) = Σ_a π(a|s) [R(s, a) + γ Σ_s′ P(s, a, s′) V^π(s′)], and iterating that equation from V = 0 reaches the same V^π."""
    mdp, pi = small_mdp_and_policy(seed=1)
    V = envs.policy_values(mdp, pi, gamma)
    bellman = lambda V: np.sum(pi * (mdp.R + gamma * mdp.P @ V), axis=1)  # noqa: E731
    np.testing.assert_allclose(V, bellman(V), atol=1e-12)
    iterated = np.zeros(len(V))
    for _ in range(400):  # a contraction by γ·0.9 (every step ends the episode with probability 0.1): 0.9^400 ≈ 5e-19
        iterated = bellman(iterated)
    np.testing.assert_allclose(V, iterated, atol=1e-12)


@pytest.mark.parametrize("gamma", [0.0, 0.9, 1.0])
def test_policy_advantages_are_q_minus_v_and_average_to_zero_under_pi(gamma):
    """A^π(s, a) = Q^π(s, a) − V^π(s) with Q^π(s, a) = R(s, a) + γ Σ_s′ P(s, a, s′) V^π(s′), and Σ_a π(a|s) A^π(s, a) = 0."""
    mdp, pi = small_mdp_and_policy(seed=2)
    V, A = envs.policy_values(mdp, pi, gamma), envs.policy_advantages(mdp, pi, gamma)
    assert A.shape == mdp.R.shape
    Q = np.array([[mdp.R[s, a] + gamma * sum(mdp.P[s, a, t] * V[t] for t in range(len(V))) for a in range(A.shape[1])]
                  for s in range(len(V))])
    np.testing.assert_allclose(A, Q - V[:, None], atol=1e-12)
    np.testing.assert_allclose(np.sum(pi * A, axis=1), 0.0, atol=1e-12)


@pytest.mark.slow
def test_policy_values_and_advantages_match_monte_carlo_returns():
    """Mean discounted returns of the gymnasium SmallMDP, started in s with first action a and then following π,
    estimate Q^π(s, a); weighted by π they estimate V^π(s). n returns per (s, a) have a standard error of about
    std/√n, so each estimate must lie within 4 standard errors of the exact value (a 4σ miss has probability
    about 6e-5 per comparison; the seed is fixed, so the test is deterministic)."""
    gamma, n = 0.9, 1500
    env = gym.make("rl_course/SmallMDP-v0", n_states=4, n_actions=2, seed=3)
    mdp = env.unwrapped.mdp
    pi = np.random.default_rng(103).dirichlet(np.ones(2), size=4)
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    returns = np.zeros((4, 2, n))
    for s in range(4):
        for a in range(2):
            for i in range(n):
                env.reset()
                env.unwrapped._state = s
                action, G, discount, done = a, 0.0, 1.0, False
                while not done:
                    state, r, done, _, _ = env.step(action)
                    G += discount * r
                    discount *= gamma
                    action = int(rng.choice(2, p=pi[state]))
                returns[s, a, i] = G
    Q_mc, Q_se = returns.mean(axis=2), returns.std(axis=2, ddof=1) / np.sqrt(n)
    V, A = envs.policy_values(mdp, pi, gamma), envs.policy_advantages(mdp, pi, gamma)
    assert np.all(np.abs(Q_mc - (A + V[:, None])) < 4 * Q_se), (Q_mc, A + V[:, None], Q_se)
    V_mc, V_se = np.sum(pi * Q_mc, axis=1), np.sqrt(np.sum((pi * Q_se) ** 2, axis=1))  # independent samples per (s, a)
    assert np.all(np.abs(V_mc - V) < 4 * V_se), (V_mc, V, V_se)
    A_mc = Q_mc - V_mc[:, None]
    assert np.all(np.abs(A_mc - A) < 4 * (Q_se + V_se[:, None])), (A_mc, A)
    assert np.all(Q_se < 0.1)  # the test has power: an error of 0.4 in any Q(s, a) would be caught


def test_a_policy_that_is_not_a_distribution_is_refused():
    mdp, pi = small_mdp_and_policy()
    for bad in (pi[:, :2], pi * 2, -pi):
        with pytest.raises(ValueError, match="table of action probabilities"):
            envs.policy_values(mdp, bad, 0.9)
