"""A class on one machine, driven from Python: start the course's JupyterHub in local mode, log students in, start
their servers and kernels, run code in them. Used by tests/test_hub.py and tools/bench_hub.py (`make bench-hub`)."""
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

import requests
import websocket

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "deploy" / "jupyterhub_config.py"
PROXY_BIN = ROOT / "build" / "hub" / "node_modules" / ".bin"   # `make hub-setup`: configurable-http-proxy from npm

# notebook 04's panel at its defaults (length 20, 2 epochs, seed 0, same width): one line of JSON with the results
AMNESIA_RUN = """
import json, time, helpers
start, cpu = time.perf_counter(), time.process_time()
r = helpers.amnesia_test(length=20, seed=0)
print(json.dumps({"accuracy": r.accuracy, "predictions": r.predictions, "seconds": time.perf_counter() - start,
                  "cpu_seconds": time.process_time() - cpu}))
"""


def free_port():
    """A TCP port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proxy_command():
    """configurable-http-proxy from `make hub-setup` or the PATH, else None."""
    local = PROXY_BIN / "configurable-http-proxy"
    return str(local) if local.exists() else shutil.which("configurable-http-proxy")


class Hub:
    """The course's JupyterHub in local mode (deploy/jupyterhub_config.py), on free ports under `state`."""

    def __init__(self, state, cpu="1", mem="3G", password="course-password", admins=()):
        self.state, self.password, self.admins = Path(state), password, tuple(admins)
        self.admin_password = secrets.token_hex(16)  # the shared-password login lets admins in with their own
        self.port, self.token, self.board_port = free_port(), secrets.token_hex(16), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.board = f"{self.url}/services/course-board/"  # the class board, through the hub's proxy
        self.env = {**os.environ, "COURSE_HUB_MODE": "local", "COURSE_HUB_STATE": str(self.state),
                    "COURSE_HUB_URL": self.url, "COURSE_HUB_API_TOKEN": self.token, "COURSE_HUB_PASSWORD": password,
                    "COURSE_CPU": cpu, "COURSE_MEM": mem, "COURSE_BOARD_PORT": str(self.board_port),
                    "PATH": f"{Path(proxy_command()).parent}:{Path(sys.executable).parent}:{os.environ['PATH']}"}
        self.process, self.log, self._log_file = None, self.state / "hub.log", None

    def start(self, timeout=60):
        """Start the hub and wait until its API answers."""
        self.state.mkdir(parents=True, exist_ok=True)
        args = [sys.executable, "-m", "jupyterhub", "-f", str(CONFIG), f"--JupyterHub.hub_bind_url=http://127.0.0.1:{free_port()}",
                f"--ConfigurableHTTPProxy.api_url=http://127.0.0.1:{free_port()}",
                # the teacher of a test: on the command line, as local mode refuses COURSE_HUB_ADMINS
                *(f"--Authenticator.admin_users={name}" for name in self.admins),
                *([f"--SharedPasswordAuthenticator.admin_password={self.admin_password}"] if self.admins else [])]
        self._log_file = open(self.log, "w")  # closed by stop()
        self.process = subprocess.Popen(args, cwd=self.state, env=self.env, stdout=self._log_file,
                                        stderr=subprocess.STDOUT)
        self._wait(lambda: self.api("get", "/").ok, timeout, "the hub's API")
        return self

    def stop(self):
        """Stop the hub; it stops the students' servers (cleanup_servers). Its log file is closed."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(30)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def alive(self):
        """True while the hub's process runs and its API answers."""
        try:
            return self.process.poll() is None and self.api("get", "/").ok
        except requests.RequestException:
            return False

    def api(self, method, path, **kwargs):
        """A call to the hub's REST API as the course-admin service."""
        return requests.request(method, f"{self.url}/hub/api{path}", timeout=30,
                                headers={"Authorization": f"token {self.token}"}, **kwargs)

    def token_for(self, name):
        """A hub API token of user `name` (made if missing) that reaches the class board, as the kernels' does."""
        self.api("post", f"/users/{name}")
        reply = self.api("post", f"/users/{name}/tokens",
                         json={"scopes": ["access:services!service=course-board"], "note": "board test"})
        reply.raise_for_status()
        return reply.json()["token"]

    def wait_for_board(self, timeout=90):
        """Wait until the class board answers through the proxy (the hub starts it, and restarts it when it dies)."""
        self._wait(lambda: requests.get(self.board + "api/health", timeout=5).ok, timeout, "the class board")

    def _wait(self, ready, timeout, what):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the hub exited while waiting for {what}:\n{self.log.read_text()[-3000:]}")
            try:
                if ready():
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise TimeoutError(f"{what} not ready after {timeout} s:\n{self.log.read_text()[-3000:]}")

    def student(self, name):
        """Log `name` in through the login form (a browser's route), start their server; return a Student."""
        session = requests.Session()
        session.get(f"{self.url}/hub/login", timeout=30)
        reply = session.post(f"{self.url}/hub/login?next=", allow_redirects=False, timeout=30,
                             data={"username": name, "password": self.password, "_xsrf": session.cookies.get("_xsrf")})
        if reply.status_code != 302:
            raise RuntimeError(f"login of {name} failed: HTTP {reply.status_code}")
        self.api("post", f"/users/{name}/server")
        self._wait(lambda: self.api("get", f"/users/{name}").json()["servers"].get("", {}).get("ready"), 120,
                   f"{name}'s server")
        return Student(self, name, session)


