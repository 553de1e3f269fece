"""What a grading kernel writes to its own stdout and stderr, kept out of the grader's terminal.

The kernel process inherits the grader's standard streams: whatever a submission writes there (``os.write(2, …)``,
``sys.__stderr__``, a subprocess) would appear among ``rl-course grade``'s lines, where a coloured ``alice 12 / 12``
could pass for a grade. ``CapturingKernelManager`` starts each kernel with both streams on a pipe of its own,
which a thread drains: the first ``LIMIT`` bytes are kept, the rest read and dropped, and when the kernel ends that
text, its control characters removed, is logged at debug level (logger ``rl_course.course.kernel_output``) for a
grader who asks for it. What the notebook's cells print is not this: it reaches the notebook through the kernel's
messages, as usual.
"""

from __future__ import annotations

import logging
import os
import re
import threading

from jupyter_client.manager import AsyncKernelManager

LIMIT = 64 * 1024  # bytes of a kernel's own output kept for the log
log = logging.getLogger(__name__)
_CONTROL = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # terminal sequences, control characters


def printable(text: str) -> str:
    """``text`` without terminal escape sequences and control characters (newlines and tabs stay)."""
    return _CONTROL.sub("", text)


class _Drain(threading.Thread):
    """Reads a pipe to its end, keeping the first ``LIMIT`` bytes."""

    def __init__(self, fd: int):
        super().__init__(name="kernel-output", daemon=True)  # a child that keeps the pipe open must not hold the grader
        self.fd, self.kept = fd, bytearray()
        self.start()

    def run(self) -> None:
        try:
            while chunk := os.read(self.fd, 65536):
                self.kept += chunk[:max(0, LIMIT - len(self.kept))]
        finally:
            os.close(self.fd)

    def text(self) -> str:
        self.join(timeout=1)
        return printable(bytes(self.kept).decode("utf-8", "replace"))


class CapturingKernelManager(AsyncKernelManager):
    """A kernel whose stdout and stderr go to a pipe of its own (launch keywords of ``jupyter_client``), logged at
    debug level when it is cleaned up, never printed."""

    _drain: _Drain | None = None

    async def _async_launch_kernel(self, kernel_cmd: list[str], **kwargs) -> None:
        read, write = os.pipe()
        self._drain = _Drain(read)
        kwargs.update(stdout=write, stderr=write)
        try:
            await super()._async_launch_kernel(kernel_cmd, **kwargs)
        finally:
            os.close(write)  # the kernel holds its own copy; the pipe ends when the kernel and its children do

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart)
        if self._drain is not None:
            text, self._drain = self._drain.text(), None
            if text.strip():
                log.debug("the kernel's own stdout and stderr (first %d bytes):\n%s", LIMIT, text)
