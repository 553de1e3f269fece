"""The speed measures of PPO, each with the figure that justifies it, and the switch back to plain torch.

A CartPole iteration is many small tensor operations, where torch's fixed cost per call (about 5–10 µs) outweighs
the arithmetic. Three measures cut calls, each computing what its plain-torch counterpart computes (the tests pin
each pair together):

    act_and_value, values   acting during rollouts in numpy, on views of the parameters themselves
    Categorical             π(·|s) over discrete actions, log π by one log-softmax shared by both terms of the loss
    FlatAdam                Adam over the agent's parameters kept in one flat tensor

``PPOConfig(speed_measures=False)`` trains with plain torch instead: ``torch.distributions.Categorical``,
``torch.optim.Adam`` over the separate parameters, and acting through the torch networks
(``networks.ActorCritic``, ``optimization.make_optimizer``). Acting then draws from torch's generator instead of the
agent's numpy one, so the two runs of a seed differ step by step, not in what they learn: ``benchmarks/ppo_speed.py``
measures each measure and whole trainings both ways.

Acting, in numpy (the same layers as ``networks.mlp``, samples of the same distribution as the torch policy's):

    h ← tanh(h Wᵀ + b) through the hidden layers;  z = h W_outᵀ + b_out
    categorical:  log π(·|s) = z − log Σ_b exp z_b,  a = argmax_a (log π(a|s) + G_a), G_a ~ Gumbel(0, 1)
    Gaussian:     a = μ + σ ε, ε ~ N(0, 1),  log π(a|s) = Σ_i [−ε_i²/2 − log σ_i − ½ log 2π]

Figures below are ``benchmarks/ppo_speed.py``'s (torch 2.13, one thread, process CPU time, on a 2-core AMD EPYC with
AVX-512). Acting on 8 observations: 90 µs in numpy against 158 µs through torch (0.57). Whole trainings, rl-zoo's
CartPole configuration until solved, seeds 0–5 alternating: 145 µs of CPU per environment step with the three
measures against 214 µs with plain torch (0.68), solved in a median of 33,128 and 31,924 steps.

Where the student edition withholds ``distributions.sample_actions`` (assignment 05), a Gaussian policy samples with
it instead (the student's own, from torch's generator), so that the rollouts of a training run are the student's work.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
from torch import nn
from torch.distributions import Distribution, constraints, register_kl

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


class Categorical(Distribution):
    """π(·|s) over n actions from the actor's logits z, with its log-probabilities taken by one log-softmax and used
    for both terms of the loss:

        log π(·|s) = z − log Σ_b exp z_b,   π(·|s) = exp log π(·|s) (a softmax),   log π(a|s) = (log π(·|s))_a
        H(π(·|s)) = −Σ_a π(a|s) log π(a|s),   KL(π_old ‖ π) = Σ_a π_old(a|s) (log π_old(a|s) − log π(a|s))

    The arithmetic of ``torch.distributions.Categorical`` (the tests pin the two together, sampling included) on
    torch's ``Distribution``, in fewer operations: forward and backward of log π(a|s) and H on a minibatch of 256
    take 224 µs against 356 µs with ``torch.distributions.Categorical`` (0.63). torch's Categorical normalizes the
    logits by a log-sum-exp and a subtraction, and clamps log π at the smallest float before the entropy's product;
    a log-softmax of finite logits is finite, so that is skipped. Argument checks are off: on minibatches this small
    they cost more than the arithmetic.
    """

    arg_constraints: dict = {}

    def __init__(self, logits: torch.Tensor):
        self.logits = logits.log_softmax(-1)  # log π(·|s), what torch's Categorical calls its logits
        super().__init__(logits.shape[:-1], validate_args=False)

    @functools.cached_property
    def probs(self) -> torch.Tensor:
        """π(·|s), (..., n)."""
        return self.logits.softmax(-1)

    @property
    def support(self):
        return constraints.integer_interval(0, self.logits.size(-1) - 1)

    @property
    def mode(self) -> torch.Tensor:
        """argmax_a π(a|s)."""
        return self.probs.argmax(-1)

    def sample(self, sample_shape=()) -> torch.Tensor:
        """a ~ π(·|s), drawn as torch's Categorical draws them (``torch.multinomial``, torch's generator)."""
        shape = torch.Size(sample_shape)
        draws = torch.multinomial(self.probs.reshape(-1, self.logits.size(-1)), shape.numel(), True).T
        return draws.reshape(shape + self.batch_shape)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """log π(a|s) for actions ``value`` of the batch's shape (others are broadcast as torch does)."""
        value = value.long().unsqueeze(-1)
        if value.shape[:-1] != self.batch_shape:
            value, log_pi = torch.broadcast_tensors(value, self.logits)
            return log_pi.gather(-1, value[..., :1]).squeeze(-1)
        return self.logits.gather(-1, value).squeeze(-1)

    def entropy(self) -> torch.Tensor:
        """H(π(·|s)) = −Σ_a π(a|s) log π(a|s), per state."""
        return -(self.probs * self.logits).sum(-1)


