"""JupyterHub for a class: every student logs in, gets a copy of the course's notebooks in their home and a kernel
with the course's environment, within a CPU and memory limit.

    jupyterhub -f deploy/jupyterhub_config.py   (from the repository root, after `make lab` or `make test` set up .venv)

Settings come from the environment, so one file serves a real server and the test (deploy/README.md has the steps):

    COURSE_HUB_MODE    "server" (default): the students' own Unix accounts, SystemdSpawner (limits enforced by
                       systemd, a private /tmp, no sudo), the course copied in as the student; "local": a trial,
                       every server runs as this user with homes under COURSE_HUB_STATE/homes (no isolation)
    COURSE_HUB_AUTH    server mode's logins, one per student: "pam" (default: the Unix passwords), "native" (accounts
                       made on the hub's sign-up page, each approved by an admin at /hub/authorize) or "oauth" (the
                       institution's login: GenericOAuthenticator and its OAUTH_* variables)
    COURSE_HUB_GROUP   server mode: the Unix group of the class (default "students"); only its members get a server
    COURSE_HUB_ADMINS  comma-separated user names with admin rights on the hub (the teacher), e.g. "teacher"
    COURSE_HUB_URL     where the hub listens (default http://127.0.0.1:8000); server mode refuses plain http on an
                       address other machines reach, local mode refuses it without COURSE_HUB_PASSWORD
    COURSE_HUB_SSL_CERT, COURSE_HUB_SSL_KEY   the certificate chain and its key, for an https:// COURSE_HUB_URL
    COURSE_HUB_STATE   private folder (mode 0700) of the hub's database and cookie secret, and local mode's homes
                       (default: /var/lib/course-hub in server mode, deploy/state in local mode)
    COURSE_HUB_IDLE    seconds without activity before a student's server is stopped (default 3600, 600 to 86400)
    COURSE_CPU         cores per student (default 1, 0.1 to 256; deploy/README.md says how to size it)
    COURSE_MEM         memory per student (default 3G, 1G to 1024G)
    COURSE_BOARD_PORT  the class board's port on 127.0.0.1 (default 8181, 1024 to 65535): a service of the hub at
                       /services/course-board/, its runs in COURSE_BOARD_DB (default: board.sqlite in COURSE_HUB_STATE)
    COURSE_HUB_PASSWORD    local mode only: one shared password for a trial, at least 8 characters (default: none,
                           any name and any password, on a loopback address only)
    COURSE_HUB_API_TOKEN   a token (32 characters or more) for a service with admin rights over users and servers
                           (tests, benchmarks); leave it unset on a class's hub
"""
import grp
import importlib.util
import ipaddress
import json
import logging
import os
import pwd
import re
import resource
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from jupyterhub.spawner import SimpleLocalProcessSpawner

ROOT = Path(__file__).resolve().parents[1]          # the course's repository
NOTEBOOKS = ROOT / "notebooks"
COPIER = ROOT / "deploy" / "course_copy.py"
BIN = Path(sys.executable).parent                   # the environment the hub runs in: the course's .venv
# The copy runs as the student: with the system's Python, which every account can run (the hub's own may sit in a
# folder only its owner reads); course_copy.py needs the standard library alone.
COPY_PYTHON = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable
USERNAME_PATTERN = r"^[a-z][a-z0-9_-]{0,31}$"        # Unix-style names: lower case, at most 32 characters
LOG = logging.getLogger("JupyterHub")

_spec = importlib.util.spec_from_file_location("course_copy", COPIER)
course_copy = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(course_copy)

MODE = os.environ.get("COURSE_HUB_MODE", "server")
if MODE not in ("server", "local"):
    raise ValueError(f"COURSE_HUB_MODE must be 'server' or 'local', got {MODE!r}")


def number(name, default, low, high, unit=""):
    """The environment's `name` as a number from `low` to `high`, else a ValueError naming it and the range."""
    text = os.environ.get(name, default)
    try:
        value = float(text)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise ValueError(f"{name} must be a number{unit} from {low:g} to {high:g}, got {text!r}")
    return value


