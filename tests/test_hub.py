"""A class on the course's JupyterHub, end to end, in a real browser.

The hub of deploy/jupyterhub/ runs on loopback (the real jupyterhub, the Python configurable-http-proxy, nbgrader's
exchange on disk, a throwaway copy of the course); the system's Chromium (/usr/bin/chromium, driven by Playwright; no
browser is downloaded) is the students' browser. The instructor releases 01 (`rl-course release --exchange`); alice
and bob log in through the login page, fetch it from the Assignment List and open it in JupyterLab; alice types the
solutions into the graded cells, runs the notebook, is told by Validate that it passes and submits; bob submits the
untouched release after Validate lists its failures. The instructor collects (`nbgrader collect`), grades
(`rl-course grade`, sandboxed) and hands back feedback (`rl-course feedback --exchange`); both students fetch their
feedback and open it. Screenshots of every step go to $RL_COURSE_SCREENSHOTS if set, else to the test's temporary
folder. Run as root (CI), the hub gives each user an OS account, and alice's kernel and terminal are then shown
refused what is not hers (deploy/jupyterhub/README.md); run as anyone else it is the try-out, and that test skips.
Everything started is stopped when the module ends, failed or not: the hub's process group, every process (proxy,
single-user servers, kernels) that carries the hub's state folder in its environment, and the accounts it made.
"""

import contextlib
import datetime
import html
import json
import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
from helpers import free_ports
from hub_clients import Server, attempts
from lti_platform import TEACHING_ASSISTANT, Platform, new_user_id

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips
    expect = None

from rl_course.course.shared_server import account_name, ensure_account, remove_account

ROOT = Path(__file__).resolve().parents[1]
HUB_CONFIG = ROOT / "deploy" / "jupyterhub" / "jupyterhub_config.py"
BIN = Path(sys.executable).parent
ASSIGNMENT, NOTEBOOK = "01_td_lambda", "td_lambda.ipynb"
STUDENTS = ("alice", "bob")  # in the browser; carol and dave in a terminal
LOCKED_TEST, LOCKED_TEST_ID = 6, "test_td_error_step"  # a locked test cell of 01 (1 point), by index and nbgrader id
HANG_GUARD_MS = 240_000  # generous: a server start, or a notebook run, on two busy cores
ACCOUNTS = os.geteuid() == 0  # run as root, the hub gives each user an OS account; else it is the try-out

pytestmark = pytest.mark.hub


# ---------------------------------------------------------------- the hub




def _processes_of(state: Path) -> list[int]:
    """Every process whose environment holds RL_COURSE_HUB_STATE=state: the hub, its proxy, servers and kernels."""
    marker = f"RL_COURSE_HUB_STATE={state}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def _stop(hub: subprocess.Popen, state: Path) -> list[int]:
    """Stop the hub (it stops its servers and proxy), then kill whatever of its is left; returns what had to be killed."""
    if hub.poll() is None:
        os.killpg(hub.pid, signal.SIGTERM)
        try:
            hub.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(hub.pid, signal.SIGKILL)
            hub.wait(10)
    left = _processes_of(state)
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return left


class Hub:
    def __init__(self, url: str, course: Path, state: Path, env: dict, log: Path, instructor_name: str):
        self.url, self.course, self.state, self.env, self.log = url, course, state, env, log
        self.instructor_name = instructor_name

    def home(self, user: str) -> Path:
        return self.state / "home" / user

    def account(self, user: str):
        """``user``'s OS account (made as the hub makes it at a first login), or None on the try-out."""
        if not ACCOUNTS:
            return None
        return ensure_account(user, self.home(user))

    def env_of(self, user: str) -> dict:
        """The environment of ``user``'s terminal on the hub (their role's Jupyter configuration, their home)."""
        role = "instructor" if user == self.instructor_name else "student"
        return {**self.env, "JUPYTERHUB_USER": user, "HOME": str(self.home(user)), "USER": account_name(user),
                "JUPYTER_CONFIG_PATH": os.pathsep.join([str(HUB_CONFIG.parent / role), str(HUB_CONFIG.parent)])}

    def instructor(self, *command: str) -> subprocess.CompletedProcess:
        """Run a command of the instructor's in the course folder, as in a terminal of their hub server."""
        return self.run(self.instructor_name, self.course, *command)

    def run(self, user: str, cwd: Path, *command) -> subprocess.CompletedProcess:
        """Run ``command`` in ``cwd`` as ``user`` would in a terminal of their server: as their account, if any."""
        account = self.account(user)
        as_user = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []} if account else {}
        result = subprocess.run([str(c) for c in command], cwd=cwd, env=self.env_of(user), capture_output=True,
                                text=True, timeout=600, **as_user)
        assert result.returncode == 0, f"{' '.join(map(str, command))} failed:\n{result.stdout}\n{result.stderr}"
        return result

    def hand_over(self, path: Path, user: str) -> None:
        """Make ``path`` (a folder and what it holds) ``user``'s, as if they had written it."""
        account = self.account(user)
        for item in [path, *path.rglob("*")] if account else []:
            os.chown(item, account.pw_uid, account.pw_gid)


@contextlib.contextmanager
def _passable(*paths: Path):
    """Every folder above ``paths`` made passable by other users (o+x) while the hub runs, as a class's server
    installs Python where its students' accounts reach it; each folder's mode is restored afterwards."""
    changed = {}
    for path in paths:
        for folder in Path(path).resolve().parents:
            mode = folder.stat().st_mode
            if not mode & stat.S_IXOTH and folder not in changed:
                changed[folder] = mode
                folder.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)
    try:
        yield
    finally:
        for folder, mode in changed.items():
            folder.chmod(stat.S_IMODE(mode))


