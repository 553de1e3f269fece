"""Every solution notebook executes top to bottom, without errors, on the CPU: the cells that only demonstrate
and the hidden tests (in the source notebook, between their markers) included, so every test cell passes beside
the demonstrations. tests/test_course.py grades the solutions without those cells and relies on this.

How long each takes against its budget is a benchmark figure (benchmarks/notebooks.py), not a test: the
timeout here only stops a cell that hangs, generous enough for a loaded 2-core machine."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("*/*.ipynb"))
HANG_GUARD_SECONDS = 1200  # per cell: only a cell that hangs reaches it


@pytest.mark.notebook
@pytest.mark.parametrize("path", SOLUTIONS, ids=[p.parent.name for p in SOLUTIONS])
def test_solution_notebook_runs_top_to_bottom(path, tmp_path):
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=HANG_GUARD_SECONDS, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, f"{path.name}: {errors[0].ename}: {errors[0].evalue}"


@pytest.mark.parametrize("path", sorted(ROOT.glob("*/*/*.ipynb")), ids=lambda p: str(p.relative_to(ROOT)))
def test_notebooks_are_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    stored = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not stored, f"{path.relative_to(ROOT)}: cells {stored} are stored with outputs; clear them before committing"
