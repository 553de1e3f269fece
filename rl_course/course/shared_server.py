"""A class on one shared server: an OS account per hub user, and nbgrader's exchange with rights to match.

On the course's hub run as root (``deploy/jupyterhub/``), each hub user's server and kernels run as an account of
their own, ``jupyter-<name>`` (The Littlest JupyterHub's names), whose home folder only that account can open. The
exchange is laid out for such a server, as nbgrader's documentation asks, with three rights more::

    <exchange>/                      1777 root          anyone may create a course folder, nobody may remove another's
    <exchange>/rl-course/            0755 instructor
        outbound/                    0755 instructor    released assignments: everyone reads them
        inbound/                     3733 instructor    submissions: everyone writes, nobody lists (setgid: the
                                                        instructor's group; sticky: only its owner removes an entry)
            alice+01_td_lambda+…/    0750 alice         readable by the instructor's group, not by bob (``Submit``)
        feedback/                    0711 instructor    each page named after its submission's secret

nbgrader names a submission after whoever wrote it (``alice+…``) and takes that name on trust; ``Collect`` takes a
submission only from the account of the student it names, so bob cannot hand in a notebook as alice.
"""

from __future__ import annotations

import grp
import hashlib
import os
import pwd
import re
import subprocess
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.exchange.default import ExchangeCollect, ExchangeSubmit
from nbgrader.utils import parse_utc
from traitlets import Bool

PREFIX = "jupyter-"
NAME_MAX = 32  # the longest account name useradd accepts
SUBMISSION_DIR, SUBMISSION_FILE = 0o750, 0o640
COURSE_FOLDERS = {"": 0o755, "outbound": 0o755, "inbound": 0o3733, "feedback": 0o711}


def account_name(hub_user: str) -> str:
    """The OS account of a hub user: ``jupyter-<name>``; a name that is not a plain lower-case account name
    (an LMS's user id, say) or too long keeps a readable part and gains 7 hex digits of its SHA-256."""
    plain = re.sub(r"[^a-z0-9_-]", "-", hub_user.lower())
    name = PREFIX + plain
    if plain == hub_user and len(name) <= NAME_MAX:
        return name
    digest = hashlib.sha256(hub_user.encode()).hexdigest()[:7]
    return f"{PREFIX}{plain[:NAME_MAX - len(PREFIX) - 8]}-{digest}"


def ensure_account(hub_user: str, home: Path) -> pwd.struct_passwd:
    """The account of ``hub_user``, created if missing (``useradd``, a group of its own, bash), with ``home`` made
    and given to it, mode 0700. Needs root."""
    name = account_name(hub_user)
    try:
        account = pwd.getpwnam(name)
    except KeyError:
        comment = re.sub(r"[:\x00-\x1f]", "_", hub_user)  # the hub user, as the passwd file can hold it
        subprocess.run(["useradd", "--no-create-home", "--home-dir", str(home), "--shell", "/bin/bash",
                        "--user-group", "--comment", comment, name], check=True, capture_output=True, text=True)
        account = pwd.getpwnam(name)
    if account.pw_dir != str(home):  # the hub's state moved
        subprocess.run(["usermod", "--home", str(home), name], check=True, capture_output=True, text=True)
        account = pwd.getpwnam(name)
    home.mkdir(parents=True, exist_ok=True)
    os.chown(home, account.pw_uid, account.pw_gid)
    home.chmod(0o700)
    return account


def remove_account(name: str) -> None:
    """Delete the OS account ``name`` and its group, if there is one (its files stay). Needs root."""
    try:
        pwd.getpwnam(name)
    except KeyError:
        return
    subprocess.run(["userdel", name], check=True, capture_output=True, text=True)
    try:
        grp.getgrnam(name)
        subprocess.run(["groupdel", name], check=True, capture_output=True, text=True)
    except KeyError:
        pass


def lay_out_exchange(root: Path, course_id: str, instructor: pwd.struct_passwd) -> None:
    """Create the exchange of the module's table, owned by ``instructor``, before anyone else can: a course folder
    made first by a student would be the student's. Folders that exist keep their contents; their owner and
    mode are set again. Needs root."""
    root.mkdir(parents=True, exist_ok=True)
    os.chown(root, 0, 0)
    root.chmod(0o1777)
    for sub, mode in COURSE_FOLDERS.items():
        folder = root / course_id / sub
        folder.mkdir(exist_ok=True)
        os.chown(folder, instructor.pw_uid, instructor.pw_gid)
        folder.chmod(mode)


