"""The one recorder: measures that take too long for a class (the speed race, the scaling sweep, the full
amnesia sweep) are run once per device and kept in data/reference/<kind>_<device>.json, in one format:

    {"format": FORMAT, "kind": "race" | "scaling" | "amnesia" | "bottleneck" | "linear" | "capacity",
     "complete": true,
     "provenance": {command, commit, date, device, device_name, cpu, cpu_threads, torch, cuda, tf32, sdpa_kernel,
                    ..., wall_seconds},
     "settings": {configs: the timed functions' own configs, threads}, "results": [...]}

`settings_mismatch(rec)` compares a recording's settings with what the live code would record now (tests).

Command line: python -m helpers.record {race,scaling,amnesia,bottleneck,linear,capacity} [--device cuda] [--out DIR]
[--quick] [--jobs N (linear, capacity)].
Notebooks 02, 05, 11, 12 and 14 read the files with `load(kind)` and name them with `label(record)`.
"""
import argparse
import json
import os
import platform
import shlex
import subprocess
import sys
import threading
import time
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

from .core.checks import check_int, cpu_model
from .core.paths import REFERENCE_DIR
from .core.tasks import KBackConfig, RecallConfig
from .core.timing import THREADS, available, device_name, tf32_flags
from .core.train import TrainConfig
from .lessons import amnesia, bottleneck, capacity, linear, race, scaling

FORMAT = "helpers.record/1"
# the kinds of recording, each with a recorder
RECORDINGS = ("race", "scaling", "amnesia", "bottleneck", "linear", "capacity")


def commit():
    """The course's git commit (git rev-parse HEAD), with "+changes" when files differ from it, else "unknown";
    for every recording of notebooks 05, 11 and 12."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=30)
    try:
        head, status = git("rev-parse", "HEAD"), git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if head.returncode or not head.stdout.strip():
        return "unknown"
    return head.stdout.strip() + ("+changes" if status.stdout.strip() else "")


def environment(device):
    """Where and with what a recording is made: commit, date, device, CPU, threads, versions, precision switches,
    SDPA's kernel, the machine's load. Every recording of notebooks 05, 11 and 12 carries it."""
    device = torch.device(device)
    return {"commit": commit(), "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "device": device.type, "cpu": cpu_model(),
            "device_name": device_name(device).replace("CPU", cpu_model(), 1),  # the CPU by its model name
            "cpu_threads": torch.get_num_threads(), "cpu_cores": os.cpu_count(), "torch": torch.__version__,
            "cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version() if device.type == "cuda" else None,
            "python": platform.python_version(), "numpy": np.__version__, "platform": platform.platform(),
            "onednn": torch.backends.mkldnn.is_available() and torch.backends.mkldnn.enabled,
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),  # AVX2 or AVX-512 kernels: their sums differ
            "tf32": tf32_flags(),  # as the process starts; each config's tf32 sets both for its timed GPU runs
            "float32_matmul_precision": torch.get_float32_matmul_precision(),
            "sdpa_kernel": scaling.sdpa_kernel_on(device),  # which kernel SDPA picks at float32 here
            "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None}  # busy: slower figures


def path_for(kind, device, out_dir=REFERENCE_DIR):
    """data/reference/<kind>_<device>.json, read by notebooks 05, 11 and 12."""
    return Path(out_dir) / f"{kind}_{torch.device(device).type}.json"


def read(path):
    """The JSON object in `path`; a ValueError naming the file when it is not one (cut off while written, say)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except ValueError as err:  # not JSON (UnicodeDecodeError is a ValueError too)
        raise ValueError(f"{path} is not a readable recording ({err}); it may have been cut off while written: "
                         "move it away to record afresh") from err
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a readable recording: it holds a JSON {type(data).__name__}, not an object")
    return data


