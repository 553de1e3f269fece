"""Assignment 04: PPO. Each of these is graded with the hidden training test too, so each costs a full run."""

from . import mistake

ASSIGNMENT = "04_ppo"
LOG_PROB = {"test_log_prob_basic", "test_log_prob_general"}
SURROGATE = {"test_surrogate_values", "test_surrogate_positive_advantage", "test_surrogate_negative_advantage"}
VALUE_LOSS = {"test_value_loss_values", "test_value_loss_clip_centre"}
TRAINING = {"test_update_improves", "test_train_learns"}  # a wrong piece of the loss may or may not stop PPO learning
PIPELINE = {"test_train_pipeline"}  # what train_ppo hands ppo_update, checked on short runs that update nothing

MISTAKES = {
    "log_prob_of_the_wrong_actions": mistake(
        "log_prob_of_actions", "log π of the greedy action instead of the action taken",
        {"test_log_prob_basic", "test_log_prob_general", "test_train_learns"}, "pick the entry of the action actually taken",
        replace=("gather(-1, actions.long().unsqueeze(-1))", "gather(-1, logits.argmax(-1, keepdim=True))"),
        may_also_fail={"test_update_improves"}),
    "probabilities_not_log_probabilities": mistake(
        "log_prob_of_actions", "π(a|s) instead of log π(a|s)", LOG_PROB, "log π(a_t|s_t) at t=0",
        replace=("torch.log_softmax(logits, dim=-1)", "torch.softmax(logits, dim=-1)"), may_also_fail=TRAINING),
    "logits_not_normalized": mistake(
        "log_prob_of_actions", "the logit z_a taken as log π(a|s), without log_softmax", {"test_log_prob_general"},
        "normalize the logits (log_softmax)", replace=("torch.log_softmax(logits, dim=-1)", "logits"), may_also_fail=TRAINING),
    "log_of_softmax": mistake(
        "log_prob_of_actions", "log(softmax(z)) instead of log_softmax(z): −inf once the logits are far apart",
        {"test_log_prob_general"}, "log π(a|s) for logits 1000 apart",
        replace=("torch.log_softmax(logits, dim=-1)", "torch.log(torch.softmax(logits, dim=-1))")),
    "categorical_log_prob_through_numpy": mistake(
        "log_prob_of_actions", "computed in numpy and turned back into a tensor: the right values, no gradient toward the logits",
        {"test_log_prob_general"}, "returns no gradient toward the logits",
        replace=("    return torch.log_softmax(logits, dim=-1).gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)",
                 "    chosen = torch.log_softmax(logits, dim=-1).gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)\n"
                 "    return torch.as_tensor(chosen.detach().numpy())"),
        may_also_fail=TRAINING),
    "ratio_not_detached": mistake(
        "probability_ratio", "π_old is not treated as a constant", {"test_ratio_old_is_constant"}, "π_old is data, detach it",
        replace=("old_log_probs.detach()", "old_log_probs")),
    "ratio_of_log_probabilities": mistake(
        "probability_ratio", "log π_θ / log π_old instead of exp(log π_θ − log π_old)", {"test_ratio_values", "test_ratio_old_is_constant"},
        "ρ at t=",
        replace=("torch.exp(log_probs - old_log_probs.detach())", "log_probs / old_log_probs.detach()"), may_also_fail=TRAINING),
    "ratio_upside_down": mistake(
        "probability_ratio", "π_old / π_θ", {"test_ratio_values", "test_ratio_old_is_constant"}, "ρ at t=1: expected 0.5, got 2",
        replace=("torch.exp(log_probs - old_log_probs.detach())", "torch.exp(old_log_probs.detach() - log_probs)"),
        may_also_fail=TRAINING),
    "clip_without_the_min": mistake(
        "clipped_surrogate", "mean(clip(ρ, 1 − ε, 1 + ε) A): the min with ρA is gone", SURROGATE,
        "take the minimum of the unclipped and the clipped term",
        replace=("torch.min(ratio * advantages, torch.clamp(ratio, 1 - eps, 1 + eps) * advantages).mean()",
                 "(torch.clamp(ratio, 1 - eps, 1 + eps) * advantages).mean()")),
    "max_instead_of_min": mistake(
        "clipped_surrogate", "max instead of min: an optimistic bound", SURROGATE, "min, not max",
        replace=("torch.min(ratio * advantages,", "torch.max(ratio * advantages,"), may_also_fail={"test_train_learns"}),
    "sum_instead_of_mean": mistake(
        "clipped_surrogate", "the sum over the batch instead of the mean", {"test_surrogate_values"}, "L^CLIP: expected 0.08",
        replace=("* advantages).mean()", "* advantages).sum()"), may_also_fail=TRAINING),
    "clip_range_fixed_at_0_2": mistake(
        "clipped_surrogate", "ρ clipped to [0.8, 1.2] whatever ε is given",
        {"test_surrogate_positive_advantage", "test_surrogate_negative_advantage"},
        "not a fixed 0.2", replace=("torch.clamp(ratio, 1 - eps, 1 + eps)", "torch.clamp(ratio, 0.8, 1.2)"), may_also_fail=TRAINING),
    "critic_clipped_around_the_target": mistake(
        "clipped_value_loss", "the critic's clip range is centred on y instead of V_old",
        {"test_value_loss_values", "test_value_loss_clip_centre"},
        "around V_old and not around y",
        replace=("(targets - old_values - torch.clamp(values - old_values, -eps, eps)) ** 2",
                 "(targets - torch.clamp(values, targets - eps, targets + eps)) ** 2")),
    "critic_min_instead_of_max": mistake(
        "clipped_value_loss", "min of the two squared errors: a loss that stops pulling a prediction that moved too far",
        VALUE_LOSS, "L^V with ε̂ = 0.5", replace=("torch.max(unclipped, clipped)", "torch.min(unclipped, clipped)")),
    "critic_clip_ignores_none": mistake(
        "clipped_value_loss", "eps=None (no clipping) not handled: the critic is always clipped", {"test_value_loss_values"},
        "L^V with eps=None", replace=("    if eps is None:\n        return unclipped.mean()\n", "    eps = 0.2 if eps is None else eps\n")),
    "normalized_by_the_variance": mistake(
        "normalize_advantages", "(Ψ − mean Ψ) / var Ψ", {"test_normalize", "test_update_minibatches"}, "normalized Ψ",
        replace=("(advantages.std() + 1e-8)", "(advantages.var() + 1e-8)"), may_also_fail=TRAINING),
    "mean_not_subtracted": mistake(
        "normalize_advantages", "Ψ / std Ψ: scaled but not centred", {"test_normalize", "test_update_minibatches"}, "normalized Ψ",
        replace=("(advantages - advantages.mean())", "advantages"), may_also_fail=TRAINING),
    "population_standard_deviation": mistake(
        "normalize_advantages", "std with 1/n instead of torch's 1/(n − 1)", {"test_normalize"}, "normalized Ψ",
        replace=("advantages.std()", "advantages.std(unbiased=False)"), may_also_fail={"test_update_minibatches"} | TRAINING),
    "no_guard_against_zero_std": mistake(
        "normalize_advantages", "(Ψ − mean Ψ) / std Ψ without the 1e-8: NaN for a minibatch of equal advantages", {"test_normalize"},
        "keep the + 1e-8", replace=("(advantages.std() + 1e-8)", "advantages.std()")),
    "advantages_normalized_over_the_whole_batch": mistake(
        "ppo_update", "advantages normalized once over the batch, not per minibatch", {"test_update_minibatches"},
        "normalize within each minibatch",
        replace=('adv = batch["advantages"][idx]\n            if config.normalize_advantages:\n                adv = '
                 'normalize_advantages(adv)',
                 'adv = normalize_advantages(batch["advantages"])[idx]')),
    "advantages_not_normalized": mistake(
        "ppo_update", "advantages never normalized", {"test_update_minibatches"}, "normalize within each minibatch",
        replace=('            if config.normalize_advantages:\n                adv = normalize_advantages(adv)\n', "")),
    "normalize_advantages_ignored": mistake(
        "ppo_update", "advantages normalized even with config.normalize_advantages = False", {"test_update_minibatches"},
        "normalize only if config.normalize_advantages",
        replace=('            if config.normalize_advantages:\n                adv = normalize_advantages(adv)\n',
                 '            adv = normalize_advantages(adv)\n')),
    "update_clips_with_config_clip_eps": mistake(
        "ppo_update", "ρ clipped with config.clip_eps instead of the annealed ε given to ppo_update", {"test_update_steps"},
        "not the ε = 0.15 given to ppo_update",
        replace=("policy_objective(ratio, adv, eps)", "policy_objective(ratio, adv, config.clip_eps)"),
        may_also_fail=TRAINING),
    "last_minibatch_dropped": mistake(
        "ppo_update", "only full minibatches: the transitions left over when minibatch_size does not divide the batch are never used",
        {"test_update_minibatches", "test_update_steps"}, "the 2 left over",
        replace=("for start in range(0, n, config.minibatch_size):",
                 "for start in range(0, n - config.minibatch_size + 1, config.minibatch_size):"),
        may_also_fail=TRAINING),
    "entropy_bonus_as_a_float": mistake(
        "ppo_update", "the entropy taken as a Python float: the right value in the loss, no gradient, no bonus",
        {"test_update_steps", "test_update_entropy_bonus"}, "without the entropy bonus",
        replace=("entropy = dist.entropy().mean()", "entropy = float(dist.entropy().mean())"), may_also_fail=TRAINING),
    "parameters_generator_reused": mistake(
        "ppo_update", "agent.parameters() taken once and given to clip_grad_norm_ every minibatch: empty after the first",
        {"test_update_steps"}, "clip the global gradient norm",
        replace=("            torch.nn.utils.clip_grad_norm_(agent.parameters(), config.max_grad_norm)",
                 "            parameters = parameters if steps else agent.parameters()\n"
                 "            torch.nn.utils.clip_grad_norm_(parameters, config.max_grad_norm)")),
    "entropy_bonus_with_the_wrong_sign": mistake(
        "ppo_update", "+ c_H H: the entropy is penalized instead of rewarded", {"test_update_entropy_bonus", "test_update_steps"},
        "the entropy must rise",
        replace=("- config.ent_coef * entropy", "+ config.ent_coef * entropy")),
    "old_log_probs_not_shuffled": mistake(
        "ppo_update", "π_old taken in stored order while the actions are shuffled: ρ compares two different samples",
        {"test_update_steps"}, "index the stored log-probabilities with the same minibatch indices",
        replace=('batch["log_probs"][idx]', 'batch["log_probs"][start:start + config.minibatch_size]'), may_also_fail=TRAINING),
    "gradients_never_zeroed": mistake(
        "ppo_update", "no optimizer.zero_grad(): the gradients accumulate across minibatches", {"test_update_steps"},
        "call optimizer.zero_grad() before loss.backward()", replace=("            optimizer.zero_grad()\n", ""),
        may_also_fail=TRAINING),
    "gradient_norm_not_clipped": mistake(
        "ppo_update", "no global gradient-norm clipping", {"test_update_steps"}, "clip the global gradient norm",
        replace=("            torch.nn.utils.clip_grad_norm_(agent.parameters(), config.max_grad_norm)\n", ""),
        may_also_fail=TRAINING),
    "minibatches_not_shuffled": mistake(
        "ppo_update", "minibatches in the stored order (arange instead of a permutation)", {"test_update_minibatches"},
        "shuffle the batch every epoch", replace=("order = torch.randperm(n)", "order = torch.arange(n)"),
        may_also_fail=TRAINING),
    "critic_weight_ignored": mistake(
        "ppo_update", "c_V = config.vf_coef ignored: L = −L^CLIP + L^V − c_H H", {"test_update_steps"},
        "weighted by c_V = config.vf_coef", replace=("config.vf_coef * critic_loss", "critic_loss"), may_also_fail=TRAINING),
    "critic_clip_range_ignored": mistake(
        "ppo_update", "ε̂ = config.clip_value ignored: the critic is never clipped", {"test_update_steps"},
        "the critic's clip range ε̂ is config.clip_value", replace=("config.clip_value)", "None)")),
    "policy_loss_reported_as_the_objective": mistake(
        "ppo_update", "policy_loss reported as L^CLIP instead of the loss −L^CLIP", {"test_update_steps"}, "the diagnostic policy_loss",
        replace=('totals["policy_loss"] += float(policy_loss)', 'totals["policy_loss"] += float(-policy_loss)')),
    "entropy_of_the_last_minibatch": mistake(
        "ppo_update", "the entropy diagnostic of the last minibatch only, not the mean over the minibatches", {"test_update_steps"},
        "the diagnostic entropy", replace=('totals["entropy"] += float(entropy)', 'totals["entropy"] = steps * float(entropy)')),
    "clip_fraction_never_counts": mistake(
        "ppo_update", "clip fraction of ρ > 1 + ε *and* ρ < 1 − ε: always 0", {"test_update_diagnostics"},
        "whose ρ lies outside [1 − ε, 1 + ε]",
        replace=("((ratio - 1).abs() > eps)", "((ratio > 1 + eps) & (ratio < 1 - eps))")),
    "approx_kl_with_the_wrong_sign": mistake(
        "ppo_update", "approx-KL as mean(log ρ − (ρ − 1)): the estimator with the wrong sign, never positive",
        {"test_update_diagnostics", "test_update_improves"}, "mean((ρ − 1) − log ρ) per minibatch, never negative",
        replace=("((ratio - 1) - torch.log(ratio))", "(torch.log(ratio) - (ratio - 1))")),
    "approx_kl_naive": mistake(
        "ppo_update", "approx-KL as −mean(log ρ), the naive high-variance estimator", {"test_update_diagnostics"},
        "the k3 estimator mean((ρ − 1) − log ρ)", replace=("((ratio - 1) - torch.log(ratio))", "(-torch.log(ratio))"),
        may_also_fail={"test_update_improves"}),
    "diagnostics_after_the_step": mistake(
        "ppo_update", "approx-KL and clip fraction measured on ρ recomputed after the optimizer step", {"test_update_diagnostics"},
        "measured on ρ before the optimizer step",
        replace=('            with torch.no_grad():\n                totals["policy_loss"]',
                 '            with torch.no_grad():\n                ratio = '
                 'probability_ratio(log_prob_of_actions(agent.distribution(batch["obs"][idx]).logits, '
                 'batch["actions"][idx]), batch["log_probs"][idx])\n                totals["policy_loss"]')),
    "explained_variance_upside_down": mistake(
        "ppo_update", "explained variance as Var[y − V]/Var[y], without the 1 −", {"test_update_diagnostics"},
        "1 − Var[y − V_old] / Var[y] over the whole batch", replace=("1 - (y - v).var() / y.var()", "(y - v).var() / y.var()")),
    "critic_targets_without_the_baseline": mistake(
        "train_ppo", "critic targets y = Ψ^GAE instead of Ψ^GAE + V_old", PIPELINE, "the critic's targets are Ψ^GAE alone",
        replace=('"targets": flat(psi + rollout.values)', '"targets": flat(psi)'), may_also_fail=TRAINING),
    "train_clips_with_config_clip_eps": mistake(
        "train_ppo", "ppo_update given config.clip_eps instead of this iteration's annealed ε", PIPELINE,
        "the ε given to ppo_update at iteration",
        replace=("stats = ppo_update(agent, optimizer, batch, config, eps)",
                 "stats = ppo_update(agent, optimizer, batch, config, config.clip_eps)"),
        may_also_fail=TRAINING),
    "learning_rate_not_annealed": mistake(
        "train_ppo", "the learning rate kept at config.learning_rate whatever config.anneal_lr says", PIPELINE,
        "the learning rate at iteration",
        replace=('group["lr"] = config.learning_rate * (remaining if config.anneal_lr else 1)', 'group["lr"] = config.learning_rate'),
        may_also_fail=TRAINING),
    "clip_range_not_annealed": mistake(
        "train_ppo", "ε kept at config.clip_eps whatever config.anneal_clip says", PIPELINE, "the ε given to ppo_update at iteration",
        replace=("eps = config.clip_eps * (remaining if config.anneal_clip else 1)", "eps = config.clip_eps"), may_also_fail=TRAINING),
    "annealing_off_by_one": mistake(
        "train_ppo", "1 − (k + 1)/K: every iteration annealed one step early, the last one at 0", PIPELINE,
        "the learning rate at iteration k=0",
        replace=("remaining = 1 - k / config.n_iterations", "remaining = 1 - (k + 1) / config.n_iterations"), may_also_fail=TRAINING),
    "annealing_ignores_the_switches": mistake(
        "train_ppo", "learning rate and ε always annealed, whatever config.anneal_lr and config.anneal_clip say", PIPELINE,
        "(anneal_clip=False)",
        replace=("eps = config.clip_eps * (remaining if config.anneal_clip else 1)", "eps = config.clip_eps * remaining"),
        may_also_fail=TRAINING),
    "time_limits_as_terminations": mistake(
        "train_ppo", "GAE given terminated | truncated as terminations: episodes cut by the time limit never bootstrap", PIPELINE,
        "treat the time-limit cuts as terminations",
        replace=("rollout.terminated, rollout.truncated,\n", "rollout.terminated | rollout.truncated, np.zeros_like(rollout.truncated),\n"),
        may_also_fail=TRAINING),
    "mean_return_of_this_rollout": mistake(
        "train_ppo", "mean_return over all episodes so far instead of the last 20", PIPELINE, "not of this rollout alone",
        replace=("float(np.mean(returns[-20:]))", "float(np.mean(returns))"), may_also_fail=TRAINING),
    "steps_not_counted": mistake(
        "train_ppo", "the history's environment steps are never advanced", {"test_train_learns"} | PIPELINE,
        "row['step'] after iteration 0",
        replace=("        step += config.batch_size\n", "")),
    "no_update": mistake(
        "train_ppo", "the update is never applied", {"test_train_learns"} | PIPELINE, "never rose above",
        replace=("stats = ppo_update(agent, optimizer, batch, config, eps)", "stats = {}")),
}
