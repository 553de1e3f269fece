import numpy as np
import pytest
from matplotlib.image import imread

from rl_course import cli


def test_demo_writes_the_figure_and_prints_best_alpha_per_lambda(tmp_path, capsys):
    assert cli.main(["demo", "--out", str(tmp_path), "--runs", "10"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.strip() and line.split()[0].replace(".", "").isdigit()]
    assert [float(r[0]) for r in rows] == [0, 0.4, 0.8, 0.9, 0.95, 0.975, 0.99, 1]
    errors = np.array([float(r[2]) for r in rows])
    assert (errors < np.sqrt(0.3)).all() and errors.argmin() in (1, 2, 3)
    image = imread(tmp_path / "random_walk_td_lambda.png")
    assert image.shape[0] > 300 and image.shape[1] > 500 and image.std() > 0.05


def test_demo_refuses_zero_runs(tmp_path, capsys):
    assert cli.main(["demo", "--out", str(tmp_path), "--runs", "0"]) == 2
    assert "--runs must be at least 1" in capsys.readouterr().err


def test_unknown_command_is_a_usage_error():
    with pytest.raises(SystemExit) as info:
        cli.main(["fly"])
    assert info.value.code == 2


def test_demo_and_train_report_their_argument_errors_as_their_own_not_as_the_courses(tmp_path):
    """``demo`` and ``train`` are no part of the course's workflow: a bad argument is a ``CommandError``, never a
    ``CourseError``, and ``main`` still reports it as one line with exit status 2."""
    from types import SimpleNamespace

    from rl_course.course.layout import CourseError

    for run, args, says in [(cli._demo, SimpleNamespace(runs=0, out=tmp_path, seed=0), "--runs must be at least 1, got 0"),
                            (cli._train, SimpleNamespace(env="CartPole-v1", steps=0, seed=0, out=tmp_path, no_gif=True),
                             "train --env CartPole-v1: PPOConfig.total_steps must be at least 1, got 0")]:
        with pytest.raises(cli.CommandError) as raised:
            run(args)
        assert not isinstance(raised.value, CourseError) and str(raised.value) == says
    assert not list(tmp_path.iterdir())  # refused before anything was written
