"""The exercises on attention, notebooks 06-09, 11 and 12: parameter and operation counts, masks and softmax,
scaled scores, heads, attention at once, attention's memory. Each reference is declared with its random inputs
and its hints (helpers.exercises.check)."""
import math

import torch
import torch.nn.functional as F

from ..core.train import seeded
from .check import as_tensor, exercise, randint, randn, rows_sum_to_one, same


# -- 06 -----------------------------------------------------------------------------------------------------------

def width_and_heads(gen):
    heads = randint(gen, 1, 4)
    return heads * randint(gen, 2, 16), heads


@exercise("06", width_and_heads, "torch.nn.MultiheadAttention's parameter count", hints=[
    (lambda out, ref, a: same(out, 4 * a[0] ** 2), ("நான்கு projection-களுக்கும் bias உண்டு (4·d)",
                                                    "the four projections also have biases (4·d)")),
    (lambda out, ref, a: same(out, 3 * a[0] ** 2 + 3 * a[0]) or same(out, 3 * a[0] ** 2),
     ("output projection W_O-ஐ மறக்காதீர்கள்: நான்கு d×d matrix-கள்",
      "don't forget the output projection W_O: four d×d matrices")),
    (lambda out, ref, a: a[1] > 1 and same(out, ref * a[1]),
     ("Head-கள் d-ஐப் பிரிக்கின்றன, புதிய weight-களைச் சேர்ப்பதில்லை",
      "heads split d between them, they add no weights")),
])
def mha_params(d_model, n_heads):
    """Notebook 06: the number of parameters of one multi-head attention layer of width d_model (with biases)."""
    return sum(p.numel() for p in torch.nn.MultiheadAttention(d_model, n_heads).parameters())


@exercise("06", lambda gen: (randint(gen, 10, 1000), randint(gen, 8, 512)), "Table 1 of the paper", hints=[
    (lambda out, ref, a: same(out, ref[::-1]),
     ("இடம் மாறிவிட்டன: self-attention n²·d, recurrent n·d²", "swapped: self-attention costs n²·d, recurrent n·d²")),
    (lambda out, ref, a: same(out[0], a[0] ** 2),
     ("n² score-களில் ஒவ்வொன்றும் d நீள dot product: × d", "each of the n² scores is a dot product of length d: × d")),
    (lambda out, ref, a: same(out[1], a[0] * a[1]),
     ("n படிகளில் ஒவ்வொன்றும் d×d matrix-ஐ ஒரு vector-ஆல் பெருக்குகிறது: படிக்கு d²",
      "each of the n steps multiplies a d×d matrix by a vector: d² per step")),
])
def table1_ops(n, d):
    """Notebook 06: Table 1's operations per layer at length n and width d -> (self-attention, recurrent)."""
    return n * n * d, n * d * d


def small_transformer(gen):
    """A random small course Transformer (seeded from `gen`, torch's global generator untouched) and letters (B, T)."""
    from ..core.models import ModelConfig, TransformerModel
    d, heads = 8 * randint(gen, 1, 3), randint(gen, 1, 2)
    with torch.random.fork_rng(), seeded(randint(gen, 0, 10**6)):
        model = TransformerModel(ModelConfig(d_model=d, n_heads=heads, n_layers=randint(gen, 1, 2), max_len=16))
        with torch.no_grad():
            model.pos.weight.mul_(5)  # positions that matter: leaving them in shows
    return model, torch.randint(0, 26, (randint(gen, 1, 3), randint(gen, 3, 9)), generator=gen)


def _with_positions(model, x):
    return model(x)


def _no_final_norm(model, x):
    h = model.tok(x)
    for block in model.blocks:
        h = block(h)[0]
    return model.head(h)


@exercise("06", small_transformer, "the course's Transformer with its position vectors left out", shape="(B, T, 26)",
          hints=[
    (lambda out, ref, a: same(out, _with_positions(*a)),
     ("இது position-களுடன் கூடிய model-தான்: model.pos-ஐக் கூட்டாமல், model.tok(x)-இலிருந்து தொடங்குங்கள்",
      "that is the model with its positions: start from model.tok(x) and add no model.pos")),
    (lambda out, ref, a: same(out, _no_final_norm(*a)),
     ("Head-க்கு முன் கடைசி LayerNorm (model.ln_f) விடுபட்டது",
      "the final LayerNorm (model.ln_f) before the head is missing")),
], errors=[
    ("not tuple", ("ஒவ்வொரு block-உம் (h, weights) என்ற இரண்டைத் தருகிறது: h, _ = block(h)",
                                   "each block returns two things, (h, weights): h, _ = block(h)")),
])
def forward_without_positions(model, x):
    """Notebook 06: the logits (B, T, 26) of the course's Transformer `model` for letters x (B, T), its position
    vectors left out: token vectors only, then the blocks, the final LayerNorm and the head."""
    h = model.tok(x)  # (B, T, d): no model.pos
    for block in model.blocks:
        h, _ = block(h)
    return model.head(model.ln_f(h))


