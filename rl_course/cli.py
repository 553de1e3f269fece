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
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from rl_course.course.layout import RELEASE_DIR, SOURCE_DIR, CourseError, assignments, find_course_root
from rl_course.withheld import AnswerWithheld

if TYPE_CHECKING:
    from rl_course.course.records import Grade


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
    release.set_defaults(run=_release)

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
    grade.set_defaults(run=_grade)

    feedback = commands.add_parser("feedback", parents=[grading],
                                   help="autograde submissions and write nbgrader's HTML feedback for each")
    feedback.add_argument("--out", type=Path, default=None,
                          help="where the feedback goes, as OUT/<student>/<assignment>/<notebook>.html (default: feedback/; "
                               "with --exchange, the course's feedback/)")
    feedback.add_argument("--exchange", action="store_true",
                          help="then hand the feedback back through nbgrader's exchange (nbgrader release_feedback), "
                               "where students fetch it: DIR is what `nbgrader collect` gathered, the course's submitted/")
    feedback.set_defaults(run=_grade, json=False)

    report = commands.add_parser("report", help="the class report for graders, from the gradebook after grade: scores, "
                                 "points lost per test, typical mistakes, lateness, similar answers (one HTML page per assignment)")
    report.add_argument("--db", metavar="URL", help="the gradebook (default: as grade finds it)")
    report.add_argument("--out", type=Path, default=Path("report"), metavar="FOLDER", help="where the pages go (default: report/)")
    report.add_argument("--course", type=Path, help="the course root (default: found from the current folder)")
    report.set_defaults(run=_report)

    collect = commands.add_parser("collect", help="import an LMS's bulk download (zip or tar) with nbgrader's zip_collect")
    collect.add_argument("archive", type=Path, metavar="ARCHIVE", help="the bulk download of one assignment's submissions")
    collect.add_argument("--lms", choices=["canvas", "moodle"], help="how its files are named (default: nbgrader_config.py's "
                                                                  "FileNameCollectorPlugin.named_regexp)")
    collect.add_argument("--assignment", help="the assignment it holds (default: the one its notebooks are named after)")
    collect.add_argument("--into", type=Path, default=Path("submitted"), metavar="DIR",
                         help="where the submissions go, as DIR/<student>/<assignment>/ (default: submitted/)")
    collect.add_argument("--course", type=Path, default=None, help="course root (default: found from the current folder)")
    collect.set_defaults(run=_collect)
    validate = commands.add_parser("validate", help="restart, run every cell and list the test cells that fail, as nbgrader's "
                                   "Validate button does; exit 1 when any fails")
    validate.add_argument("notebook", type=Path, metavar="NOTEBOOK", help="the notebook, e.g. notebooks/01_td_lambda/td_lambda.ipynb")
    validate.set_defaults(run=_validate)

    edition = commands.add_parser("student-edition", help="build what students install for an assignment window: "
                                                          "the library's wheel without the answers, and the open notebooks")
    edition.add_argument("--open", nargs="+", required=True, metavar="NN",
                         help="the assignments open in this window, e.g. 03 (their notebooks are released; their answers withheld)")
    edition.add_argument("--solved", nargs="*", default=[], metavar="NN",
                         help="the assignments whose deadline has passed: the library keeps their answers (default: none)")
    edition.add_argument("--out", type=Path, default=Path("student-edition"), help="output folder (default: student-edition/)")
    edition.add_argument("--course", type=Path, default=None, help="course root (default: found from the current folder)")
    edition.set_defaults(run=_student_edition)
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


def _release(args) -> int:
    from rl_course.course.gradebook import gradebook_url, prepare_gradebook
    from rl_course.course.release import check_release, release

    root = args.course.resolve() if args.course else find_course_root()
    if args.check:
        problems = check_release(root)
        for line in problems:
            print(line, file=sys.stderr)
        if problems:
            print(f"{RELEASE_DIR}/ is out of date: run `rl-course release`", file=sys.stderr)
            return 1
        print(f"{RELEASE_DIR}/ is in sync with {SOURCE_DIR}/")
        return 0
    known = assignments(root)
    unknown = [a for a in args.exchange if a not in known]
    if unknown:
        raise CourseError(f"--exchange: unknown assignment {unknown[0]!r} (this course has: {', '.join(known)})")
    if not args.exchange:
        for path in release(root):
            print(f"wrote {path.relative_to(root)}")
    else:
        from rl_course.course import exchange

        for assignment in args.exchange:
            exchange.publish(root, assignment)
            print(f"published {RELEASE_DIR}/{assignment} to nbgrader's exchange; students fetch it from the Assignment List")
        prepare_gradebook(root, gradebook_url(root), args.exchange, [])  # Formgrader lists them, with due dates
    return 0


