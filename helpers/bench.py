"""Benchmarks: the speed race (an LSTM layer against a self-attention layer, forward and backward, in
pure Python, NumPy, torch on the CPU and torch on the GPU) and the scaling sweep (time and memory
against sequence length). `python -m helpers.bench --device cuda` records both to data/reference/.

Where only numpy and torch are installed, run the file itself: `python helpers/bench.py --device cuda`.
"""
import argparse
import datetime
import json
import math
import os
import platform
import re
import statistics
import sys
import textwrap
import time
from dataclasses import asdict, dataclass, field
from operator import mul
from pathlib import Path

if __package__ in (None, ""):  # run as a file: load sibling modules without helpers/__init__ (which needs matplotlib)
    import types
    _package = types.ModuleType("helpers")
    _package.__path__ = [str(Path(__file__).resolve().parent)]
    sys.modules["helpers"] = _package
    __package__ = "helpers"

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from .device import NO_GPU, available, device_name, synchronize, time_call
from .models import MultiHeadAttention, attention, build_model
from .tasks import check_int

WAYS = ("python", "numpy", "torch-cpu", "torch-gpu")
WAY_NAMES = {"python": "pure Python", "numpy": "NumPy", "torch-cpu": "torch, CPU", "torch-gpu": "torch, GPU"}
LAYERS = ("lstm", "attention")
LAYER_NAMES = {"lstm": "LSTM", "attention": "Transformer"}
REFERENCE_DIR = Path(__file__).resolve().parent.parent / "data" / "reference"
RECORDED_BY = "python -m helpers.bench"  # marks this module's files among the others in data/reference/
DOCUMENT = Path(__file__).resolve().parent.parent / "data" / "corpus" / "train.txt"
MAX_WORDS = 4096            # longest document the race accepts (the corpus has a few more tokens)
MAX_PYTHON_WORK = 4 * 10**7  # pure Python races only while words² × width stays below this (seconds, not minutes)


# ---------------------------------------------------------------- the race's problem

def document(words):
    """The first `words` tokens of the course corpus: the document both layers read."""
    check_int("words", words, 1, MAX_WORDS)
    tokens = re.findall(r"[a-z]+|[.,]", DOCUMENT.read_text(encoding="utf-8").lower())
    return tokens[:words]


def race_problem(words=1000, d=16, seed=0, dtype="float32"):
    """The race's inputs as NumPy arrays: the embedded document x (T, d), an upstream gradient g (T, d)
    and both layers' weights; every way computes loss = sum(y * g) and its gradients."""
    check_int("d", d, 1, 4096)
    tokens = document(words)
    vocab = sorted(set(tokens))
    rng = np.random.default_rng(seed)
    table = rng.standard_normal((len(vocab), d))  # (V, d) word vectors
    x = table[[vocab.index(t) for t in tokens]]   # (T, d)
    s = 1 / math.sqrt(d)
    p = {"x": x, "g": rng.standard_normal((len(tokens), d)),  # (T, d)
         "W": s * rng.standard_normal((4 * d, d)),            # LSTM: reads x_t, gates (i, f, g, o)
         "U": s * rng.standard_normal((4 * d, d)),            # LSTM: reads h_{t-1}
         "b": s * rng.standard_normal(4 * d)}
    for name in ("Wq", "Wk", "Wv", "Wo"):                     # attention: x @ W, each (d, d)
        p[name] = s * rng.standard_normal((d, d))
    return {k: v.astype(dtype) for k, v in p.items()}


# ---------------------------------------------------------------- way 1: pure Python lists

def _mm(A, B):
    """Matrix product of lists of rows: (n, k) @ (k, m) -> (n, m)."""
    cols = list(zip(*B))  # (m, k)
    return [[sum(map(mul, row, col)) for col in cols] for row in A]


def _sigmoid(v):
    return 1 / (1 + math.exp(-v))


def _softmax(row):
    top = max(row)
    e = [math.exp(v - top) for v in row]
    total = sum(e)
    return [v / total for v in e]


