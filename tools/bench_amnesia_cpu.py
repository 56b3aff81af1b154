"""CPU seconds of one re-run of the amnesia panel (notebooks 01, 04), measured, not asserted: the panel at its old
default budget (7 epochs) against its default now (helpers.lessons.amnesia.EPOCHS), the median of several re-runs
(time.process_time: every thread of this process, training and drawing), and the verdicts of the default budget at
lengths 10 to 40 (the lesson: the Transformer solves, neither LSTM does).

    .venv/bin/python tools/bench_amnesia_cpu.py [--repeats 5] [--lengths 10 15 20 25 30 40]
"""
import argparse
import statistics
import time

import helpers
from helpers.lessons.amnesia import EPOCHS, amnesia_test

OLD_EPOCHS = 7  # the panel's default budget before the class board: 224 steps, the LSTMs training to the end


def cpu_per_rerun(epochs, repeats):
    """[CPU seconds] of `repeats` re-runs of the panel's default at `epochs` (one warm run first, not counted)."""
    panel = helpers.amnesia_panel(epochs=(1, 50, epochs))
    seconds = []
    for _ in range(repeats):
        start = time.process_time()
        panel.run()
        seconds.append(time.process_time() - start)
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--lengths", type=int, nargs="+", default=[10, 15, 20, 25, 30, 40])
    args = parser.parse_args()
    print(f"The amnesia panel's default re-run (length 20, three contestants side by side), {args.repeats} re-runs "
          f"each, torch on {helpers.THREADS} thread per model")
    for label, epochs in (("before", OLD_EPOCHS), ("now", EPOCHS)):
        seconds = cpu_per_rerun(epochs, args.repeats)
        print(f"{label:>7}: {epochs} epochs ({epochs * 32} steps at most): CPU seconds per re-run median "
              f"{statistics.median(seconds):.2f} (from {min(seconds):.2f} to {max(seconds):.2f})", flush=True)
    print(f"\nVerdicts at the default budget ({EPOCHS} epochs), seed 0:")
    for length in args.lengths:
        r = amnesia_test(length=length, epochs=EPOCHS)
        print(f"length {length:>3}: " + "; ".join(f"{helpers.NAMES[v]} {r.accuracy[v]:.1%} {r.verdict(v)}"
                                                  for v in r.accuracy), flush=True)


if __name__ == "__main__":
    main()
