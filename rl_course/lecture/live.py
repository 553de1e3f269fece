"""Figures that redraw while a slider moves, fast enough to drag.

A panel builds its figure once; each move of a control updates the artists that depend on it in place
(``set_ydata``, ``set_height`` …) and only those are drawn again, over a cached picture of the rest of the
figure (matplotlib's blitting on the Agg canvas); the result is sent as a PNG beside a small HTML readout
(a table or the numbers the figure shows). Text is what costs most to draw, so a panel keeps it static and
puts changing numbers in the readout, where the browser draws them.

    Panel           what a live figure provides: ``figure``, ``dynamic`` artists, ``update(**values)``, ``readout()``
    BlitRenderer    the figure's pixels with only the dynamic artists redrawn over the cached background of a layout
    encode_png      RGBA pixels → PNG bytes (Pillow, fast compression)
    Live            a panel and its ipywidgets controls, shown as one display output updated in place
    slider, sign_toggle, selection_slider   the controls, labelled with the lecture's symbols
    drive_controls  every control of every panel through its range: what each move drew and how long it took
"""

from __future__ import annotations

import base64
import html as html_text
import io
from collections.abc import Hashable, Iterable, Sequence
from typing import Protocol

import numpy as np


class Panel(Protocol):
    """A figure built once and updated in place.

    ``update(**values)`` sets the ``dynamic`` artists for the controls' values and returns the key of the layout
    (everything else: axes, ticks, static lines and text) it leaves, ``None`` when that never changes; the
    background of each layout is drawn once, those of ``layouts`` (optional: control values, one dict per layout)
    before the first move. ``readout()`` is the HTML shown beside the figure.
    """

    figure: object
    dynamic: Sequence

    def update(self, **values) -> Hashable: ...

    def readout(self) -> str: ...


def encode_png(rgba: np.ndarray, compress_level: int = 1) -> bytes:
    """An (H, W, 4) uint8 image as PNG bytes; zlib level 1 is a third of the default level's time for a few
    per cent more bytes on a figure's flat colours."""
    from PIL import Image

    rgba = np.asarray(rgba)
    if rgba.ndim != 3 or rgba.shape[2] != 4 or rgba.dtype != np.uint8:
        raise ValueError(f"rgba must be an (H, W, 4) uint8 array, got {rgba.dtype} {rgba.shape}")
    buffer = io.BytesIO()
    Image.fromarray(rgba).save(buffer, format="png", compress_level=compress_level)
    return buffer.getvalue()


class BlitRenderer:
    """The pixels of ``figure`` with only ``dynamic`` redrawn each time (matplotlib's blitting):

        first time a layout is seen:  draw everything but the dynamic artists, keep the picture (the background)
        every time:                   restore the layout's background, draw the dynamic artists on it (in z-order)

    The dynamic artists are marked animated, so a normal draw skips them; ``savefig`` still draws them, so a
    saved copy of the figure is complete.
    """

    def __init__(self, figure, dynamic: Iterable):
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        self.figure = figure
        self.dynamic = sorted(dynamic, key=lambda artist: artist.get_zorder())
        if not self.dynamic:
            raise ValueError("dynamic must name at least one artist of the figure (the ones a control moves)")
        self.canvas = FigureCanvasAgg(figure)
        self.backgrounds: dict = {}
        for artist in self.dynamic:
            artist.set_animated(True)

    def rgba(self, layout: Hashable = None) -> np.ndarray:
        """The figure's pixels, (H, W, 4) uint8, for the current state of its artists; ``layout`` names the
        background (a new one is drawn the first time it is seen)."""
        background = self.backgrounds.get(layout)
        if background is None:
            self.canvas.draw()
            background = self.backgrounds[layout] = self.canvas.copy_from_bbox(self.figure.bbox)
        else:
            self.canvas.restore_region(background)
        for artist in self.dynamic:
            self.figure.draw_artist(artist)
        return np.asarray(self.canvas.buffer_rgba())

    def png(self, layout: Hashable = None) -> bytes:
        return encode_png(self.rgba(layout))


