"""The actor-critic: a policy π_θ(a|s) and a critic V_φ(s), two separate tanh MLPs, orthogonally initialized.

Orthogonal initialization (one of the lecture's "other hacks"): every weight matrix W starts as an
orthogonal matrix times a gain g, WᵀW = g² I (or W Wᵀ, whichever is smaller), biases at 0. The customary
gains: √2 for the tanh hidden layers, 0.01 for the policy's output (a nearly uniform, or zero-mean, first
policy), 1 for the critic's output.

The two networks share no weights, but their hidden layers have the same shapes. So each hidden
layer of both is stored as one stacked tensor (leading axis 0 = actor, 1 = critic) and both networks
are evaluated together: on networks this small one batched matrix product for two costs little more
than a plain one, so the pair runs almost as fast as a single network, forward and backward.
"""

from __future__ import annotations

import itertools
import math

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.distributions import Normal

from rl_course.grading import reference
from rl_course.ppo.distributions import LOG_2PI, gaussian_kl
from rl_course.ppo.normalization import ObservationStatistics

ACTOR, CRITIC = 0, 1  # the index of each network on the leading axis of a TwinLinear
HIDDEN_GAIN, POLICY_GAIN, VALUE_GAIN = math.sqrt(2), 0.01, 1.0  # the customary gains of orthogonal initialization


@reference
def orthogonal_matrix(n_rows: int, n_cols: int, gain: float = 1.0, generator: torch.Generator | None = None) -> torch.Tensor:
    """A random (n_rows, n_cols) matrix g·Q with orthonormal rows or columns, whichever are fewer:

        X ~ N(0, 1) of shape (max, min);  X = Q R (QR decomposition);  Q ← Q · sign(diag R);  W = g Q (transposed if wide)

    The sign correction makes Q uniformly distributed over orthogonal matrices (what torch.nn.init.orthogonal_ draws).
    """
    if n_rows < 1 or n_cols < 1:
        raise ValueError(f"n_rows and n_cols must be at least 1, got {n_rows} × {n_cols}")
    tall = (max(n_rows, n_cols), min(n_rows, n_cols))
    q, r = torch.linalg.qr(torch.randn(tall, generator=generator))
    q = q * torch.sign(torch.diagonal(r))
    return gain * (q if n_rows >= n_cols else q.T)


def tanh(z: torch.Tensor) -> torch.Tensor:
    """The hidden layers' activation, tanh z = (e^z − e^−z) / (e^z + e^−z), computed as 2σ(2z) − 1.

    The two agree to float32 rounding (|difference| < 2e-7), but on CPU torch's sigmoid kernel is about
    nine times faster than its tanh on a (2, 256, 64) batch of hidden units, which takes about a sixth off
    the forward and backward pass of both networks on a PPO minibatch of 256 (torch 2.13, a 2-core x86 machine).
    """
    s = torch.sigmoid(z + z)
    return s + s - 1


def kl_divergence(old, new) -> torch.Tensor:
    """KL(π_old(·|s) ‖ π_θ(·|s)) per state, for two distributions of ``ActorCritic.policy``: summed over the
    actions of a categorical, over the dimensions of a diagonal Gaussian."""
    if isinstance(old, Categorical):
        return (old.probs * (old.logits - new.logits)).sum(-1)
    return gaussian_kl(old.loc, old.scale.log(), new.loc, new.scale.log())


class Categorical:
    """π(·|s) over n discrete actions, from the actor's logits z: π(a|s) = exp(z_a) / Σ_b exp(z_b).

    The part of torch.distributions.Categorical that PPO uses (``logits``, ``probs``, ``mode``, ``log_prob``,
    ``entropy``, one ``sample()`` per row), from a single log_softmax and without argument checks: on
    small batches torch's version spends more time on those than on the arithmetic. It is not a torch
    distribution (no ``sample_shape``, no ``kl_divergence``).
    """

    def __init__(self, logits: torch.Tensor):
        self.logits = torch.log_softmax(logits, dim=-1)  # log π(·|s) = z − log Σ_b exp(z_b)

    @property
    def probs(self) -> torch.Tensor:
        return self.logits.exp()

    @property
    def mode(self) -> torch.Tensor:
        return self.logits.argmax(-1)

    def log_prob(self, actions: torch.Tensor) -> torch.Tensor:
        """log π(a|s): entry a of log π(·|s)."""
        return self.logits.gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)

    def entropy(self) -> torch.Tensor:
        """H(π(·|s)) = −Σ_a π(a|s) log π(a|s)."""
        return -(self.probs * self.logits).sum(-1)

    def sample(self) -> torch.Tensor:
        """a ~ π(·|s) by the Gumbel-max trick: a = argmax_a (log π(a|s) − log E_a), E_a ~ Exp(1) independent
        (one vectorized pass; torch.multinomial costs twice as much on small batches)."""
        noise = torch.empty_like(self.logits).exponential_()
        return (self.logits - noise.log()).argmax(-1)