def write_atomically(path, text):
    """Write `text` to `path` through a temporary file in the same folder and os.replace, so a run killed while
    writing leaves the old file whole, never half a file (python -m helpers.record)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(temporary, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())  # on disk before it takes the name
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)  # only left when the write or the replace failed


class Recording:
    """One file being written for notebook 05, 11 or 12: `add(result)` appends and rewrites it, so a stopped
    run keeps what it measured."""

    def __init__(self, kind, device, settings, path, command=None):
        self.path = Path(path)
        self.start, self.cpu_start = time.perf_counter(), time.process_time()
        command = command or "python -m helpers.record " + shlex.join(sys.argv[1:])
        self.data = {"format": FORMAT, "kind": kind, "complete": False,
                     "provenance": {"command": command, **environment(device)},
                     "settings": settings, "results": []}

    def resume(self, extends=(), key=("model", "length", "seed")):
        """Take over the results of an unfinished file at this path with the same kind and settings, or of a
        finished one whose settings the `extends` keys (dicts: variants, say) only add to; return the
        `key` fields of each, (model, length, seed) by default, so they are not measured again (python -m
        helpers.record amnesia)."""
        if not self.path.exists():
            return []
        old = read(self.path)  # a file cut off while written is refused, not silently started over
        new = json.loads(json.dumps(self.data["settings"]))  # as the file holds it: tuples become lists
        was = old.get("settings") or {}
        added = any(was.get(k, {}) != new[k] for k in extends)
        if (old.get("kind") != self.data["kind"] or (old.get("complete") and not added)
                or any(was.get(k) != new[k] for k in new if k not in extends)
                or any(new[k].get(name, value) != value for k in extends for name, value in was.get(k, {}).items())
                or any(name not in new[k] for k in extends for name in was.get(k, {}))):
            return []
        self.data["results"] = old["results"]
        prov = old["provenance"]
        self.data["provenance"]["resumed_from"] = prov.get("resumed_from") or prov.get("date")  # the first start
        self.start -= prov.get("wall_seconds", 0)  # the times count both sittings
        self.cpu_start -= prov.get("cpu_seconds", 0)
        return [tuple(r[k] for k in key) for r in old["results"]]

    def add(self, result=None):
        """Append `result` (if any) and write the file."""
        if result is not None:
            self.data["results"].append(result)
        prov = self.data["provenance"]
        prov["wall_seconds"] = round(time.perf_counter() - self.start, 1)
        prov["cpu_seconds"] = round(time.process_time() - self.cpu_start, 1)
        write_atomically(self.path, json.dumps(self.data, indent=1) + "\n")

    def finish(self):
        """Mark the recording complete and write it; returns the path."""
        self.data["complete"] = True
        self.add()
        return self.path


def check_device(device):
    """Raise ValueError unless `device` is 'cpu' or 'cuda' and present here (the command line)."""
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
    if not available(device):
        raise ValueError(f"device {device!r} is not available on this machine")


def race_plan(device, quick=False):
    """The races recorded on `device` for notebook 11 (quick: tiny, for tests): torch's ways. Pure Python and
    NumPy race in notebook 11, where they are written; the CPU file keeps their figures from when the recorder
    held them."""
    ways = race.TORCH_WAYS if device == "cuda" else ("torch-cpu",)
    if quick:
        return [race.RaceConfig(words=40, d=4, ways=ways, repeats=1, warmup=0)]
    plan = [race.RaceConfig(words=1000, d=16, ways=ways), race.RaceConfig(words=1000, d=256, ways=ways)]
    if device == "cuda":  # each layer also at its best GPU precision: bfloat16 autocast beside float32
        plan += [race.RaceConfig(words=1000, d=d, ways=("torch-gpu",), gpu_precision="bfloat16") for d in (16, 256)]
    return plan


def scaling_plan(device, quick=False):
    """The sweeps recorded on `device` (quick: tiny, for tests) for notebook 12."""
    if quick:
        return [scaling.ScaleConfig(lengths=(16, 32), d=8, device=device, repeats=1, warmup=0, matmul_n=64)]
    if device != "cuda":
        return [scaling.ScaleConfig(lengths=tuple(2 ** k for k in range(6, 13)), device="cpu")]
    lengths = tuple(2 ** k for k in range(6, 15))  # 64 .. 16384
    return [scaling.ScaleConfig(lengths=lengths, d=256, batch=8, heads=4, device="cuda"),
            scaling.ScaleConfig(lengths=lengths, d=256, batch=8, heads=4, device="cuda", precision="bfloat16",
                                layers=scaling.SWEEP_LAYERS)]  # bfloat16 autocast: every layer at its best


def amnesia_plan(device, quick=False):
    """Notebook 05's cost of remembering: steps to 90% held-out accuracy at lengths 5 to 160 (a GPU adds 320 and
    640), 3 seeds, every variant, at most 3,200 steps (quick: two short lengths, a small cap)."""
    if quick:
        return {"lengths": [5, 6], "seeds": [0], "variants": ["lstm", "transformer"], "target": 0.9, "max_steps": 64}
    lengths = [5, 10, 20, 40, 80, 160] + ([320, 640] if device == "cuda" else [])
    return {"lengths": lengths, "seeds": [0, 1, 2], "variants": list(amnesia.VARIANTS),
            "target": amnesia.STEPS_TARGET, "max_steps": amnesia.STEPS_CAP}


def timed_settings(plan):
    """A race's or sweep's recorded settings: the timed functions' own configs and torch's CPU threads
    (notebooks 11 and 12)."""
    return {"configs": [asdict(c) for c in plan], "threads": torch.get_num_threads()}


def amnesia_settings(plan):
    """The cost-of-remembering recording's settings for `plan` (notebook 05)."""
    return {**plan, "variants": {v: amnesia.check_variant(v) for v in plan["variants"]},
            "steps_per_epoch": amnesia.STEPS_PER_EPOCH, "width": amnesia.WIDTH, "fresh_strings": True,
            "recall": {k: v for k, v in asdict(RecallConfig()).items() if k in ("n_test", "batch_size")},
            "lr": TrainConfig.lr,
            "learning_rates": {v: lr for v, lr in amnesia.LEARNING_RATES.items() if v in plan["variants"]}}


