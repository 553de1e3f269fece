"""Assignment 02: forward and backward views."""

from . import mistake

ASSIGNMENT = "02_forward_backward"
TD_ERRORS = {"test_td_errors_example", "test_td_errors_terminal"}
N_STEP = {"test_n_step_example", "test_n_step_general", "test_n_step_end_of_episode"}
LAMBDA = {"test_lambda_limits", "test_lambda_end_weights", "test_lambda_general"}
BACKWARD = {"test_backward_equals_forward", "test_backward_general"}
OFFLINE = {"test_offline_example", "test_offline_equals_offline_td_lambda"}
# test_backward_equals_forward also compares the student's own forward view with their own backward view:
# a mistake in either (or in the Ψ₍N₎ or Ψ₍₁₎ below them) fails it too.
OWN_VIEWS = {"test_backward_equals_forward"}
TRUE_ONLINE = {"test_true_online_td0", "test_true_online_equals_online_lambda_return", "test_true_online_episodes"}

MISTAKES = {
    # The backward view and the offline λ-return are built on td_errors: they inherit its mistakes.
    "psi_1_bootstraps_past_the_end": mistake(
        "td_errors", "Ψ₍₁₎ of the last step bootstraps from V(s_T)", {"test_td_errors_terminal", "test_backward_general"} | OWN_VIEWS,
        "not r + γ V(s_T)",
        source="def td_errors(rewards, values, gamma=1.0):\n    v = np.asarray(values, dtype=float)\n"
               "    return np.asarray(rewards, dtype=float) + gamma * v[1:] - v[:-1]\n"),
    "psi_1_undiscounted": mistake(
        "td_errors", "γ left out of Ψ₍₁₎", TD_ERRORS | BACKWARD | {"test_offline_equals_offline_td_lambda"},
        "Ψ₍₁₎ at t=0: expected -0.4, got -0.3",
        replace=("return r + gamma * next_values - v[:-1]", "return r + next_values - v[:-1]")),
    "psi_1_shifted_by_one": mistake(
        "td_errors", "V(s_t) and V(s_{t+1}) taken one step apart from r_t", TD_ERRORS | BACKWARD | OFFLINE, "Ψ₍₁₎ at t=0: expected -0.4",
        replace=("next_values = np.append(v[1:-1], 0.0)", "next_values = np.append(v[2:], 0.0)[: len(r)]")),
    "n_step_off_by_one": mistake(
        "n_step_estimates", "Ψ₍N₎ sums N + 1 rewards", N_STEP | LAMBDA | OWN_VIEWS, "Ψ₍N₎ sums the N rewards",
        replace=("end = T if n == np.inf else min(t + int(n), T)", "end = T if n == np.inf else min(t + int(n) + 1, T)")),
    "n_step_bootstraps_past_the_end": mistake(
        "n_step_estimates", "Ψ₍N₎ near the end bootstraps from V(s_T)", {"test_n_step_end_of_episode", "test_lambda_general"} | OWN_VIEWS,
        "no value is bootstrapped from s_T",
        replace=("        if end < T:\n", "        if end <= T:\n")),
    "n_step_undiscounted_bootstrap": mistake(
        "n_step_estimates", "V(s_{t+N}) not discounted by γ^N", N_STEP | {"test_lambda_limits", "test_lambda_general"} | OWN_VIEWS,
        "bootstraps from V(s_{t+N}) with γ^N",
        replace=("out[t] += gamma ** (end - t) * v[end]", "out[t] += v[end]")),
    "lambda_weights_do_not_sum_to_one": mistake(
        "lambda_estimates", "the Monte-Carlo term gets (1 − λ)λ^{T−t−1} instead of the remaining λ^{T−t−1}", LAMBDA | OWN_VIEWS,
        "λ^{T−t−1} in all",
        replace=("+ lam ** (T - t - 1) * monte_carlo[t]", "+ (1 - lam) * lam ** (T - t - 1) * monte_carlo[t]")),
    "lambda_weights_off_by_one": mistake(
        "lambda_estimates", "λ^N instead of λ^{N−1}", {"test_lambda_limits", "test_lambda_general"} | OWN_VIEWS, "Ψ^λ with λ = 0 at t=0",
        replace=("(1 - lam) * lam ** (n - 1) * by_n[n][t]", "(1 - lam) * lam ** n * by_n[n][t]")),
    "lambda_without_monte_carlo": mistake(
        "lambda_estimates", "the Monte-Carlo term left out at the end of the episode", LAMBDA | OWN_VIEWS, "belong to Ψ₍∞₎",
        replace=("+ lam ** (T - t - 1) * monte_carlo[t]", "")),
    "backward_view_without_gamma": mistake(
        "backward_view_estimates", "Ψ^λ(s_t) = Ψ₍₁₎ + λΨ^λ(s_{t+1}): γ forgotten", BACKWARD | {"test_offline_equals_offline_td_lambda"},
        "backward-view Ψ^λ with λ = 0.8, γ = 0.9",
        replace=("following = deltas[t] + gamma * lam * following", "following = deltas[t] + lam * following")),
    "backward_view_forwards": mistake(
        "backward_view_estimates", "the recursion runs forward in time", BACKWARD | OFFLINE, "start the recursion at the last step",
        replace=("for t in reversed(range(len(deltas))):", "for t in range(len(deltas)):")),
    "backward_view_off_by_one": mistake(
        "backward_view_estimates", "Ψ^λ(s_t) stored before Ψ₍₁₎(s_t) is added", BACKWARD | OFFLINE, "start the recursion at the last step",
        replace=("        following = deltas[t] + gamma * lam * following\n        out[t] = following",
                 "        out[t] = following\n        following = deltas[t] + gamma * lam * following")),
    "revisits_dropped_by_fancy_indexing": mistake(
        "offline_lambda_return_episode", "V[states] += … keeps one update per state", {"test_offline_equals_offline_td_lambda"},
        "every visit of a state adds its own α Ψ^λ",
        replace=("np.add.at(V_new, episode.states[:-1], alpha * psi)", "V_new[episode.states[:-1]] += alpha * psi")),
    "offline_updates_the_terminal_state": mistake(
        "offline_lambda_return_episode", "the terminal state s_T gets an update too", OFFLINE, "episode 0 at state=0: expected 0",
        replace=("np.add.at(V_new, episode.states[:-1], alpha * psi)", "np.add.at(V_new, episode.states[1:], alpha * psi)")),
    "offline_without_step_size": mistake(
        "offline_lambda_return_episode", "α left out", OFFLINE, "V after the episode 2 → 3 → 4",
        replace=("np.add.at(V_new, episode.states[:-1], alpha * psi)", "np.add.at(V_new, episode.states[:-1], psi)")),
    "dutch_trace_after_the_decay": mistake(
        "true_online_td_lambda_episode", "the dutch trace reads e(s) after it decayed",
        {"test_true_online_equals_online_lambda_return", "test_true_online_episodes"}, "check the dutch trace",
        replace=("e = gamma * lam * e\n        e[s] += 1.0 - alpha * gamma * lam * e_before",
                 "e = gamma * lam * e\n        e[s] += 1.0 - alpha * gamma * lam * e[s]")),
    "true_online_accumulating_trace": mistake(
        "true_online_td_lambda_episode", "e(s) ← e(s) + 1: an accumulating trace instead of the dutch one",
        {"test_true_online_equals_online_lambda_return", "test_true_online_episodes"}, "check the dutch trace",
        replace=("e[s] += 1.0 - alpha * gamma * lam * e_before", "e[s] += 1.0")),
    "true_online_trace_kept_between_episodes": mistake(
        "true_online_td_lambda_episode", "the dutch traces are created once, at module level, and carry over into the next episode",
        {"test_true_online_equals_online_lambda_return", "test_true_online_episodes"},
        "e := 0 and V_old := 0 at the start of every episode",
        source="e = None  # the dutch traces e(s), created on the first call\n\n"
               "def true_online_td_lambda_episode(V, episode, alpha, lam, gamma=1.0):\n"
               "    global e\n"
               "    V_new = np.array(V, dtype=float)\n"
               "    if e is None or e.shape != V_new.shape:\n"
               "        e = np.zeros_like(V_new)\n"
               "    v_old = 0.0\n"
               "    T = len(episode.rewards)\n"
               "    for k in range(T):\n"
               "        s, s_next = episode.states[k], episode.states[k + 1]\n"
               "        v = V_new[s]\n"
               "        v_next = 0.0 if k == T - 1 else V_new[s_next]\n"
               "        delta = episode.rewards[k] + gamma * v_next - v\n"
               "        e_before = e[s]\n"
               "        e = gamma * lam * e\n"
               "        e[s] += 1.0 - alpha * gamma * lam * e_before\n"
               "        V_new = V_new + alpha * (delta + v - v_old) * e\n"
               "        V_new[s] -= alpha * (v - v_old)\n"
               "        v_old = v_next\n"
               "    return V_new\n"),
    "true_online_v_old_not_carried": mistake(
        "true_online_td_lambda_episode", "V_old never updated: the correction term is always V(s) − 0",
        {"test_true_online_equals_online_lambda_return", "test_true_online_episodes"}, "V_old := 0 at the start of every episode",
        replace=("        v_old = v_next\n", "")),
}

