"""Confinement of the kernels that run students' code while it is graded: bubblewrap and prlimit.

Each kernel is started by ``prlimit`` (util-linux) inside ``bwrap`` (bubblewrap), and sees:

- read-only, the system's programs and libraries (``/usr``, ``/etc``, …), the Python installation
  with its packages, and the ``rl_course`` package: the instructor's, or with ``student_edition`` the student
  edition of the window being graded (``rl_course.course.grading_edition``), the instructor's then unseen;
  nothing else of the machine: no course folder, no ``solutions/``, no other submission, no gradebook, no home folder;
- its working folder, at the path of the submission's working copy: a fresh tmpfs of at most
  ``disk_limit`` bytes in which the submission's own files are bound read-only; ``/tmp`` is another
  such tmpfs. Whatever the kernel writes stays in memory and is gone when it ends;
- no network (a network namespace of its own, with loopback only), process IDs, IPC and host
  name of its own; it talks to the grader over Unix sockets in a folder of its own;
- an unprivileged user without capabilities: when the grader runs as root, a user ID of its own
  per grading process, so that the caps on processes count each kernel apart;
- caps per process on its address space (``memory_limit``), CPU seconds (``cpu_limit``), and on
  its processes and threads together (``process_limit``).

The caps are set in ``nbgrader_config.py`` (``c.Sandbox.memory_limit = "8G"``) or by the options
of ``rl-course grade``. Where bubblewrap cannot run (not Linux, not installed, a container that
forbids namespaces), ``unavailable()`` says why and grading runs unconfined.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import site
import subprocess
import sys
import tempfile
from pathlib import Path

from traitlets import Bool, Integer, Unicode, validate
from traitlets.config import Configurable

from rl_course.course.kernel_output import CapturingKernelManager, CapturingProvisioner

SYSTEM_FOLDERS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/etc")
KERNEL_UID_BASE = 200_000  # + the grading process's pid: a user ID no account has, one per grading process
PASSED_ON = ("PYTHONPATH", "PYTHONHASHSEED", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "LANG", "TZ")  # the rest is cleared


class Sandbox(Configurable):
    """What each kernel that runs a submission may use, and its caps (``c.Sandbox.…`` in ``nbgrader_config.py``)."""

    enabled = Bool(True, help="Confine each submission's kernel (bubblewrap); False runs them with the grader's rights.").tag(config=True)
    memory_limit = Unicode("8G", help="Address space of each of the kernel's processes, e.g. 8G (a bigger allocation fails "
                                      "with MemoryError).").tag(config=True)
    cpu_limit = Integer(1200, help="CPU seconds of each of the kernel's processes; past them it is killed.").tag(config=True)
    process_limit = Integer(256, help="Processes and threads the kernel may run at once.").tag(config=True)
    disk_limit = Unicode("1G", help="Size of each of the kernel's two writable folders (its working folder and /tmp), "
                                    "held in memory.").tag(config=True)
    student_edition = Bool(True, help="Run the kernel of each submitted notebook whose test cells are all judged outside "
                                      "the kernel (rl_course.course.judge) on the student edition of the library for the "
                                      "assignment being graded (it and later assignments withheld, earlier ones solved) "
                                      "instead of the instructor's, which then cannot be read where confined: a submission "
                                      "can neither call nor print a reference answer. A notebook with test cells tagged "
                                      "judged-in-kernel keeps the instructor's library, which those tests call."
                           ).tag(config=True)

    @validate("memory_limit", "disk_limit")
    def _a_size(self, proposal):
        parse_size(proposal["value"])
        return proposal["value"]

    @validate("cpu_limit", "process_limit")
    def _positive(self, proposal):
        if proposal["value"] < 1:
            raise ValueError(f"Sandbox.{proposal['trait'].name} must be at least 1, got {proposal['value']}")
        return proposal["value"]


def parse_size(text: str) -> int:
    """Bytes in a size such as ``512M``, ``8G`` or ``1073741824`` (powers of 1024)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)i?B?\s*", str(text), re.IGNORECASE)
    if not match:
        raise ValueError(f"not a size: {text!r} (expected e.g. 512M, 8G)")
    number, unit = match.groups()
    return int(float(number) * 1024 ** " KMGT".index(unit.upper() or " "))


