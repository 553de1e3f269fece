"""Time the lecture deck: its execution top to bottom, each slider's redraw, and the exported page.

    python benchmarks/lecture.py [--out DIR]

Executes lecture/credit_assignment.ipynb in a fresh kernel (as `rl-course slides` does), then, in the same kernel,
moves every control of every live figure through its range (``lecture.drive_controls``: the draw and the PNG, what a
lecturer waits for while dragging; the target is under 100 ms per redraw), and exports the page. Prints the execution
time with the slowest cells, the redraw times per slider (median and slowest, wall and CPU), and the page's size.
The machine's load average is printed too: CPU time is the figure to compare when other work shares the cores.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import nbformat
import numpy as np
from nbclient import NotebookClient

from rl_course import slides

DRIVE = "import json as _json\nfrom rl_course import lecture as _lecture\nprint(_json.dumps(_lecture.drive_controls(globals())))"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("outputs"), help="folder for the page (default: outputs/)")
    args = parser.parse_args()
    deck = slides.find_deck()
    nb = nbformat.read(deck, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(deck.parent)}})
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    cell_seconds = []
    with client.setup_kernel():
        started = time.perf_counter()
        for index, cell in enumerate(nb.cells):
            began = time.perf_counter()
            client.execute_cell(cell, index)
            cell_seconds.append((time.perf_counter() - began, index))
        executed = time.perf_counter() - started
        client.set_widgets_metadata()
        driver = nbformat.v4.new_code_cell(DRIVE)
        nb.cells.append(driver)
        client.execute_cell(driver, len(nb.cells) - 1)
    report = json.loads(driver.outputs[-1]["text"])
    nb.cells.pop()
    print(f"\ndeck: {slides.count_slides(nb)} slides, executed top to bottom in {executed:.1f} s (kernel start not counted)")
    for seconds, index in sorted(cell_seconds, reverse=True)[:4]:
        print(f"  {seconds:6.1f} s  cell {index}: {nb.cells[index].source.splitlines()[0][:70]}")

    print(f"\n{'slider':<26}{'positions':>10}{'median ms':>11}{'max ms':>8}{'median CPU ms':>15}{'max CPU ms':>12}")
    for key, visits in report.items():
        moved = [v for v in visits if v["redrawn"]]
        wall = np.array([v["seconds"] for v in moved]) * 1000
        cpu = np.array([v["cpu_seconds"] for v in moved]) * 1000
        print(f"{key:<26}{len(visits):>10}{np.median(wall):>11.0f}{wall.max():>8.0f}{np.median(cpu):>15.0f}{cpu.max():>12.0f}")

    began = time.perf_counter()
    html = slides.export_html(nb)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "credit_assignment.html"
    path.write_text(html, encoding="utf-8")
    facts = slides.summary(path)
    print(f"\npage: {path}, {facts['bytes'] / 1e6:.2f} MB, exported in {time.perf_counter() - began:.1f} s; "
          f"network references: {facts['network'] or 'none'}; MathJax inlined: {facts['mathjax_inlined']}")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
