"""Assignment 01: TD(λ) with eligibility traces."""

from . import mistake

ASSIGNMENT = "01_td_lambda"
TD_ERROR = {"test_td_error_step", "test_td_error_terminal"}
TD_LAMBDA = {"test_td_lambda_worked_example", "test_td_lambda_zero_is_td0", "test_td_lambda_terminal", "test_td_lambda_trace_reset",
             "test_td_lambda_offline_monte_carlo", "test_td_lambda_general", "test_td_lambda_replacing"}
RMS = {"test_rms_error_initial", "test_rms_error_general"}

MISTAKES = {
    "bootstraps_past_the_end": mistake(
        "td_error", "Ψ₍₁₎ bootstraps from V(s′) of a terminal state", {"test_td_error_terminal"}, "must not bootstrap",
        source="def td_error(V, s, r, s_next, terminated, gamma=1.0):\n    return float(r + gamma * V[s_next] - V[s])\n"),
    "discounts_the_wrong_value": mistake(
        "td_error", "γ multiplies V(s) instead of V(s′)", TD_ERROR | {"test_td_lambda_zero_is_td0", "test_td_lambda_offline_monte_carlo", "test_td_lambda_general"}, "Ψ₍₁₎ for the step 2 → 1 with r = 1, γ = 0.5",
        replace=("return float(r + bootstrap - V[s])", "return float(r + (0.0 if terminated else V[s_next]) - gamma * V[s])")),
    "sign_flipped": mistake(
        "td_error", "V(s) − r − γV(s′): the TD error with the wrong sign", TD_ERROR | TD_LAMBDA - {"test_td_lambda_terminal"}, "expected 0.3, got -0.3",
        replace=("return float(r + bootstrap - V[s])", "return float(V[s] - r - bootstrap)")),
    "replacing_ignored": mistake(
        "td_lambda_episode", "replacing traces accumulate anyway", {"test_td_lambda_replacing"}, "replacing: e(s_k) ← 1",
        replace=('if trace == "accumulating" else 1.0', "")),
    "trace_decays_by_lambda_only": mistake(
        "td_lambda_episode", "e ← λe: the trace forgets γ", {"test_td_lambda_general", "test_td_lambda_offline_monte_carlo"}, "γ=0.95",
        replace=("e = lam * gamma * e", "e = lam * e")),
    "trace_decayed_before_the_update": mistake(
        "td_lambda_episode", "e ← λγe before V ← V + αΨ₍₁₎e: the current state gets less than α", TD_LAMBDA - {"test_td_lambda_terminal"}, "the episode 2 → 3 → 4 at state=2: expected 0.25, got 0.125",
        replace=("        V_new = V_new + alpha * e * psi\n        e = lam * gamma * e", "        e = lam * gamma * e\n        V_new = V_new + alpha * e * psi")),
    "always_online": mistake(
        "td_lambda_episode", "offline TD(λ) reads the table it is changing", {"test_td_lambda_offline_monte_carlo"}, "every Ψ₍₁₎ uses the table of the episode start",
        replace=("V_read = V_new if online else V_start", "V_read = V_new")),
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
