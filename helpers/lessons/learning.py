"""Attention in a trained model, and a model learning: the deck's "deep dive" grid on a sentence from a
language model of the course corpus (notebook 09), and a small Transformer that learns target sentences
by heart, with its output and attention kept at chosen epochs (notebook 10)."""
from dataclasses import dataclass, field

import torch
import torch.nn as nn

from ..core.checks import check_int
from ..core.corpus import (BOS, Reproduce, Vocab, corpus_task, corpus_vocab, detokenize, lm_config, load_sentences,
                           tokenize, with_bos)
from ..core.models import ModelConfig, TransformerModel, attention, causal_mask
from ..core.timing import time_devices
from ..core.train import MAX_EPOCHS, History, TrainConfig, cache_finished, seeded, time_training_step, train

DECK_SENTENCE = "We propose a new simple network architecture, the Transformer."
TARGETS = (  # the deck's sentence (not in data/corpus), then sentences of data/corpus/train.txt
    DECK_SENTENCE,
    "The Transformer replaces recurrence with self attention.",
    "Our model uses a sparsely gated mixture of experts.",
    "Multi head attention uses several attention heads in parallel.",
    "Self attention makes the paths between positions short.",
)  # each starts with a different word, so that its first word can serve as its prompt
MAX_TOKENS = 32  # longest input (tokens, <s> included) the models of this module accept
STRONGEST_LEAST = 0.1  # DeepDive.strongest leaves out a word whose largest weight (<s> aside) is under this: noise


# ---------------------------------------------------------------------------------------------------
# Notebook 09: the attention grid of a trained language model

@dataclass
class LanguageModel:
    """A causal Transformer trained on next-word prediction over data/corpus (notebook 09)."""
    model: TransformerModel
    history: History
    vocab: Vocab


@cache_finished(maxsize=4)
def language_model(epochs=15, seed=0, device=None):
    """Train (once per arguments) a causal Transformer on data/corpus; the model comes back on the CPU (notebook 09)."""
    check_int("epochs", epochs, 1, MAX_EPOCHS)
    task = corpus_task()
    with seeded(seed):
        model = TransformerModel(lm_config(task.vocab, MAX_TOKENS))
    history = train(model, task, TrainConfig(epochs=epochs, seed=seed, device=device))
    return LanguageModel(model.cpu(), history, task.vocab)


