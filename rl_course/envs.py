"""Environments whose true values are known, registered with gymnasium.

``rl_course/RandomWalk-v0`` is the random walk of the TD(λ) lectures: a row of
``n_states`` non-terminal states between two terminal ones, started in the middle,
moving left or right at random, with reward −1 for falling off the left end and +1
for the right end.

``rl_course/SmallMDP-v0`` is a small random MDP with actions, whose exact values
V^π and advantages A^π of any policy come from one linear solve.
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np
from gymnasium import spaces

RANDOM_WALK_ID = "rl_course/RandomWalk-v0"
SMALL_MDP_ID = "rl_course/SmallMDP-v0"

LEFT, RIGHT = 0, 1


def random_walk_true_values(n_states: int = 19) -> np.ndarray:
    """True values of the uniformly random policy on the random walk, γ = 1.

    States are numbered 0 … n+1, with 0 and n+1 terminal. The walk is a fair
    gambler's ruin, so the probability of leaving on the right from state i is
    i / (n+1), and

        V(i) = (+1)·i/(n+1) + (−1)·(1 − i/(n+1)) = 2i/(n+1) − 1,   V(0) = V(n+1) = 0.

    For 19 states this is V(i) = (i − 10)/10: −0.9, −0.8, …, 0.9.
    """
    _check_n_states(n_states)
    i = np.arange(n_states + 2)
    values = 2.0 * i / (n_states + 1) - 1.0
    values[[0, -1]] = 0.0
    return values


def markov_reward_process_values(P: np.ndarray, r: np.ndarray, gamma: float) -> np.ndarray:
    """Exact values of a Markov reward process by a linear solve.

    V = r + γ P V   ⇔   (I − γ P) V = r,

    where P[s, s′] is the transition matrix under the policy (rows of terminal
    states all zero) and r[s] the expected reward on leaving s.
    """
    P = np.asarray(P, dtype=float)
    r = np.asarray(r, dtype=float)
    if P.ndim != 2 or P.shape[0] != P.shape[1] or r.shape != (P.shape[0],):
        raise ValueError(f"P must be (S, S) and r (S,); got P {P.shape} and r {r.shape}")
    return np.linalg.solve(np.eye(len(r)) - gamma * P, r)



class RandomWalk(gym.Env):
    """The random walk: states 0 … n+1, terminals at both ends, start in the middle.

    Observation: the index of the current state (``Discrete(n_states + 2)``).
    Actions: 0 = left, 1 = right; the lectures' policy π picks them uniformly.
    Reward: −1 on reaching state 0, +1 on reaching state n+1, else 0.
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(self, n_states: int = 19, render_mode: str | None = None):
        _check_n_states(n_states)
        if render_mode not in (None, "ansi"):
            raise ValueError(f"render_mode must be None or 'ansi', got {render_mode!r}")
        self.n_states = n_states
        self.start_state = (n_states + 1) // 2
        self.observation_space = spaces.Discrete(n_states + 2)
        self.action_space = spaces.Discrete(2)
        self.render_mode = render_mode
        self.true_values = random_walk_true_values(n_states)
        self._state = self.start_state

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._state = self.start_state
        return self._state, {}

    def step(self, action):
        if not self.action_space.contains(action):
            raise ValueError(f"action must be 0 (left) or 1 (right), got {action!r}")
        if self._state in (0, self.n_states + 1):
            raise RuntimeError("the episode has ended: call reset() before step()")
        self._state += 1 if action == RIGHT else -1
        terminated = self._state in (0, self.n_states + 1)
        reward = -1.0 if self._state == 0 else (1.0 if self._state == self.n_states + 1 else 0.0)
        return self._state, reward, terminated, False, {}

    def render(self):
        if self.render_mode == "ansi":
            cells = ["T"] + ["."] * self.n_states + ["T"]
            cells[self._state] = "@"
            return "".join(cells)
        return None


@dataclass(frozen=True)
class TabularMDP:
    """P[s, a, s′]: probability of moving to non-terminal s′ (the missing mass of each row ends the episode);
    R[s, a]: the reward of taking a in s; start[s]: the start distribution."""

    P: np.ndarray
    R: np.ndarray
    start: np.ndarray


