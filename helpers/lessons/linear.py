"""Recurrence returns (notebook 14): causal linear attention in its parallel and its recurrent form (Katharopoulos
et al. 2020), the gated matrix memory (the mLSTM of xLSTM, Beck et al. 2024; gated linear attention, Yang et al.
2023) and a model built on it, its cost of remembering, the capacity of a matrix state, and the memory and time of
generating one token with a fixed state against a growing key-value cache."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..core.checks import check_int
from ..core.jobs import run_jobs
from ..core.models import ModelConfig, SequenceModel, causal_mask
from ..core.tasks import MAX_LENGTH, MIN_LENGTH, LetterRecall, RecallConfig
from ..core.train import TrainConfig, seeded, train

EPS = 1e-6                # keeps the normaliser of linear attention away from 0
FORGET_INIT = (3.0, 6.0)  # forget-gate biases at initialisation, spread over the heads: sigmoid 0.95 to 0.998


def feature_map(x):
    """elu(x) + 1: a positive feature of each query and key, the map of Katharopoulos et al. (2020) (notebook 14)."""
    return F.elu(x) + 1


def check_qkv(q, k, v):
    """Raise ValueError unless q, k (..., T, d) and v (..., T, dv) agree in their leading dimensions (notebook 14)."""
    if q.dim() < 2 or q.shape != k.shape or v.shape[:-1] != q.shape[:-1]:
        raise ValueError(f"q, k must be (..., T, d) and v (..., T, dv) with the same leading sizes, got "
                         f"{tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}")


def linear_attention_parallel(q, k, v):
    """(φ(Q)·φ(K)ᵀ ⊙ mask)·V over its row sums, all T outputs at once: (..., T, d), (..., T, dv) -> (..., T, dv)
    (notebook 14)."""
    check_qkv(q, k, v)
    scores = feature_map(q) @ feature_map(k).transpose(-2, -1)             # (..., T, T): positive, no softmax
    scores = scores.masked_fill(~causal_mask(q.size(-2), q.device), 0.0)  # position t sees 0..t
    return scores @ v / (scores.sum(-1, keepdim=True) + EPS)              # (..., T, dv)


def linear_attention_recurrent(q, k, v):
    """The same, one step at a time: a (dv, d) state S_t = S_{t-1} + v_t·φ(k_t)ᵀ and z_t = z_{t-1} + φ(k_t),
    read by φ(q_t) (notebook 14)."""
    check_qkv(q, k, v)
    fq, fk = feature_map(q), feature_map(k)                 # (..., T, d)
    S = q.new_zeros(*q.shape[:-2], v.size(-1), q.size(-1))  # (..., dv, d): the whole past in one matrix
    z = q.new_zeros(*q.shape[:-2], q.size(-1))              # (..., d): the sum of the keys, for the normaliser
    out = []
    for t in range(q.size(-2)):
        S = S + v[..., t, :, None] * fk[..., t, None, :]    # (..., dv, d): + v_t·k_tᵀ
        z = z + fk[..., t, :]
        read = (S @ fq[..., t, :, None])[..., 0]            # (..., dv): S_t·q_t
        out.append(read / ((z * fq[..., t, :]).sum(-1, keepdim=True) + EPS))
    return torch.stack(out, dim=-2)                         # (..., T, dv)


def check_gates(q, log_f, i):
    """Raise ValueError unless log_f and i are (..., T) beside q (..., T, d) and log_f ≤ 0 (notebook 14)."""
    if log_f.shape != q.shape[:-1] or i.shape != q.shape[:-1]:
        raise ValueError(f"log_f and i must be (..., T) = {tuple(q.shape[:-1])}, got {tuple(log_f.shape)}, "
                         f"{tuple(i.shape)}")
    if (log_f > 0).any():
        raise ValueError("log_f must be ≤ 0 (the log of a forget gate in (0, 1])")


def decay_matrix(log_f, i):
    """D[t, s] = f_{s+1}·…·f_t·i_s for s ≤ t, 0 above the diagonal: what the gates leave of token s at step t,
    log_f, i (..., T) -> (..., T, T) (notebook 14)."""
    total = log_f.cumsum(-1)                                  # (..., T): log f_1 + … + log f_t
    gap = total[..., :, None] - total[..., None, :]           # (..., T, T): log f_{s+1} + … + log f_t
    gap = gap.masked_fill(~causal_mask(log_f.size(-1), log_f.device), float("-inf"))
    return gap.exp() * i[..., None, :]                        # (..., T, T)


def gated_parallel(q, k, v, log_f, i):
    """The gated matrix memory, all T steps at once: ((Q·Kᵀ/√d) ⊙ D)·V over max(|row sum|, 1), the mLSTM's
    normaliser: q, k (..., T, d), v (..., T, dv), log_f, i (..., T) -> (..., T, dv) (notebook 14)."""
    check_qkv(q, k, v)
    check_gates(q, log_f, i)
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1)) * decay_matrix(log_f, i)  # (..., T, T)
    return scores @ v / scores.sum(-1, keepdim=True).abs().clamp(min=1.0)            # (..., T, dv)


def gated_step(C, n, q, k, v, f, i):
    """One step of the gated memory: C = f·C + i·v·kᵀ (dv, d), n = f·n + i·k, read h = C·q / max(|n·q|, 1); q is
    scaled by 1/√d. C (..., dv, d), n, q, k (..., d), v (..., dv), f, i (...) -> (C, n, h) (notebook 14)."""
    C = f[..., None, None] * C + i[..., None, None] * v[..., :, None] * k[..., None, :]  # (..., dv, d)
    n = f[..., None] * n + i[..., None] * k                                              # (..., d)
    q = q / math.sqrt(q.size(-1))
    h = (C @ q[..., :, None])[..., 0]                                                    # (..., dv)
    return C, n, h / (n * q).sum(-1, keepdim=True).abs().clamp(min=1.0)


def gated_recurrent(q, k, v, log_f, i):
    """The gated matrix memory one step at a time, with a (dv, d) state: the same outputs as gated_parallel
    (notebook 14)."""
    check_qkv(q, k, v)
    check_gates(q, log_f, i)
    C = q.new_zeros(*q.shape[:-2], v.size(-1), q.size(-1))  # (..., dv, d)
    n = q.new_zeros(*q.shape[:-2], q.size(-1))                   # (..., d)
    out = []
    for t in range(q.size(-2)):
        C, n, h = gated_step(C, n, q[..., t, :], k[..., t, :], v[..., t, :], log_f[..., t].exp(), i[..., t])
        out.append(h)
    return torch.stack(out, dim=-2)  # (..., T, dv)


class MatrixMemory(nn.Module):
    """A gated matrix-memory layer: per head a sigmoid forget gate and a sigmoid input gate from the input, a
    (d/H)×(d/H) state per head. A sigmoid input gate keeps every D[t, s] in (0, 1], so no stabiliser is needed
    (the mLSTM's exponential input gate needs one) (notebook 14)."""

    def __init__(self, d_model, n_heads):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be a multiple of n_heads ({n_heads})")
        self.n_heads = n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.gates = nn.Linear(d_model, 2 * n_heads)  # per head: forget, input
        self.proj = nn.Linear(d_model, d_model)
        with torch.no_grad():
            self.gates.bias[:n_heads] = torch.linspace(*FORGET_INIT, n_heads)  # remember at first, as in xLSTM
            self.gates.bias[n_heads:] = 0.0

    def heads(self, x):
        """x (B, T, d) -> q, k, v (B, H, T, d/H) and log f, i (B, H, T)."""
        B, T, d = x.shape
        q, k, v = (t.view(B, T, self.n_heads, d // self.n_heads).transpose(1, 2)
                   for t in self.qkv(x).split(d, dim=-1))                    # 3 × (B, H, T, d/H)
        f, i = self.gates(x).transpose(1, 2).chunk(2, dim=1)                 # 2 × (B, H, T)
        return q, k, v, F.logsigmoid(f), torch.sigmoid(i)

    def forward(self, x, recurrent=False):
        """x (B, T, d) -> (B, T, d), by the parallel form or, with `recurrent`, step by step."""
        B, T, d = x.shape
        out = (gated_recurrent if recurrent else gated_parallel)(*self.heads(x))  # (B, H, T, d/H)
        return self.proj(out.transpose(1, 2).reshape(B, T, d))


class MemoryBlock(nn.Module):
    """The Transformer's pre-norm block with the matrix memory in attention's place (notebook 14)."""

    def __init__(self, cfg):
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.d_model)
        self.mem = MatrixMemory(cfg.d_model, cfg.n_heads)
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.mlp = nn.Sequential(nn.Linear(cfg.d_model, cfg.mlp_ratio * cfg.d_model), nn.GELU(),
                                 nn.Linear(cfg.mlp_ratio * cfg.d_model, cfg.d_model))

    def forward(self, x, recurrent=False):
        """x (B, T, d) -> (B, T, d)."""
        x = x + self.mem(self.ln1(x), recurrent)
        return x + self.mlp(self.ln2(x))


class MatrixMemoryModel(SequenceModel):
    """Gated matrix-memory model under the shared interface (ModelConfig: d_model, n_layers, n_heads, mlp_ratio);
    no position table: the gates give the order (notebook 14)."""
    kind = "matrix"

    def __init__(self, cfg=None):
        cfg = ModelConfig() if cfg is None else cfg
        super().__init__(cfg)
        self.blocks = nn.ModuleList(MemoryBlock(cfg) for _ in range(cfg.n_layers))
        self.ln_f = nn.LayerNorm(cfg.d_model)

    def body(self, e, recurrent=False):
        """(B, T, d) -> (B, T, d); `recurrent` runs the step-by-step form (the same numbers, slower)."""
        for block in self.blocks:
            e = block(e, recurrent)
        return self.ln_f(e)


# ------------------------------------------------------------------------------- the cost of remembering (part 2)

STEPS_TARGET, STEPS_CAP, STEPS_PER_EPOCH, WIDTH = 0.9, 3200, 32, 48  # notebook 05's protocol (amnesia.py)
RECORD_LENGTHS = (5, 10, 20, 40, 80, 160)  # notebook 05's lengths up to 160


def train_matrix(length, epochs, seed=0, device=None, target=None, width=WIDTH, forget_bias=None):
    """MatrixMemoryModel (width 48, 2 blocks, 4 heads) trained on first-letter recall at `length` with new strings at
    every step, as notebook 05's contestants: (model, History); `forget_bias`, (n_heads,), replaces every block's
    forget-gate biases at the start (default: FORGET_INIT spread over the heads) (notebook 14)."""
    check_int("length", length, MIN_LENGTH, MAX_LENGTH)
    task = LetterRecall(RecallConfig(length=length, seed=seed, fresh=True))
    with seeded(seed):
        model = MatrixMemoryModel(ModelConfig(d_model=width, max_len=length))
    if forget_bias is not None:
        heads = model.blocks[0].mem.n_heads
        forget_bias = torch.as_tensor(forget_bias, dtype=torch.float32)
        if forget_bias.shape != (heads,) or not torch.isfinite(forget_bias).all():
            raise ValueError(f"forget_bias must be {heads} finite numbers, one per head, got {forget_bias.tolist()}")
        with torch.no_grad():
            for block in model.blocks:
                block.mem.gates.bias[:heads] = forget_bias
    hist = train(model, task, TrainConfig(epochs=epochs, seed=seed, device=device, target=target))
    return model.cpu().eval(), hist


def matrix_run(length, seed, device=None, max_steps=STEPS_CAP):
    """One (length, seed) of the matrix memory's cost of remembering: its run record (notebook 14)."""
    model, hist = train_matrix(length, max_steps // STEPS_PER_EPOCH, seed, device, STEPS_TARGET)
    steps = None if hist.solved_epoch is None else hist.solved_epoch * STEPS_PER_EPOCH
    return {"model": "matrix", "length": length, "seed": seed, "steps": steps,
            "test_acc": [round(a, 4) for a in hist.test_acc], "seconds": round(hist.seconds, 2),
            "params": model.n_params()}


def matrix_steps_to_remember(lengths, seeds=(0,), device=None, done=(), log=None, jobs=1, max_steps=STEPS_CAP):
    """Notebook 05's cost of remembering for the matrix memory: per (length, seed), the steps to 90% held-out
    accuracy (None beyond `max_steps`), run records as helpers.lessons.amnesia.steps_to_remember's; `jobs` > 1 trains
    that many runs at once, each in its own process on one thread, longest first (notebook 14)."""
    done = set(map(tuple, done))
    todo = [(length, seed) for seed in seeds for length in lengths if ("matrix", length, seed) not in done]
    runs = []
    for run in run_jobs(matrix_run, [(length, seed, device, max_steps) for length, seed in
                                     sorted(todo, key=lambda run: -run[0] if jobs > 1 else 0)], jobs):
        runs.append(run)
        if log:
            log(run)
    return runs


def linear_settings(quick=False):
    """What the matrix memory's recording holds as its settings (quick: a smoke test) (notebook 14)."""
    return {"lengths": [5] if quick else list(RECORD_LENGTHS), "seeds": [0] if quick else [0, 1, 2],
            "variants": ["matrix"],
            "target": STEPS_TARGET, "max_steps": STEPS_CAP, "steps_per_epoch": STEPS_PER_EPOCH, "width": WIDTH,
            "fresh_strings": True, "lr": TrainConfig.lr}


def record_linear(device, path, quick=False, log=print, jobs=1):
    """`python -m helpers.record linear [--jobs N]`: the matrix memory's cost of remembering at RECORD_LENGTHS,
    3 seeds, resumable; the runs in the file in the plan's order whatever order they finish in (notebook 14)."""
    from ..record import Recording
    settings = linear_settings(quick)
    rec = Recording("linear", device, settings, path)
    done = rec.resume()

    def add(run):
        log(f"matrix length {run['length']:>4} seed {run['seed']}: {run['steps']} steps ({run['seconds']:.1f} s)")
        rec.add(run)
    matrix_steps_to_remember(settings["lengths"], settings["seeds"], device, done, add, jobs,
                             settings["max_steps"])
    plan = {(length, seed): n for n, (seed, length) in
            enumerate((seed, length) for seed in settings["seeds"] for length in settings["lengths"])}
    rec.data["results"].sort(key=lambda run: plan[run["length"], run["seed"]])
    return rec.finish()


# ----------------------------------------------------------------------------- generating one token (part 4)

def transformer_step(model, token, position, cache):
    """One new token through a TransformerModel with a key-value cache: token (1, 1), cache a list per block of
    (K, V) (1, H, n, d/H) -> (logits (1, 1, V), the cache with this token's keys and values appended) (notebook 14)."""
    d = model.cfg.d_model
    e = model.tok(token) + model.pos.weight[position]                      # (1, 1, d)
    grown = []
    for block, (K, V) in zip(model.blocks, cache):
        H = block.attn.n_heads
        q, k, v = (t.view(1, 1, H, d // H).transpose(1, 2)
                   for t in block.attn.qkv(block.ln1(e)).split(d, dim=-1))  # 3 × (1, H, 1, d/H)
        K, V = torch.cat([K, k], dim=2), torch.cat([V, v], dim=2)         # (1, H, n + 1, d/H)
        out = F.scaled_dot_product_attention(q, K, V)                      # (1, H, 1, d/H)
        e = e + block.attn.proj(out.transpose(1, 2).reshape(1, 1, d))
        e = e + block.mlp(block.ln2(e))
        grown.append((K, V))
    return model.head(model.ln_f(e)), grown


def matrix_step(model, token, states):
    """One new token through a MatrixMemoryModel with its fixed state: token (1, 1), states a list per block of
    (C (1, H, d/H, d/H), n (1, H, d/H)) -> (logits (1, 1, V), the new states) (notebook 14)."""
    e = model.tok(token)                                                   # (1, 1, d)
    new = []
    for block, (C, n) in zip(model.blocks, states):
        q, k, v, log_f, i = block.mem.heads(block.ln1(e))                  # (1, H, 1, d/H), (1, H, 1)
        C, n, h = gated_step(C, n, q[..., 0, :], k[..., 0, :], v[..., 0, :], log_f[..., 0].exp(), i[..., 0])
        e = e + block.mem.proj(h.reshape(1, 1, -1))                        # (1, H, d/H) -> (1, 1, d)
        e = e + block.mlp(block.ln2(e))
        new.append((C, n))
    return model.head(model.ln_f(e)), new


def generation_memory(model, n):
    """A decoder step after `n` tokens: (the step, its memory as the list of tensors it holds) for a TransformerModel
    (K, V of n tokens per block) or a MatrixMemoryModel (one state per block, whatever n) (notebook 14)."""
    check_int("n", n, 1, model.cfg.max_len - 1)
    d, H = model.cfg.d_model, model.cfg.n_heads
    p = next(model.parameters())
    token = torch.zeros(1, 1, dtype=torch.long, device=p.device)
    if isinstance(model, MatrixMemoryModel):
        memory = [(p.new_zeros(1, H, d // H, d // H), p.new_zeros(1, H, d // H)) for _ in model.blocks]
        return (lambda: matrix_step(model, token, memory)), memory
    memory = [(p.new_zeros(1, H, n, d // H), p.new_zeros(1, H, n, d // H)) for _ in model.blocks]
    return (lambda: transformer_step(model, token, n, memory)), memory


def memory_bytes(memory):
    """Bytes of the tensors a generator keeps between tokens (notebook 14)."""
    return sum(t.numel() * t.element_size() for pair in memory for t in pair)


@torch.no_grad()
def decay_weighted(model, x):
    """The last block's |Q·Kᵀ/√d ⊙ D| per head, each row over its sum: what each step reads from each token, for a
    MatrixMemoryModel and token ids x (1, T) -> (H, T, T) (notebook 14)."""
    if not isinstance(model, MatrixMemoryModel):
        raise ValueError(f"model must be a MatrixMemoryModel, got {type(model).__name__}")
    if x.dim() != 2 or x.size(0) != 1:
        raise ValueError(f"x must be token ids of shape (1, T), got {tuple(x.shape)}")
    e = model.embed(x)
    for block in model.blocks[:-1]:
        e = block(e)
    q, k, v, log_f, i = model.blocks[-1].mem.heads(model.blocks[-1].ln1(e))  # (1, H, T, d/H), (1, H, T)
    A = (q @ k.transpose(-2, -1) / math.sqrt(q.size(-1)) * decay_matrix(log_f, i)).abs()[0]  # (H, T, T)
    return A / A.sum(-1, keepdim=True)


def steps_text(cell):
    """One cell of helpers.lessons.amnesia.steps_table as text: '896 (608-1,376)', the median over seeds and the
    fewest-most, or 'beyond the cap' with how many seeds (notebook 14)."""
    median, low, high, beyond, n = cell
    if median is None:
        return "beyond the cap" if beyond == n else f"beyond ({beyond} of {n})"
    spread = f" ({low:,}-{high:,})" if n > 1 and low != high else ""
    return f"{median:,.0f}{spread}" + (f" +{beyond} beyond" if beyond else "")


def estimate_seconds(length=10, epochs=6):
    """About how long notebook 14's panel run takes at most: notebook 05's three contestants (amnesia's estimate) and
    the matrix memory, whose step is timed as a Transformer's (both T×T) (notebook 14)."""
    from .amnesia import estimate_seconds as amnesia_estimate  # amnesia's module, only when asked
    return amnesia_estimate(length, epochs, variants=("lstm", "lstm_fb1", "transformer", "transformer"))
