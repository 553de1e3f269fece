"""The class report's files (``course_report``, what ``rl-course report`` writes): its HTML, an index and a page per
assignment, self-contained (inline style, figures as ``data:`` URIs, no script, no link off the disk), beside each
page's CSVs and ``summary.json``. Everything a student wrote or a test printed is escaped (``html.escape``); the
figures are ``rl_course.course.class_report``'s."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path

from rl_course.course.class_record import Submission
from rl_course.course.class_report import (
    COMMON_SHARE,
    SIMILARITY_THRESHOLD,
    AssignmentReport,
    assignment_report,
    course_fingerprints,
    released_answers,
    write_csvs,
)
from rl_course.course.mistake_catalog import Mistake
from rl_course.course.report_figures import horizontal_bars, score_histogram

FOR_GRADERS = ("For graders only: this report names students, their scores and mistakes, and quotes their code. "
               "Do not send it, or any part of it, to students.")
EVIDENCE = ("Similarity is evidence to look at, not a verdict: answers to a short exercise can be alike by chance, "
            "and students may have worked together as allowed. Read both answers before concluding anything.")
_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:1.5em auto;max-width:1150px;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{margin-top:1.6em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:2px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.num{text-align:right}.note{background:#fff4d6;border:1px solid #e3c46b;padding:.6em 1em}
.pair{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:1em}.pair pre{background:#f8f8f8;border:1px solid #ddd;
padding:.5em;overflow-x:auto;font-size:12px;margin:0}mark{background:#ffd54f}.ln{color:#999;user-select:none}
img{max-width:100%}
"""


def _page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">"
            f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>\n{body}\n</body></html>\n")


def _table(header: list[str], rows: list[list[str]], numeric: set[int] = frozenset()) -> str:
    """A table of already escaped cells."""
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td class=\"num\">{c}</td>" if i in numeric else f"<td>{c}</td>"
                                    for i, c in enumerate(row)) + "</tr>\n" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>\n{body}</tbody></table>"


def _hours(seconds: float) -> str:
    return "" if seconds <= 0 else f"{seconds / 3600:.1f} h"


def index_page(reports: list[AssignmentReport]) -> str:
    """The list of assignments with their submissions, median and flagged pairs."""
    rows = [[f"<a href=\"{escape(r.assignment)}.html\">{escape(r.assignment)}</a>", str(len(r.submissions)),
             f"{r.quartiles[1]:g} / {r.max_score:g}", str(sum(s.seconds_late > 0 for s in r.submissions)), str(len(r.pairs))]
            for r in reports]
    body = (f"<h1>Class report</h1><p class=\"note\">{escape(FOR_GRADERS)}</p>"
            + _table(["assignment", "submissions", "median", "late", "similar pairs"], rows, {1, 2, 3, 4}))
    return _page("Class report", body)


def assignment_page(report: AssignmentReport, csvs: dict[str, str]) -> str:
    """The scores, test losses, typical mistakes, lateness, students and similar pairs of one assignment."""
    r, subs = report, report.submissions
    q1, median, q3 = r.quartiles
    late = [s for s in subs if s.seconds_late > 0]
    parts = [f"<p><a href=\"index.html\">all assignments</a></p><h1>{escape(r.assignment)}</h1>",
             f"<p class=\"note\">{escape(FOR_GRADERS)}</p>",
             "<h2 id=\"scores\">Scores</h2>",
             f"<p>{len(subs)} submissions; median {median:g}, quartiles {q1:g} – {q3:g} of {r.max_score:g}; "
             f"{len(late)} late.</p>"]
    if subs:
        figure = score_histogram([s.score for s in subs], r.max_score, r.quartiles)
        parts.append(f"<img alt=\"histogram of the scores\" src=\"{figure}\">")
    parts.append(f"<h2 id=\"tests\">Points lost per test cell</h2><p>CSV: <a href=\"{escape(csvs['tests'])}\">"
                 f"{escape(csvs['tests'])}</a></p>")
    lossy = [t for t in r.losses if t.points_lost > 0]
    if lossy:
        figure = horizontal_bars([t.test for t in lossy], [t.points_lost for t in lossy], "points lost over the class")
        parts.append(f"<img alt=\"points lost per test\" src=\"{figure}\">")
    parts.append(_table(["test cell", "points lost", "of (per student)", "share of the class losing points"],
                        [[escape(t.test), f"{t.points_lost:g}", f"{t.max_score:g}", f"{100 * t.share_failing:.0f} %"]
                         for t in r.losses], {1, 2, 3}))
    parts.append(f"<h2 id=\"mistakes\">Typical mistakes</h2><p>Matched to the catalog (<code>docs/mistakes.md</code>) "
                 f"by the phrase each feedback line contains; “a or b” where the tests and their messages cannot tell "
                 f"them apart. CSV: <a href=\"{escape(csvs['mistakes'])}\">"
                 f"{escape(csvs['mistakes'])}</a></p>")
    if r.mistake_counts:
        figure = horizontal_bars([label for label, _, _ in r.mistake_counts], [n for _, _, n in r.mistake_counts],
                                 "students", "#dd8452")
        parts.append(f"<img alt=\"students per typical mistake\" src=\"{figure}\">")
        parts.append(_table(["mistake", "what it is", "students"],
                            [[f"<code>{escape(label)}</code>", escape(" — or — ".join(m.what for m in rows)), str(n)]
                             for label, rows, n in r.mistake_counts], {2}))
    else:
        parts.append("<p>None of the catalog's mistakes named in the feedback.</p>")
    parts.append(f"<h2 id=\"students\">Students</h2><p>CSV: <a href=\"{escape(csvs['students'])}\">"
                 f"{escape(csvs['students'])}</a></p>")
    parts.append(_table(["student", "score", "late", "problems"],
                        [[escape(s.student), f"{s.score:g} / {s.max_score:g}", _hours(s.seconds_late),
                          escape("; ".join([*r.shown[s.student], *([s.problem] if s.problem else [])]))]
                         for s in subs], {1, 2}))
    parts.append(_similarity_section(r, csvs["similarity"]))
    return _page(f"{r.assignment}: class report", "\n".join(parts))