@pytest.fixture(scope="module")
def hub():
    with _running_hub() as running:
        yield running


@pytest.fixture(scope="module")
def lms():
    """A second hub, whose users log in from a learning platform of the tests' own (LTI 1.3), and that platform;
    its instructor is an LMS user id, as on a class's hub."""
    port = free_ports(4)
    platform = Platform(f"http://127.0.0.1:{port}").start()
    try:
        with _running_hub(port, instructor=new_user_id(), **platform.settings) as running:
            yield running, platform
    finally:
        platform.stop()


@contextlib.contextmanager
def _running_hub(port: int | None = None, instructor: str = "instructor", **settings):
    """The course's hub on ``port`` (free ports if None), on a copy of the course, with ``settings`` added to its
    environment; stopped, its files and the accounts it made removed, when the block ends."""
    if not shutil.which("configurable-http-proxy", path=str(BIN)) or not (BIN / "jupyterhub").exists():
        if os.environ.get("RL_COURSE_REQUIRE_BROWSER"):
            pytest.fail("RL_COURSE_REQUIRE_BROWSER is set but the hub is not installed (pip install -e '.[hub]')")
        pytest.skip("the hub is not installed (pip install -e '.[hub]')")
    # outside pytest's temporary folders, which only their owner may enter: every account passes through this one
    tmp = Path(tempfile.mkdtemp(prefix="rl-course-hub-"))
    tmp.chmod(0o711)
    course, state = tmp / "course", tmp / "state"
    course.mkdir()
    shutil.copy(ROOT / "nbgrader_config.py", course)
    shutil.copytree(ROOT / "solutions", course / "solutions")
    shutil.copytree(ROOT / "notebooks", course / "notebooks")
    port = port or free_ports(4)
    env = {**os.environ, "RL_COURSE_ROOT": str(course), "RL_COURSE_HUB_STATE": str(state), "RL_COURSE_HUB_PORT": str(port),
           "RL_COURSE_HUB_STUDENTS": " ".join(STUDENTS), "PATH": os.pathsep.join([str(BIN), os.environ.get("PATH", "")]),
           "RL_COURSE_EXCHANGE": str(state / "exchange"), "RL_COURSE_HUB_ONE_ACCOUNT": "" if ACCOUNTS else "1",
           "RL_COURSE_HUB_INSTRUCTORS": instructor, **settings}
    state.mkdir()
    log = state / "jupyterhub.log"
    url = f"http://127.0.0.1:{port}"
    hub = Hub(url, course, state, env, log, instructor)
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, tmp, ignore_errors=True)
        if ACCOUNTS:
            stack.callback(_remove_accounts_under, state / "home")
            stack.enter_context(_passable(Path(sys.executable).resolve(), Path(sys.prefix), ROOT))
            hub.hand_over(course, instructor)  # the course folder is the instructor's alone, as a class's admin sets it
            course.chmod(0o700)
        with open(log, "w") as out:
            process = subprocess.Popen([str(BIN / "jupyterhub"), "-f", str(HUB_CONFIG)], cwd=state, env=env,
                                       stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        stack.callback(lambda: print(f"hub stopped; processes killed after it: {_stop(process, state)}\n"
                                     f"the hub's log ends:\n{log.read_text()[-30000:]}"))
        deadline = time.monotonic() + HANG_GUARD_MS / 1000
        while True:
            try:
                with urllib.request.urlopen(f"{url}/hub/api", timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert process.poll() is None, f"the hub exited with {process.returncode}:\n{_start_log(log)}"
            assert time.monotonic() < deadline, f"the hub did not answer in time:\n{_start_log(log)}"
            time.sleep(0.5)
        yield hub


def _start_log(log: Path) -> str:
    """The end of the hub's log without the lines of the tests' own polling (404s of /hub/api until the hub's route is
    up, and the cookie each sets), which would crowd out why the hub or its grading server stopped."""
    polling = ("/hub/api", "/hub/error/404", "Setting new xsrf cookie", "Failed to get custom error page")
    return "\n".join(line for line in log.read_text().splitlines() if not any(p in line for p in polling))[-6000:]


def _remove_accounts_under(homes: Path) -> None:
    """Delete every OS account whose home lies in ``homes``: those a hub made."""
    for account in pwd.getpwall():
        if Path(account.pw_dir).is_relative_to(homes):
            remove_account(account.pw_name)


@pytest.fixture(scope="module")
def browser():
    chromium = os.environ.get("RL_COURSE_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        if os.environ.get("RL_COURSE_REQUIRE_BROWSER"):
            pytest.fail("RL_COURSE_REQUIRE_BROWSER is set but no chromium is installed (apt-get install chromium)")
        pytest.skip("no chromium on this machine (apt-get install chromium)")
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        expect.set_options(timeout=HANG_GUARD_MS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("RL_COURSE_SCREENSHOTS") or tmp_path_factory.mktemp("hub-screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


# ---------------------------------------------------------------- what a student does in JupyterLab


class Student:
    """One person's browser session on the hub."""

    def __init__(self, browser, hub: Hub, name: str, screenshots: Path):
        self.hub, self.name, self.screenshots = hub, name, screenshots
        self.context = browser.new_context(viewport={"width": 1400, "height": 900})
        self.context.set_default_timeout(HANG_GUARD_MS)
        self.page = self.context.new_page()
        self.taken: list[str] = []

    def shot(self, step: str) -> None:
        name = f"{len(list(self.screenshots.glob('*.png'))):02d}_{self.name}_{step}.png"
        self.page.screenshot(path=str(self.screenshots / name))
        self.taken.append(name)

    def log_in(self, password: str | None = None, then: str = "") -> None:
        """Fill in the hub's login page and press Sign in; the hub starts the server meanwhile (see ``in_lab``), or
        with ``then`` (a path on the hub) goes there instead."""
        page = self.page
        page.goto(f"{self.hub.url}/hub/login" + (f"?next={then}" if then else ""))
        page.get_by_label("Username").fill(self.name)
        page.get_by_label("Password").fill(password or f"{self.name}-password")
        self.shot("login")
        page.get_by_role("button", name="Sign in").click()

    def in_lab(self) -> None:
        """Wait until the server has started and JupyterLab shows its file browser."""
        page = self.page
        page.wait_for_url(f"**/user/{self.name}/lab**")
        expect(page.locator(".jp-DirListing-content")).to_be_visible()

    def open_nbgrader_menu(self):
        """Open the menu bar's Nbgrader menu; the open menu."""
        self.page.locator(".lm-MenuBar").get_by_role("menuitem", name="Nbgrader", exact=True).click()
        menu = self.page.locator(".lm-Menu", has=self.page.get_by_role("menuitem", name="Assignment List"))
        expect(menu).to_be_visible()
        return menu

    def assignment_list(self, menu=None) -> None:
        """Open the Assignment List from the Nbgrader menu (``menu``, if it is already open)."""
        menu = menu or self.open_nbgrader_menu()
        menu.get_by_role("menuitem", name="Assignment List").click()
        expect(menu).to_be_hidden()
        expect(self.page.locator("#released_assignments_list")).to_be_visible()

    def fetch(self) -> None:
        self.page.locator("#released_assignments_list .list_item", has_text=ASSIGNMENT).get_by_role("button", name="Fetch").click()
        self.page.locator("#fetched_assignments_list .list_item", has_text=ASSIGNMENT).get_by_role("button", name="Submit").wait_for()
        self.shot("fetched")

    def open_notebook(self) -> None:
        page = self.page
        page.locator("#fetched_assignments_list a.assignment-notebooks-link", has_text=ASSIGNMENT).click()
        page.locator("#fetched_assignments_list .nested_list_item a", has_text=Path(NOTEBOOK).stem).click()
        self.notebook = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
        self.notebook.locator(".jp-Cell").first.wait_for()
        self.wait_idle()
        self.shot("opened")

    def wait_idle(self) -> None:
        """Until the kernel has started and runs nothing (the toolbar's kernel status)."""
        self.page.wait_for_function("""() => {
            const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
            const status = panel && panel.querySelector('.jp-Notebook-ExecutionIndicator');
            const kernel = panel && panel.querySelector('.jp-KernelName');
            return status && status.getAttribute('data-status') === 'idle' && kernel && !/No Kernel/.test(kernel.innerText);
        }""", timeout=HANG_GUARD_MS)

    def type_into_cell(self, index: int, code: str) -> None:
        """Replace the source of the notebook's cell ``index`` through its editor: select all, then type ``code``."""
        editor = self.notebook.locator(".jp-Cell").nth(index).locator(".cm-content")
        editor.scroll_into_view_if_needed()
        editor.click()
        self.page.keyboard.press("Control+a")
        self.page.keyboard.insert_text(code)

    def edit_locked_cell(self, index: int, code: str) -> None:
        """What a student can do to a locked (read-only) cell in the browser: the Property Inspector's cell metadata
        made editable (``"editable": true``), then ``code`` typed over the cell's source."""
        page = self.page
        self.notebook.locator(".jp-Cell").nth(index).scroll_into_view_if_needed()
        self.notebook.locator(".jp-Cell").nth(index).locator(".jp-InputPrompt").click()  # selects the cell
        page.locator(".jp-SideBar.jp-mod-right .lm-TabBar-tab[title='Property Inspector']").click()
        tools = page.locator(".jp-NotebookTools")
        advanced = tools.locator(".jp-Collapse-header", has_text="Advanced Tools")
        if "jp-Collapse-header-collapsed" in (advanced.get_attribute("class") or ""):
            advanced.click()
        metadata = tools.locator(".jp-MetadataEditorTool", has_text="Cell metadata")
        editor = metadata.locator(".cm-content")
        fields = json.loads(editor.inner_text())
        assert fields["editable"] is False and fields["nbgrader"]["locked"], fields  # the release locks it
        editor.click()
        page.keyboard.press("Control+a")
        page.keyboard.insert_text(json.dumps({**fields, "editable": True}, indent=4))
        metadata.locator("span[title='Commit changes to data']").click()
        self.type_into_cell(index, code)
        self.shot("edited_locked_cell")
        page.locator(".jp-SideBar.jp-mod-right .lm-TabBar-tab[title='Property Inspector']").click()  # closes it

    def run_all(self) -> None:
        """Run ▸ Run All Cells; the kernel runs them while the test goes on (``wait_ran``)."""
        page = self.page
        page.locator(".lm-MenuBar").get_by_role("menuitem", name="Run", exact=True).click()
        page.locator(".lm-Menu").get_by_text("Run All Cells", exact=True).click()

    def wait_ran(self) -> None:
        page = self.page
        # Cells run in order: done when the last code cell has its number (JupyterLab renders only the cells in
        # view, so it is brought into view to be read).
        page.wait_for_function("""() => {
            const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
            const cells = panel.querySelectorAll('.jp-CodeCell');
            const last = cells[cells.length - 1];
            last.scrollIntoView();
            const prompt = last.querySelector('.jp-InputPrompt');
            return prompt && /^\\[\\d+\\]:$/.test(prompt.innerText.trim());
        }""", timeout=HANG_GUARD_MS)
        self.wait_idle()

    def save(self) -> None:
        self.notebook.locator(".jp-Notebook").click(position={"x": 5, "y": 5})
        self.page.keyboard.press("Control+s")
        self.page.wait_for_function("""() => {
            const tab = document.querySelector('.lm-DockPanel-tabBar .lm-TabBar-tab.jp-mod-current');
            return tab && !tab.classList.contains('jp-mod-dirty');
        }""")

    def validate(self) -> str:
        """Press the notebook's Validate button; the dialog's verdict class: validation-success, -failed, …"""
        self.notebook.locator(".validate-button").click()
        dialog = self.page.locator(".jp-Dialog")
        verdict = dialog.locator(".validation-success, .validation-failed, .validation-changed, .validation-type-changed")
        verdict.first.wait_for(timeout=HANG_GUARD_MS)
        self.shot("validated")
        found = verdict.first.get_attribute("class")
        self.validation_text = dialog.inner_text()
        dialog.get_by_role("button").last.click()
        return next(c for c in found.split() if c.startswith("validation-"))

    def submit(self) -> None:
        page = self.page
        self.assignment_list()
        submitted = page.locator("#submitted_assignments_list .nested_list_item")
        before = submitted.count()
        page.locator("#fetched_assignments_list .list_item", has_text=ASSIGNMENT).get_by_role("button", name="Submit").first.click()
        page.wait_for_function(f"() => document.querySelectorAll('#submitted_assignments_list .nested_list_item').length > {before}")
        self.shot("submitted")

    def back_to_notebook(self) -> None:
        self.page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text=NOTEBOOK).click()

    def fetch_feedback(self) -> str:
        """Fetch the feedback in the Assignment List, open it as the student would; its text as the page shows it."""
        page = self.page
        self.assignment_list()
        page.get_by_role("button", name="Fetch Feedback").first.click()
        page.get_by_text("(view feedback)").first.click()
        page.locator(".jp-DirListing-item", has_text=Path(NOTEBOOK).stem + ".html").dblclick()
        frame = page.frame_locator(".jp-HTMLViewer iframe, .jp-MainAreaWidget:not(.lm-mod-hidden) iframe").first
        frame.locator("body").wait_for()
        text = frame.locator("body").inner_text()
        self.shot("feedback")
        return text


# ---------------------------------------------------------------- what the notebooks hold


def _solution_cells() -> dict[int, str]:
    """The graded notebook's solution cells, by index, as the solution has them (markers removed)."""
    nb = nbformat.read(ROOT / "solutions" / ASSIGNMENT / NOTEBOOK, as_version=4)
    return {i: "\n".join(line for line in cell.source.splitlines() if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))
            for i, cell in enumerate(nb.cells) if cell.metadata.get("nbgrader", {}).get("solution")}


def _hidden_test_lines() -> list[str]:
    """Lines of the hidden tests that appear nowhere in the student's release, not even within a line of it."""
    released = "\n".join(cell.source for cell in nbformat.read(ROOT / "notebooks" / ASSIGNMENT / NOTEBOOK, as_version=4).cells)
    lines = []
    for cell in nbformat.read(ROOT / "solutions" / ASSIGNMENT / NOTEBOOK, as_version=4).cells:
        inside = False
        for line in cell.source.splitlines():
            if line.strip() == "### BEGIN HIDDEN TESTS":
                inside = True
            elif line.strip() == "### END HIDDEN TESTS":
                inside = False
            elif inside and len(line.strip()) > 12 and line.strip() not in released:  # a substring of no released line
                lines.append(line.strip())
    assert lines, "the assignment has hidden tests"
    return lines


# ---------------------------------------------------------------- the class


def test_a_class_on_the_hub(hub, browser, screenshots):
    students: list[Student] = []
    try:
        _a_class(hub, browser, screenshots, students)
    except BaseException:
        for student in students:  # what each one saw when it failed
            try:
                student.shot("when_it_failed")
            except Exception:
                pass
        raise


def _a_class(hub, browser, screenshots, students):
    with ThreadPoolExecutor(1) as terminal:  # the instructor's terminal, while the students use their browsers
        _class_with_a_terminal(hub, browser, screenshots, students, terminal)


def _class_with_a_terminal(hub, browser, screenshots, students, terminal):
    started = time.perf_counter()
    # the instructor releases 01 while the students log in; they open the Assignment List once it is out
    released = terminal.submit(hub.instructor, BIN / "rl-course", "release", "--exchange", ASSIGNMENT)

    students += [Student(browser, hub, name, screenshots) for name in STUDENTS]
    alice, bob = students
    for student in (alice, bob):  # both servers start at once, as when a class logs in
        student.log_in()
    assert f"published notebooks/{ASSIGNMENT}" in released.result().stdout
    assert (hub.state / "exchange" / "rl-course" / "outbound" / ASSIGNMENT / NOTEBOOK).is_file()
    for student in (alice, bob):
        student.in_lab()
        student.shot("lab")
        menu = student.open_nbgrader_menu()
        offered = menu.inner_text()
        assert "Assignment List" in offered and "Formgrader" not in offered and "Create Assignment" not in offered, offered
        student.assignment_list(menu)
        student.shot("assignment_list")
        student.fetch()
        student.open_notebook()

    # alice submits the untouched release first; her later submission is the one graded
    alice.submit()
    alice.back_to_notebook()

    # alice writes the solutions through the editor and runs the notebook, while (below) carol and bob submit
    solutions = _solution_cells()
    for index, code in solutions.items():
        alice.type_into_cell(index, code)
    alice.shot("typed")
    alice.run_all()

    # carol's notebook is not JSON (a broken save): she submits it with nbgrader's own command in a terminal,
    # while bob validates the untouched release (failures) and submits it anyway; both before the deadline
    carol = hub.home("carol")
    (carol / ASSIGNMENT).mkdir(parents=True)
    (carol / ASSIGNMENT / NOTEBOOK).write_text('{"cells": [ this is not JSON')
    hub.hand_over(carol, "carol")
    carol_submitted = terminal.submit(hub.run, "carol", carol, BIN / "nbgrader", "submit", ASSIGNMENT)
    assert bob.validate() == "validation-failed", bob.validation_text
    assert "NotImplementedError" in bob.validation_text
    # bob replaces a locked test cell by `pass` in the browser and saves: grading restores the test, which fails
    bob.edit_locked_cell(LOCKED_TEST, "pass")
    bob.save()
    bob.submit()
    carol_submitted.result()

    # the deadline passes (Formgrader's Manage Assignments sets it too): alice's next submission is late
    # (the next whole second: nbgrader reads the due date to the second, and bob submitted within this one)
    due = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=1)).strftime("%Y-%m-%d %H:%M:%S UTC")
    hub.instructor(BIN / "nbgrader", "db", "assignment", "add", ASSIGNMENT, f"--duedate={due}")

    # alice's notebook has run: she saves it, validates it and submits it, late
    alice.wait_ran()
    alice.shot("ran")
    alice.save()
    saved = nbformat.read(hub.home("alice") / ASSIGNMENT / NOTEBOOK, as_version=4)
    for index, code in solutions.items():
        assert saved.cells[index].source.strip() == code.strip(), f"cell {index} as saved differs from what was typed"
    errors = [f"cell {i}: {o.ename}: {o.evalue}" for i, cell in enumerate(saved.cells) for o in cell.get("outputs", [])
              if o.output_type == "error"]
    assert not errors, errors
    assert all(cell.execution_count for cell in saved.cells if cell.cell_type == "code"), "not every cell ran"
    assert alice.validate() == "validation-success", alice.validation_text
    alice.submit()

    # bob's browser session cannot reach alice's server or files (tried in another tab of his session)
    alice_code = next(iter(solutions.values())).strip().splitlines()[-1].strip()
    probe = bob.context.new_page()
    for path in (f"/user/alice/api/contents/{ASSIGNMENT}/{NOTEBOOK}", f"/user/alice/files/{ASSIGNMENT}/{NOTEBOOK}",
                 f"/user/alice/lab/tree/{ASSIGNMENT}/{NOTEBOOK}",
                 f"/user/bob/api/contents/..%2Falice%2F{ASSIGNMENT}%2F{NOTEBOOK}", f"/user/bob/files/..%2Falice/{ASSIGNMENT}/{NOTEBOOK}"):
        response = probe.goto(hub.url + path)
        assert response.status in (403, 404), f"{path}: {response.status}"
        assert alice_code not in html.unescape(probe.content()), path
    probe.screenshot(path=str(screenshots / f"{len(list(screenshots.glob('*.png'))):02d}_bob_refused_alice_files.png"))
    # bob has a terminal where he has an account of his own, none on the try-out (deploy/jupyterhub/README.md)
    assert probe.goto(hub.url + "/user/bob/api/terminals").status == (200 if ACCOUNTS else 404)
    probe.close()

    # the instructor collects, grades (sandboxed) and hands back feedback
    inbound = hub.state / "exchange" / "rl-course" / "inbound"
    assert sorted(p.name.split("+")[0] for p in inbound.iterdir()) == ["alice", "alice", "bob", "carol"]  # each under their name
    hub.instructor(BIN / "nbgrader", "collect", ASSIGNMENT)
    for name in (*STUDENTS, "carol"):
        assert (hub.course / "submitted" / name / ASSIGNMENT / NOTEBOOK).is_file()
    graded = hub.instructor(BIN / "rl-course", "grade", "submitted", "--json")
    assert "unconfined" not in graded.stderr or not os.environ.get("RL_COURSE_REQUIRE_SANDBOX"), graded.stderr
    scores = json.loads(graded.stdout)
    problems = [line for line in graded.stderr.splitlines() if line.startswith("problem:")]
    assert len(problems) == 1 and f"carol/{ASSIGNMENT}/{NOTEBOOK}" in problems[0], graded.stderr  # reported, not fatal
    assert scores["carol"][ASSIGNMENT]["score"] == 0
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{hub.course / 'gradebook.db'}", "rl-course") as gb:  # the gradebook Formgrader reads
        max_score = gb.find_assignment(ASSIGNMENT).max_score
        recorded = {name: gb.find_submission(ASSIGNMENT, name).score for name in STUDENTS}
        late = {name: gb.find_submission(ASSIGNMENT, name).total_seconds_late for name in STUDENTS}
    print(f"gradebook: {recorded} of {max_score}, seconds late {late}; rl-course grade: {scores}")
    assert max_score == 12
    assert recorded == {"alice": max_score, "bob": 0.0}  # alice's later, solved submission
    assert late["alice"] > 0 and late["bob"] == 0, late
    bobs = nbformat.read(hub.course / "submitted" / "bob" / ASSIGNMENT / NOTEBOOK, as_version=4)
    assert bobs.cells[LOCKED_TEST].source.strip() == "pass"  # what he typed reached the grader ...
    with Gradebook(f"sqlite:///{hub.course / 'gradebook.db'}", "rl-course") as gb:
        edited = gb.find_grade(LOCKED_TEST_ID, Path(NOTEBOOK).stem, ASSIGNMENT, "bob")
        assert (edited.score, edited.max_score) == (0, 1), (edited.score, edited.max_score)  # ... and the test ran
    hub.instructor(BIN / "rl-course", "feedback", "submitted", "--exchange")
    hidden = _hidden_test_lines()
    for student in (alice, bob):
        text = student.fetch_feedback()
        assert "td_lambda" in text and "Score" in text, text[:500]
        page_source = html.unescape(next((hub.home(student.name) / ASSIGNMENT / "feedback").rglob("*.html")).read_text())
        # the formulas drawn by the browser (MathML), none left as TeX; the tables styled by the course
        assert page_source.count("<math ") > 30 and "\\lambda" not in text and "\\gamma" not in text, text[:2000]
        assert ".rendered_html thead th" in page_source
        leaked = [line for line in hidden if line in text or line in page_source]
        assert not leaked, f"{student.name}'s feedback shows hidden test code: {leaked[:3]}"
    print(f"wall time {time.perf_counter() - started:.0f} s; screenshots in {screenshots}: "
          + ", ".join(sorted(p.name for p in screenshots.glob("*.png"))))


def test_a_teaching_assistant_grades_on_the_courses_grading_server_which_no_student_opens(hub, browser, screenshots):
    """After the class above: erin submits in a terminal; the teaching assistant logs in, opens the course's grading
    server (/services/rl-course/, JupyterLab as the instructor's account in the course folder) where the Nbgrader menu
    offers Formgrader, opens Formgrader, and from the server's terminal collects, grades and releases feedback; erin fetches hers, and finds
    only hers. A student's browser is refused the grading server."""
    erin = hub.home("erin")
    nb = nbformat.read(ROOT / "notebooks" / ASSIGNMENT / NOTEBOOK, as_version=4)
    for index, code in _solution_cells().items():
        nb.cells[index].source = code
    (erin / ASSIGNMENT).mkdir(parents=True)
    nbformat.write(nb, erin / ASSIGNMENT / NOTEBOOK)
    hub.hand_over(erin, "erin")
    hub.run("erin", erin, BIN / "nbgrader", "submit", ASSIGNMENT)

    ta = Student(browser, hub, "ta", screenshots)
    ta.log_in(then="/services/rl-course/lab")  # straight to the grading server: the TA's own server is not started
    ta.page.wait_for_url("**/services/rl-course/lab**")
    expect(ta.page.locator(".jp-DirListing-content")).to_be_visible()
    menu = ta.open_nbgrader_menu()
    assert "Formgrader" in menu.inner_text(), menu.inner_text()
    ta.page.keyboard.press("Escape")
    # Formgrader in a tab of its own: JupyterHub forbids framing its servers (frame-ancestors 'none', nbgrader#1870)
    ta.page.goto(f"{hub.url}/services/rl-course/formgrader")
    expect(ta.page.locator("#main-table")).to_contain_text(ASSIGNMENT)
    ta.shot("formgrader")

    grading = Server(hub, "ta", HUB_CONFIG, service="rl-course")
    typed = grading.run_in_terminal(f'echo "I am $(whoami)" && nbgrader collect --update {ASSIGNMENT} > collect.log 2>&1 && '
                                    f"rl-course grade submitted --json > graded.json 2> graded.log && "
                                    f'rl-course feedback submitted --exchange > feedback.log 2>&1 && echo "all $((1 + 1)) done"')
    print(f"the grading server's terminal:\n{typed}")
    logs = [(p.name, p.read_text()[-2000:]) for p in hub.course.glob("*.log")]
    assert "all 2 done" in typed, f"{typed}\n{logs}"
    assert not ACCOUNTS or f"I am {account_name(hub.instructor_name)}" in typed, typed
    scores = json.loads((hub.course / "graded.json").read_text())
    assert scores["erin"][ASSIGNMENT] == {"score": 12.0, "max_score": 12.0}, scores
    graded_log = (hub.course / "graded.log").read_text()
    assert "unconfined" not in graded_log or not os.environ.get("RL_COURSE_REQUIRE_SANDBOX"), graded_log  # sandboxed

    hub.run("erin", erin, BIN / "nbgrader", "fetch_feedback", ASSIGNMENT)
    pages = list((erin / ASSIGNMENT / "feedback").rglob("*.html"))
    hers = (hub.course / "feedback" / "erin" / ASSIGNMENT / NOTEBOOK.replace(".ipynb", ".html")).read_text()
    assert len(pages) == 1 and pages[0].read_text() == hers, pages  # hers, and no one else's

    alice = Student(browser, hub, "alice", screenshots)
    alice.log_in(then="/hub/home")
    alice.page.wait_for_url("**/hub/home")
    refused = alice.page.goto(f"{hub.url}/services/rl-course/lab")
    assert refused.status == 403, refused.status
    alice.shot("refused_the_grading_server")
    alice.context.close()
    ta.context.close()


def test_a_hundred_megabyte_output_is_reported_and_the_class_graded(hub):
    """dave solved 01 but printed ~100 MB in a cell of his own, saved and submitted with nbgrader in a terminal (no
    browser: it adds nothing here). 95 MB: nbgrader's exchange leaves out a file over 100,000 kB at submit
    (CourseDirectory.max_file_size) and refuses a folder over it (max_dir_size), so a bigger one never reaches the
    instructor. Graded in full, with a problem line; whoever else submitted is graded in the same run."""
    dave = hub.home("dave")
    (dave / ASSIGNMENT).mkdir(parents=True)
    nb = nbformat.read(ROOT / "notebooks" / ASSIGNMENT / NOTEBOOK, as_version=4)
    for index, code in _solution_cells().items():
        nb.cells[index].source = code
    printing = nbformat.v4.new_code_cell('print("0123456789" * 9_500_000)  # the whole table, to look at it', execution_count=2)
    printing.outputs = [nbformat.v4.new_output("stream", name="stdout", text="0123456789" * 9_500_000 + "\n")]
    nb.cells.insert(2, printing)
    nbformat.write(nb, dave / ASSIGNMENT / NOTEBOOK)
    size = (dave / ASSIGNMENT / NOTEBOOK).stat().st_size
    assert 90e6 < size < 100e6, size
    hub.hand_over(dave, "dave")
    submitted = hub.run("dave", dave, BIN / "nbgrader", "submit", ASSIGNMENT)
    assert "too large" not in submitted.stdout + submitted.stderr, submitted.stderr
    hub.instructor(BIN / "nbgrader", "collect", ASSIGNMENT, "--student=dave")
    assert (hub.course / "submitted" / "dave" / ASSIGNMENT / NOTEBOOK).stat().st_size == size
    graded = hub.instructor(BIN / "rl-course", "grade", "submitted", "--json")
    scores = json.loads(graded.stdout)
    problems = [line for line in graded.stderr.splitlines() if line.startswith("problem:")]
    print(f"rl-course grade with dave's {size / 1e6:.0f} MB notebook: {scores}; {problems}")
    dave_problems = [line for line in problems if f"dave/{ASSIGNMENT}/{NOTEBOOK}" in line]
    assert len(dave_problems) == 1 and "cell 3 holds 95 MB of saved output" in dave_problems[0], graded.stderr
    assert scores["dave"][ASSIGNMENT] == {"score": 12.0, "max_score": 12.0}
    others = sorted(p.name for p in (hub.course / "submitted").iterdir() if p.name != "dave")
    assert sorted(scores) == sorted([*others, "dave"]), scores  # the rest of the class, graded (or kept) in the run


# ---------------------------------------------------------------- the instructor's commands, without a hub


def test_release_to_the_exchange_names_an_unknown_assignment(course_copy, capsys):
    from rl_course.cli import main

    assert main(["release", "--exchange", "07_nothing", "--course", str(course_copy)]) == 2
    assert "--exchange: unknown assignment '07_nothing' (this course has: 01_td_lambda" in capsys.readouterr().err


def test_release_to_an_exchange_that_cannot_be_written_says_what_nbgrader_said(course_copy, tmp_path, monkeypatch, capsys):
    from rl_course.cli import main

    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("JUPYTER_CONFIG_PATH", str(HUB_CONFIG.parent))
    monkeypatch.setenv("RL_COURSE_EXCHANGE", str(tmp_path / "a-file" / "exchange"))
    assert main(["release", "--exchange", ASSIGNMENT, "--course", str(course_copy)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"rl-course: error: nbgrader release_assignment {ASSIGNMENT} --force: "), err


def test_feedback_through_the_exchange_goes_to_the_course_feedback_folder(course_copy, tmp_path, capsys):
    from rl_course.cli import main

    assert main(["feedback", str(tmp_path), "--exchange", "--out", str(tmp_path / "elsewhere"), "--course", str(course_copy)]) == 2
    assert f"--exchange hands back the course's {course_copy / 'feedback'}: leave out --out" in capsys.readouterr().err


# ---------------------------------------------------------------- who can reach what, with an account each


def test_a_students_kernel_and_terminal_reach_only_their_own_files(hub):
    """After the class above: alice's kernel and terminal, running as her account, are refused bob's home, his
    fetched and submitted notebooks, the exchange's listings, the hub's database and the grader's files; bob's kernel
    cannot remove, rename or overwrite alice's submission, and a submission he forges in her name is not collected."""
    if not ACCOUNTS:
        pytest.skip("the hub gives each user an OS account only when it runs as root; the try-out shares one")
    exchange = hub.state / "exchange" / "rl-course"
    inbound = exchange / "inbound"
    submission = {name: max(inbound.glob(f"{name}+{ASSIGNMENT}+*")) for name in STUDENTS}  # the latest of each
    bob_home = hub.home("bob")
    refused = {
        "list bob's home": f"os.listdir({str(bob_home)!r})",
        "read bob's fetched notebook": f"open({str(bob_home / ASSIGNMENT / NOTEBOOK)!r}).read()",
        "write into bob's home": f"open({str(bob_home / 'from-alice.txt')!r}, 'w')",
        "read bob's submitted notebook": f"open({str(submission['bob'] / NOTEBOOK)!r}).read()",
        "list the submissions": f"os.listdir({str(inbound)!r})",
        "list the feedback": f"os.listdir({str(exchange / 'feedback')!r})",
        "read the hub's database": f"open({str(hub.state / 'hub' / 'jupyterhub.sqlite')!r}, 'rb').read()",
        "list the course folder": f"os.listdir({str(hub.course)!r})",
        "read the gradebook": f"open({str(hub.course / 'gradebook.db')!r}, 'rb').read()",
    }
    allowed = {"read her own notebook": f"open({str(hub.home('alice') / ASSIGNMENT / NOTEBOOK)!r}).read()",
               "read the released notebook": f"open({str(exchange / 'outbound' / ASSIGNMENT / NOTEBOOK)!r}).read()"}
    alice = Server(hub, "alice", HUB_CONFIG)
    found = json.loads(alice.run_in_kernel(attempts({**refused, **allowed})).strip().splitlines()[-1])
    print(f"alice's kernel: {found}")
    assert found == {**{what: "PermissionError: Permission denied" for what in refused},
                     **{what: "allowed" for what in allowed}}, found

    typed = alice.run_in_terminal(f'echo "I am $(whoami)"; cat {bob_home / ASSIGNMENT / NOTEBOOK}; ls {inbound}; ls {hub.course}')
    print(f"alice's terminal:\n{typed}")
    assert f"I am {account_name('alice')}" in typed, typed
    for refusal in (f"cat: {bob_home / ASSIGNMENT / NOTEBOOK}: Permission denied",
                    f"ls: cannot open directory '{inbound}': Permission denied",
                    f"ls: cannot open directory '{hub.course}': Permission denied"):
        assert refusal in typed, typed

    # bob, against alice's submission: inbound/ is sticky and her folder hers (0750)
    forged = inbound / f"alice+{ASSIGNMENT}+2099-01-01 00:00:00.000000 UTC+forged"
    pointing = inbound / f"bob+{ASSIGNMENT}+2099-01-02 00:00:00.000000 UTC+link"
    against_alice = {
        "name a folder without a time": f"os.mkdir({str(inbound / f'bob+{ASSIGNMENT}+no time')!r})",
        "hand in a link to alice's home": f"os.symlink({str(hub.home('alice'))!r}, {str(pointing)!r})",
        "remove alice's submission": f"shutil.rmtree({str(submission['alice'])!r})",
        "rename alice's submission": f"os.rename({str(submission['alice'])!r}, {str(inbound / 'taken')!r})",
        "overwrite alice's notebook": f"open({str(submission['alice'] / NOTEBOOK)!r}, 'w')",
        "forge a later submission as alice": f"os.mkdir({str(forged)!r}); "
                                             f"shutil.copy({str(exchange / 'outbound' / ASSIGNMENT / NOTEBOOK)!r}, {str(forged)!r}); "
                                             f"open({str(forged / 'timestamp.txt')!r}, 'w').write({forged.name.split('+')[2]!r})",
    }
    found = json.loads(Server(hub, "bob", HUB_CONFIG).run_in_kernel(attempts(against_alice)).strip().splitlines()[-1])
    print(f"bob's kernel: {found}")
    for anyone_may in ("forge a later submission as alice", "name a folder without a time", "hand in a link to alice's home"):
        assert found.pop(anyone_may) == "allowed"  # inbound/ takes anyone's folder ...
    assert all(outcome.startswith("PermissionError") for outcome in found.values()), found
    assert submission["alice"].is_dir() and not (inbound / "taken").exists()
    collected = hub.instructor(BIN / "nbgrader", "collect", "--update", ASSIGNMENT)  # ... but collect does not take it
    log = collected.stdout + collected.stderr
    assert f"names alice but belongs to the account {account_name('bob')}, not {account_name('alice')}: left out" in log, log
    assert f"{inbound / f'bob+{ASSIGNMENT}+no time'} holds no submission time after its student's name: left out" in log, log
    assert f"{pointing} is not a folder nbgrader's submit made: left out" in log, log
    taken = (hub.course / "submitted" / "alice" / ASSIGNMENT / "timestamp.txt").read_text()
    assert taken == (submission["alice"] / "timestamp.txt").read_text(), taken


# ---------------------------------------------------------------- the login from the LMS


def test_a_student_launched_from_the_lms_lands_in_jupyterlab_and_a_forged_or_expired_launch_is_refused(lms, browser, screenshots):
    """The course page's link on the learning platform opens the student's JupyterLab, under the platform's user id,
    as an account of their own, with the Assignment List offering what the instructor released; the grading server
    refuses a Learner and opens for a TeachingAssistant; a launch signed with
    a key the platform never published, or one that expired, is refused on a page that says why, and logs no one in."""
    hub, platform = lms
    released = hub.instructor(BIN / "rl-course", "release", "--exchange", ASSIGNMENT)
    assert f"published notebooks/{ASSIGNMENT}" in released.stdout
    student = Student(browser, hub, new_user_id(), screenshots)
    student.page.goto(platform.launch_url(student.name))
    student.in_lab()
    student.shot("launched_from_the_lms")
    student.assignment_list()
    expect(student.page.locator("#released_assignments_list .list_item", has_text=ASSIGNMENT)).to_be_visible()
    student.shot("lms_assignment_list")
    if ACCOUNTS:
        account = pwd.getpwnam(account_name(student.name))
        assert account.pw_gecos == student.name and Path(account.pw_dir) == hub.home(student.name), account
        assert hub.home(student.name).stat().st_uid == account.pw_uid
    assert student.page.goto(f"{hub.url}/services/rl-course/formgrader").status == 403  # a Learner does not grade
    student.context.close()
    ta = Student(browser, hub, new_user_id(), screenshots)  # the LMS says this one is a TeachingAssistant
    ta.page.goto(platform.launch_url(ta.name, role=TEACHING_ASSISTANT))
    ta.in_lab()
    ta.page.goto(f"{hub.url}/services/rl-course/formgrader")
    expect(ta.page.locator("#main-table")).to_contain_text(ASSIGNMENT)
    ta.context.close()

    stranger = browser.new_page()  # who opens the hub's own address: told where the way in is
    stranger.goto(f"{hub.url}/hub/login")
    assert "This course opens from its page in your LMS" in stranger.locator("body").inner_text()
    stranger.close()
    for how, reason in (("forged", "Signature verification failed"), ("expired", "Signature has expired")):
        someone = new_user_id()
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        page = context.new_page()
        page.goto(platform.launch_url(someone, how))
        page.wait_for_url("**/hub/lti13/oauth_callback")
        text = page.locator("body").inner_text()
        page.screenshot(path=str(screenshots / f"{len(list(screenshots.glob('*.png'))):02d}_lms_{how}_launch_refused.png"))
        assert "The hub could not verify this launch from your course page" in text and reason in text, text
        assert "Open the course again from the LMS" in text, text
        assert context.request.get(f"{hub.url}/hub/api/user").status == 403  # nobody logged in
        with pytest.raises(KeyError):
            pwd.getpwnam(account_name(someone))  # and no account made
        context.close()
