"""nbgrader's exchange, from the course root: publish a release to the students, hand their feedback back.

On a hub (``deploy/jupyterhub/``) students fetch and submit through nbgrader's exchange, a folder every
user can reach (``c.Exchange.root``). The instructor's side is nbgrader's own commands, run in the course root,
where nbgrader reads the course's ``nbgrader_config.py`` and, on ``JUPYTER_CONFIG_PATH``, the hub's (course id,
exchange root)::

    rl-course release --exchange 01_td_lambda     regenerate notebooks/, then nbgrader release_assignment
    nbgrader collect 01_td_lambda                 the submissions, into submitted/<student>/01_td_lambda/
    rl-course grade submitted                     autograde them into the gradebook Formgrader reads
    rl-course feedback submitted --exchange       write feedback/<student>/…html, then nbgrader release_feedback

This module only calls those nbgrader commands, one process each, as an instructor would in a terminal.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from rl_course.course.layout import CourseError, last_line


def nbgrader(course_root: Path, *args: str) -> str:
    """Run ``nbgrader ARGS`` in ``course_root`` with this Python; returns its log. A failure is a ``CourseError``
    naming the command and nbgrader's last error line."""
    command = [sys.executable, "-m", "nbgrader", *args]
    result = subprocess.run(command, cwd=course_root, capture_output=True, text=True, env=_with_own_scripts())
    log = result.stdout + result.stderr
    if result.returncode != 0 or "[ERROR]" in log or "| ERROR]" in log:
        raise CourseError(f"nbgrader {' '.join(args)}: {last_line({'log': log})}")
    return log


def publish(course_root: Path, assignment: str) -> str:
    """``nbgrader release_assignment``: copy ``notebooks/<assignment>`` into the exchange's outbound folder, where
    students fetch it (an earlier release of it is replaced). Returns nbgrader's log."""
    return nbgrader(course_root, "release_assignment", assignment, "--force")


def release_feedback(course_root: Path, assignment: str) -> str:
    """``nbgrader release_feedback``: copy ``feedback/<student>/<assignment>/*.html`` into the exchange, each named
    after its submission's secret, where that student's ``fetch_feedback`` finds it. Returns nbgrader's log."""
    return nbgrader(course_root, "release_feedback", assignment)


def _with_own_scripts() -> dict:
    """The environment, with this Python's scripts first on PATH (nbgrader runs helpers by name)."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env
