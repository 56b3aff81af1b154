"""Anatomy of a layer: what Table 1 of "Attention Is All You Need" counts, measured on the course's own
layers (dependent operations from the autograd graph, reach from forward-mode derivatives, FLOPs from the
shapes of the matrix products) and the softmax saturation behind the √d (notebooks 06, 07, 08). The
drawings of the chain, the web and the arcs are in helpers.view.figures."""
import copy
import math
import warnings
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.autograd.forward_ad as fwAD
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from ..core.checks import check_int
from ..core.counting import critical_path
from ..core.models import Block, LSTMModel, ModelConfig
from ..core.timing import main_thread_only
from ..core.train import seeded

# torch's own notes on paths the counts take, muted once here rather than around each count (a panel counts in
# a background thread, where warnings.catch_warnings is not safe)
warnings.filterwarnings("ignore", message="TF32 acceleration on top of oneDNN")
warnings.filterwarnings("ignore", message=".*torch.jit.script.* is deprecated", category=DeprecationWarning)

LAYER_TYPES = ("self-attention", "recurrent", "convolutional", "restricted")
TABLE1 = {  # Vaswani et al. (2017), Table 1: (complexity per layer, sequential operations, maximum path length)
    "self-attention": ("O(n²·d)", "O(1)", "O(1)"),
    "recurrent": ("O(n·d²)", "O(n)", "O(n)"),
    "convolutional": ("O(k·n·d²)", "O(1)", "O(log_k(n))"),
    "restricted": ("O(r·n·d)", "O(1)", "O(n/r)"),
}
MAX_N = 1024  # longest sequence the counts accept


@dataclass(frozen=True)
class AnatomyConfig:
    """The layers whose Table 1 counts are measured (notebook 06)."""
    d_model: int = 64  # width d of every layer
    n_heads: int = 4   # attention heads
    kernel: int = 3    # convolution kernel width k; layer l is dilated by k**l
    window: int = 4    # restricted self-attention: each position sees `window` neighbours on each side
    seed: int = 0      # seeds the random weights


class DilatedConv(nn.Module):
    """x + tanh(conv(x)), causal, width k, dilated by k**index (WaveNet): L layers see k**L positions (notebook 06)."""

    def __init__(self, d, k, index):
        super().__init__()
        self.pad = (k - 1) * k ** index  # left padding: output t reads t, t - k**index, ...
        self.conv = nn.Conv1d(d, d, k, dilation=k ** index)

    def forward(self, x):
        """(B, T, d) -> (B, T, d)."""
        h = F.pad(x.transpose(1, 2), (self.pad, 0))  # (B, d, pad + T)
        return x + torch.tanh(self.conv(h).transpose(1, 2))  # conv gives (B, d, T)


class Recurrent(nn.Module):
    """The recurrent layer of the course's LSTMModel (one torch.nn.LSTM layer) (notebook 06)."""

    def __init__(self, cfg):
        super().__init__()
        self.lstm = LSTMModel(ModelConfig(d_model=cfg.d_model, n_layers=1)).lstm

    def forward(self, x):
        """(B, T, d) -> hidden state at every step (B, T, d)."""
        return self.lstm(x)[0]


class Attention(nn.Module):
    """The course's Transformer block, seeing every position or only a band of +-`window` positions (notebook 06)."""

    def __init__(self, cfg, window=None):
        super().__init__()
        self.block = Block(ModelConfig(d_model=cfg.d_model, n_heads=cfg.n_heads))
        self.window = window

    def forward(self, x):
        """(B, T, d) -> (B, T, d)."""
        mask = None
        if self.window is not None:
            i = torch.arange(x.size(1), device=x.device)
            mask = (i[:, None] - i[None, :]).abs() <= self.window  # (T, T), True = may look
        return self.block(x, mask)[0]


def check_config(cfg):
    """Raise ValueError for an AnatomyConfig out of range; return it (notebook 06)."""
    check_int("d_model", cfg.d_model, 1, 4096)
    check_int("n_heads", cfg.n_heads, 1, cfg.d_model)
    check_int("kernel", cfg.kernel, 2, 16)
    check_int("window", cfg.window, 1, MAX_N)
    if cfg.d_model % cfg.n_heads:
        raise ValueError(f"d_model ({cfg.d_model}) must be a multiple of n_heads ({cfg.n_heads})")
    return cfg


