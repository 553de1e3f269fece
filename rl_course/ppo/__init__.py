"""Proximal Policy Optimization, built from the course's tested pieces.

    config      PPOConfig: every hyperparameter, with its default and what it does
    networks    ActorCritic: π(a|s) (categorical or Gaussian) and V(s), orthogonally initialized
    losses      ρ, the clipped surrogate, the clipped critic loss, advantage normalization, diagnostics
    trainer     train(): collect → GAE → flatten → epochs of minibatch updates → log; update()
    evaluation  evaluate(), checkpoints, the rollout animation
"""

from rl_course.ppo.config import PPOConfig
from rl_course.ppo.evaluation import evaluate, load_checkpoint, render_episode, save_checkpoint, save_gif
from rl_course.ppo.losses import (
    approx_kl,
    clip_fraction,
    clipped_surrogate,
    clipped_value_loss,
    explained_variance,
    normalize_advantages,
    probability_ratio,
)
from rl_course.ppo.networks import ActorCritic
from rl_course.ppo.trainer import Training, train, update

__all__ = [
    "PPOConfig", "ActorCritic", "Training", "train", "update", "evaluate", "save_checkpoint", "load_checkpoint",
    "render_episode", "save_gif", "probability_ratio", "clipped_surrogate", "clipped_value_loss",
    "normalize_advantages", "approx_kl", "clip_fraction", "explained_variance",
]
