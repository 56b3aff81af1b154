"""The set-up `make` does before anything else: a .venv that cannot serve the course (made by a Python older than 3.11,
or whose Python no longer runs) is refused before any install, with the fix named; the course and the test tools are
two stamps (`make lab` installs requirements.txt only); TORCH=cpu takes torch from PyTorch's CPU-only index.
Nothing here installs anything: the refusals stop make first, and the rest is `make -n`."""
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHECK = ROOT / "tools" / "check_venv.sh"


def fake_python(path, version):
    """A stand-in interpreter at `path` that answers the version question with `version`, and nothing else."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho {version}\n")
    path.chmod(0o755)
    return path


def fake_venv(path, made_by, runs=True):
    """A .venv whose pyvenv.cfg names Python `made_by`; its python answers with that version, or is a dangling link."""
    (path / "bin").mkdir(parents=True)
    (path / "pyvenv.cfg").write_text(
        f"home = /opt/python/bin\ninclude-system-site-packages = false\nversion = {made_by}\n")
    if runs:
        fake_python(path / "bin" / "python", ".".join(made_by.split(".")[:2]))
    else:
        (path / "bin" / "python").symlink_to(path / "removed" / "python3.11")  # the Python it was made by is gone
    return path


def make(*args, dry=False):
    env = {k: v for k, v in os.environ.items() if k not in ("TORCH", "VENV", "PYTHON", "MAKEFLAGS")}
    return subprocess.run(["make", "--no-print-directory", "-C", str(ROOT), *(["-n"] if dry else []),
                           "JUPYTER_LAB=true", *args], capture_output=True, text=True, timeout=120, env=env)


def test_a_venv_made_by_an_older_python_is_refused_before_any_install(tmp_path):
    venv = fake_venv(tmp_path / ".venv", "3.10.13")
    run = make(f"VENV={venv}", "lab")
    assert run.returncode != 0
    assert f"{venv} was made by Python 3.10; the course needs Python 3.11 or newer" in run.stderr
    assert f"Fix: delete it, rm -rf {venv} (or make clean" in run.stderr
    assert "pip" not in run.stdout and not (venv / ".installed-course").exists()  # stopped before any install


def test_a_venv_whose_python_is_gone_is_refused_with_the_fix(tmp_path):
    venv = fake_venv(tmp_path / ".venv", "3.11.7", runs=False)
    run = make(f"VENV={venv}", "test")
    assert run.returncode != 0
    assert f"{venv} is broken: its Python does not run (pyvenv.cfg says it was made by Python 3.11.7)" in run.stderr
    assert f"rm -rf {venv}" in run.stderr and "pip" not in run.stdout


def test_a_too_old_python_for_a_new_venv_is_refused(tmp_path):
    python = fake_python(tmp_path / "python3.9", "3.9")
    run = make(f"VENV={tmp_path / 'new'}", f"PYTHON={python}", "lab")
    assert run.returncode != 0 and not (tmp_path / "new").exists()
    assert f"{python} is Python 3.9, too old" in run.stderr and "make lab PYTHON=/path/to/python3.12" in run.stderr


def test_the_venv_these_tests_run_in_passes_the_check():
    run = subprocess.run(["sh", str(CHECK), sys.prefix, sys.executable], capture_output=True, text=True)
    assert (run.returncode, run.stdout, run.stderr) == (0, "", "")


def installs(output):
    """The requirement files that `make -n` output would install, in order."""
    return re.findall(r"pip install --quiet -r (\S+)", output)


def test_lab_installs_the_course_only_and_test_adds_the_test_tools(tmp_path):
    venv = tmp_path / ".venv"
    for target in ("lab", "student", "html", "app"):
        dry = make(f"VENV={venv}", target, dry=True)
        assert dry.returncode == 0, dry.stderr
        assert installs(dry.stdout) == ["requirements.txt"], target
        assert dry.stdout.index("check_venv.sh") < dry.stdout.index(" -m venv ") < dry.stdout.index("pip install")
    dry = make(f"VENV={venv}", "test", dry=True).stdout
    assert installs(dry) == ["requirements.txt", "requirements-test.txt"]


def test_a_venv_with_the_former_single_stamp_is_brought_up_to_date(tmp_path):
    venv = fake_venv(tmp_path / ".venv", "3.11.7")
    (venv / ".installed").touch()  # what the former single stamp (requirements-test.txt installed) left
    assert installs(make(f"VENV={venv}", "lab", dry=True).stdout) == ["requirements.txt"]
    assert installs(make(f"VENV={venv}", "unit", dry=True).stdout) == ["requirements.txt", "requirements-test.txt"]


def test_torch_cpu_takes_the_cpu_only_index(tmp_path):
    venv = tmp_path / ".venv"
    plain = make(f"VENV={venv}", "lab", dry=True).stdout
    cpu = make(f"VENV={venv}", "lab", "TORCH=cpu", dry=True).stdout
    assert "download.pytorch.org" not in plain
    line = next(line for line in cpu.splitlines() if "download.pytorch.org" in line)
    assert "grep -m 1 '^torch==' requirements.txt" in line and line.endswith("--index-url https://download.pytorch.org/whl/cpu")
    assert cpu.index("whl/cpu") < cpu.index("-r requirements.txt")  # torch first, so requirements.txt keeps it
