"""The lecture deck's quantities and figures (rl_course.lecture), pinned to the library's estimators."""

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from rl_course import advantages, envs, lecture, tabular


def _episode(rng, T):
    return rng.normal(size=T), np.append(rng.normal(size=T), 7.0)  # 7.0: junk at the terminal state


# ---------------------------------------------------------------- weights


@pytest.mark.parametrize("lam, gamma, horizon", [(0.8, 0.9, 12), (0.0, 1.0, 5), (1.0, 0.95, 7), (0.5, 0.7, 1), (0.95, 0.99, 30)])
def test_lambda_return_weights_rebuild_the_forward_view(lam, gamma, horizon):
    r, v = _episode(np.random.default_rng(horizon), horizon)
    w = lecture.lambda_return_weights(lam, horizon)
    assert w.shape == (horizon,)
    assert w.sum() == pytest.approx(1.0, abs=1e-12)
    by_n = [advantages.n_step_estimates(r, v, n, gamma)[0] for n in [*range(1, horizon), np.inf]]
    assert w @ by_n == pytest.approx(advantages.lambda_estimates(r, v, lam, gamma)[0], abs=1e-12)


def test_lambda_return_weights_values_and_errors():
    np.testing.assert_allclose(lecture.lambda_return_weights(0.5, 4), [0.5, 0.25, 0.125, 0.125])
    with pytest.raises(ValueError, match="lam"):
        lecture.lambda_return_weights(1.5, 4)
    with pytest.raises(ValueError, match="horizon"):
        lecture.lambda_return_weights(0.5, 0)


@pytest.mark.parametrize("lam, gamma, end", [(0.95, 0.99, None), (0.8, 0.9, 5), (0.0, 0.9, 3), (1.0, 1.0, 0), (0.6, 0.5, 9)])
def test_gae_weights_are_the_trace_and_stop_at_the_episode_end(lam, gamma, end):
    horizon = 10
    w = lecture.gae_weights(lam, gamma, horizon, end)
    k = np.arange(horizon)
    expected = np.where(k <= (horizon if end is None else end), (gamma * lam) ** k, 0.0)
    np.testing.assert_allclose(w, expected, atol=1e-15)
    # the weights applied to one-step errors give GAE of the first step, on a rollout with that episode end
    rng = np.random.default_rng(1)
    r, v, nv = rng.normal(size=(3, horizon, 1))
    terminated = np.zeros((horizon, 1), dtype=bool)
    if end is not None:
        terminated[end] = True
    deltas = advantages.batch_td_errors(r, v, nv, terminated, gamma)[:, 0]
    assert w @ deltas == pytest.approx(advantages.gae(r, v, nv, terminated, np.zeros_like(terminated), gamma, lam)[0, 0], abs=1e-12)


def test_gae_weights_reject_an_end_outside_the_rollout():
    with pytest.raises(ValueError, match="episode_end"):
        lecture.gae_weights(0.9, 0.9, 5, episode_end=5)


# ---------------------------------------------------------------- the coefficient table


def _assignment_coefficients(lam, gamma, T=60, n_terms=5):
    """Assignment 02's computation: the estimate at s(0) of a 60-step rollout with one term set to 1."""
    out = np.empty((2, 2, n_terms))
    for row, term in enumerate("rV"):
        for t in range(n_terms):
            rewards, values = np.zeros(T), np.zeros(T + 1)
            (rewards if term == "r" else values)[t] = 1.0
            out[0, row, t] = advantages.backward_view_estimates(rewards, values, lam, gamma)[0]
            out[1, row, t] = advantages.lambda_estimates(rewards, values, lam, gamma)[0]
    return out


def test_coefficient_table_is_assignment_02s_table():
    table = lecture.coefficient_table(lecture.COEFFICIENT_LAM, lecture.COEFFICIENT_GAMMA)
    expected = _assignment_coefficients(0.8, 0.9)
    np.testing.assert_allclose(table["backward"], expected[0], atol=1e-12)
    np.testing.assert_allclose(table["forward"], expected[1], atol=1e-12)
    np.testing.assert_allclose(table["backward"][0], [1.0, 0.72, 0.5184, 0.373248, 0.26873856])
    np.testing.assert_allclose(table["backward"][1], [-1.0, 0.18, 0.1296, 0.093312, 0.06718464])


