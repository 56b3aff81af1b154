"""The speed race (notebook 11): an LSTM layer against a self-attention layer, forward and backward, on the
course corpus. Here: the problem, torch's two ways (CPU, GPU), the race and its result; the pure Python and
NumPy ways are written in notebook 11 and passed in as `handmade`. `python -m helpers.record race` records
torch's ways to data/reference/."""
import math
import statistics
import time
import warnings
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import torch
import torch.nn as nn

from ..core.checks import check_int
from ..core.corpus import tokenize
from ..core.counting import layer_flops
from ..core.models import attention, build_model
from ..core.paths import CORPUS_DIR
from ..core.timing import NO_GPU, PRECISIONS, available, device_name, precision, threads, time_call
from ..core.train import TrainConfig, checkpoint, train_kinds
from .amnesia import check_variant

warnings.filterwarnings("ignore", message="TF32 acceleration on top of oneDNN")  # torch's own note, muted once here

WAYS = ("python", "numpy", "torch-cpu", "torch-gpu")  # every way, in the order tables show them
HANDMADE = ("python", "numpy")  # written by hand in notebook 11, forward and backward, and passed in
TORCH_WAYS = ("torch-cpu", "torch-gpu")
WAY_NAMES = {"python": "pure Python", "numpy": "NumPy", "torch-cpu": "torch, CPU", "torch-gpu": "torch, GPU"}
LAYERS = ("lstm", "attention")
LAYER_NAMES = {"lstm": "LSTM", "attention": "Transformer"}
DOCUMENT = CORPUS_DIR / "train.txt"  # the race reads its first words
MAX_WORDS = 4096            # longest document the race accepts (the corpus has a few more tokens)
MAX_PYTHON_WORK = 4 * 10**7  # pure Python races only while words² × width stays below this (seconds, not minutes)


# ---------------------------------------------------------------- the race's problem

def document(words):
    """The first `words` tokens of the course corpus: the document both layers read (notebook 11)."""
    check_int("words", words, 1, MAX_WORDS)
    return tokenize(DOCUMENT.read_text(encoding="utf-8"))[:words]


def race_problem(words=1000, d=16, seed=0, dtype="float32"):
    """The race's inputs as NumPy arrays: the embedded document x (T, d), an upstream gradient g (T, d)
    and both layers' weights; every way computes loss = sum(y * g) and its gradients. Introduced in notebook 11."""
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


# ---------------------------------------------------------------- the torch ways (autograd does the backward)

def torch_lstm(p, device):
    """nn.LSTM holding the race's weights (cuDNN on an NVIDIA GPU) and its input, on `device` (notebook 11)."""
    d = p["x"].shape[1]
    layer = nn.LSTM(d, d, dtype=torch.from_numpy(p["x"]).dtype)
    with torch.no_grad():
        for name, value in (("weight_ih_l0", p["W"]), ("weight_hh_l0", p["U"]), ("bias_ih_l0", p["b"])):
            getattr(layer, name).copy_(torch.from_numpy(value))
        layer.bias_hh_l0.zero_()
    x = torch.from_numpy(p["x"]).unsqueeze(1).to(device).requires_grad_()  # (T, 1, d)
    return layer.to(device), x, torch.from_numpy(p["g"]).unsqueeze(1).to(device)  # (T, 1, d)


def lstm_torch(p, device):
    """A function doing forward + backward of the torch LSTM -> (h, grads) (notebook 11)."""
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
    """A function doing forward + backward of the self-attention layer in torch -> (y, grads) (notebook 11)."""
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
    """The GPU the torch-gpu way runs on ("cuda", else "mps"), or None (notebook 11)."""
    return next((d for d in ("cuda", "mps") if available(d)), None)


def make_step(way, layer, p, handmade=None):
    """A zero-argument function running `layer` forward and backward the `way` way on problem `p`.

    `handmade` maps "python" and "numpy" to notebook 11's make_step(layer, p) for that way."""
    if way not in WAYS:
        raise ValueError(f"way must be one of {list(WAYS)}, got {way!r}")
    if layer not in LAYERS:
        raise ValueError(f"layer must be one of {list(LAYERS)}, got {layer!r}")
    if way in HANDMADE:
        if way not in (handmade or {}):
            raise ValueError(f"way {way!r} is written in notebook 11: pass it as handmade={{{way!r}: make_step}}")
        return handmade[way](layer, p)
    device = "cpu" if way == "torch-cpu" else gpu_device()
    if device is None:
        raise ValueError(f"way 'torch-gpu' needs a GPU: {NO_GPU}")
    return (lstm_torch if layer == "lstm" else attention_torch)(p, device)


