"""Wrong answers of kinds the worked hidden tests were not written against: integer and list inputs, inputs changed
in place (through a view, an in-place operator), identity or truthiness for equality, cancellation and overflow,
the wrong axis, both episode flags on one step, the edges of a band. Each is right on the inputs the worked
tests use and wrong somewhere else in the domain its docstring promises; the differential hidden tests
(``checks.expect_agrees``) catch them. Checked in-process against the source notebooks' test cells
(tests/test_hidden_tests.py, tests/verdicts.py)."""

from . import mistake

MISTAKES = {
    # 01
    "td_lambda_table_keeps_integers": mistake(
        "td_lambda_episode", "the new table is np.copy(V) updated with +=: a table of integers cannot take the updates",
        {"test_td_lambda_general", "test_td_lambda_offline_monte_carlo", "test_td_lambda_replacing"}, "td_lambda_episode raised",
        source="def td_lambda_episode(V, episode, alpha, lam, gamma=1.0, trace=\"accumulating\", online=True):\n"
               "    V_new = np.copy(V)\n"
               "    V_start = V_new.copy()\n"
               "    e = np.zeros(len(V_new))\n"
               "    T = len(episode.rewards)\n"
               "    for k in range(T):\n"
               "        s, s_next = episode.states[k], episode.states[k + 1]\n"
               "        V_read = V_new if online else V_start\n"
               "        psi = td_error(V_read, s, episode.rewards[k], s_next, terminated=(k == T - 1), gamma=gamma)\n"
               "        e[s] = e[s] + 1.0 if trace == \"accumulating\" else 1.0\n"
               "        V_new += alpha * e * psi\n"
               "        e = lam * gamma * e\n"
               "    return V_new\n"),
    "terminated_is_true": mistake(
        "td_error", "`terminated is True`: a numpy bool is never the object True", {"test_td_error_terminal"}, "Ψ₍₁₎",
        replace=("bootstrap = 0.0 if terminated else gamma * V[s_next]", "bootstrap = 0.0 if terminated is True else gamma * V[s_next]")),
    "rms_of_lists_fails": mistake(
        "rms_error", "V[1:-1] − v_true[1:-1] without np.asarray: a list has no elementwise minus", {"test_rms_error_general"},
        "rms_error raised",
        replace=("diff = np.asarray(V, dtype=float)[1:-1] - np.asarray(v_true, dtype=float)[1:-1]", "diff = V[1:-1] - v_true[1:-1]")),
    # 02
    "psi_1_of_integer_rewards_truncated": mistake(
        "td_errors", "the result written into np.zeros_like(rewards): integer rewards give integer Ψ₍₁₎",
        {"test_td_errors_terminal", "test_backward_general"},
        "Ψ₍₁₎",
        source="def td_errors(rewards, values, gamma=1.0):\n"
               "    r, v = np.asarray(rewards), np.asarray(values)\n"
               "    out = np.zeros_like(r)\n"
               "    for t in range(len(r)):\n"
               "        out[t] = r[t] + (gamma * v[t + 1] if t + 1 < len(r) else 0.0) - v[t]\n"
               "    return out\n"),
    "psi_1_zeroes_v_T_through_a_view": mistake(
        "td_errors", "next = values[1:]; next[-1] = 0: the slice is a view, the caller's V(s_T) becomes 0", {"test_td_errors_terminal"},
        "modified in place",
        source="def td_errors(rewards, values, gamma=1.0):\n"
               "    following = np.asarray(values)[1:]\n"
               "    following[-1] = 0.0\n"
               "    return np.asarray(rewards, dtype=float) + gamma * following - np.asarray(values, dtype=float)[:-1]\n"),
    "backward_view_divides_by_powers": mistake(
        "backward_view_estimates", "the recursion vectorized as a cumulative sum scaled by (γλ)^t and divided back: "
        "0/0 at λ = 0, overflow on long episodes",
        {"test_backward_equals_forward", "test_backward_general", "test_offline_equals_offline_td_lambda"}, "backward-view Ψ^λ",
        source="def backward_view_estimates(rewards, values, lam, gamma=1.0):\n"
               "    deltas = td_errors(rewards, values, gamma)\n"
               "    scale = (gamma * lam) ** np.arange(len(deltas))\n"
               "    return np.cumsum((deltas * scale)[::-1])[::-1] / scale\n"),
    "offline_table_updated_in_place": mistake(
        "offline_lambda_return_episode", "np.add.at on np.asarray(V, dtype=float): a float table is the caller's own and changes",
        {"test_offline_example", "test_offline_equals_offline_td_lambda"}, "modified in place",
        replace=("    V_new = V.copy()\n    np.add.at(V_new,", "    V_new = V\n    np.add.at(V_new,")),
    # 03
    "gae_flags_added": mistake(
        "gae", "1 − terminated − truncated as the continuation factor: −1 on a step that is both", {"test_gae_general"}, "Ψ^GAE",
        replace=("following = deltas[t] + lam * gamma * np.where(ended[t], 0.0, following)",
                 "following = deltas[t] + lam * gamma * (1 - np.asarray(terminated[t], dtype=float)"
                 " - np.asarray(truncated[t], dtype=float)) * following")),
    "gae_of_integer_rewards_truncated": mistake(
        "gae", "Ψ^GAE written into np.zeros_like(rewards): integer rewards give integer advantages", {"test_gae_general"}, "Ψ^GAE",
        replace=("out = np.zeros_like(deltas)", "out = np.zeros_like(np.asarray(rewards))")),
    "batched_psi_1_negates_numbers": mistake(
        "td_errors", "~terminated as `not terminated`: right for bools, −1 and −2 for flags given as 0 and 1",
        {"test_td_errors_ends", "test_gae_general"},
        "Ψ₍₁₎",
        replace=("not_terminated = 1.0 - np.asarray(terminated, dtype=float)", "not_terminated = ~np.asarray(terminated)")),
    # 04
    "log_prob_index_of_another_dtype": mistake(
        "log_prob_of_actions", "gather with the actions as given: torch's gather takes int64 indices only", {"test_log_prob_general"},
        "log_prob_of_actions raised",
        replace=(".gather(-1, actions.long().unsqueeze(-1))", ".gather(-1, actions.unsqueeze(-1))")),
    "log_softmax_over_the_batch": mistake(
        "log_prob_of_actions", "log_softmax over dim 0, the batch, instead of the actions",
        {"test_log_prob_basic", "test_log_prob_general"}, "log π",
        replace=("torch.log_softmax(logits, dim=-1)", "torch.log_softmax(logits, dim=0)")),
    "ratio_of_probabilities_underflows": mistake(
        "probability_ratio", "π_θ / π_old as exp(log π_θ) / exp(log π_old): 0/0 for log-probabilities below −745",
        {"test_ratio_old_is_constant"}, "ρ",
        replace=("torch.exp(log_probs - old_log_probs.detach())", "torch.exp(log_probs) / torch.exp(old_log_probs.detach())")),
    "critic_eps_zero_is_none": mistake(
        "clipped_value_loss", "`if not eps`: ε̂ = 0 taken as no clipping", {"test_value_loss_clip_centre"}, "ε̂",
        replace=("if eps is None:", "if not eps:")),
    "advantages_centred_in_place": mistake(
        "normalize_advantages", "advantages -= mean: the caller's tensor is centred too",
        {"test_normalize"}, "changed its argument advantages in place",
        replace=("return (advantages - advantages.mean()) / (advantages.std() + 1e-8)",
                 "advantages -= advantages.mean()\n    return advantages / (advantages.std() + 1e-8)")),
    "std_by_the_sum_of_squares": mistake(
        "normalize_advantages", "std from (Σ Ψ² − n mean²)/(n − 1): cancellation when the mean is large and the spread small",
        {"test_normalize"}, "normalized Ψ",
        replace=("return (advantages - advantages.mean()) / (advantages.std() + 1e-8)",
                 "n, mean = advantages.numel(), advantages.mean()\n"
                 "    std = torch.sqrt(torch.clamp(((advantages ** 2).sum() - n * mean ** 2) / (n - 1), min=0.0))\n"
                 "    return (advantages - mean) / (std + 1e-8)")),
    # 05
    "log_prob_dimensions_from_log_std": mistake(
        "gaussian_log_prob", "d = len(log_std) in the normalizer: the batch size when log σ has a row per action",
        {"test_gaussian_log_prob_dimensions"}, "log π(a|s)",
        replace=("per_dim = -((actions - mean) ** 2) / (2 * torch.exp(2 * log_std)) - log_std - 0.5 * np.log(2 * np.pi)\n"
                 "    return per_dim.sum(-1)",
                 "d = len(log_std)\n"
                 "    return (-((actions - mean) ** 2) / (2 * torch.exp(2 * log_std)) - log_std).sum(-1) - 0.5 * d * np.log(2 * np.pi)")),
    "running_mean_moved_in_place": mistake(
        "update_running_stats", "mean += δ m / n′: the caller's mean array moves too",
        {"test_running_stats_many", "test_normalize_observations_values", "test_scale_rewards_like_gymnasium"}, "modified in place",
        replace=("new_mean = mean + delta * m / total", "new_mean = mean\n    new_mean += delta * m / total")),
    "return_accumulated_in_place": mistake(
        "scale_rewards", "R *= γ; R += r on the caller's array",
        {"test_scale_rewards_like_gymnasium"}, "changed its argument returns in place",
        replace=("returns = gamma * np.asarray(returns, dtype=float) + np.asarray(rewards, dtype=float)",
                 "returns = np.asarray(returns, dtype=float)\n    returns *= gamma\n    returns += np.asarray(rewards, dtype=float)")),
    "kl_coef_doubled_at_the_edge": mistake(
        "adapt_kl_coef", "C doubled already at KL = 1.5 d_targ (≥ where the rule says >)", {"test_adapt_kl_coef_band"}, "C",
        replace=("if kl > 1.5 * kl_target:", "if kl >= 1.5 * kl_target:")),
    "schedule_by_integer_division": mistake(
        "linear_schedule", "x_0 (1 − k // K): integer division keeps x_0 until the end", {"test_linear_schedule"}, "learning rates",
        replace=("return start * (1 - iteration / n_iterations)", "return start * (1 - iteration // n_iterations)")),
}

