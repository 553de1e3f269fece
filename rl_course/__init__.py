"""rl-course: credit assignment in reinforcement learning, from TD(λ) to PPO.

Importing the package registers its environments with gymnasium
(``rl_course/RandomWalk-v0``).
"""

from importlib.metadata import PackageNotFoundError, version

from rl_course import envs  # noqa: F401  (registers the environments)

try:
    __version__ = version("rl-course")  # pyproject.toml's, as installed (the student edition's ends in +student)
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"
