"""Binder-ready (repo2docker's conventions): its files at the root, and `pip install -r requirements.txt` in a fresh
virtual environment is enough to run a notebook from the notebooks/ folder."""
import os
import stat
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_the_files_repo2docker_reads():
    lines = [ln.split("#")[0].strip() for ln in (ROOT / "requirements.txt").read_text().splitlines()]
    assert "-e ." in lines, "requirements.txt must install the helpers package itself (repo2docker runs it at the root)"
    assert (ROOT / "runtime.txt").read_text().strip() == "python-3.11"
    assert "fonts-lohit-taml" in (ROOT / "apt.txt").read_text().split()
    start = ROOT / "start"
    assert start.stat().st_mode & stat.S_IXUSR, "start must be executable"
    text = start.read_text()
    assert 'exec "$@"' in text
    for setting in ("PYTHONHASHSEED=0", "ATEN_CPU_CAPABILITY=avx2", "ONEDNN_MAX_CPU_ISA=AVX2"):  # as `make` sets
        assert setting in text and setting.split("=")[0] in (ROOT / "Makefile").read_text()
    assert not (ROOT / "binder").exists() and not (ROOT / "environment.yml").exists()  # they would shadow these


@pytest.mark.slow  # a fresh venv, torch and all from the network
def test_fresh_environment_from_requirements_runs_notebook_01(tmp_path):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = f"{venv / 'bin'}:{env['PATH']}"
    install = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
                              "--disable-pip-version-check", "-r", "requirements.txt"],
                             cwd=ROOT, env=env, capture_output=True, text=True)
    assert install.returncode == 0, install.stderr[-3000:]
    where = subprocess.run([str(venv / "bin" / "python"), "-c",
                            "import helpers, sys; print(helpers.__file__, sys.prefix)"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, check=True).stdout.split()
    assert where == [str(ROOT / "helpers" / "__init__.py"), str(venv)]  # this checkout's helpers, in the new venv

    out = tmp_path / "01_executed.ipynb"
    run = subprocess.run([str(venv / "bin" / "jupyter"), "nbconvert", "--to", "notebook", "--execute",
                          "--ExecutePreprocessor.timeout=600", "--output", str(out), "01_introduction.ipynb"],
                         cwd=ROOT / "notebooks", env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    cells = nbformat.read(out, as_version=4).cells
    text = "".join(o.get("text", "") for c in cells if c.cell_type == "code" for o in c.outputs)
    assert not [o for c in cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert "FAIL" not in text and "OK    torch" in text and "Transformer" in text

