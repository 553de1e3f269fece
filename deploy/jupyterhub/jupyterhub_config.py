"""JupyterHub for the course: ``make hub``.

    instructor   the course folder (RL_COURSE_ROOT, default: this repository) with Formgrader and Create Assignment
    ta           a teaching assistant: with the instructor, opens the course's grading server (/services/rl-course/)
    alice, bob   a home folder each under RL_COURSE_HUB_STATE/home/, with the Assignment List and Validate

Students fetch and submit through nbgrader's exchange on disk (RL_COURSE_HUB_STATE/exchange); the instructor
releases, collects, grades and hands back feedback (README, "A class on JupyterHub").

Run as root, the hub gives every user an OS account of their own (``jupyter-<name>``, created at their first login,
home folder 0700), starts their server and kernels as that account, offers them a terminal, and lays the exchange
out so that no student can list, read, replace or remove another's submission (rl_course/course/shared_server.py).
Run as anyone else it is the try-out: every server and kernel runs as that one OS user, so a kernel can read any
student's files, and students get no terminal (README.md beside this file: who can read what, in each).

Users log in from the LMS (LTI 1.3, rl_course/course/lti.py) when RL_COURSE_LTI_ISSUER, _CLIENT_ID, _AUTHORIZE_URL
and _JWKS_URL are set; else with the fixed passwords written below, for trying the course. Either way the hub
listens on loopback only: others reach it through a TLS proxy on the same machine (README.md beside this file).

Environment: RL_COURSE_ROOT, RL_COURSE_HUB_STATE (default: hub-state/ in the course folder), RL_COURSE_HUB_PORT
(default 8000; the hub's API, the proxy's API and the grading server use the next three ports),
RL_COURSE_HUB_INSTRUCTORS (default "instructor"; with LTI, LMS user ids), RL_COURSE_HUB_GRADERS (default "ta"; with
LTI, unused), RL_COURSE_HUB_STUDENTS (default "alice bob"; with LTI, unused), RL_COURSE_LTI_*.
"""

import ipaddress
import os
import pwd
import sys
from pathlib import Path

from jupyterhub.auth import Authenticator
from jupyterhub.spawner import LocalProcessSpawner, SimpleLocalProcessSpawner, set_user_setuid

from rl_course.course.lti import GRADERS_GROUP, STUDENTS_GROUP, CourseLTI
from rl_course.course.shared_server import account_name, ensure_account, lay_out_exchange

c = get_config()  # noqa: F821  (provided by JupyterHub when it loads this file)

HERE = Path(__file__).resolve().parent
COURSE = Path(os.environ.get("RL_COURSE_ROOT", HERE.parents[1])).resolve()
STATE = Path(os.environ.get("RL_COURSE_HUB_STATE", COURSE / "hub-state")).resolve()
IP = os.environ.get("RL_COURSE_HUB_IP", "127.0.0.1")
PORT = int(os.environ.get("RL_COURSE_HUB_PORT", "8000"))
BIN = Path(sys.executable).parent  # the environment JupyterHub runs in holds jupyterhub-singleuser, nbgrader and rl_course
COURSE_ID = "rl-course"  # nbgrader_config.py beside this file
ACCOUNTS = os.geteuid() == 0  # an OS account per user; else the try-out, where everyone runs as this one

# The login from the LMS (LTI 1.3; rl_course/course/lti.py), given the LMS's issuer, client id, authorization URL
# and JWKS URL; else the fixed passwords below, for trying the course.
LTI = {name: os.environ.get(f"RL_COURSE_LTI_{name.upper()}", "") for name in ("issuer", "client_id", "authorize_url", "jwks_url")}
INSTRUCTORS = os.environ.get("RL_COURSE_HUB_INSTRUCTORS", "instructor").split()  # with LTI: their LMS user ids
GRADERS = os.environ.get("RL_COURSE_HUB_GRADERS", "ta").split()  # teaching assistants; with LTI, the LMS's roles say
STUDENTS = os.environ.get("RL_COURSE_HUB_STUDENTS", "alice bob").split()  # with LTI: whoever the LMS launches
# The test authenticator's passwords: fixed, public, for a hub on loopback only.
PASSWORDS = {name: f"{name}-password" for name in [*INSTRUCTORS, *GRADERS, *STUDENTS]}