def memory(name, default):
    """The environment's `name` as a size such as 3G, from 1G to 1024G (JupyterHub's form, which it parses)."""
    text = os.environ.get(name, default)
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([KMGT])", text)
    size = float(match[1]) * 1024 ** "KMGT".index(match[2]) / 1024 ** 2 if match else None  # in G
    if size is None or not 1 <= size <= 1024:
        raise ValueError(f"{name} must be a size such as 3G or 1536M, from 1G to 1024G, got {text!r}")
    return text


def listen_url(text):
    """COURSE_HUB_URL checked: (its scheme, True when only this machine can reach it)."""
    parts = urlsplit(text)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme not in ("http", "https") or port is None or parts.path not in ("", "/"):
        raise ValueError(f"COURSE_HUB_URL must be http://HOST:PORT or https://HOST:PORT, got {text!r}")
    host = parts.hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:  # a name, or empty: every interface
        loopback = False
    return parts.scheme, loopback


def private_folder(path):
    """Make `path` a folder only the hub's user can enter (mode 0700)."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    owner = path.stat().st_uid
    if owner != os.getuid():
        raise ValueError(f"COURSE_HUB_STATE {path} belongs to uid {owner}, not to the hub's user (uid {os.getuid()})")
    os.chmod(path, 0o700)
    return path


def names(variable):
    """A comma-separated list of user names from the environment, each checked against USERNAME_PATTERN."""
    found = [n.strip() for n in os.environ.get(variable, "").split(",") if n.strip()]
    for name in found:
        if not re.fullmatch(USERNAME_PATTERN, name):
            raise ValueError(f"{variable} must be comma-separated user names (lower-case letters, digits, _ and -, "
                             f"at most 32 characters, starting with a letter), got {name!r}")
    return set(found)


URL = os.environ.get("COURSE_HUB_URL", "http://127.0.0.1:8000")
SCHEME, LOOPBACK = listen_url(URL)
STATE = private_folder(Path(os.environ.get("COURSE_HUB_STATE",
                                           "/var/lib/course-hub" if MODE == "server" else ROOT / "deploy" / "state")))
IDLE = int(number("COURSE_HUB_IDLE", "3600", 600, 86400, " of seconds"))

c = get_config()  # noqa: F821  (defined by JupyterHub when it loads this file)
c.JupyterHub.bind_url = URL
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.ConfigurableHTTPProxy.pid_file = str(STATE / "jupyterhub-proxy.pid")
c.JupyterHub.cleanup_servers = True
c.Authenticator.username_pattern = USERNAME_PATTERN
c.Authenticator.admin_users = names("COURSE_HUB_ADMINS")

cert, key = os.environ.get("COURSE_HUB_SSL_CERT"), os.environ.get("COURSE_HUB_SSL_KEY")
if bool(cert) != bool(key):
    raise ValueError("COURSE_HUB_SSL_CERT and COURSE_HUB_SSL_KEY go together: set both (the certificate chain and "
                     "its private key) or neither")
if cert:
    for variable, path in (("COURSE_HUB_SSL_CERT", cert), ("COURSE_HUB_SSL_KEY", key)):
        if not Path(path).is_file():
            raise ValueError(f"{variable} must name a file, got {path!r}")
    if SCHEME != "https":
        raise ValueError(f"COURSE_HUB_URL must start with https:// when COURSE_HUB_SSL_CERT is set, got {URL!r}")
    c.JupyterHub.ssl_cert, c.JupyterHub.ssl_key = cert, key
elif SCHEME == "https":
    raise ValueError(f"COURSE_HUB_URL {URL!r} is https://: set COURSE_HUB_SSL_CERT and COURSE_HUB_SSL_KEY")

# Each student: one server, JupyterLab on the first notebook, torch on one thread (helpers.THREADS), the same
# numbers as `make` gives (AVX2 kernels), at most COURSE_CPU cores and COURSE_MEM memory.
c.Spawner.cmd = [str(BIN / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab/tree/course/01_introduction.ipynb"
c.Spawner.cpu_limit = number("COURSE_CPU", "1", 0.1, 256, " of cores")
c.Spawner.mem_limit = memory("COURSE_MEM", "3G")
c.Spawner.environment = {"PATH": f"{BIN}:/usr/local/bin:/usr/bin:/bin", "PYTHONHASHSEED": "0",
                         "ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "OMP_NUM_THREADS": "1",
                         "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
c.Spawner.http_timeout = 60
c.Spawner.start_timeout = 120
c.Spawner.args = []

# Idle servers are stopped (their kernels' memory comes back): jupyterhub-idle-culler as a service of the hub, with
# the scopes its README lists and nothing more.
c.JupyterHub.services = [{"name": "idle-culler",
                          "command": [sys.executable, "-m", "jupyterhub_idle_culler", f"--timeout={IDLE}"]}]
c.JupyterHub.load_roles = [{"name": "idle-culler", "services": ["idle-culler"],
                            "scopes": ["list:users", "read:users:activity", "read:servers", "delete:servers"]}]

# The class board (deploy/board/, deploy/README.md): a service of the hub that collects the amnesia panels' shared
# runs. Every user may reach it, and so may the token of their server (the kernels' JUPYTERHUB_API_TOKEN, with which
# helpers.board shares); the board reads users (is this one an admin?) and nothing more.
BOARD = "course-board"
BOARD_PORT = int(number("COURSE_BOARD_PORT", "8181", 1024, 65535))
BOARD_URL = f"http://127.0.0.1:{BOARD_PORT}"
BOARD_DB = os.environ.get("COURSE_BOARD_DB", f"sqlite:///{STATE / 'board.sqlite'}")
c.JupyterHub.services.append({"name": BOARD, "url": BOARD_URL, "oauth_no_confirm": True,
                              "command": [sys.executable, str(ROOT / "deploy" / "board" / "server.py")],
                              "environment": {"COURSE_BOARD_DB": BOARD_DB, "COURSE_BOARD_PORT": str(BOARD_PORT)}})
c.JupyterHub.load_roles += [{"name": BOARD, "services": [BOARD], "scopes": ["read:users"]},
                            {"name": "user", "scopes": ["self", f"access:services!service={BOARD}"]}]
c.Spawner.server_token_scopes = ["users:activity!user", "access:servers!server", f"access:services!service={BOARD}"]
c.Spawner.environment["COURSE_BOARD_URL"] = f"{BOARD_URL}/services/{BOARD}/"


def copy_course(home):
    """The course's notebooks into `home`/course (made when missing), as this process's user: new ones are added, a
    student's own files are never touched (deploy/course_copy.py)."""
    Path(home).mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        copied, kept = course_copy.copy_course(NOTEBOOKS, home)
        LOG.info("course copied into %s: %d new, %d kept", home, len(copied), len(kept))
    except NotADirectoryError as error:
        LOG.warning("%s", error)
    return Path(home) / "course"


