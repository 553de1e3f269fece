"""JupyterHub for the course, on loopback, to try the class end to end: ``make hub``.

    instructor   the course folder (RL_COURSE_ROOT, default: this repository) with Formgrader and Create Assignment
    alice, bob   a home folder each under RL_COURSE_HUB_STATE/home/, with the Assignment List and Validate

Students fetch and submit through nbgrader's exchange on disk (RL_COURSE_HUB_STATE/exchange); the instructor
releases, collects, grades and hands back feedback (README, "A class on JupyterHub").

NOT FOR PRODUCTION. Every password is fixed and written below, and every single-user server and kernel runs as
the OS user that started the hub: a student's browser session reaches only their own server and folder, and students
get no terminal, but code in a kernel can read any file that OS user can, another student's included (README.md
beside this file: what a class needs instead). A real deployment replaces the authenticator (OAuth, LDAP, …), the
spawner (a system user or a container per student), serves TLS, and is best built with The Littlest JupyterHub or
Zero to JupyterHub (README). The hub refuses to listen anywhere but on loopback.

Environment: RL_COURSE_ROOT, RL_COURSE_HUB_STATE (default: hub-state/ in the course folder), RL_COURSE_HUB_PORT
(default 8000; the hub's API and the proxy's API use the next two ports), RL_COURSE_HUB_STUDENTS (default "alice bob").
"""

import ipaddress
import os
import sys
from pathlib import Path

from jupyterhub.auth import Authenticator
from jupyterhub.spawner import SimpleLocalProcessSpawner

c = get_config()  # noqa: F821  (provided by JupyterHub when it loads this file)

HERE = Path(__file__).resolve().parent
COURSE = Path(os.environ.get("RL_COURSE_ROOT", HERE.parents[1])).resolve()
STATE = Path(os.environ.get("RL_COURSE_HUB_STATE", COURSE / "hub-state")).resolve()
IP = os.environ.get("RL_COURSE_HUB_IP", "127.0.0.1")
PORT = int(os.environ.get("RL_COURSE_HUB_PORT", "8000"))
BIN = Path(sys.executable).parent  # the environment JupyterHub runs in holds jupyterhub-singleuser, nbgrader and rl_course

INSTRUCTORS = ["instructor"]
STUDENTS = os.environ.get("RL_COURSE_HUB_STUDENTS", "alice bob").split()
# The test authenticator's passwords: fixed, public, for a hub on loopback only.
PASSWORDS = {"instructor": "instructor-password", **{name: f"{name}-password" for name in STUDENTS}}

if not ipaddress.ip_address(IP).is_loopback:
    raise SystemExit(f"jupyterhub_config.py: RL_COURSE_HUB_IP={IP} is not loopback. This hub's passwords are public "
                     f"and every user runs as one OS user: it is for trying the course on one machine only.")

EXCHANGE = STATE / "exchange"
for folder in (STATE, STATE / "home", EXCHANGE):
    folder.mkdir(parents=True, exist_ok=True)
EXCHANGE.chmod(0o777)  # nbgrader's exchange: every student writes into its inbound/


class FixedPasswords(Authenticator):
    """The course's test users, each with the password of ``PASSWORDS``. Never for a hub others can reach."""

    async def authenticate(self, handler, data):
        name = data.get("username", "")
        if name in PASSWORDS and data.get("password") == PASSWORDS[name]:
            return name
        return None


class CourseSpawner(SimpleLocalProcessSpawner):
    """Each user's server runs as this OS user in a folder of its own: the instructor's is the course, a student's
    STATE/home/<name>. The Jupyter configuration of the user's role (student/ or instructor/ beside this file) comes
    first in JUPYTER_CONFIG_PATH, then nbgrader_config.py of this folder (course id, exchange)."""

    def start(self):
        instructor = self.user.name in INSTRUCTORS
        self.home_dir = str(COURSE if instructor else STATE / "home" / self.user.name)
        role = HERE / ("instructor" if instructor else "student")
        self.environment = {
            **self.environment,
            "JUPYTER_CONFIG_PATH": os.pathsep.join([str(role), str(HERE)]),
            "RL_COURSE_EXCHANGE": str(EXCHANGE),
            "RL_COURSE_HUB_STATE": str(STATE),  # marks every process of the hub's servers and kernels
            "PATH": os.pathsep.join([str(BIN), os.environ.get("PATH", "/usr/bin:/bin")]),
        }
        self.notebook_dir = self.home_dir
        return super().start()

    def get_args(self):
        """A student's server offers no terminal: every server here runs as one OS user (README: who can read what)."""
        args = super().get_args()
        return args if self.user.name in INSTRUCTORS else [*args, "--ServerApp.terminals_enabled=False"]


c.JupyterHub.bind_url = f"http://{IP}:{PORT}"
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{PORT + 1}"
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{PORT + 2}"
# The proxy: the Python configurable-http-proxy of the `hub` extra (npm's works the same if it is on PATH instead).
# The Python one buffers each response and gives up on it after tornado's default 20 s, which cuts the spawn page's
# progress stream of a server slower to start (a 503, and the page never moves on): allow it as long as a start.
PROXY_TIMEOUT_MS = 300_000
c.ConfigurableHTTPProxy.command = [str(BIN / "configurable-http-proxy"), "--proxy-timeout", str(PROXY_TIMEOUT_MS)] \
    if (BIN / "configurable-http-proxy").exists() else ["configurable-http-proxy"]
c.ConfigurableHTTPProxy.pid_file = str(STATE / "jupyterhub-proxy.pid")
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.JupyterHub.cleanup_servers = True  # stopping the hub stops every single-user server

c.JupyterHub.authenticator_class = FixedPasswords
c.Authenticator.allowed_users = set(PASSWORDS)
c.Authenticator.admin_users = set(INSTRUCTORS)
# nbgrader's names for a course's groups: formgrade-<course> (who grades) and nbgrader-<course> (who takes it).
c.JupyterHub.load_groups = {"formgrade-rl-course": {"users": INSTRUCTORS}, "nbgrader-rl-course": {"users": STUDENTS}}

c.JupyterHub.spawner_class = CourseSpawner
c.Spawner.cmd = [str(BIN / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
if os.geteuid() == 0:  # a container or CI machine run as root: Jupyter refuses to start as root unless told
    c.Spawner.args = ["--allow-root"]
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
