"""Grading a folder of submissions: each one found, what the gradebook already holds for the same files
left alone, the rest graded in local worker processes (``rl_course.course.pool``) or on a Dask cluster
(``rl_course.course.cluster``), and every grade recorded in the gradebook (``rl_course.course.gradebook``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rl_course.course import submissions
from rl_course.course.autograde import Grader, gather
from rl_course.course.gradebook import gradebook_url, has_feedback, prepare_gradebook, record, recorded, stored_grade
from rl_course.course.layout import CONFIG_FILE, CourseError, assignments, one_line
from rl_course.course.nbgrader_setup import confinement, course_config
from rl_course.course.pool import grade_all
from rl_course.course.records import Grade


def grade(
    submitted: Path,
    course_root: Path,
    on_problem: Callable[[str], None] = lambda line: None,
    on_graded: Callable[[Grade, float], None] = lambda grade, seconds: None,
    timeout: int | None = None,
    feedback_dir: Path | None = None,
    jobs: int = 1,
    db_url: str | None = None,
    sandbox: dict | None = None,
    on_warning: Callable[[str], None] = lambda line: None,
    cluster: str | None = None,
    regrade: bool = False,
    on_start: Callable[[int, int], None] = lambda to_grade, total: None,
) -> list[Grade]:
    """Autograde every submission under ``submitted`` (``<student>/<assignment>/<notebook>.ipynb``).

    A submission that cannot be graded (unknown assignment, missing or unreadable
    notebook, a link or special file, which are never followed: ``rl_course.course.submissions``) is
    reported through ``on_problem`` as one line naming the file and why, never quoting it, scores
    what it can (0 when nothing is gradable), and the rest of the batch is graded as usual.
    ``timeout`` overrides the seconds a cell may run (``nbgrader_config.py``'s ``ExecutePreprocessor.timeout``).
    With ``feedback_dir``, nbgrader's HTML feedback of every graded submission is written to
    ``feedback_dir/<student>/<assignment>/<notebook>.html``. Grading runs in ``jobs`` worker processes,
    that many submissions at once, or with ``cluster`` (a Dask scheduler's address) on the workers of
    that Dask cluster (``rl_course.course.cluster``); the grades do not depend on either and are listed in the same order.

    Every grade is recorded, by this process, in nbgrader's gradebook at ``db_url`` (default:
    ``gradebook_url(course_root)``), which then holds exactly the scores returned: a submission that could
    not be graded loses any score an earlier grading left there. Several graders may share one gradebook.
    A submission whose grade the gradebook already holds for the same files, the same ``solutions/``, the
    same library and the same settings (``submission_digest``) is not graded again unless ``regrade``:
    re-running an interrupted grading grades only what is missing or changed. ``on_start(to_grade, total)``
    is told how many will be graded before the first one is.

    Each submission's kernel runs confined (``rl_course.course.sandbox``), with the caps of ``c.Sandbox`` in
    ``nbgrader_config.py`` updated by ``sandbox`` (e.g. ``{"memory_limit": "4G"}``, ``{"enabled": False}``).
    Where confinement is not possible, ``on_warning`` is told why and the kernels run unconfined.
    """
    submitted, course_root = Path(submitted), Path(course_root)
    if not submitted.is_dir() and not submitted.is_symlink():
        raise CourseError(f"{submitted}: not a folder of submissions (expected {submitted}/<student>/<assignment>/<notebook>.ipynb)")
    if jobs < 1:
        raise CourseError(f"jobs must be at least 1, got {jobs}")
    try:
        tasks = [(t.student, t.assignment, t.folder) for t in submissions.discover(submitted, assignments(course_root), on_problem)]
    except submissions.NotGradable as error:
        raise CourseError(str(error)) from None
    if timeout is not None and timeout < 1:
        raise CourseError(f"the time limit per cell must be at least 1 second, got {timeout}")
    try:
        misnamed = submissions.Submissions(config=course_config(course_root)).misnamed_notebooks
    except Exception as error:  # a value Enum does not allow
        raise CourseError(f"{CONFIG_FILE}: c.Submissions.misnamed_notebooks: {one_line(error)}") from None
    session = None
    if cluster is not None:
        from rl_course.course import cluster as dask_cluster  # Dask only where a cluster is asked for

        session = dask_cluster.connect(cluster)
    try:
        if session is None:
            confined, why_not = confinement(course_root, sandbox)
            if why_not:
                on_warning(f"submissions run unconfined, with the grader's rights: {why_not}")
        else:
            confined = False  # each worker confines its kernels where it can, and says so where it cannot
        db_url = gradebook_url(course_root, db_url)
        template = prepare_gradebook(course_root, db_url, sorted({a for _, a, _ in tasks}), sorted({s for s, _, _ in tasks}))
        grader = Grader(course_root, db_url, timeout, feedback_dir, sandbox=dict(sandbox or {}), confined=confined, misnamed=misnamed,
                         template=template)
        salt = grader.settings_digest(with_confinement=session is None)
        found = [gather(student, assignment, folder, course_root, misnamed, salt) for student, assignment, folder in tasks]
        grades, pending, unfed = [], [], []
        for submission in found:
            stored = None if regrade else recorded(db_url, grader.course_id, submission)
            if stored is None or feedback_dir is not None and not has_feedback(stored, feedback_dir) and "notebooks" not in stored:
                pending.append(submission)
            elif feedback_dir is not None and not has_feedback(stored, feedback_dir):
                unfed.append((submission, stored))
            else:
                grades.append(stored_grade(submission, stored))
        if unfed:  # graded before without this feedback: nbgrader's generate_feedback on the recorded notebooks, no kernel
            from rl_course.course.recorded_feedback import feedback_of_recorded

            for graded in feedback_of_recorded(grader, unfed):
                record(db_url, grader.course_id, graded, feedback_dir)
                for line in graded.problems:
                    on_problem(line)
                grades.append(graded.grade)
        for grade_ in grades:
            on_graded(grade_, 0.0)
        on_start(len(pending), len(found))
        results = (grade_all(pending, grader, jobs) if session is None
                   else dask_cluster.grade_all(session, pending, grader, on_warning))
        for graded in results:
            record(db_url, grader.course_id, graded, feedback_dir)
            for line in graded.problems:
                on_problem(line)
            grades.append(graded.grade)
            on_graded(graded.grade, graded.seconds)
    finally:
        if session is not None:
            session.close()
    return sorted(grades, key=lambda g: (g.student, g.assignment))
