"""Assignment 03: GAE on real rollouts."""

from . import mistake

ASSIGNMENT = "03_gae"
COLLECT = {"test_collect_basic", "test_collect_truncation", "test_collect_episode_ends"}
TD_ERRORS = {"test_td_errors_basic", "test_td_errors_ends"}
GAE = {"test_gae_basic", "test_gae_done_alignment", "test_gae_truncation", "test_gae_batch", "test_gae_general"}

MISTAKES = {
    "time_limit_treated_as_termination": mistake(
        "collect_rollout", "a truncated step gets V = 0 after it instead of V(final observation)", {"test_collect_truncation"},
        "a truncated step bootstraps from value(info['final_obs'][i])",
        replace=('next_values[t, i] = value(info["final_obs"][i][None])[0]', "next_values[t, i] = 0.0")),
    "next_value_from_the_reset_observation": mistake(
        "collect_rollout", "after an episode ends, V(s_{t+1}) is read from the next episode's first observation",
        {"test_collect_truncation", "test_collect_episode_ends"}, "0 after a termination",
        replace=("            next_values[t - 1][ongoing] = values[ongoing]", "            next_values[t - 1] = values")),
    "stores_the_next_observation": mistake(
        "collect_rollout", "s_{t+1} stored where a_t was taken in s_t", {"test_collect_basic", "test_collect_episode_ends"},
        "rollout.observations at t=0",
        replace=("zip(record, (obs, actions, log_probs", "zip(record, (next_obs, actions, log_probs")),
    "last_step_not_bootstrapped": mistake(
        "collect_rollout", "the rollout's last step gets V = 0 after it", {"test_collect_truncation", "test_collect_episode_ends"},
        "value(last obs) after the last",
        replace=("    next_values[-1][ongoing] = value(obs)[ongoing]\n", "")),
    "terminal_bootstrapped": mistake(
        "td_errors", "Ψ₍₁₎ bootstraps past a terminal step", {"test_td_errors_ends"} | GAE - {"test_gae_basic"},
        "a terminated step's target is r_t alone",
        replace=("gamma * not_terminated * np.asarray(next_values, dtype=float)", "gamma * np.asarray(next_values, dtype=float)")),
    "batched_psi_1_undiscounted": mistake(
        "td_errors", "γ left out of Ψ₍₁₎", TD_ERRORS | GAE, "Ψ₍₁₎ at t=0, env=0: expected 0.55, got 0.6",
        replace=("gamma * not_terminated * np.asarray(next_values, dtype=float)", "not_terminated * np.asarray(next_values, dtype=float)")),
    "values_swapped": mistake(
        "td_errors", "V(s_t) and V(s_{t+1}) swapped", TD_ERRORS | GAE, "Ψ₍₁₎ at t=0, env=0: expected 0.55, got 1.15",
        replace=("gamma * not_terminated * np.asarray(next_values, dtype=float) - np.asarray(values, dtype=float)",
                 "gamma * not_terminated * np.asarray(values, dtype=float) - np.asarray(next_values, dtype=float)")),
    # Every hidden GAE test has episode ends, so a misaligned done flag fails all of them.
    "done_t_instead_of_done_t_plus_1": mistake(
        "gae", "the recursion is cut with done_t instead of done_{t+1}",
        {"test_gae_done_alignment", "test_gae_truncation", "test_gae_batch", "test_gae_general"},
        "expected 2.62, got 3.60496 (cut the trace with the flag of step t",
        replace=("np.where(ended[t], 0.0, following)", "np.where(ended[t - 1], 0.0, following)")),
    "recursion_not_reset_at_episode_ends": mistake(
        "gae", "Ψ^GAE flows across episode ends", GAE - {"test_gae_basic"}, "cut the trace with the flag of step t",
        replace=("np.where(ended[t], 0.0, following)", "following")),
    "lambda_gamma_on_the_wrong_term": mistake(
        "gae", "λγ multiplies Ψ₍₁₎(s_t) instead of Ψ^GAE(s_{t+1})", GAE, "Ψ^GAE with λ = 0 at t=0, env=0: expected 0.32449, got 0",
        replace=("following = deltas[t] + lam * gamma * np.where(ended[t], 0.0, following)",
                 "following = lam * gamma * deltas[t] + np.where(ended[t], 0.0, following)")),
    "across_the_environment_axis": mistake(
        "gae", "the recursion runs over environments instead of time (a batch flattened the wrong way)",
        GAE - {"test_gae_basic"}, "each column (environment) has its own episode ends",
        replace=("    for t in reversed(range(deltas.shape[0])):\n        following = deltas[t] + lam * gamma * np.where(ended[t], 0.0, "
                 "following)\n        out[t] = following",
                 "    flat_d, flat_e = deltas.T.ravel(), ended.T.ravel()\n    acc, res = 0.0, np.zeros_like(flat_d)\n"
                 "    for k in reversed(range(len(flat_d))):\n        acc = flat_d[k] + lam * gamma * (0.0 if flat_e[k] else acc)\n        "
                 "res[k] = acc\n"
                 "    out = res.reshape(deltas.shape[1], deltas.shape[0]).T")),
}

# Wrong answers that earned full marks before the hidden tests reached a step both terminated and truncated, an
# episode ending on the rollout's last step, a stochastic policy, and the inputs after the call.
MISTAKES.update({
    "terminated_and_truncated_recorded_as_truncated": mistake(
        "collect_rollout", "a step both terminated and truncated is recorded as truncated, and bootstraps from V(final observation)",
        {"test_collect_truncation"}, "counts as terminated",
        replace=("truncated = truncated & ~terminated", "terminated = terminated & ~truncated")),
    "last_step_bootstraps_from_the_next_rollout": mistake(
        "collect_rollout",
        "after the last step every environment bootstraps from value(last observation), even one whose episode just ended",
        {"test_collect_truncation", "test_collect_episode_ends"}, "rollout.next_values",
        replace=("    next_values[-1][ongoing] = value(obs)[ongoing]\n", "    next_values[-1] = value(obs)\n")),
    "log_prob_of_another_sample": mistake(
        "collect_rollout", "policy called twice per step: the stored log-probability belongs to a second sample, not to the action taken",
        {"test_collect_episode_ends"}, "rollout.log_probs of a stochastic policy",
        replace=("        actions, log_probs = policy(obs)\n", "        actions, _ = policy(obs)\n        _, log_probs = policy(obs)\n")),
    "batched_psi_1_masks_next_values_in_place": mistake(
        "td_errors", "next_values multiplied by (1 − terminated) in the caller's array", {"test_td_errors_ends", "test_gae_batch"},
        "the input array next_values was modified in place",
        source="def td_errors(rewards, values, next_values, terminated, gamma):\n"
               "    next_values = np.asarray(next_values, dtype=float)\n"
               "    next_values *= 1.0 - np.asarray(terminated, dtype=float)\n"
               "    return np.asarray(rewards, dtype=float) + gamma * next_values - np.asarray(values, dtype=float)\n"),
    "gae_merges_the_flags_in_place": mistake(
        "gae", "terminated |= truncated on the caller's array", {"test_gae_truncation", "test_gae_batch", "test_gae_general"},
        "Ψ^GAE with episodes truncated at",
        replace=("ended = np.asarray(terminated, dtype=bool) | np.asarray(truncated, dtype=bool)",
                 "ended = np.asarray(terminated, dtype=bool)\n    ended |= np.asarray(truncated, dtype=bool)")),
})
