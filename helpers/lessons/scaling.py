"""The scaling sweep (notebook 12): time, memory and FLOP/s of an LSTM layer and of attention layers against
sequence length, on the CPU and on a GPU. `python -m helpers.record scaling` records it to data/reference/."""
import statistics
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn

from ..core.checks import check_int
from ..core.counting import fit_power, layer_flops, saved_bytes
from ..core.models import SDPA_BACKENDS, MultiHeadAttention
from ..core.timing import PRECISIONS, available, device_name, precision, synchronize, tf32_flags, time_call
from ..core.train import checkpoint, seeded
from .race import autograd_nodes

SWEEP_LAYERS = ("lstm", "attention", "sdpa") + tuple(f"sdpa-{b}" for b in SDPA_BACKENDS)
SWEEP_NAMES = {"lstm": "LSTM (nn.LSTM)", "attention": "attention, explicit softmax(QKᵀ)V",
               "sdpa": "attention, scaled_dot_product_attention",
               **{f"sdpa-{b}": f"attention, SDPA {b} kernel" for b in SDPA_BACKENDS}}


@dataclass(frozen=True)
class ScaleConfig:
    """One sweep's settings, stored with its result (notebook 12)."""
    lengths: tuple = (64, 128, 256, 512, 1024)  # sequence lengths n
    d: int = 64                                 # width of both layers
    batch: int = 1                              # sequences per call
    heads: int = 1                              # attention heads (d must be a multiple)
    layers: tuple = ("lstm", "attention", "sdpa")  # drawn from SWEEP_LAYERS
    repeats: int = 3                            # timed runs per point; the median counts
    warmup: int = 1                             # untimed runs per point
    device: str = "cpu"                         # "cpu" or "cuda"
    dtype: str = "float32"                      # "float32", "bfloat16" or "float16"
    seed: int = 0                               # seeds weights and inputs
    matmul_n: int = 0                           # side of the reference matmul (0: 1024 on a CPU, 8192 on a GPU)
    precision: str = "float32"                  # autocast to this ("bfloat16", "float16"): a layer's best GPU precision
    tf32: bool = False                          # on CUDA, both TF32 switches; False: float32 is float32


# SDPA's kernels, by the autograd node each leaves behind; no node of its own: the math fallback (matmuls, softmax)
SDPA_KERNELS = {"ScaledDotProductFlashAttentionForCpuBackward0": "flash (CPU)",
                "ScaledDotProductFlashAttentionBackward0": "flash",
                "ScaledDotProductEfficientAttentionBackward0": "memory-efficient",
                "ScaledDotProductCudnnAttentionBackward0": "cuDNN"}


def sdpa_kernel_used(out):
    """Which kernel scaled_dot_product_attention ran to give `out` (a tensor needing grad), read from its autograd
    graph: "flash (CPU)", "flash", "memory-efficient", "cuDNN" or "math" (notebook 12)."""
    names = autograd_nodes(out)
    return next((kernel for node, kernel in SDPA_KERNELS.items() if node in names), "math")


def build_layer(layer, cfg):
    """The torch module of a sweep layer: (B, T, d) in, (B, T, d) out (notebook 12)."""
    if layer == "lstm":
        return nn.LSTM(cfg.d, cfg.d, batch_first=True)
    if layer == "attention":
        return MultiHeadAttention(cfg.d, cfg.heads)
    if layer.startswith("sdpa"):
        return MultiHeadAttention(cfg.d, cfg.heads, fused=True, backend=layer.partition("-")[2] or None)
    raise ValueError(f"layers must be drawn from {list(SWEEP_LAYERS)}, got {layer!r}")


def measure_point(layer, n, cfg):
    """Time, memory and FLOP/s of one layer at length n: a dict (error set if it could not run) (notebook 12)."""
    point = {"layer": layer, "n": n, "median_s": None, "runs": [], "saved_bytes": None, "peak_bytes": None,
             "flops": layer_flops("lstm" if layer == "lstm" else "attention", n, cfg.d, cfg.batch),
             "flops_per_s": None, "error": None}
    device = torch.device(cfg.device)
    try:
        with precision(device, cfg.precision, cfg.tf32):
            measure_into(point, layer, n, cfg)
    except RuntimeError as err:  # out of memory, or a kernel this device or dtype lacks
        point["error"] = str(err).splitlines()[0][:200]
    finally:
        if device.type == "cuda":
            torch.cuda.empty_cache()
    return point


