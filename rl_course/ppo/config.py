"""PPOConfig: the hyperparameters of PPO with their defaults.

The defaults are rl-zoo's tuned settings for CartPole-v1 (8 environments × 32 steps, one
minibatch of 256, 20 epochs, γ = 0.98, λ = 0.8, learning rate 1e-3 and ε = 0.2, both
decayed linearly to 0), which solve it in about 100k steps.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass
class PPOConfig:
    env_id: str = "CartPole-v1"
    """gymnasium environment id; Discrete and Box action spaces are supported."""
    n_envs: int = 8
    """environments stepped side by side."""
    n_steps: int = 32
    """steps per environment in each rollout; one rollout is a batch of n_envs × n_steps transitions."""
    total_steps: int = 100_000
    """environment steps to train for (rounded up to whole rollouts)."""
    gamma: float = 0.98
    """discount γ."""
    gae_lambda: float = 0.8
    """λ of GAE."""
    n_epochs: int = 20
    """passes over each rollout."""
    minibatch_size: int = 256
    """transitions per gradient step; advantages are normalized within each minibatch."""
    learning_rate: float = 1e-3
    """Adam's step size at the start."""
    anneal_lr: bool = True
    """decay the learning rate linearly to 0 over training."""
    clip_eps: float = 0.2
    """ε of the clipped surrogate: ρ is clipped to [1 − ε, 1 + ε]."""
    anneal_clip: bool = True
    """decay ε linearly to 0 over training."""
    clip_value: float | None = None
    """ε̂ of the clipped critic loss; None trains the critic on the plain squared error."""
    normalize_advantages: bool = True
    """normalize Ψ^GAE to zero mean and unit variance within each minibatch."""
    ent_coef: float = 0.0
    """weight of the entropy bonus."""
    vf_coef: float = 0.5
    """weight of the critic loss."""
    max_grad_norm: float = 0.5
    """global gradient-norm clipping."""
    hidden_sizes: tuple[int, ...] = (64, 64)
    """hidden layers of the actor and of the critic (separate tanh networks)."""
    seed: int = 0
    """seeds the environments, the network initialization and the action sampling."""
    torch_threads: int = 1
    """torch threads while training; one is fastest for networks this small."""
    env_kwargs: dict = field(default_factory=dict)
    """keyword arguments for gymnasium.make (e.g. max_episode_steps)."""

    @property
    def batch_size(self) -> int:
        return self.n_envs * self.n_steps

    @property
    def n_iterations(self) -> int:
        return -(-self.total_steps // self.batch_size)

    def to_dict(self) -> dict:
        return asdict(self)

    def check(self) -> None:
        """Raise ValueError naming the first setting that cannot work."""
        positive = ("n_envs", "n_steps", "total_steps", "n_epochs", "minibatch_size", "torch_threads")
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"PPOConfig.{name} must be at least 1, got {getattr(self, name)}")
        for name in ("gamma", "gae_lambda"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"PPOConfig.{name} must be in [0, 1], got {getattr(self, name)}")
        for name in ("learning_rate", "clip_eps"):
            if not getattr(self, name) > 0:
                raise ValueError(f"PPOConfig.{name} must be positive, got {getattr(self, name)}")
        if self.clip_value is not None and not self.clip_value > 0:
            raise ValueError(f"PPOConfig.clip_value must be positive or None, got {self.clip_value}")
        if self.minibatch_size > self.batch_size:
            raise ValueError(f"PPOConfig.minibatch_size ({self.minibatch_size}) exceeds the batch n_envs × n_steps = {self.batch_size}")
