"""Run notebooks top to bottom with the Python that runs this script (a student edition's environment).

    python edition_runner.py OUT.json NOTEBOOK.ipynb [NOTEBOOK.ipynb ...]

Each notebook runs in its own folder, in a kernel of this Python, and is written back with its outputs.
OUT.json records, per notebook, the seconds it took, the first cell that failed (None if none) with its
error, and where the kernel found rl_course (to prove which edition ran).
"""

import json
import re
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

WHERE = "import rl_course, rl_course.withheld; print('RL_COURSE_AT', rl_course.__file__)"


def run(path: Path) -> dict:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    started = time.perf_counter()
    failed, error = None, None
    with client.setup_kernel():
        try:
            for index, cell in enumerate(nb.cells):
                client.execute_cell(cell, index)
        except CellExecutionError as exc:
            failed, error = index, re.sub(r"\x1b\[[0-9;]*m", "", str(exc))[-3000:]
        probe = nbformat.v4.new_code_cell(WHERE)
        nb.cells.append(probe)
        client.execute_cell(probe, len(nb.cells) - 1)
        nb.cells.pop()
    seconds = time.perf_counter() - started
    nbformat.write(nb, path)
    where = "".join(o.get("text", "") for o in probe.outputs).split("RL_COURSE_AT")[-1].strip()
    return {"seconds": seconds, "failed_cell": failed, "error": error, "rl_course": where}


if __name__ == "__main__":
    out, paths = Path(sys.argv[1]), [Path(p) for p in sys.argv[2:]]
    out.write_text(json.dumps({str(p): run(p) for p in paths}, indent=2))
