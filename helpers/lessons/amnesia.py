"""The amnesia test (notebooks 01, 04) and its proof (notebook 05): who recalls the first letter of a
random string, the gradient that reaches each position, the training steps that remembering costs against the
length, and where attention with learned absolute positions loses. A kind is a model architecture (rnn, lstm,
transformer); a variant is a named configuration of one (VARIANTS: "lstm_fb1" is an LSTM with forget bias 1)."""
import copy
import functools
import math
from dataclasses import dataclass, field, replace

import torch
import torch.nn.functional as F

from ..core.checks import check_int
from ..core.models import ModelConfig, build_model
from ..core.tasks import CHANCE, MAX_LENGTH, MIN_LENGTH, LetterRecall, RecallConfig, decode
from ..core.paths import REFERENCE_DIR
from ..core.timing import NO_GPU, SIDE_BY_SIDE, pick_device, time_call
from ..core.train import (MAX_EPOCHS, TrainConfig, cache_finished, evaluate, seeded, time_training_step,
                          train_kinds)

KINDS = ("rnn", "lstm", "transformer")  # the model kinds of helpers.core.models
VARIANTS = {  # variant -> (model kind, forget-gate bias added at initialisation)
    "rnn": ("rnn", 0.0),
    "lstm": ("lstm", 0.0),
    "lstm_fb1": ("lstm", 1.0),  # Jozefowicz et al. (2015): the LSTM's best-known simple setting
    "transformer": ("transformer", 0.0),
    "lstm_fb3": ("lstm", 3.0),  # a larger bias: the gradient grows going back (notebook 05)
    "lstm_fb1_lr": ("lstm", 1.0),  # forget bias 1 at Adam's lr LEARNING_RATES["lstm_fb1_lr"] (notebook 05)
}
# Adam's learning rate where a variant is not at TrainConfig.lr: 3x the default, the setting that Greff et al. (2017)
# found matters most for an LSTM, to tell a larger step from a larger gradient (notebook 05)
LEARNING_RATES = {"lstm_fb1_lr": 1e-2}
# the variants' names, as the figures and tables print them
NAMES = {"rnn": "Plain RNN", "lstm": "LSTM", "lstm_fb1": "LSTM, forget bias 1", "transformer": "Transformer",
         "lstm_fb3": "LSTM, forget bias 3", "lstm_fb1_lr": "LSTM, forget bias 1, lr 0.01"}
CONTESTANTS = ("lstm", "lstm_fb1", "transformer")  # the amnesia panel's variants: the LSTM at its default and its best
TARGET = 0.99  # held-out accuracy at which a model counts as having solved the task and stops training
EPOCHS = 2     # the amnesia panel's default budget (64 steps): the Transformer solves every length from 10 to 40 in it,
               # neither LSTM does, and a re-run costs about 2 CPU seconds (tools/bench_amnesia_cpu.py)
WIDTH = 48     # the amnesia panel's width: its default re-run answers in under 3 s on 2 cores
SIZES = ("width", "params")  # every contestant at WIDTH, or each at the width whose parameter count is the LSTM's


# the answers of "which contestants solve it?", the question the class predicts before an amnesia test (01, 04)
WHO_SOLVED = ("none of them", "only the Transformer", "the Transformer and one LSTM", "all three",
              "an LSTM but not the Transformer")


def who_solved(result):
    """Which of an amnesia result's contestants reached the target, as one of WHO_SOLVED (notebooks 01, 04)."""
    done = {v for v, epoch in result.solved.items() if epoch is not None}
    lstms = len(done - {"transformer"})
    if "transformer" not in done:
        return WHO_SOLVED[4] if lstms else WHO_SOLVED[0]
    return WHO_SOLVED[1] if lstms == 0 else WHO_SOLVED[2] if lstms == 1 else WHO_SOLVED[3]


