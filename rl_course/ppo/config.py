"""PPOConfig: the hyperparameters of PPO with their defaults, and documented presets per environment.

The defaults are rl-zoo's tuned settings for CartPole-v1 (8 environments × 32 steps, one
minibatch of 256, 20 epochs, γ = 0.98, λ = 0.8, learning rate 1e-3 and ε = 0.2, both
decayed linearly to 0), which solve it in about 100k steps. ``PPOConfig.for_env(env_id)``
starts from ``PRESETS[env_id]`` instead where there is one (Pendulum-v1, the MuJoCo tasks).
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
    """normalize Ψ^GAE to zero mean and unit variance (torch's unbiased std), over what ``advantage_scope`` says."""
    advantage_scope: str = "minibatch"
    """what the advantages are normalized over: "minibatch" (each minibatch just before its loss, as CleanRL and SB3)
    or "batch" (the whole rollout once)."""
    ent_coef: float = 0.0
    """weight of the entropy bonus."""
    vf_coef: float = 0.5
    """weight of the critic loss."""
    max_grad_norm: float | None = 0.5
    """global gradient-norm clipping: the gradient of all parameters together is scaled to at most this norm; None: no clipping."""
    objective: str = "clip"
    """the policy objective: "clip" (L^CLIP) or "kl_penalty" (E[ρΨ] − C·KL(π_old‖π_θ), C adapted toward kl_target)."""
    kl_coef: float = 1.0
    """C of the KL penalty at the start (objective "kl_penalty")."""
    kl_target: float = 0.01
    """d_targ: after each update C doubles if KL(π_old‖π_θ) > 1.5 d_targ and halves if it is < d_targ / 1.5."""
    early_stop_kl: float | None = None
    """stop the epochs of an update at the first minibatch whose approx-KL exceeds this; None: always all epochs."""
    normalize_observations: bool = False
    """observations normalized by their running mean and std, then clipped to ±obs_clip (frozen in evaluation)."""
    obs_clip: float = 10.0
    """clip of the normalized observations."""
    scale_rewards: bool = False
    """rewards divided by the running std of the discounted return (no mean subtracted), then clipped to ±reward_clip."""
    reward_clip: float = 10.0
    """clip of the scaled rewards."""
    orthogonal_init: bool = True
    """orthogonal weights (gains √2 hidden, the ReLU gain that OpenAI baselines uses with tanh; 0.01 policy output, 1 critic output)
    and zero biases; False: torch's default init."""
    log_std_init: float = 0.0
    """log σ of a Gaussian policy at the start (state-independent, learned)."""
    hidden_sizes: tuple[int, ...] = (64, 64)
    """hidden layers of the actor and of the critic (separate tanh networks)."""
    seed: int = 0
    """seeds the environments, the network initialization and the action sampling."""
    torch_threads: int = 1
    """torch threads while training; one is fastest for networks this small."""
    speed_measures: bool = True
    """acting in numpy, the course's Categorical and Adam over one flat tensor (``rl_course.ppo.speed``, the same
    numbers in fewer calls); False: plain torch (torch's Categorical, torch.optim.Adam, acting through the networks)."""
    env_kwargs: dict = field(default_factory=dict)
    """keyword arguments for gymnasium.make (e.g. max_episode_steps)."""

    @classmethod
    def for_env(cls, env_id: str, **overrides) -> PPOConfig:
        """The config for ``env_id``: its preset in ``PRESETS`` (the class defaults where it has none), then ``overrides``."""
        return cls(**{"env_id": env_id, **PRESETS.get(env_id, {}), **overrides})

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
        for name in ("max_grad_norm", "early_stop_kl"):
            if getattr(self, name) is not None and not getattr(self, name) > 0:
                raise ValueError(f"PPOConfig.{name} must be positive or None, got {getattr(self, name)}")
        for name in ("kl_coef", "kl_target", "obs_clip", "reward_clip"):
            if not getattr(self, name) > 0:
                raise ValueError(f"PPOConfig.{name} must be positive, got {getattr(self, name)}")
        if self.objective not in OBJECTIVES:
            raise ValueError(f"PPOConfig.objective must be one of {', '.join(map(repr, OBJECTIVES))}, got {self.objective!r}")
        if self.advantage_scope not in ADVANTAGE_SCOPES:
            raise ValueError(f"PPOConfig.advantage_scope must be one of {', '.join(map(repr, ADVANTAGE_SCOPES))}, "
                             f"got {self.advantage_scope!r}")
        if self.clip_value is not None and not self.clip_value > 0:
            raise ValueError(f"PPOConfig.clip_value must be positive or None, got {self.clip_value}")
        if self.minibatch_size > self.batch_size:
            raise ValueError(f"PPOConfig.minibatch_size ({self.minibatch_size}) exceeds the batch n_envs × n_steps = {self.batch_size}")


OBJECTIVES = ("clip", "kl_penalty")
ADVANTAGE_SCOPES = ("minibatch", "batch")

# Per-environment defaults: what PPOConfig.for_env starts from (every other field keeps the class default).
PRESETS: dict[str, dict] = {
    # Tuned for the course's PPO from rl-zoo's Pendulum-v1 settings (minibatches of 64, 10 epochs, lr 1e-3, ε = 0.2 kept
    # constant, no entropy bonus) on seeds 0–4: 8 environments × 128 steps instead of 4 × 1024 (four times as many updates,
    # which rescues the seeds that 4 × 1024 leaves stuck near −600), γ = 0.95 and λ = 0.9 instead of 0.9 and 0.95, the
    # learning rate decayed linearly to 0, observations and rewards normalized; a state-independent Gaussian instead of
    # rl-zoo's gSDE. About −130 in evaluation after 100k steps (benchmarks/ppo_pendulum.py, benchmarks/ablations.py).
    "Pendulum-v1": dict(n_envs=8, n_steps=128, total_steps=100_000, gamma=0.95, gae_lambda=0.9, n_epochs=10,
                        minibatch_size=64, learning_rate=1e-3, anneal_lr=True, clip_eps=0.2, anneal_clip=False,
                        normalize_observations=True, scale_rewards=True),
    # The MuJoCo tasks (pip install 'rl-course[mujoco]'): the PPO paper's settings for them (2048 steps, minibatches
    # of 64, 10 epochs, γ = 0.99, λ = 0.95, lr 3e-4 annealed, ε = 0.2), observations and rewards normalized, 1M steps.
    **{env_id: dict(n_envs=1, n_steps=2048, total_steps=1_000_000, gamma=0.99, gae_lambda=0.95, n_epochs=10,
                    minibatch_size=64, learning_rate=3e-4, clip_eps=0.2, anneal_clip=False, normalize_observations=True,
                    scale_rewards=True)
       for env_id in ("HalfCheetah-v5", "Hopper-v5")},
}
