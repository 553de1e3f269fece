"""What the deck and the notebooks' text claim: no statement that their own code or tables contradict.

Each test pins a sentence that was once false (the clip "keeps" ρ in its interval, the clipped critic loss among
PPO's key elements, a single done flag in the one-step error, figures that disagree with their table)."""

import re
from pathlib import Path

import nbformat
import pytest

from rl_course import ppo
from rl_course.lecture import slides

ROOT = Path(__file__).resolve().parents[1]


def _markdown(path: Path) -> str:
    return "\n\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown")


def _slide(deck: str, title: str) -> str:
    """The text of the slide whose heading is ``title``, up to the next heading."""
    start = deck.index(f"## {title}")
    following = deck.find("\n## ", start + 1)
    return deck[start:] if following < 0 else deck[start:following]


@pytest.fixture(scope="module")
def deck() -> str:
    return _markdown(ROOT / slides.DECK)


def test_the_deck_does_not_say_the_clip_keeps_rho_in_its_interval(deck):
    text = _slide(deck, "The clipped objective")
    assert not re.search(r"keeps \$\\rho \\in", text)
    assert "does not keep" in text and "assignment 04" in text


def test_the_deck_does_not_count_the_clipped_critic_loss_among_the_key_elements(deck):
    text = _slide(deck, "PPO: implementation matters")
    assert "✓ clipped critic loss" not in text
    assert ppo.PPOConfig().clip_value is None and "off by default" in text
    assert "max" not in _slide(deck, "The full pipeline (II): update").split("critic:")[1].split("\n")[0]


def test_the_deck_bootstraps_a_time_limit_as_assignment_03_does(deck):
    text = _slide(deck, "The full pipeline (I): collect and estimate")
    one_step = next(line for line in text.splitlines() if "one-step errors" in line)
    assert r"\text{done}" not in one_step and r"\text{term}_{t+1}" in one_step
    assert r"\text{trunc}_{t+1}" in text


def test_the_ablation_benchmark_has_one_duration_or_none():
    texts = [_markdown(ROOT / slides.DECK), _markdown(ROOT / "solutions/05_continuous/continuous.ipynb"),
             (ROOT / "README.md").read_text()]
    durations = {m for t in texts for m in re.findall(r"(quarter of an hour|half an hour)", t)}
    assert len(durations) <= 1, durations


def test_ppo_discussion_states_what_a_training_run_shows():
    text = _markdown(ROOT / "solutions/04_ppo/ppo.ipynb")
    assert "both fall" not in text  # measured: the clip fraction stays at 5-9 % while ε decays
    assert "REINFORCE" not in text  # the first epoch is an actor-critic step weighted by Ψ^GAE
    assert "meaningless" not in text  # measured: explained variance stays near 0.93 once every return is 500
    assert r"\pi_{\text{old}}" not in text  # the lecture's π^old throughout the text
    assert "course counts CartPole as solved" in text


@pytest.mark.parametrize("path", ["solutions/04_ppo/ppo.ipynb", "solutions/05_continuous/continuous.ipynb"])
def test_the_empirical_papers_are_cited_without_unchecked_sections(path):
    text = _markdown(ROOT / path)
    assert not re.search(r"(Engstrom|Andrychowicz) et al\.?,? \(?20\d\d, §", text)
    assert not re.search(r"Andrychowicz et al\. 2021, §", text)


def test_notebook_05_quotes_its_own_ablation_table():
    text = _markdown(ROOT / "solutions/05_continuous/continuous.ipynb")
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if len(cells) == 7 and cells[1].lstrip("−-").isdigit():
            rows[cells[0]] = [-int(c.lstrip("−-")) for c in cells[1:6]]
    full = rows["full"]
    spread = f"(−{-min(full)} to −{-max(full)})"
    assert spread in text
    assert f"the worst seed to −{-min(rows['no reward scaling'])}." in text
    quoted = re.search(r"their worst seeds \((−\d+), (−\d+), (−\d+)\)", text)
    assert quoted, "the sentence on observation normalization, orthogonal init and gradient clipping names their worst seeds"
    named = ["no obs normalization", "no orthogonal init", "no gradient clipping"]
    assert [int(q.replace("−", "-")) for q in quoted.groups()] == [min(rows[n]) for n in named]
    assert re.search(r"-\d{3}", text.split("### What mattered on Pendulum")[1]) is None  # returns with one minus sign: −
