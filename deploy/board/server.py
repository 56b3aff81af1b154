"""The class board: a service of the course's JupyterHub that collects the amnesia panels' shared runs and shows
them on one page for the teacher's projector (deploy/README.md, "The class board").

    python deploy/board/server.py     (the hub starts it: c.JupyterHub.services in deploy/jupyterhub_config.py)

Routes under the hub's prefix for it (/services/course-board/):
    GET  ./                 the page: accuracy (and steps to 90%) against length, live (login through the hub)
    GET  ./api/runs         {"round", "runs", "students", "models"}: the current round (?round=N another)
    POST ./api/runs         a share (one run, or a list of up to 8), with the student's hub token
    DELETE ./api/runs[/ID]  the teacher (a hub admin): every run of the round, or one
    POST ./api/rounds       the teacher: start a new round (earlier rounds stay stored)

The student is whoever the hub says the token belongs to (HubAuth), never a name in the payload. Writes need the
token in the Authorization header (no cookie: no cross-site request can write). Settings from the environment:
COURSE_BOARD_DB (storage.open_store's URL), COURSE_BOARD_PORT, COURSE_BOARD_IP (default 127.0.0.1; Zero to
JupyterHub: 0.0.0.0 in the hub's pod), and those the hub gives every service.
"""
import html
import json
import os
import sys
import time
from pathlib import Path

from jupyterhub.services.auth import HubOAuth, HubOAuthCallbackHandler, HubOAuthenticated, UserNotAllowed
from jupyterhub.utils import url_path_join
from tornado import httpclient, ioloop, web

sys.path.insert(0, str(Path(__file__).resolve().parent))
from schema import MAX_BYTES, STYLES, parse_share  # noqa: E402 -- this folder, as a script
from storage import open_store  # noqa: E402

PAGE = Path(__file__).resolve().parent / "page.html"
RATE = (30, 1.0)    # per student: a burst of 30 runs, then one run a second (a share of a panel is 2 to 4 runs)
ADMIN_CACHE = 30.0  # seconds a hub answer "is NAME an admin?" is kept


class Bucket:
    """A per-student token bucket: `take(name, n)` is True while name's last minute of runs is within RATE."""

    def __init__(self, burst, per_second, clock=time.monotonic):
        self.burst, self.per_second, self.clock, self.level = burst, per_second, clock, {}

    def take(self, name, n=1):
        """Spend n tokens of `name`'s bucket if it holds them; False (nothing spent) otherwise."""
        now = self.clock()
        level, then = self.level.get(name, (self.burst, now))
        level = min(self.burst, level + (now - then) * self.per_second)
        ok = level >= n
        self.level[name] = (level - n if ok else level, now)
        return ok


class Handler(HubOAuthenticated, web.RequestHandler):
    """What every route shares: the store, the hub's auth, errors as JSON with a message."""

    def initialize(self, board):
        self.board = board

    def write_error(self, status_code, **kwargs):
        """Every refusal as {"error": message}."""
        reason = kwargs.get("exc_info", (None, None))[1]
        text = getattr(reason, "log_message", None) or self._reason
        self.finish({"error": text})

    async def prepare(self):
        """A token in the Authorization header is checked with the hub, asynchronously (30 students at once wait
        for nobody); writes must carry one."""
        header = self.request.headers.get("Authorization", "")
        if header:
            match = self.hub_auth.auth_header_pat.match(header)
            model = await self.hub_auth.user_for_token(match[1], sync=False) if match else None
            try:
                self._hub_auth_user_cache = self.check_hub_user(model) if model else None
            except UserNotAllowed:
                self._hub_auth_user_cache = None
        elif self.request.method not in ("GET", "HEAD"):
            raise web.HTTPError(401, "a write needs the student's hub token: Authorization: token ...")

    def student(self):
        """The hub's name for the token or cookie of this request, else a 403."""
        user = self.current_user
        if not user or user.get("kind", "user") != "user":
            raise web.HTTPError(403, "the hub does not know this token as a user with access to the board")
        return user["name"]

    async def require_admin(self):
        """The hub's name of this request's user, if the hub says they are an admin (the teacher), else a 403."""
        name = self.student()
        if not await self.board.is_admin(name):
            raise web.HTTPError(403, f"only the hub's admins (the teacher) may do this; {name} is not one")
        return name


class PageHandler(Handler):
    """The projector's page: login through the hub (OAuth), then live from ./api/runs."""

    @web.authenticated
    def get(self):
        token = self.xsrf_token  # the page's reads of ./api/runs send it: the hub's check of cookie-read fetches
        token = token.decode() if isinstance(token, bytes) else token
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(PAGE.read_text(encoding="utf-8").replace("{{xsrf}}", html.escape(token)))


