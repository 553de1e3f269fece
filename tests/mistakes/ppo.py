"""Assignment 04: PPO. Each of these is graded with the hidden training test too, so each costs a full run."""

from . import mistake

ASSIGNMENT = "04_ppo"
SURROGATE = {"test_surrogate_values", "test_surrogate_positive_advantage", "test_surrogate_negative_advantage"}

MISTAKES = {
    "log_prob_of_the_wrong_actions": mistake(
        "log_prob_of_actions", "log π of the greedy action instead of the action taken",
        {"test_log_prob_basic", "test_log_prob_general", "test_train_learns"}, "pick the entry of the action actually taken",
        replace=("gather(-1, actions.long().unsqueeze(-1))", "gather(-1, logits.argmax(-1, keepdim=True))"),
        may_also_fail={"test_update_improves"}),
    "ratio_not_detached": mistake(
        "probability_ratio", "π_old is not treated as a constant", {"test_ratio_old_is_constant"}, "π_old is data, detach it",
        replace=("old_log_probs.detach()", "old_log_probs")),
    "clip_without_the_min": mistake(
        "clipped_surrogate", "mean(clip(ρ, 1 − ε, 1 + ε) A): the min with ρA is gone", SURROGATE,
        "take the minimum of the unclipped and the clipped term",
        replace=("torch.min(ratio * advantages, torch.clamp(ratio, 1 - eps, 1 + eps) * advantages).mean()",
                 "(torch.clamp(ratio, 1 - eps, 1 + eps) * advantages).mean()")),
    "max_instead_of_min": mistake(
        "clipped_surrogate", "max instead of min: an optimistic bound", SURROGATE, "min, not max",
        replace=("torch.min(ratio * advantages,", "torch.max(ratio * advantages,"), may_also_fail={"test_train_learns"}),
    "critic_clipped_around_the_target": mistake(
        "clipped_value_loss", "the critic's clip range is centred on y instead of V_old", {"test_value_loss_values", "test_value_loss_clip_centre"},
        "around V_old and not around y",
        replace=("(targets - old_values - torch.clamp(values - old_values, -eps, eps)) ** 2",
                 "(targets - torch.clamp(values, targets - eps, targets + eps)) ** 2")),
    "advantages_normalized_over_the_whole_batch": mistake(
        "ppo_update", "advantages normalized once over the batch, not per minibatch", {"test_update_minibatches"}, "normalize within each minibatch",
        replace=('adv = batch["advantages"][idx]\n            if config.normalize_advantages:\n                adv = normalize_advantages(adv)',
                 'adv = normalize_advantages(batch["advantages"])[idx]')),
    "advantages_not_normalized": mistake(
        "ppo_update", "advantages never normalized", {"test_update_minibatches"}, "normalize within each minibatch",
        replace=('            if config.normalize_advantages:\n                adv = normalize_advantages(adv)\n', "")),
}