# Wrong answers that earned full marks before the hidden tests checked the forward view's weights, the inputs after
# the call, and true online TD(λ) with junk at the terminal states.
MISTAKES.update({
    "lambda_by_the_backward_recursion": mistake(
        "lambda_estimates", "the forward view written as the backward recursion (same numbers, not the weighted sum the task asks for)",
        {"test_lambda_general"}, "(from your n_step_estimates) in Ψ^λ",
        source="def lambda_estimates(rewards, values, lam, gamma=1.0):\n"
               "    deltas = td_errors(rewards, values, gamma)\n"
               "    out, following = np.zeros(len(deltas)), 0.0\n"
               "    for t in reversed(range(len(deltas))):\n"
               "        following = deltas[t] + gamma * lam * following\n"
               "        out[t] = following\n"
               "    return out\n"),
    "psi_1_zeroes_the_terminal_value_in_place": mistake(
        "td_errors", "V(s_T) set to 0 in the caller's array (values[-1] = 0) before the one-step errors", {"test_td_errors_terminal"},
        "the input array values was modified in place",
        source="def td_errors(rewards, values, gamma=1.0):\n"
               "    v = np.asarray(values, dtype=float)\n"
               "    v[-1] = 0.0  # no future after the end\n"
               "    return np.asarray(rewards, dtype=float) + gamma * v[1:] - v[:-1]\n"),
    "n_step_zeroes_the_terminal_value_in_place": mistake(
        "n_step_estimates", "V(s_T) set to 0 in the caller's array, then bootstrapped from everywhere", {"test_n_step_end_of_episode"},
        "was modified in place",
        source="def n_step_estimates(rewards, values, n, gamma=1.0):\n"
               "    r, v = np.asarray(rewards, dtype=float), np.asarray(values, dtype=float)\n"
               "    v[-1] = 0.0  # no future after the end: now every N may bootstrap\n"
               "    T = len(r)\n"
               "    out = np.empty(T)\n"
               "    for t in range(T):\n"
               "        end = T if n == np.inf else min(t + int(n), T)\n"
               "        out[t] = sum(gamma ** k * r[t + k] for k in range(end - t)) + gamma ** (end - t) * v[end] - v[t]\n"
               "    return out\n"),
    "true_online_reads_the_terminal_value": mistake(
        "true_online_td_lambda_episode", "v′ read from the table at the terminal s_T", {"test_true_online_episodes"},
        "with 0.6, −0.8 instead of 0 at the terminals",
        replace=("v_next = 0.0 if k == T - 1 else V_new[s_next]", "v_next = V_new[s_next]")),
})
