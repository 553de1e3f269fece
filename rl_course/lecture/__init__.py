"""The lecture deck (``lecture/credit_assignment.ipynb``): what each slide computes, the figures it draws for given
parameters, the figures that redraw while a slider moves, and the deck exported as one page.

    data      the quantities, as arrays: λ-return and GAE weights, the coefficient table, L^CLIP and its gradient,
              eligibility traces, the random-walk experiment, the estimators' bias and variance
    panels    the live figures, each built once and updated in place by ``update(**values)``, with a readout beside it
    deck      the still figures, the eligibility-trace animation, ``show``, the horizon slider, the ablation rows
    live      redrawing a panel in place (blitting) while its ipywidgets controls move
    slides    the deck executed top to bottom and exported as one reveal.js page (``rl-course slides``)

The deck reads ``lecture.<name>`` for the names of ``data``, ``panels`` and ``deck`` below, and ``lecture.live``'s
controls. Every quantity comes from the library's tested estimators (``advantages``, ``tabular``, ``ppo.losses``).
"""

from rl_course.lecture.data import (
    BIAS_VARIANCE_LAMS,
    COEFFICIENT_GAMMA,
    COEFFICIENT_LAM,
    COEFFICIENT_TERMS,
    GRADIENT_CASES,
    HORIZONS,
    SMALL_MDP_GAMMA,
    BiasVarianceSweep,
    RandomWalkTable,
    clip_curves,
    coefficient_table,
    estimator_bias_variance,
    gae_weights,
    gradient_table,
    lambda_return_weights,
    random_walk_env,
    random_walk_table,
    trace_history,
)
from rl_course.lecture.deck import (
    ablation_figure,
    ablation_rows,
    animation_html,
    horizon_slider,
    plot_critic_loss,
    plot_random_walk,
    show,
    trace_animation,
)
from rl_course.lecture.panels import (
    COEFFICIENT_COLUMNS,
    BiasVariancePanel,
    ClipPanel,
    CoefficientPanel,
    GaeWeightsPanel,
    LambdaWeightsPanel,
    render,
)

__all__ = [
    "BIAS_VARIANCE_LAMS", "COEFFICIENT_COLUMNS", "COEFFICIENT_GAMMA", "COEFFICIENT_LAM", "COEFFICIENT_TERMS", "GRADIENT_CASES", "HORIZONS",
    "SMALL_MDP_GAMMA", "BiasVariancePanel", "BiasVarianceSweep", "ClipPanel", "CoefficientPanel", "GaeWeightsPanel",
    "LambdaWeightsPanel", "RandomWalkTable", "ablation_figure", "ablation_rows", "animation_html", "clip_curves",
    "coefficient_table", "estimator_bias_variance", "gae_weights", "gradient_table", "horizon_slider",
    "lambda_return_weights", "plot_critic_loss", "plot_random_walk", "random_walk_env", "random_walk_table", "render",
    "show", "trace_animation", "trace_history",
]
