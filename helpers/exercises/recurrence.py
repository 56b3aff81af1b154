"""The exercises on recurrence, notebooks 01-05 and the NumPy RNN loop of notebook 11: accuracy and chance,
the LSTM's state and step, recall near chance, vanishing gradients. Each reference is declared with its random
inputs and its hints (helpers.exercises.check)."""
import math

import numpy as np
import torch
import torch.nn.functional as F

from .check import exercise, fraction_hints, randint, randn, same


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


def bias_and_shift(gen):
    H = randint(gen, 2, 8)
    return randn(gen, 4 * H), float(randint(gen, 1, 3) * (1 if randint(gen, 0, 1) else -1))  # a shift of ±1 to ±3


def quarter_hint(q, tamil, english):
    def hint(out, ref, a):
        wrong = a[0].clone()
        H = len(wrong) // 4
        wrong[q * H:(q + 1) * H] += a[1]
        return same(out, wrong)
    return (hint, (tamil, english))


@exercise("03", bias_and_shift, "helpers.LSTMModel's forget_bias", shape="(4H,)", hints=[
    quarter_hint(0, "அது input gate-இன் பகுதி (முதல் கால்): forget gate இரண்டாவது கால், [H:2H]",
                 "that is the input gate's part (the first quarter): the forget gate is the second, [H:2H]"),
    quarter_hint(2, "அது candidate-இன் பகுதி (மூன்றாவது கால்): forget gate இரண்டாவது கால், [H:2H]",
                 "that is the candidate's part (the third quarter): the forget gate is the second, [H:2H]"),
    quarter_hint(3, "அது output gate-இன் பகுதி (கடைசி கால்): forget gate இரண்டாவது கால், [H:2H]",
                 "that is the output gate's part (the last quarter): the forget gate is the second, [H:2H]"),
    (lambda out, ref, a: same(out, a[0] + a[1]), ("முழு bias-க்கும் அல்ல, forget gate-இன் கால் பகுதிக்கு மட்டும் கூட்டுங்கள்",
                                              "add it to the forget gate's quarter only, not to the whole bias")),
    (lambda out, ref, a: same(out, a[0]), ("bias மாறவில்லை: forget gate-இன் பகுதியில் shift-ஐக் கூட்டுங்கள்",
                                       "the bias did not change: add the shift to the forget gate's part")),
])
def with_forget_bias(bias, shift):
    """Notebook 03: torch.nn.LSTM's bias (4H,), gates in torch's order (input, forget, candidate, output), with
    `shift` added to the forget gate's quarter: a new tensor, the input left as it was."""
    H = len(bias) // 4
    out = bias.clone()
    out[H:2 * H] += shift
    return out


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


def lstm_biases(gen):
    H = randint(gen, 2, 9)
    return randn(gen, 4 * H), float(randint(gen, 1, 5))  # bias_ih (4H,), the bias to add


def added_to_quarter(q):
    """The hint predicate: `bias` added to gate quarter q (0 input, 2 candidate, 3 output), not the forget gate."""
    def wrong(out, ref, a):
        H, b = len(a[0]) // 4, a[0].clone()
        b[q * H:(q + 1) * H] += a[1]
        return same(out, b)
    return wrong


@exercise("04", lstm_biases, "torch's gate order (input, forget, candidate, output)", shape="(4H,)", hints=[
    (added_to_quarter(0), ("இது input gate (முதல் காற்பகுதி): torch-இன் வரிசை input, forget, candidate, output",
                           "that is the input gate (the first quarter): torch's order is input, forget, candidate, "
                           "output")),
    (added_to_quarter(2), ("இது candidate (மூன்றாம் காற்பகுதி); forget gate இரண்டாம் காற்பகுதி",
                           "that is the candidate (the third quarter); the forget gate is the second")),
    (added_to_quarter(3), ("இது output gate (கடைசிக் காற்பகுதி); forget gate இரண்டாம் காற்பகுதி",
                           "that is the output gate (the last quarter); the forget gate is the second")),
    (lambda out, ref, a: same(out, a[0] + a[1]),
     ("எல்லா gate-களுக்கும் கூட்டப்பட்டது: forget gate-இன் H எண்களுக்கு மட்டும்",
      "added to every gate: only to the forget gate's H numbers")),
])
def add_forget_bias(bias_ih, bias):
    """Notebook 04: a copy of an LSTM layer's bias_ih (4H,), torch's gate order (input, forget, candidate, output),
    with `bias` added to the forget gate's H numbers: the change that makes "LSTM, forget bias 1" of the default."""
    H = len(bias_ih) // 4
    out = bias_ih.clone()
    out[H:2 * H] += bias
    return out


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
