"""Similarity between students' answers to one graded function, as MOSS measures it: each answer's syntax tree
with names, literals and comments taken out, fingerprinted by winnowing (Schleimer, Wilkerson and Aiken, SIGMOD
2003), and every pair of students ranked by the fingerprints they share that neither the released skeleton, the
course's own code nor a large share of the class also has. A high score is evidence to look at, not a verdict."""

from __future__ import annotations

import ast
import zlib
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

K = 10  # tokens per k-gram: shared runs shorter than this are noise
WINDOW = 5  # k-grams per window: a shared run of WINDOW + K - 1 tokens always shares a fingerprint
MIN_FINGERPRINTS = 3  # an answer with fewer fingerprints (after the exclusions) is too short to compare
_CONTEXTS = (ast.Load, ast.Store, ast.Del)


def tokens(source: str) -> list[tuple[str, int]]:
    """The answer as ``(node type, line)`` in the syntax tree's pre-order: identifiers, attribute names, literals,
    comments, docstrings, formatting and load/store contexts taken out, so renaming and reformatting change nothing.
    Lines of IPython magics (``%…``, ``!…``) are blanked; an answer that does not parse gives no tokens."""
    lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()]
    try:
        tree = ast.parse("\n".join(lines))
    except (SyntaxError, ValueError):
        return []
    out: list[tuple[str, int]] = []

    def visit(node: ast.AST, line: int) -> None:
        if isinstance(node, _CONTEXTS):
            return
        line = getattr(node, "lineno", line)
        out.append((type(node).__name__, line))
        body = getattr(node, "body", None)
        for child in ast.iter_child_nodes(node):
            if _is_docstring(child, body):
                continue
            visit(child, line)

    visit(tree, 1)
    return out[1:]  # the Module node says nothing


def _is_docstring(node: ast.AST, body) -> bool:
    return (isinstance(body, list) and body and node is body[0] and isinstance(node, ast.Expr)
            and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str))


def fingerprints(source: str, k: int = K, window: int = WINDOW) -> dict[int, frozenset[int]]:
    """Winnowing: hash every k-gram of ``tokens(source)`` (CRC-32 of its node types); in every ``window`` of
    consecutive hashes keep the smallest (the rightmost on ties). Returns each kept hash with the source lines
    of its k-grams' tokens; an answer shorter than one k-gram keeps the hash of all its tokens."""
    toks = tokens(source)
    if not toks:
        return {}
    names = [t for t, _ in toks]
    grams = [(zlib.crc32("\x00".join(names[i:i + k]).encode()), i) for i in range(max(1, len(toks) - k + 1))]
    kept: dict[int, set[int]] = defaultdict(set)
    for start in range(max(1, len(grams) - window + 1)):
        h, i = min(reversed(grams[start:start + window]), key=lambda g: g[0])
        kept[h].update(line for _, line in toks[i:i + k])
    return {h: frozenset(lines) for h, lines in kept.items()}


@dataclass(frozen=True)
class Pair:
    """Two students' answers to ``function``: ``score`` = shared fingerprints / the smaller answer's fingerprints
    (after the exclusions), ``shared`` how many, and the lines of each answer those fingerprints cover."""

    function: str
    first: str
    second: str
    score: float
    shared: int
    lines_first: frozenset[int]
    lines_second: frozenset[int]


def excluded_fingerprints(sources: Iterable[str]) -> set[int]:
    """The fingerprints of ``sources`` (the released skeleton, the course's own code): never evidence of copying."""
    return {h for source in sources for h in fingerprints(source)}


def similar_pairs(function: str, answers: Mapping[str, str], excluded: Iterable[int] = (), common_share: float = 0.2,
                  threshold: float = 0.0) -> list[Pair]:
    """Every pair of students whose answers (``{student: source}``) to ``function`` score at least ``threshold`` and
    share at least ``MIN_FINGERPRINTS`` fingerprints, highest score first (then most shared, then by name).

    The ``excluded`` fingerprints (``excluded_fingerprints``: of the released skeleton, the course's own code) are
    left out, as are those more than ``common_share`` of the answers (and more than two) hold, as MOSS's ``-m``: a short, correct
    answer that everyone writes the same way flags nobody. Pairs are found through an index from fingerprint to
    students, so the cost grows with the pairs that share something, not with the square of the class."""
    ignored = set(excluded)
    prints = {student: {h: lines for h, lines in fingerprints(src).items() if h not in ignored}
              for student, src in answers.items()}
    holders: dict[int, list[str]] = defaultdict(list)
    for student in sorted(prints):
        for h in prints[student]:
            holders[h].append(student)
    most = max(2, int(common_share * len(prints)))
    kept = {student: {h: lines for h, lines in fp.items() if len(holders[h]) <= most} for student, fp in prints.items()}
    shared: dict[tuple[str, str], int] = defaultdict(int)
    for students in holders.values():
        if len(students) <= most:
            for i, a in enumerate(students):
                for b in students[i + 1:]:
                    shared[a, b] += 1
    pairs = []
    for (a, b), count in shared.items():
        smaller = min(len(kept[a]), len(kept[b]))
        if count < MIN_FINGERPRINTS or smaller < MIN_FINGERPRINTS or count / smaller < threshold:
            continue
        common = kept[a].keys() & kept[b].keys()
        pairs.append(Pair(function, a, b, count / smaller, count, frozenset().union(*(kept[a][h] for h in common)),
                          frozenset().union(*(kept[b][h] for h in common))))
    return sorted(pairs, key=lambda p: (-p.score, -p.shared, p.first, p.second))
