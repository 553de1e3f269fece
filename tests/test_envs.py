import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import rl_course  # noqa: F401
from rl_course import envs


def test_true_values_closed_form_matches_linear_solve():
    for n in (5, 19):
        P, r = envs.random_walk_mrp(n)
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
