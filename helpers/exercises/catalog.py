"""The exercises of notebooks 01-13: each reference function, declared with its random inputs and its hints.

A hint is (predicate(out, ref, args), (tamil, english)): the first predicate that holds for a wrong answer gives the
line the student reads. Predicates compare the answer with a typical mistake computed here, never show the solution.
"""
import math

import numpy as np
import torch
import torch.nn.functional as F

from . import as_tensor, exercise, rows_sum_to_one, same


def randint(gen, lo, hi):
    """A random int in [lo, hi]."""
    return int(torch.randint(lo, hi + 1, (1,), generator=gen))


def randn(gen, *shape, scale=1.0):
    return torch.randn(*shape, generator=gen) * scale


# -- shared hints for a fraction (accuracy) -----------------------------------------------------------------------

def fraction_hints(n_of):
    """Hints for an accuracy: per-item instead of the mean, a percentage, a count. n_of(args) = number of items."""
    return [
        (lambda out, ref, a: torch.as_tensor(out).dim() == 1,
         ("ஒரே ஒரு எண் வேண்டும்: batch முழுவதும் சராசரி (mean) எடுத்தீர்களா?",
          "one number expected: did you take the mean over the batch?")),
        (lambda out, ref, a: ref > 0 and same(out, ref * 100),
         ("இது சதவீதம்: 0-க்கும் 1-க்கும் இடையிலான பின்னம் (fraction) வேண்டும்",
          "that is a percentage: a fraction between 0 and 1 expected")),
        (lambda out, ref, a: ref > 0 and same(out, ref * n_of(a)),
         ("இது எண்ணிக்கை (count): மொத்த string-களின் எண்ணிக்கையால் வகுங்கள்",
          "that is a count: divide by the number of strings")),
    ]


# -- 01 -----------------------------------------------------------------------------------------------------------

def logits_and_targets(gen):
    B = randint(gen, 8, 20)
    logits = randn(gen, B, 26)
    guess = torch.randint(0, 26, (B,), generator=gen)
    right = torch.rand(B, generator=gen) < 0.5
    return logits, torch.where(right, logits.argmax(-1), guess)  # about half right


@exercise("01", logits_and_targets, "the course's accuracy", hints=[
    *fraction_hints(lambda a: len(a[1])),
    (lambda out, ref, a: same(out, (F.softmax(a[0], -1).max(-1).values).mean().item()),
     ("இது model-இன் நம்பிக்கை (probability), accuracy அல்ல: argmax-ஐ target-உடன் ஒப்பிடுங்கள்",
      "that is the model's confidence, not its accuracy: compare the argmax with the targets")),
])
def first_letter_accuracy(logits, targets):
    """Notebook 01: the fraction of strings whose first letter the model gets right; logits (B, 26), targets (B,)."""
    return (logits.argmax(dim=-1) == targets).float().mean().item()


@exercise("01", lambda gen: (randint(gen, 2, 40),), "a random guesser's accuracy", hints=[
    (lambda out, ref, a: same(out, a[0]), ("தலைகீழ்: n எழுத்துகளில் ஒன்றை ஊகிக்கும் வாய்ப்பு 1/n",
                                           "inverted: the chance of guessing one of n letters is 1/n")),
    (lambda out, ref, a: same(out, 100 / a[0]), ("இது சதவீதம்: பின்னம் (fraction) வேண்டும்",
                                                 "that is a percentage: a fraction expected")),
])
def chance_level(n_letters):
    """Notebook 01: the accuracy of guessing the first letter at random among n_letters."""
    return 1 / n_letters


# -- 02 -----------------------------------------------------------------------------------------------------------

def hidden_and_layers(gen):
    return randint(gen, 4, 64), randint(gen, 1, 4)


