import gymnasium as gym
import numpy as np
import pytest

from rl_course import envs, tabular
from rl_course.tabular import Episode

V_TRUE = envs.random_walk_true_values(19)


@pytest.fixture(scope="module")
def episodes():
    return tabular.sample_episodes(gym.make("rl_course/RandomWalk-v0"), 6, seed=3)


@pytest.fixture(scope="module")
def V0():
    return np.r_[0.0, np.random.default_rng(0).uniform(-1, 1, 19), 0.0]


def td0(V, episode, alpha, gamma=1.0):
    """TD(0) written out step by step, independently of the trace machinery."""
    V = V.copy()
    T = len(episode)
    for k in range(T):
        s, s_next = episode.states[k], episode.states[k + 1]
        V[s] += alpha * (episode.rewards[k] + (0.0 if k == T - 1 else gamma * V[s_next]) - V[s])
    return V


def lambda_return_offline(V, episode, alpha, lam, gamma):
    """The offline λ-return algorithm (forward view): V(s_k) += α (G^λ_k − V(s_k)), summed, applied at the end."""
    T, r, s = len(episode), episode.rewards, episode.states
    values = np.r_[V[s[:-1]], 0.0]
    G_lam = np.zeros(T + 1)
    for k in range(T - 1, -1, -1):  # G^λ_k = r_k + γ((1−λ) V(s_{k+1}) + λ G^λ_{k+1})
        G_lam[k] = r[k] + gamma * ((1 - lam) * values[k + 1] + lam * G_lam[k + 1])
    return V + alpha * np.bincount(s[:-1], weights=G_lam[:-1] - values[:-1], minlength=len(V))


def test_worked_example():
    V = tabular.td_lambda_episode(np.zeros(5), Episode([2, 3, 4], [0.0, 1.0]), alpha=0.5, lam=0.5)
    np.testing.assert_allclose(V, [0, 0, 0.25, 0.5, 0])


def test_td_error_never_bootstraps_past_the_end():
    V = np.array([5.0, 0.2, 0.5, 7.0])
    assert tabular.td_error(V, 1, -1.0, 0, terminated=True) == pytest.approx(-1.2)
    assert tabular.td_error(V, 1, 0.0, 2, terminated=False, gamma=0.5) == pytest.approx(0.05)


@pytest.mark.parametrize("gamma", [1.0, 0.9])
def test_lambda_zero_is_td0(episodes, V0, gamma):
    for ep in episodes:
        np.testing.assert_allclose(tabular.td_lambda_episode(V0, ep, 0.3, 0.0, gamma), td0(V0, ep, 0.3, gamma), atol=1e-12)


@pytest.mark.parametrize("gamma", [1.0, 0.9])
def test_offline_lambda_one_is_every_visit_monte_carlo(episodes, V0, gamma):
    for ep in episodes:
        G = tabular.discounted_returns(ep.rewards, gamma)
        visited = ep.states[:-1]
        expected = V0 + 0.05 * np.bincount(visited, weights=G - V0[visited], minlength=21)
        got = tabular.td_lambda_episode(V0, ep, 0.05, 1.0, gamma, online=False)
        np.testing.assert_allclose(got, expected, atol=1e-12)


@pytest.mark.parametrize("lam", [0.0, 0.4, 0.8, 1.0])
def test_offline_td_lambda_equals_the_offline_lambda_return(episodes, V0, lam):
    for ep in episodes:
        got = tabular.td_lambda_episode(V0, ep, 0.1, lam, 0.9, online=False)
        np.testing.assert_allclose(got, lambda_return_offline(V0, ep, 0.1, lam, 0.9), atol=1e-10)


def test_terminal_values_stay_zero_and_input_is_untouched(episodes, V0):
    before = V0.copy()
    for lam in (0.0, 0.5, 1.0):
        V = tabular.td_lambda_episode(V0, episodes[0], 0.2, lam)
        assert V[0] == 0.0 and V[-1] == 0.0
    np.testing.assert_array_equal(V0, before)


def test_replacing_traces_differ_only_on_revisits():
    once = Episode([2, 3, 4], [0.0, 1.0])
    V = np.array([0.0, 0.1, 0.2, 0.3, 0.0])
    np.testing.assert_allclose(tabular.td_lambda_episode(V, once, 0.5, 0.9, trace="replacing"),
                               tabular.td_lambda_episode(V, once, 0.5, 0.9))
    revisit = Episode([2, 3, 2, 3, 4], [0.0, 0.0, 0.0, 1.0])
    acc = tabular.td_lambda_episode(V, revisit, 0.5, 0.9)
    rep = tabular.td_lambda_episode(V, revisit, 0.5, 0.9, trace="replacing")
    # By hand: Ψ = −0.1 at k=0, e = (e2 = 1); the replacing trace of state 2 at the revisit is 1, not 1 + 0.81.
    assert not np.allclose(acc, rep)
    assert acc[2] != rep[2]


def test_vectorized_sweep_equals_the_plain_loop():
    runs = tabular.random_walk_runs(n_runs=8, n_episodes=5, seed=7)
    alphas, lams = [0.0, 0.1, 0.5, 1.0], [0.0, 0.6, 1.0]
    for trace in tabular.TRACES:
        fast = tabular.td_lambda_sweep(runs, V_TRUE, alphas, lams, trace=trace, progress=False)
        slow = tabular.td_lambda_sweep_loop(runs, V_TRUE, alphas, lams, trace=trace, progress=False)
        np.testing.assert_allclose(fast, slow, rtol=1e-12)
    assert np.isinf(fast[-1, -1]) or fast[-1, -1] > fast[-1, 1]  # λ = 1, α = 1 is the worst of its row


