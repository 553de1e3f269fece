"""The course's commands of ``rl-course`` (``rl_course.cli`` parses their arguments): ``release``, ``grade`` and
``feedback``, ``report``, ``collect``, ``validate`` and ``student-edition``, each a function of the parsed arguments
that prints what it did and returns the exit status; ``GradingProgress``, the bar and summary of a grading run."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from rl_course.course.layout import RELEASE_DIR, SOURCE_DIR, CourseError, assignments, find_course_root

if TYPE_CHECKING:
    from rl_course.course.records import Grade


def release_command(args) -> int:
    """``rl-course release``: regenerate ``notebooks/`` from ``solutions/``, check it (``--check``), or publish
    assignments to nbgrader's exchange (``--exchange``)."""
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


def report_command(args) -> int:
    """``rl-course report``: the class report for graders, from the gradebook."""
    from rl_course.course.report_pages import course_report

    root = args.course.resolve() if args.course else find_course_root()
    reports = course_report(root, args.out, args.db)
    for r in reports:
        print(f"{r.assignment}: {len(r.submissions)} submissions, median {r.quartiles[1]:g} / {r.max_score:g}, "
              f"{len(r.pairs)} similar pairs")
    print(f"class report written to {args.out}/index.html (for graders only: do not send it to students)")
    return 0


def grade_command(args) -> int:
    """``rl-course grade`` and ``rl-course feedback``: autograde a folder of submissions into the gradebook, with a
    progress bar, the grades as CSV (and JSON, a table, LMS sheets) and, for ``feedback``, the HTML feedback."""
    from rl_course.course import class_grading, gradebook, reports

    root = args.course.resolve() if args.course else find_course_root()

    def on_warning(line: str) -> None:
        hint = "; see the README's \"Grading sandbox\" to enable it" if "unconfined" in line else ""
        print(f"warning: {line}{hint}", file=sys.stderr)

    progress = GradingProgress()

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
                             feedback_dir=feedback_dir, jobs=args.jobs, db_url=db_url, sandbox=sandbox_caps(args),
                             on_warning=on_warning, cluster=args.cluster, regrade=args.regrade, on_start=progress.start)
    finally:
        progress.close()
    print(progress.summary(), file=sys.stderr)
    reports.write_grades_csv(grades, args.csv)
    sheets = lms_sheets(args, grades)
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


class GradingProgress:
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


def lms_sheets(args, grades: list) -> list:
    """The grade sheets of ``--lms``, named after ``--csv``."""
    from rl_course.course import lms

    if not args.lms:
        return []
    path = args.csv.with_name(f"{args.csv.stem}-{args.lms}.csv")
    return lms.write_sheet(grades, args.lms, path, lms.read_roster(args.submitted))


def collect_command(args) -> int:
    """``rl-course collect``: an LMS's bulk download imported as ``<student>/<assignment>/`` folders."""
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


def validate_command(args) -> int:
    """``rl-course validate``: every cell run as nbgrader's Validate does; 1 when a test cell fails."""
    from rl_course.course import validation

    if not args.notebook.is_file():
        raise CourseError(f"NOTEBOOK: no notebook at {args.notebook}")
    results = validation.validate(args.notebook)
    return 0 if validation.passed(results) else 1


def student_edition_command(args) -> int:
    """``rl-course student-edition``: the wheel and notebooks students install for a window, without its answers."""
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


def sandbox_caps(args) -> dict:
    """The caps given on the command line, over those of ``nbgrader_config.py``."""
    given = {"memory_limit": args.memory_limit, "cpu_limit": args.cpu_limit, "enabled": False if args.unconfined else None}
    return {key: value for key, value in given.items() if value is not None}
