"""`make gpu-check` (README.md, "GPU check"): on a CUDA machine, in one folder and about 8 minutes on an H200, the
unit tests that use a device, the recorder with --device cuda (the race at widths 16 and 256, the scaling sweep to
length 16384 in float32 and bfloat16 with the fraction of peak, the cost-of-remembering sweep to length 640,
time-boxed and resumable) and every notebook headless through papermill with DEVICE=cuda at its defaults. Without
CUDA (or with --tiny) the same on the CPU at tiny sizes: the recorder's --quick settings, each notebook at a small
LENGTH and EPOCHS (an assert that fails only there is reported, not counted as a failure).

    OUT/env.json              GPU, driver, torch, CUDA, cuDNN, both TF32 flags, date
    OUT/pytest.xml, .log      the tests (JUnit XML)
    OUT/record/               {race,scaling,amnesia}_<device>.json, one log each
    OUT/notebooks/            each notebook as executed, one log each
    OUT/summary.json          every stage: status, seconds, what failed; exit status 1 if anything did

Runs with whatever python starts it (no venv of its own): `python3 tools/gpu_check.py --out DIR`.
"""
import argparse
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tarfile
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
KINDS = ("race", "scaling", "amnesia")
# (LENGTH, EPOCHS) of each notebook with --tiny: near the small end of its panel's ranges (05 prints positions
# up to 40 and 12 fits slopes over several lengths: both fail with an error below those)
TINY = {"01": (5, 1), "02": (4, 1), "03": (4, 1), "04": (5, 1), "05": (40, 1), "06": (4, 1), "07": (4, 1),
        "08": (4, 1), "09": (11, 1), "10": (2, 1), "11": (50, 1), "12": (256, 1), "13": (1, 1),
        "14": (5, 1)}
# the unit tests that run on a device: files that use CUDA or a device argument, or mark tests `gpu`
DEVICE_TEST = re.compile(r"mark\.gpu|cuda|pick_device|device=")
TINY_TESTS = ("test_timing.py",)  # with --tiny: these and the gpu-marked files
MARKERS = "gpu or not (slow or browser or hub or lint)"
FAILED = ("failed", "timeout", "not run")  # statuses that make the exit status 1


def parse(argv=None):
    """The command line: --out, --tiny, --budget-minutes, --notebooks, --jobs, --archive."""
    parser = argparse.ArgumentParser(prog="tools/gpu_check.py", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, type=Path, help="folder for everything the check writes")
    parser.add_argument("--tiny", action="store_true", help="tiny sizes on the CPU (forced without CUDA)")
    parser.add_argument("--budget-minutes", type=float, default=8.0,
                        help="the whole check's time box; each stage gets its share (default 8)")
    parser.add_argument("--notebooks", nargs="*", metavar="NN", help="only these notebooks, by number (01 04)")
    parser.add_argument("--jobs", type=int, default=0, help="notebooks at once (default: 6 with CUDA, else 1)")
    parser.add_argument("--archive", type=Path, help="also pack OUT into this .tar.gz")
    args = parser.parse_args(argv)
    if not 0.5 <= args.budget_minutes <= 60:
        parser.error(f"--budget-minutes must be from 0.5 to 60, got {args.budget_minutes}")
    if args.jobs < 0:
        parser.error(f"--jobs must be 0 (automatic) or more, got {args.jobs}")
    known = {p.name[:2] for p in NOTEBOOKS}
    unknown = sorted(set(args.notebooks or ()) - known)
    if unknown:
        parser.error(f"--notebooks must be drawn from {sorted(known)}, got {unknown}")
    return args


def child_env():
    """The environment of every step: this checkout's helpers first on the path, the Makefile's settings."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    for key, value in (("PYTHONHASHSEED", "0"), ("ATEN_CPU_CAPABILITY", "avx2"), ("ONEDNN_MAX_CPU_ISA", "AVX2"),
                       ("PYTHONUNBUFFERED", "1")):
        env.setdefault(key, value)
    env.pop("MPLBACKEND", None)  # each tool picks its own (tests Agg, kernels inline)
    return env


def version(name):
    """The installed version of distribution `name`, or None."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as found
    try:
        return found(name)
    except PackageNotFoundError:
        return None


