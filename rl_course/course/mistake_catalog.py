"""The typical-mistake catalog (``docs/mistakes.md``) read back, and feedback lines matched to its rows: which
typical mistakes a graded submission shows, named by what its recorded feedback says."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

CATALOG = Path("docs") / "mistakes.md"
_ROW = re.compile(r"^\|\s*`(?P<function>[^`]+)`\s*\|\s*(?P<what>.*?)\(`(?P<name>\w+)`\)\s*\|\s*(?P<cells>[^|]*)\|"
                  r"\s*“(?P<says>.*)”\s*\|\s*$")


@dataclass(frozen=True)
class Mistake:
    """A catalog row: in ``assignment``, ``function`` written with the mistake ``what`` (``name``) fails the test
    cells ``cells`` (and perhaps those of ``perhaps``), and the feedback line of one of them contains ``says``."""

    assignment: str
    function: str
    name: str
    what: str
    cells: frozenset[str]
    says: str
    perhaps: frozenset[str] = frozenset()


def read_catalog(path: Path) -> list[Mistake]:
    """The rows of the catalog's tables, each under its ``## <assignment>`` heading; no catalog gives none."""
    if not Path(path).is_file():
        return []
    rows, assignment = [], ""
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            assignment = line[3:].strip()
        elif (match := _ROW.match(line)) and assignment:
            required, _, perhaps = match["cells"].partition("perhaps")
            rows.append(Mistake(assignment, match["function"], match["name"], match["what"].strip(),
                                frozenset(re.findall(r"`(\w+)`", required)), match["says"],
                                frozenset(re.findall(r"`(\w+)`", perhaps))))
    return rows


def mistakes_shown(assignment: str, feedback: tuple[str, ...], catalog: list[Mistake]) -> list[Mistake]:
    """The catalog's mistakes of ``assignment`` that ``feedback`` (``test.ipynb <test cell> (score / max): why``
    lines) shows: every test cell the row lists lost points and the line of one of its cells contains its phrase.
    A row that cannot account for every failed cell gives way to one failing a strict superset of its cells (a
    mistake in a function another calls fails that one's tests too). What remains for one function is one finding, ambiguous
    where the tests and their messages cannot tell the rows apart (``findings``)."""
    lines: dict[str, list[str]] = {}
    for line in feedback:
        parts = line.split()
        if len(parts) > 1:
            lines.setdefault(parts[1], []).append(line)
    shown = [m for m in catalog if m.assignment == assignment and m.cells <= lines.keys()
             and any(m.says in line for cell in m.cells | m.perhaps for line in lines.get(cell, ()))]
    failed = frozenset(lines)
    return [m for m in shown if not any(o is not m and _explains_more(o, m, failed) for o in shown)]


def _explains_more(other: Mistake, row: Mistake, failed: frozenset[str]) -> bool:
    """A mistake of a function another calls fails that one's tests too: where ``row`` cannot account for every failed
    cell (its cells and those it perhaps fails), ``other``, failing a strict superset of its cells, explains them."""
    return row.cells < other.cells and not failed <= row.cells | row.perhaps


def findings(shown: list[Mistake]) -> list[tuple[str, tuple[Mistake, ...]]]:
    """The mistakes shown, one finding per function: ``("function: name", rows)``, or ``"function: a or b"`` where
    the feedback fits several rows alike (their tests and messages cannot tell them apart)."""
    by_function: dict[str, list[Mistake]] = {}
    for m in shown:
        by_function.setdefault(m.function, []).append(m)
    return [(f"{function}: {' or '.join(m.name for m in rows)}", tuple(rows)) for function, rows in by_function.items()]
