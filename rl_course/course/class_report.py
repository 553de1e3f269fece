"""The instructor's class report, read from the gradebook after ``rl-course grade`` (never by grading again): per
assignment the spread of the scores, the points lost per test cell, the typical mistakes of ``docs/mistakes.md``
the feedback names, lateness, a row per student, and the pairs of answers too alike to look independent. It is for
graders: it names students, their scores and mistakes, and quotes their code; it is not to be sent to students.
``rl_course.course.report_pages`` writes its files."""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rl_course.course import similarity
from rl_course.course.class_record import Submission, answer_cells
from rl_course.course.mistake_catalog import Mistake, findings, mistakes_shown

SIMILARITY_THRESHOLD = 0.8  # default of c.ClassReport.similarity_threshold: a pair at or above it is listed
COMMON_SHARE = 0.2  # default of c.ClassReport.common_share: fingerprints more of the class holds are not evidence


@dataclass(frozen=True)
class TestLoss:
    """A test cell's points lost over the class (Σ max − score) and the share of submissions that lost any."""

    test: str
    points_lost: float
    max_score: float
    share_failing: float


@dataclass
class AssignmentReport:
    """What one assignment's page shows (``quartiles``: Q1, median, Q3 of the scores; ``shown``: each student's
    findings, ``"function: mistake"`` or ``"function: a or b"`` where the feedback cannot tell them apart)."""

    assignment: str
    submissions: list[Submission]
    max_score: float
    quartiles: tuple[float, float, float]
    losses: list[TestLoss]
    mistake_counts: list[tuple[str, tuple[Mistake, ...], int]]
    shown: dict[str, list[str]]
    pairs: list[similarity.Pair]
    answers: dict[str, dict[str, str]] = field(default_factory=dict)
    threshold: float = SIMILARITY_THRESHOLD


def quartiles(scores: list[float]) -> tuple[float, float, float]:
    """Q1, median and Q3 of the scores (numpy's linear interpolation between order statistics); zeros for none."""
    if not scores:
        return (0.0, 0.0, 0.0)
    q1, q2, q3 = np.percentile(np.asarray(scores, dtype=float), [25, 50, 75])
    return float(q1), float(q2), float(q3)


def test_losses(submissions: list[Submission]) -> list[TestLoss]:
    """Per test cell: Σ over submissions of (max_score − score), and the share of submissions that scored below
    the maximum; largest loss first, then by name."""
    lost: Counter = Counter()
    failing: Counter = Counter()
    max_scores: dict[str, float] = {}
    for sub in submissions:
        for test, (score, max_score) in sub.tests.items():
            lost[test] += max_score - score
            failing[test] += score < max_score
            max_scores[test] = max_score
    n = max(1, len(submissions))
    return sorted((TestLoss(t, lost[t], max_scores[t], failing[t] / n) for t in max_scores),
                  key=lambda loss: (-loss.points_lost, loss.test))


def mistake_counts(found: dict[str, list[tuple[str, tuple[Mistake, ...]]]]) -> list[tuple[str, tuple[Mistake, ...], int]]:
    """How many students each finding (``mistake_catalog.findings``, per student in ``found``) was made by, with
    its catalog rows; most frequent first."""
    counts = Counter(label for labelled in found.values() for label, _ in labelled)
    rows = {label: mistakes for labelled in found.values() for label, mistakes in labelled}
    return sorted(((label, rows[label], n) for label, n in counts.items()), key=lambda row: (-row[2], row[0]))


def assignment_report(assignment: str, submissions: list[Submission], catalog: list[Mistake], skeleton: dict[str, str],
                      course_prints: set[int], threshold: float = SIMILARITY_THRESHOLD,
                      common_share: float = COMMON_SHARE) -> AssignmentReport:
    """One assignment's report from its recorded submissions. Similarity compares each answer cell of the release
    (``skeleton``: grade_id → released source) across students, leaving out the skeleton's and ``course_prints``."""
    scores = [s.score for s in submissions]
    found = {s.student: findings(mistakes_shown(assignment, s.feedback, catalog)) for s in submissions}
    pairs: list[similarity.Pair] = []
    answers: dict[str, dict[str, str]] = {}
    for function, released in sorted(skeleton.items()):
        written = {s.student: s.answers[function] for s in submissions if s.answers.get(function, "").strip()}
        answers[function] = written
        excluded = course_prints | similarity.excluded_fingerprints([released])
        pairs += similarity.similar_pairs(function, written, excluded, common_share, threshold)
    pairs.sort(key=lambda p: (-p.score, -p.shared, p.function, p.first, p.second))
    return AssignmentReport(assignment, submissions, max((s.max_score for s in submissions), default=0.0),
                            quartiles(scores), test_losses(submissions), mistake_counts(found),
                            {student: [label for label, _ in labelled] for student, labelled in found.items()}, pairs, answers,
                            threshold)


def released_answers(release_dir: Path, assignment: str) -> dict[str, str]:
    """The answer cells of the released notebooks of ``assignment``: the skeleton each student starts from."""
    found: dict[str, str] = {}
    for path in sorted((Path(release_dir) / assignment).glob("*.ipynb")):
        found.update(answer_cells({path.name: path.read_text(encoding="utf-8")}))
    return found


def course_fingerprints(package_dir: Path) -> set[int]:
    """The fingerprints of the course's own code (the library's modules, not its grading machinery)."""
    sources = [p.read_text(encoding="utf-8") for p in sorted(Path(package_dir).rglob("*.py")) if "course" not in p.parts[-2:-1]]
    return similarity.excluded_fingerprints(sources)


def write_csvs(report: AssignmentReport, out: Path) -> dict[str, str]:
    """The page's tables as CSV beside it (``<assignment>-<table>.csv``); returns their file names by table."""
    a = report.assignment
    tables = {
        "students": (["student", "score", "max_score", "hours_late", "mistakes", "problem"],
                     [[s.student, f"{s.score:g}", f"{s.max_score:g}", f"{s.seconds_late / 3600:.2f}",
                       "; ".join(report.shown[s.student]), s.problem] for s in report.submissions]),
        "tests": (["test", "points_lost", "max_score", "share_failing"],
                  [[t.test, f"{t.points_lost:g}", f"{t.max_score:g}", f"{t.share_failing:.3f}"] for t in report.losses]),
        "mistakes": (["mistake", "description", "students"],
                     [[label, " or ".join(m.what for m in rows), n] for label, rows, n in report.mistake_counts]),
        "similarity": (["function", "student_a", "student_b", "score", "shared_fingerprints"],
                       [[p.function, p.first, p.second, f"{p.score:.3f}", p.shared] for p in report.pairs]),
    }
    names = {}
    for table, (header, rows) in tables.items():
        names[table] = f"{a}-{table}.csv"
        with open(Path(out) / names[table], "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(header)
            writer.writerows([[_csv_safe(str(v)) for v in row] for row in rows])
    return names


def _csv_safe(value: str) -> str:
    """A cell a spreadsheet shows as text, never runs as a formula (OWASP's CSV injection advice)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") and not _is_number(value) else value


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True
