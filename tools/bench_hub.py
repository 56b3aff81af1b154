"""Capacity of a class hub, measured, not asserted: the amnesia panel's default re-run (notebook 04: length 20, its
default budget, three contestants side by side) and its share with the class board, by 1, 2, 4 and 8 students at the
same moment, through the course's JupyterHub (deploy/, local mode, the board in the loop) on this machine. Prints
each student's latency, the board's answer times and the cores per student that keep a re-run under 5 s.

    .venv/bin/python tools/bench_hub.py [--students 1 2 4 8] [--rounds 2]      (or: make bench-hub)
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the test harness package, tests/support
from support import classroom  # noqa: E402 -- after the path it needs

TARGET = 5.0  # seconds: a re-run a class finds live
# the panel's re-run, then its Share (helpers.board, with the kernel's own hub token): one line of JSON
RERUN_AND_SHARE = classroom.AMNESIA_RUN + """
from helpers import board
t = time.perf_counter()
board.request("POST", body=board.runs_of(r, "04"))
print(json.dumps({"seconds": time.perf_counter() - start, "share_seconds": time.perf_counter() - t,
                  "cpu_seconds": time.process_time() - cpu}))
"""


def at_once(students, code):
    """Run `code` in every student's kernel, all released at the same moment; [(seconds seen by the student, the
    kernel's JSON line)]."""
    barrier, out = threading.Barrier(len(students)), [None] * len(students)

    def one(i, s):
        barrier.wait()
        start = time.perf_counter()
        stdout, error = s.execute(s.kernel, code)
        if error:
            raise RuntimeError(f"{s.name}: {error}")
        out[i] = (time.perf_counter() - start, json.loads(stdout.strip().splitlines()[-1]))
    threads = [threading.Thread(target=one, args=(i, s)) for i, s in enumerate(students)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def board_load(hub, students=30, posts=10):
    """`students` simulated students (hub tokens of their own) post `posts` runs each, all at once: (posts per second
    held, median and slowest answer in seconds, runs stored)."""
    import requests
    tokens = [hub.token_for(f"load{i:02d}") for i in range(students)]
    barrier, seconds, codes = threading.Barrier(students), [], []

    def one(i, token):
        barrier.wait()
        for k in range(posts):
            run = {"notebook": "04", "model": "transformer", "length": 3 + i, "epochs": 2, "seed": k, "size": "width",
                   "params": 40000, "accuracy": 1.0, "solved_epoch": 2, "steps_to_90": 64, "seconds": 1.0,
                   "torch": "2.13.0"}
            start = time.perf_counter()
            reply = requests.post(hub.board + "api/runs", json=run, headers={"Authorization": f"token {token}"},
                                  timeout=30)
            seconds.append(time.perf_counter() - start)
            codes.append(reply.status_code)
    threads = [threading.Thread(target=one, args=(i, t)) for i, t in enumerate(tokens)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    return len(codes) / wall, statistics.median(seconds), max(seconds), codes.count(201)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--rounds", type=int, default=2, help="re-runs per class size (every student each round)")
    args = parser.parse_args()
    if classroom.proxy_command() is None:
        sys.exit("configurable-http-proxy missing: run `make hub-setup`")
    cores = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory() as state, classroom.running_hub(Path(state) / "hub") as hub:
        t0 = time.perf_counter()
        students = [hub.student(f"student{i + 1}") for i in range(max(args.students))]
        print(f"{len(students)} students logged in, servers started in {time.perf_counter() - t0:.1f} s")
        for s in students:  # each opens notebook 04: helpers imported, the panel's first run done
            s.kernel = s.start_kernel()
        hub.wait_for_board()
        at_once(students, RERUN_AND_SHARE)
        rows, shares = [], []
        for n in args.students:
            seen, cpu = [], []
            for _ in range(args.rounds):
                for seconds, line in at_once(students[:n], RERUN_AND_SHARE):
                    seen.append(seconds)
                    cpu.append(line["cpu_seconds"])
                    shares.append(line["share_seconds"])
            rows.append((n, statistics.median(seen), max(seen), statistics.median(cpu)))
        load = board_load(hub)
    print(f"\nThe board under load: {load[3]} of 300 posts stored, {load[0]:.0f} posts per second held by 30 "
          f"students posting 10 runs each at once; an answer took {load[1] * 1e3:.0f} ms (median), "
          f"{load[2] * 1e3:.0f} ms at most")
    print(f"The board's answer to a share (3 runs), seen from a kernel: median "
          f"{statistics.median(shares) * 1e3:.0f} ms, slowest {max(shares) * 1e3:.0f} ms over {len(shares)} shares")
    print(f"\nThe amnesia panel's default re-run and its share, n students at the same moment, on {cores} cores "
          f"({args.rounds} rounds; latency as each student sees it, through the hub's proxy)")
    print(f"{'students':>8}{'median s':>10}{'slowest s':>11}{'CPU s per run':>15}{'cores per student for < 5 s':>30}")
    for n, median, slowest, cpu in rows:
        # a compute-bound re-run: the latency shrinks in proportion to the cores each student gets
        need = slowest * (cores / n) / TARGET
        print(f"{n:>8}{median:>10.1f}{slowest:>11.1f}{cpu:>15.1f}{need:>30.2f}")
    cpu = statistics.median(r[3] for r in rows)
    print(f"\nRule: a re-run costs about {cpu:.1f} CPU seconds; when every student re-runs at the same moment, "
          f"each needs {cpu / TARGET:.2f} cores for an answer within {TARGET:.0f} s (CPU seconds / {TARGET:.0f}).")


if __name__ == "__main__":
    main()