class Student:
    """One student's server, reached through the hub's proxy: kernels, code, their browser session."""

    def __init__(self, hub, name, session):
        self.hub, self.name, self.session = hub, name, session
        self.base = f"{hub.url}/user/{name}"

    def page(self, path="/lab"):
        """HTTP status of a page of this student's server opened with their browser session (OAuth followed)."""
        return self.session.get(self.base + path, timeout=60).status_code

    def server_api(self, method, path, **kwargs):
        """A call to this student's Jupyter server API (as the course-admin service)."""
        reply = requests.request(method, f"{self.base}/api{path}", timeout=60,
                                 headers={"Authorization": f"token {self.hub.token}"}, **kwargs)
        reply.raise_for_status()
        return reply.json() if reply.content else None

    def start_kernel(self):
        """A new python3 kernel on this student's server: its id."""
        return self.server_api("post", "/kernels", json={"name": "python3"})["id"]

    def execute(self, kernel, code, timeout=600):
        """Run `code` in `kernel`; return (stdout, error text or None). A kernel that dies during the run gives
        error 'kernel died'."""
        url = f"{self.base.replace('http', 'ws', 1)}/api/kernels/{kernel}/channels"
        ws = websocket.create_connection(url, header=[f"Authorization: token {self.hub.token}"], timeout=timeout)
        msg_id = uuid.uuid4().hex
        ws.send(json.dumps({
            "header": {"msg_id": msg_id, "username": self.name, "session": uuid.uuid4().hex,
                       "msg_type": "execute_request", "version": "5.3"},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                        "allow_stdin": False, "stop_on_error": True}}))
        out, error = [], None
        try:
            while True:
                msg = json.loads(ws.recv())
                state = msg["content"].get("execution_state")
                if msg["msg_type"] == "status" and state in ("restarting", "dead"):
                    return "".join(out), "kernel died"
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                if msg["msg_type"] == "stream":
                    out.append(msg["content"]["text"])
                elif msg["msg_type"] == "error":
                    error = f"{msg['content']['ename']}: {msg['content']['evalue']}"
                elif msg["msg_type"] == "status" and state == "idle":
                    return "".join(out), error
        except websocket.WebSocketConnectionClosedException:
            return "".join(out), "kernel died"
        finally:
            ws.close()


@contextmanager
def running_hub(state, **kwargs):
    """A started Hub, stopped afterwards."""
    hub = Hub(state, **kwargs)
    try:
        yield hub.start()
    finally:
        hub.stop()