def lstm_python(p):
    """LSTM layer over lists: forward, then backpropagation through time by hand -> (h, grads)."""
    x, g, W, U, b = (p[k] for k in ("x", "g", "W", "U", "b"))
    T, d = len(x), len(U[0])
    zx = [[z + bk for z, bk in zip(row, b)] for row in _mm(x, list(zip(*W)))]  # (T, 4d): x part, all at once
    h, c = [0.0] * d, [0.0] * d
    hs, cache = [], []
    for t in range(T):  # the sequential part: step t needs h_{t-1}
        z = [a + sum(map(mul, u, h)) for a, u in zip(zx[t], U)]
        i, f = [_sigmoid(v) for v in z[:d]], [_sigmoid(v) for v in z[d:2 * d]]
        gg, o = [math.tanh(v) for v in z[2 * d:3 * d]], [_sigmoid(v) for v in z[3 * d:]]
        c_new = [fk * ck + ik * gk for fk, ck, ik, gk in zip(f, c, i, gg)]  # the belt: keep f·c, add i·g
        tc = [math.tanh(v) for v in c_new]
        cache.append((h, c, i, f, gg, o, tc))
        c, h = c_new, [ok * v for ok, v in zip(o, tc)]
        hs.append(h)
    dzs, dh_next, dc_next = [None] * T, [0.0] * d, [0.0] * d
    Ut = list(zip(*U))  # (d, 4d)
    for t in reversed(range(T)):
        h_prev, c_prev, i, f, gg, o, tc = cache[t]
        dh = [gk + dk for gk, dk in zip(g[t], dh_next)]
        dc = [a + dhk * ok * (1 - v * v) for a, dhk, ok, v in zip(dc_next, dh, o, tc)]
        dzs[t] = ([dk * gk * ik * (1 - ik) for dk, gk, ik in zip(dc, gg, i)]
                  + [dk * cp * fk * (1 - fk) for dk, cp, fk in zip(dc, c_prev, f)]
                  + [dk * ik * (1 - gk * gk) for dk, ik, gk in zip(dc, i, gg)]
                  + [dhk * v * ok * (1 - ok) for dhk, v, ok in zip(dh, tc, o)])
        dh_next = [sum(map(mul, col, dzs[t])) for col in Ut]
        dc_next = [dk * fk for dk, fk in zip(dc, f)]
    dzt = list(zip(*dzs))  # (4d, T)
    h_prevs = [[0.0] * d] + hs[:-1]
    grads = {"x": _mm(dzs, W), "W": _mm(dzt, x), "U": _mm(dzt, h_prevs), "b": [sum(r) for r in dzt]}
    return hs, grads


def attention_python(p):
    """Self-attention layer over lists: y = softmax(q·kᵀ/√d)·v·Wo, forward and backward by hand."""
    x, g, Wq, Wk, Wv, Wo = (p[k] for k in ("x", "g", "Wq", "Wk", "Wv", "Wo"))
    scale = 1 / math.sqrt(len(Wq))
    q, k, v = _mm(x, Wq), _mm(x, Wk), _mm(x, Wv)                          # (T, d) each
    a = [_softmax([sum(map(mul, qi, kj)) * scale for kj in k]) for qi in q]  # (T, T): every pair
    h = _mm(a, v)                                                           # (T, d)
    y = _mm(h, Wo)
    dh = _mm(g, list(zip(*Wo)))
    da = [[sum(map(mul, dhi, vj)) for vj in v] for dhi in dh]               # (T, T)
    ds = []
    for ai, dai in zip(a, da):  # softmax backward, row by row
        r = sum(map(mul, ai, dai))
        ds.append([aij * (daij - r) * scale for aij, daij in zip(ai, dai)])
    dq, dk, dv = _mm(ds, k), _mm(list(zip(*ds)), q), _mm(list(zip(*a)), dh)
    xt = list(zip(*x))
    dx = [[a1 + a2 + a3 for a1, a2, a3 in zip(r1, r2, r3)]
          for r1, r2, r3 in zip(_mm(dq, list(zip(*Wq))), _mm(dk, list(zip(*Wk))), _mm(dv, list(zip(*Wv))))]
    grads = {"x": dx, "Wq": _mm(xt, dq), "Wk": _mm(xt, dk), "Wv": _mm(xt, dv), "Wo": _mm(list(zip(*h)), g)}
    return y, grads


# ---------------------------------------------------------------- way 2: NumPy

def _np_sigmoid(v):
    return 1 / (1 + np.exp(-v))


def lstm_numpy(p):
    """LSTM layer in NumPy: one matrix product for the inputs, then a loop of T dependent steps."""
    x, g, W, U, b = (p[k] for k in ("x", "g", "W", "U", "b"))
    T, d = x.shape
    zx = x @ W.T + b  # (T, 4d)
    h, c = np.zeros(d, x.dtype), np.zeros(d, x.dtype)
    hs, cs, gates = np.empty((T, d), x.dtype), np.empty((T, d), x.dtype), np.empty((T, 4 * d), x.dtype)
    for t in range(T):
        z = zx[t] + U @ h
        gates[t, :2 * d], gates[t, 2 * d:3 * d] = _np_sigmoid(z[:2 * d]), np.tanh(z[2 * d:3 * d])
        gates[t, 3 * d:] = _np_sigmoid(z[3 * d:])
        i, f, gg, o = np.split(gates[t], 4)
        c = f * c + i * gg
        h = o * np.tanh(c)
        hs[t], cs[t] = h, c
    h_prev = np.vstack([np.zeros((1, d), x.dtype), hs[:-1]])  # (T, d)
    c_prev = np.vstack([np.zeros((1, d), x.dtype), cs[:-1]])  # (T, d)
    tc = np.tanh(cs)
    dz = np.empty_like(gates)  # (T, 4d)
    dh_next, dc_next = np.zeros(d, x.dtype), np.zeros(d, x.dtype)
    for t in reversed(range(T)):
        i, f, gg, o = np.split(gates[t], 4)
        dh = g[t] + dh_next
        dc = dc_next + dh * o * (1 - tc[t] ** 2)
        dz[t] = np.concatenate([dc * gg * i * (1 - i), dc * c_prev[t] * f * (1 - f),
                                dc * i * (1 - gg ** 2), dh * tc[t] * o * (1 - o)])
        dh_next, dc_next = U.T @ dz[t], dc * f
    return hs, {"x": dz @ W, "W": dz.T @ x, "U": dz.T @ h_prev, "b": dz.sum(0)}