def html_table(header: Sequence[str], rows: Sequence[Sequence[str]], caption: str = "", highlight: int | None = None,
               colour: str = "#e8f4e8") -> str:
    """A small HTML table: ``rows`` of cells, the first cell of each a row label; row ``highlight`` shaded."""
    cell = "padding:2px 10px;border-bottom:1px solid #ddd;text-align:{};white-space:nowrap"
    head = "".join(f'<th style="{cell.format("center")}">{html_text.escape(h)}</th>' for h in header)
    body = []
    for index, row in enumerate(rows):
        shade = f' style="background:{colour}"' if index == highlight else ""
        label, *values = row
        tds = "".join(f'<td style="{cell.format("right")};font-family:monospace">{html_text.escape(v)}</td>' for v in values)
        body.append(f'<tr{shade}><th style="{cell.format("left")}">{html_text.escape(label)}</th>{tds}</tr>')
    title = f'<caption style="caption-side:top;font-size:90%;padding-bottom:4px">{html_text.escape(caption)}</caption>' if caption else ""
    return (f'<table class="rl-table" style="border-collapse:collapse;font-size:17px;margin:0">{title}'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")


def readout_line(text: str) -> str:
    """One line of numbers beside a figure."""
    return f'<p class="rl-readout" style="font-size:16px;margin:0;max-width:22em">{html_text.escape(text)}</p>'


class Live:
    """A panel redrawn whenever one of its controls (ipywidgets) moves.

    ``show()`` displays the controls, then the figure and its readout as one ordinary display output updated in place (so an
    exported copy keeps the figure of the values it was executed with). ``png`` and ``html`` are the latest picture
    and output, ``redraws`` counts them; ``figure`` is the panel's figure.
    """

    def __init__(self, panel: Panel, **controls):
        if not controls:
            raise ValueError("Live needs at least one control (an ipywidgets widget with a value)")
        if not callable(getattr(panel, "update", None)) or not hasattr(panel, "figure"):
            raise TypeError(f"panel must have a figure and an update(**values) method, got {type(panel).__name__}")
        self.panel, self.controls = panel, controls
        self.renderer = BlitRenderer(panel.figure, panel.dynamic)
        self.redraws, self.handle = 0, None
        start = self.values()
        for layout in getattr(panel, "layouts", ()):  # draw each layout's background now, not on the first move to it
            unknown = set(layout) - set(controls)
            if unknown:
                raise ValueError(f"the panel's layouts name controls it was not given: {sorted(unknown)}")
            self.renderer.rgba(panel.update(**{**start, **layout}))
        self._draw()
        for control in controls.values():
            control.observe(self.redraw, names="value")

    @property
    def figure(self):
        return self.panel.figure

    def values(self) -> dict:
        return {name: control.value for name, control in self.controls.items()}

    def _draw(self) -> None:
        layout = self.panel.update(**self.values())
        self.png = self.renderer.png(layout)
        width, height = self.renderer.canvas.get_width_height()
        picture = (f'<img src="data:image/png;base64,{base64.b64encode(self.png).decode()}" width="{width}" '
                   f'height="{height}" style="margin:0;flex:0 1 auto;min-width:0;max-width:100%;height:auto" alt="figure">')
        self.html = (f'<div class="rl-live" style="display:flex;flex-wrap:nowrap;align-items:center;justify-content:center;'
                     f'gap:16px">{picture}{self.panel.readout()}</div>')
        self.redraws += 1

    def _bundle(self) -> dict:
        values = ", ".join(f"{name} = {value}" for name, value in self.values().items())
        return {"text/html": self.html, "text/plain": f"<figure: {values}>"}

    def show(self) -> Live:
        import ipywidgets as widgets
        from IPython.display import display

        display(widgets.HBox(list(self.controls.values())))
        self.handle = display(self._bundle(), raw=True, display_id=True)
        return self

    def redraw(self, *_) -> None:
        """Update the panel for the controls' current values and show it in place of the last picture."""
        self._draw()
        if self.handle is not None:
            self.handle.update(self._bundle(), raw=True)


def live(panel: Panel, **controls) -> Live:
    """Show ``panel`` with its controls, updated whenever one moves; returns the ``Live``."""
    return Live(panel, **controls).show()


def slider(name: str, low: float, high: float, step: float, value: float):
    """A float slider labelled with the lecture's symbol, updating while dragged."""
    import ipywidgets as widgets

    return widgets.FloatSlider(value=value, min=low, max=high, step=step, description=name, continuous_update=True,
                               readout_format=".2f", layout=widgets.Layout(width="320px"))


def sign_toggle():
    """Two buttons for the sign of the advantage: A = +1 or A = −1."""
    import ipywidgets as widgets

    return widgets.ToggleButtons(options=[("A > 0", 1.0), ("A < 0", -1.0)], value=1.0, description="advantage")


def selection_slider(name: str, options: Sequence[tuple[str, object]], value):
    """A slider over labelled values (e.g. the horizons N, ∞ among them), updating while dragged."""
    import ipywidgets as widgets

    return widgets.SelectionSlider(options=list(options), value=value, description=name, continuous_update=True)


def control_positions(control) -> list:
    """Every value a control can take: a selection's options, or a slider's range in its steps."""
    if getattr(control, "options", None):
        return [value for _, value in control.options]
    return list(np.round(np.arange(control.min, control.max + control.step / 2, control.step), 10))


def _inked(png: bytes) -> float:
    """The fraction of a PNG's pixels that are not white."""
    from PIL import Image

    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    return float(np.mean(pixels.min(axis=2) < 250))


def drive_controls(namespace: dict) -> dict:
    """Move every control of every ``Live`` panel in ``namespace`` (a notebook's globals) through its range, one
    control at a time (the others where they are), then back. Returns, per "panel.control", one record per position:
    the value, whether it moved the control, how many redraws it caused, the PNG's size and inked fraction, whether
    the picture differs from the one before, and the seconds (wall and CPU) the move took: the update, the draw, the
    PNG and the output sent, what a lecturer waits for while dragging."""
    import time

    report = {}
    for name, panel in sorted(namespace.items()):
        if not isinstance(panel, Live):
            continue
        for key, control in panel.controls.items():
            start, visits = control.value, []
            for value in control_positions(control):
                moved = value != control.value
                previous, before = panel.png, panel.redraws
                wall, cpu = time.perf_counter(), time.process_time()
                control.value = value
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                visits.append({"value": str(value), "moved": bool(moved), "redrawn": panel.redraws - before,
                               "png": len(panel.png), "inked": _inked(panel.png), "changed": panel.png != previous,
                               "seconds": wall, "cpu_seconds": cpu})
            control.value = start
            report[f"{name}.{key}"] = visits
    return report
