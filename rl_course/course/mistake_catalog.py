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
    cells ``cells``, and the feedback line of one of them contains ``says``."""

    assignment: str
    function: str
    name: str
    what: str
    cells: frozenset[str]
    says: str


def read_catalog(path: Path) -> list[Mistake]:
    """The rows of the catalog's tables, each under its ``## <assignment>`` heading; no catalog gives none."""
    if not Path(path).is_file():
        return []
    rows, assignment = [], ""
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            assignment = line[3:].strip()
        elif (match := _ROW.match(line)) and assignment:
            cells = frozenset(re.findall(r"`(\w+)`", match["cells"]))
            rows.append(Mistake(assignment, match["function"], match["name"], match["what"].strip(), cells,
                                match["says"]))
    return rows


def mistakes_shown(assignment: str, feedback: tuple[str, ...], catalog: list[Mistake]) -> list[Mistake]:
    """The catalog's mistakes of ``assignment`` that ``feedback`` (``test.ipynb <test cell> (score / max): why``
    lines) shows: every test cell the row lists lost points and one line contains its phrase. Where one shown
    phrase is contained in another shown for the same function, the longer, more specific one names the mistake."""
    failed = {line.split()[1] for line in feedback if len(line.split()) > 1}
    shown = [m for m in catalog if m.assignment == assignment and m.cells <= failed
             and any(m.says in line for line in feedback)]
    return [m for m in shown if not any(o is not m and o.function == m.function and m.says in o.says
                                        and len(o.says) > len(m.says) for o in shown)]
