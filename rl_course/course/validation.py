"""A student's check before submitting: nbgrader's Validate, with an exit status.

``nbgrader validate`` prints the verdict and exits 0 whether the tests pass or not. ``validate``
runs nbgrader's own ``Validator`` with the configuration the Validate button of JupyterLab loads
(the notebook server's folder, then Jupyter's configuration folders), so it prints the same
verdict as the button shows, and returns nbgrader's results: a command can then fail when
cells fail.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import TextIO

from jupyter_core.paths import jupyter_config_path
from nbgrader.apps import NbGrader
from nbgrader.validator import Validator


class _RecordingValidator(Validator):
    """nbgrader's Validator, keeping the results of the last ``validate`` that ``validate_and_print`` prints."""

    results: dict = {}

    def validate(self, filename: str) -> dict:
        self.results = super().validate(filename)
        return self.results


def nbgrader_config():
    """The configuration nbgrader's Validate button loads: ``nbgrader_config.py`` of the current folder first,
    then those of Jupyter's configuration folders (as ``nbgrader.server_extensions.validate_assignment`` does)."""
    paths = jupyter_config_path()
    paths.insert(0, os.getcwd())
    app = NbGrader()
    app.config_file_paths.append(paths)
    level = app.log.level
    app.log.setLevel(logging.ERROR)  # a folder without nbgrader_config.py is the usual case for a student, not a warning
    try:
        app.load_config_file()
    finally:
        app.log.setLevel(level)
    config = app.config
    # the kernel runs on this machine only: over IPC, where ipykernel does not warn about unencrypted TCP
    if "transport" not in config.KernelManager:
        config.KernelManager.transport = "ipc"
    return config


def validate(notebook: Path, stream: TextIO | None = None) -> dict:
    """Restart a kernel, run every cell of ``notebook`` and print nbgrader's verdict to ``stream``.

    Returns nbgrader's results: ``{"failed": [...]}`` for test cells that lost points,
    ``{"changed": [...]}`` for locked cells that were edited, ``{"type_changed": [...]}`` for
    cells whose type was changed; ``{}`` when the notebook passes.
    """
    notebook = Path(notebook)
    if not notebook.is_file():
        raise FileNotFoundError(f"NOTEBOOK: no notebook at {notebook}")
    validator = _RecordingValidator(config=nbgrader_config())
    validator.stream = stream or sys.stdout  # the current one, as a test's or a caller's redirection sets it
    validator.validate_and_print(str(notebook))
    return validator.results


def passed(results: dict) -> bool:
    """Whether nbgrader's results of ``validate`` say the notebook passes: no failed, changed or retyped cell."""
    return not any(results.get(key) for key in ("failed", "changed", "type_changed"))
