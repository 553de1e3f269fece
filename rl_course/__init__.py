"""rl-course: credit assignment in reinforcement learning, from TD(λ) to PPO.

Importing the package registers its environments with gymnasium
(``rl_course/RandomWalk-v0``).
"""

import sys
from importlib.metadata import PackageNotFoundError, version

from rl_course import envs  # noqa: F401  (registers the environments)

# nbformat and nbgrader validate with jsonschema, whose format checkers import rfc3987_syntax when it is installed (the
# `format-nongpl` extra that jupyter-events asks for): at import it builds some 35 Earley parsers, 1–2 s of CPU in every
# process that grades, for the "iri" formats that no schema of nbformat, nbgrader or Jupyter uses. None in sys.modules
# makes that import fail as if it were not installed, which jsonschema expects (python-jsonschema/jsonschema#1428).
sys.modules.setdefault("rfc3987_syntax", None)

try:
    __version__ = version("rl-course")  # pyproject.toml's, as installed (the student edition's ends in +student)
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"