def _report(args) -> int:
    from rl_course.course.class_report import course_report

    root = args.course.resolve() if args.course else find_course_root()
    reports = course_report(root, args.out, args.db)
    for r in reports:
        print(f"{r.assignment}: {len(r.submissions)} submissions, median {r.quartiles[1]:g} / {r.max_score:g}, "
              f"{len(r.pairs)} similar pairs")
    print(f"class report written to {args.out}/index.html (for graders only: do not send it to students)")
    return 0


def _grade(args) -> int:
    from rl_course.course import class_grading, gradebook, reports

    root = args.course.resolve() if args.course else find_course_root()

    def on_warning(line: str) -> None:
        hint = "; see the README's \"Grading sandbox\" to enable it" if "unconfined" in line else ""
        print(f"warning: {line}{hint}", file=sys.stderr)

    progress = _Progress()

    def on_graded(grade: Grade, seconds: float) -> None:
        if progress.graded(grade):
            progress.write(f"graded {grade.student}/{grade.assignment}: {grade.score:g} / {grade.max_score:g} ({seconds:.0f} s)")
            for line in grade.feedback:
                progress.write(f"  {line}")

    def on_problem(line: str) -> None:
        progress.write(f"problem: {line}")

    feedback_dir = getattr(args, "out", None)
    handing_back = getattr(args, "exchange", False)
    if hasattr(args, "exchange"):  # rl-course feedback
        course_feedback = root / "feedback"  # nbgrader's CourseDirectory.feedback_directory, where release_feedback reads
        if handing_back and feedback_dir is not None and feedback_dir.resolve() != course_feedback.resolve():
            raise CourseError(f"--exchange hands back the course's {course_feedback}: leave out --out {feedback_dir}")
        feedback_dir = course_feedback if handing_back else (feedback_dir or Path("feedback"))
    db_url = gradebook.gradebook_url(root, args.db)
    try:
        grades = class_grading.grade(args.submitted, root, on_problem=on_problem, on_graded=on_graded, timeout=args.timeout,
                             feedback_dir=feedback_dir, jobs=args.jobs, db_url=db_url, sandbox=_sandbox(args),
                             on_warning=on_warning, cluster=args.cluster, regrade=args.regrade, on_start=progress.start)
    finally:
        progress.close()
    print(progress.summary(), file=sys.stderr)
    reports.write_grades_csv(grades, args.csv)
    sheets = _lms_sheets(args, grades)
    if args.json:
        print(json.dumps(reports.grades_json(grades), indent=2))
    else:
        print(reports.grades_table(grades) if grades else "no submissions found")
        print(f"\ngrades written to {args.csv} and recorded in the gradebook {gradebook.shown_url(db_url)}"
              + (f", feedback to {feedback_dir}/" if feedback_dir else ""))
        for path in sheets:
            print(f"{args.lms} grade sheet: {path}")
    if handing_back:
        from rl_course.course import exchange

        for assignment in sorted({g.assignment for g in grades}):
            exchange.release_feedback(root, assignment)
            print(f"released the feedback of {assignment} to nbgrader's exchange; students fetch it from the Assignment List")
    return 0