@exercise("02", hidden_and_layers, "the h and c of torch.nn.LSTM", hints=[
    (lambda out, ref, a: same(out, a[0] * a[1]),
     ("h மட்டும்தானா? LSTM இரண்டு vector-களைக் கடத்துகிறது: h, cell state c",
      "only h? the LSTM carries two vectors, h and the cell state c")),
    (lambda out, ref, a: same(out, 2 * a[0]),
     ("ஒவ்வொரு layer-க்கும் தனி h, c: num_layers-ஆல் பெருக்குங்கள்",
      "every layer has its own h and c: multiply by num_layers")),
    (lambda out, ref, a: same(out, 4 * a[0] * a[1]),
     ("அது நான்கு gate-களின் அளவு; state என்பது h, c மட்டுமே",
      "that is the size of the four gates; the state is h and c")),
])
def lstm_state_floats(hidden_size, num_layers):
    """Notebook 02: how many numbers an LSTM carries from one step to the next (its whole memory of the past)."""
    lstm = torch.nn.LSTM(1, hidden_size, num_layers)
    _, (h, c) = lstm(torch.zeros(1, 1, 1))  # (layers, 1, hidden) each
    return h.numel() + c.numel()


@exercise("02", lambda gen: (randint(gen, 5, 40), randint(gen, 2, 40)), "the information in a random string", hints=[
    (lambda out, ref, a: same(out, a[0] * math.log(a[1])),
     ("bits என்றால் log அடிமானம் 2 (math.log2), natural log அல்ல",
      "bits means log base 2 (math.log2), not the natural log")),
    (lambda out, ref, a: same(out, math.log2(a[1])),
     ("ஒவ்வொரு எழுத்துக்கும் தனி bits: length-ஆல் பெருக்குங்கள்",
      "every one of the length letters needs its own bits: multiply by length")),
    (lambda out, ref, a: same(out, a[0] * a[1]),
     ("n எழுத்துகளில் ஒன்றுக்கு log2(n) bits போதும், n அல்ல", "one of n letters takes log2(n) bits, not n")),
])
def bits_to_remember(length, n_letters):
    """Notebook 02: the bits needed to hold a whole random string of `length` letters out of n_letters."""
    return length * math.log2(n_letters)


# -- 03 -----------------------------------------------------------------------------------------------------------

def gates_and_belt(gen):
    B, H = randint(gen, 2, 4), randint(gen, 3, 8)
    f, i = torch.rand(2, B, H, generator=gen)
    return f, i, randn(gen, B, H).tanh(), randn(gen, B, H)


@exercise("03", gates_and_belt, "torch.nn.LSTMCell's cell-state update", shape="(B, H)", hints=[
    (lambda out, ref, a: same(out, a[1] * a[3] + a[0] * a[2]),
     ("f, i இடம் மாறிவிட்டன: forget gate f பழைய belt c-ஐப் பெருக்குகிறது, input gate i புதிய candidate g-ஐ",
      "f and i swapped: the forget gate f multiplies the old belt c, the input gate i the candidate g")),
    (lambda out, ref, a: same(out, a[1] * a[2]),
     ("பழைய belt மறைந்துவிட்டது: f · c-ஐயும் சேருங்கள்", "the old belt vanished: keep f · c as well")),
    (lambda out, ref, a: same(out, a[0] * a[3]),
     ("belt-இல் புதிதாக எதுவும் ஏறவில்லை: i · g-ஐக் கூட்டுங்கள்", "nothing new goes on the belt: add i · g")),
    (lambda out, ref, a: same(out, a[3] + a[1] * a[2]),
     ("forget gate f பழைய c-ஐ அளவிட வேண்டும் (f · c)", "the forget gate f must scale the old c (f · c)")),
])
def cell_update(f, i, g, c):
    """Notebook 03: the conveyor belt's update c_t = f·c_{t-1} + i·g; f, i, g and c are (B, H)."""
    return f * c + i * g


def lstm_variant(x, h, c, W_ih, W_hh, b_ih, b_hh, order="ifgo", g_act=torch.tanh, h_tanh=True, bias_hh=True):
    """An LSTM step with a chosen mistake, for the hints."""
    gates = x @ W_ih.T + b_ih + h @ W_hh.T + (b_hh if bias_hh else 0)  # (B, 4H)
    parts = dict(zip(order, gates.chunk(4, dim=-1)))
    i, f, o = parts["i"].sigmoid(), parts["f"].sigmoid(), parts["o"].sigmoid()
    c_new = f * c + i * g_act(parts["g"])
    return (o * c_new.tanh() if h_tanh else o * c_new), c_new