def default_ways(handmade=None):
    """The hand-written ways given, then torch on the CPU and on the GPU, in WAYS order (notebook 11)."""
    return tuple(w for w in WAYS if w in TORCH_WAYS or w in (handmade or {}))


def as_numpy(out):
    """(y, grads) of any way as float64 NumPy arrays (notebook 11)."""
    y, grads = out
    def conv(a):
        return a.detach().cpu().double().numpy() if torch.is_tensor(a) else np.asarray(a, dtype=np.float64)
    return conv(y), {k: conv(v) for k, v in grads.items()}


def race_outputs(p, ways=None, layers=LAYERS, handmade=None):
    """{(way, layer): (y, grads)} as NumPy, for every way that can run here (notebook 11's check)."""
    ways = default_ways(handmade) if ways is None else ways
    return {(w, layer): as_numpy(make_step(w, layer, p, handmade)()) for w in ways if w != "torch-gpu" or gpu_device()
            for layer in layers}


# ---------------------------------------------------------------- the race

@dataclass
class RaceConfig:
    """One race's settings, stored with its result (notebook 11)."""
    words: int = 1000        # tokens of the document: the sequence length n
    d: int = 16              # width of both layers (input, hidden state, attention size)
    ways: tuple = TORCH_WAYS  # implementations that race (drawn from WAYS)
    repeats: int = 5         # timed runs of NumPy and torch; the median counts
    warmup: int = 1          # untimed runs before (caches, allocator, GPU kernels, cuDNN plans)
    python_repeats: int = 3  # timed runs of pure Python (slow, and steady enough)
    dtype: str = "float32"   # NumPy and torch precision; pure Python always computes in float64
    seed: int = 0            # seeds the word vectors, the weights and the upstream gradient
    gpu_precision: str = "float32"  # torch on the GPU: autocast to this ("bfloat16", "float16"; "float32": none)
    tf32: bool = False       # torch on the GPU: both TF32 switches (cuDNN's LSTM, matmuls); False: float32 is float32


@dataclass
class RaceResult:
    """Median seconds of forward + backward, per way and layer; None where a way could not run (notebook 11)."""
    config: RaceConfig
    seconds: dict = field(default_factory=dict)  # (way, layer) -> median seconds or None
    runs: dict = field(default_factory=dict)     # (way, layer) -> every timed run
    devices: dict = field(default_factory=dict)  # way -> what it ran on

    def ratio(self, way):
        """LSTM seconds / Transformer seconds: above 1 the Transformer layer is faster."""
        lstm, attn = self.seconds.get((way, "lstm")), self.seconds.get((way, "attention"))
        return lstm / attn if lstm and attn else None

    def spread(self, way, layer):
        """(min, median, max) seconds of the timed runs of `layer` the `way` way, or None where it did not run."""
        runs = self.runs.get((way, layer))
        return (min(runs), self.seconds[way, layer], max(runs)) if runs else None

    def spread_table(self):
        """Every timed run summed up: min, median and max per way and layer, and the number of runs (notebook 11)."""
        lines = [f"{'way':<13}{'layer':<13}{'min':>10}{'median':>10}{'max':>10}  runs"]
        for way in self.config.ways:
            for layer in LAYERS:
                s = self.spread(way, layer)
                if s:
                    lines.append(f"{WAY_NAMES[way]:<13}{LAYER_NAMES[layer]:<13}"
                                 + "".join(f"{format_seconds(v):>10}" for v in s) + f"  {len(self.runs[way, layer])}")
        return "\n".join(lines)

    def tokens_per_s(self, way, layer):
        """Words per second through forward + backward."""
        s = self.seconds.get((way, layer))
        return self.config.words / s if s else None

    def __str__(self):
        c = self.config
        python = f" (pure Python: {c.python_repeats})" if "python" in c.ways else ""
        lines = [f"Speed race: {c.words:,} words, width {c.d}, forward + backward, median of {c.repeats} runs{python}",
                 f"{'way':<13}{'LSTM':>11}{'Transformer':>13}{'LSTM/Transformer':>18}  verdict"]
        for way in c.ways:
            r = self.ratio(way)
            if r is None:
                lines.append(f"{WAY_NAMES[way]:<13}{'-':>11}{'-':>13}{'-':>18}  {self.devices.get(way, NO_GPU)}")
                continue
            verdict = f"Transformer {r:.1f}x faster" if r >= 1 else f"LSTM {1 / r:.1f}x faster"
            lines.append(f"{WAY_NAMES[way]:<13}{format_seconds(self.seconds[way, 'lstm']):>11}"
                         f"{format_seconds(self.seconds[way, 'attention']):>13}{r:>17.2f}x  {verdict}")
        return "\n".join(lines)

    def _repr_pretty_(self, p, cycle):
        p.text(str(self))

    def to_dict(self):
        """JSON-ready: settings and one row per way and layer."""
        rows = [{"way": w, "layer": layer, "median_s": self.seconds.get((w, layer)),
                 "runs": self.runs.get((w, layer), []), "tokens_per_s": self.tokens_per_s(w, layer),
                 "on": self.devices.get(w)}
                for w in self.config.ways for layer in LAYERS]
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


