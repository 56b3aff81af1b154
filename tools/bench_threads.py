"""How many torch threads each kind of work should use, measured: `python tools/bench_threads.py` (in `make bench`)
times the course's three kinds of CPU work (a small training, the speed race, the scaling sweep) at 1 and at 2
threads, on a quiet machine and with one busy process beside it (a stand-in for a browser or a second kernel), and
prints the medians and ratios. Then the amnesia panel's default run with its models trained 1, 2 or 3 at a time (one
thread each). The policies in helpers.core.timing (THREADS, SIDE_BY_SIDE) were chosen from its output (README,
"Threads")."""
import argparse
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager

import torch
from torch.utils.benchmark import Timer

from helpers.core.models import ModelConfig
from helpers.lessons import amnesia, race, scaling

BUSY = "while True: pass"  # one process that keeps one core busy


def small_training(quick, side_by_side=1):
    """Three models at length 20, width 64, 10 epochs each, one after another (quick: 1 epoch)."""
    amnesia.amnesia_test(length=20, epochs=1 if quick else 10, variants=amnesia.KINDS, model_cfg=ModelConfig(),
                         target=None, workers=side_by_side, fresh=False)


def panel_default(quick, side_by_side):
    """The amnesia panel's default run (its contestants at width 48, a model stops at 99%), `side_by_side` at a time."""
    amnesia.amnesia_test(length=20, epochs=1 if quick else amnesia.EPOCHS, workers=side_by_side)


def speed_race(quick):
    """Notebook 11's torch race: 1,000 words, widths 16 and 256."""
    for d in (16,) if quick else (16, 256):
        race.run_race(words=1000, d=d, ways=("torch-cpu",), repeats=3)


def scaling_sweep(quick):
    """Notebook 12's CPU sweep: lengths 64 to 1,024 (quick: 64 to 256)."""
    scaling.sweep(scaling.ScaleConfig(lengths=(64, 128, 256) if quick else (64, 128, 256, 512, 1024)))


WORK = {"training": small_training, "race": speed_race, "sweep": scaling_sweep}


@contextmanager
def busy_neighbour(on):
    """One other process spinning on a core while the block runs (nothing when `on` is false)."""
    proc = subprocess.Popen([sys.executable, "-c", BUSY]) if on else None
    try:
        time.sleep(0.5 if on else 0)
        yield
    finally:
        if proc:
            proc.kill()
            proc.wait()


def measure(work, n_threads, loaded, repeats):
    """Median wall seconds of `repeats` runs of work() at `n_threads`, with or without a busy neighbour. torch's
    Timer sets the threads for each measurement and restores them after (this script's own process, its main
    thread); blocked_autorange(min_run_time=0) runs work() once untimed (a warm-up after the thread change, which
    rebuilds oneDNN's kernels), then times one block, here of one run, as each run takes far longer than the clock."""
    timer = Timer("work()", globals={"work": work}, num_threads=n_threads)
    with busy_neighbour(loaded):
        return statistics.median(timer.blocked_autorange(min_run_time=0).median for _ in range(repeats))


def main(argv=None):
    """Print, per kind of work, the median seconds at 1 and 2 threads, quiet and loaded, and the ratios."""
    parser = argparse.ArgumentParser(prog="python tools/bench_threads.py", description=main.__doc__)
    parser.add_argument("--repeats", type=int, default=1,
                        help="timed runs per cell of the table, each after an untimed one; the median counts")
    parser.add_argument("--quick", action="store_true", help="a smaller version of each kind of work")
    parser.add_argument("--kinds", nargs="+", choices=list(WORK), default=list(WORK), help="the kinds of work to time")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    kinds = list(dict.fromkeys(args.kinds))  # each once, in the order given
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads by default; median of {args.repeats}")
    print(f"{'work':<10}{'quiet 1t':>10}{'quiet 2t':>10}{'busy 1t':>10}{'busy 2t':>10}"
          f"{'2t/1t quiet':>13}{'2t/1t busy':>12}")
    for kind in kinds:
        WORK[kind](True)  # warm-up: imports, allocator, oneDNN's kernels
        s = {(t, busy): measure(lambda kind=kind: WORK[kind](args.quick), t, busy, args.repeats)
             for busy in (False, True) for t in (1, 2)}
        print(f"{kind:<10}{s[1, False]:>9.2f}s{s[2, False]:>9.2f}s{s[1, True]:>9.2f}s{s[2, True]:>9.2f}s"
              f"{s[2, False] / s[1, False]:>13.2f}{s[2, True] / s[1, True]:>12.2f}", flush=True)
    if "training" in kinds:
        print("\nthe amnesia panel's default run, one torch thread per model, models trained n at a time")
        print(f"{'n':<10}{'quiet':>10}{'busy':>10}{'busy/quiet':>12}")
        for n in (1, 2, 3):
            q, b = (measure(lambda n=n: panel_default(args.quick, n), 1, busy, args.repeats) for busy in (False, True))
            print(f"{n:<10}{q:>9.2f}s{b:>9.2f}s{b / q:>12.2f}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
