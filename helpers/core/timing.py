"""Devices and timing: pick where to run, and time the same work on the CPU and the GPU side by side."""
import os
import statistics
import threading
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field

import torch

DEVICES = ("cpu", "cuda", "mps")
NO_GPU = "no GPU on this machine"
# torch's CPU threads for all the course's work, chosen with `python tools/bench_threads.py` (README, "Threads"):
# on 2 cores, two threads were 1.5-1.8x faster when the machine was quiet but 1.9-3x slower beside one busy
# process; one thread also gives the same numbers on any core count.
THREADS = 1
# Models a panel trains at once, each in its own thread on one core (helpers.side_by_side, train_kinds(workers=)): on 2
# cores the amnesia panel's default run (two LSTMs and a Transformer, 7 epochs) took 4.2 s one at a time, 2.85 s
# two at a time and 2.45 s three at a time (beside a busy process 4.5, 3.7 and 3.65 s): the Transformer, done
# early, leaves its core to the LSTMs only when all three start together.
SIDE_BY_SIDE = 3


def main_thread_only(what):
    """Raise RuntimeError unless called from the main thread: `what` changes a setting of the whole process,
    which a panel's background run must not do under a cell that runs meanwhile (notebook 06)."""
    if threading.current_thread() is not threading.main_thread():
        raise RuntimeError(f"{what} changes a setting of the whole process: call it in a cell, not in a panel's "
                           "background run")


@contextmanager
def threads(n):
    """torch's CPU threads set to `n` inside the block and restored after it; main thread only, as it is a setting
    of the whole process (race.lstm_settings, notebook 11)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a whole number of threads, at least 1, got {n!r}")
    main_thread_only("threads()")
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def tf32_flags():
    """Both TF32 switches as they stand: {"matmul": cuda.matmul.allow_tf32, "cudnn": cudnn.allow_tf32}; torch's
    defaults differ (matmul off, cuDNN on), so an LSTM (cuDNN) and attention (matmuls) may run at different
    precisions unless both are set (notebooks 11 and 12)."""
    return {"matmul": torch.backends.cuda.matmul.allow_tf32, "cudnn": torch.backends.cudnn.allow_tf32}


@contextmanager
def tf32(enabled=False):
    """Both TF32 switches set to `enabled` inside the block and restored after: a timed GPU run at float32 is then
    float32 in both the cuDNN LSTM and the matmuls (notebooks 11 and 12). They only act on CUDA."""
    if not isinstance(enabled, bool):
        raise ValueError(f"enabled must be True or False, got {enabled!r}")
    before = tf32_flags()
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = enabled
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before["matmul"], before["cudnn"]


PRECISIONS = ("float32", "bfloat16", "float16")  # a timed layer's autocast precision: float32 means none


def autocast(device, precision="float32"):
    """torch.autocast at `precision` on `device`'s type, or no autocast for "float32" (notebooks 11 and 12): a
    layer's best GPU precision timed beside float32."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {list(PRECISIONS)}, got {precision!r}")
    if precision == "float32":
        return nullcontext()
    return torch.autocast(torch.device(device).type, dtype=getattr(torch, precision))


@contextmanager
def precision(device, autocast_to="float32", allow_tf32=False):
    """A timed run's precision on `device`: on CUDA both TF32 switches set to `allow_tf32`, and autocast to
    `autocast_to` ("float32": none) (race and sweep, notebooks 11 and 12)."""
    device = torch.device(device)
    with tf32(allow_tf32) if device.type == "cuda" else nullcontext(), autocast(device, autocast_to):
        yield


def use_thread_policy():
    """Run torch on THREADS CPU threads; `import helpers` does it once (notebook 01)."""
    torch.set_num_threads(THREADS)


def available(name):
    """Whether device `name` ("cpu", "cuda" or "mps") can be used here (notebook 01)."""
    if name == "cuda":
        return torch.cuda.is_available()
    if name == "mps":
        return torch.backends.mps.is_available()
    return name == "cpu"


def pick_device(name=None):
    """torch.device for `name`; None picks CUDA when present, else the CPU (MPS only when asked) (notebook 01)."""
    if name is None:
        return torch.device("cuda" if available("cuda") else "cpu")
    name = str(name)
    kind = name.split(":")[0]
    if kind not in DEVICES:
        raise ValueError(f"device must be one of {list(DEVICES)} (or None for the best one), got {name!r}")
    if not available(kind):
        raise ValueError(f"device {name!r} is not available on this machine; available: "
                         f"{[d for d in DEVICES if available(d)]}")
    return torch.device(name)


def device_name(device):
    """A readable name: the GPU's model, or the CPU's core count (notebook 01)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple GPU (MPS)"
    n = torch.get_num_threads()
    return f"CPU, {n} thread{'s' if n > 1 else ''}"


def synchronize(device):
    """Wait until queued GPU work on `device` has finished (no-op on the CPU) (notebook 01)."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