def make_layer(kind, cfg=AnatomyConfig(), index=0):
    """Layer number `index` of a stack of `kind` (one of LAYER_TYPES), with seeded random weights (notebook 06)."""
    if kind not in LAYER_TYPES:
        raise ValueError(f"kind must be one of {list(LAYER_TYPES)}, got {kind!r}")
    check_config(cfg)
    with seeded(cfg.seed + index):
        if kind == "recurrent":
            return Recurrent(cfg)
        if kind == "convolutional":
            return DilatedConv(cfg.d_model, cfg.kernel, index)
        return Attention(cfg, cfg.window if kind == "restricted" else None)


@contextmanager
def unfused():
    """nn.LSTM step by step: oneDNN's fused kernel (float32 on the CPU) hides the steps in one node. It switches
    oneDNN off for the whole process, so only in the main thread; the counts below need no switch, as they run
    in float64, which oneDNN's kernel does not take. Introduced in notebook 06."""
    main_thread_only("unfused()")
    with torch.backends.mkldnn.flags(enabled=False):
        yield


def check_n(n):
    """Raise ValueError unless n is a sequence length the counts accept (notebook 06)."""
    return check_int("n", n, 2, MAX_N)


def sequential_ops(kind, n, cfg=AnatomyConfig()):
    """Operations one layer must run one after another over n tokens: its autograd critical path (notebook 06)."""
    check_n(n)
    with seeded():  # the layer and its input from cfg.seed, whatever another thread draws meanwhile
        layer = make_layer(kind, cfg).double()  # float64: step by step, each step a node (see unfused())
        x = torch.randn(1, n, cfg.d_model, dtype=torch.float64, requires_grad=True)  # (1, n, d)
    return critical_path(layer(x), x)


def reach(kind, n, cfg=AnatomyConfig(), layers=1, until_connected=False):
    """(L, n) bool: after each stacked layer, which outputs depend on token 1 (∂y_t/∂x_1 ≠ 0), by forward mode.
    Introduced in notebook 06."""
    check_n(n)
    check_int("layers", layers, 1, MAX_N)
    with seeded():
        x = torch.randn(1, n, cfg.d_model, dtype=torch.float64)  # (1, n, d)
        tangent = torch.zeros_like(x)
        tangent[0, 0] = torch.randn(cfg.d_model, dtype=torch.float64)  # nudge token 1 only; float64: no underflow to 0
    rows = []
    with torch.no_grad(), fwAD.dual_level():
        h = fwAD.make_dual(x, tangent)
        for index in range(layers):
            h = make_layer(kind, cfg, index).double()(h)
            rows.append(fwAD.unpack_dual(h).tangent[0].abs().sum(-1) > 0)  # (n,)
            if until_connected and rows[-1][-1]:  # the last output depends on token 1: stop stacking
                break
    return torch.stack(rows)  # (L, n)


def layers_to_connect(kind, n, cfg=AnatomyConfig()):
    """Fewest stacked layers of `kind` after which the last of n outputs depends on token 1 (notebook 06)."""
    rows = reach(kind, n, cfg, layers=n, until_connected=True)
    if not rows[-1, -1]:
        raise ValueError(f"token 1 does not reach position {n} through {n} layers of {kind!r}")
    return len(rows)


def path_ops(kind, n, cfg=AnatomyConfig()):
    """(layers, ops): the fewest layers joining token 1 to output n, and the dependent ops between the two.
    Introduced in notebook 06."""
    layers = layers_to_connect(kind, n, cfg)
    with seeded():
        x1 = torch.randn(1, 1, cfg.d_model, dtype=torch.float64, requires_grad=True)  # token 1, its own leaf
        h = torch.cat([x1, torch.randn(1, n - 1, cfg.d_model, dtype=torch.float64)], dim=1)  # (1, n, d)
    for index in range(layers):
        h = make_layer(kind, cfg, index).double()(h)  # float64: step by step (see unfused())
    return layers, critical_path(h[0, -1], x1)