class CourseLocalSpawner(SimpleLocalProcessSpawner):
    """Local mode: servers run as the hub's own user, in STATE/homes/<name>, memory capped by RLIMIT_DATA (a process
    spawner cannot cap CPU time; `cpu_limit` reaches the server as CPU_LIMIT and torch uses one thread)."""

    def make_preexec_fn(self, name):
        """Make the home and cap the memory the server and its kernels may allocate: run in the child before it
        starts."""
        setup = super().make_preexec_fn(name)
        limit = int(self.mem_limit) if self.mem_limit else None  # bytes: JupyterHub parses '3G'

        def preexec():
            setup()
            if limit:
                resource.setrlimit(resource.RLIMIT_DATA, (limit, limit))  # heap and anonymous maps
        return preexec

    async def start(self):
        copy_course(self.home_dir)
        return await super().start()


def uid_min():
    """The first uid of ordinary accounts (UID_MIN in /etc/login.defs, else 1000)."""
    try:
        found = re.search(r"^UID_MIN\s+(\d+)", Path("/etc/login.defs").read_text(), re.MULTILINE)
    except OSError:
        found = None
    return int(found[1]) if found else 1000


def student_account(name, group):
    """The Unix account of student `name`: it must exist, be an ordinary account and belong to `group`."""
    try:
        user = pwd.getpwnam(name)
    except KeyError:
        raise PermissionError(f"{name!r} has no Unix account on this machine (useradd --create-home {name})") from None
    if user.pw_uid < uid_min():
        raise PermissionError(f"{name!r} is a system account (uid {user.pw_uid}): no server runs as it")
    try:
        gid = grp.getgrnam(group).gr_gid
    except KeyError:
        raise ValueError(f"COURSE_HUB_GROUP {group!r} is not a group on this machine (groupadd {group})") from None
    if gid not in os.getgrouplist(name, user.pw_gid):
        raise PermissionError(f"{name!r} is not in the class's group {group!r} (usermod -aG {group} {name})")
    return user