def random_mdp(n_states: int = 6, n_actions: int = 2, end_probability: float = 0.1, seed: int = 0) -> TabularMDP:
    """A random MDP: each (s, a) ends the episode with ``end_probability``, else moves to a random next state."""
    if n_states < 1 or n_actions < 1 or not 0 < end_probability <= 1:
        raise ValueError(f"need n_states ≥ 1, n_actions ≥ 1 and 0 < end_probability ≤ 1; got {n_states}, {n_actions}, {end_probability}")
    rng = np.random.default_rng(seed)
    P = rng.dirichlet(np.full(n_states, 0.5), size=(n_states, n_actions)) * (1 - end_probability)
    R = rng.uniform(-1, 1, size=(n_states, n_actions))
    return TabularMDP(P=P, R=R, start=np.full(n_states, 1.0 / n_states))


def policy_values(mdp: TabularMDP, pi: np.ndarray, gamma: float) -> np.ndarray:
    """Exact V^π by a linear solve: (I − γ P_π) V = r_π with P_π[s, s′] = Σ_a π(a|s) P[s, a, s′], r_π(s) = Σ_a π(a|s) R[s, a]."""
    pi = _check_policy(mdp, pi)
    P_pi = np.einsum("sa,sat->st", pi, mdp.P)
    r_pi = (pi * mdp.R).sum(axis=1)
    return markov_reward_process_values(P_pi, r_pi, gamma)


def policy_advantages(mdp: TabularMDP, pi: np.ndarray, gamma: float) -> np.ndarray:
    """Exact A^π(s, a) = Q^π(s, a) − V^π(s), with Q^π(s, a) = R[s, a] + γ Σ_s′ P[s, a, s′] V^π(s′)."""
    V = policy_values(mdp, pi, gamma)
    return mdp.R + gamma * mdp.P @ V - V[:, None]


class SmallMDP(gym.Env):
    """A small random MDP (see ``random_mdp``): observation = state index, reward R[s, a]."""

    metadata = {"render_modes": []}

    def __init__(self, n_states: int = 6, n_actions: int = 2, end_probability: float = 0.1, seed: int = 0):
        self.mdp = random_mdp(n_states, n_actions, end_probability, seed)
        self.observation_space = spaces.Discrete(n_states)
        self.action_space = spaces.Discrete(n_actions)
        self._state = 0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self._state = int(self.np_random.choice(len(self.mdp.start), p=self.mdp.start))
        return self._state, {}

    def step(self, action):
        if not self.action_space.contains(action):
            raise ValueError(f"action must be in 0 … {self.action_space.n - 1}, got {action!r}")
        reward = float(self.mdp.R[self._state, action])
        moves = self.mdp.P[self._state, action]
        u = self.np_random.random()
        terminated = u >= moves.sum()
        if not terminated:
            self._state = int(min(np.searchsorted(np.cumsum(moves), u, side="right"), len(moves) - 1))
        return self._state, reward, bool(terminated), False, {}


def _check_policy(mdp: TabularMDP, pi) -> np.ndarray:
    pi = np.asarray(pi, dtype=float)
    if pi.shape != mdp.R.shape or np.any(pi < 0) or not np.allclose(pi.sum(axis=1), 1.0):
        raise ValueError(f"pi must be a {mdp.R.shape} table of action probabilities, each row summing to 1")
    return pi


def _check_n_states(n_states) -> None:
    if not isinstance(n_states, (int, np.integer)) or n_states < 1 or n_states % 2 == 0:
        raise ValueError(f"n_states must be a positive odd integer (the walk starts in the middle), got {n_states!r}")


if RANDOM_WALK_ID not in gym.registry:
    gym.register(id=RANDOM_WALK_ID, entry_point="rl_course.envs:RandomWalk")
if SMALL_MDP_ID not in gym.registry:
    gym.register(id=SMALL_MDP_ID, entry_point="rl_course.envs:SmallMDP")
