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


# ---------------------------------------------------------------- every graded function: many inputs in one call


def each(fn, calls: list) -> list:
    """``fn(*args, **kwargs)`` for each ``[args, kwargs]`` of ``calls``, in order, on those very arguments (a change made
    in place shows in ``calls`` afterwards). Per call, as data: ``result`` (tensors detached), or ``raised`` (the
    exception's type name and message); ``global_rng``: whether the call drew from numpy's, Python's or torch's global
    generator; and ``grads`` where the result is a tensor with a gradient: d(Σ_i w_i result_i)/dx for each argument
    tensor x that requires one (by position, or by keyword), w_i = 1 + i/n over the result's n entries in order,
    zeros where x does not reach the result."""
    return [_one_call(fn, list(args), dict(kwargs)) for args, kwargs in calls]


def _one_call(fn, args: list, kwargs: dict) -> dict:
    import random

    torch = _torch()
    before = _global_draws(random, torch)
    try:
        if torch is not None:
            with torch.enable_grad():
                result = fn(*args, **kwargs)
        else:
            result = fn(*args, **kwargs)
    except Exception as error:  # noqa: BLE001  (what the function raised is the answer to this call)
        return {"raised": f"{type(error).__name__}: {str(error)[:500]}", "global_rng": _global_draws(random, torch) != before}
    reply = {"global_rng": _global_draws(random, torch) != before}
    leaves = {key: x for key, x in [*enumerate(args), *kwargs.items()]
              if torch is not None and isinstance(x, torch.Tensor) and x.requires_grad}
    if leaves and isinstance(result, torch.Tensor) and result.requires_grad:
        weights = (1 + torch.arange(result.numel(), dtype=result.dtype) / max(result.numel(), 1)).reshape(result.shape)
        grads = torch.autograd.grad((result * weights).sum(), list(leaves.values()), allow_unused=True)
        reply["grads"] = {str(key): (torch.zeros_like(x) if g is None else g.detach())
                          for (key, x), g in zip(leaves.items(), grads, strict=True)}
    reply["result"] = _detached(result, torch)
    return reply


def _global_draws(random, torch) -> tuple:
    """What the global generators have drawn, in a form that compares: any draw changes it."""
    state = np.random.get_state()
    return (random.getstate(), state[1].tobytes(), state[2], state[3], state[4],
            None if torch is None else torch.random.get_rng_state().numpy().tobytes())


def _detached(value, torch):
    if torch is not None and isinstance(value, torch.Tensor):
        return value.detach()
    if isinstance(value, (tuple, list)):
        return type(value)(_detached(v, torch) for v in value)
    return value


def _torch():
    import sys

    return sys.modules.get("torch")


# ---------------------------------------------------------------- PPO (04): an agent, its optimizer and the trainer's parts


def state_of(agent) -> dict:
    """The agent's parameters by name, detached: what crosses to rebuild it elsewhere (``cartpole_agent``)."""
    return {name: tensor.detach().clone() for name, tensor in agent.state_dict().items()}


def cartpole_agent(state: dict | None = None, hidden_sizes=(64, 64)):
    """A ``ppo.ActorCritic`` for CartPole-v1, with the parameters ``state`` when given."""
    import gymnasium as gym

    from rl_course import ppo

    env = gym.make("CartPole-v1")
    agent = ppo.ActorCritic(env.observation_space, env.action_space, tuple(hidden_sizes))
    env.close()
    if state is not None:
        agent.load_state_dict(state)
    return agent


def plain_objective(ratio, advantages, eps):
    """mean(ρ Ψ): the policy-gradient surrogate without its clip (ε unused), a loss whose gradient a test can follow."""
    return (ratio * advantages).mean()


def squared_error(values, old_values, targets, eps):
    """mean((y − V)²), with neither V_old nor ε̂ used."""
    return ((targets - values) ** 2).mean()


