"""A hub user's view of a server on the course's JupyterHub, through its REST API and websockets, as their browser
uses it: code run in a new kernel, commands typed into a new terminal (tests/test_hub.py)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

BIN = Path(sys.executable).parent
HANG_GUARD_S = 240  # generous: a server start, or a notebook run, on two busy cores


def attempts(actions: dict[str, str]) -> str:
    """Python that runs each action (one line) and prints, as JSON, what came of each: "allowed", or the error."""
    lines = ["import json, os, shutil", "outcome = {}"]
    for what, action in actions.items():
        lines += ["try:", f"    {action}", f"    outcome[{what!r}] = 'allowed'",
                  "except OSError as error:", f"    outcome[{what!r}] = f'{{type(error).__name__}}: {{error.strerror}}'"]
    return "\n".join([*lines, "print(json.dumps(outcome))"])


class Server:
    """A user's server on the hub (started if it is not running), or a service's that they may open, through its REST
    API and websockets with a token of theirs, as their browser would use it."""

    def __init__(self, hub, user: str, config: Path, service: str | None = None):
        made = subprocess.run([str(BIN / "jupyterhub"), "token", user, "-f", str(config)], cwd=hub.state, env=hub.env,
                              capture_output=True, text=True, timeout=120)
        assert made.returncode == 0, made.stderr
        self.headers = {"Authorization": f"token {made.stdout.strip().splitlines()[-1]}"}
        if service:  # a server the hub runs, which ``user`` may open
            self.base = f"{hub.url}/services/{service}"
            return
        self.hub_api, self.base = f"{hub.url}/hub/api/users/{user}", f"{hub.url}/user/{user}"
        self._call("POST", f"{self.hub_api}/server", allow=(400,))  # 400: it runs already
        deadline = time.monotonic() + HANG_GUARD_S
        while not (self._call("GET", self.hub_api).get("servers", {}).get("", {}).get("ready")):
            assert time.monotonic() < deadline, f"{user}'s server did not start"
            time.sleep(1)

    def _call(self, method: str, url: str, allow=()) -> dict:
        request = urllib.request.Request(url, method=method, headers=self.headers, data=b"{}" if method == "POST" else None)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                body = response.read()
        except urllib.error.HTTPError as error:
            if error.code in allow:
                return {}
            raise
        return json.loads(body) if body else {}

    def run_in_kernel(self, code: str) -> str:
        """Run ``code`` in a new kernel of the server; what it printed (and any error), once the kernel is idle."""
        kernel = self._call("POST", f"{self.base}/api/kernels")
        try:
            return run_to_end(self._execute(kernel["id"], code))
        finally:
            self._call("DELETE", f"{self.base}/api/kernels/{kernel['id']}")

    async def _execute(self, kernel_id: str, code: str) -> str:
        socket_ = await websocket_connect(HTTPRequest(f"ws{self.base[4:]}/api/kernels/{kernel_id}/channels", headers=self.headers))
        msg_id = uuid.uuid4().hex
        socket_.write_message(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "", "session": uuid.uuid4().hex, "version": "5.3"},
            "parent_header": {}, "metadata": {}, "channel": "shell",
            "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {}, "allow_stdin": False}}))
        printed = []
        while True:
            message = json.loads(await socket_.read_message())
            if message["parent_header"].get("msg_id") != msg_id:
                continue
            if message["msg_type"] == "stream":
                printed.append(message["content"]["text"])
            elif message["msg_type"] == "error":
                printed.append(f"{message['content']['ename']}: {message['content']['evalue']}\n")
            elif message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
                socket_.close()
                return "".join(printed)

    def run_in_terminal(self, command: str) -> str:
        """Type ``command`` into a new terminal of the server; what the terminal showed until it was done."""
        terminal = self._call("POST", f"{self.base}/api/terminals")
        try:
            return run_to_end(self._type(terminal["name"], command))
        finally:
            self._call("DELETE", f"{self.base}/api/terminals/{terminal['name']}")

    async def _type(self, name: str, command: str) -> str:
        socket_ = await websocket_connect(HTTPRequest(f"ws{self.base[4:]}/terminals/websocket/{name}", headers=self.headers))
        socket_.write_message(json.dumps(["stdin", f"{command}; echo done-$((6 * 7))\r"]))  # "done-42" only once it ran
        shown = ""
        while "done-42" not in shown:
            message = json.loads(await socket_.read_message())
            if message[0] == "stdout":
                shown += message[1]
        socket_.close()
        return shown


def run_to_end(coroutine):
    """Run ``coroutine`` to its end, within the hang guard, in an event loop of its own (Playwright holds this
    thread's)."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, asyncio.wait_for(coroutine, HANG_GUARD_S)).result()