class TwinLinear(nn.Module):
    """Two linear layers of the same shape side by side, one per network:

        y_k = x_k W_k + b_k,   k = 0 (actor), 1 (critic)

    ``weight`` (2, n_in, n_out) holds W_0 and W_1, each orthogonal with ``gain``; ``bias`` (2, 1, n_out)
    holds b_0 = b_1 = 0. Input (2, B, n_in), or (B, n_in) fed to both; output (2, B, n_out).
    """

    def __init__(self, n_in: int, n_out: int, gain: float, orthogonal: bool = True):
        super().__init__()
        if orthogonal:  # nn.Linear's orthogonal init, on its (n_out, n_in) weight, for each network; stored transposed
            weights = [nn.init.orthogonal_(torch.empty(n_out, n_in), gain=gain).T for _ in (ACTOR, CRITIC)]
            biases = [torch.zeros(1, n_out) for _ in (ACTOR, CRITIC)]
        else:  # torch's default init of nn.Linear: uniform in ±1/√n_in, biases too
            layers = [nn.Linear(n_in, n_out) for _ in (ACTOR, CRITIC)]
            weights, biases = [layer.weight.detach().T for layer in layers], [layer.bias.detach()[None] for layer in layers]
        self.weight = nn.Parameter(torch.stack(weights))
        self.bias = nn.Parameter(torch.stack(biases))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            x = x.expand(2, *x.shape)  # both networks see the same observations
        return torch.baddbmm(self.bias, x, self.weight)  # bias + x @ weight, for both networks in one call


def linear(n_in: int, n_out: int, gain: float, orthogonal: bool = True) -> nn.Linear:
    """An output layer: orthogonal weight with ``gain``, bias 0 (or torch's default init)."""
    layer = nn.Linear(n_in, n_out)
    if orthogonal:
        nn.init.orthogonal_(layer.weight, gain=gain)
        nn.init.zeros_(layer.bias)
    return layer