def lstm_inputs(gen):
    B, n_in, H = randint(gen, 2, 4), randint(gen, 2, 6), randint(gen, 3, 7)
    return (randn(gen, B, n_in), randn(gen, B, H), randn(gen, B, H), randn(gen, 4 * H, n_in, scale=0.5),
            randn(gen, 4 * H, H, scale=0.5), randn(gen, 4 * H, scale=0.5), randn(gen, 4 * H, scale=0.5))


GATE_ORDER = ("torch நான்கு gate-களை i, f, g, o வரிசையில் வைக்கிறது (input, forget, candidate, output)",
              "torch orders the four gates i, f, g, o (input, forget, candidate, output)")


def lstm_hint(mistake, tamil, english):
    return (lambda out, ref, a: same(out, lstm_variant(*a, **mistake)), (tamil, english))


@exercise("03", lstm_inputs, "torch.nn.LSTMCell", shape=("(B, H)", "(B, H)"), hints=[
    (lambda out, ref, a: same(out, ref[::-1]), ("(h, c) என்ற வரிசையில் திருப்பித் தாருங்கள்",
                                                "return (h, c) in that order")),
    lstm_hint(dict(order="ifog"), *GATE_ORDER),
    lstm_hint(dict(order="figo"), *GATE_ORDER),
    lstm_hint(dict(g_act=torch.sigmoid), "candidate g-க்கு tanh; மூன்று gate-களுக்கு மட்டுமே sigmoid",
              "the candidate g takes tanh; only the three gates take sigmoid"),
    lstm_hint(dict(h_tanh=False), "h = o · tanh(c): tanh விடுபட்டுள்ளது", "h = o · tanh(c): the tanh is missing"),
    lstm_hint(dict(bias_hh=False), "இரண்டு bias-களும் (b_ih, b_hh) கூட்டப்பட வேண்டும்",
              "both biases, b_ih and b_hh, are added"),
])
def lstm_step(x, h, c, W_ih, W_hh, b_ih, b_hh):
    """Notebook 03: one LSTM step -> (h, c); x (B, n_in), h and c (B, H), weights as in torch.nn.LSTMCell."""
    cell = torch.nn.LSTMCell(x.size(-1), h.size(-1))
    with torch.no_grad():
        for p, w in zip((cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh), (W_ih, W_hh, b_ih, b_hh)):
            p.copy_(w)
        return cell(x, (h, c))


# -- 04 -----------------------------------------------------------------------------------------------------------

def predictions_and_strings(gen):
    B, T = randint(gen, 8, 20), randint(gen, 5, 12)
    strings = torch.randint(0, 26, (B, T), generator=gen)
    right = torch.rand(B, generator=gen) < 0.5
    return torch.where(right, strings[:, 0], torch.randint(0, 26, (B,), generator=gen)), strings


@exercise("04", predictions_and_strings, "the fraction of first letters recalled", hints=[
    (lambda out, ref, a: same(out, (a[0] == a[1][:, -1]).float().mean().item()),
     ("பணி முதல் எழுத்தைக் கேட்கிறது (column 0), கடைசியை அல்ல",
      "the task asks for the FIRST letter (column 0), not the last")),
    *fraction_hints(lambda a: len(a[0])),
])
def recall_accuracy(predictions, strings):
    """Notebook 04: the fraction of predictions (B,) equal to the first letter of strings (B, T)."""
    return (predictions == strings[:, 0]).float().mean().item()


def accuracies_near_chance(gen):
    n, chance = randint(gen, 50, 2000), 1 / randint(gen, 2, 26)
    se = math.sqrt(chance * (1 - chance) / n)
    return chance + se * randn(gen, 40, scale=3.0).abs(), n, chance  # (40,): from chance to about 9 standard errors


