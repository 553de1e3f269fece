"""Submitted HTML made harmless before anyone's browser shows it: the feedback page a student opens, the autograded
notebook Formgrader shows a teaching assistant.

A submission's markdown and outputs are the student's HTML: a ``<script>``, ``<img onerror=…>``, a ``javascript:``
link, ``display(Javascript(…))`` or a ``<style>`` that hides the score would run or show in the reader's page.
``sanitize_notebook`` cleans every markdown and raw cell and every output of a notebook with bleach (the library
nbconvert's own ``SanitizeHTML`` uses) and an allowlist that keeps what the course writes: formatting, tables, code,
images, and formulas, as ``$…$`` TeX or as MathML (``rl_course.course.mathml``).

Markdown is judged by the HTML nbconvert renders from it (``markdown2html``, what the page will hold): a cell whose
rendering bleach leaves unchanged keeps its markdown; any other cell is replaced by its cleaned rendering, which
renders to itself. Outputs keep only the types nbconvert shows without running code (text, PNG and JPEG images,
LaTeX, JSON); their HTML is cleaned too; JavaScript, SVG, widgets and any other type are dropped.
"""

from __future__ import annotations

import re

import nbformat
from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

HTML_TAGS = frozenset({
    "a", "abbr", "acronym", "b", "blockquote", "br", "caption", "code", "dd", "del", "details", "div", "dl", "dt", "em",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "kbd", "li", "mark", "ol", "p", "pre", "s", "samp", "small",
    "span", "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul", "var"})
# MathML Core's presentation elements (latex2mathml writes them); not annotation-xml, which may hold HTML.
MATHML_TAGS = frozenset({
    "math", "semantics", "annotation", "mi", "mn", "mo", "ms", "mtext", "mspace", "mrow", "mfrac", "msqrt", "mroot",
    "mstyle", "merror", "mpadded", "mphantom", "menclose", "msub", "msup", "msubsup", "munder", "mover", "munderover",
    "mmultiscripts", "mprescripts", "none", "mtable", "mtr", "mtd"})
MATHML_ATTRIBUTES = frozenset({
    "display", "xmlns", "mathvariant", "mathsize", "stretchy", "fence", "separator", "form", "lspace", "rspace",
    "maxsize", "minsize", "symmetric", "largeop", "movablelimits", "accent", "accentunder", "width", "height", "depth",
    "displaystyle", "scriptlevel", "linethickness", "columnalign", "rowalign", "columnspacing", "rowspacing",
    "columnlines", "rowlines", "frame", "notation", "encoding"})
ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title", "width", "height"}, "abbr": {"title"},
              "acronym": {"title"}, "th": {"style", "colspan", "rowspan"}, "td": {"style", "colspan", "rowspan"},
              **{f"h{n}": {"id"} for n in range(1, 7)}}
# Classes nbconvert's rendering of markdown writes: its heading anchors and Pygments' code highlighting (one to three
# letters); no other class, which could borrow the page's own styles (a fixed position over the score).
CLASSES = {"a": re.compile(r"anchor-link"), "div": re.compile(r"highlight"), "span": re.compile(r"[a-z0-9]{1,3}")}
PROTOCOLS = frozenset({"http", "https", "mailto", "attachment"})  # links without a scheme (#anchor, a file) stay too
CSS_PROPERTIES = frozenset({"text-align"})  # a table column's alignment, as markdown writes it
OUTPUT_TYPES = frozenset({"text/plain", "text/latex", "application/json", "image/png", "image/jpeg"})  # nbconvert's safe ones
ATTACHMENT_TYPES = frozenset({"image/png", "image/jpeg", "image/gif"})
_BASE64 = re.compile(r"[A-Za-z0-9+/=\s]*")
# How bleach writes two things nbconvert and latex2mathml write otherwise, with the same meaning: a table column's
# alignment ends with ";", an empty MathML element is closed by a tag of its own.
_AS_BLEACH_WRITES = ((re.compile(r'( style="text-align:(?:left|right|center))"'), r'\1;"'),
                     (re.compile(r"<(mspace|none|mprescripts)((?: [a-z]+=\"[^\"<>]*\")*) />"), r"<\1\2></\1>"))


def _allowed_attribute(tag: str, name: str, value: str) -> bool:
    if name == "class":
        return tag in CLASSES and CLASSES[tag].fullmatch(value) is not None
    if tag in MATHML_TAGS:
        return name in MATHML_ATTRIBUTES
    return name in ATTRIBUTES.get(tag, ())