@dataclass
class DeepDive:
    """One attention layer of a trained model, opened up on one sentence (heads and layers count from 1).
    Introduced in notebook 09."""
    tokens: list            # the input tokens, '<s>' first
    layer: int              # which block (1 = first)
    x: torch.Tensor         # the block's normalised input, (T, d)
    q: torch.Tensor         # queries per head, (H, T, d/H)
    k: torch.Tensor         # keys per head, (H, T, d/H)
    v: torch.Tensor         # values per head, (H, T, d/H)
    weights: torch.Tensor   # the model's own attention weights (causal), (H, T, T)
    output: torch.Tensor    # the attention sub-layer's output (heads joined, projected), (T, d)
    attn: nn.Module         # that layer's MultiHeadAttention (its weights Wqkv and Wo)
    lm: LanguageModel = field(repr=False)

    def grid(self, head=None):
        """(T, T) weights of `head` (1..H), or their mean over heads when None."""
        if head is None:
            return self.weights.mean(0)
        check_int("head", head, 1, len(self.weights))
        return self.weights[head - 1]

    def table(self, head=None):
        """The grid as text: percentages, one row per query token (columns cut to 5 letters), Σ per row."""
        w = self.grid(head)
        first = max(len(t) for t in self.tokens) + 1
        lines = [" " * first + "".join(f"{t[:5]:>6}" for t in self.tokens) + f"{'Σ':>7}"]
        for t, row in zip(self.tokens, w):
            cells = "".join(f"{p:>6.0%}" for p in row.tolist())
            lines.append(f"{t:<{first}}{cells}{row.sum().item():>7.2f}")
        return "\n".join(lines)

    def strongest(self, head=None, least=STRONGEST_LEAST):
        """(query, key, weight) per word from the second one on: the key it looks at most, <s> left aside; a word
        whose largest such weight is under `least` looks nowhere in particular and is left out."""
        w = self.grid(head)
        picks = [(i, int(w[i, 1:].argmax()) + 1) for i in range(2, len(self.tokens))]
        return [(self.tokens[i], self.tokens[j], w[i, j].item()) for i, j in picks if w[i, j] >= least]

    def heads(self, first=2):
        """Per head, against uniform attention over the visible keys, rows `first`..T-1: the mean entropy of a row,
        the mean weight on the word just before, on itself and on <s>, and the token given most weight on average
        (text, one line per head)."""
        w = self.weights[:, first:]                                      # (H, rows, T)
        n_keys = torch.arange(first + 1, len(self.tokens) + 1.0)         # row i sees i + 1 keys
        uniform = n_keys.log().mean().item()                             # a uniform row's entropy: ln(i + 1)
        share = (1 / n_keys).mean().item()                               # ... and its weight on any one key
        rows = torch.arange(first, len(self.tokens))
        lines = [f"uniform attention: entropy {uniform:.2f} nats per row, {share:.0%} on each of before / itself / <s>"]
        for h, (ent, row) in enumerate(zip(row_entropy(w), w), start=1):
            lines.append(f"head {h}: entropy {ent.mean():.2f} nats ({ent.mean() / uniform:.0%} of uniform); "
                         f"{row[rows - first, rows - 1].mean():.0%} before, "
                         f"{row[rows - first, rows].mean():.0%} itself, "
                         f"{row[:, 0].mean():.0%} <s>; most on {self.tokens[int(row.mean(0).argmax())]!r} "
                         f"({row.mean(0).max():.0%})")
        return "\n".join(lines)

    def summary(self, head=None, table=True):
        """The table (unless `table` is False: a heatmap beside it shows the same grid), then the key each word looks
        at most."""
        which = f"head {head}" if head else "mean of the heads"
        lines = [f"Layer {self.layer}, {which}, language model trained {self.lm.history.epochs} epochs on data/corpus",
                 *([self.table(head)] if table else []), f"Where each word looks most (<s> left aside; words whose "
                 f"most is under {STRONGEST_LEAST:.0%} left out):"]
        lines += [f"  {q!r} gives {w:.0%} to {k!r}" for q, k, w in self.strongest(head)]
        return "\n".join(lines)


def row_entropy(weights):
    """Entropy in nats of each row of attention weights (..., T): -Σ p ln p, with 0 ln 0 = 0 (notebook 09)."""
    return -(weights * weights.clamp_min(1e-30).log()).sum(-1)


def sentence_of_length(length):
    """A sentence of `length` tokens for the grid: the deck's at its own length, else the first sentence of
    heldout.txt (never trained on) with that many tokens, or the longest one shorter when none has (notebook 09)."""
    held = load_sentences("heldout")
    shortest, longest = min(map(len, held)), max(map(len, held))
    check_int("length", length, shortest, longest)
    if length == len(tokenize(DECK_SENTENCE)):
        return DECK_SENTENCE
    n = max(len(s) for s in held if len(s) <= length)
    return detokenize(next(s for s in held if len(s) == n))