@pytest.mark.parametrize("lam, gamma", [(0.8, 0.9), (0.0, 1.0), (1.0, 0.9), (0.3, 0.5), (0.95, 1.0)])
def test_coefficient_table_both_views_and_the_lectures_closed_forms_agree(lam, gamma):
    table = lecture.coefficient_table(lam, gamma, n_terms=6)
    for key in ("forward", "lecture_backward", "lecture_forward"):
        np.testing.assert_allclose(table[key], table["backward"], atol=1e-12, err_msg=key)
    np.testing.assert_allclose(lecture.coefficient_table(lam, gamma, n_terms=6, episode_length=40)["forward"], table["forward"], atol=1e-12)


def test_coefficient_table_errors():
    with pytest.raises(ValueError, match="episode_length"):
        lecture.coefficient_table(0.8, 0.9, n_terms=5, episode_length=5)
    with pytest.raises(ValueError, match="gamma"):
        lecture.coefficient_table(0.8, 1.2)


# ---------------------------------------------------------------- the clipped objective


@pytest.mark.parametrize("eps, advantage", [(0.2, 1.0), (0.2, -1.0), (0.1, 2.5), (0.4, -0.3)])
def test_clip_curves_values_and_gradient(eps, advantage):
    rhos = np.array([0.3, 1 - eps - 0.05, 1 - eps / 2, 1.0, 1 + eps / 2, 1 + eps + 0.05, 1.9])
    values, gradient = lecture.clip_curves(eps, advantage, rhos)
    np.testing.assert_allclose(values, np.minimum(rhos * advantage, np.clip(rhos, 1 - eps, 1 + eps) * advantage), atol=1e-12)
    clipped_away = (advantage > 0) & (rhos > 1 + eps) | (advantage < 0) & (rhos < 1 - eps)
    np.testing.assert_allclose(gradient, np.where(clipped_away, 0.0, advantage), atol=1e-12)
    # per transition: the same gradient whatever the batch size
    np.testing.assert_allclose(lecture.clip_curves(eps, advantage, rhos[:2])[1], gradient[:2], atol=1e-12)


def test_gradient_table_is_the_lectures():
    for eps in (0.2, 0.4, 0.05):
        np.testing.assert_allclose(lecture.gradient_table(eps), [[1.0, 1.0, 0.0], [0.0, -1.0, -1.0]])
    with pytest.raises(ValueError, match="eps"):
        lecture.clip_curves(0.0, 1.0, [1.0])
    with pytest.raises(ValueError, match="rhos"):
        lecture.clip_curves(0.2, 1.0, [0.0, 1.0])


# ---------------------------------------------------------------- eligibility traces


@pytest.mark.parametrize("trace", tabular.TRACES)
@pytest.mark.parametrize("lam, gamma", [(0.8, 1.0), (0.0, 0.9), (1.0, 0.95), (0.5, 0.5)])
def test_trace_history_is_what_offline_td_lambda_applies(trace, lam, gamma):
    env = lecture.random_walk_env()
    V = np.r_[0.0, np.random.default_rng(3).uniform(-1, 1, 19), 0.0]
    for episode in tabular.sample_episodes(env, 3, seed=5):
        e = lecture.trace_history(episode, lam, gamma, trace, n_states=21)
        assert e.shape == (len(episode), 21)
        deltas = advantages.td_errors(episode.rewards, V[episode.states], gamma)
        alpha = 0.1
        np.testing.assert_allclose(V + alpha * deltas @ e, tabular.td_lambda_episode(V, episode, alpha, lam, gamma, trace, online=False),
                                   atol=1e-12)


