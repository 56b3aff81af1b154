"""The exercises' checks: the reference passes, an unfinished answer is 'not done yet', every hint is reached by a
typical wrong answer, and check never raises at the student whatever the function does."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from helpers.exercises import EXERCISES, check, reference, use
from helpers.exercises.language import greedy_variant
from helpers.exercises.recurrence import lstm_variant, rnn_variant


def acc(pred, target):
    return (pred == target).float()


def split(x, h, order):
    B, T, d = x.shape
    return x.view(*(dict(B=B, T=T, h=h, d=d // h)[k] for k in order))


def masked(s, m, fill, dim=-1):
    return s.masked_fill(~m, fill).softmax(dim)


def mixed(Q, K, V, scale, dim=-1):
    """softmax(Q·Kᵀ/scale over dim)·V in torch, or in NumPy for NumPy arrays."""
    if isinstance(Q, np.ndarray):
        return mixed(*map(torch.from_numpy, (Q, K, V)), scale, dim).numpy()
    return (Q @ K.transpose(-2, -1) / scale).softmax(dim) @ V


def naive_softmax(x):
    return x.exp() / x.exp().sum(-1, keepdim=True)


def np_softmax(s):
    return np.exp(s) / np.exp(s).sum(-1, keepdims=True)


def topk_flipped(logits, k):
    p, i = torch.topk(logits.softmax(-1), k)
    return p.flip(0), i.flip(0)


def grad_of(loss, x):
    x = x.detach().requires_grad_()
    loss(x).backward()
    return x.grad


def no_leaf(loss, x):
    loss(x).backward()  # x records no gradient
    return x.grad.norm(dim=-1)


def mem(n, h, b, by):
    return b * h * n * n * by


def shift_quarter(bias, shift, q):
    """bias (4H,) with `shift` added to quarter q (0 input, 1 forget, 2 candidate, 3 output)."""
    out, H = bias.clone(), len(bias) // 4
    out[q * H:(q + 1) * H] += shift
    return out


# each exercise: typical wrong answers and a words of the hint each must produce (English side)
WRONG = {
    "first_letter_accuracy": [
        (lambda lg, t: acc(lg.argmax(-1), t), "mean over the batch"),
        (lambda lg, t: 100 * acc(lg.argmax(-1), t).mean().item(), "percentage"),
        (lambda lg, t: acc(lg.argmax(-1), t).sum().item(), "that is a count"),
        (lambda lg, t: F.softmax(lg, -1).max(-1).values.mean().item(), "confidence, not its accuracy"),
        (lambda lg, t: "0.5", "a number expected, got str"),
    ],
    "chance_level": [(lambda n: n, "inverted"), (lambda n: 100 / n, "percentage"),
                     (lambda n: 1 / 26, "the values differ from a random guesser's accuracy")],
    "lstm_state_floats": [(lambda H, L: H * L, "only h?"), (lambda H, L: 2 * H, "its own h and c"),
                          (lambda H, L: 4 * H * L, "four gates")],
    "bits_to_remember": [(lambda n, k: n * math.log(k), "not the natural log"),
                         (lambda n, k: math.log2(k), "its own bits"),
                         (lambda n, k: n * k, "log2(n) bits, not n")],
    "cell_update": [(lambda f, i, g, c: i * c + f * g, "f and i swapped"),
                    (lambda f, i, g, c: i * g, "old belt vanished"),
                    (lambda f, i, g, c: f * c, "nothing new"), (lambda f, i, g, c: c + i * g, "must scale the old c"),
                    (lambda f, i, g, c: (f * c + i * g)[0], "shape (B, H) = (")],
    "lstm_step": [
        (lambda *a: lstm_variant(*a)[::-1], "return (h, c) in that order"),
        (lambda *a: lstm_variant(*a, order="ifog"), "orders the four gates i, f, g, o"),
        (lambda *a: lstm_variant(*a, order="figo"), "orders the four gates i, f, g, o"),
        (lambda *a: lstm_variant(*a, g_act=torch.sigmoid), "the candidate g takes tanh"),
        (lambda *a: lstm_variant(*a, h_tanh=False), "h = o · tanh(c): the tanh is missing"),
        (lambda *a: lstm_variant(*a, bias_hh=False), "both biases"),
        (lambda *a: lstm_variant(*a)[0], "a tuple of 2 values expected, got Tensor"),
        (lambda *a: (lstm_variant(*a)[0], lstm_variant(*a)[1] + 1),
         "value 2: the values differ from torch.nn.LSTMCell"),
    ],
    "with_forget_bias": [(lambda b, s: shift_quarter(b, s, 0), "the input gate's part"),
                         (lambda b, s: shift_quarter(b, s, 2), "the candidate's part"),
                         (lambda b, s: shift_quarter(b, s, 3), "the output gate's part"),
                         (lambda b, s: b + s, "forget gate's quarter only"),
                         (lambda b, s: b.clone(), "did not change")],
    "recall_accuracy": [(lambda p, s: acc(p, s[:, -1]).mean().item(), "FIRST letter"),
                        (lambda p, s: acc(p, s[:, 0]), "mean over the batch"),
                        (lambda p, s: acc(p, s[:, 0]).sum().item(), "that is a count")],
    "above_chance": [(lambda a, n, c: a > c, "margin of 3 standard errors"),
                     (lambda a, n, c: a <= c + 3 * math.sqrt(c * (1 - c) / n), "inverted"),
                     (lambda a, n, c: (a > c + 3 * math.sqrt(c * (1 - c) / n)).float(), "True/False (bool) values")],
    "add_forget_bias": [(lambda b, x: quarter_plus(b, x, 0), "that is the input gate"),
                        (lambda b, x: quarter_plus(b, x, 2), "that is the candidate"),
                        (lambda b, x: quarter_plus(b, x, 3), "that is the output gate"),
                        (lambda b, x: b + x, "added to every gate")],
    "forward_without_positions": [(lambda m, x: m(x), "the model with its positions"),
                                  (lambda m, x: m.head(m.blocks[0](m.tok(x))[0]) if len(m.blocks) == 1
                                   else m.head(m.blocks[1](m.blocks[0](m.tok(x))[0])[0]), "final LayerNorm"),
                                  (lambda m, x: m.head(m.ln_f(m.blocks[0](m.tok(x)))), "h, _ = block(h)")],
    "steps_to_vanish": [(lambda f, th: math.floor(math.log(th) / math.log(f)), "round up"),
                        (lambda f, th: math.ceil(math.log(f) / math.log(th)), "inverted"),
                        (lambda f, th: math.ceil(math.log(th) / math.log(f)) + 1,
                         "the values differ from multiplying")],
    "position_gradients": [(no_leaf, "leaf tensor that records its gradient"),
                           (grad_of, "norm over the last dimension"),
                           (lambda f, x: grad_of(f, x).norm(dim=-1) ** 2, "not its square"),
                           (lambda f, x: grad_of(f, x).sum(-1), "sum of squares")],
    "mha_params": [(lambda d, h: 4 * d * d, "also have biases"),
                   (lambda d, h: 3 * d * d + 3 * d, "output projection W_O"),
                   (lambda d, h: h * (4 * d * d + 4 * d), "heads split d")],
    "table1_ops": [(lambda n, d: (n * d * d, n * n * d), "swapped"),
                   (lambda n, d: (n * n, n * d * d), "dot product of length d"),
                   (lambda n, d: (n * n * d, n * d), "d² per step")],
    "causal_mask": [(lambda T: torch.ones(T, T, dtype=torch.bool).triu(), "the future is visible"),
                    (lambda T: ~torch.ones(T, T, dtype=torch.bool).tril(), "inverted"),
                    (lambda T: torch.ones(T, T, dtype=torch.bool).tril(-1), "keep the diagonal"),
                    (lambda T: torch.ones(T, T).tril(), "True/False (bool) values expected, got torch.float32")],
    "masked_softmax": [(lambda s, m: masked(s, m, 0.0), "-inf, not 0"),
                       (lambda s, m: s.softmax(-1) * m, "mask before the softmax"),
                       (lambda s, m: masked(s, ~m, float("-inf")), "kept the future"),
                       (lambda s, m: masked(s, m, float("-inf"), dim=-2), "over the last dimension")],
    "scaled_scores": [(lambda Q, K: Q @ K.mT, "divide by √d?"), (lambda Q, K: Q @ K.mT / Q.size(-1), "not by d"),
                      (lambda Q, K: K @ Q.mT / math.sqrt(Q.size(-1)), "Q·Kᵀ, not K·Qᵀ"),
                      (lambda Q, K: (Q * K).sum(-1), "shape (B, T, T) = ("),
                      (lambda Q, K: Q @ K.mT / math.sqrt(Q.size(-1)) * math.nan, "contains nan or inf"),
                      (lambda Q, K: Q @ K.mT / math.sqrt(Q.size(-1)) + 0.5, "the values differ from the scores")],
    "qkv_attention": [(lambda Q, K, V: mixed(Q, K, V, 1.0), "divide by √d?"),
                      (lambda Q, K, V: (Q @ K.mT / math.sqrt(Q.size(-1))).softmax(-1), "multiply them by V"),
                      (lambda Q, K, V: mixed(Q, K, V, math.sqrt(Q.size(-1)), dim=-2), "over the last dimension")],
    "unscaled_attention": [(lambda Q, K, V: mixed(Q, K, V, math.sqrt(Q.size(-1))), "do not divide by √d"),
                           (lambda Q, K, V: (Q @ K.mT).softmax(-1), "multiply them by V"),
                           (lambda Q, K, V: mixed(Q, K, V, 1.0, dim=-2), "over the last dimension")],
    "softmax": [(naive_softmax, "subtract each row's max"),
                (lambda x: (x - x.max(-1, keepdim=True).values).exp(), "divide each row by its sum"),
                (lambda x: torch.softmax(x, 0), "over the last dimension")],
    "split_heads": [(lambda x, h: split(x, h, "BhTd"), "view as (B, T, h, d_h)"),
                    (lambda x, h: split(x, h, "BThd"), "one more step: transpose(1, 2)")],
    "unscaled_weights": [(lambda Q, K: (Q @ K.T / Q.size(-1) ** 0.5).masked_fill(
                             ~torch.ones(len(Q), len(Q), dtype=torch.bool).tril(), float("-inf")).softmax(-1),
                          "leave the division out"),
                         (lambda Q, K: (Q @ K.T).softmax(-1), "hide the future"),
                         (lambda Q, K: (Q @ K.T).masked_fill(~torch.ones(len(Q), len(Q), dtype=torch.bool).tril(),
                                                               float("-inf")).softmax(0), "over the last dimension")],
    "greedy_tokens": [(lambda f, p, n: greedy_variant(f, p, n, row=0), "LAST position"),
                      (lambda f, p, n: greedy_variant(f, p, n)[len(p):], "prompt followed by")],
    "cross_entropy": [(lambda lg, t: F.cross_entropy(lg, t, reduction="sum"), "(mean), not the sum"),
                      (lambda lg, t: -F.cross_entropy(lg, t), "negate the log-probability"),
                      (lambda lg, t: -lg.softmax(-1)[range(len(t)), t].mean(), "log of the probabilities"),
                      (lambda lg, t: -lg[range(len(t)), t].mean(), "log-probabilities first")],
    "rnn_loop": [(lambda X, Wx, Wh: rnn_variant(X, Wx, Wh)[-1], "every step's h stacked"),
                 (lambda X, Wx, Wh: np.tanh(X @ Wx), "feed the previous h back in"),
                 (lambda X, Wx, Wh: rnn_variant(X, Wx, Wh, act=lambda z: z), "the tanh is missing"),
                 (lambda X, Wx, Wh: rnn_variant(X, Wx, Wh.T), "not W_h @ h")],
    "attention_at_once": [(lambda Q, K, V: mixed(Q, K, V, 1.0), "divide by √d?"),
                        (lambda Q, K, V: np_softmax(Q @ K.T / math.sqrt(Q.shape[-1])),
                         "multiply them by V"),
                        (lambda Q, K, V: mixed(Q, K, V, math.sqrt(Q.shape[-1]), dim=-2), "over the last dimension")],
    "attention_memory": [(lambda n, h, b, by: mem(n, h, b, by) // n, "n², not n"),
                         (lambda n, h, b, by: mem(n, h, b, by) // h, "every head has its own"),
                         (lambda n, h, b, by: mem(n, h, b, by) // b, "multiply by batch"),
                         (lambda n, h, b, by: 8 * mem(n, h, b, by), "bytes expected, not bits"),
                         (lambda n, h, b, by: mem(n, h, b, by) // by, "bytes per number")],
    "longest_sequence": [(lambda m, h, b, by: m // (h * b * by), "take the square root"),
                         (lambda m, h, b, by: math.ceil(math.sqrt(m / (h * b * by))), "round down")],
    "lstm_parameters": [(lambda d_in, d: 4 * d * (d_in + d) + 4 * d, "two bias vectors"),
                        (lambda d_in, d: 4 * d * (d_in + d), "don't forget the biases"),
                        (lambda d_in, d: d * (d_in + d) + 2 * d, "four gates"),
                        (lambda d_in, d: 4 * d * d_in + 8 * d, "the recurrent weights W_hh")],
    "perplexity": [(lambda lp, t: F.nll_loss(lp, t).item(), "mean loss"),
                   (lambda lp, t: math.exp(-F.nll_loss(lp, t).item()), "negate the log-probabilities"),
                   (lambda lp, t: math.exp(F.nll_loss(lp, t, reduction="sum").item()), "before exp, not the sum"),
                   (lambda lp, t: torch.exp(-lp.mean()), "gather")],
    "top_k_next": [(lambda lg, k: torch.topk(lg, k), "softmax first"), (topk_flipped, "largest first"),
                   (lambda lg, k: torch.topk(lg.softmax(-1), k)[::-1], "(probabilities, token ids) in that order")],
    "gated_update": [(lambda S, f, i, k, v: S + v[:, :, None] * k[:, None, :], "no gates"),
                     (lambda S, f, i, k, v: S + i[:, None, None] * v[:, :, None] * k[:, None, :], "multiply it by f"),
                     (lambda S, f, i, k, v: f[:, None, None] * S + v[:, :, None] * k[:, None, :], "input gate i"),
                     (lambda S, f, i, k, v: i[:, None, None] * S + f[:, None, None] * v[:, :, None] * k[:, None, :],
                      "swapped")],
    "forget_biases": [(lambda n, lo, hi: torch.linspace(hi, lo, n), "reversed"),
                      (lambda n, lo, hi: torch.full((n,), lo), "every head the same"),
                      (lambda n, lo, hi: lo + torch.arange(n) * (hi - lo) / n, "both ends included")],
    "causal_linear_attention": [(lambda Q, K, V: (Q @ K.transpose(1, 2)) @ V / (Q @ K.transpose(1, 2)).sum(-1, True),
                                 "the future is visible"),
                                (lambda Q, K, V: (Q @ K.transpose(1, 2)).tril() @ V, "no normaliser")],
}


def quarter_plus(b, x, q):
    """bias_ih (4H,) with x added to gate quarter q: a wrong answer of add_forget_bias."""
    H, out = len(b) // 4, b.clone()
    out[q * H:(q + 1) * H] += x
    return out


def run(fn, name, capsys):
    """check's verdict and its printed output."""
    ok = check(fn, name)
    return ok, capsys.readouterr()


