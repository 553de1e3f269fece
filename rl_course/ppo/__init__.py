"""Proximal Policy Optimization, built from the course's tested pieces.

    config         PPOConfig: every hyperparameter, with its default and what it does; presets per environment
    distributions  the Gaussian head: log π(a|s), entropy and KL(π_old‖π_θ) summed over action dimensions; sampling;
                   DiagonalGaussian, the policy computed by them (the student edition's, so training runs the student's own)
    networks       ActorCritic: π(a|s) (a categorical, or a diagonal Gaussian) and V(s), two tanh MLPs, orthogonally initialized
    speed          the speed measures, each with its figure: acting in numpy, the Categorical, Adam over one flat tensor;
                   PPOConfig(speed_measures=False) trains with plain torch instead
    normalization  running statistics, observation normalization, reward scaling; the training environments
    optimization   learning-rate and ε annealing, global gradient clipping; make_optimizer (Adam)
    losses         ρ, the clipped surrogate, the clipped critic loss, the KL penalty, advantage normalization, diagnostics
    trainer        train(): collect → GAE → flatten → epochs of minibatch updates → log; update: one read, either objective
    evaluation     evaluate(), checkpoints, the rollout animation
    runs           train_and_save(): a training run and its files (curves, metrics, checkpoint, GIF), as rl-course train writes them
"""

from rl_course.ppo.config import PRESETS, PPOConfig
from rl_course.ppo.distributions import DiagonalGaussian, gaussian_entropy, gaussian_kl, gaussian_log_prob, sample_actions
from rl_course.ppo.evaluation import evaluate, load_checkpoint, render_episode, save_checkpoint, save_gif
from rl_course.ppo.losses import (
    adapt_kl_coef,
    approx_kl,
    clip_fraction,
    clipped_surrogate,
    clipped_value_loss,
    explained_variance,
    kl_penalty_objective,
    normalize_advantages,
    probability_ratio,
)
from rl_course.ppo.networks import ActorCritic, kl_divergence, orthogonal_matrix
from rl_course.ppo.normalization import (
    NormalizeObservation,
    ObservationStatistics,
    initial_stats,
    make_training_env,
    normalize_observations,
    scale_rewards,
    update_running_stats,
)
from rl_course.ppo.optimization import clip_grad_norm_, linear_schedule
from rl_course.ppo.trainer import Training, train, update

__all__ = [
    "PPOConfig", "ActorCritic", "Training", "train", "update", "evaluate",
    "save_checkpoint", "load_checkpoint",
    "render_episode", "save_gif", "probability_ratio", "clipped_surrogate", "clipped_value_loss",
    "normalize_advantages", "approx_kl", "clip_fraction", "explained_variance", "PRESETS", "gaussian_log_prob",
    "gaussian_entropy", "gaussian_kl", "sample_actions", "DiagonalGaussian", "kl_divergence", "orthogonal_matrix", "NormalizeObservation",
    "ObservationStatistics", "initial_stats", "make_training_env", "normalize_observations", "scale_rewards",
    "update_running_stats", "clip_grad_norm_", "linear_schedule", "kl_penalty_objective", "adapt_kl_coef",
]