def test_trace_history_counts_visits_without_decay():
    episode = tabular.Episode([2, 3, 2, 1, 0], [0.0, 0.0, 0.0, -1.0])
    e = lecture.trace_history(episode, lam=1.0, gamma=1.0)
    np.testing.assert_allclose(e, [[0, 0, 1, 0], [0, 0, 1, 1], [0, 0, 2, 1], [0, 1, 2, 1]])
    np.testing.assert_allclose(lecture.trace_history(episode, 1.0, 1.0, trace="replacing")[2], [0, 0, 1, 1])
    np.testing.assert_allclose(lecture.trace_history(episode, 0.0, 1.0), np.eye(4)[[2, 3, 2, 1]])
    with pytest.raises(ValueError, match="n_states"):
        lecture.trace_history(episode, 0.5, n_states=3)
    with pytest.raises(ValueError, match="trace"):
        lecture.trace_history(episode, 0.5, trace="dutch")


# ---------------------------------------------------------------- measured tables


def test_random_walk_table_is_assignment_01s_experiment():
    table = lecture.random_walk_table(n_runs=4, seed=2)
    runs = tabular.random_walk_runs(n_runs=4, n_episodes=10, seed=2)
    errors = tabular.td_lambda_sweep(runs, envs.random_walk_true_values(), np.array(tabular.FIGURE_ALPHAS), tabular.FIGURE_LAMS,
                                     progress=False)
    np.testing.assert_array_equal(table.errors, errors)
    np.testing.assert_array_equal(table.best_alphas, np.array(tabular.FIGURE_ALPHAS)[errors.argmin(axis=1)])
    assert len(table.rows()) == len(tabular.FIGURE_LAMS)
    assert table.rows()[0].split() == ["0", f"{table.best_alphas[0]:.3f}", f"{errors[0].min():.4f}"]


def test_estimator_bias_variance_trades_bias_for_variance():
    measured = lecture.estimator_bias_variance(n_episodes=300, seed=1, horizons=(1, 4, np.inf), lams=(0.0, 0.5, 1.0))
    assert measured.n_episodes == 300
    # λ = 0 is Ψ₍₁₎ and λ = 1 is Ψ₍∞₎: the same targets, the same numbers
    assert measured.bias_by_lambda[0] == pytest.approx(measured.bias_by_horizon[0], abs=1e-12)
    assert measured.variance_by_lambda[-1] == pytest.approx(measured.variance_by_horizon[-1], abs=1e-12)
    # the poor critic biases Ψ₍₁₎; Monte-Carlo targets are unbiased but noisier. Seeds 0–9 of 300 episodes: bias of Ψ₍₁₎
    # 0.36–0.45, of Ψ₍∞₎ 0.00–0.09 (sampling noise); variance of Ψ₍∞₎ 3.4–4.0 times that of Ψ₍₁₎
    assert measured.bias_by_horizon[0] > 0.35 > 0.25 > measured.bias_by_horizon[-1]
    assert measured.variance_by_horizon[-1] > 2.5 * measured.variance_by_horizon[0]
    assert np.all(np.diff(measured.bias_by_horizon) < 0) and np.all(np.diff(measured.variance_by_horizon) > 0)
    assert np.all(np.diff(measured.bias_by_lambda) < 0) and np.all(np.diff(measured.variance_by_lambda) > 0)


# ---------------------------------------------------------------- figures and sliders


def _has_content(fig):
    return isinstance(fig, Figure) and fig.axes and any(ax.lines or ax.patches or ax.tables for ax in fig.axes)


def _drawn(panel, *args, **kwargs):
    """The panel's figure after ``update(*args, **kwargs)``."""
    panel.update(*args, **kwargs)
    return panel.figure


def test_figures_draw_what_they_are_given():
    fig = _drawn(lecture.LambdaWeightsPanel(horizon=4), 0.5, 0.9)
    np.testing.assert_allclose([p.get_height() for p in fig.axes[0].patches], [0.5, 0.25, 0.125, 0.125])
    np.testing.assert_allclose([p.get_height() for p in fig.axes[1].patches], 0.45 ** np.arange(4))
    fig = _drawn(lecture.GaeWeightsPanel(horizon=6, episode_end=2), 0.5, 1.0)
    np.testing.assert_allclose([p.get_height() for p in fig.axes[0].patches], [1, 0.5, 0.25, 0, 0, 0])
    fig = _drawn(lecture.ClipPanel(), 0.2, -1.0)
    assert fig.axes[1].lines[0].get_ydata().min() == pytest.approx(-1.0) and fig.axes[1].lines[0].get_ydata().max() == 0.0
    fig = _drawn(lecture.CoefficientPanel(), 0.8, 0.9)
    np.testing.assert_allclose([p.get_height() for p in fig.axes[0].patches], [1.0, 0.72, 0.5184, 0.373248, 0.26873856,
                                                                              -1.0, 0.18, 0.1296, 0.093312, 0.06718464])
    for fig in (lecture.plot_critic_loss(), lecture.plot_random_walk(lecture.random_walk_table(n_runs=2))):
        assert _has_content(fig)
        assert lecture.render(fig)[:8] == b"\x89PNG\r\n\x1a\n"


