"""nbgrader for a student's server on the course's hub: who they are in the exchange.

nbgrader names a submission (and looks for its feedback) after the OS user, or after JUPYTERHUB_USER only when the
OS user is ``jovyan``. Where every server runs as one OS user (``make hub``), or as any other shared user, the
hub's user name must be given, else every student submits as that one user.
"""

import os

c = get_config()  # noqa: F821  (provided by nbgrader when it loads this file)

if os.environ.get("JUPYTERHUB_USER"):
    c.CourseDirectory.student_id = os.environ["JUPYTERHUB_USER"]
