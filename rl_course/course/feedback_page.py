"""The course's look for nbgrader's feedback page: its markdown tables laid out as tables, room around formulas.

nbgrader writes the page with its own template (its API sets ``HTMLExporter.template_name = "feedback"`` whatever
the configuration says), which inlines every stylesheet of ``resources["inlining"]["css"]``: the course adds its
own there, after nbconvert's ``CSSHTMLHeaderPreprocessor`` has set them (the course's ``nbgrader_config.py``,
``GenerateFeedback.preprocessors``).
"""

from __future__ import annotations

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

COURSE_CSS = """
.rendered_html table { border-collapse: collapse; margin: 0.6em 0 1em; border: none; }
.rendered_html th, .rendered_html td { padding: 0.3em 0.9em; text-align: left; border: none; border-bottom: 1px solid #ddd; }
.rendered_html thead th { border-bottom: 2px solid #888; font-weight: bold; }
.rendered_html tbody tr:nth-child(odd) { background: #f7f7f7; }
.rendered_html math { font-size: 1.1em; }
.rendered_html math[display="block"] { margin: 0.6em 0; }
"""


class CourseStylePreprocessor(Preprocessor):
    """nbconvert preprocessor: ``COURSE_CSS`` appended to the page's inlined stylesheets; the cells are unchanged.
    Runs after ``CSSHTMLHeaderPreprocessor``, which replaces the list."""

    enabled = Bool(True, help="nbgrader registers its converters' preprocessors without enabling them").tag(config=True)

    def preprocess(self, nb, resources):
        resources.setdefault("inlining", {}).setdefault("css", []).append(COURSE_CSS)
        return nb, resources
