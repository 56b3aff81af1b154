"""Associative recall (notebook 14): k key-value pairs, then one of the keys; the answer is its value. A fixed state
must hold all k pairs at once; a key-value cache holds them by growing. Same interface as tasks.LetterRecall."""
import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from .checks import check_int


@dataclass(frozen=True)
class AssocConfig:
    """Associative recall: pairs per string, key and value alphabets, data sizes, seed (notebook 14)."""
    pairs: int = 8        # key-value pairs before the question
    n_keys: int = 64      # key symbols; the keys of one string are distinct
    n_values: int = 26    # value symbols: the answers
    n_train: int = 2048   # training strings per epoch
    n_test: int = 512     # held-out strings
    batch_size: int = 64  # strings per optimiser step
    seed: int = 0         # seeds the data, not the model
    fresh: bool = True    # train on new strings at every step; False: on the same n_train strings every epoch
    fused: bool = False   # one token per pair, its key and its value side by side (read by PairEmbedding), not two


class AssociativeRecall:
    """x = k_1 v_1 … k_P v_P q (keys are tokens 0..n_keys-1, values n_keys..), y = the value of q as 0..n_values-1;
    the answer is read at the last position. Fused (cfg.fused): x = (k_1,v_1) … (k_P,v_P) q, pair (k, v) the token
    k·n_values + v and the question key k the token n_keys·n_values + k (notebook 14)."""

    def __init__(self, cfg=AssocConfig()):  # frozen: a shared default is safe
        check_int("n_keys", cfg.n_keys, 1, 4096)
        check_int("pairs", cfg.pairs, 1, cfg.n_keys)
        check_int("n_values", cfg.n_values, 2, 4096)
        check_int("n_train", cfg.n_train, 1, 1_000_000)
        check_int("n_test", cfg.n_test, 1, 100_000)
        check_int("batch_size", cfg.batch_size, 1, 4096)
        check_int("seed", cfg.seed, 0, 2**63 - 1)
        self.cfg = cfg
        self.n_classes = cfg.n_values
        self.vocab_size = cfg.n_keys * cfg.n_values + cfg.n_keys if cfg.fused else cfg.n_keys + cfg.n_values
        gen = torch.Generator().manual_seed(cfg.seed)
        self.test_x, self.test_y = self.draw(cfg.n_test, gen)
        self.train_x, self.train_y = self.draw(cfg.n_train, gen)

    def draw(self, n, gen):
        """`n` new strings (n, 2·pairs + 1; fused (n, pairs + 1)) and their answers (n,), drawn from `gen`."""
        P, c = self.cfg.pairs, self.cfg
        keys = torch.rand(n, c.n_keys, generator=gen).argsort(-1)[:, :P]      # (n, P): distinct keys
        values = torch.randint(0, c.n_values, (n, P), generator=gen)          # (n, P)
        which = torch.randint(0, P, (n,), generator=gen)                      # (n,): the key asked for
        pairs = torch.stack([keys, values + c.n_keys], dim=-1).view(n, 2 * P)  # (n, 2P): k_1 v_1 k_2 v_2 …
        rows = torch.arange(n)
        asked = keys[rows, which][:, None]                                    # (n, 1)
        if c.fused:
            return torch.cat([keys * c.n_values + values, c.n_keys * c.n_values + asked], dim=1), values[rows, which]
        return torch.cat([pairs, asked], dim=1), values[rows, which]          # (n, 2P + 1)

    def batches(self, gen):
        """One epoch of training batches: new strings from `gen` (cfg.fresh) or the fixed ones in a drawn order."""
        steps = math.ceil(self.cfg.n_train / self.cfg.batch_size)
        if self.cfg.fresh:
            return (self.draw(self.cfg.batch_size, gen) for _ in range(steps))
        order = torch.randperm(self.cfg.n_train, generator=gen)
        return ((self.train_x[idx], self.train_y[idx]) for idx in order.split(self.cfg.batch_size))

    def split(self, x):
        """Strings `x` in either format -> their keys (n, P), values (n, P) as 0..n_values-1 and question keys (n,)."""
        K, V = self.cfg.n_keys, self.cfg.n_values
        if self.cfg.fused:
            return x[:, :-1] // V, x[:, :-1] % V, x[:, -1] - K * V
        return x[:, :-1:2], x[:, 1:-1:2] - K, x[:, -1]

    def lookup(self, x):
        """The right answers of strings `x` read off the pairs: what a perfect memory answers."""
        keys, values, asked = self.split(x)
        return values[keys == asked[:, None]]  # one hit per row

    @staticmethod
    def answer_logits(logits):
        """The model answers at the last position: (B, T, V) -> (B, V)."""
        return logits[:, -1]

    @staticmethod
    def loss(logits, y):
        """Cross-entropy of the answer."""
        return F.cross_entropy(logits[:, -1], y)

    @staticmethod
    def accuracy(logits, y):
        """Fraction of right answers."""
        return (logits[:, -1].argmax(-1) == y).float().mean().item()


class PairEmbedding(nn.Module):
    """A fused task's token -> key vector + value vector; a question -> key vector + an 'ask' vector: every pair
    arrives whole at one position, so one layer can store it (notebook 14)."""

    def __init__(self, n_keys, n_values, d_model):
        super().__init__()
        self.n_keys, self.n_values = n_keys, n_values
        self.key = nn.Embedding(n_keys, d_model)
        self.value = nn.Embedding(n_values + 1, d_model)  # the last row: 'ask'

    def forward(self, x):
        """Token ids (B, T) -> (B, T, d)."""
        pair = x < self.n_keys * self.n_values
        key = torch.where(pair, x // self.n_values, x - self.n_keys * self.n_values)  # (B, T)
        value = torch.where(pair, x % self.n_values, self.n_values)                  # (B, T)
        return self.key(key) + self.value(value)                                     # (B, T, d)
