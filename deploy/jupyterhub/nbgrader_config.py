"""nbgrader on the course's hub, for every user: which course, and where its exchange is.

The single-user servers find this file through JUPYTER_CONFIG_PATH (jupyterhub_config.py sets it); the instructor's
server runs in the course folder, whose own nbgrader_config.py (solutions/ → notebooks/) is read after this one.
"""

import os

c = get_config()  # noqa: F821  (provided by nbgrader when it loads this file)

c.CourseDirectory.course_id = "rl-course"
# nbgrader's exchange: outbound/ (released), inbound/ (submitted), feedback/, under <root>/rl-course/.
c.Exchange.root = os.environ.get("RL_COURSE_EXCHANGE", "/srv/nbgrader/exchange")

# Validate in a student's server runs the notebook as grading does: give each cell as long as the course does
# (the course's nbgrader_config.py, which a student's server does not read; nbgrader's own default is 30 s).
c.ExecutePreprocessor.timeout = 300
