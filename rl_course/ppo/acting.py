"""Acting during rollouts, in numpy: the speed measure of the acting path, with the figure that justifies it.

A rollout step evaluates the actor-critic on a handful of observations (8 for CartPole's defaults), where
torch's fixed cost per operation (about 5–10 µs) outweighs the arithmetic. Here the same layers run in numpy
on views of the parameters themselves (no copies: always the current weights), with the same sampling as
the torch policy (the tests pin the two together):

    h ← tanh(h Wᵀ + b) through the hidden layers;  z = h W_outᵀ + b_out   (``networks.mlp``)
    categorical:  log π(·|s) = z − log Σ_b exp z_b,  a = argmax_a (log π(a|s) + G_a), G_a ~ Gumbel(0, 1)
    Gaussian:     a = μ + σ ε, ε ~ N(0, 1),  log π(a|s) = Σ_i [−ε_i²/2 − log σ_i − ½ log 2π]

Figure (``benchmarks/ppo_speed.py``, torch 2.13, one thread, AMD EPYC with AVX-512, 2 cores, process CPU
time): acting on 8 observations 74 µs in numpy against 238 µs through torch (0.31). The optimizer's own
measure, Adam over one flat tensor, lives where the optimizer is built (``optimization.make_optimizer``).

Where the student edition withholds ``distributions.sample_actions`` (assignment 05), a Gaussian policy samples with
it instead (the student's own, from torch's generator), so that the rollouts of a training run are the student's work.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from rl_course.ppo.distributions import LOG_2PI, sample_actions
from rl_course.withheld import is_withheld


def numpy_layers(network: nn.Sequential) -> list[tuple[np.ndarray, np.ndarray]]:
    """(W, b) of every linear layer of ``network`` as numpy views of the parameters (they follow every update)."""
    return [(m.weight.detach().numpy(), m.bias.detach().numpy()) for m in network if isinstance(m, nn.Linear)]


def mlp_forward(layers: list[tuple[np.ndarray, np.ndarray]], x: np.ndarray) -> np.ndarray:
    """``networks.mlp`` in numpy: h ← tanh(h Wᵀ + b) through the hidden layers, then the output layer's h Wᵀ + b."""
    for k, (w, b) in enumerate(layers):
        x = x @ w.T + b
        if k < len(layers) - 1:
            x = np.tanh(x)
    return x


def _flat(obs) -> tuple[np.ndarray, tuple]:
    obs = np.asarray(obs, dtype=np.float32)
    return obs.reshape(-1, obs.shape[-1]), obs.shape[:-1]  # any leading axes, as the torch networks take them


def values(agent, obs: np.ndarray) -> np.ndarray:
    """V(s) of ``agent``'s critic for observations (..., obs_dim), as float64 of shape (...)."""
    flat, batch = _flat(obs)
    return mlp_forward(numpy_layers(agent.critic), flat)[:, 0].astype(float).reshape(batch)


def act_and_value(agent, obs: np.ndarray, deterministic: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(a ~ π(·|s) from ``agent.rng``, or its mode if ``deterministic``; log π(a|s); V(s)) for observations (..., obs_dim)."""
    flat, batch = _flat(obs)
    z = mlp_forward(numpy_layers(agent.actor), flat)
    value = mlp_forward(numpy_layers(agent.critic), flat)[:, 0].astype(float).reshape(batch)
    if agent.discrete:
        log_pi = z - z.max(-1, keepdims=True)
        log_pi -= np.log(np.exp(log_pi).sum(-1, keepdims=True))
        actions = log_pi.argmax(-1) if deterministic else (log_pi + agent.rng.gumbel(size=log_pi.shape)).argmax(-1)
        log_probs = np.take_along_axis(log_pi, actions[:, None], -1)[:, 0]
        return actions.reshape(batch), log_probs.reshape(batch), value
    if not deterministic and is_withheld(sample_actions):
        actions, log_probs, _ = sample_actions(torch.from_numpy(z), agent.log_std.detach(), agent.action_space.low,
                                               agent.action_space.high)
        return np.asarray(actions).reshape(*batch, -1), np.asarray(log_probs).reshape(batch), value
    log_std = agent.log_std.detach().numpy()
    noise = np.zeros_like(z) if deterministic else agent.rng.standard_normal(z.shape, dtype=np.float32)
    actions = z + np.exp(log_std) * noise
    log_probs = (-0.5 * noise**2 - log_std - 0.5 * LOG_2PI).sum(-1, dtype=np.float32)
    return actions.reshape(*batch, -1), log_probs.reshape(batch), value
