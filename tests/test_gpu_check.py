"""tools/gpu_check.py (`make gpu-check`): here, without CUDA, its tiny CPU run writes the folder a GPU run writes, and
its time box stops a step with its children."""
import importlib.util
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "tools" / "gpu_check.py")
gpu_check = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gpu_check)


@pytest.mark.parametrize("argv, message", [
    (["--notebooks", "99"], r"--notebooks must be drawn from \['01', .*'14'\], got \['99'\]"),
    (["--budget-minutes", "0"], "--budget-minutes must be from 0.5 to 60, got 0.0"),
    (["--jobs", "-1"], r"--jobs must be 0 \(automatic\) or more, got -1"),
])
def test_bad_arguments_are_refused_by_name(tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit, match="2"):
        gpu_check.parse(["--out", str(tmp_path), *argv])
    assert re.search(message, capsys.readouterr().err)


def alive(pid):
    """Whether process `pid` still runs (a zombie, dead but not yet reaped, does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
def test_a_step_past_its_time_box_is_stopped_with_its_children(tmp_path):
    pid_file = tmp_path / "child.pid"
    # a child that would outlive its parent's kill unless the whole process group goes
    child = f"import os, pathlib, time; pathlib.Path({str(pid_file)!r}).write_text(str(os.getpid())); time.sleep(60)"
    code = f"import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', {child!r}]); time.sleep(60)"
    status, _, rc = gpu_check.run([sys.executable, "-c", code], tmp_path / "step.log", timeout=5)
    assert (status, rc) == ("timeout", None)
    assert "[stopped after its time box, 5 s]" in (tmp_path / "step.log").read_text()
    pid = int(pid_file.read_text())  # the child was running when the time box ended
    for _ in range(100):  # a signalled process exits when the scheduler next runs it: wait for that event
        if not alive(pid):
            break
        time.sleep(0.1)
    assert not alive(pid)


def test_the_first_error_of_an_executed_notebook_is_found(tmp_path):
    cells = [{"cell_type": "code", "outputs": [{"output_type": "stream", "text": "fine"}]},
             {"cell_type": "code", "outputs": [{"output_type": "error", "ename": "AssertionError", "evalue": "x"}]}]
    (tmp_path / "nb.ipynb").write_text(json.dumps({"cells": cells}))
    assert gpu_check.notebook_error(tmp_path / "nb.ipynb") == ("AssertionError", "x", 1)
    cells.pop()
    (tmp_path / "nb.ipynb").write_text(json.dumps({"cells": cells}))
    assert gpu_check.notebook_error(tmp_path / "nb.ipynb") is None


@pytest.mark.slow  # the recorder three times, the tests of a device and two notebooks through papermill
@pytest.mark.skipif(torch.cuda.is_available(), reason="the CPU dry run; a GPU machine runs the full check")
def test_the_tiny_run_writes_every_file_and_a_passing_summary(tmp_path):
    out = tmp_path / "gpu-check"
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "gpu_check.py"), "--tiny", "--out", str(out),
                           "--notebooks", "01", "04", "--archive", str(tmp_path / "gpu-check.tar.gz")],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    for name in ("env.json", "pytest.xml", "pytest.log", "summary.json", "record/race_cpu.json",
                 "record/scaling_cpu.json", "record/amnesia_cpu.json", "notebooks/01_introduction.ipynb",
                 "notebooks/04_amnesia_test.ipynb", "notebooks/04_amnesia_test.log"):
        assert (out / name).is_file(), name
    env = json.loads((out / "env.json").read_text())
    assert env["torch"] == torch.__version__ and env["device"] == "cpu"
    assert {"cuda", "cudnn", "tf32_matmul", "tf32_cudnn", "date"} <= set(env)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["ok"] and summary["tiny"] and summary["failed"] == []
    assert [s["stage"] for s in summary["stages"]] == [
        "record race", "record scaling", "tests", "record amnesia",
        "notebook 01_introduction", "notebook 04_amnesia_test"]
    assert all(s["status"] == "ok" for s in summary["stages"])
    tests = summary["stages"][2]
    assert tests["tests"] > 0 and tests["failures"] == tests["errors"] == 0
    assert summary["stages"][4]["parameters"] == {"DEVICE": "cpu", "LENGTH": "5", "EPOCHS": "1"}
    assert all(s.get("complete") for s in summary["stages"][:4] if s["stage"].startswith("record"))
    assert "all passed" in done.stdout and (tmp_path / "gpu-check.tar.gz").stat().st_size > 0
