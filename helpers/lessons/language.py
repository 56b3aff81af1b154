"""The generative showdown: an LSTM and a Transformer language model trained on data/corpus with the same
budget, their validation perplexity against a unigram baseline, and word-by-word generation with the top
candidates, a temperature and a fixed seed (notebook 13). The fair comparison (each model at its best validation
epoch, reported on test sentences) is in helpers.lessons.selection; the figures and panel are in helpers.view."""
import functools
import math
import re
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from ..core.checks import check_int
from ..core.corpus import BOS, corpus_task, detokenize, lm_config, load_sentences, tokenize
from ..core.models import build_model
from ..core.train import MAX_EPOCHS, TrainConfig, cache_finished, time_training_step, train_kinds
from .amnesia import NAMES
from .selection import (LM_KINDS, BestEpochs, best_epoch_study, cached_best_epoch_study,  # noqa: F401 (re-exported)
                        split_task, train_to_best)
PROMPT = "We propose a"          # the deck's prompt
TOP_K = 5                        # candidates shown per step
MAX_TEMPERATURE = 5.0            # the hottest sampling allowed


@dataclass
class LanguageModels:
    """Both language models after the same training budget, and what it measured (notebook 13)."""
    epochs: int
    seed: int
    task: object                                     # the NextWord task; its held-out set is the validation part
    unigram: float                                   # validation perplexity of the unigram baseline
    models: dict = field(default_factory=dict)       # kind -> trained model (on the CPU, eval mode)
    history: dict = field(default_factory=dict)      # kind -> History (loss and accuracy per epoch, on validation)
    perplexity: dict = field(default_factory=dict)   # kind -> validation perplexity after the last epoch
    params: dict = field(default_factory=dict)       # kind -> parameter count
    seconds: dict = field(default_factory=dict)      # kind -> training time in seconds

    @property
    def vocab(self):
        """The corpus vocabulary shared by both models."""
        return self.task.vocab

    def best_epoch(self, kind):
        """The epoch whose validation loss was lowest (0 = before training)."""
        return int(np.argmin(self.history[kind].test_loss))

    def summary(self):
        """Validation perplexity of each model beside the unigram baseline (times left out: they vary)."""
        lines = [f"Validation perplexity after {self.epochs} epochs (lower is better; "
                 f"{len(self.task.test_y.nonzero())} validation tokens, vocabulary {len(self.vocab)})",
                 f"{'unigram baseline':<17} {'':>15} {self.unigram:>7.1f}"]
        for kind in self.models:
            best = self.best_epoch(kind)
            lines.append(f"{NAMES[kind]:<17} {self.params[kind]:>8,} params {self.perplexity[kind]:>7.1f}"
                         f"   (lowest {math.exp(self.history[kind].test_loss[best]):.1f} at epoch {best})")
        return "\n".join(lines)


def unigram_perplexity(task):
    """Held-out perplexity of p(word) = its share of the training targets, on the held-out tokens the models predict.
    Introduced in notebook 13."""
    train_y, test_y = task.train_y[task.train_y != 0], task.test_y[task.test_y != 0]  # padding is not a token
    counts = torch.bincount(train_y, minlength=len(task.vocab)).double()  # (V,)
    p = counts / counts.sum()
    return math.exp(-p[test_y].log().mean().item())


def train_language_models(epochs=20, seed=0, lr=3e-3, device=None, kinds=LM_KINDS, progress=False):
    """Train each kind on data/corpus with the same epochs, learning rate, seed and batches, measured per epoch on
    the validation part of heldout.txt (notebook 13)."""
    check_int("epochs", epochs, 1, MAX_EPOCHS)
    check_int("seed", seed, 0, 2**31 - 1)
    for kind in kinds:
        if kind not in LM_KINDS:
            raise ValueError(f"kinds must be drawn from {list(LM_KINDS)}, got {kind!r}")
    task, _ = split_task()  # the test part stays unread here
    result = LanguageModels(epochs, seed, task, unigram_perplexity(task))
    cfg = TrainConfig(epochs=epochs, lr=lr, seed=seed, device=device, progress=progress)
    trained = train_kinds(lambda kind: build_model(kind, lm_config(task.vocab, task.max_len)), kinds, task, cfg)
    for kind, (model, hist) in trained.items():
        result.models[kind] = model
        result.history[kind] = hist
        result.perplexity[kind] = math.exp(hist.test_loss[-1])
        result.params[kind] = model.n_params()
        result.seconds[kind] = hist.seconds
    return result


@cache_finished(maxsize=4)
def cached_language_models(epochs=20, seed=0, device=None):
    """train_language_models, remembered per (epochs, seed, device): prompt or temperature changes reuse it.
    Introduced in notebook 13."""
    return train_language_models(epochs=epochs, seed=seed, device=device)


