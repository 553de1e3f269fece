"""Which assignment each of the library's answers belongs to: ``ANSWERS`` maps every ``@reference`` (by
``module.qualname``) to its assignment and to the name under which that notebook defines the student's own (a test
keeps it complete); ``COMPANIONS`` are functions that hold an answer in another form (the vectorized TD(λ)
sweep), withheld with it; ``NOT_ASKED`` are references no assignment asks for. The student edition
(``rl_course.course.edition``) withholds the answers of a window's open and future assignments by this table."""

from __future__ import annotations

import dataclasses
import importlib
import pkgutil
from dataclasses import dataclass

import rl_course
from rl_course.course.layout import PACKAGE
from rl_course.reference import is_reference


@dataclass(frozen=True)
class Answer:
    """Where a graded function is taught: its assignment, and the name of the student's own in that notebook
    (None where the notebook does not ask for it)."""

    assignment: str
    notebook_name: str | None = None
    also: tuple[str, ...] = ()  # further assignments whose answers it holds too: withheld while any of them is
    instead: str | None = None  # what a notebook that needs it does in the student edition, where no notebook_name says

    @property
    def assignments(self) -> tuple[str, ...]:
        return (self.assignment, *self.also)


# Every @reference of the library (module.qualname), with the assignment whose answer it is.
ANSWERS: dict[str, Answer] = {
    "rl_course.tabular.td_error": Answer("01_td_lambda", "td_error"),
    "rl_course.tabular.td_lambda_episode": Answer("01_td_lambda", "td_lambda_episode"),
    "rl_course.tabular.rms_error": Answer("01_td_lambda", "rms_error"),
    "rl_course.advantages.td_errors": Answer("02_forward_backward", "td_errors"),
    "rl_course.advantages.n_step_estimates": Answer("02_forward_backward", "n_step_estimates"),
    "rl_course.advantages.lambda_estimates": Answer("02_forward_backward", "lambda_estimates"),
    "rl_course.advantages.backward_view_estimates": Answer("02_forward_backward", "backward_view_estimates"),
    "rl_course.tabular.offline_lambda_return_episode": Answer("02_forward_backward", "offline_lambda_return_episode"),
    "rl_course.tabular.true_online_td_lambda_episode": Answer("02_forward_backward", "true_online_td_lambda_episode"),
    "rl_course.rollouts.collect_rollout": Answer("03_gae", "collect_rollout"),
    "rl_course.advantages.batch_td_errors": Answer("03_gae", "td_errors"),
    "rl_course.advantages.gae": Answer("03_gae", "gae"),
    "rl_course.ppo.losses.probability_ratio": Answer("04_ppo", "probability_ratio"),
    "rl_course.ppo.losses.clipped_surrogate": Answer("04_ppo", "clipped_surrogate"),
    "rl_course.ppo.losses.clipped_value_loss": Answer("04_ppo", "clipped_value_loss"),
    "rl_course.ppo.losses.normalize_advantages": Answer("04_ppo", "normalize_advantages"),
    "rl_course.ppo.trainer.update": Answer("04_ppo", "ppo_update"),
    "rl_course.ppo.trainer.train": Answer("04_ppo", "train_ppo"),
    "rl_course.ppo.distributions.gaussian_log_prob": Answer("05_continuous", "gaussian_log_prob"),
    "rl_course.ppo.distributions.gaussian_entropy": Answer("05_continuous", "gaussian_entropy"),
    "rl_course.ppo.distributions.sample_actions": Answer("05_continuous", "sample_actions"),
    "rl_course.ppo.distributions.gaussian_kl": Answer("05_continuous", "gaussian_kl"),
    "rl_course.ppo.normalization.update_running_stats": Answer("05_continuous", "update_running_stats"),
    "rl_course.ppo.normalization.normalize_observations": Answer("05_continuous", "normalize_observations"),
    "rl_course.ppo.normalization.scale_rewards": Answer("05_continuous", "scale_rewards"),
    "rl_course.ppo.networks.orthogonal_matrix": Answer("05_continuous", "orthogonal_matrix"),
    "rl_course.ppo.optimization.linear_schedule": Answer("05_continuous", "linear_schedule"),
    "rl_course.ppo.optimization.clip_grad_norm_": Answer("05_continuous", "clip_grad_norm_"),
    "rl_course.ppo.losses.kl_penalty_objective": Answer("05_continuous", "kl_penalty_objective"),
    "rl_course.ppo.losses.adapt_kl_coef": Answer("05_continuous", "adapt_kl_coef"),
}

# Functions that hold an answer in another form without being a reference of their own: withheld with it.
COMPANIONS: dict[str, Answer] = {
    # TD(λ) with accumulating and replacing traces, online and offline (01), and true online TD(λ) (02), over arrays
    "rl_course.tabular.td_lambda_sweep": Answer(
        "01_td_lambda", also=("02_forward_backward",),
        instead="tabular.td_lambda_sweep_loop(runs, v_true, alphas, lams, episode_fn=your_episode_function) computes the same numbers"),
}

# References that no assignment asks for, which demos of the notebooks run: kept in every edition.
NOT_ASKED: dict[str, str] = {
    "rl_course.tabular.online_lambda_return_episode": "the online λ-return of 02's figure, which no notebook asks for",
}



def references() -> dict[str, object]:
    """Every ``@reference`` function of the installed library, by ``module.qualname`` where it is defined."""
    found = {}
    for module_info in pkgutil.walk_packages(rl_course.__path__, prefix=f"{PACKAGE}."):
        module = importlib.import_module(module_info.name)
        for obj in vars(module).values():
            if is_reference(obj) and obj.__module__ == module.__name__:
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return found


def unmapped_references(found=None) -> list[str]:
    """The references (default: the library's, ``references()``) that ``ANSWERS`` and ``NOT_ASKED`` do not
    place, and the entries that name no reference, one line each."""
    found = set(references() if found is None else found)
    placed = set(ANSWERS) | set(NOT_ASKED)
    return sorted(f"{name}: a @reference with no assignment in rl_course.course.answers.ANSWERS" for name in found - placed) + \
        sorted(f"{name}: listed in rl_course.course.answers but not a @reference" for name in placed - found)


def withheld_functions(withheld_assignments: list[str]) -> dict[str, Answer]:
    """The functions (``module.qualname``) whose bodies the edition replaces: those holding an answer of a withheld
    assignment, each with the first such assignment as its ``assignment``."""
    found = {}
    for name, answer in {**ANSWERS, **COMPANIONS}.items():
        withheld = [a for a in answer.assignments if a in withheld_assignments]
        if withheld:
            found[name] = answer if withheld[0] == answer.assignment else dataclasses.replace(answer, assignment=withheld[0])
    return found
