"""Fair selection for the generative showdown (notebook 13): heldout.txt split into a validation part, which picks
each model's epoch, and a test part, used only for the reported perplexity; each model trained to its best validation
epoch over several seeds; a paired bootstrap over the test sentences for the intervals."""
import math
import statistics
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..core.checks import check_int
from ..core.corpus import corpus_task, lm_config
from ..core.models import build_model
from ..core.timing import pick_device
from ..core.train import MAX_EPOCHS, cache_finished, evaluate, seeded, side_by_side, train_epoch
from .amnesia import NAMES

LM_KINDS = ("lstm", "transformer")  # the two contestants: the model kinds of the language models
VALIDATION = slice(0, None, 2)      # heldout.txt's lines 1, 3, 5, ...: they pick the epoch (early stopping)
TEST = slice(1, None, 2)            # its lines 2, 4, 6, ...: only reported, never used for a choice
RESAMPLES = 2000                    # bootstrap resamples of the test sentences


def split_task(batch_size=32):
    """corpus_task whose held-out set is heldout.txt's validation part; the test part comes back beside it as
    (x, y), (N_test, T) each, padded to the same length (notebook 13)."""
    task = corpus_task(batch_size)
    test = task.test_x[TEST], task.test_y[TEST]
    task.test_x, task.test_y = task.test_x[VALIDATION], task.test_y[VALIDATION]
    return task, test


@torch.no_grad()
def sentence_losses(model, x, y):
    """−log p of each sentence's tokens, summed per sentence, (N,) float64, for inputs and targets (N, T); padding
    counts nothing (notebook 13)."""
    was_training = model.training
    model.eval()
    logits = model(x.to(next(model.parameters()).device)).float().cpu()  # (N, T, V)
    model.train(was_training)
    nll = F.cross_entropy(logits.transpose(1, 2), y, ignore_index=0, reduction="none")  # (N, T), 0 at padding
    return nll.sum(1).double()


def unigram_sentence_losses(task, y):
    """−log p(word) summed per sentence (N,) under the unigram of the task's training targets, for targets (N, T)
    (notebook 13)."""
    counts = torch.bincount(task.train_y[task.train_y != 0], minlength=len(task.vocab)).double()  # (V,)
    nll = -(counts / counts.sum()).log()[y]  # (N, T)
    return nll.masked_fill(y == 0, 0).sum(1)


def bootstrap_perplexity(nll, tokens, resamples=RESAMPLES, seed=0):
    """Perplexity exp(Σ nll / Σ tokens) of each row of nll (M, N) on `resamples` resamples of the N sentences drawn
    with replacement, paired: one draw of sentences serves every row. Returns (M, resamples) (notebook 13)."""
    check_int("resamples", resamples, 1, 100_000)
    check_int("seed", seed, 0, 2**31 - 1)
    nll, tokens = torch.as_tensor(nll, dtype=torch.float64), torch.as_tensor(tokens, dtype=torch.float64)
    if nll.ndim != 2 or nll.shape[1] != len(tokens) or len(tokens) < 2:
        raise ValueError(f"nll must be (models, sentences) with one column per sentence of tokens ({len(tokens)}, "
                         f"at least 2), got shape {tuple(nll.shape)}")
    gen = torch.Generator().manual_seed(seed)
    idx = torch.randint(len(tokens), (resamples, len(tokens)), generator=gen)  # (R, N): sentence numbers
    return torch.exp(nll[:, idx].sum(-1) / tokens[idx].sum(-1))  # (M, R)


def interval(samples, level=0.95):
    """The central `level` percentile interval (low, high) of bootstrap samples (R,) (notebook 13)."""
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    samples = torch.as_tensor(samples, dtype=torch.float64)
    low, high = torch.quantile(samples, torch.tensor([(1 - level) / 2, (1 + level) / 2], dtype=torch.float64))
    return low.item(), high.item()


def train_to_best(kind, seed=0, max_epochs=80, patience=5, lr=3e-3, device=None):
    """Train `kind` until `patience` epochs in a row bring no lower validation loss (at most `max_epochs`), then
    measure the weights of its best validation epoch on the test sentences (notebook 13)."""
    check_int("max_epochs", max_epochs, 1, MAX_EPOCHS)
    check_int("patience", patience, 1, MAX_EPOCHS)
    if kind not in LM_KINDS:
        raise ValueError(f"kind must be one of {list(LM_KINDS)}, got {kind!r}")
    task, test = split_task()
    with seeded(seed) as gen:  # the same initial weights and batch order as train_language_models
        model = build_model(kind, lm_config(task.vocab, task.max_len))
    where = pick_device(device)
    model.to(where)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = [evaluate(model, task, where)[0]]  # validation loss at epoch 0
    best = {k: v.detach().clone() for k, v in model.state_dict().items()}
    start = time.perf_counter()
    while len(losses) <= max_epochs and len(losses) - 1 - int(np.argmin(losses)) < patience:
        train_epoch(model, task, opt, gen, where)
        losses.append(evaluate(model, task, where)[0])
        if losses[-1] < min(losses[:-1]):
            best = {k: v.detach().clone() for k, v in model.state_dict().items()}
    model.load_state_dict(best)  # the chosen epoch's weights: only now are the test sentences read
    return {"kind": kind, "seed": seed, "val_loss": losses, "best_epoch": int(np.argmin(losses)),
            "test_nll": sentence_losses(model, *test).tolist(), "seconds": time.perf_counter() - start}