def prompt_ids(vocab, prompt, max_len):
    """Ids of <s> + the prompt's words; ValueError with a clear message for text the models cannot read.
    Introduced in notebook 13."""
    if not isinstance(prompt, str):
        raise ValueError(f"prompt must be a text, got {prompt!r}")
    odd = sorted(set(re.sub(r"[A-Za-z.,\s]", "", prompt)))
    if odd:
        raise ValueError(f"prompt may hold only letters, ',' and '.', got {''.join(odd)!r}")
    words = tokenize(prompt)
    if not 1 <= len(words) < max_len:
        raise ValueError(f"prompt must hold from 1 to {max_len - 1} words, got {len(words)}")
    try:
        ids = vocab.encode(words)
    except ValueError as err:
        raise ValueError(f"{err}. The models know only the {len(vocab) - 2} words of data/corpus/train.txt, "
                         f"e.g. {PROMPT!r}") from None
    return [vocab.stoi[BOS]] + ids.tolist()


@dataclass
class Step:
    """One generation step: the words read, the top candidates with their probabilities, the word chosen.
    Introduced in notebook 13."""
    context: str  # prompt and words generated so far
    top: list     # [(word, probability)], most likely first
    word: str     # the word chosen (drawn, or the most likely at temperature 0)
    prob: float   # its probability


@torch.no_grad()
def next_word_probs(model, ids, temperature=1.0):
    """Probabilities (V,) of the word after `ids`: softmax(logits / temperature), never padding or <s> (notebook 13)."""
    device = next(model.parameters()).device
    logits = model(torch.tensor([ids], device=device))[0, -1].float().cpu()  # (V,): scores for the next word
    logits[:2] = float("-inf")  # ids 0 and 1 (<pad> and <s>) are not words to write
    return F.softmax(logits / (temperature or 1.0), dim=-1)


def check_generation(steps, temperature, seed):
    """Raise ValueError unless steps, temperature and seed are in their ranges (notebook 13)."""
    check_int("steps", steps, 1, 1000)
    check_int("seed", seed, 0, 2**31 - 1)
    is_number = isinstance(temperature, (int, float)) and not isinstance(temperature, bool)
    if not is_number or not 0 <= temperature <= MAX_TEMPERATURE:
        raise ValueError(f"temperature must be a number from 0 to {MAX_TEMPERATURE}, got {temperature!r}")


def generate(model, vocab, prompt=PROMPT, steps=15, temperature=0.0, seed=0, top_k=TOP_K, past_full_stop=False):
    """Up to `steps` words after `prompt`: greedy at temperature 0, else a seeded draw. Writing stops after '.' or at a
    full context; with `past_full_stop` it goes on to exactly `steps` words instead, each new sentence starting from <s>
    alone, as every training sentence did (the model remembers nothing of the sentence before). Introduced in
    notebook 13."""
    check_generation(steps, temperature, seed)
    check_int("top_k", top_k, 1, len(vocab) - 2)
    max_len = model.cfg.max_len
    ids = prompt_ids(vocab, prompt, max_len)
    gen = torch.Generator().manual_seed(seed)
    model.eval()
    out = []
    while len(out) < steps:
        if len(ids) > max_len or (out and out[-1].word == "."):
            if not past_full_stop:
                break
            ids = [vocab.stoi[BOS]]  # a new sentence: <s> alone
        probs = next_word_probs(model, ids, temperature)
        top = probs.topk(top_k)
        if temperature > 0:
            word = torch.multinomial(probs, 1, generator=gen).item()
        else:
            word = top.indices[0].item()
        out.append(Step(vocab.decode(torch.tensor(ids[1:])),
                        [(vocab.itos[i], p) for i, p in zip(top.indices.tolist(), top.values.tolist())],
                        vocab.itos[word], probs[word].item()))
        ids.append(word)
    return out


@functools.lru_cache(maxsize=1)
def training_sentences():
    """The sentences of train.txt as token tuples, to tell a recited sentence from a new one (notebook 13)."""
    return frozenset(tuple(s) for s in load_sentences("train"))


def recited(text):
    """Whether `text` is, word for word, a sentence of train.txt (notebook 13)."""
    return tuple(tokenize(text)) in training_sentences()


def completion(steps):
    """The whole text: the first context and every word chosen (notebook 13)."""
    return detokenize([steps[0].context] + [s.word for s in steps])


def sentences(steps):
    """The text of `steps` cut into its sentences, each ending at its '.' (the last may be unfinished) (notebook 13)."""
    *finished, rest = completion(steps).split(".")
    return [s.strip() + "." for s in finished] + ([] if steps[-1].word == "." else [rest.strip()])


