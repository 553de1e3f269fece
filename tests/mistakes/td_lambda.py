"""Assignment 01: TD(λ) with eligibility traces."""

from . import mistake

ASSIGNMENT = "01_td_lambda"
TD_ERROR = {"test_td_error_step", "test_td_error_terminal"}
TD_LAMBDA = {"test_td_lambda_worked_example", "test_td_lambda_zero_is_td0", "test_td_lambda_terminal", "test_td_lambda_trace_reset",
             "test_td_lambda_offline_monte_carlo", "test_td_lambda_general", "test_td_lambda_replacing"}
RMS = {"test_rms_error_initial", "test_rms_error_general"}

MISTAKES = {
    "bootstraps_past_the_end": mistake(
        "td_error", "Ψ₍₁₎ bootstraps from V(s′) of a terminal state", {"test_td_error_terminal", "test_td_lambda_terminal"},
        "must not bootstrap",
        source="def td_error(V, s, r, s_next, terminated, gamma=1.0):\n    return float(r + gamma * V[s_next] - V[s])\n"),
    "discounts_the_wrong_value": mistake(
        "td_error", "γ multiplies V(s) instead of V(s′)",
        TD_ERROR | {"test_td_lambda_zero_is_td0", "test_td_lambda_offline_monte_carlo", "test_td_lambda_general",
                    "test_td_lambda_replacing", "test_td_lambda_terminal"}, "Ψ₍₁₎ for the step 2 → 1 with r = 1, γ = 0.5",
        replace=("return float(r + bootstrap - V[s])", "return float(r + (0.0 if terminated else V[s_next]) - gamma * V[s])")),
    "sign_flipped": mistake(
        "td_error", "V(s) − r − γV(s′): the TD error with the wrong sign", TD_ERROR | TD_LAMBDA, "expected 0.3, got -0.3",
        replace=("return float(r + bootstrap - V[s])", "return float(V[s] - r - bootstrap)")),
    "replacing_ignored": mistake(
        "td_lambda_episode", "replacing traces accumulate anyway", {"test_td_lambda_replacing"}, "replacing: e(s_k) ← 1",
        replace=('if trace == "accumulating" else 1.0', "")),
    "trace_decays_by_lambda_only": mistake(
        "td_lambda_episode", "e ← λe: the trace forgets γ",
        {"test_td_lambda_general", "test_td_lambda_offline_monte_carlo", "test_td_lambda_replacing", "test_td_lambda_terminal"},
        "2 → 3 → 2 → 1 → 0 (α = 0.2, λ = 0.7, γ = 0.9)", replace=("e = lam * gamma * e", "e = lam * e")),
    "trace_decayed_before_the_update": mistake(
        "td_lambda_episode", "e ← λγe before V ← V + αΨ₍₁₎e: the current state gets less than α", TD_LAMBDA,
        "the episode 2 → 3 → 4 at state=2: expected 0.25, got 0.125",
        replace=("        V_new = V_new + alpha * e * psi\n        e = lam * gamma * e",
                 "        e = lam * gamma * e\n        V_new = V_new + alpha * e * psi")),
    "always_online": mistake(
        "td_lambda_episode", "offline TD(λ) reads the table it is changing",
        {"test_td_lambda_offline_monte_carlo", "test_td_lambda_replacing", "test_td_lambda_terminal"},
        "every Ψ₍₁₎ uses the table of the episode start",
        replace=("V_read = V_new if online else V_start", "V_read = V_new")),
    "trace_kept_between_episodes": mistake(
        "td_lambda_episode", "the traces are created once, at module level, and carry over into the next episode",
        TD_LAMBDA - {"test_td_lambda_worked_example", "test_td_lambda_zero_is_td0"},
        "e(s) := 0 for all s at the start of every episode",
        source="e = None  # the eligibility traces e(s), created on the first call\n\n"
               "def td_lambda_episode(V, episode, alpha, lam, gamma=1.0, trace=\"accumulating\", online=True):\n"
               "    global e\n"
               "    V_new = np.array(V, dtype=float)\n"
               "    V_start = V_new.copy()\n"
               "    if e is None or e.shape != V_new.shape:\n"
               "        e = np.zeros_like(V_new)\n"
               "    T = len(episode.rewards)\n"
               "    for k in range(T):\n"
               "        s, s_next = episode.states[k], episode.states[k + 1]\n"
               "        V_read = V_new if online else V_start\n"
               "        psi = td_error(V_read, s, episode.rewards[k], s_next, terminated=(k == T - 1), gamma=gamma)\n"
               "        e[s] = e[s] + 1.0 if trace == \"accumulating\" else 1.0\n"
               "        V_new = V_new + alpha * e * psi\n"
               "        e = lam * gamma * e\n"
               "    return V_new\n"),
    "terminal_state_gets_a_trace": mistake(
        "td_lambda_episode", "the loop runs over s_0 … s_T: the terminal state gets a trace and an update towards 0",
        {"test_td_lambda_terminal"}, "the terminal s_T never gets a trace",
        source="def td_lambda_episode(V, episode, alpha, lam, gamma=1.0, trace=\"accumulating\", online=True):\n"
               "    V_new = np.array(V, dtype=float)\n"
               "    V_start = V_new.copy()\n"
               "    e = np.zeros_like(V_new)\n"
               "    T = len(episode.rewards)\n"
               "    for k, s in enumerate(episode.states):\n"
               "        V_read = V_new if online else V_start\n"
               "        if k < T:\n"
               "            psi = td_error(V_read, s, episode.rewards[k], episode.states[k + 1], terminated=(k == T - 1), gamma=gamma)\n"
               "        else:  # the terminal state: no reward, no future\n"
               "            psi = 0.0 - V_read[s]\n"
               "        e[s] = e[s] + 1.0 if trace == \"accumulating\" else 1.0\n"
               "        V_new = V_new + alpha * e * psi\n"
               "        e = lam * gamma * e\n"
               "    return V_new\n"),
    "inline_psi_bootstraps_past_the_end": mistake(
        "td_lambda_episode", "Ψ₍₁₎ written out in the loop, bootstrapping from V(s_T) at the last step",
        {"test_td_lambda_terminal"}, "V(s_T) must never be read",
        replace=("psi = td_error(V_read, s, episode.rewards[k], s_next, terminated=(k == T - 1), gamma=gamma)",
                 "psi = episode.rewards[k] + gamma * V_read[s_next] - V_read[s]")),
    "terminals_in_the_mean": mistake(
        "rms_error", "the terminal states (always right) are averaged in", RMS, "leave out the first and last entries",
        source="def rms_error(V, v_true):\n    return float(np.sqrt(np.mean((np.asarray(V) - np.asarray(v_true)) ** 2)))\n"),
    "no_square_root": mistake(
        "rms_error", "the mean squared error, not its root", RMS, "RMS error of V = 0 on the 19-state walk: expected 0.547723, got 0.3",
        replace=("return float(np.sqrt(np.mean(diff ** 2)))", "return float(np.mean(diff ** 2))")),
    "mean_absolute_error": mistake(
        "rms_error", "the mean absolute error", RMS, "RMS error of V = 0 on the 19-state walk",
        replace=("return float(np.sqrt(np.mean(diff ** 2)))", "return float(np.mean(np.abs(diff)))")),
    "calls_the_library": mistake(
        "rms_error", "hands in the library's reference", RMS, "uses the library's reference implementation",
        source="def rms_error(V, v_true):\n    return tabular.rms_error(V, v_true)\n"),
}

