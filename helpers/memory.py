"""Memory: recall of the k-th letter back after the whole string was read (the LSTM's bottleneck),
how long a changed first letter still moves an LSTM's state, and the depth of a computation graph."""
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .tasks import LETTERS, check_int

MAX_K = 64  # longest string, so furthest-back question: question tokens are 26 .. 26 + MAX_K - 1
ASK = ("one", "all")


@dataclass
class KBackConfig:
    length: int = 20      # letters per string
    ask: str = "one"      # "one": a question token k follows the string; "all": every k at once
    n_train: int = 2048   # training strings (one epoch = one pass over them)
    per_k_test: int = 32  # held-out strings per k: string i of the test set is asked k = i % length + 1
    batch_size: int = 64  # strings per optimiser step
    seed: int = 0         # seeds the data, not the model


class KBackRecall:
    """Read L random letters, then answer the k-th letter back (k = 1 is the last letter).

    ask="one": a question token for k (drawn from 1..L) follows the letters; the answer comes at it.
    ask="all": no question; the model's last position must give all L answers at once, so whatever
    it answers must be held in that one vector. Both modes use the same strings for the same seed.
    """

    n_classes = len(LETTERS)
    vocab_size = len(LETTERS) + MAX_K  # the letters, then one question token per k

    def __init__(self, cfg=KBackConfig()):
        L = check_int("length", cfg.length, 2, MAX_K)
        check_int("n_train", cfg.n_train, 1, 1_000_000)
        check_int("per_k_test", cfg.per_k_test, 1, 10_000)
        check_int("batch_size", cfg.batch_size, 1, 4096)
        if cfg.ask not in ASK:
            raise ValueError(f"ask must be one of {list(ASK)}, got {cfg.ask!r}")
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
        """Yield (x, y) training batches in an order drawn from `gen`: one epoch."""
        order = torch.randperm(len(self.train_x), generator=gen)
        for i in range(0, len(order), self.cfg.batch_size):
            idx = order[i:i + self.cfg.batch_size]
            yield self.train_x[idx], self.train_y[idx]

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


def letters_held(acc_per_k):
    """Letters recalled above chance, summed over k: Σ (acc_k − 1/26) / (1 − 1/26)."""
    chance = 1 / len(LETTERS)
    return ((torch.as_tensor(acc_per_k) - chance) / (1 - chance)).sum().item()


@torch.no_grad()
def first_letter_influence(model, x, seed=0):
    """Mean over the batch of ‖h_t − h'_t‖ at every step t, where h' is the top LSTM layer's hidden state
    after only the first letter of each string in `x` (B, T) was changed to another one: (T,)."""
    if x.dim() != 2:
        raise ValueError(f"x must be (batch, length), got {tuple(x.shape)}")
    gen = torch.Generator().manual_seed(seed)
    shift = torch.randint(1, len(LETTERS), (len(x),), generator=gen)
    changed = x.clone()
    changed[:, 0] = (x[:, 0] + shift) % len(LETTERS)  # always a different letter
    model.eval()
    device = next(model.parameters()).device
    h = model.lstm(model.embed(x.to(device)))[0]                  # (B, T, d)
    h_changed = model.lstm(model.embed(changed.to(device)))[0]    # (B, T, d)
    return (h - h_changed).norm(dim=-1).mean(0).cpu()             # (T,)


def graph_depth(output):
    """Length of the longest chain of dependent operations in the autograd graph behind `output`."""
    if output.grad_fn is None:
        raise ValueError("output must be computed from tensors that require grad")
    depth = {}
    stack = [(output.grad_fn, False)]
    while stack:  # depth-first without recursion: an LSTM's chain is far deeper than Python's stack
        node, parents_done = stack.pop()
        if node in depth:
            continue
        parents = [p for p, _ in node.next_functions if p is not None]
        if parents_done:
            depth[node] = 1 + max((depth[p] for p in parents), default=0)
        else:
            stack.append((node, True))
            stack.extend((p, False) for p in parents if p not in depth)
    return depth[output.grad_fn]