@functools.cache
def unavailable() -> str | None:
    """Why kernels cannot be confined on this machine, or None when they can (checked once, by confining ``true``)."""
    if not sys.platform.startswith("linux"):
        return f"confinement needs Linux's namespaces (bubblewrap); this is {sys.platform}"
    for tool, package in (("bwrap", "bubblewrap"), ("prlimit", "util-linux"), ("setpriv", "util-linux")):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (Debian and Ubuntu: apt install {package})"
    with tempfile.TemporaryDirectory() as folder:
        probe = command(["true"], Path(folder), Path(folder), Sandbox())
        result = subprocess.run(probe, capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        return f"bubblewrap cannot create its namespaces here ({result.stderr.strip() or result.returncode})"
    return None


def kernel_uid() -> int | None:
    """The user ID kernels run as when the grader is root (None otherwise: they keep the grader's)."""
    return KERNEL_UID_BASE + os.getpid() if os.geteuid() == 0 else None


def readable_paths(library: Path | None = None) -> list[Path]:
    """What a kernel may read besides the system folders: the Python installation, its packages, and ``rl_course``'s
    package folder, or with ``library`` that folder (which holds the student edition's ``rl_course``) instead."""
    user_site = [site.getusersitepackages()] if site.ENABLE_USER_SITE else []
    paths = {Path(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix, *site.getsitepackages(), *user_site)}
    paths.add(Path(library) if library else instructors_library())  # not the folder above: a course checkout stays unseen
    return sorted(p.absolute() for p in paths if p.exists())


def instructors_library() -> Path:
    """The folder of the instructor's ``rl_course`` package, the one this process imports."""
    import rl_course

    return Path(rl_course.__file__).parent


def command(kernel_cmd: list[str], workdir: Path, ipc_folder: Path, sandbox: Sandbox, env: dict | None = None,
            library: Path | None = None) -> list[str]:
    """``kernel_cmd`` confined as the module docstring describes, working in ``workdir``, its sockets in ``ipc_folder``;
    with ``library`` (a folder holding a student edition's ``rl_course``, first on ``env``'s ``PYTHONPATH``), that
    folder is readable and the instructor's ``rl_course`` is not, even where it lies among the packages."""
    disk = str(parse_size(sandbox.disk_limit))
    uid = kernel_uid()
    argv = ["prlimit", f"--as={parse_size(sandbox.memory_limit)}", f"--cpu={sandbox.cpu_limit}",
            f"--nproc={sandbox.process_limit}", f"--fsize={disk}", "--core=0", "--",
            "bwrap", "--die-with-parent", "--new-session", "--unshare-ipc", "--unshare-pid", "--unshare-net",
            "--unshare-uts", "--unshare-cgroup-try", "--hostname", "sandbox"]
    if uid is None:
        argv += ["--unshare-user"]
    for folder in SYSTEM_FOLDERS:
        argv += ["--ro-bind-try", folder, folder]
    argv += ["--dev", "/dev", "--proc", "/proc", "--tmpfs", "/dev/shm",
             "--perms", "01777", "--size", disk, "--tmpfs", "/tmp"]
    made = {Path("/"), Path("/tmp")}

    def mount(*option: str, at: Path, perms: str = "0755") -> None:
        """``option`` at ``at``, whose missing parent folders are made traversable (bwrap makes them 0700)."""
        for parent in reversed(at.parents):
            if parent not in made:
                argv.extend(["--perms", "0755", "--dir", str(parent)])
                made.add(parent)
        argv.extend(["--perms", perms, *option, str(at)] if option[0] in ("--dir", "--tmpfs", "--size") else [*option, str(at)])
        made.add(at)

    readable = readable_paths(library)
    for path in readable:
        for link in _links_on(path):  # e.g. a virtual environment reached through a link: the kernel starts by that path
            if link not in made:
                mount("--symlink", os.readlink(link), at=link)
        if path.resolve() not in made:
            mount("--ro-bind", str(path.resolve()), at=path.resolve())
    hidden = instructors_library().resolve()
    if library and any(hidden.is_relative_to(path.resolve()) for path in readable):  # installed among the packages
        argv.extend(["--perms", "0555", "--size", "4096", "--tmpfs", str(hidden), "--remount-ro", str(hidden)])
    mount("--dir", at=Path("/tmp/matplotlib"), perms="01777")
    for cache in _matplotlib_font_caches():
        mount("--ro-bind", str(cache), at=Path("/tmp/matplotlib") / cache.name)
    mount("--bind", str(ipc_folder), at=Path(ipc_folder))
    mount("--size", disk, "--tmpfs", at=Path(workdir), perms="01777")
    for item in sorted(Path(workdir).iterdir()):
        mount("--ro-bind", str(item), at=item)
    argv += ["--chdir", str(workdir), "--clearenv"]
    environment = {key: value for key, value in (env or os.environ).items() if key in PASSED_ON or key.startswith("JPY_")}
    environment.update(PATH=f"{Path(sys.executable).parent}:/usr/bin:/bin", HOME=str(workdir), TMPDIR="/tmp",
                       MPLCONFIGDIR="/tmp/matplotlib", IPYTHONDIR="/tmp/ipython", LANG=environment.get("LANG", "C.UTF-8"))
    for key, value in sorted(environment.items()):
        argv += ["--setenv", key, value]
    argv.append("--")
    if uid is not None:
        argv += ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--no-new-privs",
                 "--inh-caps=-all", "--bounding-set=-all", "--"]
    return argv + list(kernel_cmd)


