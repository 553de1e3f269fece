"""What a grading kernel writes to its own stdout and stderr, kept out of the grader's terminal.

The kernel process inherits the grader's standard streams: whatever a submission writes there (``os.write(2, …)``,
``sys.__stderr__``, a subprocess) would appear among ``rl-course grade``'s lines, where a coloured ``alice 12 / 12``
could pass for a grade. ``CapturingProvisioner`` (jupyter_client's kernel provisioner, which ``CapturingKernelManager``
names) starts each kernel with both streams on a pipe of its own,
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
from jupyter_client.provisioning import LocalProvisioner

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


class CapturingProvisioner(LocalProvisioner):
    """jupyter_client's local kernel provisioner, starting the kernel with its stdout and stderr on a pipe of its own,
    logged at debug level when the kernel is cleaned up, never printed."""

    drain: _Drain | None = None

    async def launch_kernel(self, cmd: list[str], **kwargs):
        read, write = os.pipe()
        self.drain = _Drain(read)
        try:
            return await super().launch_kernel(cmd, **{**kwargs, "stdout": write, "stderr": write})
        finally:
            os.close(write)  # the kernel holds its own copy; the pipe ends when the kernel and its children do

    async def cleanup(self, restart: bool = False) -> None:
        await super().cleanup(restart)
        if self.drain is not None:
            text, self.drain = self.drain.text(), None
            if text.strip():
                log.debug("the kernel's own stdout and stderr (first %d bytes):\n%s", LIMIT, text)


class CapturingKernelManager(AsyncKernelManager):
    """A kernel manager whose kernels start through the provisioner its kernel spec names, ``provisioner_name``
    (registered under that name among ``jupyter_client.kernel_provisioners`` in the package's entry points):
    ``CapturingProvisioner`` here."""

    provisioner_name = "rl-course-capturing"

    @property
    def kernel_spec(self):
        """The kernel's spec (``python3``'s, say), naming this manager's provisioner."""
        spec = super().kernel_spec
        if spec is not None and spec.metadata.get("kernel_provisioner", {}).get("provisioner_name") != self.provisioner_name:
            spec.metadata = {**spec.metadata, "kernel_provisioner": {"provisioner_name": self.provisioner_name}}
        return spec
