"""Time the lecture deck: its execution top to bottom, each slider's redraw, and the exported page.

    python benchmarks/lecture.py [--out DIR]

Executes lecture/credit_assignment.ipynb in a fresh kernel (as `rl-course slides` does), then, in the same kernel,
moves every control of every live figure through its range ``--passes`` times (``live.drive_controls``: the update,
the draw, the PNG and the output sent, what a lecturer waits for while dragging; the target is under 100 ms per
redraw), and exports the page. Prints the execution time with the slowest cells, the redraw times per slider (median
and 90th percentile, wall and CPU, against the target), and the page's size. The machine's load averages are
printed too: CPU time is the figure to compare when other work shares the cores.
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

from rl_course.lecture import slides

CPU = ("import resource as _resource\nprint(sum(getattr(_resource.getrusage(who), field) for who in "
       "(_resource.RUSAGE_SELF, _resource.RUSAGE_CHILDREN) for field in ('ru_utime', 'ru_stime')))")
DRIVE = ("import json as _json\nfrom rl_course.lecture import live as _live\n"
         "print(_json.dumps([_live.drive_controls(globals()) for _ in range({passes})]))")
TARGET_MS = 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("outputs"), help="folder for the page (default: outputs/)")
    parser.add_argument("--passes", type=int, default=3, help="times each control goes through its range (default: 3)")
    args = parser.parse_args()
    deck = slides.find_deck()
    nb = nbformat.read(deck, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(deck.parent)}})
    print(f"load average before: {_load()} on {os.cpu_count()} CPUs")
    cell_seconds = []
    with client.setup_kernel():
        cpu_before = _kernel_cpu(client, nb)
        started = time.perf_counter()
        for index, cell in enumerate(nb.cells):
            began = time.perf_counter()
            client.execute_cell(cell, index)
            cell_seconds.append((time.perf_counter() - began, index))
        executed = time.perf_counter() - started
        cpu = _kernel_cpu(client, nb) - cpu_before
        client.set_widgets_metadata()
        driver = nbformat.v4.new_code_cell(DRIVE.format(passes=args.passes))
        nb.cells.append(driver)
        client.execute_cell(driver, len(nb.cells) - 1)
    passes = json.loads(driver.outputs[-1]["text"])
    report = {key: [visit for one in passes for visit in one[key]] for key in passes[0]}
    nb.cells.pop()
    print(f"\ndeck: {slides.count_slides(nb)} slides, executed top to bottom in {executed:.1f} s, {cpu:.1f} s of the kernel's CPU "
          f"(kernel start not counted; wall ≈ CPU on two idle cores)")
    for seconds, index in sorted(cell_seconds, reverse=True)[:4]:
        print(f"  {seconds:6.1f} s  cell {index}: {nb.cells[index].source.splitlines()[0][:70]}")

    print(f"\nredraws (load average {_load()}), target < {TARGET_MS} ms each:")
    print(f"{'slider':<26}{'redraws':>8}{'median ms':>11}{'p90 ms':>8}{'max ms':>8}{'CPU median':>12}{'CPU p90':>9}  target")
    for key, visits in report.items():
        moved = [v for v in visits if v["redrawn"]]
        wall = np.array([v["seconds"] for v in moved]) * 1000
        cpu = np.array([v["cpu_seconds"] for v in moved]) * 1000
        verdict = "met" if np.median(wall) < TARGET_MS else "MISSED"
        print(f"{key:<26}{len(moved):>8}{np.median(wall):>11.1f}{np.percentile(wall, 90):>8.1f}{wall.max():>8.1f}"
              f"{np.median(cpu):>12.1f}{np.percentile(cpu, 90):>9.1f}  {verdict} ({np.median(wall) / TARGET_MS:.2f} of it)")

    began = time.perf_counter()
    html = slides.export_html(nb)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "credit_assignment.html"
    path.write_text(html, encoding="utf-8")
    facts = slides.summary(path)
    print(f"\npage: {path}, {facts['bytes'] / 1e6:.2f} MB, exported in {time.perf_counter() - began:.1f} s; "
          f"network references: {facts['network'] or 'none'}; MathJax inlined: {facts['mathjax_inlined']}")
    print(f"load average after: {_load()}")


def _kernel_cpu(client, nb) -> float:
    """The CPU seconds the kernel (and its child processes) has used so far."""
    cell = nbformat.v4.new_code_cell(CPU)
    nb.cells.append(cell)
    client.execute_cell(cell, len(nb.cells) - 1)
    nb.cells.pop()
    return float(cell.outputs[-1]["text"])


def _load() -> str:
    """The 1, 5 and 15 minute load averages, as uptime prints them."""
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


if __name__ == "__main__":
    main()