class RunsHandler(Handler):
    """GET the runs, POST a share, DELETE the round's runs (the teacher)."""

    def get(self, run_id=None):
        self.student()
        if run_id is not None:
            raise web.HTTPError(405, "GET ./api/runs for the runs; ./api/runs/ID takes DELETE only")
        number = self.get_argument("round", None)
        if number is not None and not number.isdigit():
            raise web.HTTPError(400, f"round must be a number, got {number!r}")
        runs = self.board.store.runs(int(number) if number else None)
        self.finish({"round": int(number) if number else self.board.store.current_round(), "runs": runs,
                     "students": len({r["student"] for r in runs}), "models": STYLES})

    def post(self, run_id=None):
        name = self.student()
        if run_id is not None:
            raise web.HTTPError(405, "POST a share to ./api/runs")
        try:
            runs = parse_share(self.request.body)
        except ValueError as err:
            raise web.HTTPError(413 if len(self.request.body) > MAX_BYTES else 400, str(err)) from None
        if not self.board.rate.take(name, len(runs)):
            raise web.HTTPError(429, f"too many shares from {name}: at most {RATE[0]} runs at once, then "
                                     f"{RATE[1]:g} a second; try again in a few seconds")
        ids = self.board.store.put(name, runs)
        self.set_status(201)
        self.finish({"stored": ids, "student": name, "round": self.board.store.current_round()})

    async def delete(self, run_id=None):
        await self.require_admin()
        self.finish({"deleted": self.board.store.delete(None if run_id is None else [int(run_id)])})


class RoundsHandler(Handler):
    """GET the current round's number; POST (the teacher) starts a new one."""

    def get(self):
        self.student()
        self.finish({"round": self.board.store.current_round()})

    async def post(self):
        name = await self.require_admin()
        self.set_status(201)
        self.finish({"round": self.board.store.new_round(name)})


class HealthHandler(web.RequestHandler):
    """Up or not, for the hub's and the tests' checks: no data, no login."""

    def get(self):
        self.finish({"ok": True})


class Board:
    """The service's state: the store, the rate limiter, the hub's answers about admins."""

    def __init__(self, store, hub_api, token):
        self.store, self.rate, self.hub_api, self.token = store, Bucket(*RATE), hub_api, token
        self._admins = {}

    async def is_admin(self, name):
        """Whether the hub says `name` is an admin (its user model, read with the service's own token)."""
        known = self._admins.get(name)
        if known and time.monotonic() - known[1] < ADMIN_CACHE:
            return known[0]
        reply = await httpclient.AsyncHTTPClient().fetch(
            url_path_join(self.hub_api, "users", name), headers={"Authorization": f"token {self.token}"},
            raise_error=False)
        admin = reply.code == 200 and bool(json.loads(reply.body).get("admin"))
        self._admins[name] = (admin, time.monotonic())
        return admin


def make_app(store, prefix=None, hub_api=None, token=None):
    """The tornado Application of the board under `prefix` (default: the hub's JUPYTERHUB_SERVICE_PREFIX)."""
    prefix = prefix or os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/services/course-board/")
    board = Board(store, hub_api or os.environ["JUPYTERHUB_API_URL"], token or os.environ["JUPYTERHUB_API_TOKEN"])
    routes = [(prefix, PageHandler), (prefix + "api/runs", RunsHandler), (prefix + r"api/runs/(\d+)", RunsHandler),
              (prefix + "api/rounds", RoundsHandler)]
    return web.Application(
        [(path, handler, {"board": board}) for path, handler in routes]
        + [(prefix + "oauth_callback", HubOAuthCallbackHandler), (prefix + "api/health", HealthHandler)],
        cookie_secret=os.urandom(32), hub_auth=HubOAuth())


def main():
    """Serve the board on COURSE_BOARD_IP:COURSE_BOARD_PORT, with the store at COURSE_BOARD_DB."""
    url = os.environ.get("COURSE_BOARD_DB")
    if not url:
        raise ValueError("COURSE_BOARD_DB must be set, e.g. sqlite:////var/lib/course-hub/board.sqlite")
    port = int(os.environ.get("COURSE_BOARD_PORT", "8181"))
    app = make_app(open_store(url))
    ip = os.environ.get("COURSE_BOARD_IP", "127.0.0.1")
    app.listen(port, ip, max_body_size=4 * 2**20)  # larger bodies are cut off; above MAX_BYTES refused with a message
    print(f"course board on {ip}:{port}, runs in {url}", flush=True)
    ioloop.IOLoop.current().start()


if __name__ == "__main__":
    main()