def attention_numpy(p):
    """Self-attention layer in NumPy: every position at once, as a few large matrix products."""
    x, g, Wq, Wk, Wv, Wo = (p[k] for k in ("x", "g", "Wq", "Wk", "Wv", "Wo"))
    scale = 1 / math.sqrt(Wq.shape[0])
    q, k, v = x @ Wq, x @ Wk, x @ Wv       # (T, d)
    s = q @ k.T * scale                    # (T, T)
    a = np.exp(s - s.max(1, keepdims=True))
    a /= a.sum(1, keepdims=True)           # softmax: each row sums to 1
    h = a @ v                              # (T, d)
    y = h @ Wo
    dh = g @ Wo.T
    da = dh @ v.T                          # (T, T)
    ds = a * (da - (a * da).sum(1, keepdims=True)) * scale
    dq, dk, dv = ds @ k, ds.T @ q, a.T @ dh
    grads = {"x": dq @ Wq.T + dk @ Wk.T + dv @ Wv.T,
             "Wq": x.T @ dq, "Wk": x.T @ dk, "Wv": x.T @ dv, "Wo": h.T @ g}
    return y, grads


# ---------------------------------------------------------------- ways 3 and 4: torch (autograd does the backward)

def torch_lstm(p, device):
    """nn.LSTM holding the race's weights (cuDNN on an NVIDIA GPU) and its input, on `device`."""
    d = p["x"].shape[1]
    layer = nn.LSTM(d, d, dtype=torch.from_numpy(p["x"]).dtype)
    with torch.no_grad():
        for name, value in (("weight_ih_l0", p["W"]), ("weight_hh_l0", p["U"]), ("bias_ih_l0", p["b"])):
            getattr(layer, name).copy_(torch.from_numpy(value))
        layer.bias_hh_l0.zero_()
    x = torch.from_numpy(p["x"]).unsqueeze(1).to(device).requires_grad_()  # (T, 1, d)
    return layer.to(device), x, torch.from_numpy(p["g"]).unsqueeze(1).to(device)  # (T, 1, d)


def lstm_torch(p, device):
    """A function doing forward + backward of the torch LSTM -> (h, grads)."""
    layer, x, g = torch_lstm(p, device)

    def step():
        layer.zero_grad(set_to_none=True)
        x.grad = None
        h = layer(x)[0]  # (T, 1, d)
        h.backward(g)
        return h.detach()[:, 0], {"x": x.grad[:, 0], "W": layer.weight_ih_l0.grad,
                                  "U": layer.weight_hh_l0.grad, "b": layer.bias_ih_l0.grad}
    return step


def attention_torch(p, device):
    """A function doing forward + backward of the self-attention layer in torch -> (y, grads)."""
    t = {k: torch.from_numpy(v).to(device).requires_grad_(k != "g") for k, v in p.items()
         if k in ("x", "g", "Wq", "Wk", "Wv", "Wo")}

    def step():
        for k in t:
            t[k].grad = None
        h, _ = attention(t["x"] @ t["Wq"], t["x"] @ t["Wk"], t["x"] @ t["Wv"])  # (T, d)
        y = h @ t["Wo"]
        y.backward(t["g"])
        return y.detach(), {k: t[k].grad for k in ("x", "Wq", "Wk", "Wv", "Wo")}
    return step


def gpu_device():
    """The GPU the torch-gpu way runs on ("cuda", else "mps"), or None."""
    return next((d for d in ("cuda", "mps") if available(d)), None)


def make_step(way, layer, p):
    """A zero-argument function running `layer` forward and backward the `way` way on problem `p`."""
    if way not in WAYS:
        raise ValueError(f"way must be one of {list(WAYS)}, got {way!r}")
    if layer not in LAYERS:
        raise ValueError(f"layer must be one of {list(LAYERS)}, got {layer!r}")
    if way == "python":
        lists = {k: v.tolist() for k, v in p.items()}  # converted once, outside the timing
        fn = lstm_python if layer == "lstm" else attention_python
        return lambda: fn(lists)
    if way == "numpy":
        fn = lstm_numpy if layer == "lstm" else attention_numpy
        return lambda: fn(p)
    device = "cpu" if way == "torch-cpu" else gpu_device()
    if device is None:
        raise ValueError(f"way 'torch-gpu' needs a GPU: {NO_GPU}")
    return (lstm_torch if layer == "lstm" else attention_torch)(p, device)


def as_numpy(out):
    """(y, grads) of any way as float64 NumPy arrays."""
    y, grads = out
    conv = lambda a: a.detach().cpu().double().numpy() if torch.is_tensor(a) else np.asarray(a, dtype=np.float64)
    return conv(y), {k: conv(v) for k, v in grads.items()}


def race_outputs(p, ways=WAYS, layers=LAYERS):
    """{(way, layer): (y, grads)} as NumPy, for every way that can run here."""
    return {(w, l): as_numpy(make_step(w, l, p)()) for w in ways if w != "torch-gpu" or gpu_device()
            for l in layers}


# ---------------------------------------------------------------- the race

