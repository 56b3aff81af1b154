import re
import subprocess
import sys

import pytest

from helpers.__main__ import main


def run(capsys, *argv):
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def test_amnesia(capsys):
    out = run(capsys, "amnesia", "--length", "5", "--epochs", "1", "--device", "cpu")
    assert "AMNESIA TEST" in out and "Truth:" in out
    assert len(re.search(r"training\):\n  ([A-Z ]+)\n", out).group(1).split()) == 5
    assert len(re.findall(r"answers [A-Z]  [✓✗] (right|wrong)", out)) == 3


def test_deep_dive(capsys):
    out = run(capsys, "deep-dive", "--length", "4", "--epochs", "1")
    rows = [line for line in out.splitlines() if re.match(r"^(<s>|we|propose|a|new) ", line)]
    assert len(rows) == 5 and all(line.rstrip().endswith("1.00") for line in rows)  # Σ = 1 per row


def test_training(capsys):
    out = run(capsys, "training", "--length", "4", "--epochs", "2")
    assert "epoch    0" in out and "epoch    2" in out and "targets reproduced exactly" in out


def test_race(capsys):
    out = run(capsys, "race", "--length", "50", "--runs", "1", "--device", "cpu")
    assert re.search(r"^torch, CPU .+x  (LSTM|Transformer) [\d.]+x faster$", out, re.M)
    assert "torch, GPU" not in out and "Pure Python and NumPy race in notebook 11" in out


def test_showdown(capsys):
    out = run(capsys, "showdown", "--length", "3", "--epochs", "1", "--prompt", "We propose")
    assert "step 3" in out and "reads: we propose" in out


@pytest.mark.parametrize("argv, message", [
    (["amnesia", "--length", "2"], "--length must be an integer from 3 to 1024, got 2"),
    (["amnesia", "--epochs", "0"], "--epochs must be an integer from 1 to 1000"),
    (["race", "--runs", "0"], "--runs must be an integer from 1 to 100"),
    (["amnesia", "--device", "tpu"], "device must be one of"),
    (["showdown", "--prompt", "We propose quantum", "--epochs", "1"], "unknown words"),
    (["race", "--device", "mps"], "--device must be one of ['cpu', 'cuda'] for race"),
])
def test_bad_values_give_a_clear_error(argv, message):
    proc = subprocess.run([sys.executable, "-m", "helpers", *argv], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr


def test_help_lists_the_five_demos():
    proc = subprocess.run([sys.executable, "-m", "helpers", "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    for demo in ("amnesia", "deep-dive", "training", "race", "showdown"):
        assert demo in proc.stdout
