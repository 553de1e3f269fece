"""Every solution notebook executes top to bottom in a plain kernel, without errors, on the CPU, its hidden tests
(in the source notebook, between their markers) included: every test cell passes in the kernel itself, where
grading (tests/test_course.py) decides test cells outside it.

The cells tagged `demo` (figures, sweeps, the visible training runs) are left out here: tests/test_edition.py runs
each released notebook whole, those cells with the visible tests beside them, in the student edition with the
solutions pasted in, where every demonstration runs on the student's own functions. Their code is the same in both
notebooks (tests/test_course.py checks that notebooks/ is the release of solutions/), and a demonstration that runs
on the student edition's library runs on the instructor's, which holds more.

How long each takes against its budget is a benchmark figure (benchmarks/notebooks.py), not a test: the
timeout here only stops a cell that hangs, generous enough for a loaded 2-core machine."""

from pathlib import Path

import nbformat
import pytest
from helpers import without_demo_cells
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = sorted((ROOT / "solutions").glob("*/*.ipynb"))
HANG_GUARD_SECONDS = 1200  # per cell: only a cell that hangs reaches it


@pytest.mark.notebook
@pytest.mark.parametrize("path", SOLUTIONS, ids=[p.parent.name for p in SOLUTIONS])
def test_solution_notebook_runs_top_to_bottom(path, tmp_path):
    nb = without_demo_cells(nbformat.read(path, as_version=4))
    NotebookClient(nb, timeout=HANG_GUARD_SECONDS, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, f"{path.name}: {errors[0].ename}: {errors[0].evalue}"


@pytest.mark.parametrize("path", sorted(ROOT.glob("*/*/*.ipynb")), ids=lambda p: str(p.relative_to(ROOT)))
def test_notebooks_are_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    stored = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert not stored, f"{path.relative_to(ROOT)}: cells {stored} are stored with outputs; clear them before committing"
