"""The amnesia test (notebooks 01, 04) and its proof (notebook 05): who recalls the first letter of a
random string, the gradient that reaches each position, and held-out accuracy against length."""
import time
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from ..core.checks import check_int
from ..core.models import ModelConfig, build_model
from ..core.tasks import MAX_LENGTH, FirstLetterRecall, RecallConfig, decode
from ..core.timing import SIDE_BY_SIDE, pick_device
from ..core.train import (MAX_EPOCHS, TrainConfig, cache_finished, evaluate, seed_everything, time_training_step,
                          train_kinds)

KINDS = ("rnn", "lstm", "transformer")
NAMES = {"rnn": "Plain RNN", "lstm": "LSTM", "transformer": "Transformer"}
TARGET = 0.99  # held-out accuracy at which a model counts as having solved the task and stops training
# The amnesia panel's width (notebooks 01, 04): 48 rather than the course's 64 answers in under 3 s on 2 cores,
# and its lesson is the same (the Transformer solves length 20 in 2 epochs, the LSTM stays far from it in 10).
AMNESIA_MODEL = ModelConfig(d_model=48)


@dataclass
class AmnesiaResult:
    """What the amnesia test measured, per model kind (notebook 01)."""
    length: int
    epochs: int
    string: str                                      # an unseen test string, spaced: 'K N M ...'
    answer: str                                      # its first letter
    predictions: dict = field(default_factory=dict)  # kind -> the model's answer for `string`
    accuracy: dict = field(default_factory=dict)     # kind -> held-out accuracy after training
    history: dict = field(default_factory=dict)      # kind -> History (loss and accuracy per epoch)
    seconds: dict = field(default_factory=dict)      # kind -> training time in seconds
    params: dict = field(default_factory=dict)       # kind -> parameter count
    solved: dict = field(default_factory=dict)       # kind -> first epoch at TARGET held-out accuracy, or None
    models: dict = field(default_factory=dict)       # kind -> the trained model (on the CPU)
    attention: torch.Tensor = None                   # Transformer, last layer, (H, T, T) on `string`
    missing: tuple = ()                              # kinds a Stop came before: not trained
    target: float = None                             # the held-out accuracy that ended a training, if any

    def summary(self):
        """The deck's printout: the string, the true first letter, each model's answer and accuracy."""
        lines = [f"Length {self.length}, {self.epochs} epochs",
                 f"Test string (never seen in training): {self.string}",
                 f"True first letter: {self.answer}"]
        for kind in self.predictions:
            mark = "right" if self.predictions[kind] == self.answer else "wrong"
            lines.append(f"{NAMES[kind] + ':':<13} answers {self.predictions[kind]} ({mark}), "
                         f"held-out accuracy {self.accuracy[kind]:.1%}, {self.verdict(kind)}")
        if self.missing:
            lines.append("Not trained (stopped before they began): " + ", ".join(NAMES[k] for k in self.missing))
        return "\n".join(lines)

    def verdict(self, kind):
        """'solved in 2 epochs', 'not solved in 10 epochs', 'stopped after 3 of 10 epochs' (by Stop or Ctrl-C),
        or 'trained for 10 epochs' when no target ended the training."""
        hist = self.history[kind]
        epochs = lambda n: f"{n} epoch{'s' * (n != 1)}"  # noqa: E731
        if self.solved.get(kind) is not None:
            return f"solved in {epochs(self.solved[kind])}"
        if hist.interrupted:
            return f"stopped after {hist.epochs} of {epochs(self.epochs)}"
        if self.target is None:
            return f"trained for {epochs(hist.epochs)}"
        return f"not solved in {epochs(self.epochs)}"


def amnesia_test(length=20, epochs=10, seed=0, device=None, kinds=KINDS, model_cfg=None, progress=False,
                 target=TARGET, side_by_side=SIDE_BY_SIDE):
    """Train each model kind on first-letter recall at `length` (a model stops once it reaches `target`
    held-out accuracy; None trains every epoch), then ask it an unseen string (notebooks 01, 04)."""
    check_int("length", length, 2, MAX_LENGTH)
    check_int("epochs", epochs, 1, MAX_EPOCHS)
    check_int("seed", seed, 0, 2**31 - 1)
    for kind in kinds:
        if kind not in KINDS:
            raise ValueError(f"kinds must be drawn from {list(KINDS)}, got {kind!r}")
    task = FirstLetterRecall(RecallConfig(length=length, seed=seed))
    probe = task.test_x[:1]  # (1, L): the string shown to every model
    result = AmnesiaResult(length, epochs, decode(probe[0]), decode(probe[0, :1]), target=target)
    cfg = TrainConfig(epochs=epochs, seed=seed, device=pick_device(device), progress=progress, target=target)
    trained = train_kinds(lambda kind: build_model(kind, model_cfg or AMNESIA_MODEL), kinds, task, cfg,
                          side_by_side=side_by_side)
    result.missing = tuple(kind for kind in kinds if kind not in trained)
    for kind, (model, hist) in trained.items():
        with torch.no_grad():
            if kind == "transformer":
                logits, weights = model(probe, return_attention=True)
                result.attention = weights[-1][0]  # (H, T, T)
            else:
                logits = model(probe)
        result.predictions[kind] = decode(task.answer_logits(logits).argmax(-1))
        result.accuracy[kind] = evaluate(model, task)[1] if hist.interrupted else hist.test_acc[-1]
        result.history[kind] = hist
        result.seconds[kind] = hist.seconds
        result.solved[kind] = hist.solved_epoch
        result.params[kind] = model.n_params()
        result.models[kind] = model
    return result


