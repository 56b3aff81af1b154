"""ruff over the repository (its rules: pyproject.toml's [tool.ruff]); `pytest -m lint` runs this alone."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.lint


@pytest.mark.skipif(importlib.util.find_spec("ruff") is None,
                    reason="ruff is not installed here (requirements-test.txt pins it: make test installs it)")
def test_ruff_finds_nothing():
    run = subprocess.run([sys.executable, "-m", "ruff", "check", "--output-format", "concise", "."], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