@dataclass
class RaceConfig:
    words: int = 1000        # tokens of the document: the sequence length n
    d: int = 16              # width of both layers (input, hidden state, attention size)
    ways: tuple = WAYS       # implementations that race
    repeats: int = 5         # timed runs of NumPy and torch; the median counts
    warmup: int = 1          # untimed runs before (caches, allocator, GPU kernels, cuDNN plans)
    python_repeats: int = 3  # timed runs of pure Python (slow, and steady enough)
    dtype: str = "float32"   # NumPy and torch precision; pure Python always computes in float64
    seed: int = 0            # seeds the word vectors, the weights and the upstream gradient


def layer_flops(layer, n, d, batch=1):
    """Floating-point operations of one forward + backward (matrix products only; backward = 2 × forward)."""
    if layer == "lstm":
        return 3 * batch * n * 2 * (2 * d) * (4 * d)  # per step (x_t, h_{t-1}) @ (2d, 4d)
    return 3 * batch * (8 * n * d * d + 4 * n * n * d)  # four (d, d) projections, q·kᵀ and a·v


@dataclass
class RaceResult:
    """Median seconds of forward + backward, per way and layer; None where a way could not run."""
    config: RaceConfig
    seconds: dict = field(default_factory=dict)  # (way, layer) -> median seconds or None
    runs: dict = field(default_factory=dict)     # (way, layer) -> every timed run
    devices: dict = field(default_factory=dict)  # way -> what it ran on

    def ratio(self, way):
        """LSTM seconds / Transformer seconds: above 1 the Transformer layer is faster."""
        lstm, attn = self.seconds.get((way, "lstm")), self.seconds.get((way, "attention"))
        return lstm / attn if lstm and attn else None

    def tokens_per_s(self, way, layer):
        """Words per second through forward + backward."""
        s = self.seconds.get((way, layer))
        return self.config.words / s if s else None

    def __str__(self):
        c = self.config
        lines = [f"Speed race: {c.words:,} words, width {c.d}, forward + backward, median of {c.repeats} runs "
                 f"(pure Python: {c.python_repeats})",
                 f"{'way':<13}{'LSTM':>11}{'Transformer':>13}{'LSTM/Transformer':>18}  verdict"]
        for way in c.ways:
            r = self.ratio(way)
            if r is None:
                lines.append(f"{WAY_NAMES[way]:<13}{'-':>11}{'-':>13}{'-':>18}  {self.devices.get(way, NO_GPU)}")
                continue
            verdict = f"Transformer {r:.1f}x faster" if r >= 1 else f"LSTM {1 / r:.1f}x faster"
            lines.append(f"{WAY_NAMES[way]:<13}{_secs(self.seconds[way, 'lstm']):>11}"
                         f"{_secs(self.seconds[way, 'attention']):>13}{r:>17.2f}x  {verdict}")
        return "\n".join(lines)

    def _repr_pretty_(self, p, cycle):
        p.text(str(self))

    def to_dict(self):
        """JSON-ready: settings and one row per way and layer."""
        rows = [{"way": w, "layer": l, "median_s": self.seconds.get((w, l)), "runs": self.runs.get((w, l), []),
                 "tokens_per_s": self.tokens_per_s(w, l), "on": self.devices.get(w)}
                for w in self.config.ways for l in LAYERS]
        return {"config": asdict(self.config), "rows": rows,
                "ratio": {w: self.ratio(w) for w in self.config.ways}}

    @classmethod
    def from_dict(cls, data):
        """Back from to_dict()."""
        cfg = data["config"]
        result = cls(RaceConfig(**{**cfg, "ways": tuple(cfg["ways"])}))
        for row in data["rows"]:
            result.seconds[row["way"], row["layer"]] = row["median_s"]
            result.runs[row["way"], row["layer"]] = row["runs"]
            result.devices[row["way"]] = row["on"]
        return result


def _secs(s):
    """0.412 s, 12.3 ms or 45 µs."""
    return f"{s:.3f} s" if s >= 1 else f"{s * 1e3:.1f} ms" if s >= 1e-3 else f"{s * 1e6:.0f} µs"


def race_work(layer, words=1000, d=16, seed=0):
    """make_work(device) for helpers.time_devices: the race's torch layer, forward + backward, on `device`."""
    if layer not in LAYERS:
        raise ValueError(f"layer must be one of {list(LAYERS)}, got {layer!r}")
    p = race_problem(words, d, seed)
    return lambda device: (lstm_torch if layer == "lstm" else attention_torch)(p, device)