def record_race(device, path, quick=False, log=print):
    """Run the race plan on `device` into `path` (notebook 11 reads it)."""
    plan = race_plan(device, quick)
    rec = Recording("race", device, timed_settings(plan), path)
    for cfg in plan:
        log(f"race: {cfg.words} words, width {cfg.d}, ways {', '.join(cfg.ways)}")
        result = race.run_race(**asdict(cfg))
        log(str(result))
        rec.add(result.to_dict())
    return rec.finish()


def record_scaling(device, path, quick=False, log=print):
    """Run the scaling plan on `device` into `path` (notebook 12 reads it)."""
    plan = scaling_plan(device, quick)
    rec = Recording("scaling", device, timed_settings(plan), path)
    for cfg in plan:
        log(f"scaling on {cfg.device} ({cfg.dtype}, autocast {cfg.precision}): lengths {cfg.lengths[0]}.."
            f"{cfg.lengths[-1]}, {', '.join(cfg.layers)}")
        result = scaling.sweep(cfg)
        for p in result["points"]:
            done = race.format_seconds(p["median_s"]) if p["median_s"] is not None else f"failed: {p['error']}"
            log(f"  {p['layer']:<16} n={p['n']:<6} {done}")
        rec.add(result)
    return rec.finish()


def record_amnesia(device, path, quick=False, log=print):
    """Run the cost-of-remembering plan on `device` into `path`, one result per (variant, length, seed); a file
    left unfinished with the same settings is resumed, not started again (notebook 05)."""
    plan = amnesia_plan(device, quick)
    rec = Recording("amnesia", device, amnesia_settings(plan), path)
    done = rec.resume(extends=("variants", "learning_rates"))  # new variants add to a finished file
    if done:
        log(f"resuming {path}: {len(done)} runs already recorded")

    def add(run):
        steps = f"{run['steps']} steps" if run["steps"] is not None else f"beyond {plan['max_steps']} steps"
        log(f"{run['model']:<12} length {run['length']:>4} seed {run['seed']}: {steps} ({run['seconds']:.1f} s)")
        rec.add(run)
    amnesia.steps_to_remember(plan["lengths"], plan["seeds"], plan["variants"], plan["target"], plan["max_steps"],
                              device, done=done, log=add)
    return rec.finish()


def bottleneck_settings(quick=False):
    """What a bottleneck recording holds as its settings: the plan, the learning rate, the task's sizes."""
    kept = ("n_train", "per_k_test", "batch_size")
    return {**bottleneck.plan(quick), "fresh_strings": True, "lr": TrainConfig.lr,
            "k_back": {k: v for k, v in asdict(KBackConfig()).items() if k in kept}}


def record_bottleneck(device, path, quick=False, log=print):
    """Bits held and accuracy of both models at every width, length and seed of bottleneck.plan, same budget; a file
    left unfinished with the same settings is resumed (notebook 02)."""
    settings = bottleneck_settings(quick)
    rec = Recording("bottleneck", device, settings, path)
    done = rec.resume()
    if done:
        log(f"resuming {path}: {len(done)} runs already recorded")

    def add(row):
        log(f"{row['model']:<24} length {row['length']:>3} seed {row['seed']}: {row['test_acc']:.1%}, "
            f"{row['bits']:.1f} bits, {row['verdict']} ({row['seconds']:.0f} s)")
        rec.add(row)
    bottleneck.sweep(settings, done, add, device)
    return rec.finish()


PARALLEL = ("linear", "capacity")  # the recordings whose runs --jobs trains side by side
RECORDERS = {"race": record_race, "scaling": record_scaling, "amnesia": record_amnesia,
             "bottleneck": record_bottleneck, "linear": linear.record_linear, "capacity": capacity.record_capacity}


