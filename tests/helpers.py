"""What several test modules share: the course's notebooks as the tests see them, the scores a gradebook and a
grades CSV hold, a free port on loopback, and waiting for a JupyterLab the test started."""

import csv
import random
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = {"01_td_lambda": "td_lambda.ipynb", "02_forward_backward": "forward_backward.ipynb", "03_gae": "gae.ipynb",
             "04_ppo": "ppo.ipynb", "05_continuous": "continuous.ipynb"}
FULL_MARKS = {"01_td_lambda": 12, "02_forward_backward": 15, "03_gae": 10, "04_ppo": 17, "05_continuous": 22}
# Cells that only demonstrate (figures, sweeps, the visible training runs), tagged `demo` in solutions/: grading does
# not run them (rl_course/course/judge.py), and they are left out of the graded solutions and mistakes here. That they
# run without an error, on the student's own functions, is tests/test_edition.py's to prove (the student edition's run).
DEMO_CELLS = {c.metadata["nbgrader"]["grade_id"] for path in sorted((ROOT / "solutions").glob("*/*.ipynb"))
              for c in nbformat.read(path, as_version=4).cells if "demo" in c.metadata.get("tags", [])}


def grade_cell(nb, grade_id):
    """The cell of ``nb`` whose nbgrader grade_id is ``grade_id``."""
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def without_demo_cells(nb):
    """The notebook without the cells that only demonstrate: what grading needs of it."""
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") not in DEMO_CELLS]
    return nb


def inject(mistake, nb):
    """The solution notebook with the mistake in its answer cell, without the cells that only demonstrate."""
    cell = grade_cell(nb, mistake.cell)
    if mistake.source is not None:
        cell.source = mistake.source
    else:
        old, new = mistake.replace
        assert old in cell.source, f"the solution of {mistake.cell} no longer contains {old!r}"
        cell.source = cell.source.replace(old, new)
    return without_demo_cells(nb)


def gradebook_scores(db_url: str) -> dict:
    """{(student, assignment): score} of every submission the gradebook holds."""
    with Gradebook(db_url, "rl-course") as gb:
        return {(s.student_id, a.name): s.score for a in gb.assignments for s in gb.assignment_submissions(a.name)}


def reported_scores(csv_path: Path) -> dict:
    """{(student, assignment): score} of the rows of a grades CSV that were graded (no problem)."""
    return {(r["student"], r["assignment"]): float(r["score"]) for r in csv.DictReader(csv_path.open()) if not r["problem"]}


def _ephemeral_low() -> int:
    """The lowest port the system hands out to outgoing connections and to binds on port 0."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def free_ports(n: int = 1) -> int:
    """The first of ``n`` consecutive ports free on loopback, below the system's ephemeral range.

    A port the system chose (a bind to port 0) lies in the range it also hands to every outgoing connection, so
    between the choosing and a server's bind, a connection (a test polling a server, a server its proxy) can take it
    and the server fails to start. Below that range only a server asking for that very port can."""
    low = _ephemeral_low() - n
    rng = random.Random()  # the tests' seeds leave the global generator in the same state each run
    for _ in range(200):
        first = rng.randrange(10_000, low) if low > 10_000 else rng.randrange(1024, 65536 - n)
        socks = []
        try:
            for port in range(first, first + n):
                sock = socket.socket()
                socks.append(sock)
                sock.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()
    raise RuntimeError("no free ports on loopback")


def free_port() -> int:
    """A port free on loopback, below the system's ephemeral range (``free_ports``)."""
    return free_ports(1)


def wait_for_jupyterlab(server: subprocess.Popen, url: str, token: str, log: Path, seconds: float = 300) -> None:
    """Return once the JupyterLab at ``url`` answers its status API; fail with its log if it exits first, and after
    ``seconds`` (a hang guard: a loaded machine starts it in well under this)."""
    deadline = time.monotonic() + seconds
    while True:
        assert server.poll() is None, log.read_text()[-3000:]
        try:
            urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
            return
        except OSError:
            assert time.monotonic() < deadline, f"JupyterLab did not answer within {seconds:g} s"
            time.sleep(0.3)