# -- 07 -----------------------------------------------------------------------------------------------------------

@exercise("07", lambda gen: (randint(gen, 2, 9),), "the mask of F.scaled_dot_product_attention(is_causal=True)",
          shape="(T, T)", hints=[
    (lambda out, ref, a: same(out, ref.T),
     ("எதிர்காலம் தெரிகிறது: position i, j ≤ i-ஐ மட்டுமே பார்க்கலாம் (கீழ் முக்கோணம், tril)",
      "the future is visible: position i may see j ≤ i only (the lower triangle, tril)")),
    (lambda out, ref, a: same(out, ~ref),
     ("தலைகீழ்: இங்கே True என்றால் 'பார்க்கலாம்'", "inverted: here True means 'may look'")),
    (lambda out, ref, a: same(out, ref.tril(-1)),
     ("ஒரு position தன்னையே பார்க்கலாம்: diagonal-ஐ வைத்திருங்கள்", "a position may see itself: keep the diagonal")),
])
def causal_mask(T):
    """Notebook 07: (T, T) bool, True where position i may look at position j (j ≤ i)."""
    return torch.ones(T, T, dtype=torch.bool).tril()


def scores_and_mask(gen):
    B, T = randint(gen, 2, 4), randint(gen, 3, 7)
    return randn(gen, B, T, T, scale=2.0), torch.ones(T, T, dtype=torch.bool).tril()


def masked_fill_softmax(scores, mask, fill):
    return scores.masked_fill(~mask, fill).softmax(-1)


SOFTMAX_DIM = ("வரிசைகளின் கூட்டுத்தொகை 1 இல்லை: softmax-ஐக் கடைசி dimension மேல் செய்தீர்களா?",
               "the rows do not sum to 1: did you apply the softmax over the last dimension?")


@exercise("07", scores_and_mask, "the weights of torch's masked attention", shape="(B, T, T)", hints=[
    (lambda out, ref, a: same(out, masked_fill_softmax(*a, 0.0)),
     ("மறைத்த இடங்களுக்கும் weight கிடைக்கிறது: softmax-க்கு முன் 0 அல்ல, -inf நிரப்புங்கள்",
      "masked positions still get weight: fill them with -inf, not 0, before the softmax")),
    (lambda out, ref, a: same(out, a[0].softmax(-1) * a[1]),
     ("வரிசைகளின் கூட்டுத்தொகை இனி 1 இல்லை: softmax-க்குப் பின் அல்ல, முன் mask செய்யுங்கள்",
      "the rows no longer sum to 1: mask before the softmax, not after")),
    (lambda out, ref, a: same(as_tensor(out).nan_to_num(),
                              masked_fill_softmax(a[0], ~a[1], float("-inf")).nan_to_num()),
     ("எதிர்காலத்தை வைத்துக் கடந்த காலத்தை மறைத்தீர்கள்: True என்றால் 'பார்க்கலாம்'",
      "you kept the future and hid the past: True means 'may look'")),
    (lambda out, ref, a: not rows_sum_to_one(out), SOFTMAX_DIM),
])
def masked_softmax(scores, mask):
    """Notebook 07: softmax over the keys of scores (B, T, T), where mask (T, T) is False the weight is 0."""
    return torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=-1)


# -- 08 -----------------------------------------------------------------------------------------------------------

def qkv(gen):
    B, T, d = randint(gen, 2, 3), randint(gen, 3, 6), 4 * randint(gen, 2, 4)
    return randn(gen, B, T, d), randn(gen, B, T, d), randn(gen, B, T, d + 1)


def raw_scores(Q, K):
    return Q @ K.transpose(-2, -1)  # (B, T, T)