def ppo_update_run(ppo_update, state: dict, batch: dict, config, eps: float, lr: float = 1e-3, seed: int = 0,
                   losses: str | None = None) -> dict:
    """``ppo_update(agent, optimizer, batch, config, eps)`` on ``cartpole_agent(state)`` with a fresh
    ``torch.optim.Adam(lr=lr, eps=1e-5)``, torch's generator seeded with ``seed`` first; what it did, as data:

    stats    what ppo_update returned
    state    the agent's parameters after the update; batch: the batch after it
    steps    one entry per step of the optimizer: ``params`` and ``grads`` (lists in ``agent.parameters()``
             order) just before it, and ``objective`` and ``critic``: the arguments of the last call of
             ``policy_objective`` (ratio, advantages, ε) and of ``value_loss`` (values, old values, targets, ε̂)
             since the step before, or None
    objectives, critics   the arguments of every call of ``policy_objective`` and of ``value_loss``, in order
    losses   None: ppo_update's own losses, not watched; "own": the notebook's ``clipped_surrogate`` and
             ``clipped_value_loss``, watched; "plain": ``plain_objective`` and ``squared_error``, watched
    """
    import torch

    agent = cartpole_agent(state, config.hidden_sizes)
    calls, steps, every = {}, [], {"objective": [], "critic": []}

    def watched(kind, loss):
        def watch(*args):
            calls[kind] = [a.detach().clone() if isinstance(a, torch.Tensor) else a for a in args]
            every[kind].append(calls[kind])
            return loss(*args)
        return watch

    class Recording(torch.optim.Adam):
        def step(self, closure=None):
            steps.append({"params": [p.detach().clone() for p in agent.parameters()],
                          "grads": [None if p.grad is None else p.grad.detach().clone() for p in agent.parameters()],
                          "objective": calls.pop("objective", None), "critic": calls.pop("critic", None)})
            return super().step(closure)

    kwargs = {}
    if losses is not None:
        own = ppo_update.__globals__
        objective, critic = ((own["clipped_surrogate"], own["clipped_value_loss"]) if losses == "own"
                             else (plain_objective, squared_error))
        kwargs = {"policy_objective": watched("objective", objective), "value_loss": watched("critic", critic)}
    torch.manual_seed(seed)
    stats = ppo_update(agent, Recording(agent.parameters(), lr=lr, eps=1e-5), batch, config, eps, **kwargs)
    return {"stats": stats, "state": state_of(agent), "batch": batch, "steps": steps, "objectives": every["objective"],
            "critics": every["critic"]}


# Environments of the tests: CartPole cut by a time limit after 12 steps (rollouts hold truncations and terminations).
PROBE_ENVS = {"ShortCartPole-v1": 12}


def register_probe_envs() -> None:
    """Register ``PROBE_ENVS`` with gymnasium where they are not yet."""
    import gymnasium as gym

    for env_id, limit in PROBE_ENVS.items():
        if env_id not in gym.registry:
            gym.register(env_id, entry_point="gymnasium.envs.classic_control.cartpole:CartPoleEnv", max_episode_steps=limit)


def train_ppo_run(train_ppo, config) -> dict:
    """``agent, history = train_ppo(config)``, as data: ``history`` and the trained agent's parameters ``state``."""
    register_probe_envs()
    agent, history = train_ppo(config)
    return {"history": history, "state": state_of(agent)}


def train_ppo_parts(train_ppo, config) -> dict:
    """``train_ppo(config)`` with ``rollouts.collect_rollout`` recording every rollout it collects and the notebook's
    ``ppo_update`` replaced by a recorder that does not update (it returns zeros); as data: ``collected`` (the
    rollouts), ``updates`` (per call: the optimizer's ``lr`` per parameter group, ``eps``, ``config`` and the
    ``batch``) and ``history``."""
    import torch

    from rl_course import rollouts

    collected, updates = [], []
    real_collect, own = rollouts.collect_rollout, train_ppo.__globals__
    real_update = own.get("ppo_update")

    def collect(*args, **kwargs):
        collected.append(real_collect(*args, **kwargs))
        return collected[-1]

    def update(agent, optimizer, batch, config, eps, *args, **kwargs):
        updates.append({"lr": [float(group["lr"]) for group in optimizer.param_groups], "eps": float(eps), "config": config,
                        "batch": {key: torch.as_tensor(value).detach().clone() for key, value in batch.items()}})
        return dict.fromkeys(("policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction", "explained_variance"), 0.0)

    register_probe_envs()
    rollouts.collect_rollout, own["ppo_update"] = collect, update
    try:
        _, history = train_ppo(config)
    finally:
        rollouts.collect_rollout, own["ppo_update"] = real_collect, real_update
    return {"collected": collected, "updates": updates, "history": history}
