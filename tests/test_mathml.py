"""The feedback page's formulas as MathML (rl_course/mathml.py)."""

import re
from pathlib import Path

import nbformat
import pytest

from rl_course.course.mathml import MathMLPreprocessor, markdown_math_to_mathml, tex_to_mathml

ROOT = Path(__file__).resolve().parents[1]


def test_inline_and_display_math_become_mathml_with_the_formula_inside():
    out = markdown_math_to_mathml(r"After $s \to s'$ the error is $$\delta = r + \gamma V(s') - V(s)$$ done.")
    assert out.startswith("After <math ") and out.endswith("</math> done.")
    inline, display = re.findall(r"<math[^>]*>", out)
    assert 'display="inline"' in inline and 'display="block"' in display
    assert "$" not in out and "\n" not in out
    assert "<mi>&#x003B3;</mi>" in out or "<mi>γ</mi>" in out  # γ, not the letters of \gamma
    assert "gamma" not in out


def test_code_escaped_dollars_and_what_does_not_convert_stay_as_written():
    source = "Costs \\$5 and \\$6; `x = $a$`\n\n```python\nprint('$b$')\n```\n\nand $\\frac{1}{$ here"
    assert markdown_math_to_mathml(source) == source
    assert tex_to_mathml(r"\frac{1}{") is None
    assert "<math" in markdown_math_to_mathml("`code` then $x$ then `more $y$`").split("then `more")[0]


def test_arguments_are_named_when_they_are_not_text():
    with pytest.raises(TypeError, match="markdown: expected"):
        markdown_math_to_mathml(None)
    with pytest.raises(TypeError, match="tex: expected"):
        tex_to_mathml(3)


def test_every_formula_of_every_released_notebook_becomes_mathml_and_code_cells_are_left_alone():
    converted = 0
    for path in sorted((ROOT / "notebooks").glob("*/*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        before = [cell.source for cell in nb.cells]
        nb, _ = MathMLPreprocessor().preprocess(nb, {})
        for cell, source in zip(nb.cells, before, strict=True):
            if cell.cell_type != "markdown":
                assert cell.source == source
                continue
            outside_code = re.sub(r"```.*?```|`[^`]*`", "", cell.source, flags=re.S)
            assert not re.search(r"(?<!\\)\$", outside_code), f"{path.name}: a formula left as TeX: {outside_code[:200]}"
            converted += cell.source.count("<math ")
    assert converted > 300, converted
