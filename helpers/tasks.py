"""Tasks: first-letter recall over random A-Z strings, seeded, with a held-out test set."""
import string
from dataclasses import dataclass

import torch
import torch.nn.functional as F

LETTERS = string.ascii_uppercase  # the 26 symbols of the recall task
MAX_LENGTH = 1024                 # longest string the course's models accept


def check_int(name, value, low, high):
    """Raise ValueError unless `value` is an int in [low, high]; return it."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"{name} must be an integer from {low} to {high}, got {value!r}")
    return value


def encode(text):
    """'KNM' -> tensor([10, 13, 12]); spaces are ignored."""
    letters = text.replace(" ", "").upper()
    bad = sorted(set(letters) - set(LETTERS))
    if bad:
        raise ValueError(f"text may hold only the letters A-Z, got {''.join(bad)!r}")
    return torch.tensor([LETTERS.index(c) for c in letters])


def decode(ids):
    """tensor([10, 13, 12]) -> 'K N M', spaced the way the deck prints strings."""
    return " ".join(LETTERS[i] for i in ids.tolist())


@dataclass
class RecallConfig:
    length: int = 20       # letters per string
    n_train: int = 2048    # training strings (one epoch = one pass over them)
    n_test: int = 512      # held-out strings, never seen in training
    batch_size: int = 64   # strings per optimiser step
    seed: int = 0          # seeds the data, not the model


class FirstLetterRecall:
    """Read a random string, answer its FIRST letter: the deck's amnesia test as a dataset."""

    n_classes = len(LETTERS)

    def __init__(self, cfg=RecallConfig()):
        check_int("length", cfg.length, 2, MAX_LENGTH)
        check_int("n_train", cfg.n_train, 1, 1_000_000)
        check_int("n_test", cfg.n_test, 1, 100_000)
        self.cfg = cfg
        gen = torch.Generator().manual_seed(cfg.seed)
        total = cfg.n_train + cfg.n_test
        if 26 ** cfg.length < 2 * total:  # short strings: draw distinct ones from the whole space
            if 26 ** cfg.length < total:
                raise ValueError(f"n_train + n_test must be at most {26 ** cfg.length} at length {cfg.length}")
            codes = torch.randperm(26 ** cfg.length, generator=gen)[:total]
            powers = 26 ** torch.arange(cfg.length - 1, -1, -1)
            data = codes[:, None] // powers % 26  # (N, L)
        else:
            data = torch.randint(0, 26, (total, cfg.length), generator=gen)  # (N, L)
        self.test_x = data[:cfg.n_test]
        test_rows = {tuple(r) for r in self.test_x.tolist()}
        keep = torch.tensor([tuple(r) not in test_rows for r in data[cfg.n_test:].tolist()], dtype=torch.bool)
        self.train_x = data[cfg.n_test:][keep]  # strings equal to a test string are dropped
        self.test_y = self.test_x[:, 0]
        self.train_y = self.train_x[:, 0]

    def batches(self, gen):
        """Yield (x, y) training batches in an order drawn from `gen`: one epoch."""
        order = torch.randperm(len(self.train_x), generator=gen)
        for i in range(0, len(order), self.cfg.batch_size):
            idx = order[i:i + self.cfg.batch_size]
            yield self.train_x[idx], self.train_y[idx]

    @staticmethod
    def answer_logits(logits):
        """The model answers at the last position: (B, T, V) -> (B, V)."""
        return logits[:, -1]

    @staticmethod
    def loss(logits, y):
        """Cross-entropy of the answer."""
        return F.cross_entropy(FirstLetterRecall.answer_logits(logits), y)

    @staticmethod
    def accuracy(logits, y):
        """Fraction of right answers."""
        return (FirstLetterRecall.answer_logits(logits).argmax(-1) == y).float().mean().item()
