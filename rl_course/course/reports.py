"""What grading reports: a ``Grade`` per student and assignment, one feedback line per test cell that lost
points (and why), nbgrader's HTML feedback without the hidden tests, and the grades as CSV, JSON or a table."""

from __future__ import annotations

import csv
from pathlib import Path

import nbformat

from rl_course.course.layout import last_line, one_line
from rl_course.course.records import Grade


def html_feedback(api, scratch: Path, assignment: str, student: str) -> tuple[dict[str, bytes], list[str]]:
    """nbgrader's ``generate_feedback`` for one submission: its files by path under the feedback folder
    (``<student>/<assignment>/…``), and the problems.

    The autograded notebook holds the hidden tests, restored for grading; the feedback is written
    from a copy without them (``_without_hidden_tests``), so it can be handed back.
    """
    for path in (scratch / "autograded" / student / assignment).glob("*.ipynb"):
        path.chmod(0o644)  # nbgrader leaves it read-only
        nbformat.write(_without_hidden_tests(nbformat.read(path, as_version=4)), path)
    result = api.generate_feedback(assignment, student)
    if not result["success"]:
        return {}, [f"{student}/{assignment}: nbgrader could not write the feedback: {last_line(result)}"]
    written = scratch / "feedback" / student / assignment
    return {str(Path(student) / assignment / p.relative_to(written)): p.read_bytes()
            for p in sorted(written.rglob("*")) if p.is_file()}, []


def _without_hidden_tests(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook with every ``### BEGIN HIDDEN TESTS`` … ``### END HIDDEN TESTS`` region removed
    (nbgrader's ``ClearHiddenTests``) and each error output cut to its last line, ``AssertionError: …``:
    a traceback quotes the hidden line that failed."""
    from nbgrader.preprocessors import ClearHiddenTests

    nb, _ = ClearHiddenTests().preprocess(nb, {})
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                output.traceback = [f"{output.ename}: {output.evalue}"]
    return nb


def feedback_lines(autograded: Path) -> tuple[str, ...]:
    """One line per graded cell of the autograded notebooks that lost points, with nbgrader's verdict
    (``determine_grade``) and why: the cell's error, or what it wrote to stderr (nbgrader gives such a cell 0)."""
    from nbgrader.utils import determine_grade, is_grade

    lines = []
    for path in sorted(autograded.glob("*.ipynb")):
        for cell in nbformat.read(path, as_version=4).cells:
            if not is_grade(cell) or cell.cell_type != "code":
                continue
            score, max_score = determine_grade(cell)
            if score is None or score >= max_score:
                continue
            grade_id = cell.metadata["nbgrader"]["grade_id"]
            lines.append(f"{path.name} {grade_id} ({score:g} / {max_score:g}): {_why_cell_failed(cell)}")
    return tuple(lines)


def _why_cell_failed(cell) -> str:
    for output in cell.outputs:
        if output.output_type == "error" and output.ename in ("KeyboardInterrupt", "CellTimeoutError"):
            return "ran past the time limit for one cell and was stopped (an endless loop?)"
        if output.output_type == "error":
            return one_line(f"{output.ename}: {output.evalue}" if output.evalue else output.ename)
        if output.output_type == "stream" and output.name == "stderr":
            return "wrote to stderr: " + one_line(output.text)
    return "partial credit"


def write_grades_csv(grades: list[Grade], path: Path) -> None:
    """One row per student and assignment: student, assignment, score, max_score, problem, feedback
    (its lines, one per line of the cell)."""
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "assignment", "score", "max_score", "problem", "feedback"])
        for g in grades:
            writer.writerow([g.student, g.assignment, f"{g.score:g}", f"{g.max_score:g}", g.problem, "\n".join(g.feedback)])


def grades_json(grades: list[Grade]) -> dict:
    """``{student: {assignment: {"score": x, "max_score": y}}}``."""
    table: dict = {}
    for g in grades:
        table.setdefault(g.student, {})[g.assignment] = {"score": g.score, "max_score": g.max_score}
    return table


def grades_table(grades: list[Grade]) -> str:
    """A student × assignment table of score / max (``—`` where nothing was submitted)."""
    students = sorted({g.student for g in grades})
    columns = sorted({g.assignment for g in grades})
    cell = {(g.student, g.assignment): f"{g.score:g} / {g.max_score:g}" for g in grades}
    rows = [["student", *columns]] + [[s, *(cell.get((s, a), "—") for a in columns)] for s in students]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows)
