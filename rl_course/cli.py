"""The ``rl-course`` command: lecture demos and the instructor's workflow.

    rl-course demo [--out DIR]                 the random-walk TD(λ) figure, as a PNG, with its numbers
    rl-course train --env ID [--steps N]       PPO: learning curves (PNG), metrics (CSV), checkpoint, animation (GIF)
    rl-course slides [--out DIR]               execute the lecture deck and export it as one self-contained reveal.js page
    rl-course release [--check]                regenerate notebooks/ from solutions/ (or check it is in sync)
    rl-course release --exchange 01 …          publish those assignments of notebooks/ to nbgrader's exchange (a hub's students fetch them)
    rl-course grade DIR [--jobs N] [--db URL]  autograde DIR/<student>/<assignment>/<notebook>.ipynb into the gradebook
                       [--cluster ADDRESS]     … on the workers of a Dask cluster
    rl-course feedback DIR [--out FOLDER]      autograde DIR and write nbgrader's HTML feedback per student
    rl-course feedback submitted --exchange    … into the course's feedback/, then hand it back with nbgrader release_feedback
    rl-course report [--db URL] [--out DIR]    the class report for graders from the gradebook, after grade (default: report/)
    rl-course collect ARCHIVE [--lms NAME]     import an LMS's bulk download into DIR/<student>/<assignment>/
    rl-course validate NOTEBOOK                run every cell as nbgrader's Validate does; exit 1 when test cells fail
    rl-course student-edition --open 03 [--solved 01 02] [--out DIR]
                                               the wheel and notebooks students install, without the answers of 03 and later
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rl_course.course import commands as course_commands
from rl_course.course.layout import CourseError
from rl_course.withheld import AnswerWithheld


class CommandError(Exception):
    """A command's argument or input that the user can fix, outside the course's workflow (``demo``, ``train``,
    ``slides``): reported as one line without a traceback, as a ``CourseError`` is."""


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (CourseError, CommandError, AnswerWithheld) as error:  # AnswerWithheld: a command that needs an answer, in the student edition
        print(f"rl-course: error: {error}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rl-course", description="Credit assignment in RL: demos and course tools.")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    demo = commands.add_parser("demo", help="run the lecture demo: TD(λ) on the random walk, RMS error against α")
    demo.add_argument("--out", type=Path, default=Path("outputs"), help="folder for the figure (default: outputs/)")
    demo.add_argument("--runs", type=int, default=100, help="independent runs averaged (default: 100)")
    demo.add_argument("--seed", type=int, default=0, help="seed of the first run (default: 0)")
    demo.set_defaults(run=_demo)

    train = commands.add_parser("train", help="train PPO and write its learning curves, metrics, checkpoint and a GIF")
    train.add_argument("--env", default="CartPole-v1", help="gymnasium environment id (default: CartPole-v1)")
    train.add_argument("--steps", type=int, default=None,
                       help="environment steps (default: the environment's preset, PPOConfig.for_env; "
                            "100000 for CartPole-v1 and Pendulum-v1)")
    train.add_argument("--seed", type=int, default=0, help="seed (default: 0)")
    train.add_argument("--out", type=Path, default=Path("outputs"), help="output folder (default: outputs/)")
    train.add_argument("--no-gif", action="store_true", help="skip rendering the animation")
    train.set_defaults(run=_train)

    slides = commands.add_parser("slides", help="execute the lecture deck and export it as one self-contained reveal.js HTML page")
    slides.add_argument("--out", type=Path, default=Path("outputs"), help="folder for the page (default: outputs/)")
    slides.add_argument("--deck", type=Path, default=None, help="the deck notebook (default: lecture/credit_assignment.ipynb)")
    slides.set_defaults(run=_slides)

    release = commands.add_parser("release", help="regenerate the student notebooks/ from solutions/ with nbgrader")
    release.add_argument("--check", action="store_true", help="change nothing; exit 1 naming each notebook that is out of date")
    release.add_argument("--course", type=Path, default=None, help="course root (default: found from the current folder)")
    release.add_argument("--exchange", nargs="+", metavar="ASSIGNMENT", default=[],
                         help="publish these assignments of notebooks/ as they are (`release --check` says whether they are "
                              "in sync) to nbgrader's exchange with nbgrader release_assignment, e.g. 01_td_lambda, where a "
                              "hub's students fetch them from the Assignment List")
    release.set_defaults(run=course_commands.release_command)

    grading = argparse.ArgumentParser(add_help=False)  # what grade and feedback share
    grading.add_argument("submitted", type=Path, metavar="DIR", help="submissions laid out as DIR/<student>/<assignment>/<notebook>.ipynb")
    grading.add_argument("--csv", type=Path, default=Path("grades.csv"), help="where to write the grades (default: grades.csv)")
    grading.add_argument("--db", default=None, metavar="URL",
                         help="the gradebook grades are recorded in, e.g. postgresql://grader@host/course when several graders "
                              "share one (default: nbgrader_config.py's, else gradebook.db at the course root)")
    grading.add_argument("--timeout", type=int, default=None, metavar="SECONDS",
                         help="seconds one cell may run before it is stopped and graded as failed (default: nbgrader_config.py's)")
    grading.add_argument("--jobs", type=int, default=1, metavar="N", help="grade N submissions at once (default: 1)")
    grading.add_argument("--cluster", metavar="ADDRESS", default=None,
                         help="grade on the workers of a running Dask cluster, e.g. tcp://scheduler:8786, instead of --jobs "
                              "(pip install 'rl-course[cluster]'; README: \"Grading on a cluster\")")
    grading.add_argument("--regrade", action="store_true",
                         help="grade every submission again, also those the gradebook holds a grade of for the same files and settings")
    grading.add_argument("--memory-limit", metavar="SIZE", help="address space of each process of a submission's kernel, "
                                                                "e.g. 4G (default: nbgrader_config.py's Sandbox.memory_limit, 8G)")
    grading.add_argument("--cpu-limit", type=int, metavar="SECONDS", help="CPU seconds of each process of a submission's "
                                                                         "kernel (default: Sandbox.cpu_limit, 1200)")
    grading.add_argument("--unconfined", action="store_true", help="run submissions with the grader's rights, outside the sandbox")
    grading.add_argument("--course", type=Path, default=None, help="course root (default: found from the current folder)")
    grading.add_argument("--lms", choices=["canvas", "moodle"], help="also write the grades as that LMS imports them, beside "
                         "--csv: CSV-canvas.csv (Canvas's gradebook), CSV-moodle-<assignment>.csv (Moodle's grading worksheets)")

    grade = commands.add_parser("grade", parents=[grading], help="autograde submissions with nbgrader")
    grade.add_argument("--json", action="store_true", help="print the scores as JSON instead of a table")
    grade.set_defaults(run=course_commands.grade_command)

    feedback = commands.add_parser("feedback", parents=[grading],
                                   help="autograde submissions and write nbgrader's HTML feedback for each")
    feedback.add_argument("--out", type=Path, default=None,
                          help="where the feedback goes, as OUT/<student>/<assignment>/<notebook>.html (default: feedback/; "
                               "with --exchange, the course's feedback/)")
    feedback.add_argument("--exchange", action="store_true",
                          help="then hand the feedback back through nbgrader's exchange (nbgrader release_feedback), "
                               "where students fetch it: DIR is what `nbgrader collect` gathered, the course's submitted/")
    feedback.set_defaults(run=course_commands.grade_command, json=False)

    report = commands.add_parser("report", help="the class report for graders, from the gradebook after grade: scores, "
                                 "points lost per test, typical mistakes, lateness, similar answers (one HTML page per assignment)")
    report.add_argument("--db", metavar="URL", help="the gradebook (default: as grade finds it)")
    report.add_argument("--out", type=Path, default=Path("report"), metavar="FOLDER", help="where the pages go (default: report/)")
    report.add_argument("--course", type=Path, help="the course root (default: found from the current folder)")
    report.set_defaults(run=course_commands.report_command)

    collect = commands.add_parser("collect", help="import an LMS's bulk download (zip or tar) with nbgrader's zip_collect")
    collect.add_argument("archive", type=Path, metavar="ARCHIVE", help="the bulk download of one assignment's submissions")
    collect.add_argument("--lms", choices=["canvas", "moodle"], help="how its files are named (default: nbgrader_config.py's "
                                                                  "FileNameCollectorPlugin.named_regexp)")
    collect.add_argument("--assignment", help="the assignment it holds (default: the one its notebooks are named after)")
    collect.add_argument("--into", type=Path, default=Path("submitted"), metavar="DIR",
                         help="where the submissions go, as DIR/<student>/<assignment>/ (default: submitted/)")
    collect.add_argument("--course", type=Path, default=None, help="course root (default: found from the current folder)")
    collect.set_defaults(run=course_commands.collect_command)
    validate = commands.add_parser("validate", help="restart, run every cell and list the test cells that fail, as nbgrader's "
                                   "Validate button does; exit 1 when any fails")
    validate.add_argument("notebook", type=Path, metavar="NOTEBOOK", help="the notebook, e.g. notebooks/01_td_lambda/td_lambda.ipynb")
    validate.set_defaults(run=course_commands.validate_command)

    edition = commands.add_parser("student-edition", help="build what students install for an assignment window: "
                                                          "the library's wheel without the answers, and the open notebooks")
    edition.add_argument("--open", nargs="+", required=True, metavar="NN",
                         help="the assignments open in this window, e.g. 03 (their notebooks are released; their answers withheld)")
    edition.add_argument("--solved", nargs="*", default=[], metavar="NN",
                         help="the assignments whose deadline has passed: the library keeps their answers (default: none)")
    edition.add_argument("--out", type=Path, default=Path("student-edition"), help="output folder (default: student-edition/)")
    edition.add_argument("--course", type=Path, default=None, help="course root (default: found from the current folder)")
    edition.set_defaults(run=course_commands.student_edition_command)
    return parser


def _demo(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from rl_course import envs, plotting, tabular

    if args.runs < 1:
        raise CommandError(f"--runs must be at least 1, got {args.runs}")
    alphas, lams = np.array(tabular.FIGURE_ALPHAS), tabular.FIGURE_LAMS
    print(f"TD(λ), accumulating traces, on the 19-state random walk: {args.runs} runs × 10 episodes")
    runs = tabular.random_walk_runs(n_runs=args.runs, n_episodes=10, seed=args.seed)
    errors = tabular.td_lambda_sweep(runs, envs.random_walk_true_values(), alphas, lams)
    print(f"\n{'λ':>6}  {'best α':>7}  {'RMS error':>9}")
    for lam, row in zip(lams, errors, strict=True):
        best = int(np.argmin(row))
        print(f"{lam:>6g}  {alphas[best]:>7.3f}  {row[best]:>9.4f}")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "random_walk_td_lambda.png"
    ax = plotting.plot_alpha_sweep(alphas, errors, lams)
    ax.figure.tight_layout()
    ax.figure.savefig(path, dpi=120)
    plt.close(ax.figure)
    print(f"\nfigure: {path}")
    return 0


def _train(args) -> int:
    import matplotlib

    matplotlib.use("Agg")
    from rl_course import ppo
    from rl_course.ppo.runs import train_and_save

    config = ppo.PPOConfig.for_env(args.env, seed=args.seed)
    if args.steps is not None:
        config.total_steps = args.steps
    try:
        run = train_and_save(config, args.out, gif=not args.no_gif)
    except (ValueError, FloatingPointError) as error:
        raise CommandError(f"train --env {args.env}: {error}") from None
    for path in run.written:
        print(f"wrote {path}")
    if run.best_step is not None:
        print(f"the checkpoint and the GIF are the agent at step {run.best_step}, where the mean return of the last "
              f"20 episodes peaked at {run.best_mean_return:.1f}")
    print(run.summary())
    return 0


def _slides(args) -> int:
    from rl_course.lecture import slides

    try:
        deck = args.deck or slides.find_deck()
        print(f"executing {deck} …")
        path = slides.build(deck, args.out)
    except slides.DeckError as error:
        raise CommandError(str(error)) from None
    facts = slides.summary(path)
    print(f"wrote {path}: {facts['slides']} slides, {facts['bytes'] / 1e6:.1f} MB")
    if facts["network"]:
        print("the page loads from the network: " + ", ".join(facts["network"]) + "; pip install 'rl-course[lecture]' "
              "inlines MathJax so that it needs none")
    else:
        print("the page loads nothing from the network: open it in any browser, offline too")
    return 0


if __name__ == "__main__":
    sys.exit(main())
