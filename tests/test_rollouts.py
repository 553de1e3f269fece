import gymnasium as gym
import numpy as np
import pytest

from rl_course import advantages, rollouts


def fingerprint(obs):
    """A value function that identifies the observation it was given."""
    obs = np.atleast_2d(obs)
    return 1000 * obs[:, 0] + obs[:, 2]


def always_left(obs):
    return np.zeros(len(obs), dtype=int), np.zeros(len(obs))


@pytest.fixture(scope="module")
def rollout():
    envs = rollouts.make_vector_env("CartPole-v1", 3, max_episode_steps=7)
    obs, _ = envs.reset(seed=0)
    return rollouts.collect_rollout(envs, obs, always_left, fingerprint, n_steps=20)


def test_shapes(rollout):
    assert rollout.observations.shape == (20, 3, 4)
    for name in ("actions", "log_probs", "rewards", "terminated", "truncated", "values", "next_values"):
        assert getattr(rollout, name).shape == (20, 3), name
    assert rollout.last_observations.shape == (3, 4)


def test_values_belong_to_the_stored_observations(rollout):
    np.testing.assert_allclose(rollout.values, fingerprint(rollout.observations.reshape(-1, 4)).reshape(20, 3))


def test_no_transition_mixes_two_episodes(rollout):
    """Always pushing left ends CartPole in ~9 steps, but the time limit of 7 cuts it first."""
    assert rollout.truncated[6].all() and rollout.truncated[13].all() and not rollout.terminated.any()
    continuing = ~rollout.dones[:-1]
    np.testing.assert_allclose(rollout.next_values[:-1][continuing], rollout.values[1:][continuing])
    # after a cut the next stored observation is a fresh start, while the bootstrap value is of the real final one
    assert np.abs(rollout.observations[7]).max() <= 0.05
    assert (np.abs(rollout.next_values[6] - rollout.values[7]) > 1).all()
    np.testing.assert_allclose(rollout.next_values[-1], fingerprint(rollout.last_observations))


def test_terminated_steps_have_no_next_value():
    envs = rollouts.make_vector_env("CartPole-v1", 2)
    obs, _ = envs.reset(seed=1)
    rollout = rollouts.collect_rollout(envs, obs, always_left, fingerprint, n_steps=15)
    assert rollout.terminated.any(axis=0).all()
    assert (rollout.next_values[rollout.terminated] == 0).all()


def test_truncation_matters_for_the_advantages(rollout):
    """Treating the time limit as termination throws away the value of the real final observation."""
    r = rollout
    right = advantages.gae(r.rewards, r.values, r.next_values, r.terminated, r.truncated, 0.99, 0.95)
    wrong = advantages.gae(r.rewards, r.values, r.next_values, r.dones, np.zeros_like(r.truncated), 0.99, 0.95)
    # on the step the time limit cut, the whole difference is the bootstrap γ V(final observation)
    np.testing.assert_allclose(right[6] - wrong[6], 0.99 * r.next_values[6])
    assert np.abs(r.next_values[6]).min() > 1


def test_errors_are_explained():
    with pytest.raises(ValueError, match="unknown environment 'CartPol-v1'; did you mean CartPole-v1"):
        rollouts.make_vector_env("CartPol-v1", 2)
    plain = gym.make_vec("CartPole-v1", num_envs=2, vectorization_mode="sync")
    with pytest.raises(ValueError, match="SAME_STEP autoreset"):
        rollouts.collect_rollout(plain, plain.reset(seed=0)[0], always_left, fingerprint, 3)
