"""The course's corpus (data/corpus/): word tokens, a vocabulary, and next-word prediction as a task."""
import functools
import re
from pathlib import Path

import torch
import torch.nn.functional as F

from .models import ModelConfig
from .paths import CORPUS_DIR
from .tasks import batches

PAD, BOS = "<pad>", "<s>"  # padding (ignored by the loss) and start of sentence


def tokenize(text):
    """'We propose a net, the X.' -> ['we', 'propose', 'a', 'net', ',', 'the', 'x', '.'] (notebook 07)"""
    return re.findall(r"[a-z]+|[.,]", text.lower())


def detokenize(words):
    """['a', 'net', ',', 'the', 'x', '.'] -> 'a net, the x.': ',' and '.' attached to the word before (notebook 09)."""
    return " ".join(words).replace(" ,", ",").replace(" .", ".")


def load_sentences(name, root=CORPUS_DIR):
    """Token lists of data/corpus/<name>.txt ("train" or "heldout"), one per line (notebook 07)."""
    lines = (Path(root) / f"{name}.txt").read_text(encoding="utf-8").splitlines()
    return [tokenize(line) for line in lines if line.strip()]


class Vocab:
    """Word <-> id; id 0 is padding, id 1 the start of a sentence (notebook 07)."""

    def __init__(self, sentences):
        words = sorted({w for s in sentences for w in s})
        self.itos = [PAD, BOS] + words
        self.stoi = {w: i for i, w in enumerate(self.itos)}

    def __len__(self):
        return len(self.itos)

    def encode(self, words):
        """Ids of `words` (a list or a text); unknown words raise a ValueError that names them."""
        words = tokenize(words) if isinstance(words, str) else list(words)
        unknown = [w for w in words if w not in self.stoi]
        if unknown:
            raise ValueError(f"unknown words (not in the course's corpus): {', '.join(dict.fromkeys(unknown))}")
        return torch.tensor([self.stoi[w] for w in words])

    def decode(self, ids):
        """Text of `ids`, padding dropped, with ',' and '.' attached to the word before."""
        return detokenize(self.itos[i] for i in ids.tolist() if i != 0)


def pad_stack(seqs, length):
    """Stack 1-D id tensors into (N, length), right-padded with 0 (notebook 07)."""
    out = torch.zeros(len(seqs), length, dtype=torch.long)  # (N, T)
    for i, s in enumerate(seqs):
        out[i, :len(s)] = s
    return out


class NextWord:
    """Language modelling: read <s> w1 … w_{n-1}, predict w1 … wn at every position (notebook 07)."""

    def __init__(self, train, test, vocab, batch_size=32):
        self.vocab, self.batch_size = vocab, batch_size
        self.max_len = max(len(s) for s in train + test)
        self.train_x, self.train_y = self.pairs(train)
        self.test_x, self.test_y = self.pairs(test)

    def pairs(self, sentences):
        """Inputs (N, T) and targets (N, T) for token lists, padded."""
        ids = [self.vocab.encode(s) for s in sentences]
        x = [torch.cat([torch.tensor([self.vocab.stoi[BOS]]), s[:-1]]) for s in ids]
        return pad_stack(x, self.max_len), pad_stack(ids, self.max_len)

    def batches(self, gen):
        """Yield (x, y) training batches in an order drawn from `gen`: one epoch."""
        return batches(self.train_x, self.train_y, self.batch_size, gen)

    @staticmethod
    def loss(logits, y):
        """Mean cross-entropy over real (non-padding) positions."""
        return F.cross_entropy(logits.flatten(0, 1), y.flatten(), ignore_index=0)  # (B*T, V) vs (B*T,)

    @staticmethod
    def accuracy(logits, y):
        """Fraction of real positions whose most likely next word is right."""
        real = y != 0
        return (logits.argmax(-1)[real] == y[real]).float().mean().item()


def corpus_task(batch_size=32, root=CORPUS_DIR):
    """NextWord on data/corpus: train.txt for training, heldout.txt for testing (notebook 09)."""
    train, test = load_sentences("train", root), load_sentences("heldout", root)
    return NextWord(train, test, Vocab(train), batch_size)


@functools.lru_cache(maxsize=1)
def corpus_vocab():
    """The vocabulary of data/corpus/train.txt (every word the course's models know) (notebook 09)."""
    return Vocab(load_sentences("train"))


def with_bos(vocab, words):
    """Ids of <s> followed by `words` (a text or a token list), (T + 1,) (notebook 09)."""
    return torch.cat([torch.tensor([vocab.stoi[BOS]]), vocab.encode(words)])


class Reproduce(NextWord):
    """Learn sentences by heart: read <s> w1 … w_{n-1}, predict w2 … wn (w1 is given as the prompt) (notebook 10)."""

    def pairs(self, sentences):
        """Inputs and targets as in NextWord, but w1 is never a target."""
        x, y = super().pairs(sentences)
        y[:, 0] = 0  # padding id: ignored by the loss and the accuracy
        return x, y


def lm_config(vocab, max_len, d_model=64, n_layers=2):
    """A causal language model over `vocab`: words in, next-word scores out (notebooks 09, 10, 13)."""
    return ModelConfig(vocab_size=len(vocab), n_out=len(vocab), d_model=d_model, n_layers=n_layers, causal=True,
                       max_len=max_len)
