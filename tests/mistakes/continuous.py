"""Assignment 05: PPO for continuous control. Its graded cells train nothing, so each mistake grades in seconds."""

from . import mistake

ASSIGNMENT = "05_continuous"
LOG_PROB = {"test_gaussian_log_prob_values", "test_gaussian_log_prob_dimensions"}
SCALE = {"test_scale_rewards_values", "test_scale_rewards_like_gymnasium"}  # scale_rewards merges R with update_running_stats

MISTAKES = {
    "log_prob_not_summed": mistake(
        "gaussian_log_prob", "the per-dimension log-densities returned, not summed over action dimensions",
        LOG_PROB | {"test_sample_actions_stored"}, "log π(a|s) with 3 action dimensions: expected shape (6,), got shape (6, 3)",
        replace=("    return per_dim.sum(-1)", "    return per_dim")),
    "log_prob_mean_over_dimensions": mistake(
        "gaussian_log_prob", "the mean over action dimensions instead of the sum",
        {"test_gaussian_log_prob_dimensions", "test_sample_actions_stored"},
        "sum of the per-dimension log-densities", replace=("    return per_dim.sum(-1)", "    return per_dim.mean(-1)")),
    "log_prob_sigma_for_variance": mistake(
        "gaussian_log_prob", "(a − μ)² / 2σ instead of / 2σ²", LOG_PROB | {"test_sample_actions_stored"},
        "log π(a|s), one dimension at row=1",
        replace=("(2 * torch.exp(2 * log_std))", "(2 * torch.exp(log_std))")),
    "log_prob_without_log_std": mistake(
        "gaussian_log_prob", "the normalizing −log σ left out", LOG_PROB, "log π(a|s), one dimension at row=0",
        replace=(" - log_std - 0.5 * np.log(2 * np.pi)", " - 0.5 * np.log(2 * np.pi)")),
    "log_prob_through_numpy": mistake(
        "gaussian_log_prob", "summed in numpy and turned back into a tensor: the right value, no gradient toward μ and log σ",
        {"test_gaussian_log_prob_dimensions"}, "returns no gradient toward μ and log σ",
        replace=("    return per_dim.sum(-1)", "    return torch.as_tensor(per_dim.detach().numpy().sum(-1))")),
    "entropy_mean_over_dimensions": mistake(
        "gaussian_entropy", "the mean over action dimensions instead of the sum", {"test_gaussian_entropy"},
        "sum ½ log(2πe) + log σ_i over the action dimensions", replace=("+ log_std).sum(-1)", "+ log_std).mean(-1)")),
    "entropy_without_constant": mistake(
        "gaussian_entropy", "Σ log σ_i: the ½ log(2πe) of each dimension left out", {"test_gaussian_entropy"}, "H of N(0, 1)",
        replace=("(0.5 * np.log(2 * np.pi * np.e) + log_std)", "(log_std)")),
    "entropy_of_sigma": mistake(
        "gaussian_entropy", "σ_i in place of log σ_i", {"test_gaussian_entropy"}, "H of N(0, 1)",
        replace=("+ log_std).sum(-1)", "+ torch.exp(log_std)).sum(-1)")),
    "entropy_as_a_float": mistake(
        "gaussian_entropy", "the entropy as a Python float in a new tensor: the right value, no gradient toward log σ",
        {"test_gaussian_entropy"}, "returns no gradient toward log σ",
        replace=("    return (0.5 * np.log(2 * np.pi * np.e) + log_std).sum(-1)",
                 "    return torch.tensor(float((0.5 * np.log(2 * np.pi * np.e) + log_std).sum(-1)))")),
    "clipped_action_stored": mistake(
        "sample_actions", "the clipped action stored and scored instead of the sample", {"test_sample_actions_stored"},
        "store the sample a itself, not the clipped action",
        replace=("        log_probs = gaussian_log_prob(mean, log_std, actions)\n    return actions, log_probs, np.clip(actions.numpy(), "
                 "low, high)",
                 "        actions = actions.clamp(low, high)\n        log_probs = gaussian_log_prob(mean, log_std, actions)\n"
                 "    return actions, log_probs, actions.numpy()")),
    "clipped_action_scored": mistake(
        "sample_actions", "the sample stored, but log π_old taken of the clipped action", {"test_sample_actions_stored"},
        "score the stored (unclipped) sample",
        replace=("gaussian_log_prob(mean, log_std, actions)", "gaussian_log_prob(mean, log_std, actions.clamp(low, high))")),
    "env_action_not_clipped": mistake(
        "sample_actions", "the raw sample sent to the environment", {"test_sample_actions_env"}, "outside [−2, 2]",
        replace=("np.clip(actions.numpy(), low, high)", "actions.numpy()")),
    "mean_instead_of_sample": mistake(
        "sample_actions", "the mean taken as the action: no exploration", {"test_sample_actions_stored"},
        "of the stored actions lie above the bound 2",
        replace=("actions = mean + torch.exp(log_std) * torch.randn_like(mean)", "actions = mean.clone()")),
    "sample_scaled_by_variance": mistake(
        "sample_actions", "a = μ + σ² ξ: the noise scaled by the variance (the same as σ at σ = 1)", {"test_sample_actions_stored"},
        "std of the stored samples for σ =",
        replace=("torch.exp(log_std) * torch.randn_like(mean)", "torch.exp(2 * log_std) * torch.randn_like(mean)")),
    "stats_without_spread_of_means": mistake(
        "update_running_stats", "the variances merged without the spread between the batch means, δ² n m / n′",
        {"test_running_stats_values", "test_running_stats_many"} | SCALE, "includes the spread between the two means",
        replace=(" + delta ** 2 * count * m / total", "")),
    "stats_unweighted_mean": mistake(
        "update_running_stats", "the new mean as the plain average of the old and the batch's, whatever their counts",
        {"test_running_stats_values", "test_running_stats_many"} | SCALE, "(mean, var, count) after [0, 2] and [10, 12]",
        replace=("new_mean = mean + delta * m / total", "new_mean = (mean + batch_mean) / 2")),
    "stats_sample_variance": mistake(
        "update_running_stats", "the batch's sample variance (ddof = 1) instead of its population variance",
        {"test_running_stats_values", "test_running_stats_many", "test_normalize_observations_values"} | SCALE,
        "the batch's population variance", replace=("batch.var(0)", "batch.var(0, ddof=1)")),
    "stats_count_not_updated": mistake(
        "update_running_stats", "the count returned as it was",
        {"test_running_stats_values", "test_running_stats_many", "test_normalize_observations_values",
         "test_scale_rewards_episode_ends"} | SCALE,
        "(mean, var, count) after [0, 2] and [10, 12]",
        replace=("    return new_mean, new_var, total", "    return new_mean, new_var, count")),
    "stats_updated_in_evaluation": mistake(
        "normalize_observations", "the statistics updated in evaluation too (update=False ignored)",
        {"test_normalize_observations_frozen"}, "in evaluation the statistics are frozen",
        replace=("    if update:\n        stats = update_running_stats(stats, obs)", "    stats = update_running_stats(stats, obs)")),
    "observations_not_clipped": mistake(
        "normalize_observations", "normalized observations not clipped to ±clip",
        {"test_normalize_observations_values", "test_normalize_observations_frozen"}, "clip the normalized values to [−clip, clip]",
        replace=("np.clip((np.asarray(obs) - mean) / np.sqrt(var + 1e-8), -clip, clip)", "(np.asarray(obs) - mean) / np.sqrt(var + 1e-8)")),
    "observations_divided_by_variance": mistake(
        "normalize_observations", "(s − μ) / σ² instead of / σ",
        {"test_normalize_observations_values", "test_normalize_observations_frozen"}, "normalized observations (clip 5)",
        replace=("np.sqrt(var + 1e-8)", "(var + 1e-8)")),
    "observations_normalized_before_update": mistake(
        "normalize_observations", "the batch normalized with the statistics from before it was taken in",
        {"test_normalize_observations_values"}, "update the statistics with the batch first",
        replace=("    if update:\n        stats = update_running_stats(stats, obs)\n    mean, var, _ = stats\n",
                 "    mean, var, _ = stats\n    if update:\n        stats = update_running_stats(stats, obs)\n")),
    "reward_mean_subtracted": mistake(
        "scale_rewards", "(r − μ_R) / σ_R: the mean of the returns subtracted", SCALE, "without subtracting any mean",
        replace=("np.clip(np.asarray(rewards, dtype=float) / np.sqrt", "np.clip((np.asarray(rewards, dtype=float) - stats[0]) / np.sqrt")),
    "reward_std_of_single_rewards": mistake(
        "scale_rewards", "divided by the running std of single rewards instead of the discounted returns", SCALE,
        "divide r by the running std of the discounted returns R",
        replace=("stats = update_running_stats(stats, returns)", "stats = update_running_stats(stats, np.asarray(rewards, dtype=float))")),
    "return_not_reset": mistake(
        "scale_rewards", "R carried over from one episode into the next",
        {"test_scale_rewards_episode_ends", "test_scale_rewards_like_gymnasium"}, "R ← 0 where the episode ended",
        replace=("np.where(np.asarray(dones, dtype=bool), 0.0, returns)", "returns")),
    "scaled_rewards_not_clipped": mistake(
        "scale_rewards", "scaled rewards not clipped to ±clip", {"test_scale_rewards_like_gymnasium"}, "scaled Pendulum rewards at step",
        replace=("np.clip(np.asarray(rewards, dtype=float) / np.sqrt(stats[1] + 1e-8), -clip, clip)",
                 "np.asarray(rewards, dtype=float) / np.sqrt(stats[1] + 1e-8)")),
    "orthogonal_gain_squared": mistake(
        "orthogonal_matrix", "W = g²Q: the gain applied twice", {"test_orthogonal_square", "test_orthogonal_rectangular"},
        "WᵀW for gain √2", replace=("    return gain * (", "    return gain ** 2 * (")),
    "orthogonal_wide_not_transposed": mistake(
        "orthogonal_matrix", "the tall Q returned for a wide shape", {"test_orthogonal_rectangular"}, "transpose the tall Q",
        replace=("(q if n_rows >= n_cols else q.T)", "q")),
    "orthogonal_columns_only_normalized": mistake(
        "orthogonal_matrix", "Gaussian columns scaled to unit length but not orthogonalized",
        {"test_orthogonal_square", "test_orthogonal_rectangular"}, "WᵀW for gain √2",
        replace=("    q, r = torch.linalg.qr(torch.randn(tall, generator=generator))\n    q = q * torch.sign(torch.diagonal(r))",
                 "    q = torch.randn(tall, generator=generator)\n    q = q / q.norm(dim=0)")),
    "orthogonal_without_sign_correction": mistake(
        "orthogonal_matrix",
        "Q of the QR decomposition used as it is, without Q ← Q diag(sign(diag R)): orthogonal, but not uniformly distributed",
        {"test_orthogonal_rectangular"}, "flips the sign of some columns of Q",
        replace=("    q = q * torch.sign(torch.diagonal(r))\n", "")),
    "schedule_reaches_zero": mistake(
        "linear_schedule", "x_0 (1 − (k + 1)/K): the last iteration gets 0", {"test_linear_schedule"}, "the first iteration uses x_0",
        replace=("(1 - iteration / n_iterations)", "(1 - (iteration + 1) / n_iterations)")),
    "schedule_grows": mistake(
        "linear_schedule", "x_0 · k/K: rising instead of decaying", {"test_linear_schedule"}, "learning rates of iterations 0–3 of 4",
        replace=("start * (1 - iteration / n_iterations)", "start * iteration / n_iterations")),
    "schedule_exponential": mistake(
        "linear_schedule", "x_0 · 0.5^k: an exponential decay", {"test_linear_schedule"}, "learning rates of iterations 0–3 of 4",
        replace=("start * (1 - iteration / n_iterations)", "start * 0.5 ** iteration")),
    "gradient_clipped_per_parameter": mistake(
        "clip_grad_norm_", "each parameter's gradient clipped to max_norm on its own", {"test_clip_grad_global"},
        "every gradient is scaled by the same factor",
        replace=("        g.mul_(factor)", "        g.mul_(min(1.0, max_norm / (float(g.norm()) + 1e-6)))")),
    "gradient_clamped_elementwise": mistake(
        "clip_grad_norm_", "each entry clamped to ±max_norm", {"test_clip_grad_values", "test_clip_grad_global"},
        "keeping its direction", replace=("        g.mul_(factor)", "        g.clamp_(-max_norm, max_norm)")),
    "gradient_scaled_up": mistake(
        "clip_grad_norm_", "every gradient rescaled to norm max_norm, short ones stretched", {"test_clip_grad_global"},
        "never scaled up", replace=("factor = min(1.0, max_norm / (norm + 1e-6))", "factor = max_norm / (norm + 1e-6)")),
    "gradient_parameters_walked_twice": mistake(
        "clip_grad_norm_",
        "parameters walked twice, for the norm and for the scaling: a generator such as model.parameters() is empty the second time",
        {"test_clip_grad_global"}, "model.parameters() is a generator",
        replace=("    for g in grads:\n        g.mul_(factor)",
                 "    for g in (p.grad for p in parameters if p.grad is not None):\n        g.mul_(factor)")),
    "kl_wrong_direction": mistake(
        "gaussian_kl", "KL(π_θ ‖ π_old): the expectation over the new policy", {"test_gaussian_kl_direction"},
        "the expectation is over π_old",
        replace=("(log_std - log_std_old + (var_old + (mean_old - mean) ** 2) / (2 * var) - 0.5)",
                 "(log_std_old - log_std + (var + (mean_old - mean) ** 2) / (2 * var_old) - 0.5)")),
    "kl_mean_over_dimensions": mistake(
        "gaussian_kl", "the mean over action dimensions instead of the sum", {"test_gaussian_kl_direction"},
        "KL(π_old ‖ π_θ) with 2 action dimensions", replace=("- 0.5).sum(-1)", "- 0.5).mean(-1)")),
    "kl_without_half": mistake(
        "gaussian_kl", "the −½ of each dimension left out: KL(π ‖ π) ≠ 0", {"test_gaussian_kl_values", "test_gaussian_kl_direction"},
        "KL of a distribution with itself is 0", replace=(" / (2 * var) - 0.5)", " / (2 * var))")),
    "kl_through_numpy": mistake(
        "gaussian_kl", "computed in numpy and turned back into a tensor: the right value, no gradient toward π_θ",
        {"test_gaussian_kl_direction"}, "returns no gradient toward μ and log σ of π_θ",
        replace=("    return (log_std - log_std_old + (var_old + (mean_old - mean) ** 2) / (2 * var) - 0.5).sum(-1)",
                 "    return torch.as_tensor((log_std - log_std_old + (var_old + (mean_old - mean) ** 2) / (2 * var) - "
                 "0.5).sum(-1).detach().numpy())")),
    "kl_penalty_added": mistake(
        "kl_penalty_objective", "E[ρΨ] + C·KL: the penalty's sign flipped, a bonus for moving away", {"test_kl_penalty_objective"},
        "the penalty is subtracted", replace=("- kl_coef * kl.mean()", "+ kl_coef * kl.mean()")),
    "kl_penalty_summed": mistake(
        "kl_penalty_objective", "C·Σ KL over the batch instead of its mean", {"test_kl_penalty_objective"}, "L^KLPEN with C = 2",
        replace=("kl_coef * kl.mean()", "kl_coef * kl.sum()")),
    "kl_penalty_log_ratio": mistake(
        "kl_penalty_objective", "E[log ρ · Ψ] instead of E[ρΨ]", {"test_kl_penalty_objective"}, "L^KLPEN with C = 2",
        replace=("(ratio * advantages).mean()", "(torch.log(ratio) * advantages).mean()")),
    "kl_coef_inverted": mistake(
        "adapt_kl_coef", "C halved when the policy moved too far, doubled when it barely moved",
        {"test_adapt_kl_coef_direction", "test_adapt_kl_coef_band"}, "double C",
        replace=("        return kl_coef * 2\n    if kl < kl_target / 1.5:\n        return kl_coef / 2",
                 "        return kl_coef / 2\n    if kl < kl_target / 1.5:\n        return kl_coef * 2")),
    "kl_coef_without_band": mistake(
        "adapt_kl_coef", "C halved whenever it is not doubled: no band where it stays", {"test_adapt_kl_coef_band"},
        "C changes only outside [d_targ / 1.5, 1.5 d_targ]",
        replace=("    if kl < kl_target / 1.5:\n        return kl_coef / 2\n    return kl_coef", "    return kl_coef / 2")),
    "kl_coef_factor_one_and_a_half": mistake(
        "adapt_kl_coef", "C changed by the band's factor 1.5 instead of 2", {"test_adapt_kl_coef_direction", "test_adapt_kl_coef_band"},
        "double C", replace=("kl_coef * 2\n", "kl_coef * 1.5\n")),
}