class Submit(ExchangeSubmit):
    """nbgrader's submit, then the submission's folders 0750 and files 0640: the instructor's group (inherited from
    ``inbound/``) reads them, no other student does. nbgrader leaves them world-readable and the folder writable by
    all, hidden only by a random name."""

    def do_copy(self, src, dest, log=None):
        """nbgrader's copy, whose last step gives ``dest`` the source folder's mode and so drops the set-group-ID
        bit it took from inbound/ (only a member of the instructor's group may set it): the files nbgrader writes
        next (timestamp, secret) would get the student's group. The copied files move into a folder made afresh
        in inbound/, which keeps the bit until nbgrader's own chmod, after those writes."""
        super().do_copy(src, dest, log)
        if Path(dest).parent != Path(self.inbound_path):
            return
        fresh = Path(f"{dest}.fresh")
        fresh.mkdir()
        for item in Path(dest).iterdir():
            item.rename(fresh / item.name)
        Path(dest).rmdir()
        fresh.rename(dest)

    def copy_files(self):
        super().copy_files()
        dest = Path(self.inbound_path) / self.assignment_filename
        for folder, _, files in os.walk(dest):
            for name in files:
                os.chmod(Path(folder) / name, SUBMISSION_FILE)
            os.chmod(folder, SUBMISSION_DIR)


class Collect(ExchangeCollect):
    """nbgrader's collect, taking each student's latest submission among those their own account made: one that
    names a student but belongs to another account is left in the exchange, with a warning naming both."""

    owner_is_student = Bool(True, help="Take a submission only from the account of the student it names "
                                       "(account_name); False: nbgrader's own collect, which warns.").tag(config=True)

    def init_src(self):
        if not self.owner_is_student:
            return super().init_src()
        if not self.coursedir.course_id:
            self.fail("No course id specified. Re-run with --course flag.")
        self.inbound_path = os.path.join(self.root, self.coursedir.course_id, "inbound")
        if not os.path.isdir(self.inbound_path):
            self.fail(f"Course not found: {self.inbound_path}")
        with Gradebook(self.coursedir.db_url, self.coursedir.course_id) as gb:
            try:
                self.duedate = gb.find_assignment(self.coursedir.assignment_id).duedate
            except MissingEntry:
                self.duedate = None
        latest: dict[str, dict] = {}
        for path in sorted(Path(self.inbound_path).glob(f"{self.coursedir.student_id or '*'}+{self.coursedir.assignment_id}+*")):
            record = self._record(path)
            if record and self._prefer(record, latest.get(record["username"])):
                latest[record["username"]] = record
        self.src_records = list(latest.values())

    def _record(self, path: Path) -> dict | None:
        """What nbgrader's collect reads of a submission folder (student, folder name, time), or None, with a warning,
        for a link, a file, one its student's account did not make, or one whose name holds no time."""
        name, _, timestamp = path.name.rsplit("+", 3)[:3]
        if path.is_symlink() or not path.is_dir():
            self.log.warning("%s is not a folder nbgrader's submit made: left out", path)
            return None
        owner = _owner(path)
        if owner != account_name(name):
            self.log.warning("%s names %s but belongs to the account %s, not %s: left out", path, name, owner,
                             account_name(name))
            return None
        try:
            return {"username": name, "filename": path.name, "timestamp": parse_utc(timestamp)}
        except (ValueError, OverflowError):
            self.log.warning("%s holds no submission time after its student's name: left out", path)
            return None

    def _prefer(self, record: dict, chosen: dict | None) -> bool:
        """Whether ``record`` replaces ``chosen``: the later one, or with ``before_duedate`` the latest on time."""
        if chosen is None:
            return True
        if self.before_duedate and self.duedate is not None:
            on_time, chosen_on_time = record["timestamp"] <= self.duedate, chosen["timestamp"] <= self.duedate
            if on_time != chosen_on_time:
                return on_time
        return record["timestamp"] > chosen["timestamp"]


def _owner(path: Path) -> str:
    uid = path.lstat().st_uid
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"
