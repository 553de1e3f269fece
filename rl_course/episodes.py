"""Recorded episodes for tabular TD(λ): ``Episode`` (s_0 … s_T and r_0 … r_{T−1}), sampling them from a gymnasium
environment (``sample_episodes``, ``random_walk_runs``), and ``EpisodeStream``, each run's episodes laid end to end as
arrays, which the vectorized sweep (``rl_course.tabular.td_lambda_sweep``) steps through."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import gymnasium as gym
import numpy as np


@dataclass(frozen=True)
class Episode:
    """One finished episode: ``states`` s_0 … s_T (s_T terminal) and ``rewards`` r_0 … r_{T−1}."""

    states: np.ndarray
    rewards: np.ndarray

    def __post_init__(self):
        states = np.asarray(self.states)
        rewards = np.asarray(self.rewards, dtype=float)
        if states.ndim != 1 or rewards.ndim != 1 or len(states) != len(rewards) + 1:
            raise ValueError(
                "an episode needs states s_0 … s_T and rewards r_0 … r_{T-1} (one fewer); "
                f"got {states.shape} states and {rewards.shape} rewards"
            )
        object.__setattr__(self, "states", states.astype(int))
        object.__setattr__(self, "rewards", rewards)

    def __len__(self) -> int:
        return len(self.rewards)


def sample_episodes(env: gym.Env, n_episodes: int, seed: int, policy=None) -> list[Episode]:
    """Roll out ``n_episodes`` episodes of ``policy`` (uniformly random if None) in ``env``.

    The environment is seeded once with ``seed`` and the actions come from a generator
    seeded with it, so the same seed gives the same episodes on every machine.
    """
    rng = np.random.default_rng(seed)
    n_actions = env.action_space.n
    episodes = []
    obs, _ = env.reset(seed=seed)
    for _ in range(n_episodes):
        states, rewards = [obs], []
        done = False
        while not done:
            action = int(rng.integers(n_actions)) if policy is None else policy(obs)
            obs, reward, terminated, truncated, _ = env.step(action)
            states.append(obs)
            rewards.append(reward)
            if truncated and not terminated:
                raise ValueError("tabular TD(λ) here needs episodes that end in a terminal state, not a time limit")
            done = terminated
        episodes.append(Episode(np.array(states), np.array(rewards)))
        obs, _ = env.reset()
    return episodes


class EpisodeStream:
    """Each run's episodes laid end to end, padded to the longest run: arrays shaped (runs, steps)."""

    def __init__(self, runs: Sequence[Sequence[Episode]]):
        if len(runs) == 0 or any(len(r) != len(runs[0]) or len(r) == 0 for r in runs):
            raise ValueError("runs must be a non-empty list of runs, each with the same (non-zero) number of episodes")
        self.n_runs, self.n_episodes = len(runs), len(runs[0])
        lengths = [sum(len(ep) for ep in run) for run in runs]
        self.length = max(lengths)
        shape = (self.n_runs, self.length)
        self.states = np.zeros(shape, dtype=int)
        self.next_states = np.zeros(shape, dtype=int)
        self.rewards = np.zeros(shape)
        self.first = np.zeros(shape, dtype=bool)
        self.last = np.zeros(shape, dtype=bool)
        self.active = np.zeros(shape)
        for r, run in enumerate(runs):
            t = 0
            for ep in run:
                T = len(ep)
                self.states[r, t : t + T] = ep.states[:-1]
                self.next_states[r, t : t + T] = ep.states[1:]
                self.rewards[r, t : t + T] = ep.rewards
                self.first[r, t] = True
                self.last[r, t + T - 1] = True
                self.active[r, t : t + T] = 1.0
                t += T


def random_walk_runs(n_runs: int = 100, n_episodes: int = 10, n_states: int = 19, seed: int = 0) -> list[list[Episode]]:
    """Episodes of the random policy on ``rl_course/RandomWalk-v0``: ``n_runs`` lists of ``n_episodes``.

    Run i uses seed ``seed + i``, so runs are independent and reproducible.
    """
    env = gym.make("rl_course/RandomWalk-v0", n_states=n_states)
    try:
        return [sample_episodes(env, n_episodes, seed=seed + i) for i in range(n_runs)]
    finally:
        env.close()