def format_seconds(s):
    """0.412 s, 12.3 ms or 45 µs (notebook 11)."""
    return f"{s:.3f} s" if s >= 1 else f"{s * 1e3:.1f} ms" if s >= 1e-3 else f"{s * 1e6:.0f} µs"


def predicted_ratio(words, d):
    """LSTM time / Transformer time if time followed the multiply-adds alone (layer_flops; notebook 11): below 1
    the LSTM layer does less work."""
    return layer_flops("lstm", words, d) / layer_flops("attention", words, d)


def estimate_seconds(words, d, python=True, epochs=0):
    """About how many seconds the race panel's run takes on a 2-core laptop (notebook 11): run_race (5 timed runs and
    a warm-up in NumPy and torch, pure Python once when `python`) from its multiply-adds, at rates measured on one
    and rounded down (pure Python 5 M multiply-adds/s; NumPy and torch 2 G/s plus 0.1 ms per dependent step), a
    tiny training of `epochs` at 1 s each (its three models together, about 0.3 s each) and 2 s to start. An
    estimate for the panel's warning, not a measurement."""
    check_int("words", words, 1, MAX_WORDS)
    check_int("d", d, 1, 4096)
    check_int("epochs", epochs, 0, 1000)
    work = sum(layer_flops(layer, words, d) for layer in LAYERS) / 2  # multiply-adds, both layers
    seconds = 2.0 + 6 * (work / 2e9 + words * 1e-4) + 1.0 * epochs
    return seconds + (work / 5e6 if python else 0.0)


DECK_SECONDS = {"lstm": 0.41, "attention": 0.22}  # the deck's pure Python race: 1,000 words, "1.8x faster"
DECK_RATIO = 1.8  # as the deck writes it; its own seconds give 0.41 / 0.22 = 1.86


def deck_verdict(result, way="python"):
    """One sentence setting the deck's pure Python race beside `result`'s (notebook 11)."""
    r = result.ratio(way)
    if r is None:
        return f"{WAY_NAMES[way]} did not run here, so the deck's claim is not tested."
    lstm, attn = (format_seconds(result.seconds[way, layer]) for layer in LAYERS)
    here = f"the Transformer layer {r:.1f}x faster" if r >= 1 else f"the LSTM layer {1 / r:.1f}x faster"
    agree = "the same direction as the deck" if r >= 1 else "the deck's claim reversed"
    return (f"Deck, pure Python, 1,000 words: LSTM {DECK_SECONDS['lstm']:.2f} s, "
            f"Transformer {DECK_SECONDS['attention']:.2f} s, "
            f"the Transformer \"{DECK_RATIO:.1f}x faster\" (in fact {DECK_RATIO:.2f}x). "
            f"Here, {WAY_NAMES[way]}, {result.config.words:,} words, width {result.config.d}: LSTM {lstm}, "
            f"Transformer {attn}, {here}: {agree}.")


def autograd_nodes(out):
    """{name: count} of the autograd graph's nodes behind tensor `out` (notebook 11)."""
    seen, stack, names = set(), [out.grad_fn], {}
    while stack:
        fn = stack.pop()
        if fn is None or fn in seen:
            continue
        seen.add(fn)
        names[fn.name()] = names.get(fn.name(), 0) + 1
        stack.extend(nxt for nxt, _ in fn.next_functions)
    return names


