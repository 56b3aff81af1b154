"""Tasks over random A-Z strings, seeded, each with a held-out set never seen in training: letter recall at a
position (the first: the deck's amnesia test, notebook 01) and k-th-letter-back recall (the bottleneck, notebook 02)."""
import math
import string
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .checks import check_choice, check_int

LETTERS = string.ascii_uppercase  # the 26 symbols of the recall task
MAX_LENGTH = 1024                 # longest string the course's models accept
MIN_LENGTH = 3                    # shortest recall string: at 2 there are only 676 strings, too few to hold out 512
CHANCE = 1 / len(LETTERS)         # a guesser's accuracy on a letter question


def encode(text):
    """'KNM' -> tensor([10, 13, 12]); spaces are ignored (notebook 07)."""
    letters = text.replace(" ", "").upper()
    bad = sorted(set(letters) - set(LETTERS))
    if bad:
        raise ValueError(f"text may hold only the letters A-Z, got {''.join(bad)!r}")
    return torch.tensor([LETTERS.index(c) for c in letters])


def decode(ids):
    """tensor([10, 13, 12]) -> 'K N M', spaced the way the deck prints strings (notebook 01)."""
    values = torch.as_tensor(ids).flatten().tolist()
    bad = [i for i in values if not (isinstance(i, int) and 0 <= i < len(LETTERS))]
    if bad:
        raise ValueError(f"ids must be letter numbers from 0 to {len(LETTERS) - 1}, got {bad[0]!r}")
    return " ".join(LETTERS[i] for i in values)


def batches(x, y, batch_size, gen):
    """Yield (x, y) batches of `batch_size` rows in an order drawn from `gen`: one epoch (notebook 01)."""
    order = torch.randperm(len(x), generator=gen)
    for i in range(0, len(order), batch_size):
        idx = order[i:i + batch_size]
        yield x[idx], y[idx]


def draw_new(n, length, held_out, gen):
    """`n` random strings (n, length) drawn from `gen`; any that equals a row in the set `held_out` is drawn
    again, so training never sees a held-out string (notebooks 02, 04)."""
    x = torch.randint(0, len(LETTERS), (n, length), generator=gen)  # (n, L)
    while True:
        hit = torch.tensor([tuple(r) in held_out for r in x.tolist()], dtype=torch.bool)
        if not hit.any():
            return x
        x[hit] = torch.randint(0, len(LETTERS), (int(hit.sum()), length), generator=gen)


@dataclass(frozen=True)
class RecallConfig:
    """Letter recall: string length, data sizes, batch size, seed (notebook 01)."""
    length: int = 20       # letters per string
    n_train: int = 2048    # training strings (one epoch = one pass over them)
    n_test: int = 512      # held-out strings, never seen in training
    batch_size: int = 64   # strings per optimiser step
    seed: int = 0          # seeds the data, not the model
    fresh: bool = False    # train on new strings at every step (never a held-out one), n_train of them per epoch
    position: int = 1      # the letter to answer: 1 = the first (the amnesia test), -3 = the third from the end

    def __post_init__(self):
        check_int("length", self.length, MIN_LENGTH, MAX_LENGTH)
        check_int("batch_size", self.batch_size, 1, 4096)
        check_int("seed", self.seed, 0, 2**63 - 1)


class LetterRecall:
    """Read a random string, answer the letter at cfg.position, counted from the start (1, 2, ...) or from the end
    (-1, -2, ...); at the default position 1, its FIRST letter: the deck's amnesia test as a dataset (notebook 01)."""

    n_classes = len(LETTERS)

    def __init__(self, cfg=RecallConfig()):  # frozen: a shared default is safe
        check_int("length", cfg.length, MIN_LENGTH, MAX_LENGTH)
        check_int("n_train", cfg.n_train, 1, 1_000_000)
        check_int("n_test", cfg.n_test, 1, 100_000)
        if not (1 <= cfg.position <= cfg.length or -cfg.length <= cfg.position <= -1):
            raise ValueError(f"position must be from 1 to {cfg.length} or from -{cfg.length} to -1, "
                             f"got {cfg.position!r}")
        self.column = cfg.position - 1 if cfg.position > 0 else cfg.position  # the answer's index in a string
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
        self.test_y = self.test_x[:, self.column]
        self.train_y = self.train_x[:, self.column]

    def batches(self, gen):
        """One epoch of training batches: the fixed training strings in an order drawn from `gen`, or with
        cfg.fresh as many new strings drawn from `gen` (notebook 04)."""
        if not self.cfg.fresh:
            return batches(self.train_x, self.train_y, self.cfg.batch_size, gen)
        return ((x, x[:, self.column]) for x in (self.draw(self.cfg.batch_size, gen)
                                       for _ in range(math.ceil(self.cfg.n_train / self.cfg.batch_size))))

    def draw(self, n, gen):
        """`n` new random strings (n, L), none equal to a held-out string (notebook 04)."""
        if not hasattr(self, "_test_rows"):
            self._test_rows = {tuple(r) for r in self.test_x.tolist()}
        return draw_new(n, self.cfg.length, self._test_rows, gen)

    @staticmethod
    def answer_logits(logits):
        """The model answers at the last position: (B, T, V) -> (B, V)."""
        return logits[:, -1]

    @staticmethod
    def loss(logits, y):
        """Cross-entropy of the answer."""
        return F.cross_entropy(LetterRecall.answer_logits(logits), y)

    @staticmethod
    def accuracy(logits, y):
        """Fraction of right answers."""
        return (LetterRecall.answer_logits(logits).argmax(-1) == y).float().mean().item()