def _similarity_section(r: AssignmentReport, csv_name: str) -> str:
    parts = [f"<h2 id=\"similarity\">Similar answers</h2><p class=\"note\">{escape(EVIDENCE)}</p>",
             f"<p>Each answer cell's syntax tree with names, literals and comments taken out, fingerprinted by "
             f"winnowing (as MOSS); the released skeleton, the course's own code and what a large share of the class "
             f"writes alike are left out. Pairs sharing at least {r.threshold:.0%} of the smaller answer's fingerprints "
             f"(<code>c.ClassReport.similarity_threshold</code>). CSV: <a href=\"{escape(csv_name)}\">{escape(csv_name)}</a></p>"]
    if not r.pairs:
        parts.append("<p>No pair at or above the threshold.</p>")
        return "\n".join(parts)
    parts.append(_table(["rank", "function", "students", "score", "shared fingerprints"],
                        [[str(i), f"<code>{escape(p.function)}</code>",
                          f"<a href=\"#pair-{i}\">{escape(p.first)} – {escape(p.second)}</a>", f"{p.score:.2f}", str(p.shared)]
                         for i, p in enumerate(r.pairs, 1)], {0, 3, 4}))
    for i, p in enumerate(r.pairs[:200], 1):
        answers = r.answers.get(p.function, {})
        parts.append(f"<h3 id=\"pair-{i}\">{i}. <code>{escape(p.function)}</code>: {escape(p.first)} and "
                     f"{escape(p.second)} ({p.score:.2f})</h3><div class=\"pair\">"
                     f"{_marked(p.first, answers.get(p.first, ''), p.lines_first)}"
                     f"{_marked(p.second, answers.get(p.second, ''), p.lines_second)}</div>")
    if len(r.pairs) > 200:
        parts.append(f"<p>{len(r.pairs) - 200} more pairs in the CSV.</p>")
    return "\n".join(parts)


def _marked(student: str, source: str, lines: frozenset[int]) -> str:
    """One answer with its line numbers, the lines it shares with the other answer marked."""
    shown = []
    for number, line in enumerate(source.splitlines(), 1):
        text = f"<span class=\"ln\">{number:3d} </span>{escape(line)}"
        shown.append(f"<mark>{text}</mark>" if number in lines else text)
    return f"<div><b>{escape(student)}</b><pre>{chr(10).join(shown)}</pre></div>"


def write_report(submissions: list[Submission], out: Path, catalog: list[Mistake], release_dir: Path,
                 package_dir: Path, threshold: float = SIMILARITY_THRESHOLD,
                 common_share: float = COMMON_SHARE) -> list[AssignmentReport]:
    """Write ``out/index.html``, ``out/<assignment>.html`` and each page's CSVs; returns the reports."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    course_prints = course_fingerprints(package_dir)
    reports = []
    for assignment in sorted({s.assignment for s in submissions}):
        subs = [s for s in submissions if s.assignment == assignment]
        report = assignment_report(assignment, subs, catalog, released_answers(release_dir, assignment), course_prints,
                                   threshold, common_share)
        csvs = write_csvs(report, out)
        (out / f"{assignment}.html").write_text(assignment_page(report, csvs), encoding="utf-8")
        reports.append(report)
    (out / "index.html").write_text(index_page(reports), encoding="utf-8")
    (out / "summary.json").write_text(json.dumps(
        {r.assignment: {"submissions": len(r.submissions), "quartiles": r.quartiles, "flagged_pairs": len(r.pairs)}
         for r in reports}, indent=1), encoding="utf-8")
    return reports


def course_report(course_root: Path, out: Path, db_url: str | None = None) -> list[AssignmentReport]:
    """The report of the course at ``course_root`` from its gradebook (``db_url``, else as ``rl-course grade``
    finds it), with ``c.ClassReport.similarity_threshold`` and ``c.ClassReport.common_share`` of ``nbgrader_config.py``."""
    import rl_course
    from rl_course.course.class_record import read_class
    from rl_course.course.gradebook import gradebook_url
    from rl_course.course.layout import RELEASE_DIR, CourseError
    from rl_course.course.mistake_catalog import CATALOG, read_catalog
    from rl_course.course.nbgrader_setup import course_config

    config = course_config(course_root)
    settings = config.ClassReport
    threshold = float(settings.similarity_threshold) if "similarity_threshold" in settings else SIMILARITY_THRESHOLD
    common_share = float(settings.common_share) if "common_share" in settings else COMMON_SHARE
    if not 0 < threshold <= 1 or not 0 < common_share <= 1:
        raise CourseError(f"c.ClassReport: similarity_threshold and common_share must be in (0, 1], got {threshold} and {common_share}")
    course_id = config.CourseDirectory.course_id if "course_id" in config.CourseDirectory else "default_course"
    submissions = read_class(gradebook_url(course_root, db_url), course_id)
    return write_report(submissions, out, read_catalog(Path(course_root) / CATALOG), Path(course_root) / RELEASE_DIR,
                        Path(rl_course.__file__).parent, threshold, common_share)