def check_variant(variant):
    """Raise ValueError unless `variant` names one of VARIANTS; return its (kind, forget bias) (notebook 05)."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {list(VARIANTS)}, got {variant!r}")
    return VARIANTS[variant]


def shared_lr(variants):
    """The one Adam learning rate of `variants` (LEARNING_RATES, else TrainConfig.lr); a ValueError when they
    differ, as they train side by side from one TrainConfig (notebook 05)."""
    lrs = {LEARNING_RATES.get(v, TrainConfig.lr) for v in variants}
    if len(lrs) > 1:
        raise ValueError(f"variants must share one learning rate (LEARNING_RATES), got {tuple(variants)!r}")
    return lrs.pop()


def contestant_config(variant, length, size="width"):
    """The ModelConfig of `variant` in the amnesia test at `length`: width WIDTH, or with size="params" the
    width (a multiple of 4) whose parameter count is closest to the LSTM's at WIDTH. The Transformer's position
    table holds `length` rows, the positions it is trained on (notebook 04)."""
    kind, bias = check_variant(variant)
    if size not in SIZES:
        raise ValueError(f"size must be one of {list(SIZES)}, got {size!r}")
    width = WIDTH
    if size == "params" and kind != "lstm":
        goal = n_params("lstm", WIDTH, length)
        width = min(range(4, 257, 4), key=lambda d: abs(n_params(kind, d, length) - goal))
    return ModelConfig(d_model=width, max_len=length, forget_bias=bias)


@functools.lru_cache(maxsize=1024)
def n_params(kind, width, length):
    """Parameter count of a `kind` model of this width for strings of `length`, built on the meta device: no
    memory, and no draw from torch's generator that a model being built in another thread might share."""
    with torch.device("meta"):
        return build_model(kind, ModelConfig(d_model=width, max_len=length)).n_params()


@dataclass
class AmnesiaResult:
    """What the amnesia test measured, per contestant (a variant: a VARIANTS name) (notebook 01)."""
    length: int
    epochs: int
    string: str                                      # an unseen test string, spaced: 'K N M ...'
    answer: str                                      # its first letter
    predictions: dict = field(default_factory=dict)  # variant -> the model's answer for `string`
    accuracy: dict = field(default_factory=dict)     # variant -> held-out accuracy after its last finished epoch
    history: dict = field(default_factory=dict)      # variant -> History (loss and accuracy per epoch)
    seconds: dict = field(default_factory=dict)      # variant -> training time in seconds
    params: dict = field(default_factory=dict)       # variant -> parameter count
    solved: dict = field(default_factory=dict)       # variant -> first epoch at TARGET held-out accuracy, or None
    models: dict = field(default_factory=dict)       # variant -> the trained model (on the CPU)
    attention: torch.Tensor | None = None            # Transformer, last layer, (H, T, T) on `string`
    missing: tuple = ()                              # variants a Stop came before: not trained
    target: float | None = None                      # the held-out accuracy that ended a training, if any
    budget: str = ""                                 # what one epoch is, e.g. '32 steps of 64 new strings'
    seed: int = 0                                    # the seed of the data and the first weights
    size: str = "width"                              # contestant_config's size: "width" or "params"

    def summary(self):
        """The deck's printout: the string, the true first letter, each model's answer and accuracy, and its
        verdict at this budget."""
        stop = f"; a model stops once it reaches {self.target:.0%} held-out accuracy" if self.target else ""
        lines = [f"Length {self.length}, {self.epochs} epochs at most (an epoch: {self.budget}{stop})",
                 f"Test string (never seen in training): {self.string}",
                 f"True first letter: {self.answer}"]
        for v in self.predictions:
            mark = "right" if self.predictions[v] == self.answer else "wrong"
            lines.append(f"{NAMES[v] + ':':<21} answers {self.predictions[v]} ({mark}), "
                         f"held-out accuracy {self.accuracy[v]:.1%}, {self.verdict(v)}")
        if self.missing:
            lines.append("Not trained (stopped before they began): " + ", ".join(NAMES[v] for v in self.missing))
        return "\n".join(lines)

    def verdict(self, variant):
        """'solved in 2 epochs', 'not solved within 10 epochs at this budget', 'stopped after 3 of 10 epochs' (Stop),
        or 'trained for 10 epochs' when no target ended the training."""
        hist = self.history[variant]
        epochs = lambda n: f"{n} epoch{'s' * (n != 1)}"  # noqa: E731
        if self.solved.get(variant) is not None:
            return f"solved in {epochs(self.solved[variant])}"
        if hist.interrupted:
            return f"stopped after {hist.epochs} of {epochs(self.epochs)}"
        if self.target is None:
            return f"trained for {epochs(hist.epochs)}"
        return f"not solved within {epochs(self.epochs)} at this budget"