def test_coefficient_panel_shows_assignment_02s_table_beside_its_bars():
    panel = lecture.CoefficientPanel()
    panel.update(0.8, 0.9)
    rows = panel.rows()
    assert [row[0] for row in rows] == ["r(0)", "r(1)", "r(2)", "r(3)", "r(4)", "V(s)", "V(s(1))", "V(s(2))", "V(s(3))", "V(s(4))"]
    assert rows[1] == ["r(1)"] + ["+0.7200"] * 4 and rows[5] == ["V(s)"] + ["-1.0000"] * 4 and rows[6][1] == "+0.1800"
    html = panel.readout()
    assert html.count("<tr") == 11 and "+0.5184" in html and "λ = 0.80, γ = 0.90" in html
    panel.update(0.5, 1.0)  # moved: the bars, the forward view's dots and the table follow
    assert panel.rows()[1][1:] == ["+0.5000"] * 4
    np.testing.assert_allclose(panel.r_dots.get_ydata(), 0.5 ** np.arange(5))
    np.testing.assert_allclose([bar.get_height() for bar in panel.v_bars], [-1.0, 0.5, 0.25, 0.125, 0.0625])


def test_clip_panel_table_and_layouts_follow_the_sign_of_the_advantage():
    panel = lecture.ClipPanel()
    assert panel.update(0.3, 1.0) == 1.0
    assert panel.rows() == [["A ≥ 0: π(a|s) ↑", "same", "same", "0"], ["A < 0: π(a|s) ↓", "0", "same", "same"]]
    assert panel.spans[0].get_x() == pytest.approx(0.7) and panel.spans[1].get_width() == pytest.approx(0.6)
    assert "ε = 0.30" in panel.readout() and "#e8f4e8" in panel.readout()
    assert panel.update(0.1, -1.0) == -1.0
    np.testing.assert_allclose(panel.unclipped.get_ydata(), -panel.RHOS)
    assert panel.objective.get_ylim()[0] < -2.0 and panel.objective.get_ylim()[1] >= 0
    np.testing.assert_allclose(panel.curve.get_ydata(), np.minimum(-panel.RHOS, -np.clip(panel.RHOS, 0.9, 1.1)), atol=1e-12)
    assert "#f8e4e4" in panel.readout() and panel.curve.get_color() == "tab:red"
    assert {layout["advantage"] for layout in panel.layouts} == {1.0, -1.0}


def test_bias_variance_figures_mark_the_chosen_estimator():
    measured = lecture.BiasVarianceSweep((1, 2, np.inf), (0.0, 0.5, 1.0), np.array([0.4, 0.3, 0.0]), np.array([0.4, 0.7, 1.4]),
                                    np.array([0.4, 0.3, 0.0]), np.array([0.4, 0.6, 1.4]), n_episodes=7)
    fig = _drawn(lecture.BiasVariancePanel(measured, "horizon"), n=np.inf)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["1", "2", "∞"]
    assert fig.axes[1].lines[1].get_ydata()[0] == 1.4
    fig = _drawn(lecture.BiasVariancePanel(measured, "lambda"), lam=0.45)
    assert fig.axes[1].lines[1].get_xdata()[0] == 0.5
    assert fig._suptitle.get_text().endswith("7 episodes")
    panel = lecture.BiasVariancePanel(measured, "horizon")
    panel.update(n=2)
    assert panel.readout().endswith("N = 2: RMS bias 0.300, variance 0.700</p>")
    panel.update(n=None)
    assert not panel.rings[0].get_visible() and panel.readout() == ""
    with pytest.raises(ValueError):
        panel.update(n=3)  # not a horizon of the measurement
    with pytest.raises(ValueError, match="by"):
        lecture.BiasVariancePanel(measured, "gamma")