SCALE_HINT = ("√d-ஆல் வகுத்தீர்களா? (d = Q-இன் கடைசி dimension)", "did you divide by √d? (d = the last dimension of Q)")


@exercise("08", lambda gen: qkv(gen)[:2], "the scores of torch's attention", shape="(B, T, T)", hints=[
    (lambda out, ref, a: same(out, raw_scores(*a)), SCALE_HINT),
    (lambda out, ref, a: same(out, raw_scores(*a) / a[0].size(-1)), ("d-ஆல் அல்ல, √d-ஆல் வகுங்கள்",
                                                                     "divide by √d, not by d")),
    (lambda out, ref, a: same(out, ref.transpose(-2, -1)),
     ("வரிசைகள் query-கள்: Q·Kᵀ, K·Qᵀ அல்ல", "rows are the queries: Q·Kᵀ, not K·Qᵀ")),
])
def scaled_scores(Q, K):
    """Notebook 08: the attention scores Q·Kᵀ/√d of Q and K (B, T, d) -> (B, T, T)."""
    return Q @ K.transpose(-2, -1) / math.sqrt(Q.size(-1))


def attention_hints():
    """Hints for softmax(Q·Kᵀ/√d)·V, in torch or NumPy: no √d, the weights alone, the softmax over the queries."""
    def mixed(a, scale, dim):
        Q, K, V = map(torch.as_tensor, a)
        return F.softmax(raw_scores(Q, K) / scale, dim) @ V
    return [
        (lambda out, ref, a: same(out, mixed(a, 1.0, -1)), SCALE_HINT),
        (lambda out, ref, a: as_tensor(out).shape[-1] == a[1].shape[-2],
         ("இவை weight-கள்: அவற்றை V-ஆல் பெருக்குங்கள்", "those are the weights: multiply them by V")),
        (lambda out, ref, a: same(out, mixed(a, math.sqrt(a[0].shape[-1]), -2)), SOFTMAX_DIM),
    ]


@exercise("08", qkv, "F.scaled_dot_product_attention", shape="(B, T, d_v)", hints=attention_hints())
def qkv_attention(Q, K, V):
    """Notebook 08: softmax(Q·Kᵀ/√d)·V for Q, K (B, T, d) and V (B, T, d_v) -> (B, T, d_v)."""
    return F.scaled_dot_product_attention(Q, K, V)


@exercise("08", qkv, "softmax(Q·Kᵀ)·V, with no √d", shape="(B, T, d_v)", hints=[
    (lambda out, ref, a: same(out, F.scaled_dot_product_attention(*a)),
     ("இது √d-உடன் உள்ள attention: இந்த model-இல் √d-ஆல் வகுக்க வேண்டாம்",
      "that is the attention with √d: in this model, do not divide by √d")),
    (lambda out, ref, a: as_tensor(out).shape[-1] == a[1].shape[-2],
     ("இவை weight-கள்: அவற்றை V-ஆல் பெருக்குங்கள்", "those are the weights: multiply them by V")),
    (lambda out, ref, a: same(out, F.softmax(raw_scores(*a[:2]), -2) @ a[2]), SOFTMAX_DIM),
])
def unscaled_attention(Q, K, V):
    """Notebook 08 (a changed model): softmax(Q·Kᵀ)·V without the division by √d; Q, K (B, T, d), V (B, T, d_v)
    -> (B, T, d_v)."""
    weights = (Q @ K.transpose(-2, -1)).softmax(dim=-1)  # (B, T, T): the same float steps as the notebook's
    return weights @ V                                  # solution, so a run with either trains alike


# -- 09 -----------------------------------------------------------------------------------------------------------

def large_scores(gen):
    """Rows of scores spread by a few units around 100: exp overflows in float32 without the max trick."""
    return randn(gen, randint(gen, 2, 4), randint(gen, 3, 8), scale=2.0) + 100,


@exercise("09", large_scores, "torch.softmax",
          shape="(B, T)", hints=[
    (lambda out, ref, a: not torch.isfinite(torch.as_tensor(out)).all(),
     ("பெரிய score-களில் nan/inf: exp-க்கு முன் ஒவ்வொரு வரிசையின் max-ஐக் கழியுங்கள் (அதே விடை, overflow இல்லை)",
      "nan or inf on large scores: subtract each row's max before exp (same result, no overflow)")),
    (lambda out, ref, a: same(out, (a[0] - a[0].max(-1, keepdim=True).values).exp()) or same(out, a[0].exp()),
     ("ஒவ்வொரு வரிசையையும் அதன் கூட்டுத்தொகையால் வகுங்கள்", "divide each row by its sum")),
    (lambda out, ref, a: not rows_sum_to_one(out), SOFTMAX_DIM),
])
def softmax(x):
    """Notebook 09: the softmax of x over its last dimension, safe for large values."""
    return torch.softmax(x, dim=-1)