if any(LTI.values()) and not all(LTI.values()):
    raise SystemExit("jupyterhub_config.py: the login from an LMS needs all of RL_COURSE_LTI_ISSUER, _CLIENT_ID, "
                     "_AUTHORIZE_URL and _JWKS_URL; missing: " + ", ".join(k for k, v in LTI.items() if not v))
if not ipaddress.ip_address(IP).is_loopback:
    raise SystemExit(f"jupyterhub_config.py: RL_COURSE_HUB_IP={IP} is not loopback. The hub speaks plain HTTP (and, "
                     f"without an LMS, has public passwords): serve it to others through a TLS proxy on this machine.")

PRIVATE, HOMES, EXCHANGE = STATE / "hub", STATE / "home", STATE / "exchange"  # the hub's database; homes; exchange
for folder in (STATE, PRIVATE, HOMES):
    folder.mkdir(parents=True, exist_ok=True)
PRIVATE.chmod(0o700)
if ACCOUNTS:
    if STATE.is_relative_to(COURSE):
        raise SystemExit(f"jupyterhub_config.py: the hub's state {STATE} lies in the course folder, which only the "
                         f"instructor may enter: set RL_COURSE_HUB_STATE to a folder outside it (/srv/rl-course, say)")
    for needed in (STATE, Path(sys.executable).resolve(), HERE):  # homes and exchange; the servers' Python; their config
        closed = next((p for p in needed.parents if not p.stat().st_mode & 0o001), None)
        if closed:
            raise SystemExit(f"jupyterhub_config.py: {needed} lies in {closed}, which other accounts may not pass "
                             f"through: the students' servers need it (chmod o+x {closed}, or install elsewhere)")
    for folder in (STATE, HOMES):
        folder.chmod(0o711)  # every account passes through to its home and the exchange; none lists them
    lay_out_exchange(EXCHANGE, COURSE_ID, ensure_account(INSTRUCTORS[0], HOMES / INSTRUCTORS[0]))
    course = COURSE.stat()
    if course.st_uid != pwd.getpwnam(account_name(INSTRUCTORS[0])).pw_uid or course.st_mode & 0o077:
        raise SystemExit(f"jupyterhub_config.py: the course folder {COURSE} must be the instructor's alone (it holds "
                         f"the solutions, the hidden tests and the gradebook); it is mode {course.st_mode & 0o777:o}, "
                         f"owner uid {course.st_uid}: chown -R {account_name(INSTRUCTORS[0])}: {COURSE} && chmod 700 {COURSE}")
else:
    EXCHANGE.mkdir(exist_ok=True)
    EXCHANGE.chmod(0o777)  # nbgrader's exchange: every student writes into its inbound/


class FixedPasswords(Authenticator):
    """The course's test users, each with the password of ``PASSWORDS``. Never for a hub others can reach."""

    async def authenticate(self, handler, data):
        name = data.get("username", "")
        if name in PASSWORDS and data.get("password") == PASSWORDS[name]:
            return name
        return None


def role_environment(instructor: bool) -> dict:
    """What every server of the course runs with: the Jupyter configuration of the role (instructor/ or student/
    beside this file) first in JUPYTER_CONFIG_PATH, then nbgrader_config.py of this folder (course id, exchange)."""
    role = HERE / ("instructor" if instructor else "student")
    return {
        "JUPYTER_CONFIG_PATH": os.pathsep.join([str(role), str(HERE)]),
        "RL_COURSE_EXCHANGE": str(EXCHANGE),
        "RL_COURSE_HUB_ONE_ACCOUNT": "" if ACCOUNTS else "1",  # nbgrader_config.py: whose submissions to trust
        "RL_COURSE_HUB_STATE": str(STATE),  # marks every process of the hub's servers and kernels
        "PATH": os.pathsep.join([str(BIN), os.environ.get("PATH", "/usr/bin:/bin")]),
    }


