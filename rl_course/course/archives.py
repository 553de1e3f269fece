"""An LMS's bulk download checked before anything of it is extracted (``check_archive``): only regular files, each
path inside the archive, the total size and the number of files under caps, nested archives (those nbgrader's
extractor opens) included; a refused archive names each hazard (``ArchiveRefused``)."""

from __future__ import annotations

import io
import re
import stat
import tarfile
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath

NESTED_SUFFIXES = (".zip", ".gz")  # what nbgrader's extractor opens inside an archive (ExtractorPlugin.zip_ext)


class ArchiveRefused(Exception):
    """An archive that is not collected; the message names each hazard."""


@dataclass
class Member:
    """A regular file of an archive."""

    path: str  # inside the archive, "/"-separated, without a leading "./"
    size: int
    mtime: float
    data: bytes | None = None


def check_archive(path: Path, max_total_size: int, max_files: int) -> list[Member]:
    """The regular files of the zip or tar archive at ``path``, read into memory; ``ArchiveRefused`` naming
    every hazard: a path that is absolute or climbs out (``..``), a link, a device, FIFO or socket, more
    than ``max_files`` files or ``max_total_size`` bytes in all (as the archive declares them, nested
    archives counted), an archive that cannot be read."""
    hazards: list[str] = []
    budget = {"bytes": max_total_size, "files": max_files}
    members = _members(Path(path).read_bytes() if Path(path).is_file() else b"", Path(path).name, hazards, budget, depth=0)
    if budget["files"] < 0:
        hazards.append(f"more than {max_files} files (c.Collect.max_files)")
    if budget["bytes"] < 0:
        hazards.append(f"more than {max_total_size} bytes ({max_total_size / 2**20:g} MiB) once unpacked "
                       f"(c.Collect.max_total_size): a zip bomb?")
    if hazards:
        shown = hazards[:8] + ([f"and {len(hazards) - 8} more"] if len(hazards) > 8 else [])
        raise ArchiveRefused(f"{path}: refused, nothing collected: " + "; ".join(shown))
    return members


def _members(data: bytes, shown: str, hazards: list[str], budget: dict, depth: int) -> list[Member]:
    if depth > 3:
        hazards.append(f"{shown}: archives nested more than 3 deep")
        return []
    if zipfile.is_zipfile(io.BytesIO(data)):
        return _zip_members(data, shown, hazards, budget, depth)
    try:
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            return _tar_members(tar, shown, hazards, budget, depth)
    except tarfile.TarError:
        hazards.append(f"{shown}: not a zip or tar archive")
        return []


def _zip_members(data: bytes, shown: str, hazards: list[str], budget: dict, depth: int) -> list[Member]:
    members = []
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        for info in z.infolist():
            mode = info.external_attr >> 16 if info.create_system == 3 else 0
            problem = _path_problem(info.filename) or _mode_problem(mode)
            if problem:
                hazards.append(f"{shown}: {info.filename!r}: {problem}")
                continue
            if info.is_dir():
                continue
            member = Member(_clean(info.filename), info.file_size, datetime(*info.date_time).timestamp())
            if _count(member, budget) and (depth == 0 or member.path.lower().endswith(NESTED_SUFFIXES)):
                try:  # what is collected, and archives to look into; the rest of a nested archive is only counted
                    member.data = z.read(info)
                except Exception as error:  # a CRC or size that does not match what it holds, an unknown compression
                    hazards.append(f"{shown}: {info.filename!r}: cannot be read ({type(error).__name__})")
                    continue
                members += _nested(member, shown, hazards, budget, depth)
    return members


def _tar_members(tar: tarfile.TarFile, shown: str, hazards: list[str], budget: dict, depth: int) -> list[Member]:
    members = []
    for info in tar.getmembers():
        what = ("a symbolic link" if info.issym() else "a hard link" if info.islnk() else "a FIFO" if info.isfifo()
                else "a device file" if info.isdev() else None if info.isfile() or info.isdir() else "not a regular file")
        problem = _path_problem(info.name) or (f"{what}, refused" if what else None)
        if problem:
            hazards.append(f"{shown}: {info.name!r}: {problem}")
            continue
        if info.isdir():
            continue
        member = Member(_clean(info.name), info.size, float(info.mtime))
        if _count(member, budget) and (depth == 0 or member.path.lower().endswith(NESTED_SUFFIXES)):
            member.data = tar.extractfile(info).read()
            members += _nested(member, shown, hazards, budget, depth)
    return members


def _count(member: Member, budget: dict) -> bool:
    """Take the member off the budget; whether there is room left to read it."""
    budget["files"] -= 1
    budget["bytes"] -= member.size
    return budget["files"] >= 0 and budget["bytes"] >= 0


def _nested(member: Member, shown: str, hazards: list[str], budget: dict, depth: int) -> list[Member]:
    """The member, and, when nbgrader's extractor would open it, what the archive inside holds (checked the same way)."""
    if member.path.lower().endswith(NESTED_SUFFIXES):
        _members(member.data, f"{shown}/{member.path}", hazards, budget, depth + 1)
    return [member]


def _path_problem(name: str) -> str | None:
    parts = name.replace("\\", "/").split("/")
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return "an absolute path, refused"
    if ".." in parts:
        return "a path that climbs out of the archive (..), refused"
    return None


def _mode_problem(mode: int) -> str | None:
    for test, words in ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a device file"),
                        (stat.S_ISBLK, "a device file"), (stat.S_ISSOCK, "a socket")):
        if mode and test(mode):
            return f"{words}, refused"
    return None


def _clean(name: str) -> str:
    """The member's path with "/" separators and without a leading "./"."""
    name = name.replace("\\", "/")
    while name.startswith("./"):
        name = name[2:]
    return str(PurePosixPath(name))