def measure_into(point, layer, n, cfg):
    """measure_point's body, inside its precision: fills `point` in place (notebook 12)."""
    device, dtype = torch.device(cfg.device), getattr(torch, cfg.dtype)
    with seeded(cfg.seed):
        module = build_layer(layer, cfg).to(device, dtype)
        x = torch.randn(cfg.batch, n, cfg.d, device=device, dtype=dtype, requires_grad=True)  # (B, T, d)

    def forward():
        return module(x)[0]

    def step():
        x.grad = None
        module.zero_grad(set_to_none=True)
        forward().sum().backward()
    point["saved_bytes"] = saved_bytes(forward)
    if layer.startswith("sdpa"):
        point["kernel"] = sdpa_kernel_used(forward())
    if device.type == "cuda":
        synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        step()
        synchronize(device)
        point["peak_bytes"] = torch.cuda.max_memory_allocated(device) - base
    runs = time_call(step, device, cfg.repeats, cfg.warmup, between=checkpoint)  # a Stop between two timings
    point["runs"], point["median_s"] = runs, statistics.median(runs)
    point["flops_per_s"] = point["flops"] / point["median_s"]


def sdpa_kernel_on(device, dtype="float32"):
    """The kernel scaled_dot_product_attention picks on `device` for a small (1, 1, 64, 64) problem at `dtype`
    (notebook 12; every recording's provenance)."""
    q = torch.randn(1, 1, 64, 64, device=device, dtype=getattr(torch, dtype), requires_grad=True)  # (B, H, T, d)
    return sdpa_kernel_used(torch.nn.functional.scaled_dot_product_attention(q, q, q))


def sweep(cfg=ScaleConfig()):
    """Measure every layer at every length -> a JSON-ready dict (config, points, device facts) (notebook 12)."""
    for n in cfg.lengths:
        check_int("length", n, 1, 1 << 20)
    for layer in cfg.layers:
        if layer not in SWEEP_LAYERS:
            raise ValueError(f"layers must be drawn from {list(SWEEP_LAYERS)}, got {layer!r}")
    if cfg.dtype not in ("float32", "bfloat16", "float16"):
        raise ValueError(f"dtype must be 'float32', 'bfloat16' or 'float16', got {cfg.dtype!r}")
    if cfg.precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {list(PRECISIONS)}, got {cfg.precision!r}")
    if cfg.d % cfg.heads:
        raise ValueError(f"d ({cfg.d}) must be a multiple of heads ({cfg.heads})")
    device = torch.device(cfg.device)
    if not available(device.type):
        raise ValueError(f"device {cfg.device!r} is not available here")
    points = []
    for n in cfg.lengths:
        for layer in cfg.layers:
            checkpoint()  # a panel's Stop ends the sweep between two points
            points.append(measure_point(layer, n, cfg))
    with precision(device, allow_tf32=cfg.tf32):  # the reference matmul at the sweep's TF32 setting
        rate, flags = matmul_rate(cfg.device, cfg.dtype, cfg.matmul_n), tf32_flags()
    return {"config": {**asdict(cfg), "lengths": list(cfg.lengths), "layers": list(cfg.layers)},
            "device_name": device_name(device), "points": points, "matmul_flops_per_s": rate,
            "peak_flops_per_s": peak_flops(device, cfg.dtype), "tf32": flags if device.type == "cuda" else None,
            "threads": torch.get_num_threads() if device.type == "cpu" else None}


def sweep_work(layer, n, cfg=ScaleConfig()):
    """make_work(device) for helpers.time_devices: one sweep layer at length n, forward + backward (notebook 12)."""
    def make_work(device):
        with seeded(cfg.seed):
            module = build_layer(layer, cfg).to(device)
            x = torch.randn(cfg.batch, n, cfg.d, device=device, requires_grad=True)  # (B, T, d)
        return lambda: module(x)[0].sum().backward()
    return make_work


