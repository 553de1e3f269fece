"""The lowest declared versions of the packages the course is built on, and the round trip that proves them.

    python .ci/floor.py pins        print numpy==…, torch==…, gymnasium==…, nbgrader==… from pyproject.toml's ">=" floors
    python .ci/floor.py check       fail unless those exact versions are the ones installed
    python .ci/floor.py round-trip  grade every assignment's solution (full marks) and its untouched release (zero)
"""

import json
import subprocess
import sys
import tempfile
import tomllib
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PINNED = ("numpy", "torch", "gymnasium", "nbgrader")


def floors() -> dict[str, str]:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    found = {}
    for requirement in dependencies:
        name, _, rest = requirement.partition(">=")
        if name.strip() in PINNED:
            found[name.strip()] = rest.split(",")[0].split(";")[0].strip()
    missing = set(PINNED) - set(found)
    if missing:
        sys.exit(f"pyproject.toml declares no >= floor for {', '.join(sorted(missing))}")
    return found


def check() -> None:
    wrong = [f"{name} {version(name)} (declared floor {floor})" for name, floor in floors().items()
             if version(name).split("+")[0] != floor and not version(name).startswith(floor + ".")]
    if wrong:
        sys.exit("not the declared floors: " + "; ".join(wrong))
    print("installed at the floor: " + ", ".join(f"{name} {version(name)}" for name in floors()))


def round_trip() -> None:
    import nbformat

    with tempfile.TemporaryDirectory() as tmp:
        submitted = Path(tmp) / "submitted"
        assignments = sorted(p.parent.name for p in (ROOT / "solutions").glob("*/*.ipynb"))
        for assignment in assignments:
            source = next((ROOT / "solutions" / assignment).glob("*.ipynb"))
            for student, folder in (("solution", "solutions"), ("untouched", "notebooks")):
                target = submitted / student / assignment / source.name
                target.parent.mkdir(parents=True)
                nbformat.write(nbformat.read(ROOT / folder / assignment / source.name, as_version=4), target)
        result = subprocess.run([sys.executable, "-m", "rl_course.cli", "grade", str(submitted), "--json", "--jobs", "2",
                                 "--csv", f"{tmp}/grades.csv", "--db", f"sqlite:///{tmp}/gradebook.db", "--course", str(ROOT)],
                                capture_output=True, text=True)
        if result.returncode != 0:
            sys.exit(f"rl-course grade failed ({result.returncode}):\n{result.stderr[-3000:]}")
        scores = json.loads(result.stdout)
        wrong = []
        for assignment in assignments:
            solution, untouched = scores["solution"][assignment], scores["untouched"][assignment]
            if solution["score"] != solution["max_score"]:
                wrong.append(f"{assignment}: the solution earns {solution['score']:g} / {solution['max_score']:g}")
            if untouched["score"] != 0:
                wrong.append(f"{assignment}: the untouched release earns {untouched['score']:g}")
        if wrong:
            feedback = Path(tmp, "grades.csv").read_text()
            sys.exit("round trip at the floor failed:\n  " + "\n  ".join(wrong) + "\n" + feedback[-4000:])
        print("round trip: " + ", ".join(f"{a} {scores['solution'][a]['score']:g}/{scores['solution'][a]['max_score']:g}"
                                         for a in assignments) + "; every untouched release 0")


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "pins":
        print(" ".join(f"{name}=={floor}" for name, floor in floors().items()))
    elif command == "check":
        check()
    elif command == "round-trip":
        round_trip()
    else:
        sys.exit(__doc__)
