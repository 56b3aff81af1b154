"""Every range a control, the CLI, the API or papermill advertises works; a bad value is a ValueError that names
it and its range, raised where the value enters, before anything is printed or trained."""
import subprocess
import sys

import pytest
import torch

import helpers
from helpers.lessons.amnesia import amnesia_test


def test_the_shortest_advertised_length_trains_and_answers():
    result = amnesia_test(length=helpers.MIN_LENGTH, epochs=1)
    assert result.length == 3 and len(result.string.split()) == 3 and set(result.accuracy) == set(helpers.CONTESTANTS)
    panel = helpers.amnesia_panel(epochs=(1, 5, 1), length=(helpers.MIN_LENGTH, 30, helpers.MIN_LENGTH))
    assert panel.length.min == 3 and panel.text.startswith("Length 3,")


@pytest.mark.parametrize("call, message", [
    (lambda: amnesia_test(length=2), "length must be an integer from 3 to 1024, got 2"),
    (lambda: amnesia_test(variants="lstm"), r"variants must be a non-empty tuple of names .* got 'lstm'"),
    (lambda: amnesia_test(variants=[]), r"variants must be a non-empty tuple of names .* got \[\]"),
    (lambda: helpers.amnesia_panel(length=20), r"length must be a \(min, max, starting value\) triple, got 20"),
    (lambda: helpers.decode(torch.tensor([30])), "ids must be letter numbers from 0 to 25, got 30"),
    (lambda: helpers.RecallConfig(length=0), "length must be an integer from 3 to 1024, got 0"),
    (lambda: helpers.check_parameters(2, 7, 0, None, (3, 200), (1, 50)), "LENGTH must be an integer from 3 to 200"),
    (lambda: helpers.check_parameters(20, 0, 0, None, (3, 200), (1, 50)), "EPOCHS must be an integer from 1 to 50"),
    (lambda: helpers.check_parameters(20, 7, -1, None, (3, 200), (1, 50)), "SEED must be an integer from 0"),
    (lambda: helpers.check_parameters(20, 7, 0, "tpu", (3, 200), (1, 50)), "DEVICE: device must be one of"),
])
def test_bad_values_are_refused_where_they_enter(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a GPU")
def test_a_missing_gpu_is_refused_by_name_everywhere():
    with pytest.raises(ValueError, match="DEVICE: device 'cuda' is not available on this machine"):
        helpers.check_parameters(20, 7, 0, "cuda", (3, 200), (1, 50))
    with pytest.raises(ValueError, match="device 'cuda' is not available on this machine"):
        helpers.amnesia_panel(length=(3, 30, 4), epochs=(1, 5, 1), device="cuda")  # the first run raises it


def cli(*argv):
    return subprocess.run([sys.executable, "-m", "helpers", *argv], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("argv, message", [
    (["race", "--length", "0"], "--length must be an integer from 1 to 4096, got 0"),
    (["showdown", "--length", "0"], "--length must be an integer from 1 to 1000, got 0"),
    (["amnesia", "--seed", "-1"], "--seed must be an integer from 0 to 2147483647, got -1"),
    (["amnesia", "--device", "cuda"] if not torch.cuda.is_available() else ["amnesia", "--device", "tpu"],
     "--device"),
    (["race", "--device", "cuda"] if not torch.cuda.is_available() else ["race", "--device", "mps"], "--device"),
])
def test_cli_errors_name_the_option_and_come_before_any_banner(argv, message):
    done = cli(*argv)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""  # nothing printed before the refusal


def test_cli_help_gives_every_range():
    text = cli("amnesia", "--help").stdout
    assert "letters per string: 3 to 1024; default 20" in text and "training epochs: 1 to 1000; default 10" in text
    assert "(mps only when asked)" in text and "(default None)" not in cli("deep-dive", "--help").stdout
    top = cli("--help").stdout
    assert "_demo.py" not in top and "The amnesia test" in top