def amnesia_test(length=20, epochs=EPOCHS, seed=0, device=None, variants=CONTESTANTS, model_cfg=None, progress=False,
                 target=TARGET, workers=SIDE_BY_SIDE, size="width", fresh=True, eval_strings=None):
    """Train each variant on first-letter recall at `length`, `workers` side by side (a model stops once it reaches
    `target` held-out accuracy; None trains every epoch), then ask it an unseen string. Training strings are new
    at every step (`fresh`); sizes as contestant_config(size=), or `model_cfg` for all. With `eval_strings` (the
    live panel's opt-in), the checks while training read only that many held-out strings (all of them when the few
    are within reach of `target`, and at the end): cheaper, the same training, stops and results (notebooks 01, 04)."""
    check_int("length", length, MIN_LENGTH, MAX_LENGTH)
    check_int("epochs", epochs, 1, MAX_EPOCHS)
    check_int("seed", seed, 0, 2**31 - 1)
    if isinstance(variants, str) or not isinstance(variants, (tuple, list)) or not variants:
        raise ValueError(f"variants must be a non-empty tuple of names from {list(VARIANTS)}, e.g. ('lstm',), "
                         f"got {variants!r}")
    for variant in variants:
        if variant not in VARIANTS:
            raise ValueError(f"variants must be drawn from {list(VARIANTS)}, got {variant!r}")
    configs = {v: contestant_config(v, length, size) if model_cfg is None
               else replace(model_cfg, forget_bias=model_cfg.forget_bias + VARIANTS[v][1]) for v in variants}
    task = LetterRecall(RecallConfig(length=length, seed=seed, fresh=fresh))
    probe = task.test_x[:1]  # (1, L): the string shown to every model
    result = AmnesiaResult(length, epochs, decode(probe[0]), decode(probe[0, :1]), target=target, seed=seed,
                           size=size if model_cfg is None else "default",
                           budget=f"{math.ceil(task.cfg.n_train / task.cfg.batch_size)} steps of {task.cfg.batch_size} "
                                  f"{'new' if fresh else 'training'} strings")
    cfg = TrainConfig(epochs=epochs, lr=shared_lr(variants), seed=seed, device=pick_device(device), progress=progress,
                      target=target)
    checked = task if eval_strings is None else FewerStrings(task, eval_strings, target)
    trained = train_kinds(lambda v: build_model(VARIANTS[v][0], configs[v]), variants, checked, cfg, workers=workers)
    if checked is not task:
        for model, hist in trained.values():
            check_in_full(model, hist, task)
    result.missing = tuple(v for v in variants if v not in trained)
    for v, (model, hist) in trained.items():
        with torch.no_grad():
            if VARIANTS[v][0] == "transformer":
                logits, weights = model(probe, return_attention=True)
                result.attention = weights[-1][0]  # (H, T, T)
            else:
                logits = model(probe)
        result.predictions[v] = decode(task.answer_logits(logits).argmax(-1))
        result.accuracy[v] = hist.test_acc[-1]  # after the last finished epoch (a Stop does not wait for another pass)
        result.history[v] = hist
        result.seconds[v] = hist.seconds
        result.solved[v] = hist.solved_epoch
        result.params[v] = model.n_params()
        result.models[v] = model
    return result


class FewerStrings:
    """A LetterRecall task whose held-out check reads its first `n` strings, and all of them whenever the few leave
    `target` within reach: a model stops exactly where the full check would stop it (notebook 04)."""

    def __init__(self, task, n, target):
        self.task, self.n, self.target = task, check_int("eval_strings", n, 1, len(task.test_x)), target
        self.few = copy.copy(task)  # shares the training strings; only the held-out set is cut
        self.few.test_x, self.few.test_y = task.test_x[:n], task.test_y[:n]

    def __getattr__(self, name):
        return getattr(self.task, name)  # batches, loss, accuracy, test_x: the task's own

    def check(self, model, device):
        """(loss, accuracy) on the few strings, or on all when they could be at the target: with no more wrong
        answers among the few than the target allows among all."""
        loss, acc = evaluate(model, self.few, device)
        allowed = (1 - self.target) * len(self.task.test_x) if self.target is not None else -1
        return evaluate(model, self.task, device) if round((1 - acc) * self.n) <= allowed else (loss, acc)


def check_in_full(model, hist, task):
    """The last check of a training checked on fewer strings, again on all of `task`'s held-out strings: it replaces
    the last accuracy and loss (notebook 04)."""
    hist.test_loss[-1], hist.test_acc[-1] = evaluate(model, task)


ESTIMATE_LENGTH = 32  # estimate_seconds times one step at this length at most, and scales it up