@register_kl(Categorical, Categorical)
def _kl_categoricals(old: Categorical, new: Categorical) -> torch.Tensor:
    """KL(π_old ‖ π) per state, as torch computes it for its Categorical: an action π gives no chance has KL = ∞
    unless π_old gives it none either."""
    t = old.probs * (old.logits - new.logits)
    t[(new.probs == 0).expand_as(t)] = math.inf
    t[(old.probs == 0).expand_as(t)] = 0
    return t.sum(-1)


class FlatAdam(torch.optim.Adam):
    """Adam with ε = ``eps`` over every parameter of ``module``, kept in one flat tensor θ = (θ_1, …, θ_P) whose
    ``.grad`` holds every gradient: Adam's step, the global gradient norm and the zeroing each make one pass
    over θ instead of one per parameter tensor (a dozen for the actor-critic).

    The step is torch's reference implementation (``foreach=False``, not fused): elementwise the arithmetic of
    ``torch.optim.Adam`` over the separate parameters, on every CPU. (torch's fused CPU kernel takes about 20 µs
    less per step here, but on another AVX-512 machine the defaults with it learned more slowly; the reference
    arithmetic is the one the tests pin on every machine they run on.)

    Each parameter becomes a view of its slice of θ, and its ``.grad`` a view of the same slice of θ's gradient,
    into which backward accumulates. The module works as before (forward, ``parameters()``, ``state_dict``,
    ``load_state_dict``). ``param_groups`` hold θ alone: clip the gradient of what the optimizer steps.
    ``zero_grad`` zeroes θ's gradient in place, after pointing the views at it again (a ``module.zero_grad()``
    that set them to None cuts them loose); it never sets it to None, and refuses ``set_to_none=True``.

    Figures: a minibatch step of 256 (loss, backward, clipping, Adam) 1211 µs with ``FlatAdam`` against 1533 µs with
    ``torch.optim.Adam`` over the separate parameters (0.79); the Adam step alone on θ 54 µs against 35 µs fused.
    The trainer's updates with it equal those of ``torch.optim.Adam`` (neither fused nor foreach) to float32
    rounding: after 60 steps on a CartPole batch within 2e-6 (the tests).
    """

    def __init__(self, module: nn.Module, lr: float, eps: float = 1e-8):
        self.members = list(module.parameters())
        self.flat = nn.Parameter(torch.cat([p.detach().reshape(-1) for p in self.members]))
        self.offsets, offset = [], 0
        with torch.no_grad():
            for p in self.members:
                p.set_(self.flat.detach()[offset : offset + p.numel()].view_as(p))  # p now lives in its slice of θ
                self.offsets.append(offset)
                offset += p.numel()
        super().__init__([self.flat], lr=lr, eps=eps, foreach=False, fused=False)
        self.zero_grad()

    def zero_grad(self, set_to_none: bool = False) -> None:
        """θ's gradient zeroed in place. The members' gradients are views of it, so it is never set to None:
        ``set_to_none=True`` (torch's default for its own optimizers) is refused."""
        if set_to_none:
            raise ValueError("FlatAdam.zero_grad: set_to_none=True is not supported (the parameters' gradients are views "
                             "of one flat gradient, zeroed in place); call zero_grad() or zero_grad(set_to_none=False)")
        if self.flat.grad is None:
            self.flat.grad = torch.zeros_like(self.flat)
        grad = self.flat.grad
        grad.zero_()
        start, size = grad.data_ptr(), grad.element_size()
        for p, offset in zip(self.members, self.offsets, strict=True):
            if p.grad is None or p.grad.data_ptr() != start + offset * size:
                p.grad = grad[offset : offset + p.numel()].view_as(p)