def environment(device):
    """What the check ran on: the GPU and its driver, torch, CUDA, cuDNN, the TF32 flags, the date."""
    import torch
    env = {"date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"), "device": device,
           "python": platform.python_version(), "platform": platform.platform(), "cpu_count": os.cpu_count(),
           "torch": torch.__version__, "cuda": torch.version.cuda, "cuda_available": torch.cuda.is_available(),
           "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
           "tf32_matmul": torch.backends.cuda.matmul.allow_tf32, "tf32_cudnn": torch.backends.cudnn.allow_tf32,
           "float32_matmul_precision": torch.get_float32_matmul_precision(),
           "versions": {n: version(n) for n in ("numpy", "matplotlib", "seaborn", "papermill", "nbclient",
                                                "ipykernel", "ipywidgets", "pytest")}}
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        env.update(gpu=props.name, gpu_memory_gib=round(props.total_memory / 2**30, 1),
                   multiprocessors=props.multi_processor_count, capability=f"{props.major}.{props.minor}")
    try:
        env["nvidia_smi"] = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version,memory.total,clocks.max.sm", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        env["nvidia_smi"] = None
    return env


def run(cmd, log, timeout, cwd=ROOT):
    """Run `cmd` with its output in `log`, killed with its children after `timeout` s: (status, seconds, rc)."""
    start = time.monotonic()
    if timeout < 1:
        return "not run", 0.0, None
    with open(log, "w", encoding="utf-8") as f:
        f.write("$ " + " ".join(map(str, cmd)) + "\n")
        f.flush()
        proc = subprocess.Popen(list(map(str, cmd)), cwd=cwd, env=child_env(), stdout=f, stderr=subprocess.STDOUT,
                                start_new_session=True)  # its own process group: a kernel dies with papermill
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            # SIGKILL goes to the group even when its leader left on SIGTERM: a child may outlive that
            for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 30)):
                try:
                    os.killpg(proc.pid, sig)
                    proc.wait(timeout=wait)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    pass  # the group is gone, or the next signal is needed
            f.write(f"\n[stopped after its time box, {timeout:.0f} s]\n")
            return "timeout", round(time.monotonic() - start, 1), None
    return ("ok" if rc == 0 else "failed"), round(time.monotonic() - start, 1), rc


def test_files(tiny):
    """The test files to run: those marking tests gpu, and those that use a device (--tiny: TINY_TESTS)."""
    files = []
    for path in sorted((ROOT / "tests").glob("test_*.py")):
        text = path.read_text(encoding="utf-8")
        if "mark.gpu" in text or (path.name in TINY_TESTS if tiny else DEVICE_TEST.search(text)):
            files.append(path)
    return [f for f in files if f.name != "test_gpu_check.py"]  # that test runs this script


def junit_counts(path):
    """{tests, failures, errors, skipped} of a JUnit XML file, or {} when there is none."""
    try:
        suites = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return {}
    suites = [suites] if suites.tag == "testsuite" else list(suites)
    return {k: sum(int(s.get(k, 0)) for s in suites) for k in ("tests", "failures", "errors", "skipped")}


def stage_tests(out, tiny, deadline):
    """pytest over the device tests, JUnit XML in OUT/pytest.xml."""
    files = [f.relative_to(ROOT) for f in test_files(tiny)]
    cmd = [sys.executable, "-m", "pytest", *files, "-m", MARKERS, "-p", "no:cacheprovider", "-q", "-rfEs",
           "--junitxml", out / "pytest.xml"]
    status, seconds, rc = run(cmd, out / "pytest.log", deadline - time.monotonic())
    return {"stage": "tests", "status": status, "seconds": seconds, "returncode": rc,
            "files": [str(f) for f in files], **junit_counts(out / "pytest.xml")}