def pre_spawn_hook(spawner):
    """Server mode, before a student's server starts: copy the course into their home as the student themself (their
    uid and gid, no other group, umask 077), so no link they planted can make root read or write anything."""
    user = student_account(spawner.user.name, GROUP)
    run = subprocess.run([COPY_PYTHON, "-I", str(COPIER), str(NOTEBOOKS), user.pw_dir],
                         user=user.pw_uid, group=user.pw_gid, extra_groups=[], umask=0o077, cwd="/",
                         env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": user.pw_dir},
                         capture_output=True, text=True, timeout=120)
    if run.returncode == course_copy.NOT_A_FOLDER:
        LOG.warning("%s: %s", user.pw_name, run.stderr.strip())
    elif run.returncode != 0:
        raise RuntimeError(f"copying the course into {user.pw_dir} failed: {run.stderr.strip()[-2000:]}")
    else:
        done = json.loads(run.stdout)
        LOG.info("course copied into %s: %d new, %d kept", user.pw_dir, len(done["copied"]), len(done["kept"]))


GROUP = os.environ.get("COURSE_HUB_GROUP", "students")
AUTH = os.environ.get("COURSE_HUB_AUTH")
OAUTH_SETTINGS = ("OAUTH_CLIENT_ID", "OAUTH_CLIENT_SECRET", "OAUTH_CALLBACK_URL", "OAUTH2_AUTHORIZE_URL",
                  "OAUTH2_TOKEN_URL", "OAUTH2_USERDATA_URL")

if MODE == "local":
    if AUTH:
        raise ValueError(f"COURSE_HUB_AUTH is for server mode; local mode takes COURSE_HUB_PASSWORD, got {AUTH!r}")
    if c.Authenticator.admin_users:
        raise ValueError("COURSE_HUB_ADMINS is for server mode: local mode's logins have no password of their own, "
                         "so an admin's name would be anyone's")
    password = os.environ.get("COURSE_HUB_PASSWORD")
    if password:  # one password for the class, any user name: a trial, never a graded class
        if len(password) < 8:
            raise ValueError(f"COURSE_HUB_PASSWORD must be at least 8 characters, got {len(password)}")
        c.JupyterHub.authenticator_class = "shared-password"
        c.SharedPasswordAuthenticator.user_password = password
    elif not LOOPBACK:
        raise ValueError(f"COURSE_HUB_URL {URL!r} is reachable from other machines, and local mode without "
                         "COURSE_HUB_PASSWORD lets any name in with any password: set COURSE_HUB_PASSWORD "
                         "(8 characters or more) or listen on 127.0.0.1")
    else:         # any name, any password: a trial on one's own machine, reachable from it alone
        c.JupyterHub.authenticator_class = "dummy"
    if os.getuid() == 0:  # a container's root: the servers run as the hub's user
        if not LOOPBACK:
            raise ValueError(f"local mode as root on COURSE_HUB_URL {URL!r}, an address other machines reach, "
                             "would make every student root: run it as an ordinary user, or use server mode")
        c.Spawner.args.append("--allow-root")
    c.JupyterHub.spawner_class = CourseLocalSpawner
    c.CourseLocalSpawner.home_dir_template = str(STATE / "homes" / "{username}")
    c.Authenticator.allow_all = True
