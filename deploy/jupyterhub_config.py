"""JupyterHub for a class: every student logs in, gets a copy of the course's notebooks in their home and a kernel
with the course's environment, within a CPU and memory limit.

    jupyterhub -f deploy/jupyterhub_config.py     (from the repository root, after `make lab` or `make test` set up .venv)

Settings come from the environment, so one file serves a real server and the test:

    COURSE_HUB_MODE    "server" (default): PAM logins (the machine's users), SystemdSpawner (limits enforced by
                       systemd); "local": any name logs in (with COURSE_HUB_PASSWORD when it is set), servers run as
                       this user with homes under COURSE_HUB_STATE/homes (a trial run, tests/test_hub.py; no isolation)
    COURSE_HUB_URL     where the hub listens (default http://127.0.0.1:8000)
    COURSE_HUB_STATE   folder of the hub's database, cookie secret and (local mode) the homes (default deploy/state)
    COURSE_CPU         cores per student (default 1; deploy/README.md says how to size it)
    COURSE_MEM         memory per student (default 3G)
    COURSE_HUB_PASSWORD    local mode's shared password, at least 8 characters (default: none, any password)
    COURSE_HUB_API_TOKEN   a token for a service with admin rights over users and servers (tests, benchmarks)
"""
import os
import resource
import shutil
import sys
from pathlib import Path

from jupyterhub.spawner import SimpleLocalProcessSpawner

ROOT = Path(__file__).resolve().parents[1]          # the course's repository
NOTEBOOKS = ROOT / "notebooks"
MODE = os.environ.get("COURSE_HUB_MODE", "server")
STATE = Path(os.environ.get("COURSE_HUB_STATE", ROOT / "deploy" / "state"))
BIN = Path(sys.executable).parent                   # the environment the hub runs in: the course's .venv

c = get_config()  # noqa: F821  (defined by JupyterHub when it loads this file)
STATE.mkdir(parents=True, exist_ok=True)
c.JupyterHub.bind_url = os.environ.get("COURSE_HUB_URL", "http://127.0.0.1:8000")
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.ConfigurableHTTPProxy.pid_file = str(STATE / "jupyterhub-proxy.pid")
c.JupyterHub.cleanup_servers = True


# Each student: one server, JupyterLab on the first notebook, torch on one thread (helpers.THREADS), the same
# numbers as `make` gives (AVX2 kernels), at most COURSE_CPU cores and COURSE_MEM memory.
c.Spawner.cmd = [str(BIN / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab/tree/course/01_introduction.ipynb"
c.Spawner.cpu_limit = float(os.environ.get("COURSE_CPU", "1"))
c.Spawner.mem_limit = os.environ.get("COURSE_MEM", "3G")
c.Spawner.environment = {"PATH": f"{BIN}:/usr/local/bin:/usr/bin:/bin", "PYTHONHASHSEED": "0",
                         "ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2", "OMP_NUM_THREADS": "1",
                         "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
c.Spawner.http_timeout = 60
c.Spawner.start_timeout = 120
c.Spawner.args = ["--ServerApp.shutdown_no_activity_timeout=0"]


def copy_course(home):
    """The course's notebooks into `home`/course: new ones are added, a student's own changes are never overwritten."""
    target = Path(home) / "course"
    target.mkdir(parents=True, exist_ok=True)
    for notebook in sorted(NOTEBOOKS.glob("*.ipynb")) + [NOTEBOOKS / "GLOSSARY.md"]:
        if notebook.exists() and not (target / notebook.name).exists():
            shutil.copy2(notebook, target / notebook.name)
    return target


class CourseLocalSpawner(SimpleLocalProcessSpawner):
    """Local mode: servers run as the hub's own user, in STATE/homes/<name>, memory capped by RLIMIT_DATA (a process
    spawner cannot cap CPU time; `cpu_limit` reaches the server as CPU_LIMIT and torch uses one thread)."""

    def make_preexec_fn(self, name):
        """Make the home and cap the memory the server and its kernels may allocate: run in the child before it starts."""
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


if MODE == "local":
    password = os.environ.get("COURSE_HUB_PASSWORD")
    if password:  # one password for the class (at least 8 characters), any user name
        c.JupyterHub.authenticator_class = "shared-password"
        c.SharedPasswordAuthenticator.user_password = password
    else:         # any name, any password: a trial on one's own machine
        c.JupyterHub.authenticator_class = "dummy"
    c.JupyterHub.spawner_class = CourseLocalSpawner
    c.CourseLocalSpawner.home_dir_template = str(STATE / "homes" / "{username}")
    if os.getuid() == 0:  # a container's root: the servers run as the hub's user
        c.Spawner.args.append("--allow-root")
    c.Authenticator.allow_all = True
elif MODE == "server":
    # Real accounts: the machine's users log in with their passwords; systemd puts every server in its own cgroup
    # with CPUQuota and MemoryMax from cpu_limit and mem_limit (pip install jupyterhub-systemdspawner).
    c.JupyterHub.authenticator_class = "pam"
    c.JupyterHub.spawner_class = "systemdspawner.SystemdSpawner"
    c.SystemdSpawner.unit_extra_properties = {"TasksMax": "256"}
    c.Authenticator.allow_all = True
    c.Authenticator.admin_users = set(filter(None, os.environ.get("COURSE_HUB_ADMINS", "").split(",")))

    def pre_spawn_hook(spawner):
        """Copy the course into the student's home before their server starts (the home must exist: PAM users)."""
        import pwd
        user = pwd.getpwnam(spawner.user.name)
        target = copy_course(user.pw_dir)
        for path in [target, *target.iterdir()]:
            os.chown(path, user.pw_uid, user.pw_gid)
    c.Spawner.pre_spawn_hook = pre_spawn_hook
else:
    raise ValueError(f"COURSE_HUB_MODE must be 'server' or 'local', got {MODE!r}")

token = os.environ.get("COURSE_HUB_API_TOKEN")
if token:  # a service that creates students, starts their servers and reaches them (the test and the benchmark)
    c.JupyterHub.services = [{"name": "course-admin", "api_token": token}]
    c.JupyterHub.load_roles = [{"name": "course-admin", "services": ["course-admin"],
                                "scopes": ["admin:users", "admin:servers", "tokens", "access:servers", "list:users"]}]