def sanitize_html(html: str) -> str:
    """``html`` with every tag, attribute, URL scheme and style outside the allowlist taken out: a disallowed tag is
    kept as visible text (``&lt;script&gt;…``), so a reader sees what was written; comments are removed."""
    import bleach
    from bleach.css_sanitizer import CSSSanitizer

    if not isinstance(html, str):
        raise TypeError(f"html: expected a str, got {type(html).__name__}")
    return bleach.clean(html, tags=HTML_TAGS | MATHML_TAGS, attributes=_allowed_attribute, protocols=PROTOCOLS,
                        css_sanitizer=CSSSanitizer(allowed_css_properties=CSS_PROPERTIES), strip=False, strip_comments=True)


def _is_safe(markdown: str) -> bool:
    """Whether the HTML nbconvert renders from ``markdown`` is left unchanged by ``sanitize_html`` (but for
    ``_AS_BLEACH_WRITES``)."""
    from nbconvert.filters import markdown2html

    rendered = markdown2html(markdown)
    for pattern, replacement in _AS_BLEACH_WRITES:
        rendered = pattern.sub(replacement, rendered)
    return sanitize_html(rendered) == rendered


def sanitize_markdown(markdown: str) -> str:
    """``markdown`` itself if what it renders to is safe (``_is_safe``); else its rendering, cleaned, as one HTML
    block (no blank line, after which markdown would be read again); else, should even that render otherwise, the
    text as an indented code block."""
    from nbconvert.filters import markdown2html

    if not isinstance(markdown, str):
        raise TypeError(f"markdown: expected a str, got {type(markdown).__name__}")
    if _is_safe(markdown):
        return markdown
    cleaned = re.sub(r"\n\s*\n", "\n", sanitize_html(markdown2html(markdown)).replace("\r", "\n")).strip()
    as_html = f"<div>\n{cleaned}\n</div>"
    if _is_safe(as_html):
        return as_html
    as_code = "".join(f"    {line}\n" for line in markdown.splitlines())
    return as_code if _is_safe(as_code) else ""


def sanitize_outputs(outputs: list) -> list:
    """Each output cut to the types nbconvert shows without running code (``OUTPUT_TYPES``, its HTML and markdown
    cleaned); other types are dropped, and so is any size or other metadata but numbers. Streams and errors are text,
    which the page escapes."""
    for output in outputs:
        if output.get("output_type") not in ("display_data", "execute_result"):
            continue
        data = output.get("data", {})
        for mime in list(data):
            if mime == "text/html":
                data[mime] = sanitize_html(_text(data[mime]))
            elif mime == "text/markdown":
                data[mime] = sanitize_markdown(_text(data[mime]))
            elif mime not in OUTPUT_TYPES:
                del data[mime]
        output["metadata"] = {mime: {key: value for key, value in meta.items() if key in ("width", "height")
                                     and isinstance(value, int | float)}
                              for mime, meta in output.get("metadata", {}).items() if mime in data and isinstance(meta, dict)}
    return outputs


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def sanitize_notebook(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """``nb`` with every markdown cell (``sanitize_markdown``), raw cell (``sanitize_html``) and output
    (``sanitize_outputs``) made harmless, attachments kept only as PNG, JPEG or GIF images, and the widgets' state
    (which makes nbconvert load and run the widgets' JavaScript) removed. Changes ``nb`` in place and returns it."""
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = sanitize_markdown(_text(cell.source))
        elif cell.cell_type == "raw":
            cell.source = sanitize_html(_text(cell.source))
        elif cell.cell_type == "code":
            cell.outputs = sanitize_outputs(cell.get("outputs", []))
        if "attachments" in cell:
            cell.attachments = {name: {mime: data for mime, data in bundle.items() if mime in ATTACHMENT_TYPES
                                       and isinstance(data, str) and _BASE64.fullmatch(data)}
                                for name, bundle in cell.attachments.items() if isinstance(bundle, dict)}
    return nb


class SanitizeNotebook(Preprocessor):
    """nbconvert preprocessor: ``sanitize_notebook``. Last among autograde's steps (the autograded notebook) and the
    feedback's (after ``MathMLPreprocessor``, whose MathML carries the student's text)."""

    enabled = Bool(True, help="nbgrader registers its converters' preprocessors without enabling them").tag(config=True)

    def preprocess(self, nb, resources):
        return sanitize_notebook(nb), resources