def generation_table(runs, width=26, first=None):
    """Text table of {name: [Step]}: per step each model's context, then its top candidates rank by rank (only the
    `first` steps when given), then the sentences written. Introduced in notebook 13."""
    names = list(runs)
    if first is not None:
        check_int("first", first, 1, 10_000)
    lines = ["      " + "  ".join(f"{name:<{width}}" for name in names).rstrip()]
    n_steps = max(len(r) for r in runs.values())
    for t in range(n_steps if first is None else min(first, n_steps)):
        lines.append(f"step {t + 1}")
        for name in names:
            if t < len(runs[name]):
                lines.append(f"  {name:<12} reads: {runs[name][t].context or '<s> (a new sentence)'}")
        for rank in range(max(len(r[t].top) for r in runs.values() if t < len(r))):
            cells = []
            for name in names:
                step = runs[name][t] if t < len(runs[name]) else None
                if step is None or rank >= len(step.top):
                    cells.append(" " * width)
                    continue
                word, p = step.top[rank]
                cells.append(f"{word:<15}{p:5.2f}{' <-' if word == step.word else '':<{width - 20}}")
            lines.append(f"  {rank + 1:>2}  " + "  ".join(cells).rstrip())
        for name in names:
            step = runs[name][t] if t < len(runs[name]) else None
            if step and step.word not in [w for w, _ in step.top]:
                lines.append(f"      {name} drew {step.word!r} (p = {step.prob:.2f}), outside its top {len(step.top)}")
    if first is not None and first < n_steps:
        lines.append(f"steps {first + 1} to {n_steps}: in the panel's third figure")
    lines.append("")
    for name, r in runs.items():
        for i, text in enumerate(sentences(r)):
            done = "" if text.endswith(".") else "unfinished, "
            lines.append(f"{name + ':' if i == 0 else '':<13} {text}  "
                         f"({done}{'recited from' if recited(text) else 'not in'} train.txt)")
    finished = {name: [t for t in sentences(r) if t.endswith(".")] for name, r in runs.items()}
    if any(len(f) > 1 for f in finished.values()):
        lines.append("finished sentences recited from train.txt: " + ", ".join(
            f"{name} {sum(map(recited, f))} of {len(f)}" for name, f in finished.items()))
    return "\n".join(lines)


@torch.no_grad()
def sentence_attention(model, vocab, text, layer=-1):
    """The Transformer's attention (T, T), mean over heads, reading <s> + `text` (cut to its context size).
    Introduced in notebook 13."""
    ids = ([vocab.stoi[BOS]] + vocab.encode(text).tolist())[:model.cfg.max_len]
    x = torch.tensor([ids], device=next(model.parameters()).device)  # (1, T)
    _, weights = model(x, return_attention=True)
    labels = [vocab.itos[i] for i in ids]
    return weights[layer][0].mean(0).cpu(), labels  # (T, T) from (B, H, T, T)


def time_lm_step(kind="transformer", batch_size=32, repeats=5):
    """Median time of one language-model training step (forward, backward, Adam) on the CPU and the GPU.
    Introduced in notebook 13."""
    check_int("batch_size", batch_size, 1, 4096)
    if kind not in LM_KINDS:
        raise ValueError(f"kind must be one of {list(LM_KINDS)}, got {kind!r}")
    task = corpus_task(batch_size=batch_size)

    batch = (task.train_x[:batch_size], task.train_y[:batch_size])  # (B, T) each
    return time_training_step(lambda: build_model(kind, lm_config(task.vocab, task.max_len)), task, batch,
                               f"one training step of the {NAMES[kind]} language model, "
                               f"batch {batch_size}, length {task.max_len}", repeats)


@dataclass
class Showdown:
    """One showdown: the trained models and what each wrote from the prompt (notebook 13)."""
    lms: LanguageModels
    prompt: str
    temperature: float
    seed: int
    runs: dict = field(default_factory=dict)  # display name -> [Step]

    def summary(self):
        """Perplexities, then the word-by-word table."""
        head = f"Prompt {self.prompt!r}, temperature {self.temperature:g}, seed {self.seed}"
        return "\n".join([self.lms.summary(), "", head, generation_table(self.runs)])


def showdown(prompt=PROMPT, steps=15, epochs=20, temperature=0.0, seed=0, device=None):
    """Train (or reuse) both models, then let each write from the same prompt with the same seed (notebook 13)."""
    check_int("epochs", epochs, 1, MAX_EPOCHS)
    check_generation(steps, temperature, seed)
    task = corpus_task()
    prompt_ids(task.vocab, prompt, task.max_len)  # refuse a bad prompt before any training
    lms = cached_language_models(epochs, seed, device)
    result = Showdown(lms, prompt, temperature, seed)
    for kind, model in lms.models.items():
        result.runs[NAMES[kind]] = generate(model, lms.vocab, prompt, steps, temperature, seed, past_full_stop=True)
    return result


@functools.cache
def _step_seconds(kind):
    """One language-model training step of `kind` on the CPU, timed once per session (the panel's estimate)."""
    return time_lm_step(kind, repeats=1).median("cpu")


def estimate_seconds(length=15, epochs=20, timer=None):
    """About how long the showdown panel's run takes at most on the CPU: each model's training steps (one step of
    each timed by `timer(kind)`, default time_lm_step's CPU median) times the epochs' batches, plus a third for the
    per-epoch evaluation; writing `length` words costs little beside it (notebook 13)."""
    check_int("length", length, 1, 1000)
    check_int("epochs", epochs, 1, 1000)
    timer = timer or _step_seconds
    task = corpus_task()
    batches = math.ceil(len(task.train_x) / 32)
    return sum(timer(kind) for kind in LM_KINDS) * epochs * batches * 4 / 3