ASSIGNMENTS = {
    "td_lambda_table_keeps_integers": "01_td_lambda", "terminated_is_true": "01_td_lambda", "rms_of_lists_fails": "01_td_lambda",
    "psi_1_of_integer_rewards_truncated": "02_forward_backward", "psi_1_zeroes_v_T_through_a_view": "02_forward_backward",
    "backward_view_divides_by_powers": "02_forward_backward", "offline_table_updated_in_place": "02_forward_backward",
    "gae_flags_added": "03_gae", "gae_of_integer_rewards_truncated": "03_gae", "batched_psi_1_negates_numbers": "03_gae",
    "log_prob_index_of_another_dtype": "04_ppo", "log_softmax_over_the_batch": "04_ppo", "ratio_of_probabilities_underflows": "04_ppo",
    "critic_eps_zero_is_none": "04_ppo", "advantages_centred_in_place": "04_ppo", "std_by_the_sum_of_squares": "04_ppo",
    "log_prob_dimensions_from_log_std": "05_continuous", "running_mean_moved_in_place": "05_continuous",
    "return_accumulated_in_place": "05_continuous", "kl_coef_doubled_at_the_edge": "05_continuous",
    "schedule_by_integer_division": "05_continuous",
}

# Assignment 04's update and training tests run the student's ppo_update on an agent: they are graded through
# `rl-course grade` in tests/test_course.py, and left out here (every mistake above lies in a function of its own tests).
LEFT_OUT = {"test_update_improves", "test_update_minibatches", "test_update_entropy_bonus", "test_update_diagnostics",
            "test_update_steps", "test_train_pipeline", "test_train_learns"}


def domain_mistakes() -> dict:
    """The mistakes above, each with its assignment."""
    from . import Mistake

    return {name: Mistake(**{**m.__dict__, "assignment": ASSIGNMENTS[name]}) for name, m in MISTAKES.items()}