def test_every_exercise_has_wrong_answers():
    assert sorted(WRONG) == sorted(EXERCISES)
    assert {ex.notebook for ex in EXERCISES.values()} == {f"{n:02d}" for n in range(1, 15)}  # every notebook has one


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_reference_passes(name, capsys):
    ok, out = run(reference(name), name, capsys)
    assert ok and out.out.startswith(f"✓ {name}: சரி!") and "passed: matches" in out.out and not out.err


def unfinished_raise(*args):
    raise NotImplementedError()


@pytest.mark.parametrize("name", sorted(EXERCISES))
@pytest.mark.parametrize("answer", [unfinished_raise, lambda *a: ..., lambda *a: None])
def test_unfinished_is_not_done_yet(name, answer, capsys):
    ok, out = run(answer, name, capsys)
    assert not ok and out.out.startswith(f"… {name}: இன்னும் முடிக்கவில்லை") and "not done yet" in out.out


CASES = [(name, k) for name in sorted(WRONG) for k in range(len(WRONG[name]))]


@pytest.mark.parametrize("name, k", CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_wrong_answer_gets_its_hint(name, k, capsys):
    fn, hint = WRONG[name][k]
    ok, out = run(fn, name, capsys)
    assert not ok and out.out.startswith(f"✗ {name}: ")
    assert hint in out.out, out.out
    assert out.out.count("\n") == 1 and not out.err  # one line


def test_every_hint_is_reached(capsys):
    said = ""
    for name, answers in WRONG.items():
        for fn, _ in answers:
            check(fn, name)
    said = capsys.readouterr().out
    for ex in EXERCISES.values():
        for _, (ta, en) in ex.hints + ex.errors:
            assert f"{ta} / {en}" in said, (ex.name, en)


def test_hints_do_not_fire_on_the_reference():
    for ex in EXERCISES.values():
        args = ex.inputs(torch.Generator().manual_seed(0))
        ref = ex.reference(*args)
        fired = [en for predicate, (_, en) in ex.hints if predicate(ref, ref, args)]
        assert not fired, (ex.name, fired)


def boom(*args):
    raise TypeError("boom")


ODD = [boom, lambda: 0, lambda *a: "text", lambda *a: {"a": 1}, lambda *a: [1, "x"], lambda *a: object(),
       lambda *a: math.nan, lambda *a: torch.zeros(0), lambda *a: np.array(["a"]), lambda *a: (1, 2, 3),
       lambda *a: torch.ones(2, 2, dtype=torch.complex64), lambda *a: iter([1]), lambda *a: 1 / 0]


@pytest.mark.parametrize("name", sorted(EXERCISES))
def test_check_never_raises(name, capsys):
    for answer in ODD:
        assert check(answer, name) is False
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(ODD) and all(line.startswith(f"✗ {name}: ") for line in lines)
    assert lines[0].endswith("your function raised TypeError: boom")
    assert "your function raised TypeError" in lines[1]  # called with the wrong number of arguments
    assert lines[-1].endswith("your function raised ZeroDivisionError: division by zero")


def test_check_names_the_exercise_by_the_function():
    def scaled_scores(Q, K):
        return Q @ K.mT
    assert check(scaled_scores, quiet=True) is False
    assert check(reference("scaled_scores")) is True


def test_same_answer_same_line(capsys):
    check(WRONG["scaled_scores"][5][0], "scaled_scores")
    check(WRONG["scaled_scores"][5][0], "scaled_scores")
    first, second = capsys.readouterr().out.splitlines()
    assert first == second and "largest difference 0.5" in first


def test_use_falls_back_to_the_reference():
    wrong = WRONG["causal_mask"][0][0]
    assert use(wrong, "causal_mask") is reference("causal_mask")
    assert use(unfinished_raise, "causal_mask") is reference("causal_mask")

    def causal_mask(T):
        return torch.ones(T, T).tril().bool()
    assert use(causal_mask) is causal_mask


def test_check_never_raises_at_the_student(capsys):
    """check answers in one line and returns False for what is not an exercise's function; use() refuses it."""
    assert check(None) is False and check(3) is False
    assert check(lambda length, t: 0.5) is False and check(lambda: 0, "nothing") is False
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "✗ check: check-க்கு ஒரு function தேவை, கிடைத்தது NoneType / check needs a function, got NoneType"
    assert out[1].endswith("check needs a function, got int")
    advice = ": define the function under the exercise's name, or pass name="
    assert out[2].endswith("no exercise is named '<lambda>'" + advice)
    assert out[3].endswith("no exercise is named 'nothing'" + advice)
    assert all("causal_mask" not in line for line in out)  # not the list of every exercise
    with pytest.raises(ValueError, match="name: unknown exercise 'nope'"):
        reference("nope")
    with pytest.raises(ValueError, match="fn: a function expected, got str"):
        use("softmax")


def test_student_cannot_change_the_reference_inputs():
    def scaled_scores(Q, K):
        Q.mul_(0)  # spoils its own copy only
        return Q @ K.mT
    assert check(scaled_scores, quiet=True) is False
    assert check(reference("scaled_scores"), quiet=True) is True


def test_the_reference_does_not_reveal_itself(capsys):
    """The passing line names what it compares with, not the code of the answer."""
    for name in EXERCISES:
        check(reference(name))
    said = capsys.readouterr().out
    for code in ("argmax", "log2", "tril", "math.sqrt", "masked_fill", "transpose", "isqrt"):
        assert code not in said, code