# Wrong answers that earned full marks before the hidden tests reached offline replacing traces and a terminal state
# inside the table.
MISTAKES.update({
    "offline_branch_ignores_trace": mistake(
        "td_lambda_episode", "a separate offline branch that always accumulates, whatever `trace` says", {"test_td_lambda_replacing"},
        "offline updates use the trace that `trace` asks for",
        source="def td_lambda_episode(V, episode, alpha, lam, gamma=1.0, trace=\"accumulating\", online=True):\n"
               "    V_new = np.array(V, dtype=float)\n"
               "    e = np.zeros_like(V_new)\n"
               "    T = len(episode.rewards)\n"
               "    if not online:  # offline: Ψ₍₁₎ from the start table, the increments summed and applied at the end\n"
               "        total = np.zeros_like(V_new)\n"
               "        for k in range(T):\n"
               "            s = episode.states[k]\n"
               "            psi = td_error(V_new, s, episode.rewards[k], episode.states[k + 1], terminated=(k == T - 1), gamma=gamma)\n"
               "            e[s] += 1.0\n"
               "            total += alpha * e * psi\n"
               "            e *= lam * gamma\n"
               "        return V_new + total\n"
               "    for k in range(T):\n"
               "        s = episode.states[k]\n"
               "        psi = td_error(V_new, s, episode.rewards[k], episode.states[k + 1], terminated=(k == T - 1), gamma=gamma)\n"
               "        e[s] = e[s] + 1.0 if trace == \"accumulating\" else 1.0\n"
               "        V_new = V_new + alpha * e * psi\n"
               "        e = lam * gamma * e\n"
               "    return V_new\n"),
    "terminal_read_off_the_table_ends": mistake(
        "td_lambda_episode", "a step counts as terminal when s′ is the first or last state of the table, not when it is s_T",
        {"test_td_lambda_terminal"}, "(terminal state 2), online",
        replace=("terminated=(k == T - 1)", "terminated=(s_next in (0, len(V_new) - 1))")),
})
