"""The course's formulas as MathML, so that a page shows them without a script or a network.

nbgrader's feedback page leaves ``$…$`` for MathJax, which it loads from a CDN; a student who opens the page in
JupyterLab sees it in a sandboxed frame that runs no script, and a hub may have no network: the formulas stayed raw
TeX. Browsers draw MathML themselves (MathML Core: Chromium ≥ 109, Firefox, Safari), so the feedback's markdown
cells carry their math as MathML, converted when the feedback is written (``latex2mathml``).

    $x$  → <math display="inline">…</math>        $$x$$ → <math display="block">…</math>

Code spans and fenced code keep their dollars; ``\\$`` is a dollar sign; a formula that does not convert stays as
it was written.
"""

from __future__ import annotations

import re

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

# Fenced code, code spans, display math, inline math (not after a backslash, within one line), in that order.
_PARTS = re.compile(r"(?P<fence>^(?P<ticks>```|~~~).*?^(?P=ticks)[ \t]*$)"
                    r"|(?P<code>(?P<quote>`+).+?(?P=quote))"
                    r"|(?P<display>\$\$(?P<display_tex>.+?)\$\$)"
                    r"|(?P<inline>(?<!\\)\$(?P<inline_tex>[^$\n]+?)(?<!\\)\$)", re.S | re.M)


def tex_to_mathml(tex: str, display: bool = False) -> str | None:
    """The MathML of the TeX formula ``tex`` (``display``: a block of its own), on one line; None if it does not
    convert."""
    from latex2mathml.converter import convert

    if not isinstance(tex, str):
        raise TypeError(f"tex: expected the formula's TeX as a str, got {type(tex).__name__}")
    try:
        mathml = convert(tex, display="block" if display else "inline")
    except Exception:  # latex2mathml's errors: an unknown command, unbalanced braces
        return None
    return None if "<merror" in mathml else mathml.replace("\n", " ")


def markdown_math_to_mathml(markdown: str) -> str:
    """``markdown`` with every ``$…$`` and ``$$…$$`` outside code replaced by its MathML (``tex_to_mathml``)."""
    if not isinstance(markdown, str):
        raise TypeError(f"markdown: expected a markdown cell's source as a str, got {type(markdown).__name__}")

    def replace(match: re.Match) -> str:
        if match["fence"] or match["code"]:
            return match[0]
        display = match["display"] is not None
        mathml = tex_to_mathml(match["display_tex"] if display else match["inline_tex"], display)
        if mathml is None:
            return match[0]
        return mathml

    return _PARTS.sub(replace, markdown)


class MathMLPreprocessor(Preprocessor):
    """nbconvert preprocessor: the math of every markdown cell as MathML (``markdown_math_to_mathml``); code
    cells and outputs are left alone."""

    enabled = Bool(True, help="nbgrader registers its converters' preprocessors without enabling them").tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "markdown":
            cell.source = markdown_math_to_mathml(cell.source)
        return cell, resources
