"""environment.yml (conda) lists the same packages, with the same bounds, as pyproject.toml."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


CONDA_NAMES = {"pytorch": "torch"}  # conda-forge's name for a PyPI package


def _normalize(requirement: str) -> tuple[str, str]:
    name, spec = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(?:\[[^]]*\])?\s*(.*)$", requirement).groups()  # pip's [extras]: conda has none
    name = name.lower().replace("_", "-")
    return CONDA_NAMES.get(name, name), spec.replace(" ", "")


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    wanted = dict(map(_normalize, project["dependencies"] + extras["dev"] + extras["lecture"]))
    conda = yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]
    from_pip = [d for entry in conda if isinstance(entry, dict) for d in entry.get("pip", [])]  # not on conda-forge
    listed = dict(_normalize(d) for d in conda + from_pip if isinstance(d, str) and not d.startswith(("python", "pip")))
    assert listed == wanted


def test_environment_yml_pins_the_python_the_course_targets():
    conda = yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]
    assert "python=3.11" in conda
