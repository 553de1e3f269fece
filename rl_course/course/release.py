"""The student release: ``notebooks/`` regenerated from ``solutions/`` by ``nbgrader generate_assignment``,
the check that the committed release is in sync, and the notebook metadata JupyterLab writes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from rl_course.course.layout import RELEASE_DIR, SOURCE_DIR, CourseError, _last_line, assignments
from rl_course.course.nbgrader_setup import _scratch_course


def release(course_root: Path) -> list[Path]:
    """Regenerate ``notebooks/`` from ``solutions/`` with ``nbgrader generate_assignment``; returns the written files."""
    course_root = Path(course_root)
    written = []
    with _scratch_course(course_root) as (api, scratch):
        for assignment in assignments(course_root):
            generated = _generate(api, scratch, assignment)
            target = course_root / RELEASE_DIR / assignment
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(generated, target)
            written += sorted(p for p in target.rglob("*") if p.is_file())
        for stale in _stale_release_folders(course_root):
            shutil.rmtree(stale)
    return written


def check_release(course_root: Path) -> list[str]:
    """What in the committed ``notebooks/`` differs from a fresh release; empty when in sync."""
    course_root = Path(course_root)
    problems = []
    with _scratch_course(course_root) as (api, scratch):
        for assignment in assignments(course_root):
            generated = _generate(api, scratch, assignment)
            committed = course_root / RELEASE_DIR / assignment
            for path in sorted(p for p in generated.rglob("*") if p.is_file()):
                rel = path.relative_to(generated)
                target = committed / rel
                shown = Path(RELEASE_DIR) / assignment / rel
                if not target.is_file():
                    problems.append(f"{shown}: missing from the release")
                elif not _same_file(path, target):
                    problems.append(f"{shown}: out of date with {SOURCE_DIR}/{assignment}/{rel}")
            for path in sorted(p for p in committed.rglob("*") if p.is_file()) if committed.is_dir() else []:
                if not (generated / path.relative_to(committed)).exists() and ".ipynb_checkpoints" not in path.parts:
                    problems.append(f"{Path(RELEASE_DIR) / assignment / path.relative_to(committed)}: not generated from {SOURCE_DIR}/")
    for stale in _stale_release_folders(course_root):
        problems.append(f"{stale.relative_to(course_root)}: no such assignment in {SOURCE_DIR}/")
    for assignment in assignments(course_root):
        for path in sorted((course_root / SOURCE_DIR / assignment).glob("*.ipynb")):
            problems += [f"{path.relative_to(course_root)}: {line}" for line in notebook_metadata_problems(path)]
    return problems


def jupyterlab_metadata() -> dict:
    """The notebook metadata JupyterLab writes when it saves a notebook run on the course's ``python3`` kernel
    (ipykernel's kernel spec and language_info): a notebook stored with other metadata opens marked unsaved."""
    from ipykernel.ipkernel import IPythonKernel
    from ipykernel.kernelspec import KERNEL_NAME, get_kernel_dict

    spec = get_kernel_dict()
    return {"kernelspec": {"display_name": spec["display_name"], "language": spec["language"], "name": KERNEL_NAME},
            "language_info": dict(IPythonKernel.language_info)}


def notebook_metadata_problems(path: Path) -> list[str]:
    """How the metadata of the notebook at ``path`` differs from ``jupyterlab_metadata()``, one line each.

    The Python version is compared up to the minor version (3.11): its patch level is the machine's.
    """
    stored = json.loads(Path(path).read_text()).get("metadata", {})
    wanted = jupyterlab_metadata()
    problems = []
    for key in wanted:
        expected, got = dict(wanted[key]), dict(stored.get(key) or {})
        if key == "language_info":
            version = ".".join(str(expected.pop("version", "")).split(".")[:2])
            if not str(got.pop("version", "")).startswith(version + "."):
                problems.append(f"metadata.language_info.version is {stored.get(key, {}).get('version')!r}, not Python {version}.x")
        if got != expected:
            problems.append(f"metadata.{key} is {stored.get(key)!r}, not what JupyterLab writes: {wanted[key]!r} "
                            "(the notebook would open marked unsaved)")
    return problems


def _generate(api, scratch: Path, assignment: str) -> Path:
    result = api.generate_assignment(assignment, force=True, create=True)
    if not result["success"]:
        raise CourseError(f"{SOURCE_DIR}/{assignment}: nbgrader could not generate the release: {_last_line(result)}")
    return scratch / "release" / assignment


def _stale_release_folders(course_root: Path) -> list[Path]:
    release_dir = course_root / RELEASE_DIR
    known = set(assignments(course_root))
    return sorted(d for d in release_dir.iterdir() if d.is_dir() and d.name not in known) if release_dir.is_dir() else []


def _same_file(a: Path, b: Path) -> bool:
    if a.suffix == ".ipynb":
        try:
            return json.loads(a.read_text()) == json.loads(b.read_text())
        except json.JSONDecodeError:
            return False
    return a.read_bytes() == b.read_bytes()