class _Progress:
    """Submissions graded / total on stderr (a bar where stderr is a terminal), with the failures counted as they happen,
    and the seconds spent preparing (finding the submissions, the gradebook) and grading."""

    def __init__(self):
        self.bar, self.total, self.done, self.failed, self.unchanged = None, 0, 0, 0, 0
        self.began = self.grading_since = self.ended = time.monotonic()

    def start(self, to_grade: int, total: int) -> None:
        from tqdm import tqdm

        self.total, self.unchanged = total, total - to_grade
        self.grading_since = time.monotonic()
        if self.failed:
            self.write(f"{self.unchanged} submissions are unchanged since their recorded grade, {self.failed} of them with a problem")
        self.bar = tqdm(total=to_grade, desc="grading", unit="submission", disable=None, file=sys.stderr, dynamic_ncols=True)
        self.bar.set_postfix(failed=self.failed)

    def graded(self, grade: Grade) -> bool:
        """Count a grade; False for one recorded by an earlier grading (told before the grading starts)."""
        self.failed += bool(grade.problem)
        if self.bar is None:
            return False
        self.done += 1
        self.bar.update(1)
        self.bar.set_postfix(failed=self.failed)
        return True

    def write(self, line: str) -> None:
        if self.bar is not None and not self.bar.disable:
            self.bar.write(line, file=sys.stderr)
        else:
            print(line, file=sys.stderr)

    def close(self) -> None:
        self.ended = time.monotonic()
        if self.bar is not None:
            self.bar.close()

    def summary(self) -> str:
        graded = self.total - self.unchanged
        line = (f"{self.total} submissions: {graded} graded, {self.unchanged} unchanged since their "
                f"recorded grade (--regrade grades them again); {self.failed} with a problem")
        grading = self.ended - self.grading_since
        each = f", {grading / graded:.2f} s per submission" if graded else ""
        return f"{line}\nprepared in {self.grading_since - self.began:.1f} s, graded in {grading:.1f} s{each}"


def _lms_sheets(args, grades: list) -> list:
    """The grade sheets of ``--lms``, named after ``--csv``."""
    from rl_course.course import lms

    if not args.lms:
        return []
    path = args.csv.with_name(f"{args.csv.stem}-{args.lms}.csv")
    return lms.write_sheet(grades, args.lms, path, lms.read_roster(args.submitted))


def _collect(args) -> int:
    from rl_course.course import lms

    root = args.course.resolve() if args.course else find_course_root()
    result = lms.collect(args.archive, root, args.into, lms=args.lms, assignment=args.assignment)
    print(f"{args.archive} → {result.into}/<student>/{result.assignment}/: {len(result.students)} students")
    for student, (name, files) in sorted(result.students.items()):
        again = " (replaces the earlier copy)" if student in result.replaced else ""
        print(f"  {student} ({name}){again}: {', '.join(files)}")
    for line in result.duplicates:
        print(f"duplicate: {line}")
    for path in result.unmatched:
        print(f"not matched to a student: {path}")
    return 0


def _validate(args) -> int:
    from rl_course.course import validation

    if not args.notebook.is_file():
        raise CourseError(f"NOTEBOOK: no notebook at {args.notebook}")
    results = validation.validate(args.notebook)
    return 0 if validation.passed(results) else 1


def _student_edition(args) -> int:
    from rl_course.course import edition

    root = args.course.resolve() if args.course else find_course_root()
    built = edition.build(root, args.open, args.solved, args.out)
    print(f"wrote {built.wheel}")
    for path in sorted(built.notebooks.rglob("*.ipynb")):
        print(f"wrote {path}")
    print(f"open: {', '.join(built.open)}; answers kept: {', '.join(built.solved) or 'none'}; "
          f"answers withheld: {', '.join(built.withheld)}")
    earlier = [a for a in built.withheld if a < built.open[0]]
    if earlier:
        print(f"note: {', '.join(earlier)} come before the open assignments but are not --solved: their answers are withheld, "
              f"and the notebooks that build on them run only with the student's own")
    print(f"students: pip install {built.wheel.name} (in an environment without the instructor's rl-course), "
          f"then open {built.notebooks.name}/ in JupyterLab")
    return 0


def _sandbox(args) -> dict:
    """The caps given on the command line, over those of ``nbgrader_config.py``."""
    given = {"memory_limit": args.memory_limit, "cpu_limit": args.cpu_limit, "enabled": False if args.unconfined else None}
    return {key: value for key, value in given.items() if value is not None}


if __name__ == "__main__":
    sys.exit(main())