def series(result, layer, key="median_s"):
    """(lengths, values) of one layer in a sweep result, leaving out points that did not run (notebook 12)."""
    pts = [p for p in result["points"] if p["layer"] == layer and p.get(key) is not None]
    return [p["n"] for p in pts], [p[key] for p in pts]


def time_crossover(result, a="lstm", b="attention"):
    """Shortest length at which layer `b` is slower than layer `a`, or None within the sweep (notebook 12)."""
    sa, sb = dict(zip(*series(result, a))), dict(zip(*series(result, b)))
    return next((n for n in sorted(sa) if n in sb and sb[n] > sa[n]), None)


def crossover_estimate(result, a="lstm", b="attention", last=4):
    """Where layer `b` becomes slower than layer `a` (notebook 12): {"n", "how", "slopes"}. how is "measured" (a
    length of the sweep, as time_crossover() finds it), "extrapolated" (b faster at every length of the sweep: the power
    laws fitted over the last `last` lengths meet at n, beyond the sweep), "unpredicted" (b faster at every length and
    its fitted slope not steeper: no crossover within the sweep, and a fit still bound by per-call overhead cannot
    predict one; n is None) or "unknown" (fewer than 2 lengths to fit). slopes: the fitted (a, b) time slopes, None
    for "unknown"."""
    n = time_crossover(result, a, b)
    if min(len(series(result, a)[0]), len(series(result, b)[0])) < 2:
        return {"n": n, "how": "measured" if n else "unknown", "slopes": None}
    (ca, sa), (cb, sb) = fit_power(*series(result, a), last), fit_power(*series(result, b), last)
    if n:
        return {"n": n, "how": "measured", "slopes": (sa, sb)}
    if sb <= sa:
        return {"n": None, "how": "unpredicted", "slopes": (sa, sb)}
    return {"n": (ca / cb) ** (1 / (sb - sa)), "how": "extrapolated", "slopes": (sa, sb)}


def estimate_seconds(length, epochs, train_length):
    """About how many seconds the scaling panel's run takes on a 2-core laptop (notebook 12): the sweep up to `length`
    (explicit attention's n² term rules it: 5 s at 4,096) and the tiny training, `epochs` at `train_length` (0.01 s
    per epoch and letter, rounded up from 21 s for 20 epochs at 128). An estimate for the panel's warning."""
    check_int("length", length, 1, 1 << 16)
    check_int("epochs", epochs, 0, 1000)
    check_int("train_length", train_length, 1, 1 << 16)
    return 1 + 5 * (length / 4096) ** 2 + 0.01 * epochs * train_length


# Dense tensor-core / FP32 peaks from NVIDIA's datasheets (SXM boards), in FLOP/s; the first matching name wins.
PEAKS = (("H200 NVL", {"float32": 60e12, "bfloat16": 835e12, "float16": 835e12}),
         ("H100 PCIe", {"float32": 51e12, "bfloat16": 756e12, "float16": 756e12}),
         ("H200", {"float32": 67e12, "bfloat16": 989e12, "float16": 989e12}),
         ("H100", {"float32": 67e12, "bfloat16": 989e12, "float16": 989e12}),
         ("A100", {"float32": 19.5e12, "bfloat16": 312e12, "float16": 312e12}))


def peak_flops(device, dtype="float32"):
    """The device's datasheet peak FLOP/s for `dtype`, or None where unknown (every CPU, most GPUs) (notebook 12)."""
    device = torch.device(device)
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((p[dtype] for key, p in PEAKS if key in name), None)


def matmul_rate(device="cpu", dtype="float32", n=None):
    """FLOP/s of one large square matrix product on `device`: the best this device does in practice, from the
    fastest of its timed runs (other work on the machine only slows a run down) (notebook 12)."""
    device = torch.device(device)
    n = n or (8192 if device.type == "cuda" else 1024)
    a = torch.randn(n, n, device=device, dtype=getattr(torch, dtype))  # (n, n)
    runs = time_call(lambda: a @ a, device, repeats=5, warmup=2)  # by hand, not Timer: sweep runs in a panel's thread
    return 2 * n ** 3 / min(runs)


