import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from helpers import free_port

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def course_root() -> Path:
    return ROOT


@pytest.fixture
def course_copy(tmp_path) -> Path:
    """A throwaway copy of the course (config, solutions, release) to change freely."""
    copy = tmp_path / "course"
    copy.mkdir()
    shutil.copy(ROOT / "nbgrader_config.py", copy)
    shutil.copytree(ROOT / "solutions", copy / "solutions")
    shutil.copytree(ROOT / "notebooks", copy / "notebooks")
    return copy


# Run by a process of its own, in a session of its own (a Ctrl-C to the tests does not reach it): it waits until the
# test process is gone, however it ended (a failure, a timeout, SIGKILL), then runs the stop command and removes the
# server's folder. A normal teardown does the same first and ends the watchdog.
WATCHDOG = """
import os, shutil, subprocess, sys, time
parent, folder, command = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
while os.getppid() == parent:
    time.sleep(0.5)
subprocess.run(command, capture_output=True, timeout=120)
shutil.rmtree(folder, ignore_errors=True)
"""


def stop_when_the_tests_end(stop_command: list[str], folder: Path) -> subprocess.Popen:
    """A watchdog that runs ``stop_command`` and removes ``folder`` once this process has ended, even when it is
    killed; terminate it after stopping the server yourself."""
    return subprocess.Popen([sys.executable, "-c", WATCHDOG, str(os.getpid()), str(folder), *map(str, stop_command)],
                            start_new_session=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def postgres_url():
    """A PostgreSQL server of its own on loopback, for the length of a test module: its URL. Stopped at the end,
    and by a watchdog if the test process is killed before its teardown."""
    initdb = shutil.which("initdb") or next(iter(sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))), None)
    if initdb is None:
        if os.environ.get("RL_COURSE_REQUIRE_POSTGRES"):
            pytest.fail("RL_COURSE_REQUIRE_POSTGRES is set but PostgreSQL is not installed")
        pytest.skip("PostgreSQL is not installed (Debian: apt-get install postgresql)")
    bindir = Path(initdb).resolve().parent
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []  # the server refuses to run as root
    home = Path(tempfile.mkdtemp(prefix="rl-course-pg-"))
    if as_postgres:
        shutil.chown(home, "postgres")
    port = free_port()

    def run(*command):
        subprocess.run(as_postgres + [str(c) for c in command], check=True, capture_output=True, timeout=120)

    stop = [*as_postgres, bindir / "pg_ctl", "-D", home / "data", "-m", "immediate", "stop"]
    watchdog = stop_when_the_tests_end(stop, home)
    try:
        run(bindir / "initdb", "-D", home / "data", "-U", "grader", "-A", "trust", "--no-sync")
        run(bindir / "pg_ctl", "-D", home / "data", "-l", home / "log", "-w", "start",
            "-o", f"-c listen_addresses=127.0.0.1 -p {port} -k {home} -c fsync=off")
        run(bindir / "createdb", "-h", "127.0.0.1", "-p", port, "-U", "grader", "course")
        yield f"postgresql://grader@127.0.0.1:{port}/course"
    finally:
        subprocess.run([str(c) for c in stop], capture_output=True, timeout=120)
        shutil.rmtree(home, ignore_errors=True)
        watchdog.kill()
        watchdog.wait()