def race(words=1000, d=16, ways=WAYS, repeats=5, **options):
    """Time an LSTM layer and a self-attention layer, forward + backward, each way; -> RaceResult."""
    cfg = RaceConfig(words=words, d=d, ways=tuple(ways), repeats=repeats, **options)
    check_int("repeats", cfg.repeats, 1, 100)
    check_int("python_repeats", cfg.python_repeats, 1, 100)
    check_int("warmup", cfg.warmup, 0, 100)
    for way in cfg.ways:
        if way not in WAYS:
            raise ValueError(f"ways must be drawn from {list(WAYS)}, got {way!r}")
    if "python" in cfg.ways and cfg.words ** 2 * cfg.d > MAX_PYTHON_WORK:
        raise ValueError(f"pure Python would take minutes at {cfg.words} words and width {cfg.d}: keep "
                         f"words² × width at most {MAX_PYTHON_WORK:.0e}, or leave 'python' out of ways")
    p = race_problem(cfg.words, cfg.d, cfg.seed, cfg.dtype)
    result = RaceResult(cfg)
    for way in cfg.ways:
        device = "cpu" if way != "torch-gpu" else gpu_device()
        result.devices[way] = device_name(device) if device else NO_GPU
        for layer in LAYERS:
            if device is None:
                result.seconds[way, layer], result.runs[way, layer] = None, []
                continue
            slow = way == "python"
            runs = time_call(make_step(way, layer, p), device, cfg.python_repeats if slow else cfg.repeats,
                             0 if slow else cfg.warmup)
            result.seconds[way, layer], result.runs[way, layer] = statistics.median(runs), runs
    return result


# ---------------------------------------------------------------- the scaling sweep