class ActorCritic(nn.Module):
    """π_θ(a|s): categorical over ``Discrete`` actions, or a diagonal Gaussian with a state-independent
    log-std over ``Box`` actions (log-probabilities and entropy summed over action dimensions); V_φ(s).

    Two separate tanh MLPs with hidden layers ``hidden_sizes`` (orthogonal init, gain √2, biases 0):

        actor   s → tanh → … → tanh → policy_head (gain 0.01) → logits, or the Gaussian's mean
        critic  s → tanh → … → tanh → value_head  (gain 1)    → V(s)

    Parameters: ``hidden`` (TwinLinear layers, both networks' hidden layers stacked), ``policy_head``,
    ``value_head`` and, for Gaussian policies, ``log_std`` (starting at ``log_std_init``). ``actor(obs)`` and
    ``critic(obs)`` still evaluate one network each; ``forward(obs)`` evaluates both in one pass.
    ``orthogonal_init=False`` leaves torch's default initialization. With ``obs_clip`` set, the agent keeps
    the observation statistics it was trained with (``obs_statistics``, frozen): ``observe(obs)`` turns raw
    observations of a single environment into its input, as evaluation needs. Acting (``act_and_value``, ``act``)
    samples from the agent's own numpy generator ``rng``, seeded from torch's random state when the agent is built:
    the same torch seed before building it gives the same actions.
    """

    def __init__(self, observation_space: gym.Space, action_space: gym.Space, hidden_sizes=(64, 64),
                 log_std_init: float = 0.0, orthogonal_init: bool = True, obs_clip: float | None = None):
        super().__init__()
        if not isinstance(observation_space, gym.spaces.Box) or len(observation_space.shape) != 1:
            raise ValueError(f"ActorCritic needs flat Box observations, got {observation_space}")
        obs_dim = observation_space.shape[0]
        self.discrete = isinstance(action_space, gym.spaces.Discrete)
        if self.discrete:
            n_out = int(action_space.n)
        elif isinstance(action_space, gym.spaces.Box) and len(action_space.shape) == 1:
            n_out = action_space.shape[0]
            self.log_std = nn.Parameter(torch.full((n_out,), float(log_std_init)))
        else:
            raise ValueError(f"unsupported action space {action_space}: PPO here handles Discrete and flat Box actions")
        self.action_space = action_space
        sizes = [obs_dim, *hidden_sizes]
        self.hidden = nn.ModuleList(TwinLinear(n_in, n_out_, HIDDEN_GAIN, orthogonal_init) for n_in, n_out_ in zip(sizes[:-1], sizes[1:]))
        self.policy_head = linear(sizes[-1], n_out, POLICY_GAIN, orthogonal_init)
        self.value_head = linear(sizes[-1], 1, VALUE_GAIN, orthogonal_init)
        self.obs_statistics = None if obs_clip is None else ObservationStatistics(observation_space.shape, obs_clip)
        self.rng = np.random.default_rng(int(torch.randint(2**62, ())))  # acting's sampler, seeded from torch's
        self._numpy = (None, None)  # (the parameters' addresses, numpy views of them): see numpy_parameters
        self._parameter_dicts = [module._parameters for module in self.modules()]  # where each module keeps its own

    @classmethod
    def for_config(cls, config, observation_space: gym.Space, action_space: gym.Space) -> "ActorCritic":
        """The actor-critic a ``PPOConfig`` describes (layers, initial log-std, initialization, observation statistics)."""
        return cls(observation_space, action_space, config.hidden_sizes, log_std_init=config.log_std_init,
                   orthogonal_init=config.orthogonal_init, obs_clip=config.obs_clip if config.normalize_observations else None)

    def observe(self, obs: np.ndarray) -> np.ndarray:
        """Raw observations → the networks' input: normalized with the frozen training statistics, if any."""
        return obs if self.obs_statistics is None else self.obs_statistics(obs)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Both networks on a batch of observations (..., obs_dim): (the actor's output, V(s))."""
        batch = obs.shape[:-1]
        h = obs.reshape(-1, obs.shape[-1]).expand(2, -1, -1)  # (2, B, obs_dim): the actor's input, the critic's
        for layer in self.hidden:  # the layers' operations called directly: the module calls would cost as much
            h = tanh(torch.baddbmm(layer.bias, h, layer.weight))
        actor_features, critic_features = h.unbind(0)
        out = F.linear(actor_features, self.policy_head.weight, self.policy_head.bias)
        values = F.linear(critic_features, self.value_head.weight, self.value_head.bias)
        return out.reshape(*batch, -1), values.reshape(batch)

    def actor(self, obs: torch.Tensor) -> torch.Tensor:
        """The actor network alone: logits, or the Gaussian's mean."""
        h = obs
        for layer in self.hidden:
            h = tanh(torch.addmm(layer.bias[ACTOR], h.reshape(-1, h.shape[-1]), layer.weight[ACTOR]))
        return self.policy_head(h).reshape(*obs.shape[:-1], -1)

    def critic(self, obs: torch.Tensor) -> torch.Tensor:
        """The critic network alone: V(s) with a trailing axis of size 1."""
        h = obs
        for layer in self.hidden:
            h = tanh(torch.addmm(layer.bias[CRITIC], h.reshape(-1, h.shape[-1]), layer.weight[CRITIC]))
        return self.value_head(h).reshape(*obs.shape[:-1], 1)

    def policy(self, out: torch.Tensor):
        """π(·|s) from the actor's output (torch's argument checks are off: they cost more than the rest)."""
        if self.discrete:
            return Categorical(out)
        return Normal(out, self.log_std.exp().expand_as(out), validate_args=False)

    def distribution(self, obs: torch.Tensor):
        return self.policy(self.actor(obs))

    def distribution_and_value(self, obs: torch.Tensor):
        """(π(·|s), V(s)) from one pass through both networks."""
        out, values = self.forward(obs)
        return self.policy(out), values

    def log_prob(self, dist, actions: torch.Tensor) -> torch.Tensor:
        """log π(a|s), summed over the dimensions of a continuous action."""
        return dist.log_prob(actions) if self.discrete else dist.log_prob(actions).sum(-1)

    def entropy(self, dist) -> torch.Tensor:
        """H(π(·|s)), summed over the dimensions of a continuous action."""
        return dist.entropy() if self.discrete else dist.entropy().sum(-1)

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.critic(obs).squeeze(-1)

    # numpy in, numpy out: what rl_course.rollouts.collect_rollout calls. A rollout step evaluates the networks on
    # a few observations, where torch's cost per operation outweighs the arithmetic: acting runs the same layers
    # in numpy, about two and a half times faster, on numpy views of the parameters themselves (always the current weights).

    def numpy_parameters(self) -> dict[str, np.ndarray]:
        """Numpy views (no copies) of the parameters, by name; made again when a parameter was replaced or moved
        in memory (read from the modules' own parameter dicts: ``parameters()`` costs half as much as acting)."""
        parameters = itertools.chain.from_iterable(own.values() for own in self._parameter_dicts)
        addresses = tuple(p.data_ptr() for p in parameters)
        if self._numpy[0] != addresses:
            self._numpy = (addresses, {name: p.detach().numpy() for name, p in self.named_parameters()})
        return self._numpy[1]

    def act_and_value(self, obs: np.ndarray, deterministic: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sample a ~ π(·|s) from ``rng`` (or take the mode); returns (actions, log π(a|s), V(s)) from one pass, in numpy:

            h ← tanh(h W_k + b_k) for both networks;  z = h_actor W_π + b_π;  V = h_critic W_V + b_V
            categorical:  log π(·|s) = z − log Σ_b exp z_b,  a = argmax_a (log π(a|s) + G_a), G_a ~ Gumbel(0, 1)
            Gaussian:     a = z + σ ε, ε ~ N(0, 1),  log π(a|s) = Σ_i [−ε_i²/2 − log σ_i − ½ log 2π]
        """
        w = self.numpy_parameters()
        obs = np.asarray(obs, dtype=np.float32)
        batch = obs.shape[:-1]  # any leading axes, as forward takes them
        obs = obs.reshape(-1, obs.shape[-1])
        h = np.broadcast_to(obs, (2, *obs.shape))  # both networks see the same observations
        for k in range(len(self.hidden)):
            h = np.tanh(h @ w[f"hidden.{k}.weight"] + w[f"hidden.{k}.bias"])  # (2, B, n): actor, critic
        z = h[ACTOR] @ w["policy_head.weight"].T + w["policy_head.bias"]
        values = (h[CRITIC] @ w["value_head.weight"].T + w["value_head.bias"])[:, 0].astype(float)
        if self.discrete:
            log_pi = z - z.max(-1, keepdims=True)
            log_pi -= np.log(np.exp(log_pi).sum(-1, keepdims=True))
            actions = log_pi.argmax(-1) if deterministic else (log_pi + self.rng.gumbel(size=log_pi.shape)).argmax(-1)
            log_probs = np.take_along_axis(log_pi, actions[:, None], -1)[:, 0]
            return actions.reshape(batch), log_probs.reshape(batch), values.reshape(batch)
        log_std = w["log_std"]
        noise = np.zeros_like(z) if deterministic else self.rng.standard_normal(z.shape, dtype=np.float32)
        actions = z + np.exp(log_std) * noise
        log_probs = (-0.5 * noise**2 - log_std - 0.5 * LOG_2PI).sum(-1, dtype=np.float32)
        return actions.reshape(*batch, -1), log_probs.reshape(batch), values.reshape(batch)

    def act(self, obs: np.ndarray, deterministic: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Sample a ~ π(·|s) (or take its mode); returns (actions, log π(a|s))."""
        actions, log_probs, _ = self.act_and_value(obs, deterministic)
        return actions, log_probs

    @torch.no_grad()
    def values(self, obs: np.ndarray) -> np.ndarray:
        return self.value(torch.as_tensor(np.asarray(obs), dtype=torch.float32)).double().numpy()

    def env_actions(self, actions: np.ndarray) -> np.ndarray:
        """What is sent to the environment: continuous actions clipped to its bounds (the sample itself is stored)."""
        if self.discrete:
            return actions
        return np.clip(actions, self.action_space.low, self.action_space.high)
