import pytest
import torch

import helpers


def test_pick_device():
    assert helpers.pick_device().type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert helpers.pick_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match=r"device must be one of \['cpu', 'cuda', 'mps'\]"):
        helpers.pick_device("tpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_missing_gpu_is_a_clear_error_when_asked_for():
    with pytest.raises(ValueError, match="not available on this machine"):
        helpers.pick_device("cuda")


def test_time_devices_has_a_row_per_device():
    timing = helpers.time_devices(lambda d: (lambda: torch.ones(100, device=d).sum()), "a sum", repeats=3)
    cpu = timing.rows[0]
    assert cpu["device"] == "cpu" and len(cpu["runs"]) == 3 and cpu["median_s"] > 0
    gpu = timing.rows[1]
    if torch.cuda.is_available():
        assert gpu["median_s"] > 0 and timing.speedup() > 0
    else:
        assert gpu["name"] == helpers.NO_GPU and gpu["median_s"] is None
        assert "no GPU on this machine" in str(timing)


def test_time_devices_bad_arguments():
    with pytest.raises(ValueError, match="repeats must be >= 1"):
        helpers.time_devices(lambda d: (lambda: None), repeats=0)
    with pytest.raises(ValueError, match="devices must be drawn from"):
        helpers.time_devices(lambda d: (lambda: None), devices=("cpu", "tpu"))


def test_helpers_runs_torch_on_its_thread_policy_and_threads_restores():
    assert helpers.THREADS == 1 and torch.get_num_threads() == 1  # set by `import helpers`
    with helpers.threads(2):
        assert torch.get_num_threads() == 2
    assert torch.get_num_threads() == 1
    with pytest.raises(ValueError, match="n must be a whole number of threads, at least 1"):
        with helpers.threads(0):
            pass


@pytest.mark.slow  # tools/bench_threads.py beside a busy process
def test_benchmark_prints_both_thread_counts_quiet_and_loaded():
    import re
    import subprocess
    import sys
    from pathlib import Path
    script = Path(__file__).resolve().parents[1] / "tools" / "bench_threads.py"
    done = subprocess.run([sys.executable, str(script), "--quick", "--kinds", "race"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    row = next(line for line in done.stdout.splitlines() if line.startswith("race"))
    times = [float(v) for v in re.findall(r"([\d.]+)s", row)]
    assert len(times) == 4 and all(t > 0 for t in times)


def test_tf32_sets_both_switches_and_restores_them():
    from helpers.core.timing import tf32, tf32_flags
    before = tf32_flags()
    with tf32(True):
        assert tf32_flags() == {"matmul": True, "cudnn": True}
        with tf32(False):
            assert tf32_flags() == {"matmul": False, "cudnn": False}
    assert tf32_flags() == before
    with pytest.raises(ValueError, match="enabled must be True or False"):
        with tf32("yes"):
            pass


def test_precision_autocasts_only_below_float32():
    from helpers.core.timing import precision
    a = torch.randn(4, 4)
    with precision("cpu"):
        assert (a @ a).dtype == torch.float32
    with precision("cpu", "bfloat16"):
        assert (a @ a).dtype == torch.bfloat16
    with pytest.raises(ValueError, match="precision must be one of"):
        with precision("cpu", "float8"):
            pass


def test_time_cpu_threads_times_each_count_and_restores_threads():
    from helpers.core.timing import thread_counts, time_cpu_threads
    calls = []
    before = torch.get_num_threads()
    out = time_cpu_threads(lambda device: (lambda: calls.append(torch.get_num_threads())), counts=(1, 2),
                           repeats=2, warmup=1)
    assert list(out) == [1, 2] and calls == [1, 1, 1, 2, 2, 2]
    assert torch.get_num_threads() == before
    assert thread_counts()[0] == helpers.THREADS and thread_counts()[-1] >= helpers.THREADS
