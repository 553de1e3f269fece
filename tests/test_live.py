"""Live figures (rl_course.lecture.live): the blitted picture is the figure's, redraws follow the controls, the PNG is exact."""

import io
from itertools import pairwise

import numpy as np
import pytest
from PIL import Image

from rl_course import lecture
from rl_course.lecture import live


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA")).astype(int)


def _full_draw(panel_factory, **values) -> np.ndarray:
    """The same figure drawn from scratch, every artist in one pass (what savefig draws)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    panel = panel_factory()
    panel.update(**values)
    canvas = FigureCanvasAgg(panel.figure)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba()).astype(int)


def _differs(a: np.ndarray, b: np.ndarray) -> float:
    """The fraction of pixels that differ visibly (antialiased edges drawn in another order aside)."""
    assert a.shape == b.shape
    return float(np.mean(np.abs(a - b).max(axis=2) > 60))


MEASURED = lecture.BiasVarianceSweep((1, 2, 4, np.inf), tuple(np.round(np.linspace(0, 1, 11), 2)),
                                np.array([0.4, 0.3, 0.2, 0.0]), np.array([0.4, 0.7, 1.0, 1.4]),
                                np.linspace(0.4, 0.0, 11), np.linspace(0.4, 1.4, 11), n_episodes=9)
PANELS = {
    "clip": (lecture.ClipPanel, [dict(eps=0.2, advantage=1.0), dict(eps=0.45, advantage=-1.0), dict(eps=0.1, advantage=1.0)]),
    "weights": (lecture.LambdaWeightsPanel, [dict(lam=0.8, gamma=0.9), dict(lam=0.3, gamma=0.6), dict(lam=1.0, gamma=1.0)]),
    "gae": (lecture.GaeWeightsPanel, [dict(lam=0.95, gamma=1.0), dict(lam=0.0, gamma=0.5), dict(lam=0.6, gamma=0.9)]),
    "coefficients": (lecture.CoefficientPanel, [dict(lam=0.8, gamma=0.9), dict(lam=0.2, gamma=0.5), dict(lam=1.0, gamma=1.0)]),
    "bias-variance": (lambda: lecture.BiasVariancePanel(MEASURED, "lambda"), [dict(lam=0.9), dict(lam=0.1), dict(lam=0.5)]),
    "horizons": (lambda: lecture.BiasVariancePanel(MEASURED, "horizon"), [dict(n=4), dict(n=np.inf), dict(n=1)]),
}


@pytest.mark.parametrize("name", PANELS)
def test_each_blitted_picture_is_the_figure_drawn_in_full(name):
    """Moved away and back, across layouts: every picture is the one a full draw of the same values gives, so no cached
    background shows a stale value, and every move changes the picture."""
    factory, moves = PANELS[name]
    panel = factory()
    renderer = live.BlitRenderer(panel.figure, panel.dynamic)
    pictures = []
    for values in moves + moves[:1]:
        got = _pixels(renderer.png(panel.update(**values)))
        assert _differs(got, _full_draw(factory, **values)) < 0.002, f"{name} at {values}"
        pictures.append(got)
    assert all(_differs(a, b) > 0.001 for a, b in pairwise(pictures)), f"{name}: a move left the picture as it was"
    assert _differs(pictures[0], pictures[-1]) == 0.0


def test_savefig_still_draws_the_dynamic_artists():
    panel = lecture.LambdaWeightsPanel()
    live.BlitRenderer(panel.figure, panel.dynamic)  # marks the bars animated
    panel.update(0.0, 1.0)  # all the forward view's weight on Ψ₍₁₎
    pixels = _pixels(lecture.render(panel.figure))
    blue = (np.abs(pixels[..., :3] - [31, 119, 180]).max(axis=2) < 10).sum()
    assert blue > 500, "the bars are missing from the saved figure"


def test_encode_png_round_trips_and_checks_its_input():
    rgba = np.random.default_rng(0).integers(0, 256, size=(7, 5, 4), dtype=np.uint8)
    np.testing.assert_array_equal(_pixels(live.encode_png(rgba)), rgba)
    with pytest.raises(ValueError, match="rgba"):
        live.encode_png(rgba[..., :3])
    with pytest.raises(ValueError, match="rgba"):
        live.encode_png(rgba.astype(float))


def test_live_redraws_once_per_move_and_shows_the_new_values():
    panel = live.Live(lecture.LambdaWeightsPanel(horizon=3), lam=live.slider("λ", 0.0, 1.0, 0.1, 0.5),
                      gamma=live.slider("γ", 0.5, 1.0, 0.1, 1.0))
    assert panel.redraws == 1 and panel.png[:8] == b"\x89PNG\r\n\x1a\n"
    first = panel.html
    panel.controls["lam"].value = 0.2
    assert panel.redraws == 2 and panel.html != first
    np.testing.assert_allclose([p.get_height() for p in panel.figure.axes[0].patches], [0.8, 0.16, 0.04])
    panel.controls["gamma"].value = 0.5
    np.testing.assert_allclose([p.get_height() for p in panel.figure.axes[1].patches], 0.1 ** np.arange(3))
    assert "λ = 0.20, γ = 0.50" in panel.html and 'src="data:image/png;base64,' in panel.html
    panel.controls["gamma"].value = 0.5  # no move, no redraw
    assert panel.redraws == 3


def test_live_rejects_what_it_cannot_drive():
    with pytest.raises(ValueError, match="control"):
        live.Live(lecture.ClipPanel())
    with pytest.raises(TypeError, match="panel"):
        live.Live(lecture.plot_critic_loss, eps=live.slider("ε", 0.1, 0.5, 0.1, 0.2))
    with pytest.raises(ValueError, match="advantage"):  # the panel's layouts name a control that is not there
        live.Live(lecture.ClipPanel(), eps=live.slider("ε", 0.1, 0.5, 0.1, 0.2))
    with pytest.raises(ValueError, match="dynamic"):
        live.BlitRenderer(lecture.plot_critic_loss(), [])


def test_drive_controls_moves_every_control_through_its_range_and_back():
    panels = {"clip": live.Live(lecture.ClipPanel(), eps=live.slider("ε", 0.1, 0.3, 0.1, 0.2), advantage=live.sign_toggle()),
              "n": live.Live(lecture.BiasVariancePanel(MEASURED, "horizon"), n=lecture.horizon_slider(MEASURED.horizons, 2)),
              "not a panel": object()}
    report = live.drive_controls(panels)
    assert set(report) == {"clip.eps", "clip.advantage", "n.n"}
    assert [v["value"] for v in report["clip.eps"]] == ["0.1", "0.2", "0.3"]
    assert [(v["moved"], v["redrawn"], v["changed"]) for v in report["clip.eps"]] == [(True, 1, True)] * 3
    # the toggle starts at A > 0: its first position is no move, no redraw, the same picture
    assert [(v["moved"], v["redrawn"], v["changed"]) for v in report["clip.advantage"]] == [(False, 0, False), (True, 1, True)]
    assert [v["value"] for v in report["n.n"]] == ["1", "2", "4", "inf"]
    assert all(v["inked"] > 0.02 and v["png"] > 5_000 and v["seconds"] > 0 for v in report["n.n"])
    assert panels["clip"].controls["eps"].value == 0.2 and panels["n"].controls["n"].value == 2  # put back


def test_html_table_escapes_and_shades():
    html = live.html_table(["", "a<b"], [["x", "1"], ["y & z", "2"]], caption="c", highlight=1, colour="#abcdef")
    assert "a&lt;b" in html and "y &amp; z" in html and html.count("<tr") == 3
    assert html.index("#abcdef") > html.index(">x<")  # the second row is shaded, not the first