def recording_facts(path):
    """What a recording holds: complete or not, results, and per kind the sizes reached (the summary)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"file": None}
    facts = {"file": str(path), "complete": data.get("complete"), "results": len(data.get("results", []))}
    results = data.get("results", [])
    if data.get("kind") == "amnesia":
        facts["lengths"] = sorted({r["length"] for r in results})
        facts["seeds"] = sorted({r["seed"] for r in results})
    if data.get("kind") == "scaling":
        facts["sweeps"] = [peak_fractions(r) for r in results]
    return facts


def peak_fractions(sweep):
    """One scaling sweep, briefly: dtype, longest length timed per layer, best share of the datasheet peak."""
    peak, best = sweep.get("peak_flops_per_s"), {}
    for p in sweep["points"]:
        if p["median_s"] is None:
            continue
        row = best.setdefault(p["layer"], {"longest": 0, "peak_fraction": None})
        row["longest"] = max(row["longest"], p["n"])
        if peak and p["flops_per_s"]:
            row["peak_fraction"] = round(max(row["peak_fraction"] or 0, p["flops_per_s"] / peak), 4)
    return {"dtype": sweep["config"]["dtype"], "peak_flops_per_s": peak, "layers": best,
            "errors": sum(p["error"] is not None for p in sweep["points"])}


def stage_record(kind, out, device, tiny, timeout):
    """python -m helpers.record KIND --device DEVICE --out OUT/record (--quick with --tiny)."""
    folder = out / "record"
    folder.mkdir(exist_ok=True)
    cmd = [sys.executable, "-m", "helpers.record", kind, "--device", device, "--out", folder] + (["--quick"] * tiny)
    status, seconds, rc = run(cmd, folder / f"{kind}.log", timeout)
    facts = recording_facts(folder / f"{kind}_{device}.json")
    if status == "timeout" and kind == "amnesia" and facts.get("results"):
        status = "partial"  # time-boxed on purpose: what it measured is kept, and a rerun into OUT resumes it
    return {"stage": f"record {kind}", "status": status, "seconds": seconds, "returncode": rc, **facts}


def notebook_error(path):
    """(ename, evalue, cell index) of the first error output in an executed notebook, else None."""
    try:
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    except (OSError, ValueError, KeyError):
        return None
    for i, cell in enumerate(cells):
        for o in cell.get("outputs", []):
            if o.get("output_type") == "error":
                return o.get("ename"), o.get("evalue", "")[:300], i
    return None


def stage_notebook(src, out, device, tiny, deadline):
    """One notebook through papermill with DEVICE (and --tiny's LENGTH and EPOCHS) into OUT/notebooks."""
    folder = out / "notebooks"
    dest = folder / src.name
    params = ["-p", "DEVICE", device]
    if tiny:
        length, epochs = TINY.get(src.name[:2], (None, 1))
        params += (["-p", "LENGTH", str(length)] if length else []) + ["-p", "EPOCHS", str(epochs)]
    cmd = [sys.executable, "-m", "papermill", src, dest, *params, "-k", "python3", "--cwd", src.parent,
           "--no-progress-bar", "--start-timeout", "120"]
    status, seconds, rc = run(cmd, folder / f"{src.stem}.log", deadline - time.monotonic())
    result = {"stage": f"notebook {src.stem}", "status": status, "seconds": seconds, "returncode": rc,
              "parameters": dict(zip(params[1::3], params[2::3]))}
    error = notebook_error(dest) if status != "ok" else None
    if error:
        result.update(error=error[0], message=error[1], cell=error[2])
        if tiny and error[0] == "AssertionError" and status == "failed":
            result["status"] = "assert at tiny size"  # the notebooks' asserts hold at their defaults
    return result


def shares(budget, tiny):
    """Seconds for the race and the scaling sweep (run alone, as they time the device); the tests, the amnesia
    sweep and the notebooks then share what is left of `budget`, side by side."""
    if tiny:
        return budget, budget
    return 0.12 * budget, 0.25 * budget


def run_all(args, device, tiny, start):
    """Every stage, in order: the timed recordings alone, then tests, amnesia and notebooks side by side."""
    out, budget = args.out, args.budget_minutes * 60
    deadline = start + budget
    race_s, scaling_s = shares(budget, tiny)
    stages = [stage_record("race", out, device, tiny, min(race_s, deadline - time.monotonic()))]
    stages.append(stage_record("scaling", out, device, tiny, min(scaling_s, deadline - time.monotonic())))
    notebooks = [p for p in NOTEBOOKS if not args.notebooks or p.name[:2] in args.notebooks]
    (out / "notebooks").mkdir(exist_ok=True)
    jobs = args.jobs or (6 if device == "cuda" else 1)
    with ThreadPoolExecutor(max_workers=jobs + 2) as pool:
        tests = pool.submit(stage_tests, out, tiny, deadline)
        amnesia = pool.submit(lambda: stage_record("amnesia", out, device, tiny, deadline - time.monotonic()))
        with ThreadPoolExecutor(max_workers=jobs) as nb_pool:
            runs = list(nb_pool.map(lambda p: stage_notebook(p, out, device, tiny, deadline), notebooks))
        stages += [tests.result(), amnesia.result(), *runs]
    return stages


def report(stages, env, args, seconds):
    """OUT/summary.json and a printed table; True if nothing failed."""
    failed = [s["stage"] for s in stages if s["status"] in FAILED]
    summary = {"ok": not failed, "failed": failed, "seconds": round(seconds, 1), "tiny": args.tiny,
               "budget_minutes": args.budget_minutes, "device": env["device"], "gpu": env.get("gpu"),
               "stages": stages}
    (args.out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    print(f"\n{env.get('gpu') or 'CPU'}, torch {env['torch']}, CUDA {env['cuda']}, cuDNN {env['cudnn']}, "
          f"TF32 matmul {env['tf32_matmul']}, TF32 cuDNN {env['tf32_cudnn']}")
    for s in stages:
        extra = s.get("message") or (f"{s.get('tests')} tests, {s.get('failures')} failed, "
                                     f"{s.get('errors')} errors, {s.get('skipped')} skipped" if "tests" in s else "")
        if "lengths" in s:
            extra = f"{s['results']} runs, lengths {s['lengths']}, seeds {s['seeds']}"
        print(f"{s['stage']:<36} {s['status']:<20} {s['seconds']:>7.1f} s  {extra}"[:200])
    for sweep in (s for st in stages for s in st.get("sweeps", [])):
        print(f"scaling {sweep['dtype']}: " + ", ".join(
            f"{k} to {v['longest']}" + (f" ({v['peak_fraction']:.1%} of peak)" if v["peak_fraction"] else "")
            for k, v in sweep["layers"].items()))
    print(f"{'all passed' if not failed else 'FAILED: ' + ', '.join(failed)} in {seconds:.0f} s; "
          f"everything in {args.out}")
    return not failed


def main(argv=None):
    """Run the check into --out; exit status 1 if any stage failed."""
    args = parse(argv)
    start = time.monotonic()
    import torch
    args.tiny = args.tiny or not torch.cuda.is_available()
    device = "cpu" if args.tiny else "cuda"
    args.out.mkdir(parents=True, exist_ok=True)
    env = environment(device)
    (args.out / "env.json").write_text(json.dumps(env, indent=1) + "\n", encoding="utf-8")
    print(f"gpu check on {env.get('gpu') or 'the CPU (tiny sizes)'} into {args.out}, "
          f"{args.budget_minutes:g} minutes at most", flush=True)
    ok = report(run_all(args, device, args.tiny, start), env, args, time.monotonic() - start)
    if args.archive:
        with tarfile.open(args.archive, "w:gz") as tar:
            tar.add(args.out, arcname=args.out.name)
        print(f"packed into {args.archive} ({args.archive.stat().st_size / 2**20:.1f} MiB)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
