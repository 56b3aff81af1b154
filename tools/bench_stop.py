"""How long a panel's Stop takes to answer: measured, not asserted. The amnesia panel at lengths up to its
slider's 200: a background run of 50 epochs starts; once the LSTMs have trained an epoch, Stop is pressed; the
table gives the seconds until the panel says "stopped" and until its figures are drawn (median of `--repeats`).
Then notebook 12's sweep at its slider's longest, 4096: timed once whole, then stopped a quarter, half and
three quarters of the way in; the seconds each Stop takes to end it.

    .venv/bin/python tools/bench_stop.py [--lengths 40 100 200] [--repeats 3]
"""
import argparse
import statistics
import threading
import time

import helpers
from helpers.core.train import Control, Stopped, controlled
from helpers.lessons import scaling


def one_stop(length):
    """(seconds to the 'stopped' line, seconds to the drawn result) of one Stop at `length`."""
    panel = helpers.amnesia_panel(length=(3, 200, 3), epochs=(1, 50, 1))
    said, drawn, trained = {}, threading.Event(), set()
    report = panel._progress

    def progress(name, epoch, epochs):
        report(name, epoch, epochs)
        if epoch >= 1:
            trained.add(name)

    def watch(change):
        if "stopped after" in change["new"] and "said" not in said:
            said["said"] = time.perf_counter()
        if "stopped after" in change["new"] and "shown below" not in change["new"]:
            drawn.set()
    panel._progress = progress
    panel.message.observe(watch, "value")
    panel.length.value, panel.epochs.value = length, 50
    while "LSTMModel" not in trained and panel.running:  # the LSTMs have trained an epoch
        time.sleep(0.05)
    pressed = time.perf_counter()
    panel.stop_button.click()
    panel.wait()
    return said["said"] - pressed, time.perf_counter() - pressed


def one_sweep_stop(after):
    """Seconds from a Stop, `after` seconds into notebook 12's sweep to 4096, to the sweep's end (after=None: the
    whole sweep's seconds)."""
    control, ended = Control(), {}

    def sweep():
        with controlled(control):
            try:
                scaling.sweep(scaling.ScaleConfig(lengths=(64, 128, 256, 512, 1024, 2048, 4096), d=64))
            except Stopped:
                pass
        ended["at"] = time.perf_counter()
    worker = threading.Thread(target=sweep)
    started = time.perf_counter()
    worker.start()
    if after is None:
        worker.join()
        return ended["at"] - started
    time.sleep(after)
    pressed = time.perf_counter()
    control.stop.set()
    worker.join()
    return ended["at"] - pressed


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lengths", type=int, nargs="+", default=[40, 100, 200])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"{'length':>6}{'stopped said (s)':>18}{'result drawn (s)':>18}")
    for length in args.lengths:
        runs = [one_stop(length) for _ in range(args.repeats)]
        said, drawn = (statistics.median(r[i] for r in runs) for i in (0, 1))
        print(f"{length:>6}{said:>18.2f}{drawn:>18.2f}", flush=True)
    whole = one_sweep_stop(None)
    stops = [one_sweep_stop(whole * part) for part in (0.25, 0.5, 0.75)]
    print(f"notebook 12's sweep to 4096 takes {whole:.1f} s; a Stop at 1/4, 1/2, 3/4 of it ended it "
          f"{', '.join(f'{s:.2f}' for s in stops)} s later")


if __name__ == "__main__":
    main()