@exercise("04", accuracies_near_chance, "a binomial test at 3 standard errors", shape="(M,)", hints=[
    (lambda out, ref, a: same(out, a[0] > a[2]),
     ("சில அதிர்ஷ்ட string-கள் accuracy-ஐ chance-க்கு மேல் தள்ளலாம்: 3 standard error அளவு இடைவெளி வேண்டும்",
      "a few lucky strings can lift an accuracy above chance: require a margin of 3 standard errors")),
    (lambda out, ref, a: same(out, a[0] <= a[2] + 3 * math.sqrt(a[2] * (1 - a[2]) / a[1])),
     ("தலைகீழ்: chance-ஐ விடத் தெளிவாக மேலே இருந்தால்தான் True", "inverted: True only where clearly above chance")),
])
def above_chance(accuracy, n, chance):
    """Notebook 04: True where an accuracy (M,) measured on n strings lies over 3 standard errors above chance."""
    p = torch.tensor(chance, dtype=torch.float64)
    return accuracy > chance + 3 * torch.distributions.Binomial(n, p).stddev.item() / n


# -- 05 -----------------------------------------------------------------------------------------------------------

def rnn_loss_and_embeddings(gen):
    T, d = randint(gen, 4, 9), randint(gen, 3, 6)
    W, U = randn(gen, d, d), randn(gen, d, d, scale=0.6)

    def loss(x):  # a small recurrent net read to the end: the loss depends on every position
        h = torch.zeros(d)
        for x_t in x:
            h = torch.tanh(x_t @ W + h @ U)
        return h.sum()
    return loss, randn(gen, T, d)


@exercise("05", rnn_loss_and_embeddings, "torch.func.grad", shape="(T,)", errors=[
    ("does not require grad",
     ("x ஒரு leaf tensor-ஆக gradient-ஐப் பதிவு செய்ய வேண்டும் (requires_grad)",
      "x must be a leaf tensor that records its gradient (requires_grad)")),
], hints=[
    (lambda out, ref, a: torch.as_tensor(out).shape == a[1].shape,
     ("ஒவ்வொரு position-க்கும் ஒரு எண்: கடைசி dimension (d) மேல் norm எடுங்கள்",
      "one number per position: take the norm over the last dimension (d)")),
    (lambda out, ref, a: same(out, ref ** 2), ("norm வேண்டும், அதன் square அல்ல", "the norm, not its square")),
    (lambda out, ref, a: same(out, torch.func.grad(a[0])(a[1]).sum(-1)),
     ("norm = வர்க்கங்களின் கூட்டுத்தொகையின் வர்க்கமூலம், வெறும் கூட்டுத்தொகை அல்ல",
      "the norm is the square root of the sum of squares, not the plain sum")),
])
def position_gradients(loss, x):
    """Notebook 05: ‖∂loss/∂x_t‖ for every position t of the embeddings x (T, d) -> (T,)."""
    return torch.func.grad(loss)(x).norm(dim=-1)


def factor_and_threshold(gen):
    return 0.3 + 0.65 * torch.rand(1, generator=gen).item(), 10.0 ** -randint(gen, 2, 8)