def estimate_seconds(length=20, epochs=10, kinds=KINDS, model_cfg=None, side_by_side=SIDE_BY_SIDE):
    """About how long amnesia_test would take on this machine, at most (a model that solves the task stops
    earlier): one timed training step per kind, times the steps, shared over the side-by-side workers.
    A panel shows it when a run will be long (notebook 04)."""
    check_int("length", length, 2, MAX_LENGTH)
    check_int("epochs", epochs, 1, MAX_EPOCHS)
    cfg = RecallConfig(length=length)
    steps = epochs * -(-cfg.n_train // cfg.batch_size) + (epochs + 1) * -(-cfg.n_test // cfg.batch_size) // 3
    x = torch.randint(0, 26, (cfg.batch_size, length), generator=torch.Generator().manual_seed(0))  # (B, T)
    per_kind = []
    for kind in kinds:
        seed_everything(0)
        model = build_model(kind, model_cfg or AMNESIA_MODEL)
        opt = torch.optim.Adam(model.parameters())
        times = []
        for _ in range(2):  # the first step warms up, the second is timed
            start = time.perf_counter()
            loss = FirstLetterRecall.loss(model(x), x[:, 0])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            times.append(time.perf_counter() - start)
        per_kind.append(times[-1] * steps)  # an evaluation batch costs about a third of a training step
    return max(max(per_kind), sum(per_kind) / min(side_by_side, len(per_kind)))


def time_recall_step(kind="transformer", length=20, batch_size=64, model_cfg=None, repeats=5):
    """Median time of one recall training step (forward, backward, Adam) on the CPU and on the GPU (notebook 01)."""
    check_int("length", length, 2, MAX_LENGTH)
    check_int("batch_size", batch_size, 1, 4096)
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {list(KINDS)}, got {kind!r}")

    x = torch.randint(0, 26, (batch_size, length), generator=torch.Generator().manual_seed(0))  # (B, T)
    return time_training_step(lambda: build_model(kind, model_cfg or AMNESIA_MODEL), FirstLetterRecall, (x, x[:, 0]),
                               f"one training step: {NAMES[kind]}, batch {batch_size}, length {length}", repeats)


# ---------------------------------------------------------------- notebook 05: the proof

VARIANTS = {  # name -> (model kind, forget-gate bias added at initialisation)
    "rnn": ("rnn", 0.0),
    "lstm": ("lstm", 0.0),
    "lstm_fb1": ("lstm", 1.0),
    "transformer": ("transformer", 0.0),
}
LABELS = {**NAMES, "lstm_fb1": "LSTM, forget bias 1"}  # VARIANTS by name
CHANCE = 1 / FirstLetterRecall.n_classes


def check_variant(variant):
    """Raise ValueError unless `variant` names one of VARIANTS; return its (kind, forget bias) (notebook 05)."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {list(VARIANTS)}, got {variant!r}")
    return VARIANTS[variant]


def initial_model(variant, seed=0):
    """The untrained model that `train_variant(variant, ..., seed)` starts from (same seed, same weights).
    Introduced in notebook 05."""
    kind, bias = check_variant(variant)
    seed_everything(seed)
    return build_model(kind, ModelConfig(forget_bias=bias))


def gradient_per_position(model, x, y):
    """‖∂loss/∂e_t‖ for every position t, where e = embed(x): (T,), averaged over the strings of x (B, T).
    Introduced in notebook 05."""
    device = next(model.parameters()).device
    was_training = model.training
    model.train()  # cuDNN runs an RNN's backward only in training mode; these models have no dropout
    e = model.embed(x.to(device)).detach().requires_grad_()  # (B, T, d): a leaf, so it gets a gradient
    logits = model.head(model.body(e))  # (B, T, n_out)
    loss = F.cross_entropy(FirstLetterRecall.answer_logits(logits), y.to(device), reduction="sum")  # one loss per string
    (grad,) = torch.autograd.grad(loss, e)  # (B, T, d); the weights' .grad stay untouched
    model.train(was_training)
    return grad.norm(dim=-1).mean(0).cpu()  # (T,)


def decay_per_step(grad):
    """Geometric-mean factor by which the gradient shrinks per step back, over positions 1 .. T-1 (notebook 05)."""
    g = torch.as_tensor(grad[:-1], dtype=torch.float64)  # the last position has its own direct path
    return float(torch.exp((g[0].log() - g[-1].log()) / (len(g) - 1)))


@cache_finished(maxsize=64)
def train_variant(variant, length, epochs, seed=0, device=None):
    """amnesia_test for one variant (cached, so the panel, the sweep and the tests share runs) (notebook 05)."""
    kind, bias = check_variant(variant)
    return amnesia_test(length, epochs, seed, device, kinds=(kind,), model_cfg=ModelConfig(forget_bias=bias),
                        target=None)


@dataclass
class GradientResult:
    """Per-position gradient norms at initialisation and after training, per variant, at one length (notebook 05)."""
    length: int
    epochs: int
    variants: tuple
    init: dict = field(default_factory=dict)     # variant -> (T,) gradient norms before training
    trained: dict = field(default_factory=dict)  # variant -> (T,) gradient norms after training
    runs: dict = field(default_factory=dict)     # variant -> AmnesiaResult of its training

    def accuracy(self, variant):
        """Held-out accuracy of `variant` after training."""
        return self.runs[variant].accuracy[VARIANTS[variant][0]]

    def summary(self):
        """A table: the gradient reaching position 1 before and after training, and the accuracy."""
        lines = [f"Length {self.length}, {self.epochs} epochs: ‖∂loss/∂e_1‖, the gradient reaching the first letter",
                 f"{'model':<21}{'at init':>10}{'trained':>10}{'decay/step':>12}{'accuracy':>10}"]
        for v in self.variants:
            lines.append(f"{LABELS[v]:<21}{self.init[v][0]:>10.1e}{self.trained[v][0]:>10.1e}"
                         f"{decay_per_step(self.init[v]):>12.2f}{self.accuracy(v):>10.1%}")
        return "\n".join(lines)


def gradient_experiment(length=40, epochs=2, seed=0, variants=("rnn", "lstm", "transformer"), device=None, n_probe=128):
    """Gradient per position of each variant, before and after training at `length`, on held-out strings.
    Introduced in notebook 05."""
    check_int("n_probe", n_probe, 1, RecallConfig.n_test)
    task = FirstLetterRecall(RecallConfig(length=check_int("length", length, 2, MAX_LENGTH), seed=seed))
    x, y = task.test_x[:n_probe], task.test_y[:n_probe]  # (n, T), (n,)
    result = GradientResult(length, epochs, tuple(variants))
    for v in variants:
        result.init[v] = gradient_per_position(initial_model(v, seed), x, y)
        result.runs[v] = train_variant(v, length, epochs, seed, device)
        result.trained[v] = gradient_per_position(result.runs[v].models[VARIANTS[v][0]], x, y)
    return result


def amnesia_curve(lengths=(5, 10, 20, 40, 80), epochs=2, seeds=(0,), variants=("rnn", "lstm", "transformer"),
                  device=None, log=None):
    """Held-out accuracy of every (variant, length, seed) at one training budget: a list of run records.
    Introduced in notebook 05."""
    for length in lengths:
        check_int("length", length, 2, MAX_LENGTH)
    check_int("epochs", epochs, 1, MAX_EPOCHS)
    for v in variants:
        check_variant(v)
    runs = []
    for seed in seeds:
        for length in lengths:
            for v in variants:
                result = train_variant(v, length, epochs, seed, device)
                kind = VARIANTS[v][0]
                runs.append({"model": v, "length": length, "seed": seed, "accuracy": result.accuracy[kind],
                             "test_acc": result.history[kind].test_acc, "seconds": round(result.seconds[kind], 2)})
                if log:
                    log(runs[-1])
    return runs


def curve_table(runs, epoch=None):
    """{variant: {length: (mean, min, max) accuracy over seeds}}, after `epoch` epochs (None: the last).
    Introduced in notebook 05."""
    table = {}
    for r in runs:
        acc = r["accuracy"] if epoch is None else r["test_acc"][epoch]
        table.setdefault(r["model"], {}).setdefault(r["length"], []).append(acc)
    return {v: {L: (float(np.mean(a)), min(a), max(a)) for L, a in sorted(by_len.items())} for v, by_len in table.items()}