def lstm_settings(words=1000, d=16, repeats=5, seed=0):
    """The race's torch CPU LSTM under three settings: oneDNN's fused kernel on 1 thread (the race's own setting),
    oneDNN switched off (torch's step-by-step path) and oneDNN on 2 threads -> {label: {"nodes", "runs"}}: the
    autograd graph's node counts and the timed runs (forward + backward). Introduced in notebook 11."""
    check_int("repeats", repeats, 1, 100)
    p = race_problem(words, d, seed)
    out = {}
    for label, onednn, n_threads in (("oneDNN on, 1 thread", True, 1), ("oneDNN off, 1 thread", False, 1),
                                     ("oneDNN on, 2 threads", True, 2)):
        with threads(n_threads), torch.backends.mkldnn.flags(enabled=onednn):  # main thread only: process-wide
            layer, x, _ = torch_lstm(p, "cpu")
            nodes = autograd_nodes(layer(x)[0])
            checkpoint()
            runs = time_call(lstm_torch(p, "cpu"), "cpu", repeats, 1)
        out[label] = {"nodes": nodes, "runs": runs}
    return out


def race_work(layer, words=1000, d=16, seed=0):
    """make_work(device) for helpers.time_devices: the race's torch layer, forward + backward, on `device`.
    Introduced in notebook 11."""
    if layer not in LAYERS:
        raise ValueError(f"layer must be one of {list(LAYERS)}, got {layer!r}")
    p = race_problem(words, d, seed)
    return lambda device: (lstm_torch if layer == "lstm" else attention_torch)(p, device)


def run_race(words=1000, d=16, ways=None, repeats=5, handmade=None, **options):
    """Time an LSTM layer and a self-attention layer, forward + backward, each way; -> RaceResult.

    ways=None races every way given: notebook 11's `handmade` ones, then torch on the CPU and the GPU."""
    ways = default_ways(handmade) if ways is None else ways
    cfg = RaceConfig(words=words, d=d, ways=tuple(ways), repeats=repeats, **options)
    check_int("repeats", cfg.repeats, 1, 100)
    check_int("python_repeats", cfg.python_repeats, 1, 100)
    check_int("warmup", cfg.warmup, 0, 100)
    if cfg.gpu_precision not in PRECISIONS:
        raise ValueError(f"gpu_precision must be one of {list(PRECISIONS)}, got {cfg.gpu_precision!r}")
    for way in cfg.ways:
        if way not in WAYS:
            raise ValueError(f"ways must be drawn from {list(WAYS)}, got {way!r}")
        if way in HANDMADE and way not in (handmade or {}):
            raise ValueError(f"way {way!r} is written in notebook 11: pass it as handmade={{{way!r}: make_step}}")
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
            checkpoint()  # a panel's Stop ends the race between two timings
            gpu = way == "torch-gpu"
            with precision(device, cfg.gpu_precision if gpu else "float32", cfg.tf32 and gpu):
                runs = time_call(make_step(way, layer, p, handmade), device,
                                 cfg.python_repeats if slow else cfg.repeats, 0 if slow else cfg.warmup,
                                 between=checkpoint)
            result.seconds[way, layer], result.runs[way, layer] = statistics.median(runs), runs
    return result


# ---------------------------------------------------------------- tiny training of both layers

@dataclass
class PairTraining:
    """The models trained the same way: histories, seconds per epoch, trained models, sizes (notebooks 11, 12)."""
    history: dict = field(default_factory=dict)        # variant -> History
    epoch_seconds: dict = field(default_factory=dict)  # variant -> seconds of each epoch (train + evaluate)
    models: dict = field(default_factory=dict)         # variant -> trained model, on the CPU
    parameters: dict = field(default_factory=dict)     # variant -> trainable parameters


PAIR = ("lstm", "lstm_fb1", "transformer")  # the side trainings' contestants: the LSTM at its default and its best


def train_pair(task, model_cfg, epochs, seed=0, device=None, kinds=PAIR):
    """Train the LSTM (at its default and with forget bias 1, amnesia.VARIANTS) and a Transformer with
    helpers.train_kinds, same data, seed and budget, stamping the clock after every epoch (notebooks 11, 12)."""
    for kind in kinds:
        check_variant(kind)

    def build(kind):
        base, bias = check_variant(kind)
        return build_model(base, replace(model_cfg, forget_bias=model_cfg.forget_bias + bias))
    out, stamps = PairTraining(), {kind: [] for kind in kinds}
    trained = train_kinds(build, kinds, task, TrainConfig(epochs=epochs, seed=seed, device=device),
                          callback=lambda kind, epoch, m: stamps[kind].append(time.perf_counter()))
    for kind, (model, hist) in trained.items():
        out.history[kind], out.models[kind] = hist, model
        out.epoch_seconds[kind] = list(np.diff(stamps[kind]))
        out.parameters[kind] = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return out
