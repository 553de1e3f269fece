"""The lecture deck (``lecture/credit_assignment.ipynb``): executed top to bottom, exported as one reveal.js page.

The page loads nothing from the network: reveal.js 4.6.1 (MIT, shipped in ``templates/rl_course_reveal/static``),
its white theme and MathJax 3 (the ``django-static-mathjax`` package of the ``lecture`` extra) are inlined, and
so are the figures (PNG) and the eligibility-trace animation (frames and player). The sliders need a kernel:
in the page each live figure shows the values it was executed with, and a line names its controls.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

DECK = Path("lecture") / "credit_assignment.ipynb"
TEMPLATES = Path(__file__).resolve().parents[1] / "templates"
TEMPLATE = "rl_course_reveal"
MATHJAX_CDN = "https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-svg.js"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


class DeckError(RuntimeError):
    """The deck is missing or a cell of it failed."""


def find_deck(root: Path | None = None) -> Path:
    """``lecture/credit_assignment.ipynb`` under ``root`` (default: the folder that holds the rl_course package)."""
    root = Path(__file__).resolve().parents[2] if root is None else Path(root)
    path = root / DECK
    if not path.exists():
        raise DeckError(f"no lecture deck at {path}: pass --deck PATH")
    return path


def execute(path: Path, timeout: int = 600, cwd: Path | None = None):
    """Run every cell of the deck in a fresh ``python3`` kernel (``timeout`` seconds per cell at most); returns the
    executed notebook. Raises DeckError naming the first cell that failed."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(cwd or path.parent)}})
    try:
        client.execute()
    except CellExecutionError as error:
        raise DeckError(f"{path.name}: a cell failed:\n{error}") from None
    return nb


def controls_note(state: dict, model_id: str) -> str | None:
    """'sliders: λ = 0.80, γ = 0.90' for the box of controls ``model_id`` in a notebook's widget state, or None."""
    box = state.get(model_id, {}).get("state", {})
    parts = []
    for child in box.get("children", []):
        child_state = state.get(str(child).removeprefix("IPY_MODEL_"), {}).get("state", {})
        if "description" not in child_state:
            continue
        value = child_state.get("value", child_state.get("index"))
        labels = child_state.get("_options_labels")
        if labels is not None and child_state.get("index") is not None:
            value = labels[child_state["index"]]
        shown = f"{value:.2f}" if isinstance(value, float) else f"{value}"
        parts.append(f"{child_state['description']} = {shown}")
    return "controls (live in JupyterLab): " + ", ".join(parts) if parts else None


def for_export(nb):
    """A copy of the executed deck as a page shows it: each box of sliders replaced by a line naming the controls and
    their values, stderr (warnings, progress) dropped, and no widget state (a page has no kernel to drive them)."""
    import copy

    nb = copy.deepcopy(nb)
    state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {}).get("state", {})
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for output in cell.outputs:
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                continue
            if WIDGET_VIEW in output.get("data", {}):
                note = controls_note(state, output["data"][WIDGET_VIEW]["model_id"])
                if note:
                    kept.append({"output_type": "display_data", "metadata": {},
                                 "data": {"text/html": f'<p class="rl-controls"><em>{note}</em></p>', "text/plain": note}})
                continue
            kept.append(output)
        cell.outputs = kept
    nb.metadata.pop("widgets", None)
    return nb


def offline_assets() -> dict:
    """The text of reveal.js, its CSS and theme, and MathJax 3 (None, with the CDN address, where the
    ``django-static-mathjax`` package is not installed: formulas then need a network connection)."""
    static = TEMPLATES / TEMPLATE / "static"
    assets = {name: (static / file).read_text(encoding="utf-8")
              for name, file in (("reveal_js", "reveal.js"), ("reveal_css", "reveal.css"), ("theme_css", "white.css"))}
    assets["mathjax_js"], assets["mathjax_url"] = None, MATHJAX_CDN
    mathjax = mathjax_path()
    if mathjax is not None:
        assets["mathjax_js"] = mathjax.read_text(encoding="utf-8")
    return assets


def mathjax_path() -> Path | None:
    """MathJax 3's single-file TeX → SVG bundle from the ``mathjax`` package (``django-static-mathjax``), if installed."""
    try:
        import mathjax
    except ImportError:
        return None
    for root in map(Path, getattr(mathjax, "__path__", [])):
        path = root / "static" / "mathjax" / "es5" / "tex-svg.js"
        if path.exists():
            return path
    return None


def export_html(nb) -> str:
    """The executed deck as one reveal.js HTML page (inputs hidden, figures and assets inlined)."""
    from nbconvert import SlidesExporter

    exporter = SlidesExporter(extra_template_basedirs=[str(TEMPLATES)], template_name=TEMPLATE, exclude_input=True,
                              exclude_input_prompt=True, exclude_output_prompt=True, reveal_transition="none",
                              reveal_scroll=True)
    html, _ = exporter.from_notebook_node(for_export(nb), resources={"offline": offline_assets()})
    for script in re.findall(r"<script[^>]*>(.*?)</script>", html, flags=re.S):
        if "</script" in script:  # pragma: no cover - an inlined asset that closes its own tag would break the page
            raise DeckError("an inlined script contains </script>")
    return html


def network_references(html: str) -> list[str]:
    """The addresses a page would fetch as it loads: src/href of its tags (the text of inlined scripts aside),
    and url() and @import of its style sheets, that point to http(s) or //."""
    markup = re.sub(r"(<script[^>]*>).*?(</script>)", r"\1\2", html, flags=re.S)
    found = re.findall(r"""<(?:script|link|img|iframe|source|video|audio)\b[^>]*?\b(?:src|href)\s*=\s*"""
                       r"""["']((?:https?:)?//[^"']+)["']""", markup)
    for css in re.findall(r"<style[^>]*>(.*?)</style>", html, flags=re.S):
        found += re.findall(r"""url\(\s*["']?((?:https?:)?//[^)"']+)""", css)
        found += re.findall(r"""@import\s+(?:url\()?["']?((?:https?:)?//[^"')]+)""", css)
    return list(dict.fromkeys(found))


def count_slides(nb) -> int:
    """The number of slides (cells that start one, skipped cells aside)."""
    return sum(cell.metadata.get("slideshow", {}).get("slide_type") == "slide" for cell in nb.cells)


def build(deck: Path, out: Path, timeout: int = 600) -> Path:
    """Execute ``deck`` and write ``out/<deck name>.html``; returns the path."""
    nb = execute(deck, timeout=timeout)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{Path(deck).stem}.html"
    path.write_text(export_html(nb), encoding="utf-8")
    return path


def summary(path: Path) -> dict:
    """What a lecturer may want to know of an exported page: its size, slides, and what it loads from the network."""
    html = Path(path).read_text(encoding="utf-8")
    return {"path": str(path), "bytes": len(html.encode()), "slides": len(re.findall(r"<section[^>]*>\s*<section", html)),
            "network": network_references(html), "mathjax_inlined": "window.MathJax" in html and MATHJAX_CDN not in html}


if __name__ == "__main__":  # python -m rl_course.lecture.slides OUT: what rl-course slides does
    import sys

    written = build(find_deck(), Path(sys.argv[1] if len(sys.argv) > 1 else "outputs"))
    print(json.dumps(summary(written), indent=2))
