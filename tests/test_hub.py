"""A class on one machine: the course's JupyterHub (deploy/jupyterhub_config.py, local mode) with three students who
log in, run notebook 04's default experiment at once, survive one kernel killed mid-run, and meet the class's memory
limit in their kernels. The attacks on the hub's settings are in test_hub_security.py."""
import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from support.classroom import AMNESIA_RUN, CONFIG, proxy_command, running_hub

import helpers

ROOT = Path(__file__).resolve().parents[1]

needs_proxy = pytest.mark.skipif(proxy_command() is None,
                                 reason="configurable-http-proxy missing: `make hub-setup` installs it with npm")
STUDENTS = ("asha", "bala", "chitra")


def cpu_seconds(pid):
    """User + system CPU seconds of process `pid` so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid):
    """Command lines of the processes whose parent is `pid` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append((stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except (OSError, ValueError, IndexError):  # a process that ended meanwhile
            pass
    return found


def results_of(stdout):
    """The experiment's answer without its timings: accuracies and predictions."""
    out = json.loads(stdout)
    return {"accuracy": out["accuracy"], "predictions": out["predictions"]}


@pytest.fixture(scope="module")
def expected():
    """Notebook 04's default experiment run here, outside the hub: what every student must get."""
    r = helpers.amnesia_test(length=20, seed=0)
    return {"accuracy": r.accuracy, "predictions": r.predictions}


@pytest.fixture(scope="module")
def classroom(tmp_path_factory):
    """The course's hub (local mode, 3G per student) with three students logged in, each with a kernel."""
    with running_hub(tmp_path_factory.mktemp("hub") / "hub", mem="3G") as hub:
        students = [hub.student(name) for name in STUDENTS]
        for s in students:  # each login reaches its own server, with the course in its home
            assert s.page("/lab") == 200
            setup = "import os, helpers; print(os.getpid(), sorted(os.listdir(os.path.expanduser('~/course')))[3])"
            s.kernel = s.start_kernel()
            out, error = s.execute(s.kernel, setup)
            assert error is None, error
            pid, fourth = out.split()
            s.pid = int(pid)
            assert fourth == "04_amnesia_test.ipynb"
        yield hub, students


@pytest.mark.hub
@pytest.mark.slow
@needs_proxy
def test_three_students_run_at_once_and_survive_a_killed_kernel(classroom, expected):
    hub, students = classroom
    asha, bala, chitra = students
    assert any("jupyterhub_idle_culler --timeout=3600" in cmd for cmd in children(hub.process.pid))
    assert asha.session.get(f"{bala.base}/lab", timeout=60).status_code == 403  # not another student's server

    outcome = {}
    runs = [threading.Thread(target=lambda s=s: outcome.__setitem__(s.name, s.execute(s.kernel, AMNESIA_RUN)))
            for s in students]
    for t in runs:
        t.start()
    start = cpu_seconds(bala.pid)
    while cpu_seconds(bala.pid) - start < 0.5:  # bala's kernel is training: kill it there
        time.sleep(0.05)
    os.kill(bala.pid, signal.SIGKILL)
    for t in runs:
        t.join(300)

    assert outcome["bala"][1] == "kernel died"
    for name in ("asha", "chitra"):
        out, error = outcome[name]
        assert error is None, error
        assert results_of(out) == expected
    assert hub.alive()

    bala.server_api("post", f"/kernels/{bala.kernel}/restart")  # the student's restart button
    out, error = bala.execute(bala.kernel, AMNESIA_RUN)
    assert error is None, error
    assert results_of(out) == expected
    assert hub.alive()


@pytest.mark.hub
@pytest.mark.slow
@needs_proxy
def test_a_students_kernel_is_held_to_the_class_limits(classroom):
    """Local mode's limits as a kernel meets them: past COURSE_MEM (3G) an allocation fails with MemoryError and
    the kernel lives on; torch computes on one thread (a process spawner cannot cap CPU time)."""
    _, (asha, *_) = classroom
    out, error = asha.execute(asha.kernel, "small = bytearray(256 * 2**20); print(len(small) // 2**20)")
    assert (out.strip(), error) == ("256", None)  # well within the limit: allowed
    out, error = asha.execute(asha.kernel, "big = bytearray(4 * 2**30)")  # 4 GiB, past the 3 GiB limit
    assert error is not None and error.startswith("MemoryError"), (out, error)
    out, error = asha.execute(asha.kernel, "import torch; print(len(small) // 2**20, torch.get_num_threads())")
    assert (out.split(), error) == (["256", "1"], None)  # the same kernel, still alive, on one thread


def load_config(mode, state, monkeypatch):
    """deploy/jupyterhub_config.py as JupyterHub loads it, for `mode`: its config object and its namespace."""
    from traitlets.config import Config
    monkeypatch.setenv("COURSE_HUB_MODE", mode)
    monkeypatch.setenv("COURSE_HUB_STATE", str(state))
    config = Config()
    namespace = {"get_config": lambda: config, "__file__": str(CONFIG)}
    exec(compile(CONFIG.read_text(), str(CONFIG), "exec"), namespace)
    return config, namespace


def test_the_course_is_copied_in_and_a_students_changes_are_kept(tmp_path, monkeypatch):
    _, namespace = load_config("local", tmp_path / "state", monkeypatch)
    home = tmp_path / "home"
    target = namespace["copy_course"](home)
    names = sorted(p.name for p in target.glob("*.ipynb"))
    assert names == sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb")) and len(names) == 14
    (target / names[0]).write_text("a student's own work")
    (target / names[1]).unlink()
    namespace["copy_course"](home)  # the next server start
    assert (target / names[0]).read_text() == "a student's own work" and (target / names[1]).exists()


def test_server_mode_hands_its_limits_to_systemd(tmp_path, monkeypatch):
    """The configuration only: systemd enforces these (CPUQuota, MemoryMax), which a test here cannot start."""
    monkeypatch.setenv("COURSE_CPU", "2")
    monkeypatch.setenv("COURSE_MEM", "4G")
    config, _ = load_config("server", tmp_path / "state", monkeypatch)
    assert config.JupyterHub.spawner_class == "systemdspawner.SystemdSpawner"
    assert config.JupyterHub.authenticator_class == "pam"
    assert (config.Spawner.cpu_limit, config.Spawner.mem_limit) == (2.0, "4G")
    assert callable(config.Spawner.pre_spawn_hook)
    with pytest.raises(ValueError, match="COURSE_HUB_MODE must be 'server' or 'local', got 'cloud'"):
        load_config("cloud", tmp_path / "state", monkeypatch)