def _links_on(path: Path) -> list[Path]:
    """The symbolic links among ``path`` and the folders above it, outermost first."""
    return [p for p in (*reversed(path.parents), path) if p.is_symlink()]


@functools.cache
def _matplotlib_font_caches() -> tuple[Path, ...]:
    """matplotlib's font list, built once by the grader, so that no kernel spends seconds rebuilding it."""
    import matplotlib
    import matplotlib.font_manager  # noqa: F401  (builds the cache if there is none)

    return tuple(sorted(Path(matplotlib.get_cachedir()).glob("fontlist-v*.json")))


class ConfinedProvisioner(CapturingProvisioner):
    """jupyter_client's local kernel provisioner, starting the kernel inside the sandbox (``command``) with the caps,
    the sockets' folder and the library of the ``ConfinedKernelManager`` it serves; the folder is removed with the kernel."""

    async def pre_launch(self, **kwargs):
        kwargs = await super().pre_launch(**kwargs)
        manager = self.parent
        workdir = Path(kwargs.get("cwd") or os.getcwd()).resolve()
        kwargs["cmd"] = command(kwargs["cmd"], workdir, manager.folder, manager.sandbox, kwargs.get("env"), manager.library)
        return kwargs

    async def cleanup(self, restart: bool = False) -> None:
        await super().cleanup(restart)
        if not restart:
            shutil.rmtree(self.parent.folder, ignore_errors=True)


class ConfinedKernelManager(CapturingKernelManager):
    """A kernel started inside the sandbox (``ConfinedProvisioner``), reached over Unix sockets in a folder of its own and
    interrupted by a message (a signal from outside would not reach it); its stdout and stderr captured, never shown."""

    provisioner_name = "rl-course-confined"

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.sandbox = Sandbox(parent=self)
        self.library: Path | None = None  # the folder of the student edition to import, set by the Execute that starts it
        self.folder = Path(tempfile.mkdtemp(prefix="rl-course-kernel-"))
        self.transport = "ipc"
        self.connection_file = str(self.folder / "kernel.json")
        self.ip = str(self.folder / "socket")
        if kernel_uid() is not None:
            os.chown(self.folder, kernel_uid(), kernel_uid())

    @property
    def kernel_spec(self):
        spec = super().kernel_spec
        if spec is not None:
            spec.interrupt_mode = "message"
        return spec

    def write_connection_file(self, **kwargs) -> None:
        super().write_connection_file(**kwargs)
        if kernel_uid() is not None:
            os.chown(self.connection_file, kernel_uid(), kernel_uid())