def deep_dive(sentence=DECK_SENTENCE, length=None, epochs=15, layer=2, seed=0, device=None):
    """Block `layer` of the corpus language model opened up on '<s>' + the first `length` tokens of `sentence`.
    Introduced in notebook 09."""
    words = tokenize(sentence)
    length = len(words) if length is None else check_int("length", length, 1, len(words))
    check_int("layer", layer, 1, ModelConfig.n_layers)
    ids = with_bos(corpus_vocab(), words[:length])[None]  # (1, T); unknown words raise here, before training
    lm = language_model(epochs, seed, device)
    mask = causal_mask(ids.size(1))
    with torch.no_grad():
        h = lm.model.embed(ids)  # (1, T, d)
        for block in lm.model.blocks[:layer - 1]:
            h, _ = block(h, mask)
        block = lm.model.blocks[layer - 1]
        x = block.ln1(h)  # (1, T, d)
        d, H = x.size(-1), block.attn.n_heads
        q, k, v = (t.view(-1, H, d // H).transpose(0, 1) for t in block.attn.qkv(x[0]).split(d, dim=-1))  # (H, T, d/H)
        output, weights = block.attn(x, mask)
    return DeepDive(["<s>"] + words[:length], layer, x[0], q, k, v, weights[0], output[0], block.attn, lm)


def torch_mha(attn):
    """A torch.nn.MultiheadAttention holding the weights of the course's MultiHeadAttention `attn` (notebook 09)."""
    d = attn.proj.in_features
    mha = nn.MultiheadAttention(d, attn.n_heads, batch_first=True)
    with torch.no_grad():  # both keep Wq, Wk, Wv stacked in one (3d, d) matrix, in that order
        mha.in_proj_weight.copy_(attn.qkv.weight)
        mha.in_proj_bias.copy_(attn.qkv.bias)
        mha.out_proj.weight.copy_(attn.proj.weight)
        mha.out_proj.bias.copy_(attn.proj.bias)
    return mha.eval()


def time_attention(length, heads=4, d_head=16, batch=1, causal=True, repeats=5):
    """Median time of one scratch attention (softmax(QKᵀ/√d)·V) at `length` on the CPU and the GPU (notebook 09)."""
    check_int("length", length, 1, 16384)

    def make_work(device):
        gen = torch.Generator().manual_seed(0)
        q, k, v = (torch.randn(batch, heads, length, d_head, generator=gen).to(device)  # (B, H, T, dh) each
                   for _ in range(3))
        mask = causal_mask(length, device) if causal else None
        return lambda: attention(q, k, v, mask)
    return time_devices(make_work, f"attention, {heads} heads of {d_head}, length {length}", repeats=repeats, warmup=1)


# ---------------------------------------------------------------------------------------------------
# Notebook 10: a small Transformer learns target sentences by heart


@torch.no_grad()
def greedy_decode(model, prompts, n_new):
    """Extend `prompts` (N, P) by `n_new` tokens, each the most likely next one: (N, P + n_new) (notebook 10)."""
    ids = prompts
    for _ in range(n_new):
        nxt = model(ids)[:, -1].argmax(-1, keepdim=True)  # (N, 1)
        ids = torch.cat([ids, nxt], dim=1)                 # (N, P + i + 1)
    return ids


def snapshot_epochs(epochs, n=5):
    """`n` evenly spaced epochs from 0 to `epochs` (fewer when epochs < n - 1) (notebook 10)."""
    return tuple(sorted({round(i * epochs / (n - 1)) for i in range(n)}))


@dataclass
class TrainingDemo:
    """What the model wrote, and where it looked, at the chosen epochs of learning its targets (notebook 10)."""
    targets: list       # target texts, cut to `length` tokens
    prompts: list       # the first word of each: the model is given it and writes the rest
    length: int         # tokens per target
    outputs: dict       # epoch -> the model's text for each target
    right: dict         # epoch -> words written right (same word at the same place), per target
    attention: dict     # epoch -> every layer's weights on the first target, (L, H, T, T)
    tokens: list        # the first target's input tokens, '<s>' first
    history: History    # test_loss / test_acc on the targets at epochs 0..E
    params: int         # the model's parameter count
    model: TransformerModel = field(repr=False)

    @property
    def epochs(self):
        """Epochs trained."""
        return self.history.epochs

    @property
    def final(self):
        """The model's texts after the last epoch."""
        return self.outputs[max(self.outputs)]

    @property
    def first_perfect(self):
        """First epoch at which every word of every target comes out right, or None."""
        return next((e for e, acc in enumerate(self.history.test_acc) if acc == 1.0), None)

    def focus(self, layer=1):
        """Epoch -> how sharply layer `layer` looks: each head's largest weight per row, averaged (row <s> left out)."""
        return {e: w[layer - 1, :, 1:].max(-1).values.mean().item() for e, w in self.attention.items()}

    def table(self):
        """Epoch by epoch: loss on the targets, words right in the greedy writing (the same word at the same place),
        and the text written for each target."""
        total = sum(len(tokenize(t)) - 1 for t in self.targets)
        lines = []
        for epoch, texts in self.outputs.items():
            lines.append(f"epoch {epoch:>4}  loss {self.history.test_loss[epoch]:5.2f}  "
                         f"words right (greedy) {sum(self.right[epoch]):>2}/{total}")
            lines += [f"    {p!r} -> {t}" for p, t in zip(self.prompts, texts)]
        return "\n".join(lines)

    def summary(self):
        """The table, then the verdict against the targets."""
        done = self.first_perfect
        verdict = (f"every word right (teacher forced) from epoch {done} on" if done is not None
                   else "not every word right yet")
        exact = sum(o == t for o, t in zip(self.final, self.targets))
        return (f"{len(self.targets)} target(s) of up to {self.length} tokens, {self.epochs} epochs, "
                f"{self.params:,} parameters\n{self.table()}\n"
                f"{exact}/{len(self.targets)} targets reproduced exactly at epoch {self.epochs}; {verdict}")


def training_demo(epochs=60, length=11, n_sentences=3, show_epochs=None, targets=TARGETS, seed=0,
                  device=None, lr=1e-3, progress=False):
    """Teach a fresh causal Transformer `n_sentences` targets; keep its writing and attention at `show_epochs`.
    Introduced in notebook 10."""
    check_int("epochs", epochs, 1, MAX_EPOCHS)
    check_int("length", length, 2, MAX_TOKENS - 1)
    check_int("n_sentences", n_sentences, 1, len(targets))
    show = snapshot_epochs(epochs) if show_epochs is None else tuple(sorted(set(show_epochs)))
    for e in show:
        check_int("show_epochs item", e, 0, epochs)
    vocab = corpus_vocab()
    words = [tokenize(t)[:length] for t in targets[:n_sentences]]
    if len({w[0] for w in words}) < len(words):
        raise ValueError("targets must start with different words (the first word is each one's prompt)")
    task = Reproduce(words, words, vocab, batch_size=len(words))
    prompts = torch.stack([with_bos(vocab, w[:1]) for w in words])  # (N, 2): <s> and the first word
    first = task.test_x[:1, :len(words[0])]                          # (1, T): the first target's input
    n_new = max(len(w) for w in words) - 1
    outputs, right, attn = {}, {}, {}

    def snapshot(epoch, model):
        if epoch not in show:
            return
        where = next(model.parameters()).device
        ids = greedy_decode(model, prompts.to(where), n_new).cpu()  # (N, 2 + n_new)
        texts = [ids[i, 1:len(w) + 1] for i, w in enumerate(words)]
        outputs[epoch] = [vocab.decode(t) for t in texts]
        right[epoch] = [sum(a == b for a, b in zip(t[1:].tolist(), vocab.encode(w[1:]).tolist()))
                        for t, w in zip(texts, words)]
        with torch.no_grad():
            _, weights = model(first.to(where), return_attention=True)
        attn[epoch] = torch.stack([w[0] for w in weights]).cpu()  # (L, H, T, T)

    with seeded(seed):
        model = TransformerModel(lm_config(vocab, MAX_TOKENS))
    history = train(model, task, TrainConfig(epochs=epochs, lr=lr, seed=seed, device=device, progress=progress),
                    callback=snapshot)
    shown_targets = [vocab.decode(vocab.encode(w)) for w in words]
    return TrainingDemo(shown_targets, [w[0] for w in words], length, outputs, right, attn,
                        [BOS] + words[0][:-1], history, model.n_params(), model.cpu())


def time_demo_step(length=11, n_sentences=3, targets=TARGETS, repeats=5):
    """Median time of one training step of the demo (forward, backward, Adam) on the CPU and the GPU (notebook 10)."""
    check_int("length", length, 2, MAX_TOKENS - 1)
    check_int("n_sentences", n_sentences, 1, len(targets))
    vocab = corpus_vocab()
    words = [tokenize(t)[:length] for t in targets[:n_sentences]]
    task = Reproduce(words, words, vocab, batch_size=len(words))

    return time_training_step(lambda: TransformerModel(lm_config(vocab, MAX_TOKENS)), task,
                              (task.train_x, task.train_y),
                              f"one training step: {n_sentences} target(s) of {length} tokens", repeats)