MAX_K = 64  # longest string, so furthest-back question: question tokens are 26 .. 26 + MAX_K - 1
ASK = ("one", "all")


@dataclass(frozen=True)
class KBackConfig:
    """k-th-letter-back recall: string length, which k to ask, data sizes (notebook 02)."""
    length: int = 20      # letters per string
    ask: str = "one"      # "one": a question token k follows the string; "all": every k at once
    n_train: int = 2048   # training strings (one epoch = one pass over them)
    per_k_test: int = 32  # held-out strings per k: string i of the test set is asked k = i % length + 1
    batch_size: int = 64  # strings per optimiser step
    seed: int = 0         # seeds the data, not the model
    fresh: bool = False   # train on new strings (and new k) at every step, never a held-out string


class KBackRecall:
    """Read L random letters, then answer the k-th letter back (k = 1 is the last letter).

    ask="one": a question token for k (drawn from 1..L) follows the letters; the answer comes at it.
    ask="all": no question; the model's last position must give all L answers at once, so whatever
    it answers must be held in that one vector. Both modes use the same strings for the same seed.
    Introduced in notebook 02."""

    n_classes = len(LETTERS)
    vocab_size = len(LETTERS) + MAX_K  # the letters, then one question token per k

    def __init__(self, cfg=KBackConfig()):  # frozen: a shared default is safe
        L = check_int("length", cfg.length, 2, MAX_K)
        check_int("n_train", cfg.n_train, 1, 1_000_000)
        check_int("per_k_test", cfg.per_k_test, 1, 10_000)
        check_int("batch_size", cfg.batch_size, 1, 4096)
        check_choice("ask", cfg.ask, ASK)
        self.cfg = cfg
        self.n_out = len(LETTERS) * (L if cfg.ask == "all" else 1)  # logits at the answering position
        gen = torch.Generator().manual_seed(cfg.seed)
        n_test = cfg.per_k_test * L
        letters = torch.randint(0, len(LETTERS), (n_test + cfg.n_train, L), generator=gen)  # (N, L)
        k = torch.cat([torch.arange(n_test) % L + 1, torch.randint(1, L + 1, (cfg.n_train,), generator=gen)])
        test_rows = {tuple(r) for r in letters[:n_test].tolist()}
        keep = torch.tensor([i < n_test or tuple(r) not in test_rows for i, r in enumerate(letters.tolist())])
        letters, k = letters[keep], k[keep]  # training strings equal to a test string are dropped
        x, y = self._pose(letters, k)
        self.test_x, self.test_y, self.test_k = x[:n_test], y[:n_test], k[:n_test]
        self.train_x, self.train_y = x[n_test:], y[n_test:]

    def _pose(self, letters, k):
        """Inputs and answers: for "one" x (N, L+1) and y (N,); for "all" x (N, L) and y (N, L), y[:, k-1] = k back."""
        if self.cfg.ask == "all":
            return letters, letters.flip(1)
        question = len(LETTERS) + k - 1                       # (N,)
        x = torch.cat([letters, question[:, None]], dim=1)    # (N, L+1)
        return x, letters[torch.arange(len(k)), -k]           # (N,): the k-th letter back

    def batches(self, gen):
        """One epoch of training batches: the fixed training strings in an order drawn from `gen`, or with
        cfg.fresh as many new strings (and questions) drawn from `gen` (notebook 02)."""
        if not self.cfg.fresh:
            return batches(self.train_x, self.train_y, self.cfg.batch_size, gen)
        return (self._fresh(gen) for _ in range(math.ceil(self.cfg.n_train / self.cfg.batch_size)))

    def _fresh(self, gen):
        """One batch of new strings, none equal to a held-out one, with a k drawn for each: (x, y)."""
        if not hasattr(self, "_test_rows"):
            self._test_rows = {tuple(r) for r in self.test_x[:, :self.cfg.length].tolist()}
        n, L = self.cfg.batch_size, self.cfg.length
        letters = draw_new(n, L, self._test_rows, gen)  # (n, L)
        return self._pose(letters, torch.randint(1, L + 1, (n,), generator=gen))

    def answer_logits(self, logits):
        """The answers come at the last position: (B, T, n_out) -> (B, 26), or (B, L, 26) for ask="all"."""
        last = logits[:, -1]  # (B, n_out)
        return last.view(len(last), self.cfg.length, len(LETTERS)) if self.cfg.ask == "all" else last

    def loss(self, logits, y):
        """Cross-entropy of the answers (all L of them for ask="all")."""
        return F.cross_entropy(self.answer_logits(logits).reshape(-1, len(LETTERS)), y.reshape(-1))

    def accuracy(self, logits, y):
        """Fraction of right answers."""
        return (self.answer_logits(logits).argmax(-1) == y).float().mean().item()

    @torch.no_grad()
    def accuracy_per_k(self, model):
        """Held-out accuracy for each k = 1..length, as a (length,) tensor."""
        model.eval()
        device = next(model.parameters()).device
        right = (self.answer_logits(model(self.test_x.to(device))).argmax(-1).cpu() == self.test_y).float()
        if self.cfg.ask == "all":
            return right.mean(0)  # (N, L) -> (L,)
        return torch.zeros(self.cfg.length).index_add_(0, self.test_k - 1, right) / self.cfg.per_k_test