def tokens_and_heads(gen):
    heads = randint(gen, 2, 4)
    return randn(gen, randint(gen, 2, 3), randint(gen, 3, 6), heads * randint(gen, 2, 4)), heads


@exercise("09", tokens_and_heads, "torch.nn.MultiheadAttention's split into heads", shape="(B, h, T, d_h)", hints=[
    (lambda out, ref, a: same(out, a[0].reshape(ref.shape)),
     ("ஒவ்வொரு token-இன் d எண்களும் head-களாகப் பிரிகின்றன: (B, T, h, d_h) என view செய்து, "
      "பிறகு T, h-ஐ இடம் மாற்றுங்கள் (transpose(1, 2))",
      "each token's d numbers are split into heads: view as (B, T, h, d_h), then swap T and h (transpose(1, 2))")),
    (lambda out, ref, a: same(out, ref.transpose(1, 2)),
     ("இன்னும் ஒன்று: head-களை T-க்கு முன் வைக்க transpose(1, 2)",
      "one more step: transpose(1, 2) puts the heads before T")),
])
def split_heads(x, n_heads):
    """Notebook 09: x (B, T, d) split into n_heads heads -> (B, h, T, d/h), as multi-head attention does."""
    B, T, d = x.shape
    return x.view(B, T, n_heads, d // n_heads).transpose(1, 2)  # (B, h, T, d_h)


def queries_and_keys(gen):
    T, d = randint(gen, 3, 7), 4 * randint(gen, 2, 4)
    return randn(gen, T, d, scale=1.5), randn(gen, T, d, scale=1.5)


def causal_weights(Q, K, scale):
    """softmax of Q·Kᵀ/scale (T, T) with the future masked."""
    T = Q.size(0)
    return (Q @ K.T / scale).masked_fill(~torch.ones(T, T, dtype=torch.bool).tril(), float("-inf")).softmax(-1)


@exercise("09", queries_and_keys, "the causal attention weights without the division", shape="(T, T)", hints=[
    (lambda out, ref, a: same(out, causal_weights(*a, math.sqrt(a[0].size(-1)))),
     ("இந்த model √d_k-ஆல் வகுப்பதில்லை: வகுத்தலை நீக்குங்கள்",
      "this model does not divide by √d_k: leave the division out")),
    (lambda out, ref, a: same(out, (a[0] @ a[1].T).softmax(-1)),
     ("எதிர்காலத்தை மறையுங்கள்: softmax-க்கு முன் diagonal-க்கு மேலே -inf",
      "hide the future: -inf above the diagonal, before the softmax")),
    (lambda out, ref, a: not rows_sum_to_one(out), SOFTMAX_DIM),
])
def unscaled_weights(Q, K):
    """Notebook 09: the causal attention weights of Q, K (T, d) without dividing by √d: softmax(mask(Q·Kᵀ))."""
    return causal_weights(Q, K, 1.0)


# -- 11 -----------------------------------------------------------------------------------------------------------

def qkv_arrays(gen):
    T, d = randint(gen, 3, 7), randint(gen, 2, 6)
    return tuple(randn(gen, T, k).double().numpy() for k in (d, d, d + 2))


@exercise("11", qkv_arrays, "F.scaled_dot_product_attention", shape="(T, d_v)", hints=attention_hints())
def attention_at_once(Q, K, V):
    """Notebook 11: softmax(Q·Kᵀ/√d)·V for every position at once, in NumPy; Q, K (T, d), V (T, d_v)."""
    return F.scaled_dot_product_attention(*map(torch.from_numpy, (Q, K, V))).numpy()


# -- 12 -----------------------------------------------------------------------------------------------------------

BYTES = {2: torch.float16, 4: torch.float32, 8: torch.float64}


def memory_inputs(gen):
    """n, heads, batch, bytes: all different, so that each hint names the one factor missing."""
    n, heads, batch = randint(gen, 16, 4096), [3, 5, 6, 12][randint(gen, 0, 3)], [7, 9, 10, 11][randint(gen, 0, 3)]
    return n, heads, batch, [2, 4, 8][randint(gen, 0, 2)]


@exercise("12", memory_inputs, "the size of torch.empty(batch, heads, n, n)", hints=[
    (lambda out, ref, a: same(out, ref // a[0]), ("Score-கள் ஒவ்வொரு head-க்கும் n × n: n அல்ல, n²",
                                                  "the scores are n × n per head: n², not n")),
    (lambda out, ref, a: same(out, ref // a[1]), ("ஒவ்வொரு head-க்கும் தனி n × n matrix",
                                                  "every head has its own n × n matrix")),
    (lambda out, ref, a: same(out, ref // a[2]),
     ("Batch-இன் ஒவ்வொரு string-க்கும் தனி matrix-கள்: batch-ஆல் பெருக்குங்கள்",
                                                 "every string of the batch has its own matrices: multiply by batch")),
    (lambda out, ref, a: same(out, ref * 8), ("Bytes வேண்டும், bits அல்ல", "bytes expected, not bits")),
    (lambda out, ref, a: same(out, ref // a[3]), ("ஒரு எண்ணுக்கான bytes-ஆல் பெருக்குங்கள்",
                                                  "multiply by the bytes per number")),
])
def attention_memory(n, n_heads, batch, bytes_per_number):
    """Notebook 12: the bytes of the attention weights, batch × heads × n × n numbers of bytes_per_number each."""
    return torch.empty(batch, n_heads, n, n, dtype=BYTES[bytes_per_number], device="meta").nbytes


def budget_inputs(gen):
    return 2 ** randint(gen, 24, 34) + randint(gen, 0, 10 ** 6), randint(gen, 2, 16), randint(gen, 1, 8), 4


@exercise("12", budget_inputs, "a search over n with attention_memory", hints=[
    (lambda out, ref, a: out > 10 * ref,
     ("நினைவகம் n²-உடன் வளர்கிறது: வர்க்கமூலம் (math.isqrt) எடுங்கள்",
      "memory grows with n²: take the square root (math.isqrt)")),
    (lambda out, ref, a: same(out, ref + 1),
     ("பொருந்தும் மிகப் பெரிய n: கீழ்நோக்கி round செய்யுங்கள்", "the largest n that fits: round down")),
])
def longest_sequence(memory_bytes, n_heads, batch, bytes_per_number):
    """Notebook 12: the largest n whose attention weights (attention_memory) fit in memory_bytes."""
    n = math.isqrt(memory_bytes // (n_heads * batch * bytes_per_number))
    while attention_memory(n + 1, n_heads, batch, bytes_per_number) <= memory_bytes:
        n += 1
    while n > 0 and attention_memory(n, n_heads, batch, bytes_per_number) > memory_bytes:
        n -= 1
    return n


def lstm_widths(gen):
    """d_in and d, never equal, so that each hint names the one term missing."""
    d_in = randint(gen, 2, 64)
    return d_in, d_in + randint(gen, 1, 40)


@exercise("12", lstm_widths, "the parameter count of torch.nn.LSTM(d_in, d)", hints=[
    (lambda out, ref, a: same(out, ref - 4 * a[1]),
     ("torch-இன் nn.LSTM-க்கு இரண்டு bias vector-கள் (b_ih, b_hh): 8·d", "torch's nn.LSTM has two bias vectors "
                                                                        "(b_ih and b_hh): 8·d")),
    (lambda out, ref, a: same(out, ref - 8 * a[1]), ("Bias-களை மறக்காதீர்கள்: 8·d", "don't forget the biases: 8·d")),
    (lambda out, ref, a: same(out, ref // 4), ("நான்கு gate-கள், ஒவ்வொன்றுக்கும் தனி weight-கள்: × 4",
                                               "four gates, each with weights of its own: × 4")),
    (lambda out, ref, a: same(out, ref - 4 * a[1] ** 2),
     ("Recurrent weight-கள் W_hh (4d × d)-உம் உண்டு", "the recurrent weights W_hh (4d × d) count too")),
])
def lstm_parameters(d_in, d):
    """Notebook 12: the parameters of one torch.nn.LSTM layer from input width d_in to hidden width d."""
    return sum(p.numel() for p in torch.nn.LSTM(d_in, d, device="meta").parameters())
