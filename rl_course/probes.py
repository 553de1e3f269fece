"""What a test hands one of the student's functions in the student's kernel, where plain data will not do.

- Stand-ins that a test puts in place of one of the student's functions for one call
  (``checks.call_replacing``), to see how another of the student's functions uses it. Each takes the
  student's own function first, then the probe's arguments, then the arguments of the call it stands in for.
- Harnesses that call one of the student's functions on live objects built where it runs
  (``checks.call_through``): environments, and the fixed policies and critic that drive them. Each takes the
  student's function first, then plain data.

They hold no expected value: the test compares what comes out with what the reference gives on the same probe.
"""

from __future__ import annotations

import numpy as np

# A fixed critic for CartPole-v1 observations (x, ẋ, θ, θ̇): V(s) = 0.1 tanh(w·s) + 0.05, distinct from state to state.
CRITIC_WEIGHTS = np.array([0.8, -0.5, 3.0, 0.4])


def add_marker(n_step_estimates, marked_n: int, rewards, values, n, gamma: float = 1.0) -> np.ndarray:
    """Ψ₍N₎ from the student's ``n_step_estimates``, with 1 added to Ψ₍N₎(s_t) where N = ``marked_n`` and t + N < T:
    the forward view then grows by exactly its weight (1 − λ)λ^{N−1} of Ψ₍N₎ at those t."""
    out = np.array(n_step_estimates(rewards, values, n, gamma), dtype=float)
    if n == marked_n:
        out[: len(out) - marked_n] += 1.0
    return out


def value(obs) -> np.ndarray:
    """V(s) = 0.1 tanh(w·s) + 0.05 (``CRITIC_WEIGHTS``) for a batch of CartPole-v1 observations, shape (n, 4) → (n,)."""
    return 0.1 * np.tanh(np.asarray(obs, dtype=float) @ CRITIC_WEIGHTS) + 0.05


def greedy(obs) -> tuple[np.ndarray, np.ndarray]:
    """Push the cart toward where the pole leans (θ + 0.3 θ̇ > 0: right), with log-probability 0."""
    obs = np.asarray(obs)
    return (obs[:, 2] + 0.3 * obs[:, 3] > 0).astype(int), np.zeros(len(obs))


def labelled(obs) -> tuple[np.ndarray, np.ndarray]:
    """``greedy``'s actions with the log-probability −|x|, which differs from step to step: it shows which is stored where."""
    return greedy(obs)[0], -np.abs(np.asarray(obs, dtype=float)[:, 0])


def push_left(obs) -> tuple[np.ndarray, np.ndarray]:
    """Always push left (action 0, log-probability 0): a pole falls in about 9 steps."""
    return np.zeros(len(obs), dtype=int), np.zeros(len(obs))


def p_right(obs) -> np.ndarray:
    """π(right | s) = σ(3θ + θ̇) of the stochastic policy (``stochastic``), for observations of any leading shape."""
    obs = np.asarray(obs, dtype=float)
    return 1 / (1 + np.exp(-(3 * obs[..., 2] + obs[..., 3])))


def stochastic(seed: int):
    """A policy that samples right with probability ``p_right(s)`` from its own generator, seeded with ``seed``;
    it returns the log-probability of the action it took."""
    sampler = np.random.default_rng(seed)

    def policy(obs):
        p = p_right(obs)
        actions = (sampler.random(len(p)) < p).astype(int)
        return actions, np.log(np.where(actions == 1, p, 1 - p))

    return policy


POLICIES = {"greedy": lambda: greedy, "labelled": lambda: labelled, "left": lambda: push_left, "stochastic": lambda: stochastic(3)}


def rollout_of(collect_rollout, n_envs: int, n_steps: int, seed: int, policy: str = "greedy", **env_kwargs):
    """``collect_rollout(envs, envs.reset(seed=seed)[0], POLICIES[policy](), value, n_steps)`` on ``n_envs`` fresh
    CartPole-v1 environments (``rollouts.make_vector_env``, with ``env_kwargs`` such as ``max_episode_steps``)."""
    from rl_course import rollouts

    envs = rollouts.make_vector_env("CartPole-v1", n_envs, **env_kwargs)
    try:
        return collect_rollout(envs, envs.reset(seed=seed)[0], POLICIES[policy](), value, n_steps)
    finally:
        envs.close()
