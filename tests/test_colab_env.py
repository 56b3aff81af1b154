"""Every notebook in a foreign environment, as on Colab: a fresh virtual environment with another torch (2.14.1) and
the other packages at their newest, the course NOT installed, google.colab stubbed, and each notebook run headless
from its Colab cell on. The cell installs the course with pip from "GitHub", which git is told to find in a copy of
this checkout (no network: git may use the file protocol only). Not nbval: numbers may differ; no cell may fail, so
every assert holds."""
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from test_colab import make_colab_stub, notebooks, setup_source

ROOT = Path(__file__).resolve().parents[1]
TORCH = "2.14.1"  # requirements.txt pins another
# What Colab brings on its own, here at the newest versions pip finds; nbclient and nbformat run the notebooks.
PACKAGES = [f"torch=={TORCH}", "numpy", "matplotlib", "seaborn", "ipywidgets", "ipykernel", "tqdm", "nbclient",
            "nbformat"]
VERSIONS = ("import importlib.metadata as m; print(', '.join(f'{p} {m.version(p)}' for p in "
            "('torch', 'numpy', 'matplotlib', 'seaborn', 'ipywidgets', 'ipykernel', 'tqdm')))")
NO_TORCH = ("No matching distribution found for torch==",
            "Could not find a version that satisfies the requirement torch==")


def clean_env(**extra):
    """The environment without this checkout's venv, paths or course settings (`make`'s too: Colab has none of
    them), plus `extra`."""
    drop = ("VIRTUAL_ENV", "PYTHONPATH", "JUPYTER_PATH", "JUPYTER_CONFIG_PATH", "COURSE_PANEL_MODE", "MPLBACKEND",
            "COURSE_COLAB_READY", "PYTHONHASHSEED", "ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA")
    return {**{k: v for k, v in os.environ.items() if k not in drop}, **extra}


def fresh_venv(folder):
    """A new venv with PACKAGES; skips when pip finds no torch 2.14.1 for this Python and platform."""
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    python = folder / "bin" / "python"
    done = subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *PACKAGES],
                          env=clean_env(), capture_output=True, text=True)
    if done.returncode and any(line in done.stderr for line in NO_TORCH):
        pytest.skip(f"pip finds no torch=={TORCH} wheel for Python {sys.version.split()[0]} here: {done.stderr[-300:]}")
    assert done.returncode == 0, done.stderr[-3000:]
    return python


def origin_copy(folder, branch):
    """A git repository holding what pip needs of this checkout (committed or not), on `branch`."""
    folder.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, folder / name)
    for name in ("helpers", "data"):
        shutil.copytree(ROOT / name, folder / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    git = ["git", "-C", str(folder), "-c", "user.name=course", "-c", "user.email=course@localhost"]
    for args in (["init", "--quiet", "-b", branch], ["add", "."], ["commit", "--quiet", "-m", "course"]):
        subprocess.run(git + args, check=True)
    return folder


@pytest.mark.slow  # a 5 GB environment, then all 14 notebooks: about 10 minutes on a 2-core CPU
def test_every_notebook_runs_from_its_colab_cell_with_another_torch(tmp_path):
    started = time.perf_counter()
    python = fresh_venv(tmp_path / "venv")
    nbs = notebooks()
    url = setup_source(nbs["01_introduction.ipynb"]).split('"git+')[1].split('"')[0]  # https://github.com/o/r@b
    repo_url, branch = url.rsplit("@", 1)
    origin = origin_copy(tmp_path / "origin", branch)
    gitconfig = tmp_path / "gitconfig"
    gitconfig.write_text(f'[url "{origin.as_uri()}"]\n\tinsteadOf = {repo_url}\n')
    content = tmp_path / "content"  # Colab's working folder: the notebooks alone, no helpers beside them
    content.mkdir()
    for name in nbs:
        shutil.copy(ROOT / "notebooks" / name, content / name)
    log = tmp_path / "colab-calls.log"
    env = clean_env(PATH=f"{python.parent}:{os.environ['PATH']}", PYTHONPATH=str(make_colab_stub(tmp_path / "stub")),
                    GIT_CONFIG_GLOBAL=str(gitconfig), GIT_CONFIG_NOSYSTEM="1", GIT_ALLOW_PROTOCOL="file",
                    COLAB_STUB_LOG=str(log))
    results = tmp_path / "results.json"
    run = subprocess.run([str(python), str(ROOT / "tests" / "support" / "colab_notebooks.py"), str(results),
                          str(content), *[str(content / name) for name in nbs]],
                         cwd=content, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-3000:]
    records = json.loads(results.read_text())
    seconds = time.perf_counter() - started

    assert [r["notebook"] for r in records] == list(nbs)
    assert [(r["notebook"], r["error"]) for r in records if r["error"]] == []  # no cell failed, every assert held
    prefix, torch_version, helpers_file = records[0]["probe"]
    assert Path(prefix) == tmp_path / "venv" and torch_version.startswith(TORCH)
    assert Path(helpers_file).is_relative_to(tmp_path / "venv")  # installed by the cell, not this checkout
    for r in records:
        assert r["colab_output"].startswith("device found: ") and f"- torch {TORCH}" in r["colab_output"], r
        assert r["again_output"] == "", r  # the second run does nothing
    assert log.read_text().splitlines() == ["enable_custom_widget_manager"] * len(nbs)  # once per kernel
    versions = subprocess.run([str(python), "-c", VERSIONS], env=clean_env(), capture_output=True, text=True,
                              check=True).stdout.strip()
    print(f"\n{len(records)} notebooks from their Colab cell in {seconds:.0f} s (environment and notebooks; notebooks "
          f"alone {sum(r['seconds'] for r in records):.0f} s) with {versions}")