def load(kind, root=REFERENCE_DIR):
    """Every recording of `kind` in data/reference/, GPU ones first (other files there are skipped) (notebook 05)."""
    if kind not in RECORDINGS:
        raise ValueError(f"kind must be one of {list(RECORDINGS)}, got {kind!r}")
    found = [read(p) for p in sorted(Path(root).glob("*.json"))]
    found = [d for d in found if d.get("format") == FORMAT and d.get("kind") == kind]
    return sorted(found, key=lambda d: d["provenance"]["device"] == "cpu")


def label(rec, detail=False):
    """'recorded on <device name>, <date>', noting a busy machine (load above its threads) (notebook 05); with
    `detail`, the threads and load average always, and the commit (notebooks 11 and 12)."""
    prov = rec["provenance"]
    load_avg = prov.get("load_average")
    if detail:
        threads = f"{prov['cpu_threads']} thread{'s' * (prov['cpu_threads'] != 1)} of {prov.get('cpu_cores', '?')}"
        load = f"load {load_avg:.1f}" if load_avg is not None else "load unknown"
        return (f"recorded on {prov.get('cpu', prov['device_name'])}" + (f" + {prov['device_name']}" if
                prov["device"] != "cpu" else "") + f", {prov['date']}, {threads}, {load}, "
                f"code {prov.get('commit', 'unknown')[:10]}")
    busy = f" (busy: load {load_avg:.0f})" if load_avg and load_avg > prov.get("cpu_threads", 1) + 0.5 else ""
    return f"recorded on {prov['device_name']}, {prov['date']}{busy}"


def expected_settings(kind, device):
    """The settings the live code would record now for `kind` on `device` (its plan's configs, the course's
    threads), as JSON holds them (tests/test_recordings.py)."""
    if kind == "amnesia":
        settings = amnesia_settings(amnesia_plan(device))
    elif kind == "bottleneck":
        settings = bottleneck_settings()
    elif kind == "linear":
        settings = linear.linear_settings()
    elif kind == "capacity":
        settings = capacity.capacity_settings()
    else:
        plan = (race_plan if kind == "race" else scaling_plan)(device)
        settings = {"configs": [asdict(c) for c in plan], "threads": THREADS}
    return json.loads(json.dumps(settings))


def differences(recorded, live, where="settings"):
    """Every place where `recorded` and `live` (JSON values) differ, as 'where: recorded X, live Y' lines."""
    if isinstance(recorded, dict) and isinstance(live, dict):
        return [line for key in sorted(set(recorded) | set(live), key=str)
                for line in differences(recorded.get(key, "(absent)"), live.get(key, "(absent)"), f"{where}.{key}")]
    if isinstance(recorded, list) and isinstance(live, list) and len(recorded) == len(live):
        return [line for i, (r, v) in enumerate(zip(recorded, live)) for line in differences(r, v, f"{where}[{i}]")]
    return [] if recorded == live else [f"{where}: recorded {recorded!r}, live {live!r}"]


def settings_mismatch(rec):
    """Where a recording's settings differ from what the live code would record now: [] when it still matches
    (notebooks 02, 05, 11 and 12 draw only such recordings; tests/test_recordings.py)."""
    if rec.get("kind") not in RECORDINGS:
        raise ValueError(f"rec must be a recording of kind {list(RECORDINGS)}, got kind {rec.get('kind')!r}")
    return differences(rec.get("settings"), expected_settings(rec["kind"], rec["provenance"]["device"]))


def main(argv=None):
    """Record one kind of measurement on --device into --out/<kind>_<device>.json (notebooks 05, 11, 12)."""
    parser = argparse.ArgumentParser(prog="python -m helpers.record", description=main.__doc__)
    parser.add_argument("kind", choices=RECORDINGS)
    parser.add_argument("--device", default="cuda" if available("cuda") else "cpu", choices=("cpu", "cuda"))
    parser.add_argument("--out", default=str(REFERENCE_DIR), help="folder for the JSON file")
    parser.add_argument("--quick", action="store_true", help="tiny settings (a smoke test)")
    parser.add_argument("--jobs", type=int, default=1, help="linear, capacity: runs trained at once, one process each")
    args = parser.parse_args(argv)
    try:
        check_device(args.device)
        if args.jobs != 1 and args.kind not in PARALLEL:
            raise ValueError(f"--jobs is for the {' and '.join(PARALLEL)} recordings only, got {args.jobs} for "
                             f"{args.kind}")
        check_int("jobs", args.jobs, 1, 64)
    except ValueError as err:
        parser.exit(2, f"{parser.prog}: error: {err}\n")
    extra = {"jobs": args.jobs} if args.kind in PARALLEL else {}
    path = RECORDERS[args.kind](args.device, path_for(args.kind, args.device, args.out), args.quick, **extra)
    print(f"wrote {path}")
    return path


if __name__ == "__main__":
    main(sys.argv[1:])
