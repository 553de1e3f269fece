"""The visible tests teach: Validate, which runs the release's test cells without their hidden part, already fails on
the typical mistakes listed here, with the checks (and so the messages) that grading uses."""

import pytest
from mistakes import mistakes
from verdicts import answer_source, source_notebook, verdicts

MISTAKES = mistakes()
# Mistakes of tests/mistakes that the visible part of a test cell catches. The rest lose their points at grading only:
# terminal states holding junk and episodes past the worked examples (01, 02), changes made in place, gradients (04,
# 05), the reward scale's episode ends (05); ppo_update and train_ppo are judged by what a run records.
CAUGHT_BY_VALIDATE = {
    "01_td_lambda": {"always_online", "calls_the_library", "discounts_the_wrong_value", "mean_absolute_error", "no_square_root",
                     "replacing_ignored", "sign_flipped", "terminals_in_the_mean", "trace_decayed_before_the_update",
                     "trace_decays_by_lambda_only", "trace_kept_between_episodes"},
    "02_forward_backward": {"backward_view_forwards", "backward_view_off_by_one", "backward_view_without_gamma",
                            "lambda_weights_do_not_sum_to_one", "lambda_weights_off_by_one", "lambda_without_monte_carlo",
                            "n_step_bootstraps_past_the_end", "n_step_off_by_one", "n_step_undiscounted_bootstrap",
                            "offline_updates_the_terminal_state", "offline_without_step_size", "psi_1_bootstraps_past_the_end",
                            "psi_1_shifted_by_one", "psi_1_undiscounted"},
    "03_gae": {"across_the_environment_axis", "batched_psi_1_undiscounted", "done_t_instead_of_done_t_plus_1",
               "lambda_gamma_on_the_wrong_term", "last_step_bootstraps_from_the_next_rollout", "last_step_not_bootstrapped",
               "log_prob_of_another_sample", "next_value_from_the_reset_observation", "recursion_not_reset_at_episode_ends",
               "stores_the_next_observation", "terminal_bootstrapped", "terminated_and_truncated_recorded_as_truncated",
               "time_limit_treated_as_termination", "values_swapped"},
    "04_ppo": {"categorical_log_prob_through_numpy", "clip_without_the_min", "critic_clip_ignores_none",
               "critic_clipped_around_the_target", "critic_min_instead_of_max", "log_prob_of_the_wrong_actions",
               "max_instead_of_min", "mean_not_subtracted", "normalized_by_the_variance", "population_standard_deviation",
               "probabilities_not_log_probabilities", "ratio_of_log_probabilities", "ratio_upside_down", "sum_instead_of_mean"},
    "05_continuous": {"clipped_action_scored", "clipped_action_stored", "entropy_mean_over_dimensions", "entropy_of_sigma",
                      "entropy_without_constant", "env_action_not_clipped", "gradient_clamped_elementwise",
                      "gradient_clipped_per_parameter", "kl_coef_factor_one_and_a_half", "kl_coef_inverted",
                      "kl_coef_without_band", "kl_mean_over_dimensions", "kl_penalty_added", "kl_penalty_log_ratio",
                      "kl_penalty_summed", "kl_without_half", "kl_wrong_direction", "log_prob_mean_over_dimensions",
                      "log_prob_not_summed", "log_prob_sigma_for_variance", "log_prob_without_log_std",
                      "mean_instead_of_sample", "observations_divided_by_variance", "observations_normalized_before_update",
                      "observations_not_clipped", "orthogonal_columns_only_normalized", "orthogonal_gain_squared",
                      "reward_mean_subtracted", "reward_std_of_single_rewards", "sample_scaled_by_variance",
                      "schedule_exponential", "schedule_grows", "schedule_reaches_zero", "stats_count_not_updated",
                      "stats_sample_variance", "stats_unweighted_mean", "stats_updated_in_evaluation",
                      "stats_without_spread_of_means"},
}
CAUGHT = sorted(name for names in CAUGHT_BY_VALIDATE.values() for name in names)


@pytest.mark.parametrize("name", CAUGHT)
def test_validate_fails_on_the_typical_mistake(name):
    mistake = MISTAKES[name]
    assert name in CAUGHT_BY_VALIDATE[mistake.assignment]
    found = verdicts(mistake.assignment, {mistake.cell: answer_source(mistake, source_notebook(mistake.assignment))},
                     hidden_tests=False)
    failed = {cell for cell, verdict in found.items() if verdict}
    assert failed, f"{name} passes every visible test of {mistake.assignment}"
    assert failed <= mistake.fails | mistake.may_also_fail, f"{name} fails {sorted(failed)} in Validate, not at grading"


def test_every_typical_mistake_of_collect_rollout_fails_validate():
    """03's rollouts: the visible tests step the environments by hand and check each rule of the task's table."""
    of_collect = {name for name, mistake in MISTAKES.items() if mistake.cell == "collect_rollout"}
    assert len(of_collect) >= 7 and of_collect <= CAUGHT_BY_VALIDATE["03_gae"]


def test_the_solution_passes_validate_in_process():
    for assignment in CAUGHT_BY_VALIDATE:
        found = verdicts(assignment, hidden_tests=False)
        assert found and not any(found.values()), {k: v for k, v in found.items() if v}
