"""CPU seconds of one re-run of the amnesia panel (notebooks 01, 04), measured, not asserted: the panel as it was
(7 epochs, every check on all 512 held-out strings) against the panel now (helpers.lessons.amnesia.EPOCHS epochs,
checks on helpers.view.widgets.PANEL_EVAL_STRINGS strings while training, all 512 at the end), the median of several
re-runs (time.process_time: every thread of this process), whole (estimate, training, drawing) and training alone;
then the verdicts of the default budget at lengths 10 to 40 (the lesson: the Transformer solves, neither LSTM does).

    .venv/bin/python tools/bench_amnesia_cpu.py [--repeats 5] [--lengths 10 15 20 25 30 40]
"""
import argparse
import statistics
import time

import helpers
from helpers.lessons.amnesia import EPOCHS, amnesia_test, estimate_seconds
from helpers.view.figures_amnesia import show_amnesia
from helpers.view.widgets import PANEL_EVAL_STRINGS

OLD_EPOCHS = 7  # the panel's default budget before: 224 steps, the LSTMs training to the end


def median_cpu(fn, repeats):
    """Median CPU seconds of fn() over `repeats` calls, after one call not counted."""
    fn()
    seconds = []
    for _ in range(repeats):
        start = time.process_time()
        fn()
        seconds.append(time.process_time() - start)
    return statistics.median(seconds), min(seconds), max(seconds)


def panels():
    """{label: (the panel, its training alone)}: the amnesia panel as it was and as it is now."""
    def before(length, epochs):
        return amnesia_test(length=length, epochs=epochs)
    old = helpers.Panel(before, show_amnesia, length=(3, 200, 20), epochs=(1, 50, OLD_EPOCHS),
                        estimate=estimate_seconds)
    return {f"before ({OLD_EPOCHS} epochs, checks on 512)": (old, lambda: before(20, OLD_EPOCHS)),
            f"now ({EPOCHS} epochs, checks on {PANEL_EVAL_STRINGS})": (
                helpers.amnesia_panel(), lambda: amnesia_test(20, EPOCHS, eval_strings=PANEL_EVAL_STRINGS))}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--lengths", type=int, nargs="+", default=[10, 15, 20, 25, 30, 40])
    args = parser.parse_args()
    print(f"The amnesia panel's default re-run (length 20, three contestants side by side), {args.repeats} re-runs "
          f"each, torch on {helpers.THREADS} thread per model")
    for label, (panel, training) in panels().items():
        whole, train = median_cpu(panel.run, args.repeats), median_cpu(training, args.repeats)
        print(f"{label:>34}: CPU seconds per re-run median {whole[0]:.2f} ({whole[1]:.2f} to {whole[2]:.2f}); "
              f"training alone {train[0]:.2f} ({train[1]:.2f} to {train[2]:.2f})", flush=True)
    print(f"\nVerdicts at the default budget ({EPOCHS} epochs), seed 0:")
    for length in args.lengths:
        r = amnesia_test(length=length, epochs=EPOCHS, eval_strings=PANEL_EVAL_STRINGS)
        print(f"length {length:>3}: " + "; ".join(f"{helpers.NAMES[v]} {r.accuracy[v]:.1%} {r.verdict(v)}"
                                                  for v in r.accuracy), flush=True)


if __name__ == "__main__":
    main()
