"""Attacks on the class hub (deploy/jupyterhub_config.py): links a student plants in ~/course, a login under a
classmate's name, a local hub on a public address, and the server-mode settings that keep students apart.

The attacks on the server mode's copy make real Unix accounts (useradd) and run as root; elsewhere they skip."""
import asyncio
import os
import pwd
import re
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "deploy" / "jupyterhub_config.py"
NOTEBOOKS = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
as_root = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("useradd") is None,
                             reason="makes real student accounts (useradd, userdel): needs root")


def load_config(monkeypatch, state, **env):
    """deploy/jupyterhub_config.py as JupyterHub loads it, with `env` set: its config object and its namespace."""
    from traitlets.config import Config
    for name in [n for n in os.environ if n.startswith(("COURSE_", "OAUTH"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("COURSE_HUB_STATE", str(state))
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config = Config()
    namespace = {"get_config": lambda: config, "__file__": str(CONFIG)}
    exec(compile(CONFIG.read_text(), str(CONFIG), "exec"), namespace)
    return config, namespace


# -- accounts: a class group and its students, removed afterwards ------------------------------------------------

@pytest.fixture
def class_group():
    name = f"cls{secrets.token_hex(3)}"
    subprocess.run(["groupadd", name], check=True)
    yield name
    subprocess.run(["groupdel", name], check=False)


@pytest.fixture
def make_student():
    """make_student(group=None, password=None): a new Unix account with a home; every one is deleted (userdel -r)."""
    made = []

    def make(group=None, password=None):
        name = f"st{secrets.token_hex(3)}"
        subprocess.run(["useradd", "--create-home", "--shell", "/usr/sbin/nologin",
                        *(["--groups", group] if group else []), name], check=True)
        made.append(name)
        if password:
            subprocess.run(["chpasswd"], input=f"{name}:{password}", text=True, check=True)
        return pwd.getpwnam(name)
    yield make
    for name in made:
        subprocess.run(["userdel", "--remove", name], check=False, capture_output=True)


def as_student(user, script):
    """Run the shell `script` as `user` (their uid and gid only), in their home."""
    subprocess.run(["sh", "-ec", script], user=user.pw_uid, group=user.pw_gid, extra_groups=[], cwd=user.pw_dir,
                   env={"PATH": "/usr/bin:/bin", "HOME": user.pw_dir}, check=True)


def spawner_of(user):
    """What the pre_spawn_hook reads of JupyterHub's spawner: the user's name."""
    return SimpleNamespace(user=SimpleNamespace(name=user if isinstance(user, str) else user.pw_name))


@pytest.fixture
def outside():
    """A root-owned folder outside every home, standing in for /etc: files a student may read but not write, one
    only root reads, a sub-folder, and a name nobody but root could create."""
    top = Path(tempfile.mkdtemp(prefix="course-outside-", dir="/tmp"))
    top.chmod(0o755)
    (top / "passwd").write_text("root's file, readable by all\n")
    (top / "passwd").chmod(0o644)
    (top / "shadow").write_text("root's secret\n")
    (top / "shadow").chmod(0o600)
    (top / "etc").mkdir(mode=0o755)
    (top / "etc" / "hosts").write_text("127.0.0.1 localhost\n")
    yield top
    shutil.rmtree(top)


def snapshot(top):
    """Owner, group, mode and content of everything under `top`, itself included."""
    found = {}
    for path in [top, *sorted(top.rglob("*"))]:
        info = path.lstat()
        found[str(path.relative_to(top))] = (info.st_uid, info.st_gid, stat.filemode(info.st_mode),
                                            path.read_bytes() if stat.S_ISREG(info.st_mode) else None)
    return found


# -- the server mode's copy, attacked ---------------------------------------------------------------------------

@as_root
def test_links_planted_in_course_change_nothing_outside_the_home(tmp_path, monkeypatch, class_group, make_student,
                                                                 outside):
    _, namespace = load_config(monkeypatch, tmp_path / "state", COURSE_HUB_MODE="server", COURSE_HUB_GROUP=class_group)
    hook = namespace["pre_spawn_hook"]
    student = make_student(group=class_group)
    home = Path(student.pw_dir)
    hook(spawner_of(student))  # the first start: the whole course, the student's own, private
    course = home / "course"
    assert sorted(p.name for p in course.glob("*.ipynb")) == NOTEBOOKS and len(NOTEBOOKS) == 14
    for path in [course, *course.iterdir()]:
        info = path.lstat()
        assert (info.st_uid, info.st_gid) == (student.pw_uid, student.pw_gid), path
        assert stat.S_IMODE(info.st_mode) & 0o077 == 0, path

    before = snapshot(outside)
    own, gone, shadow_as, passwd_as, dangling_as = NOTEBOOKS[:5]
    as_student(student, f"""
        echo "my own work" > course/{own}
        rm course/{gone}
        rm course/{shadow_as} && ln -s {outside}/shadow course/{shadow_as}
        rm course/{passwd_as} && ln -s {outside}/passwd course/{passwd_as}
        rm course/{dangling_as} && ln -s {outside}/made-by-root.ipynb course/{dangling_as}
        ln -s {outside}/etc course/x
    """)
    hook(spawner_of(student))  # the next start

    assert snapshot(outside) == before  # owner, mode and content of every target, and nothing new there
    assert not (outside / "made-by-root.ipynb").exists()
    assert (course / own).read_text() == "my own work\n"
    assert (course / gone).read_bytes() == (ROOT / "notebooks" / gone).read_bytes()
    assert (course / gone).stat().st_uid == student.pw_uid
    for name, target in [(shadow_as, "shadow"), (passwd_as, "passwd"), (dangling_as, "made-by-root.ipynb"),
                         ("x", "etc")]:
        assert os.readlink(course / name) == str(outside / target)  # the student's links, kept as they made them
    assert not [p for p in course.iterdir() if p.name.endswith(".partial")]


@as_root
@pytest.mark.parametrize("course_is", ["a link to a folder outside", "a link to a file outside", "a file"])
def test_course_itself_not_a_folder_is_left_alone(tmp_path, monkeypatch, class_group, make_student, outside,
                                                  course_is):
    _, namespace = load_config(monkeypatch, tmp_path / "state", COURSE_HUB_MODE="server", COURSE_HUB_GROUP=class_group)
    student = make_student(group=class_group)
    plant = {"a link to a folder outside": f"ln -s {outside}/etc course",
             "a link to a file outside": f"ln -s {outside}/shadow course",
             "a file": "echo mine > course"}[course_is]
    as_student(student, plant)
    before = snapshot(outside)
    namespace["pre_spawn_hook"](spawner_of(student))  # the server still starts: nothing copied, nothing followed
    assert snapshot(outside) == before
    course = Path(student.pw_dir) / "course"
    assert course.is_symlink() or course.read_text() == "mine\n"


@as_root
def test_servers_only_for_the_class_s_ordinary_accounts(tmp_path, monkeypatch, class_group, make_student):
    _, namespace = load_config(monkeypatch, tmp_path / "state", COURSE_HUB_MODE="server", COURSE_HUB_GROUP=class_group)
    hook = namespace["pre_spawn_hook"]
    with pytest.raises(PermissionError, match="'root' is a system account"):
        hook(spawner_of("root"))
    with pytest.raises(PermissionError, match="'nobody0' has no Unix account"):
        hook(spawner_of("nobody0"))
    outsider = make_student()
    with pytest.raises(PermissionError, match=f"'{outsider.pw_name}' is not in the class's group '{class_group}'"):
        hook(spawner_of(outsider))
    assert not (Path(outsider.pw_dir) / "course").exists()


# -- logins: one per student ------------------------------------------------------------------------------------

def login(authenticator, name, password):
    """The hub's own login path (authenticate, name checks, allowed users): the user's name, or None if refused."""
    user = asyncio.run(authenticator.get_authenticated_user(None, {"username": name, "password": password}))
    return user and user["name"]


def test_native_logins_refuse_a_classmates_name(tmp_path, monkeypatch):
    from jupyterhub import orm
    from nativeauthenticator import NativeAuthenticator
    from nativeauthenticator.orm import UserInfo
    config, _ = load_config(monkeypatch, tmp_path / "state", COURSE_HUB_MODE="server", COURSE_HUB_AUTH="native")
    assert config.JupyterHub.authenticator_class == "native"
    db = orm.new_session_factory(f"sqlite:///{tmp_path / 'fresh.sqlite'}")()
    auth = NativeAuthenticator(config=config, _deprecated_db_session=db)

    assert auth.create_user("asha", "asha-own-secret") and auth.create_user("bala", "bala-own-secret")
    assert login(auth, "asha", "asha-own-secret") is None  # signed up, not yet approved by the teacher
    for name in ("asha", "bala"):  # the teacher approves both at /hub/authorize
        UserInfo.change_authorization(db, name)
    assert login(auth, "asha", "asha-own-secret") == "asha"
    assert login(auth, "bala", "asha-own-secret") is None      # a classmate's name with one's own password
    assert login(auth, "bala", "course-password") is None      # ... or with a class password
    assert login(auth, "chitra", "asha-own-secret") is None    # a name nobody signed up
    assert auth.create_user("chitra", "short") is None         # a weak password is refused at sign-up
    assert auth.create_user("Chitra/Admin", "long-enough-secret") is None  # and a name outside username_pattern


@as_root
def test_pam_logins_refuse_a_classmates_name_and_outsiders(tmp_path, monkeypatch, class_group, make_student):
    from jupyterhub.auth import PAMAuthenticator
    config, _ = load_config(monkeypatch, tmp_path / "state", COURSE_HUB_MODE="server", COURSE_HUB_GROUP=class_group)
    assert config.JupyterHub.authenticator_class == "pam"
    auth = PAMAuthenticator(config=config)
    asha = make_student(group=class_group, password="asha-unix-secret-1")
    bala = make_student(group=class_group, password="bala-unix-secret-1")
    outsider = make_student(password="outsider-secret-1")  # an account on the machine, not in the class
    assert login(auth, asha.pw_name, "asha-unix-secret-1") == asha.pw_name
    assert login(auth, bala.pw_name, "asha-unix-secret-1") is None
    assert login(auth, outsider.pw_name, "outsider-secret-1") is None


def test_server_mode_has_no_shared_password(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="COURSE_HUB_AUTH 'shared' is refused in server mode"):
        load_config(monkeypatch, tmp_path / "state", COURSE_HUB_MODE="server", COURSE_HUB_AUTH="shared")
    with pytest.raises(ValueError, match="COURSE_HUB_AUTH must be 'pam', 'native' or 'oauth', got 'ldap'"):
        load_config(monkeypatch, tmp_path / "state", COURSE_HUB_MODE="server", COURSE_HUB_AUTH="ldap")
    with pytest.raises(ValueError, match="COURSE_HUB_AUTH 'oauth' needs OAUTH_CLIENT_SECRET, OAUTH2_USERDATA_URL"):
        load_config(monkeypatch, tmp_path / "state", COURSE_HUB_MODE="server", COURSE_HUB_AUTH="oauth",
                    OAUTH_CLIENT_ID="course", OAUTH_CALLBACK_URL="https://hub.example.org/hub/oauth_callback",
                    OAUTH2_AUTHORIZE_URL="https://login.example.org/authorize",
                    OAUTH2_TOKEN_URL="https://login.example.org/token")
    with pytest.raises(ValueError, match="COURSE_HUB_AUTH is for server mode"):
        load_config(monkeypatch, tmp_path / "state", COURSE_HUB_MODE="local", COURSE_HUB_AUTH="native")


# -- a local hub on a public address, plain HTTP in server mode -------------------------------------------------

def start_hub(tmp_path, **env):
    """The real `jupyterhub -f deploy/jupyterhub_config.py` with `env`: (exit status, output). A hub that starts
    instead of refusing is stopped after 120 s and fails the test."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("COURSE_")}
    process = subprocess.run([sys.executable, "-m", "jupyterhub", "-f", str(CONFIG)], cwd=tmp_path, timeout=120,
                             env={**clean, "COURSE_HUB_STATE": str(tmp_path / "state"), **env},
                             capture_output=True, text=True)
    return process.returncode, process.stdout + process.stderr


def test_local_mode_on_a_public_address_needs_a_password(tmp_path):
    status, output = start_hub(tmp_path, COURSE_HUB_MODE="local", COURSE_HUB_URL="http://0.0.0.0:18000")
    assert status != 0
    assert "ValueError: COURSE_HUB_URL 'http://0.0.0.0:18000' is reachable from other machines" in output
    assert "set COURSE_HUB_PASSWORD" in output


@pytest.mark.skipif(os.geteuid() != 0, reason="local mode's refusal of root on a public address: run as root")
def test_local_mode_as_root_on_a_public_address_is_refused(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="local mode as root on COURSE_HUB_URL 'http://192.0.2.7:8000'"):
        load_config(monkeypatch, tmp_path / "state", COURSE_HUB_MODE="local", COURSE_HUB_URL="http://192.0.2.7:8000",
                    COURSE_HUB_PASSWORD="class-trial-pw")


def test_local_mode_settings_that_are_refused(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="COURSE_HUB_PASSWORD must be at least 8 characters, got 5"):
        load_config(monkeypatch, tmp_path / "state", COURSE_HUB_MODE="local", COURSE_HUB_PASSWORD="short")
    with pytest.raises(ValueError, match="COURSE_HUB_ADMINS is for server mode"):
        load_config(monkeypatch, tmp_path / "state", COURSE_HUB_MODE="local", COURSE_HUB_ADMINS="teacher")
    config, _ = load_config(monkeypatch, tmp_path / "state", COURSE_HUB_MODE="local",
                            COURSE_HUB_URL="http://localhost:8000")
    assert config.JupyterHub.authenticator_class == "dummy"  # any name, on this machine alone


def test_server_mode_refuses_plain_http_on_a_public_address(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="COURSE_HUB_URL 'http://0.0.0.0:8000' is plain http on an address other "
                                         "machines reach"):
        load_config(monkeypatch, tmp_path / "state", COURSE_HUB_MODE="server", COURSE_HUB_URL="http://0.0.0.0:8000")
    cert, key = tmp_path / "fullchain.pem", tmp_path / "privkey.pem"
    with pytest.raises(ValueError, match="COURSE_HUB_SSL_CERT and COURSE_HUB_SSL_KEY go together"):
        load_config(monkeypatch, tmp_path / "state", COURSE_HUB_MODE="server", COURSE_HUB_URL="https://0.0.0.0:443",
                    COURSE_HUB_SSL_CERT=str(cert))
    with pytest.raises(ValueError, match="COURSE_HUB_SSL_CERT must name a file, got"):
        load_config(monkeypatch, tmp_path / "state", COURSE_HUB_MODE="server", COURSE_HUB_URL="https://0.0.0.0:443",
                    COURSE_HUB_SSL_CERT=str(cert), COURSE_HUB_SSL_KEY=str(key))
    cert.write_text("certificate")
    key.write_text("key")
    with pytest.raises(ValueError, match="COURSE_HUB_URL must start with https:// when COURSE_HUB_SSL_CERT is set"):
        load_config(monkeypatch, tmp_path / "state", COURSE_HUB_MODE="server", COURSE_HUB_URL="http://0.0.0.0:443",
                    COURSE_HUB_SSL_CERT=str(cert), COURSE_HUB_SSL_KEY=str(key))
    with pytest.raises(ValueError, match="COURSE_HUB_URL 'https://0.0.0.0:443' is https://: set COURSE_HUB_SSL_CERT"):
        load_config(monkeypatch, tmp_path / "state", COURSE_HUB_MODE="server", COURSE_HUB_URL="https://0.0.0.0:443")
    config, _ = load_config(monkeypatch, tmp_path / "state", COURSE_HUB_MODE="server",
                            COURSE_HUB_URL="https://0.0.0.0:443", COURSE_HUB_SSL_CERT=str(cert),
                            COURSE_HUB_SSL_KEY=str(key))
    assert (config.JupyterHub.ssl_cert, config.JupyterHub.ssl_key) == (str(cert), str(key))


# -- what contains each student in server mode; the culler in every mode ----------------------------------------

CULLER_SCOPES = ["list:users", "read:users:activity", "read:servers", "delete:servers"]  # its README's list


@pytest.mark.parametrize("mode", ["server", "local"])
def test_every_mode_culls_idle_servers_and_keeps_its_state_private(tmp_path, monkeypatch, mode):
    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    config, _ = load_config(monkeypatch, state, COURSE_HUB_MODE=mode, COURSE_HUB_IDLE="1800")
    culler = [s for s in config.JupyterHub.services if s["name"] == "idle-culler"]
    assert len(culler) == 1
    assert culler[0]["command"] == [sys.executable, "-m", "jupyterhub_idle_culler", "--timeout=1800"]
    role = [r for r in config.JupyterHub.load_roles if r["name"] == "idle-culler"]
    assert role == [{"name": "idle-culler", "services": ["idle-culler"], "scopes": CULLER_SCOPES}]
    assert "--ServerApp.shutdown_no_activity_timeout=0" not in config.Spawner.args
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert config.Authenticator.username_pattern == r"^[a-z][a-z0-9_-]{0,31}$"
    import jupyterhub_idle_culler  # noqa: F401  (the service's module is installed)


def test_server_mode_contains_each_student(tmp_path, monkeypatch):
    from systemdspawner import SystemdSpawner
    config, _ = load_config(monkeypatch, tmp_path / "state", COURSE_HUB_MODE="server", COURSE_HUB_ADMINS="teacher, ta")
    assert config.JupyterHub.spawner_class == "systemdspawner.SystemdSpawner"
    assert (config.SystemdSpawner.isolate_tmp, config.SystemdSpawner.disable_user_sudo) == (True, True)
    assert config.SystemdSpawner.unit_extra_properties == {"TasksMax": "256"}
    spawner_settings = set(SystemdSpawner.class_trait_names(config=True))
    assert set(config.SystemdSpawner) <= spawner_settings  # every setting is one SystemdSpawner has
    assert config.Authenticator.admin_users == {"teacher", "ta"}
    assert config.PAMAuthenticator.allowed_groups == {"students"} and config.Authenticator.allow_all is False
    assert "--allow-root" not in config.Spawner.args


def test_bad_settings_are_refused_by_name(tmp_path, monkeypatch):
    state = tmp_path / "state"
    cases = [({"COURSE_HUB_ADMINS": "teacher,Bad Name"}, "COURSE_HUB_ADMINS must be comma-separated user names"),
             ({"COURSE_HUB_IDLE": "60"}, "COURSE_HUB_IDLE must be a number of seconds from 600 to 86400, got '60'"),
             ({"COURSE_CPU": "0"}, "COURSE_CPU must be a number of cores from 0.1 to 256, got '0'"),
             ({"COURSE_MEM": "3"}, "COURSE_MEM must be a size such as 3G or 1536M, from 1G to 1024G, got '3'"),
             ({"COURSE_HUB_URL": "0.0.0.0:8000"}, "COURSE_HUB_URL must be http://HOST:PORT or https://HOST:PORT"),
             ({"COURSE_HUB_API_TOKEN": "abc"},
              "COURSE_HUB_API_TOKEN must be at least 32 characters (openssl rand -hex 32), got 3")]
    for env, message in cases:
        with pytest.raises(ValueError, match=re.escape(message)):
            load_config(monkeypatch, state, COURSE_HUB_MODE="server", **env)


@as_root
def test_state_of_another_user_is_refused(tmp_path, monkeypatch, make_student):
    student = make_student()
    state = Path(student.pw_dir) / "state"
    as_student(student, "mkdir state")
    with pytest.raises(ValueError, match=f"COURSE_HUB_STATE {state} belongs to uid {student.pw_uid}"):
        load_config(monkeypatch, state, COURSE_HUB_MODE="server")


def test_z2jh_ships_no_usable_password_and_per_student_logins():
    values = yaml.safe_load((ROOT / "deploy" / "z2jh" / "config.yaml").read_text())
    hub = values["hub"]["config"]
    assert hub["JupyterHub"]["authenticator_class"] == "native"
    assert hub["NativeAuthenticator"]["open_signup"] is False
    assert not hub.get("SharedPasswordAuthenticator", {}).get("user_password")
    assert values["cull"]["enabled"] is True
    assert values["proxy"]["https"]["enabled"] is True
