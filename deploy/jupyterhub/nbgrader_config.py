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

# A class's exchange (rl_course/course/shared_server.py): a submission readable by its student and the instructor's
# group only, and collected only from its student's own account. On the try-out every server runs as one account,
# which owns every submission: there the owner proves nothing.
c.ExchangeFactory.submit = "rl_course.course.shared_server.Submit"
c.ExchangeFactory.collect = "rl_course.course.shared_server.Collect"
c.Collect.owner_is_student = not os.environ.get("RL_COURSE_HUB_ONE_ACCOUNT")
# nbgrader's own check compares the owner's name with the student's, which differ by the account's prefix
c.CollectApp.check_owner = False
