"""Models: a plain RNN, an LSTM and a Transformer encoder behind one interface, plus the two ideas
under study (scaled dot-product attention and the LSTM cell) written from scratch."""
import math
from contextlib import nullcontext
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from .tasks import MAX_LENGTH


def attention(q, k, v, mask=None, bias=None):
    """softmax(q·kᵀ/√d + bias)·v with `mask` (bool, True = may look) -> (output, weights) (notebook 01); `bias`
    (..., Tq, Tk) is added to the scores, as ALiBi does (notebook 05)."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))  # (..., Tq, Tk)
    if bias is not None:
        scores = scores + bias
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = scores.softmax(dim=-1)  # each row sums to 1
    return weights @ v, weights       # (..., Tq, dv), (..., Tq, Tk)


def sinusoids(T, d, device=None):
    """(T, d) fixed position vectors of Vaswani et al. (2017), section 3.5: PE(t, 2i) = sin(t / 10000^(2i/d)),
    PE(t, 2i+1) = cos(t / 10000^(2i/d)) for t = 0 .. T-1 (notebook 05)."""
    t = torch.arange(T, dtype=torch.float32, device=device)[:, None]           # (T, 1)
    rate = 10000 ** (-torch.arange(0, d, 2, dtype=torch.float32, device=device) / d)  # (ceil(d/2),)
    pe = torch.zeros(T, d, device=device)
    pe[:, 0::2] = torch.sin(t * rate)
    pe[:, 1::2] = torch.cos(t * rate)[:, : d // 2]
    return pe


def rotate(x):
    """RoPE (Su et al. 2021): rotate each pair (x_2i, x_2i+1) of the vector at position t by the angle
    t / 10000^(2i/d), so that a rotated query · a rotated key depends on their distance only; x (..., T, d), d even
    (notebook 05)."""
    T, d = x.shape[-2:]
    angle = (torch.arange(T, dtype=torch.float32, device=x.device)[:, None]
             * 10000 ** (-torch.arange(0, d, 2, dtype=torch.float32, device=x.device) / d))  # (T, d/2)
    cos, sin = angle.cos(), angle.sin()
    even, odd = x[..., 0::2], x[..., 1::2]                                                  # (..., T, d/2) each
    return torch.stack([even * cos - odd * sin, even * sin + odd * cos], dim=-1).flatten(-2)  # (..., T, d)


def alibi_slopes(n_heads):
    """ALiBi's per-head slopes (Press et al. 2022): 2^(-8h/H) for heads h = 1 .. H, a geometric sequence
    (the paper's rule for H a power of two; used as is for any H) (notebook 05)."""
    return torch.tensor([2.0 ** (-8 * h / n_heads) for h in range(1, n_heads + 1)])


def alibi_bias(n_heads, T, device=None):
    """(H, T, T) ALiBi bias added to the attention scores: -m_h·|i - j| for query i, key j. Causal attention sees
    j <= i only, where this is the paper's -m_h·(i - j); an encoder that looks both ways gets the same penalty
    for distance on either side (notebook 05)."""
    pos = torch.arange(T, device=device)
    distance = (pos[:, None] - pos[None, :]).abs().float()                  # (T, T)
    return -alibi_slopes(n_heads).to(device)[:, None, None] * distance      # (H, T, T)


def causal_mask(T, device=None):
    """(T, T) bool, True on and below the diagonal: position t sees positions 0..t only (notebook 01)."""
    return torch.ones(T, T, dtype=torch.bool, device=device).tril()


class LSTMCell(nn.Module):
    """One LSTM step from scratch, gates in torch's order (input, forget, candidate, output) (notebook 02)."""

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self.hidden_size = hidden_size
        self.W = nn.Linear(input_size, 4 * hidden_size)   # reads the input x_t
        self.U = nn.Linear(hidden_size, 4 * hidden_size)  # reads the previous hidden state h_{t-1}

    def gates(self, x, state):
        """The four gate activations for input `x` (B, in) and `state` = (h, c), each (B, hidden)."""
        h, _ = state
        i, f, g, o = (self.W(x) + self.U(h)).chunk(4, dim=-1)  # 4 × (B, hidden)
        return {"input": torch.sigmoid(i), "forget": torch.sigmoid(f),
                "candidate": torch.tanh(g), "output": torch.sigmoid(o)}

    def forward(self, x, state):
        """(h, c) after one step: the belt c keeps f·c and adds i·g; h reads o·tanh(c)."""
        gate = self.gates(x, state)
        c = gate["forget"] * state[1] + gate["input"] * gate["candidate"]
        h = gate["output"] * torch.tanh(c)
        return h, c

    @classmethod
    def from_torch(cls, cell):
        """A scratch cell holding the weights of a torch.nn.LSTMCell (or layer 0 of a torch.nn.LSTM)."""
        suffix = "_l0" if isinstance(cell, nn.LSTM) else ""
        scratch = cls(cell.input_size, cell.hidden_size)
        with torch.no_grad():
            scratch.W.weight.copy_(getattr(cell, "weight_ih" + suffix))
            scratch.W.bias.copy_(getattr(cell, "bias_ih" + suffix))
            scratch.U.weight.copy_(getattr(cell, "weight_hh" + suffix))
            scratch.U.bias.copy_(getattr(cell, "bias_hh" + suffix))
        return scratch


@dataclass(frozen=True)
class ModelConfig:
    """Sizes of every sequence model, one field per knob (notebook 01)."""
    vocab_size: int = 26       # input symbols (A-Z for recall, words for a language model)
    n_out: int = 26            # output classes per position
    d_model: int = 64          # width: embedding, hidden state and attention size
    n_layers: int = 2          # stacked recurrent layers or Transformer blocks
    n_heads: int = 4           # attention heads (Transformer only)
    mlp_ratio: int = 2         # Transformer MLP width = mlp_ratio * d_model
    max_len: int = MAX_LENGTH  # longest sequence (Transformer position table)
    causal: bool = False       # Transformer: mask the future (for language models)
    forget_bias: float = 0.0   # LSTM: added to the forget-gate bias at initialisation
    pad_id: int | None = None  # Transformer: a token id no query may look at (right padding), None: no padding mask
    # Transformer: how it tells positions apart. "learned": a trained table of max_len vectors added to the tokens
    # (the course's); "sinusoidal": the fixed sines and cosines of Vaswani et al. (2017) added instead, no
    # parameters; "alibi": nothing added, each head's scores get -slope·distance (Press et al. 2022); "rope": nothing
    # added, queries and keys rotated by their position (Su et al. 2021), so scores see distances (notebook 05)
    positions: str = "learned"


class SequenceModel(nn.Module):
    """Shared interface: forward(x) = head(body(embed(x))), tokens (B, T) -> logits (B, T, n_out) (notebook 01)."""

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.tok = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.head = nn.Linear(cfg.d_model, cfg.n_out)

    def embed(self, x):
        """Token ids (B, T) -> vectors (B, T, d)."""
        if x.dim() != 2 or x.size(1) > self.cfg.max_len:
            raise ValueError(f"x must be (batch, length) with length from 1 to {self.cfg.max_len}, "
                             f"got {tuple(x.shape)}")
        return self.tok(x)

    def forward(self, x):
        """Logits (B, T, n_out) for token ids (B, T)."""
        return self.head(self.body(self.embed(x)))

    def n_params(self):
        """Number of trainable parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)


class RNNModel(SequenceModel):
    """Plain (Elman) RNN: h_t = tanh(W x_t + U h_{t-1}) (notebook 01)."""
    kind = "rnn"

    def __init__(self, cfg=ModelConfig()):
        super().__init__(cfg)
        self.rnn = nn.RNN(cfg.d_model, cfg.d_model, cfg.n_layers, batch_first=True)

    def body(self, e):
        """Hidden state of the top layer at every step, (B, T, d)."""
        return self.rnn(e)[0]


class LSTMModel(SequenceModel):
    """LSTM (torch.nn.LSTM, the same maths as LSTMCell, run by a fast kernel) (notebook 01)."""
    kind = "lstm"

    def __init__(self, cfg=ModelConfig()):
        super().__init__(cfg)
        self.lstm = nn.LSTM(cfg.d_model, cfg.d_model, cfg.n_layers, batch_first=True)
        d = cfg.d_model
        with torch.no_grad():  # torch orders the bias as (input, forget, candidate, output)
            for name, p in self.lstm.named_parameters():
                if name.startswith("bias_ih"):
                    p[d:2 * d] += cfg.forget_bias

    def body(self, e):
        """Hidden state of the top layer at every step, (B, T, d)."""
        return self.lstm(e)[0]


SDPA_BACKENDS = {"flash": "FLASH_ATTENTION", "efficient": "EFFICIENT_ATTENTION", "cudnn": "CUDNN_ATTENTION",
                 "math": "MATH"}  # the kernels torch's scaled_dot_product_attention can be held to


class MultiHeadAttention(nn.Module):
    """n_heads scaled dot-product attentions side by side (notebook 08).

    fused=False runs the scratch `attention` and hands back its weights; fused=True runs torch's
    scaled_dot_product_attention (flash / memory-efficient kernels, notebook 12), which never stores them.
    """

    def __init__(self, d_model, n_heads, fused=False, backend=None, rotary=False):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be a multiple of n_heads ({n_heads})")
        if backend is not None and backend not in SDPA_BACKENDS:
            raise ValueError(f"backend must be None or one of {list(SDPA_BACKENDS)}, got {backend!r}")
        self.n_heads = n_heads
        self.fused = fused or backend is not None
        self.backend = backend  # None: torch picks the kernel
        self.rotary = rotary    # RoPE: queries and keys rotated by their position (ModelConfig.positions="rope")
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)

    def forward(self, x, mask=None, bias=None):
        """x (B, T, d) -> (output (B, T, d), weights (B, H, T, T), or None when fused); `bias` (H, T, T) is added
        to the scores (ALiBi)."""
        B, T, d = x.shape
        q, k, v = self.qkv(x).split(d, dim=-1)  # 3 × (B, T, d)
        q, k, v = (t.view(B, T, self.n_heads, d // self.n_heads).transpose(1, 2) for t in (q, k, v))  # (B, H, T, d/H)
        if self.rotary:
            q, k = rotate(q), rotate(k)
        if self.fused:
            backend = None if self.backend is None else getattr(SDPBackend, SDPA_BACKENDS[self.backend])
            if bias is not None:  # one float mask: the bias, -inf where `mask` forbids a look
                mask = bias if mask is None else bias.masked_fill(~mask, float("-inf"))
            with nullcontext() if backend is None else sdpa_kernel(backend):
                out, weights = F.scaled_dot_product_attention(q, k, v, attn_mask=mask), None
        else:
            out, weights = attention(q, k, v, mask, bias)
        out = out.transpose(1, 2).reshape(B, T, d)  # (B, T, d)
        return self.proj(out), weights


class Block(nn.Module):
    """Pre-norm Transformer block: x + attention(norm(x)), then x + MLP(norm(x)) (notebook 01)."""

    def __init__(self, cfg):
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.d_model)
        self.attn = MultiHeadAttention(cfg.d_model, cfg.n_heads, rotary=cfg.positions == "rope")
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.mlp = nn.Sequential(nn.Linear(cfg.d_model, cfg.mlp_ratio * cfg.d_model), nn.GELU(),
                                 nn.Linear(cfg.mlp_ratio * cfg.d_model, cfg.d_model))

    def forward(self, x, mask=None, bias=None):
        """x (B, T, d) -> (x (B, T, d), attention weights (B, H, T, T)); `bias` (H, T, T) as ALiBi's."""
        a, weights = self.attn(self.ln1(x), mask, bias)
        x = x + a
        return x + self.mlp(self.ln2(x)), weights


class TransformerModel(SequenceModel):
    """Transformer encoder with learned positions (or cfg.positions); can hand back every layer's attention
    (notebook 01)."""
    kind = "transformer"

    def __init__(self, cfg=ModelConfig()):
        super().__init__(cfg)
        if cfg.positions not in POSITIONS:
            raise ValueError(f"positions must be one of {list(POSITIONS)}, got {cfg.positions!r}")
        if cfg.positions == "rope" and (cfg.d_model // cfg.n_heads) % 2:
            raise ValueError(f"positions='rope' needs an even head width d_model / n_heads, got {cfg.d_model} / "
                             f"{cfg.n_heads}")
        if cfg.positions == "learned":
            self.pos = nn.Embedding(cfg.max_len, cfg.d_model)
        elif cfg.positions == "sinusoidal":  # fixed, not trained: a buffer, kept out of the state dict
            self.register_buffer("pe", sinusoids(cfg.max_len, cfg.d_model), persistent=False)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.ln_f = nn.LayerNorm(cfg.d_model)

    def embed(self, x):
        """Token ids (B, T) -> token + position vectors (B, T, d) (ALiBi and RoPE add none: they act on scores)."""
        e = super().embed(x)
        if self.cfg.positions == "learned":
            return e + self.pos(torch.arange(x.size(1), device=x.device))
        return e + self.pe[: x.size(1)] if self.cfg.positions == "sinusoidal" else e

    def body(self, e, return_attention=False, keys=None):
        """(B, T, d) -> (B, T, d), and with `return_attention` the list of (B, H, T, T) weights; `keys` (B, T) bool
        says which positions may be looked at (False: padding; notebook 07)."""
        mask = causal_mask(e.size(1), e.device) if self.cfg.causal else None  # (T, T)
        if keys is not None:
            real = keys[:, None, None, :]                                   # (B, 1, 1, T)
            mask = real if mask is None else mask & real                    # (B, 1, T, T)
        bias = alibi_bias(self.cfg.n_heads, e.size(1), e.device) if self.cfg.positions == "alibi" else None
        weights = []
        for block in self.blocks:
            e, w = block(e, mask, bias)
            weights.append(w)
        e = self.ln_f(e)
        return (e, weights) if return_attention else e

    def forward(self, x, return_attention=False):
        """Logits (B, T, n_out); with `return_attention` also each layer's (B, H, T, T) weights."""
        keys = None if self.cfg.pad_id is None else x != self.cfg.pad_id  # (B, T): False at padding
        h, weights = self.body(self.embed(x), return_attention=True, keys=keys)
        return (self.head(h), weights) if return_attention else self.head(h)


POSITIONS = ("learned", "sinusoidal", "alibi", "rope")  # ModelConfig.positions: the Transformer's position schemes
MODELS = {m.kind: m for m in (RNNModel, LSTMModel, TransformerModel)}


def build_model(kind, cfg=ModelConfig()):
    """A fresh model of `kind` ("rnn", "lstm" or "transformer") (notebook 01)."""
    if kind not in MODELS:
        raise ValueError(f"kind must be one of {sorted(MODELS)}, got {kind!r}")
    return MODELS[kind](cfg)