else:
    if not LOOPBACK and SCHEME != "https":
        raise ValueError(f"COURSE_HUB_URL {URL!r} is plain http on an address other machines reach: the students' "
                         "passwords would cross the network in clear. Set COURSE_HUB_SSL_CERT and COURSE_HUB_SSL_KEY "
                         "with an https:// URL (deploy/README.md), or listen on 127.0.0.1 behind an HTTPS proxy")
    AUTH = AUTH or "pam"
    if AUTH == "pam":        # the students' Unix passwords; members of the class's group only
        c.JupyterHub.authenticator_class = "pam"
        c.PAMAuthenticator.allowed_groups = {GROUP}
        c.Authenticator.allow_all = False
    elif AUTH == "native":   # accounts made at /hub/signup, each approved by an admin at /hub/authorize
        c.JupyterHub.authenticator_class = "native"
        c.NativeAuthenticator.open_signup = False
        c.NativeAuthenticator.minimum_password_length = 10
        c.NativeAuthenticator.check_common_password = True
        c.NativeAuthenticator.allowed_failed_logins = 5
        c.NativeAuthenticator.seconds_before_next_try = 600
        c.Authenticator.allow_all = True  # the admin's approval is the gate; the server needs the Unix group too
    elif AUTH == "oauth":    # the institution's login (pip install oauthenticator), read from its OAUTH_* variables
        missing = [v for v in OAUTH_SETTINGS if not os.environ.get(v)]
        if missing:
            raise ValueError(f"COURSE_HUB_AUTH 'oauth' needs {', '.join(missing)} (deploy/README.md)")
        c.JupyterHub.authenticator_class = "generic-oauth"
        c.Authenticator.allow_all = True  # the institution decides who logs in; the server needs the Unix group too
    elif AUTH == "shared":
        raise ValueError("COURSE_HUB_AUTH 'shared' is refused in server mode: with one class password anyone can log "
                         "in under a classmate's name. Use 'pam', 'native' or 'oauth' (local mode has it for a trial)")
    else:
        raise ValueError(f"COURSE_HUB_AUTH must be 'pam', 'native' or 'oauth', got {AUTH!r}")
    # systemd puts every server in its own unit: CPUQuota and MemoryMax from cpu_limit and mem_limit, a private
    # /tmp, NoNewPrivileges (no sudo, no setuid programs), at most 256 tasks.
    c.JupyterHub.spawner_class = "systemdspawner.SystemdSpawner"
    c.SystemdSpawner.isolate_tmp = True
    c.SystemdSpawner.disable_user_sudo = True
    c.SystemdSpawner.unit_extra_properties = {"TasksMax": "256"}
    c.Spawner.pre_spawn_hook = pre_spawn_hook

token = os.environ.get("COURSE_HUB_API_TOKEN")
if token:  # a service that creates students, starts their servers and reaches them (the test and the benchmark)
    if len(token) < 32:
        raise ValueError("COURSE_HUB_API_TOKEN must be at least 32 characters (openssl rand -hex 32), "
                         f"got {len(token)}")
    c.JupyterHub.services.append({"name": "course-admin", "api_token": token})
    c.JupyterHub.load_roles.append({"name": "course-admin", "services": ["course-admin"],
                                    "scopes": ["admin:users", "admin:servers", "tokens", "access:servers",
                                               "list:users", f"access:services!service={BOARD}"]})