@pytest.mark.slow
def test_sweep_reproduces_the_textbook_figure():
    """RMS error over the first 10 episodes, 100 runs: intermediate λ is best, as in the textbook."""
    runs = tabular.random_walk_runs(n_runs=100, n_episodes=10, seed=0)
    alphas, lams = np.array(tabular.FIGURE_ALPHAS), np.array(tabular.FIGURE_LAMS)
    errors = tabular.td_lambda_sweep(runs, V_TRUE, alphas, lams, progress=False)
    best = errors.min(axis=1)
    assert errors[:, 0] == pytest.approx(np.sqrt(0.3))  # α = 0 never moves from V = 0
    assert 0.24 < best[lams == 0.8][0] < 0.29
    assert best.argmin() in (1, 2, 3)  # λ ∈ {0.4, 0.8, 0.9}
    assert best[lams == 0.8][0] < best[0] - 0.05 and best[lams == 0.8][0] < best[-1] - 0.15
    assert alphas[errors[0].argmin()] > 0.5 and alphas[errors[-1].argmin()] < 0.1  # large λ wants a small α
    assert np.isinf(errors[-1, -1])  # online TD(1) with α = 1 diverges


def test_sample_episodes_is_reproducible_and_ends_at_a_terminal():
    env = gym.make("rl_course/RandomWalk-v0")
    a, b = tabular.sample_episodes(env, 3, seed=5), tabular.sample_episodes(env, 3, seed=5)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.states, y.states)
        assert x.states[0] == 10 and x.states[-1] in (0, 20)
        assert x.rewards[-1] == (1.0 if x.states[-1] == 20 else -1.0) and not x.rewards[:-1].any()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(alpha=-0.1, lam=0.5), "alpha must be ≥ 0"),
        (dict(alpha=0.1, lam=1.5), r"lam \(λ\) must be in \[0, 1\]"),
        (dict(alpha=0.1, lam=0.5, trace="dutch"), "trace must be one of"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tabular.td_lambda_episode(np.zeros(5), Episode([2, 3, 4], [0.0, 1.0]), **kwargs)


def test_bad_episodes_are_explained():
    with pytest.raises(ValueError, match="one fewer"):
        Episode([1, 2, 3], [0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="outside the table V"):
        tabular.td_lambda_episode(np.zeros(3), Episode([2, 3, 4], [0.0, 1.0]), 0.1, 0.5)
    with pytest.raises(ValueError, match="1-D table"):
        tabular.td_lambda_episode(np.zeros((5, 2)), Episode([2, 3, 4], [0.0, 1.0]), 0.1, 0.5)


@pytest.mark.parametrize("lam", [0.0, 0.5, 0.9, 1.0])
def test_true_online_td_lambda_equals_the_online_lambda_return(episodes, V0, lam):
    for ep in episodes[:3]:
        np.testing.assert_allclose(tabular.true_online_td_lambda_episode(V0, ep, 0.1, lam, 0.9),
                                   tabular.online_lambda_return_episode(V0, ep, 0.1, lam, 0.9), atol=1e-12)


def test_online_td_lambda_differs_from_the_online_lambda_return(episodes, V0):
    gap = np.abs(tabular.td_lambda_episode(V0, episodes[0], 0.1, 0.9, 0.9)
                 - tabular.online_lambda_return_episode(V0, episodes[0], 0.1, 0.9, 0.9)).max()
    assert gap > 1e-3


@pytest.mark.parametrize("lam", [0.0, 0.7, 1.0])
def test_offline_lambda_return_algorithm_equals_offline_td_lambda(episodes, V0, lam):
    for ep in episodes:
        np.testing.assert_allclose(tabular.offline_lambda_return_episode(V0, ep, 0.1, lam, 0.9),
                                   tabular.td_lambda_episode(V0, ep, 0.1, lam, 0.9, online=False), atol=1e-12)
        np.testing.assert_allclose(tabular.offline_lambda_return_episode(V0, ep, 0.1, lam, 0.9),
                                   lambda_return_offline(V0, ep, 0.1, lam, 0.9), atol=1e-12)


def test_true_online_lambda_zero_is_td0(episodes, V0):
    for ep in episodes:
        np.testing.assert_allclose(tabular.true_online_td_lambda_episode(V0, ep, 0.3, 0.0, 0.9), td0(V0, ep, 0.3, 0.9), atol=1e-12)


@pytest.mark.parametrize(
    "sweep_kwargs, episode_fn, loop_kwargs",
    [
        (dict(trace="dutch"), tabular.true_online_td_lambda_episode, {}),
        (dict(online=False), tabular.td_lambda_episode, dict(online=False)),
        (dict(online=False, trace="replacing"), tabular.td_lambda_episode, dict(online=False, trace="replacing")),
    ],
)
def test_vectorized_sweep_equals_the_loop_for_every_algorithm(sweep_kwargs, episode_fn, loop_kwargs):
    runs = tabular.random_walk_runs(n_runs=6, n_episodes=4, seed=9)
    alphas, lams = [0.0, 0.1, 0.6], [0.0, 0.8, 1.0]
    fast = tabular.td_lambda_sweep(runs, V_TRUE, alphas, lams, progress=False, **sweep_kwargs)
    slow = tabular.td_lambda_sweep_loop(runs, V_TRUE, alphas, lams, episode_fn=episode_fn, progress=False, **loop_kwargs)
    np.testing.assert_allclose(fast, slow, rtol=1e-12)


def test_dutch_traces_are_online_only():
    with pytest.raises(ValueError, match="dutch traces belong to true online"):
        tabular.td_lambda_sweep([[Episode([2, 3, 4], [0.0, 1.0])]], np.zeros(5), [0.1], [0.5], trace="dutch", online=False)