# time_call times by hand rather than with torch.utils.benchmark.Timer, which fits none of its callers:
# - Timer sets torch's thread count (torch.set_num_threads, for the whole process) around every measurement and
#   restores it after; the race, the sweep and the panel's estimate are timed in a panel's background thread, where
#   that reaches the cells: with torch 2.13, a cell that ran torch during a background Timer(num_threads=2) kept 2
#   threads after the Timer restored 1 (threads() refuses to run there for the same reason);
# - its callers keep each call's seconds, a fixed number of them (the race's spread and error bars, notebook 11's
#   min/median/max, the Timing table's runs), while Timer returns per-block means of a count it picks
#   (blocked_autorange, adaptive_autorange) or one mean after two more warm-up calls per timeit();
# - a Stop must end a sweep between two timed calls (between=), and Timer has no hook between calls.
# tools/bench_threads.py, in its own process's main thread, times with Timer.
def time_call(fn, device="cpu", repeats=5, warmup=2, between=None):
    """Seconds of each of `repeats` calls of fn() after `warmup` calls, synchronising the device; `between()`, if
    given, runs before each call, untimed (a panel's Stop: helpers.core.train.checkpoint) (notebook 01)."""
    for _ in range(warmup):
        if between:
            between()
        fn()
    synchronize(device)
    times = []
    for _ in range(repeats):
        if between:
            between()
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return times


@dataclass
class Timing:
    """The same work timed on several devices: rows of (device, name, median seconds, runs) (notebook 01)."""
    what: str
    rows: list = field(default_factory=list)

    def median(self, device):
        """Median seconds on `device` ("cpu", "cuda"), or None where it was not run."""
        return next((r["median_s"] for r in self.rows if r["device"] == device), None)

    def speedup(self):
        """CPU median / GPU median, or None without a GPU."""
        cpu, gpu = self.median("cpu"), self.median("cuda")
        return cpu / gpu if cpu and gpu else None

    def __str__(self):
        lines = [self.what, f"{'device':<8}{'median':>11}{'runs':>6}  on"]
        for r in self.rows:
            if r["median_s"] is None:
                lines.append(f"{r['device']:<8}{'-':>11}{'-':>6}  {r['name']}")
            else:
                lines.append(f"{r['device']:<8}{r['median_s'] * 1e3:>8.2f} ms{len(r['runs']):>6}  {r['name']}")
        s = self.speedup()
        lines.append(f"GPU speed-up: {s:.1f}x" if s else f"GPU speed-up: - ({NO_GPU})")
        return "\n".join(lines)

    def _repr_pretty_(self, p, cycle):
        p.text(str(self))


def thread_counts():
    """The CPU thread counts worth timing beside a GPU: the course's THREADS and every core (notebooks 11, 12)."""
    return tuple(sorted({THREADS, os.cpu_count() or 1}))


def time_cpu_threads(make_work, counts=None, repeats=5, warmup=2):
    """{threads: median seconds} of make_work("cpu")() at each thread count (default thread_counts()): the CPU at
    its best beside the course's one thread, for every GPU ratio; main thread only (notebooks 11 and 12)."""
    out = {}
    for n in counts or thread_counts():
        with threads(n):
            out[n] = statistics.median(time_call(make_work(torch.device("cpu")), "cpu", repeats, warmup))
    return out


def time_devices(make_work, what="", devices=("cpu", "cuda"), repeats=5, warmup=2):
    """Time make_work(device)() on each device; a device that is missing gets a row saying so (notebook 01)."""
    if repeats < 1 or warmup < 0:
        raise ValueError(f"repeats must be >= 1 and warmup >= 0, got {repeats} and {warmup}")
    timing = Timing(what)
    for d in devices:
        if d not in DEVICES:
            raise ValueError(f"devices must be drawn from {list(DEVICES)}, got {d!r}")
        if not available(d):
            timing.rows.append({"device": d, "name": NO_GPU if d != "cpu" else "-", "median_s": None, "runs": []})
            continue
        with precision(d):  # float32 on a GPU means float32: both TF32 switches off
            runs = time_call(make_work(torch.device(d)), d, repeats, warmup)
        timing.rows.append({"device": d, "name": device_name(d), "median_s": statistics.median(runs), "runs": runs})
    return timing


def _ms(seconds):
    return f"{seconds * 1e3:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"


def device_line(timings, recorded=None, what="step", recorded_on="a GPU"):
    """What a notebook's CPU/GPU cell prints for {name: Timing}: with a live GPU, each Timing's table and one line of
    speed-ups; else, with `recorded` ({name: GPU seconds} from a recording in data/reference/, made on
    `recorded_on`), the CPU figures beside the recorded GPU figures; else one short line (notebook 01)."""
    if not isinstance(timings, dict) or not timings or not all(isinstance(t, Timing) for t in timings.values()):
        raise ValueError(f"timings must be a non-empty dict of name -> Timing, got {timings!r}")
    if recorded is not None and (not isinstance(recorded, dict) or not recorded):
        raise ValueError(f"recorded must be None or a non-empty dict of name -> seconds, got {recorded!r}")
    cpu = "; ".join(f"{name} {_ms(t.median('cpu'))}" for name, t in timings.items() if t.median("cpu") is not None)
    if all(t.median("cuda") is not None for t in timings.values()):
        speed = "; ".join(f"{name} {t.speedup():.1f}x" if t.speedup() >= 1 else f"{name} {1 / t.speedup():.1f}x slower"
                          for name, t in timings.items())
        return "\n\n".join(str(t) for t in timings.values()) + f"\n\nGPU speed-up per {what}: {speed}"
    if recorded:
        gpu = "; ".join(f"{name} {_ms(s)}" for name, s in recorded.items())
        return f"CPU here, per {what}: {cpu}. GPU, recorded on {recorded_on}: {gpu}."
    return f"CPU here, per {what}: {cpu}; {NO_GPU} and none recorded."