def course_environment(spawner, home: Path) -> dict:
    """A user's server: the instructor's in the course folder, anyone else's in ``home``."""
    instructor = spawner.user.name in INSTRUCTORS
    spawner.notebook_dir = str(COURSE if instructor else home)
    return {**spawner.environment, **role_environment(instructor)}


class ClassSpawner(LocalProcessSpawner):
    """Each user's server and kernels run as their own OS account (``account_name``), made at their first start
    with a home of their own, 0700, under STATE/home/."""

    def start(self):
        home = ensure_account(self.user.name, HOMES / self.user.name).pw_dir
        self.environment = course_environment(self, Path(home))
        return super().start()

    def make_preexec_fn(self, name):
        return set_user_setuid(account_name(name))

    def user_env(self, env):
        account = pwd.getpwnam(account_name(self.user.name))
        return {**env, "USER": account.pw_name, "HOME": account.pw_dir, "SHELL": account.pw_shell}


class TryOutSpawner(SimpleLocalProcessSpawner):
    """Each user's server runs as this OS user in a folder of its own, STATE/home/<name> (the instructor's: the
    course); students get no terminal, which would only show how little keeps them apart."""

    def start(self):
        self.home_dir = str(COURSE if self.user.name in INSTRUCTORS else HOMES / self.user.name)
        self.environment = course_environment(self, Path(self.home_dir))
        return super().start()

    def get_args(self):
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
c.ConfigurableHTTPProxy.pid_file = str(PRIVATE / "jupyterhub-proxy.pid")
c.JupyterHub.db_url = f"sqlite:///{PRIVATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(PRIVATE / "jupyterhub_cookie_secret")
c.JupyterHub.cleanup_servers = True  # stopping the hub stops every single-user server

# The course's grading server, as nbgrader's JupyterHub guide runs a course's shared one: a JupyterHub service at
# /services/rl-course/, JupyterLab with Formgrader in the course folder, as the instructor's account. Whoever is in
# nbgrader's group of graders (the instructors, the teaching assistants) opens it; nobody else can.
GRADING_PORT = PORT + 3
c.JupyterHub.services = [{
    "name": COURSE_ID,
    "display": True,  # in the hub's Services menu
    "url": f"http://127.0.0.1:{GRADING_PORT}",
    "command": [str(BIN / "jupyterhub-singleuser"), f"--port={GRADING_PORT}", f"--ServerApp.root_dir={COURSE}"],
    "cwd": str(COURSE),
    "environment": {**role_environment(instructor=True), "JUPYTERHUB_DEFAULT_URL": "/lab",
                    "HOME": str(HOMES / INSTRUCTORS[0] if ACCOUNTS else COURSE)},
    "oauth_no_confirm": True,
    **({"user": account_name(INSTRUCTORS[0])} if ACCOUNTS else {}),
}]
c.JupyterHub.load_roles = [{"name": GRADERS_GROUP, "groups": [GRADERS_GROUP],
                            "scopes": [f"access:services!service={COURSE_ID}"]}]

c.Authenticator.admin_users = set(INSTRUCTORS)
if LTI["issuer"]:
    c.JupyterHub.authenticator_class = CourseLTI
    c.LTI13Authenticator.issuer = LTI["issuer"]
    c.LTI13Authenticator.client_id = {LTI["client_id"]}
    c.LTI13Authenticator.authorize_url = LTI["authorize_url"]
    c.LTI13Authenticator.jwks_endpoint = LTI["jwks_url"]
    c.LTI13Authenticator.username_key = "sub"  # the LMS's user id
    c.Authenticator.allow_all = True  # whoever the LMS launches into the course: the LMS knows who takes it
    c.Authenticator.manage_groups = True  # nbgrader's groups, from CourseLTI.authenticate
else:
    c.JupyterHub.authenticator_class = FixedPasswords
    c.Authenticator.allowed_users = set(PASSWORDS)
    c.JupyterHub.load_groups = {GRADERS_GROUP: {"users": [*INSTRUCTORS, *GRADERS]}, STUDENTS_GROUP: {"users": STUDENTS}}

c.JupyterHub.spawner_class = ClassSpawner if ACCOUNTS else TryOutSpawner
c.Spawner.cmd = [str(BIN / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 120