# torch's matrix-product ops by the term of Table 1 they make: products with a weight (Linear, the LSTM's gates,
# the convolution) and token-token products (Q·Kᵀ, weights·V, batched over the heads)
WEIGHT_OPS = (torch.ops.aten.mm, torch.ops.aten.addmm, torch.ops.aten.convolution)
TOKEN_OPS = (torch.ops.aten.bmm, torch.ops.aten.baddbmm)


def matmul_flops(layer, n, d):
    """FLOPs (2 per multiply-add) of one forward's weight ("n·d²") and token-token ("n²·d") matrix products, as
    torch's FlopCounterMode counts them. Introduced in notebook 06."""
    layer = copy.deepcopy(layer).double()  # float64: nn.LSTM step by step, whose matrix products are counted
    x = torch.randn(1, n, d, dtype=torch.float64, generator=torch.Generator().manual_seed(0))  # (1, n, d)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:  # counts this thread's ops only (a panel's)
        layer(x)
    ops = counter.get_flop_counts()["Global"]  # {op: FLOPs} over the whole forward
    unknown = [str(op) for op in ops if op not in WEIGHT_OPS + TOKEN_OPS]
    if unknown:
        raise ValueError(f"layer runs matrix products matmul_flops does not sort: {unknown}")
    return {"n·d²": sum(ops.get(op, 0) for op in WEIGHT_OPS), "n²·d": sum(ops.get(op, 0) for op in TOKEN_OPS)}


def flops(kind, n, cfg=AnatomyConfig()):
    """Matrix-product FLOPs of one layer of `kind` over n tokens: {"n·d²": …, "n²·d": …, "total": …} (notebook 06)."""
    check_n(n)
    counts = matmul_flops(make_layer(kind, cfg), n, cfg.d_model)
    return {**counts, "total": counts["n·d²"] + counts["n²·d"]}


def flop_crossover(cfg=AnatomyConfig(), n=16):
    """Table 1's rule with the constants of this course's counts: the attention's token-token FLOPs are a·n²·d,
    the recurrent layer's b·n·d², so attention is cheaper per layer while n < (b/a)·d (the paper, both constants 1:
    n < d). {"per n²·d": a, "per n·d²": b, "n": (b/a)·d}, read from flops() at one n (notebook 06)."""
    d = check_config(cfg).d_model
    a = flops("self-attention", n, cfg)["n²·d"] / (n * n * d)
    b = flops("recurrent", n, cfg)["total"] / (n * d * d)
    return {"per n²·d": a, "per n·d²": b, "n": b / a * d}


def measure(kinds=LAYER_TYPES, ns=(16, 32, 64, 128), cfg=AnatomyConfig()):
    """Every count of Table 1 for each kind and n: a list of dicts, one per (kind, n) (notebook 06)."""
    rows = []
    for kind in kinds:
        for n in ns:
            layers, ops = path_ops(kind, n, cfg)
            rows.append({"kind": kind, "n": n, "sequential_ops": sequential_ops(kind, n, cfg),
                         "layers_to_connect": layers, "path_ops": ops, **flops(kind, n, cfg)})
    return rows


def softmax_saturation(dims, n_keys=16, trials=256, scaled=True, seed=0):
    """Mean largest softmax weight of q·kᵀ (÷√d when `scaled`) over random N(0, 1) vectors, per d in `dims`.
    Introduced in notebook 08."""
    check_int("n_keys", n_keys, 2, 100_000)
    check_int("trials", trials, 1, 100_000)
    gen = torch.Generator().manual_seed(seed)
    out = []
    for d in dims:
        check_int("d", d, 1, 100_000)
        q = torch.randn(trials, 1, d, generator=gen)       # (trials, 1, d)
        k = torch.randn(trials, n_keys, d, generator=gen)  # (trials, n_keys, d)
        scores = (q @ k.transpose(1, 2)).squeeze(1)        # (trials, n_keys)
        if scaled:
            scores = scores / math.sqrt(d)
        out.append(scores.softmax(-1).max(-1).values.mean().item())
    return out