def step_seconds(variant, length, size="width"):
    """Seconds of one training step (forward, backward, Adam) of `variant` at `length`, after one warm-up step: what
    estimate_seconds scales (notebook 04)."""
    cfg = RecallConfig(length=length)
    x = torch.randint(0, 26, (cfg.batch_size, length), generator=torch.Generator().manual_seed(0))  # (B, T)
    with torch.device("meta"):  # a model like the contestant's, with no draw from torch's global generator
        model = build_model(VARIANTS[variant][0], contestant_config(variant, length, size))
    model = model.to_empty(device="cpu")
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.1, generator=torch.Generator().manual_seed(0))
    opt = torch.optim.Adam(model.parameters())

    def step():
        loss = LetterRecall.loss(model(x), x[:, 0])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return time_call(step, "cpu", repeats=1, warmup=1)[0]  # in a panel's thread: see time_call on Timer


def estimate_seconds(length=20, epochs=EPOCHS, variants=CONTESTANTS, size="width", workers=SIDE_BY_SIDE,
                     timer=step_seconds):
    """About how long amnesia_test would take on this machine, at most (a model that solves the task stops
    earlier): one timed training step per contestant at length min(length, ESTIMATE_LENGTH), scaled to `length`
    (a recurrent step in proportion, attention's as the square: on 2 cores a Transformer step at 200 took 30x the
    one at 32, its n² terms already leading), times the steps, shared over the `workers` side by side. It costs a
    few short steps whatever the length asked. A panel shows it when a run will be long (notebook 04)."""
    check_int("length", length, MIN_LENGTH, MAX_LENGTH)
    check_int("epochs", epochs, 1, MAX_EPOCHS)
    cfg = RecallConfig(length=length)
    steps = (epochs * math.ceil(cfg.n_train / cfg.batch_size)
             + (epochs + 1) * math.ceil(cfg.n_test / cfg.batch_size) // 3)  # an evaluation batch: a third of a step
    short = min(length, ESTIMATE_LENGTH)
    per_model = []
    for variant in variants:
        scale = length / short if VARIANTS[variant][0] != "transformer" else (length / short) ** 2
        per_model.append(timer(variant, short, size) * scale * steps)
    return max(max(per_model), sum(per_model) / min(workers, len(per_model)))


def time_recall_step(variant="transformer", length=20, batch_size=64, model_cfg=None, repeats=5):
    """Median time of one recall training step (forward, backward, Adam) on the CPU and on the GPU (notebook 01)."""
    check_int("length", length, MIN_LENGTH, MAX_LENGTH)
    check_int("batch_size", batch_size, 1, 4096)
    kind, _ = check_variant(variant)
    cfg = model_cfg or contestant_config(variant, length)
    x = torch.randint(0, 26, (batch_size, length), generator=torch.Generator().manual_seed(0))  # (B, T)
    return time_training_step(lambda: build_model(kind, cfg), LetterRecall, (x, x[:, 0]),
                               f"one training step: {NAMES[variant]}, batch {batch_size}, length {length}", repeats)


def step_sentence(timings, reference=REFERENCE_DIR):
    """One sentence from {variant: Timing of one training step} (time_recall_step): each model's CPU time and, where
    a GPU ran too, how many times faster or slower the GPU was; without one, that its gain is not measured here and
    whether `reference` holds a GPU recording of the amnesia test (notebooks 01, 04)."""
    if not timings:
        raise ValueError("timings must hold at least one model's Timing")
    for v in timings:
        check_variant(v)
    if all(t.median("cuda") is not None for t in timings.values()):
        parts = []
        for v, t in timings.items():
            s = t.speedup()
            how = f"{s:.1f}x faster" if s >= 1 else f"{1 / s:.1f}x slower"
            parts.append(f"{NAMES[v]}: {t.median('cpu') * 1e3:.1f} ms on the CPU, {t.median('cuda') * 1e3:.1f} ms "
                         f"on the GPU (the GPU {how})")
        return "One training step: " + "; ".join(parts) + "."
    recorded = sorted(p.name for p in reference.glob("amnesia_*.json") if not p.name.endswith("_cpu.json"))
    where = (f"notebook 05 plots the GPU recording {', '.join(recorded)}" if recorded
             else "data/reference/ holds no GPU recording of the amnesia test")
    return ("One training step on the CPU: " + "; ".join(f"{NAMES[v]}: {t.median('cpu') * 1e3:.1f} ms"
                                                         for v, t in timings.items())
            + f"; {NO_GPU}, so what a GPU gains is not measured here ({where}).")


# ---------------------------------------------------------------- notebook 05: the proof

def chance_margin(n=RecallConfig.n_test, chance=CHANCE, k=3):
    """The held-out accuracy k standard errors above a guesser's on n strings: below it, an accuracy is within a
    guesser's noise (notebooks 01, 04; notebook 04's exercise asks for the same sum)."""
    check_int("n", n, 1, 10 ** 9)
    return chance + k * math.sqrt(chance * (1 - chance) / n)


def initial_model(variant, seed=0):
    """The untrained model that `train_variant(variant, ..., seed)` starts from (same seed, same weights).
    Introduced in notebook 05."""
    kind, bias = check_variant(variant)
    with seeded(seed):
        return build_model(kind, ModelConfig(forget_bias=bias))


def gradient_per_position(model, x, y):
    """‖∂loss/∂e_t‖ for every position t, where e = embed(x): (T,), averaged over the strings of x (B, T).
    Introduced in notebook 05."""
    device = next(model.parameters()).device
    was_training = model.training
    model.train()  # cuDNN runs an RNN's backward only in training mode; these models have no dropout
    e = model.embed(x.to(device)).detach().requires_grad_()  # (B, T, d): a leaf, so it gets a gradient
    logits = model.head(model.body(e))  # (B, T, n_out)
    loss = F.cross_entropy(LetterRecall.answer_logits(logits), y.to(device), reduction="sum")  # one loss per string
    (grad,) = torch.autograd.grad(loss, e)  # (B, T, d); the weights' .grad stay untouched
    model.train(was_training)
    return grad.norm(dim=-1).mean(0).cpu()  # (T,)


def decay_per_step(grad):
    """Geometric-mean factor by which the gradient shrinks per step back, from position T-1 to position 1, or to the
    earliest position after the last one whose float32 gradient underflowed to 0 (long strings) (notebook 05)."""
    g = torch.as_tensor(grad[:-1], dtype=torch.float64)  # the last position has its own direct path
    vanished = (g <= 0).nonzero()
    first = int(vanished[-1]) + 1 if len(vanished) else 0  # the positions after the last underflow
    if len(g) - first < 2:
        return 0.0  # nothing left one step back: the gradient vanished at once
    return float(torch.exp((g[first].log() - g[-1].log()) / (len(g) - 1 - first)))


@cache_finished(maxsize=64)
def train_variant(variant, length, epochs, seed=0, device=None):
    """amnesia_test for one variant at the default ModelConfig and its forget bias, every epoch (cached, so the
    panel, the sweep and the tests share runs) (notebook 05)."""
    check_variant(variant)
    return amnesia_test(length, epochs, seed, device, variants=(variant,), model_cfg=ModelConfig(), target=None)


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
        return self.runs[variant].accuracy[variant]

    def summary(self):
        """A table: the gradient reaching position 1 before and after training; at initialisation, within the model,
        position 1's against position T-1's (the last has its own direct path) and the factor per step; accuracy."""
        lines = [f"Length {self.length}, {self.epochs} epochs: ‖∂loss/∂e_1‖, the gradient reaching the first letter",
                 f"{'model':<21}{'at init':>10}{'trained':>10}{'1 vs T-1':>10}{'decay/step':>12}{'accuracy':>10}"]
        for v in self.variants:
            g = self.init[v]
            lines.append(f"{NAMES[v]:<21}{g[0]:>10.1e}{self.trained[v][0]:>10.1e}{g[0] / g[-2]:>10.1e}"
                         f"{decay_per_step(g):>12.2f}{self.accuracy(v):>10.1%}")
        return "\n".join(lines)


def gradient_experiment(length=40, epochs=2, seed=0, variants=("rnn", "lstm", "transformer"), device=None, n_probe=128):
    """Gradient per position of each variant, before and after training at `length`, on held-out strings.
    Introduced in notebook 05."""
    check_int("n_probe", n_probe, 1, RecallConfig.n_test)
    task = LetterRecall(RecallConfig(length=check_int("length", length, MIN_LENGTH, MAX_LENGTH), seed=seed))
    x, y = task.test_x[:n_probe], task.test_y[:n_probe]  # (n, T), (n,)
    result = GradientResult(length, epochs, tuple(variants))
    for v in variants:
        result.init[v] = gradient_per_position(initial_model(v, seed), x, y)
        result.runs[v] = train_variant(v, length, epochs, seed, device)
        result.trained[v] = gradient_per_position(result.runs[v].models[v], x, y)
    return result


# the cost of remembering and where attention loses live in helpers.lessons.proof; notebook 05 reads them here
from .proof import (STEPS_CAP, STEPS_PER_EPOCH, STEPS_TARGET, finer_steps, position_transfer,  # noqa: E402,F401
                    positions_transfer, steps_table, steps_to_remember)