@dataclass
class PerplexityReport:
    """Each model's test perplexity with its bootstrap interval, and the paired gap between the two (notebook 13)."""
    sentences: int       # test sentences
    tokens: int          # test tokens
    resamples: int
    perplexity: dict     # name -> (perplexity, low, high)
    difference: tuple    # Transformer − LSTM perplexity: (value, low, high)
    ratio: tuple         # Transformer / LSTM perplexity: (value, low, high)

    @property
    def gap_holds(self):
        """Whether the 95% interval of the difference leaves out 0 (and the ratio's leaves out 1)."""
        return not self.difference[1] <= 0 <= self.difference[2]

    def summary(self):
        """One line per model, then the difference and the ratio, each with its interval."""
        lines = [f"Test perplexity on {self.sentences} sentences ({self.tokens} tokens) never used for a choice; "
                 f"95% interval from {self.resamples:,} bootstrap resamples of those sentences"]
        rows = [*self.perplexity.items(), ("Transformer − LSTM", self.difference), ("Transformer / LSTM", self.ratio)]
        lines += [f"  {name:<19} {v:6.2f}   [{lo:6.2f}, {hi:6.2f}]" for name, (v, lo, hi) in rows]
        return "\n".join(lines)


@dataclass
class BestEpochs:
    """Each kind trained to its best validation epoch for each seed, measured on the test sentences (notebook 13)."""
    runs: list          # train_to_best's dicts
    max_epochs: int
    patience: int
    seconds: float      # wall time of the whole study
    tokens: list        # tokens of each test sentence
    unigram_nll: list   # the unigram baseline's −log p of each test sentence
    validation: tuple = (0, 0)  # (sentences, tokens) of the validation part

    def _of(self, kind, key):
        return [r[key] for r in self.runs if r["kind"] == kind]

    def best_epochs(self, kind):
        """The epoch of lowest validation loss, one per seed."""
        return self._of(kind, "best_epoch")

    def validation_perplexities(self, kind):
        """Validation perplexity at the chosen epoch, one per seed (the figure that chose it: optimistic)."""
        return [math.exp(min(losses)) for losses in self._of(kind, "val_loss")]

    def test_perplexities(self, kind):
        """Test perplexity at the chosen epoch, one per seed."""
        return [math.exp(sum(nll) / sum(self.tokens)) for nll in self._of(kind, "test_nll")]

    def test_nll(self, kind):
        """−log p of each test sentence, mean over the seeds (N,)."""
        return torch.tensor(self._of(kind, "test_nll"), dtype=torch.float64).mean(0)

    def test_report(self, resamples=RESAMPLES, seed=0):
        """Each model's test perplexity (loss averaged over the seeds), paired bootstrap intervals (notebook 13)."""
        names = ["unigram baseline"] + [NAMES[k] for k in LM_KINDS]
        nll = torch.stack([torch.tensor(self.unigram_nll, dtype=torch.float64)] + [self.test_nll(k) for k in LM_KINDS])
        tokens = torch.tensor(self.tokens, dtype=torch.float64)
        point = torch.exp(nll.sum(1) / tokens.sum())  # (3,)
        boot = bootstrap_perplexity(nll, tokens, resamples, seed)  # (3, R), paired
        gap = {"difference": (point[2] - point[1], boot[2] - boot[1]),  # Transformer − LSTM, per resample
               "ratio": (point[2] / point[1], boot[2] / boot[1])}
        return PerplexityReport(len(self.tokens), int(tokens.sum()), resamples,
                          {n: (point[i].item(), *interval(boot[i])) for i, n in enumerate(names)},
                          **{k: (v.item(), *interval(s)) for k, (v, s) in gap.items()})

    def summary(self):
        """Per kind: the chosen epochs, validation and test perplexity per seed (mean and range)."""
        seeds = sorted({r["seed"] for r in self.runs})
        lines = [f"Each model at its best validation epoch (training stops after {self.patience} epochs without a "
                 f"lower validation loss, at most {self.max_epochs}); seeds {', '.join(map(str, seeds))}",
                 f"validation: {self.validation[0]} sentences, {self.validation[1]} tokens (they pick the epoch); "
                 f"test: {len(self.tokens)} sentences, {sum(self.tokens)} tokens (only reported)"]
        for kind in LM_KINDS:
            if self.best_epochs(kind):
                lines.append(f"{NAMES[kind]:<12} epochs {', '.join(map(str, self.best_epochs(kind)))}: " + "; ".join(
                    f"{part} perplexity {statistics.mean(p):5.2f} (range {min(p):.2f} to {max(p):.2f})" for part, p in
                    [("validation", self.validation_perplexities(kind)), ("test", self.test_perplexities(kind))]))
        return "\n".join(lines)


def best_epoch_study(seeds=(0, 1, 2), max_epochs=80, patience=5, device=None, workers=2):
    """train_to_best for both kinds and every seed, `workers` trainings at once; the unigram on the same test
    sentences (notebook 13)."""
    start = time.perf_counter()
    jobs = [(kind, seed) for seed in seeds for kind in LM_KINDS]
    runs = side_by_side(lambda job: train_to_best(job[0], job[1], max_epochs, patience, device=device), jobs, workers)
    task, (_, test_y) = split_task()
    return BestEpochs(runs, max_epochs, patience, time.perf_counter() - start, (test_y != 0).sum(1).tolist(),
                      unigram_sentence_losses(task, test_y).tolist(),
                      (len(task.test_y), int((task.test_y != 0).sum())))


cached_best_epoch_study = cache_finished(maxsize=2)(best_epoch_study)
