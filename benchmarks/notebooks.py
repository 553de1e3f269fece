"""How long each solution notebook takes to execute top to bottom, against its budget.

    python benchmarks/notebooks.py [--only 04_ppo] [--validate]

Every notebook must run on 2 CPU cores within BUDGET_SECONDS (the course's promise to a student
on a laptop); the tests only guard against a hang. For each notebook: its wall seconds, the share
of the budget, and its slowest cell. Run it on an idle machine (the load average is printed).

``--validate`` times nbgrader's Validate instead, on a student's finished notebook (the solution without its hidden
tests, as the release holds them): as the course configures it (the cells tagged ``demo`` skipped) beside every cell
run, and their ratio; the target is VALIDATE_SECONDS.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbgrader.preprocessors import ClearHiddenTests
from nbgrader.validator import Validator
from peers import cpu_description

from rl_course.course import validation

ROOT = Path(__file__).resolve().parents[1]
BUDGET_SECONDS = 180  # per notebook, top to bottom
VALIDATE_SECONDS = 15  # per finished notebook, Validate pressed


def execute(path: Path) -> tuple[float, list[tuple[float, str]]]:
    """Execute the notebook in a fresh kernel; returns (wall seconds, (seconds, cell name) per code cell)."""
    nb = nbformat.read(path, as_version=4)
    cells, started = [], {}

    def on_cell_execute(cell, cell_index):
        started[cell_index] = time.perf_counter()

    def on_cell_executed(cell, cell_index, execute_reply):
        name = cell.metadata.get("nbgrader", {}).get("grade_id") or f"cell {cell_index}"
        cells.append((time.perf_counter() - started[cell_index], name))

    client = NotebookClient(nb, timeout=1200, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}},
                            on_cell_execute=on_cell_execute, on_cell_executed=on_cell_executed)
    begin = time.perf_counter()
    client.execute()
    return time.perf_counter() - begin, cells


def validate_seconds(path: Path, every_cell: bool) -> float:
    """Seconds of nbgrader's Validate on ``path`` with the course's configuration (``every_cell``: the demo cells too)."""
    config = validation.nbgrader_config()
    if every_cell:
        config.Validator.Execute.skip_cells_with_tag = "no cell has this tag"
    begin = time.perf_counter()
    results = Validator(config=config).validate(str(path))
    seconds = time.perf_counter() - begin
    assert validation.passed(results), f"{path.name} does not pass Validate: {results}"
    return seconds


def compare_validate(paths: list[Path]) -> None:
    import tempfile

    print(f"{'finished notebook':<36}{'Validate':>9}{'every cell':>11}{'ratio':>7}{'target':>7}")
    with tempfile.TemporaryDirectory(prefix="rl-course-validate-") as tmp:
        for path in paths:
            finished = Path(tmp) / path.parent.name / path.name
            finished.parent.mkdir()
            nb, _ = ClearHiddenTests().preprocess(nbformat.read(path, as_version=4), {})
            nbformat.write(nb, finished)
            skipped, every = validate_seconds(finished, every_cell=False), validate_seconds(finished, every_cell=True)
            print(f"{path.parent.name:<36}{skipped:>9.1f}{every:>11.1f}{skipped / every:>7.2f}{VALIDATE_SECONDS:>7}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="one assignment folder, e.g. 04_ppo")
    parser.add_argument("--validate", action="store_true", help="time Validate on each finished notebook, demo cells skipped and run")
    args = parser.parse_args()
    paths = sorted((ROOT / "solutions").glob(f"{args.only or '*'}/*.ipynb"))
    print(cpu_description())
    if args.validate:
        compare_validate(paths)
        print(f"at the end: {cpu_description()}")
        return
    print(f"{'notebook':<36}{'seconds':>9}{'budget':>8}{'share':>7}   slowest cell")
    over = []
    for path in paths:
        seconds, cells = execute(path)
        slowest_s, slowest = max(cells)
        print(f"{str(path.relative_to(ROOT)):<36}{seconds:>9.1f}{BUDGET_SECONDS:>8}{seconds / BUDGET_SECONDS:>7.0%}   "
              f"{slowest} ({slowest_s:.1f} s)", flush=True)
        if seconds > BUDGET_SECONDS:
            over.append(path.parent.name)
    print(f"at the end: {cpu_description()}")
    print(f"over budget: {', '.join(over)}" if over else "every notebook within its budget")


if __name__ == "__main__":
    main()