@exercise("05", factor_and_threshold, "multiplying step by step", hints=[
    (lambda out, ref, a: same(out, ref - 1),
     ("factor^t threshold-க்குக் கீழே செல்லும் மிகச் சிறிய t: மேல்நோக்கி round செய்யுங்கள்",
      "the smallest t with factor^t below the threshold: round up")),
    (lambda out, ref, a: 0 < out < 2 and ref > 2,
     ("தலைகீழ்: t = log(threshold) / log(factor)", "inverted: t = log(threshold) / log(factor)")),
])
def steps_to_vanish(factor, threshold):
    """Notebook 05: how many steps back a gradient shrunk by `factor` per step takes to fall below threshold."""
    t, g = 0, 1.0
    while g >= threshold:
        g, t = g * factor, t + 1
    return t


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
     ("n step-களில் ஒவ்வொன்றும் d×d matrix-ஐ ஒரு vector-ஆல் பெருக்குகிறது: step-க்கு d²",
      "each of the n steps multiplies a d×d matrix by a vector: d² per step")),
])
def table1_ops(n, d):
    """Notebook 06: Table 1's operations per layer at length n and width d -> (self-attention, recurrent)."""
    return n * n * d, n * d * d


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
     ("இன்னும் ஒரு படி: head-களை T-க்கு முன் வைக்க transpose(1, 2)",
      "one more step: transpose(1, 2) puts the heads before T")),
])
def split_heads(x, n_heads):
    """Notebook 09: x (B, T, d) split into n_heads heads -> (B, h, T, d/h), as multi-head attention does."""
    B, T, d = x.shape
    return x.view(B, T, n_heads, d // n_heads).transpose(1, 2)  # (B, h, T, d_h)


# -- 10 -----------------------------------------------------------------------------------------------------------

def tiny_model(gen):
    V = randint(gen, 6, 12)
    table = randn(gen, V, V)

    def next_logits(tokens):  # (t, V): logits for the token after each position, a toy model
        return table[torch.as_tensor(tokens)].cumsum(0) / torch.arange(1, len(tokens) + 1)[:, None]
    return next_logits, [int(t) for t in torch.randint(0, V, (randint(gen, 1, 3),), generator=gen)], randint(gen, 3, 6)


def greedy_variant(next_logits, prompt, n_new, row=-1):
    tokens = list(prompt)
    for _ in range(n_new):
        tokens.append(int(next_logits(tokens)[row].argmax()))
    return tokens


@exercise("10", tiny_model, "the course's greedy decoder", hints=[
    (lambda out, ref, a: same(out, greedy_variant(*a, row=0)),
     ("கடைசி position-இன் logits-ஐப் பயன்படுத்துங்கள் ([-1]): அவைதான் அடுத்த token-ஐக் கணிக்கின்றன",
      "use the logits of the LAST position ([-1]): they predict the next token")),
    (lambda out, ref, a: same(out, ref[len(a[1]):]),
     ("Prompt-ஐத் தொடர்ந்து புதிய token-களைத் திருப்பித் தாருங்கள்", "return the prompt followed by the new tokens")),
])
def greedy_tokens(next_logits, prompt, n_new):
    """Notebook 10: extend the token list prompt by n_new tokens, each the argmax of next_logits(tokens)[-1]."""
    return greedy_variant(next_logits, prompt, n_new)


def logits_and_labels(gen):
    N, V = randint(gen, 4, 12), randint(gen, 5, 20)
    return randn(gen, N, V, scale=2.0), torch.randint(0, V, (N,), generator=gen)


def picked(values, targets):
    return values.gather(-1, targets[:, None])[:, 0]  # (N,): each target's entry


@exercise("10", logits_and_labels, "F.cross_entropy", hints=[
    (lambda out, ref, a: same(out, ref * len(a[1])),
     ("கூட்டுத்தொகை அல்ல, token-கள் மேல் சராசரி (mean)", "average over the tokens (mean), not the sum")),
    (lambda out, ref, a: same(out, -ref),
     ("Loss ≥ 0: log-probability-ஐ எதிர்மறையாக்குங்கள் (−)", "a loss is ≥ 0: negate the log-probability")),
    (lambda out, ref, a: same(out, -picked(a[0].softmax(-1), a[1]).mean()),
     ("Probability-இன் log எடுங்கள் (log_softmax)", "take the log of the probabilities (log_softmax)")),
    (lambda out, ref, a: same(out, -picked(a[0], a[1]).mean()),
     ("முதலில் logits-ஐ log-probability-களாக மாற்றுங்கள் (log_softmax)",
      "turn the logits into log-probabilities first (log_softmax)")),
])
def cross_entropy(logits, targets):
    """Notebook 10: the mean of −log softmax(logits)[target] over logits (N, V) and targets (N,)."""
    return F.cross_entropy(logits, targets)


# -- 11 -----------------------------------------------------------------------------------------------------------

def rnn_arrays(gen):
    T, d_in, d = randint(gen, 3, 8), randint(gen, 2, 5), randint(gen, 2, 6)
    return tuple(a.double().numpy() for a in (randn(gen, T, d_in), randn(gen, d_in, d, scale=0.7),
                                              randn(gen, d, d, scale=0.7)))


@exercise("11", rnn_arrays, "torch.nn.RNN", shape="(T, d)", hints=[
    (lambda out, ref, a: np.asarray(out).shape == ref.shape[1:],
     ("ஒவ்வொரு step-இன் h-ஐயும் அடுக்கித் தாருங்கள் (T, d), கடைசியை மட்டும் அல்ல",
      "return every step's h stacked (T, d), not only the last one")),
    (lambda out, ref, a: same(out, np.tanh(a[0] @ a[1])),
     ("ஒவ்வொரு step-உம் முந்தைய h-ஐ உள்ளே கொடுக்க வேண்டும் (h_{t-1} @ W_h)",
      "each step must feed the previous h back in (h_{t-1} @ W_h)")),
    (lambda out, ref, a: same(out, rnn_variant(*a, act=lambda z: z)), ("tanh விடுபட்டுள்ளது", "the tanh is missing")),
    (lambda out, ref, a: same(out, rnn_variant(a[0], a[1], a[2].T)),
     ("h_{t-1} @ W_h (row vector × matrix), W_h @ h அல்ல", "h_{t-1} @ W_h (row vector times matrix), not W_h @ h")),
])
def rnn_loop(X, W_x, W_h):
    """Notebook 11: h_t = tanh(x_t·W_x + h_{t-1}·W_h) from h = 0 over X (T, d_in), in NumPy -> every h (T, d)."""
    rnn = torch.nn.RNN(W_x.shape[0], W_x.shape[1], bias=False, dtype=torch.float64)
    with torch.no_grad():
        rnn.weight_ih_l0.copy_(torch.from_numpy(W_x.T))
        rnn.weight_hh_l0.copy_(torch.from_numpy(W_h.T))
        return rnn(torch.from_numpy(X))[0].numpy()


def rnn_variant(X, W_x, W_h, act=np.tanh):
    h, out = np.zeros(W_x.shape[1]), []
    for x_t in X:
        h = act(x_t @ W_x + h @ W_h)
        out.append(h)
    return np.stack(out)


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


# -- 13 -----------------------------------------------------------------------------------------------------------

def log_probs_and_targets(gen):
    logits, targets = logits_and_labels(gen)
    return F.log_softmax(logits, -1), targets


@exercise("13", log_probs_and_targets, "the perplexity from F.nll_loss", hints=[
    (lambda out, ref, a: same(out, math.log(ref)), ("இது சராசரி loss: perplexity = exp(சராசரி loss)",
                                                    "that is the mean loss: perplexity = exp(mean loss)")),
    (lambda out, ref, a: same(out, 1 / ref),
     ("Perplexity ≥ 1: log-probability-களை எதிர்மறையாக்குங்கள் (−)",
      "perplexity is ≥ 1: negate the log-probabilities")),
    (lambda out, ref, a: same(out, ref ** len(a[1])),
     ("exp-க்கு முன் token-கள் மேல் சராசரி எடுங்கள், கூட்டுத்தொகை அல்ல",
      "average over the tokens before exp, not the sum")),
    (lambda out, ref, a: same(out, torch.exp(-a[0].mean())),
     ("ஒவ்வொரு target-இன் log-probability-ஐ எடுங்கள் (gather), எல்லாவற்றின் சராசரி அல்ல",
      "pick each target's log-probability (gather), not the mean of all of them")),
])
def perplexity(log_probs, targets):
    """Notebook 13: exp of the mean negative log-probability of the targets (N,) under log_probs (N, V)."""
    return torch.exp(F.nll_loss(log_probs, targets)).item()


def logits_and_k(gen):
    V = randint(gen, 6, 30)
    return randn(gen, V, scale=2.0), randint(gen, 2, 5)


@exercise("13", logits_and_k, "torch.topk", shape=("(k,)", "(k,)"), hints=[
    (lambda out, ref, a: same(out[0], torch.topk(a[0], a[1]).values),
     ("Probability-கள் வேண்டும்: முதலில் softmax", "probabilities expected: softmax first")),
    (lambda out, ref, a: same(out, (ref[0].flip(0), ref[1].flip(0))),
     ("பெரியது முதலில் (இறங்கு வரிசை)", "largest first (descending order)")),
    (lambda out, ref, a: same(out, ref[::-1]),
     ("(probability-கள், token id-கள்) என்ற வரிசையில் தாருங்கள்", "return (probabilities, token ids) in that order")),
])
def top_k_next(logits, k):
    """Notebook 13: the k most likely next tokens of logits (V,) -> (their probabilities, their ids), largest first."""
    probs, ids = torch.topk(torch.softmax(logits, dim=-1), k)
    return probs, ids
