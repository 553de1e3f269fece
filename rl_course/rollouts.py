"""Rollouts from gymnasium vector environments, as (T, n_envs) arrays, with episode ends kept apart.

The vector environments use gymnasium's ``SAME_STEP`` autoreset mode: the step that ends
an episode already returns the first observation of the next one, and hands the real final
observation over in ``info["final_obs"]``. So every stored step t is a real transition
s_t → s_{t+1} of one episode, none straddles two episodes, and a step that ends by a time
limit can still bootstrap from the value of its real final observation. (The default
``NEXT_STEP`` mode instead spends one extra step per episode on the reset, a step that
would have to be masked out everywhere.)
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode

from rl_course.reference import reference


@dataclass
class Rollout:
    """T steps of n_envs environments. Step t of environment i: s_t, a_t → r_t, s_{t+1}.

    observations  (T, n, *obs)  s_t, where a_t was taken
    actions       (T, n, *act)  a_t
    log_probs     (T, n)        log π(a_t | s_t) when the action was taken
    rewards       (T, n)        r_t
    terminated    (T, n) bool   step t ended its episode in a terminal state (no future)
    truncated     (T, n) bool   step t ended its episode by a time limit (the future was cut off, not absent)
    values        (T, n)        V(s_t)
    next_values   (T, n)        V(s_{t+1}) of the same episode: on a truncated step the value of the real
                                final observation, on a terminated step 0, after the last step the value
                                of the observation the next rollout starts from
    last_observations (n, *obs) the observations the next rollout starts from
    episode_returns, episode_lengths   the episodes that finished during the rollout
    """

    observations: np.ndarray
    actions: np.ndarray
    log_probs: np.ndarray
    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    values: np.ndarray
    next_values: np.ndarray
    last_observations: np.ndarray
    episode_returns: list = field(default_factory=list)
    episode_lengths: list = field(default_factory=list)

    @property
    def dones(self) -> np.ndarray:
        """done_{t+1} of the lecture: step t ended its episode, for either reason."""
        return self.terminated | self.truncated


def make_vector_env(env_id: str, n_envs: int, seed: int | None = None, **env_kwargs) -> gym.vector.VectorEnv:
    """``n_envs`` copies of ``env_id`` stepped in turn (``SyncVectorEnv``), with SAME_STEP autoreset,
    recording the return and length of every finished episode (gymnasium's ``RecordEpisodeStatistics``)."""
    if n_envs < 1:
        raise ValueError(f"n_envs must be at least 1, got {n_envs}")
    if env_id not in gym.registry:
        close = difflib.get_close_matches(env_id, list(gym.registry), n=3)
        raise ValueError(f"unknown environment {env_id!r}" + (f"; did you mean {', '.join(close)}?" if close else ""))
    envs = gym.make_vec(env_id, num_envs=n_envs, vectorization_mode="sync",
                        vector_kwargs={"autoreset_mode": AutoresetMode.SAME_STEP}, **env_kwargs)
    if seed is not None:
        envs.action_space.seed(seed)
    return gym.wrappers.vector.RecordEpisodeStatistics(envs)


@reference
def collect_rollout(
    envs: gym.vector.VectorEnv,
    observations: np.ndarray,
    policy: Callable[[np.ndarray], tuple[np.ndarray, ...]],
    value: Callable[[np.ndarray], np.ndarray],
    n_steps: int,
    to_env: Callable[[np.ndarray], np.ndarray] | None = None,
) -> Rollout:
    """Run ``policy`` for ``n_steps`` steps from ``observations`` and record a ``Rollout``.

    ``policy(obs)`` returns (actions, log_probs) for a batch of observations, ``value(obs)``
    the values V(obs). A policy may also return (actions, log_probs, values), the values V(obs)
    from the same pass (an actor-critic evaluates both networks at once): then ``value`` is only
    called for the observations the policy never sees (final observations of cut episodes, the
    last observations). ``to_env(actions)``, if given, turns the stored actions into the ones
    sent to the environments (e.g. clipped to the action bounds). ``envs`` must use SAME_STEP
    autoreset (``make_vector_env``). Episodes that finish are listed in ``episode_returns``
    and ``episode_lengths`` when ``envs`` records them (``make_vector_env`` does).
    """
    if envs.metadata.get("autoreset_mode") != AutoresetMode.SAME_STEP:
        raise ValueError("collect_rollout needs SAME_STEP autoreset: build the environments with rl_course.rollouts.make_vector_env")
    if n_steps < 1:
        raise ValueError(f"n_steps must be at least 1, got {n_steps}")
    n = envs.num_envs
    obs = np.asarray(observations)
    steps = {key: [] for key in ("observations", "actions", "log_probs", "rewards", "terminated", "truncated", "values")}
    next_values = np.zeros((n_steps, n))
    episode_returns, episode_lengths = [], []
    for t in range(n_steps):
        decision = policy(obs)
        if len(decision) == 3:  # the policy computed V(obs) on the way
            actions, log_probs, values = decision
        else:
            (actions, log_probs), values = decision, value(obs)
        values = np.asarray(values, dtype=float)
        next_obs, rewards, terminated, truncated, info = envs.step(actions if to_env is None else to_env(actions))
        if "episode" in info:
            finished = np.flatnonzero(info["_episode"])
            episode_returns += info["episode"]["r"][finished].tolist()
            episode_lengths += info["episode"]["l"][finished].tolist()
        if t > 0:  # a step that did not end its episode continues from the observation the next one starts at
            continuing = ~(steps["terminated"][-1] | steps["truncated"][-1])
            next_values[t - 1, continuing] = values[continuing]
        cut = truncated & ~terminated
        if cut.any():
            final = np.stack([info["final_obs"][i] for i in np.flatnonzero(cut)])
            next_values[t, cut] = np.asarray(value(final), dtype=float)
        for key, item in zip(steps, (obs, actions, log_probs, rewards, terminated, truncated, values), strict=True):
            steps[key].append(np.asarray(item))
        obs = next_obs
    continuing = ~(steps["terminated"][-1] | steps["truncated"][-1])
    next_values[-1, continuing] = np.asarray(value(obs), dtype=float)[continuing]
    arrays = {key: np.stack(items) for key, items in steps.items()}
    return Rollout(
        observations=arrays["observations"],
        actions=arrays["actions"],
        log_probs=arrays["log_probs"].astype(float),
        rewards=arrays["rewards"].astype(float),
        terminated=arrays["terminated"].astype(bool),
        truncated=(arrays["truncated"] & ~arrays["terminated"]).astype(bool),
        values=arrays["values"],
        next_values=next_values,
        last_observations=obs,
        episode_returns=episode_returns,
        episode_lengths=episode_lengths,
    )
