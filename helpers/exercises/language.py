"""The exercises on language models, notebooks 10 and 13: greedy decoding, cross-entropy, perplexity and the
top-k next words. Each reference is declared with its random inputs and its hints (helpers.exercises.check)."""
import math

import torch
import torch.nn.functional as F

from .check import exercise, randint, randn, same


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
