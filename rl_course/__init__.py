"""rl-course: credit assignment in reinforcement learning, from TD(λ) to PPO.

Importing the package registers its environments with gymnasium
(``rl_course/RandomWalk-v0``).
"""

from rl_course import envs  # noqa: F401  (registers the environments)

__version__ = "0.1.0"
