"""The instructor's machinery on top of nbgrader: the course's layout, the release, autograding (one
submission, the local worker pool, a Dask cluster), the gradebook, reports, the student edition, the
grading sandbox and the tampering check, and what the course takes from an LMS.

One concept per module; the ``rl-course`` command (``rl_course.cli``) is built on them.
"""