class SDPAttention(MultiHeadAttention):
    """MultiHeadAttention computed by torch's fused scaled_dot_product_attention (flash / memory-efficient)."""

    def __init__(self, d_model, n_heads, backend=None):
        super().__init__(d_model, n_heads)
        self.backend = backend  # None: torch picks; else "flash", "efficient", "cudnn" or "math"

    def forward(self, x, mask=None):
        """x (B, T, d) -> (output (B, T, d), None): the weights are never stored."""
        B, T, d = x.shape
        q, k, v = self.qkv(x).split(d, dim=-1)  # 3 × (B, T, d)
        q, k, v = (t.view(B, T, self.n_heads, d // self.n_heads).transpose(1, 2) for t in (q, k, v))  # (B, H, T, d/H)
        if self.backend is None:
            out = F.scaled_dot_product_attention(q, k, v)
        else:
            with sdpa_kernel(getattr(SDPBackend, SDPA_BACKENDS[self.backend])):
                out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(B, T, d)), None  # (B, T, d)


SDPA_BACKENDS = {"flash": "FLASH_ATTENTION", "efficient": "EFFICIENT_ATTENTION", "cudnn": "CUDNN_ATTENTION",
                 "math": "MATH"}
SWEEP_LAYERS = ("lstm", "attention", "sdpa") + tuple(f"sdpa-{b}" for b in SDPA_BACKENDS)
SWEEP_NAMES = {"lstm": "LSTM (nn.LSTM)", "attention": "attention, explicit softmax(QKᵀ)V",
               "sdpa": "attention, scaled_dot_product_attention",
               **{f"sdpa-{b}": f"attention, SDPA {b} kernel" for b in SDPA_BACKENDS}}


@dataclass
class ScaleConfig:
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


def build_layer(layer, cfg):
    """The torch module of a sweep layer: (B, T, d) in, (B, T, d) out."""
    if layer == "lstm":
        return nn.LSTM(cfg.d, cfg.d, batch_first=True)
    if layer == "attention":
        return MultiHeadAttention(cfg.d, cfg.heads)
    if layer.startswith("sdpa"):
        return SDPAttention(cfg.d, cfg.heads, layer.partition("-")[2] or None)
    raise ValueError(f"layers must be drawn from {list(SWEEP_LAYERS)}, got {layer!r}")


def saved_bytes(fn):
    """Run fn() and return the bytes of the distinct tensors autograd kept for the backward pass."""
    storages = {}

    def pack(t):
        s = t.untyped_storage()
        storages[s.data_ptr()] = s.nbytes()
        return t
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return sum(storages.values())


def measure_point(layer, n, cfg):
    """Time, memory and FLOP/s of one layer at length n: a dict (error set if it could not run)."""
    point = {"layer": layer, "n": n, "median_s": None, "runs": [], "saved_bytes": None, "peak_bytes": None,
             "flops": layer_flops("lstm" if layer == "lstm" else "attention", n, cfg.d, cfg.batch),
             "flops_per_s": None, "error": None}
    device, dtype = torch.device(cfg.device), getattr(torch, cfg.dtype)
    torch.manual_seed(cfg.seed)
    try:
        module = build_layer(layer, cfg).to(device, dtype)
        x = torch.randn(cfg.batch, n, cfg.d, device=device, dtype=dtype, requires_grad=True)  # (B, T, d)
        forward = lambda: module(x)[0]

        def step():
            x.grad = None
            module.zero_grad(set_to_none=True)
            forward().sum().backward()
        point["saved_bytes"] = saved_bytes(forward)
        if device.type == "cuda":
            synchronize(device)
            torch.cuda.reset_peak_memory_stats(device)
            base = torch.cuda.memory_allocated(device)
            step()
            synchronize(device)
            point["peak_bytes"] = torch.cuda.max_memory_allocated(device) - base
        runs = time_call(step, device, cfg.repeats, cfg.warmup)
        point["runs"], point["median_s"] = runs, statistics.median(runs)
        point["flops_per_s"] = point["flops"] / point["median_s"]
    except RuntimeError as err:  # out of memory, or a kernel this device or dtype lacks
        point["error"] = str(err).splitlines()[0][:200]
    finally:
        if device.type == "cuda":
            torch.cuda.empty_cache()
    return point


def sweep(cfg=ScaleConfig()):
    """Measure every layer at every length -> a JSON-ready dict (config, points, device facts)."""
    for n in cfg.lengths:
        check_int("length", n, 1, 1 << 20)
    for layer in cfg.layers:
        if layer not in SWEEP_LAYERS:
            raise ValueError(f"layers must be drawn from {list(SWEEP_LAYERS)}, got {layer!r}")
    if cfg.dtype not in ("float32", "bfloat16", "float16"):
        raise ValueError(f"dtype must be 'float32', 'bfloat16' or 'float16', got {cfg.dtype!r}")
    if cfg.d % cfg.heads:
        raise ValueError(f"d ({cfg.d}) must be a multiple of heads ({cfg.heads})")
    device = torch.device(cfg.device)
    if not available(device.type):
        raise ValueError(f"device {cfg.device!r} is not available here")
    points = [measure_point(layer, n, cfg) for n in cfg.lengths for layer in cfg.layers]
    return {"config": {**asdict(cfg), "lengths": list(cfg.lengths), "layers": list(cfg.layers)},
            "device_name": device_name(device), "points": points,
            "matmul_flops_per_s": matmul_rate(cfg.device, cfg.dtype, cfg.matmul_n), "peak_flops_per_s": peak_flops(device, cfg.dtype)}


def sweep_work(layer, n, cfg=ScaleConfig()):
    """make_work(device) for helpers.time_devices: one sweep layer at length n, forward + backward."""
    def make_work(device):
        torch.manual_seed(cfg.seed)
        module = build_layer(layer, cfg).to(device)
        x = torch.randn(cfg.batch, n, cfg.d, device=device, requires_grad=True)  # (B, T, d)
        return lambda: module(x)[0].sum().backward()
    return make_work


def series(result, layer, key="median_s"):
    """(lengths, values) of one layer in a sweep result, leaving out points that did not run."""
    pts = [p for p in result["points"] if p["layer"] == layer and p.get(key) is not None]
    return [p["n"] for p in pts], [p[key] for p in pts]


def fit_slope(ns, values, last=4):
    """Slope of log(value) against log(n) over the `last` longest lengths: 1 = linear, 2 = quadratic."""
    ns, values = list(ns)[-last:], list(values)[-last:]
    if len(ns) < 2:
        return None
    return float(np.polyfit(np.log(ns), np.log(values), 1)[0])


def crossover(result, a="lstm", b="attention"):
    """Shortest length at which layer `b` is slower than layer `a`, or None within the sweep."""
    sa, sb = dict(zip(*series(result, a))), dict(zip(*series(result, b)))
    return next((n for n in sorted(sa) if n in sb and sb[n] > sa[n]), None)


# Dense tensor-core / FP32 peaks from NVIDIA's datasheets (SXM boards), in FLOP/s; the first matching name wins.
PEAKS = (("H200 NVL", {"float32": 60e12, "bfloat16": 835e12, "float16": 835e12}),
         ("H100 PCIe", {"float32": 51e12, "bfloat16": 756e12, "float16": 756e12}),
         ("H200", {"float32": 67e12, "bfloat16": 989e12, "float16": 989e12}),
         ("H100", {"float32": 67e12, "bfloat16": 989e12, "float16": 989e12}),
         ("A100", {"float32": 19.5e12, "bfloat16": 312e12, "float16": 312e12}))


def peak_flops(device, dtype="float32"):
    """The device's datasheet peak FLOP/s for `dtype`, or None where unknown (every CPU, most GPUs)."""
    device = torch.device(device)
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((p[dtype] for key, p in PEAKS if key in name), None)


def matmul_rate(device="cpu", dtype="float32", n=None):
    """FLOP/s of one large square matrix product on `device`: the best this device does in practice."""
    device = torch.device(device)
    n = n or (8192 if device.type == "cuda" else 1024)
    a = torch.randn(n, n, device=device, dtype=getattr(torch, dtype))  # (n, n)
    runs = time_call(lambda: a @ a, device, repeats=5, warmup=2)
    return 2 * n ** 3 / statistics.median(runs)


# ---------------------------------------------------------------- tiny training of both layers

@dataclass
class PairTraining:
    """Both models trained the same way: histories, seconds per epoch, the trained models."""
    history: dict = field(default_factory=dict)        # kind -> History
    epoch_seconds: dict = field(default_factory=dict)  # kind -> seconds of each epoch (train + evaluate)
    models: dict = field(default_factory=dict)         # kind -> trained model, on the CPU


def train_pair(task, model_cfg, epochs, seed=0, device=None, kinds=("lstm", "transformer")):
    """Train an LSTM and a Transformer with helpers.train, stamping the clock after every epoch."""
    from .train import TrainConfig, seed_everything, train  # here: the recorder must run without tqdm
    out = PairTraining()
    for kind in kinds:
        stamps = []
        seed_everything(seed)
        model = build_model(kind, model_cfg)
        out.history[kind] = train(model, task, TrainConfig(epochs=epochs, seed=seed, device=device),
                                  callback=lambda epoch, m: stamps.append(time.perf_counter()))
        out.epoch_seconds[kind] = list(np.diff(stamps))
        out.models[kind] = model.cpu()
    return out


# ---------------------------------------------------------------- recording and loading reference figures

def cpu_model():
    """The CPU's model name (Linux /proc/cpuinfo), else what platform says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(device):
    """Date, device name and software versions for a recording."""
    device = torch.device(device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"{cpu_model()} ({torch.get_num_threads()} threads)"
    return {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "device": device.type, "device_name": name, "cpu": cpu_model(), "cpu_threads": torch.get_num_threads(),
            "torch": torch.__version__, "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version() if device.type == "cuda" else None,
            "python": platform.python_version(), "numpy": np.__version__,
            "tf32_matmul": torch.backends.cuda.matmul.allow_tf32,
            "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None}  # busy machine: slower figures


def record_plan(device, quick=False):
    """The races and sweeps `python -m helpers.bench` records on `device` (quick: tiny, for tests)."""
    gpu = device == "cuda"
    cpu_ways = ("python", "numpy", "torch-cpu")
    ways = cpu_ways + (("torch-gpu",) if gpu else ())
    if quick:
        return {"race": [RaceConfig(words=40, d=4, ways=ways, repeats=1, warmup=0, python_repeats=1)],
                "scaling": [ScaleConfig(lengths=(16, 32), d=8, device=device, repeats=1, warmup=0, matmul_n=64)]}
    races = [RaceConfig(words=1000, d=16, ways=ways), RaceConfig(words=1000, d=256, ways=ways[1:])]
    if not gpu:
        return {"race": races, "scaling": [ScaleConfig(lengths=tuple(2 ** k for k in range(6, 13)), device="cpu")]}
    lengths = tuple(2 ** k for k in range(6, 15))  # 64 .. 16384
    return {"race": races,
            "scaling": [ScaleConfig(lengths=lengths, d=256, batch=8, heads=4, device="cuda"),
                        ScaleConfig(lengths=lengths, d=256, batch=8, heads=4, device="cuda", dtype="bfloat16",
                                    layers=SWEEP_LAYERS)]}


def record(device="cpu", out_dir=REFERENCE_DIR, quick=False, log=print):
    """Run the plan on `device` and write <out_dir>/<device>.json; returns the path."""
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
    if not available(device):
        raise ValueError(f"device {device!r} is not available on this machine")
    plan = record_plan(device, quick)
    data = {"recorded_by": RECORDED_BY, **environment(device), "race": [], "scaling": []}
    for cfg in plan["race"]:
        log(f"race: {cfg.words} words, width {cfg.d}, ways {', '.join(cfg.ways)}")
        result = race(**asdict(cfg))
        log(str(result))
        data["race"].append(result.to_dict())
    for cfg in plan["scaling"]:
        log(f"scaling on {cfg.device} ({cfg.dtype}): lengths {cfg.lengths[0]}..{cfg.lengths[-1]}, {', '.join(cfg.layers)}")
        data["scaling"].append(sweep(cfg))
        for p in data["scaling"][-1]["points"]:
            done = f"{_secs(p['median_s'])}" if p["median_s"] is not None else f"failed: {p['error']}"
            log(f"  {p['layer']:<16} n={p['n']:<6} {done}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{device}.json"
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    log(f"wrote {path}")
    return path


def load_references(root=REFERENCE_DIR):
    """Every recording of this module in data/reference/*.json (other notebooks keep files there too), by file name."""
    data = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(Path(root).glob("*.json"))]
    return [d for d in data if d.get("recorded_by") == RECORDED_BY]


def recorded_label(ref):
    """'recorded on <device name>, <date>', noting a busy machine (load above its threads)."""
    load = ref.get("load_average")
    busy = f" (busy: load {load:.0f})" if load and load > ref.get("cpu_threads", 1) + 0.5 else ""
    return f"recorded on {ref['device_name']}, {ref['date']}{busy}"


# ---------------------------------------------------------------- figures (matplotlib is imported only here)

LAYER_COLORS = {"lstm": "#d62728", "attention": "#1f77b4", "sdpa": "#2ca02c"}  # LSTM red, Transformer blue


def plot_race(sources, ncols=3):
    """Bars of seconds per way and layer (log scale), one panel per (label, RaceResult)."""
    import matplotlib.pyplot as plt
    nrows = math.ceil(len(sources) / ncols)
    ncols = min(ncols, len(sources))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.4 * ncols, 3.7 * nrows), squeeze=False)
    for ax in axes.flat[len(sources):]:
        ax.axis("off")
    for ax, (label, result) in zip(axes.flat, sources):
        ways = [w for w in result.config.ways if result.ratio(w)]
        for j, layer in enumerate(LAYERS):
            secs = [result.seconds[w, layer] for w in ways]
            bars = ax.bar(np.arange(len(ways)) + (j - 0.5) * 0.4, secs, 0.4, color=LAYER_COLORS[layer],
                          label=LAYER_NAMES[layer])
            ax.bar_label(bars, [_secs(s) for s in secs], fontsize=7, rotation=90, padding=2)
        ax.set_yscale("log")
        ax.set_xticks(range(len(ways)), [WAY_NAMES[w] for w in ways], rotation=20, fontsize=8)
        ax.set_ylabel("seconds, forward + backward")
        ax.set_title(f"{textwrap.fill(label, 48)}\n{result.config.words:,} words, width {result.config.d}", fontsize=8)
        ax.margins(y=0.4)
        ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    return fig


def plot_ratios(sources):
    """LSTM time / Transformer time per way, one bar per (label, RaceResult); above 1 the Transformer wins."""
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 3.6))
    width = 0.8 / len(sources)
    for k, (label, result) in enumerate(sources):
        ratios = [result.ratio(w) if w in result.config.ways and result.ratio(w) else np.nan for w in WAYS]
        bars = ax.bar(np.arange(len(WAYS)) + (k - (len(sources) - 1) / 2) * width, ratios, width,
                      label=f"{label}, width {result.config.d}")
        ax.bar_label(bars, [f"{r:.2g}" if r == r else "" for r in ratios], fontsize=6, padding=1)
    ax.axhline(1, color="k", lw=0.8)
    ax.set_yscale("log")
    ax.set_xticks(range(len(WAYS)), [WAY_NAMES[w] for w in WAYS])
    ax.set(ylabel="LSTM time / Transformer time", title="above the line: the Transformer layer is faster")
    ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    return fig


def plot_scaling(sources, layers=("lstm", "attention", "sdpa")):
    """Log-log time and memory against length with fitted slopes: one column per (label, sweep result)."""
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(2, len(sources), figsize=(4.6 * len(sources), 6.4), squeeze=False)
    for col, (label, result) in enumerate(sources):
        cfg = result["config"]
        for row, (key, unit, scale) in enumerate((("median_s", "seconds, forward + backward", 1),
                                                  ("peak_bytes" if cfg["device"] == "cuda" else "saved_bytes",
                                                   "MB", 1e-6))):
            ax = axes[row, col]
            for layer in layers:
                ns, ys = series(result, layer, key)
                if ns:
                    slope = fit_slope(ns, ys)
                    ax.loglog(ns, np.array(ys) * scale, "o-", ms=3, color=LAYER_COLORS.get(layer),
                              label=f"{SWEEP_NAMES[layer]}: slope {slope:.2f}")
            ax.set_xscale("log", base=2)
            ax.yaxis.set_major_formatter(plt.FuncFormatter(lambda v, _: f"{v:g}"))
            ax.yaxis.set_minor_formatter(plt.NullFormatter())
            ax.set(xlabel="sequence length n", ylabel=unit if row == 0 else
                   ("peak GPU memory, MB" if key == "peak_bytes" else "kept for backward, MB"))
            ax.legend(fontsize=6)
            if row == 0:
                ax.set_title(f"{textwrap.fill(label, 52)}\n{cfg['dtype']}, batch {cfg['batch']}, width {cfg['d']}",
                             fontsize=8)
    fig.tight_layout()
    return fig


def plot_flops(sources, layers=("lstm", "attention", "sdpa")):
    """Achieved FLOP/s against length, beside the device's best matmul rate and datasheet peak."""
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(sources), figsize=(4.6 * len(sources), 3.4), squeeze=False)
    for ax, (label, result) in zip(axes[0], sources):
        for layer in layers:
            ns, ys = series(result, layer, "flops_per_s")
            ax.loglog(ns, np.array(ys) / 1e9, "o-", ms=3, color=LAYER_COLORS.get(layer), label=SWEEP_NAMES[layer])
        ax.axhline(result["matmul_flops_per_s"] / 1e9, color="k", ls="--", lw=0.8, label="one large matmul, measured")
        if result.get("peak_flops_per_s"):
            ax.axhline(result["peak_flops_per_s"] / 1e9, color="k", lw=0.8, label="datasheet peak")
        ax.set_xscale("log", base=2)
        ax.set(xlabel="sequence length n", ylabel="GFLOP/s achieved")
        ax.set_title(f"{textwrap.fill(label, 52)}\n{result['config']['dtype']}", fontsize=8)
        ax.legend(fontsize=6)
    fig.tight_layout()
    return fig


def plot_epoch_seconds(pair):
    """Seconds of every training epoch (training + evaluation), per model."""
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5, 2.8))
    for kind, secs in pair.epoch_seconds.items():
        layer = "lstm" if kind == "lstm" else "attention"
        ax.plot(range(1, len(secs) + 1), secs, "o-", ms=3, color=LAYER_COLORS[layer],
                label=f"{LAYER_NAMES[layer]}: {sum(secs):.1f} s in all")
    ax.set(xlabel="epoch", ylabel="seconds", title="time per epoch", ylim=(0, None))
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def main(argv=None):
    """The command line: record on --device into --out."""
    parser = argparse.ArgumentParser(description="Record the speed race and the scaling sweep to data/reference/<device>.json")
    parser.add_argument("--device", default="cuda" if available("cuda") else "cpu", choices=("cpu", "cuda"))
    parser.add_argument("--out", default=str(REFERENCE_DIR), help="folder for the JSON file")
    parser.add_argument("--quick", action="store_true", help="tiny settings (a smoke test)")
    args = parser.parse_args(argv)
    try:
        record(args.device, args.out, args.quick)
    except ValueError as err:
        parser.exit(2, f"{parser.prog}: error: {err}\n")


if __name__ == "__main__":
    main()