def test_weights_panels_read_out_what_they_draw():
    panel = lecture.LambdaWeightsPanel(horizon=4)
    panel.update(0.5, 0.8)
    assert "of Ψ₍₁₎ = 0.500, of Ψ₍∞₎ = 0.125; γλ = 0.400" in panel.readout()
    gae = lecture.GaeWeightsPanel(horizon=6, episode_end=1)
    gae.update(0.5, 1.0)
    np.testing.assert_allclose([bar.get_height() for bar in gae.bars], [1, 0.5, 0, 0, 0, 0])
    assert "γλ = 0.500: the weights 1.00, 0.50, 0.00, 0.00, …; past step 1: 0" in gae.readout()


def test_trace_animation_has_a_frame_per_step():
    episode = tabular.Episode([10, 11, 10, 9], [0.0, 0.0, 0.0])
    animation = lecture.trace_animation(episode, lam=0.5, n_states=21)
    assert len(list(animation.new_frame_seq())) == 3
    html = animation.to_jshtml()
    assert html.count("data:image/png;base64") == 3


@pytest.mark.parametrize("target, old_value", [(1.0, 0.3), (-1.0, 0.3)])
def test_critic_loss_figure_names_the_flat_side_it_draws_and_keeps_its_legend_off_the_axes(target, old_value):
    eps_hat = 0.2
    fig = lecture.plot_critic_loss(eps_hat=eps_hat, target=target, old_value=old_value)
    ax = fig.axes[0]
    v, loss = ax.lines[1].get_data()
    toward = old_value + np.sign(target - old_value) * (eps_hat + 0.1)  # just beyond V_old ± ε̂, on the side of y
    away = old_value - np.sign(target - old_value) * (eps_hat + 0.1)
    slope = lambda x: np.gradient(loss, v)[np.argmin(np.abs(v - x))]  # noqa: E731
    assert slope(toward) == pytest.approx(0.0, abs=1e-9) and abs(slope(away)) > 0.1
    assert "toward" in ax.get_title() and "away" not in ax.get_title()
    renderer = FigureCanvasAgg(fig).get_renderer()
    legend, axes_box = ax.get_legend().get_window_extent(renderer), ax.get_window_extent(renderer)
    assert legend.y1 <= axes_box.y0, "the legend covers the axes (and the labels of V_old and y)"


def test_the_ablation_grid_is_shown_in_two_parts_each_a_slide_wide():
    from io import BytesIO

    from matplotlib.image import imread

    whole = imread(lecture.ablation_figure())
    parts = [imread(BytesIO(lecture.ablation_rows(a, b))) for a, b in ((0, 1), (2, 3))]
    for part in parts:
        assert part.shape[1] == whole.shape[1]  # full width: at 980 pixels on a slide each panel is twice as large
        assert part.shape[1] / part.shape[0] >= 1.8, "a part must fit a 16:9 slide under its title at full width"
    assert sum(p.shape[0] for p in parts) < 1.3 * whole.shape[0]
    with pytest.raises(ValueError, match="rows"):
        lecture.ablation_rows(3, 4)


def test_coefficient_table_headers_are_whole_words_and_the_figure_text_is_a_size_up():
    panel = lecture.CoefficientPanel()
    panel.update(0.8, 0.9)
    assert not any("…" in header for header in lecture.COEFFICIENT_COLUMNS)
    ax = panel.figure.axes[0]
    assert min(t.get_fontsize() for t in ax.get_legend().get_texts()) >= 11
    assert min(label.get_fontsize() for label in ax.get_yticklabels()) >= 11


def test_the_trace_animation_is_drawn_at_a_size_a_slide_shows_readably():
    walk = tabular.sample_episodes(lecture.random_walk_env(), n_episodes=1, seed=0)[0]
    animation = lecture.trace_animation(walk)
    figure = animation._fig
    animation.to_jshtml()  # drawn, as the deck draws it
    assert figure.dpi * figure.get_figwidth() >= 800  # its frames are shown at their pixel size; at 576 the ticks were 7 px
