"""Training: one loop for every model and task (Adam, seeded, any device, interruptible from a panel)."""
import contextvars
import functools
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from .checks import check_int
from .timing import SIDE_BY_SIDE, pick_device, time_devices

MAX_EPOCHS = 1000  # the most epochs one call may ask for
PLATEAU_GAIN = 0.005  # a rise in held-out accuracy smaller than this (0.5 points) is no rise (TrainConfig.patience)


@dataclass(frozen=True)
class TrainConfig:
    """How train() runs: epochs, learning rate, seed, device, progress bar (notebook 01)."""
    epochs: int = 10             # passes over the training set
    lr: float = 3e-3             # Adam learning rate
    seed: int = 0                # seeds the weights and the batch order
    device: str | None = None    # "cpu", "cuda", "mps" or None for the best available
    progress: bool = False       # show a tqdm progress bar
    target: float | None = None  # stop once held-out accuracy reaches this (e.g. 0.99); None: train every epoch
    patience: int | None = None  # stop once held-out accuracy has not risen by 0.5 points for this many epochs


@dataclass
class History:
    """Per-epoch record; test metrics start at epoch 0 (before any training) (notebook 01)."""
    train_loss: list = field(default_factory=list)  # mean training loss of epochs 1..E
    test_loss: list = field(default_factory=list)   # held-out loss at epochs 0..E
    test_acc: list = field(default_factory=list)    # held-out accuracy at epochs 0..E
    seconds: float = 0.0                            # wall time of epochs 1..E: training steps, evaluations, callbacks
    interrupted: bool = False                       # stopped early by Ctrl-C / Stop
    solved_epoch: int | None = None                 # first epoch whose held-out accuracy reached cfg.target
    plateau_epoch: int | None = None                # the epoch at which cfg.patience found a plateau

    @property
    def epochs(self):
        """Number of completed epochs."""
        return len(self.train_loss)


class Control:
    """How a running training is watched from outside (a panel's Stop, its progress line): `stop` is checked
    before every optimiser step, `report(name, epoch, epochs)` is called after every epoch (notebook 01)."""

    def __init__(self, report=None):
        self.stop = threading.Event()  # set it to end the training at the next step, keeping what was learned
        self.report = report or (lambda name, epoch, epochs: None)


class Stopped(Exception):
    """Raised inside the training loop when its Control's stop is set; train() catches it."""


_CONTROL = contextvars.ContextVar("control", default=None)
_RUNS = contextvars.ContextVar("cached_runs", default=())  # the cache_finished calls this thread is inside


class _Run:
    """One call of a cache_finished function: `cut` turns True when any training inside it is cut short."""

    def __init__(self):
        self.cut = False


def mark_cut():
    """Note that the training going now was cut short (a Stop, a superseding change, Ctrl-C): no cache_finished
    call around it keeps its result (notebook 01)."""
    for run in _RUNS.get():
        run.cut = True


def cache_finished(maxsize=16):
    """functools.lru_cache for a function that trains: a result that a Stop, a superseding change or Ctrl-C cut
    short is returned but not kept, so asking for the same values again trains again. The decision belongs to the
    call: it is cut when a training inside it was, or when its run's Control says stop by the time it returns, in
    this thread or in the workers it started (notebooks 02, 03, 05-08, 10-13)."""
    def decorate(fn):
        store, lock = OrderedDict(), threading.Lock()

        @functools.wraps(fn)
        def cached(*args, **kwargs):
            key = (args, tuple(sorted(kwargs.items())))
            with lock:
                if key in store:
                    store.move_to_end(key)
                    return store[key]
            run = _Run()
            token = _RUNS.set(_RUNS.get() + (run,))
            try:
                result = fn(*args, **kwargs)
            finally:
                _RUNS.reset(token)
            control = _CONTROL.get()
            if not run.cut and not (control is not None and control.stop.is_set()):
                with lock:
                    store[key] = result
                    if maxsize is not None and len(store) > maxsize:
                        store.popitem(last=False)  # the least recently used
            return result
        cached.cache_clear = store.clear
        return cached
    return decorate


@contextmanager
def controlled(control):
    """Every train() inside this block obeys `control` (in this thread, and in train_kinds' workers)."""
    token = _CONTROL.set(control)
    try:
        yield control
    finally:
        _CONTROL.reset(token)


def checkpoint():
    """Raise Stopped if the Control of the run this thread is in says stop: where a long loop may end (notebook 01)."""
    control = _CONTROL.get()
    if control is not None and control.stop.is_set():
        mark_cut()
        raise Stopped


_SEED_LOCK = threading.RLock()


def seed_everything(seed):
    """Seed torch's global generator (weights, dropout); returns a generator for data order. Building a model
    right after it is safe only in the foreground with no panel running: use seeded() (notebook 01)."""
    with _SEED_LOCK:
        torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


@contextmanager
def seeded(seed=None):
    """seed_everything(seed) for the block, one thread at a time: every draw from torch's global generator in
    the block (building a model, torch.randn) comes from `seed`, whatever a panel's run or another thread does
    meanwhile, as long as they seed through here too; yields a generator for data order. With no seed the block
    goes on from the generator's state, still one thread at a time (notebook 02)."""
    with _SEED_LOCK:
        yield None if seed is None else seed_everything(seed)


def side_by_side(fn, items, workers=SIDE_BY_SIDE):
    """[fn(item) for item in items], `workers` at a time, each in its own thread with the caller's Control
    (a panel's Stop reaches them all) (notebooks 02, 04)."""
    check_int("workers", workers, 1, 64)
    if workers == 1 or len(items) <= 1:
        return [fn(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(contextvars.copy_context().run, fn, item) for item in items]
        return [future.result() for future in futures]


@torch.no_grad()
def evaluate(model, task, device=None):
    """(loss, accuracy) of `model` on the task's held-out set; a task with its own `check(model, device)` (the live
    amnesia panel's cheaper one, notebook 04) is checked with it (notebook 01)."""
    device = device or next(model.parameters()).device
    if hasattr(task, "check"):
        return task.check(model, device)
    was_training = model.training
    model.eval()
    logits = model(task.test_x.to(device))
    y = task.test_y.to(device)
    loss = task.loss(logits, y).item()
    acc = task.accuracy(logits, y)
    model.train(was_training)
    return loss, acc


def train_epoch(model, task, opt, gen, device):
    """One pass over the task's training batches; returns the mean training loss (notebook 01)."""
    model.train()
    total, n = 0.0, 0
    for x, y in task.batches(gen):
        checkpoint()
        x, y = x.to(device), y.to(device)
        loss = task.loss(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        total, n = total + loss.item() * len(x), n + len(x)
    return total / n


def check_train_config(cfg):
    """Raise ValueError unless cfg's epochs and learning rate are in range (notebook 01)."""
    check_int("epochs", cfg.epochs, 1, MAX_EPOCHS)
    if not 0 < cfg.lr <= 1:
        raise ValueError(f"lr must be in (0, 1], got {cfg.lr!r}")
    if cfg.target is not None and not 0 < cfg.target <= 1:
        raise ValueError(f"target must be None or in (0, 1], got {cfg.target!r}")
    if cfg.patience is not None:
        check_int("patience", cfg.patience, 1, MAX_EPOCHS)


def train(model, task, cfg=TrainConfig(), callback=None):
    """Train `model` on `task` with Adam; Ctrl-C (or a panel's Stop) ends early and keeps what was learned. With
    `cfg.target` the training ends at the first epoch whose held-out accuracy reaches it; with `cfg.patience` at
    the first epoch after which `patience` epochs brought no rise of 0.5 points over the best before them.

    `callback(epoch, model)` runs after evaluation at every epoch, epoch 0 included. Introduced in notebook 01.
    """
    check_train_config(cfg)
    device = pick_device(cfg.device)
    gen = torch.Generator().manual_seed(cfg.seed)  # the batch order; the weights were seeded where they were built
    model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    hist = History()

    checkpoint()  # a Stop that came before this model began: nothing to keep
    control = _CONTROL.get() or Control()
    name = type(model).__name__

    def record(epoch):
        loss, acc = evaluate(model, task, device)
        hist.test_loss.append(loss)
        hist.test_acc.append(acc)
        if callback:
            callback(epoch, model)
        note_ending(hist, epoch, cfg)
        control.report(name, epoch, cfg.epochs)

    record(0)
    bar = tqdm(range(1, cfg.epochs + 1), desc=name, disable=not cfg.progress, leave=False)
    start = time.perf_counter()
    try:
        run_epochs(bar, hist, lambda: train_epoch(model, task, opt, gen, device), record)
    finally:
        bar.close()
        model.eval()
    hist.seconds = time.perf_counter() - start
    return hist


def note_ending(hist, epoch, cfg):
    """Mark `epoch` in `hist` as solved (its held-out accuracy reached cfg.target) or as the end of a plateau
    (cfg.patience epochs without a rise of PLATEAU_GAIN over the best before them) (notebook 01)."""
    if hist.solved_epoch is None and cfg.target is not None and hist.test_acc[-1] >= cfg.target:
        hist.solved_epoch = epoch
    best_before = max(hist.test_acc[:-cfg.patience], default=None) if cfg.patience else None
    if best_before is not None and max(hist.test_acc[-cfg.patience:]) < best_before + PLATEAU_GAIN:
        hist.plateau_epoch = epoch


def run_epochs(bar, hist, step, record):
    """For each epoch of `bar`: step() (one training epoch, its mean loss), then record(epoch), until a target or a
    plateau ends the training; Ctrl-C or a Stop ends it early and marks `hist` interrupted (notebook 01)."""
    try:
        for epoch in bar:
            if hist.solved_epoch is not None or hist.plateau_epoch is not None:
                break
            hist.train_loss.append(step())
            record(epoch)
            bar.set_postfix(loss=f"{hist.train_loss[-1]:.3f}", test_acc=f"{hist.test_acc[-1]:.2f}")
    except (KeyboardInterrupt, Stopped):
        hist.interrupted = True
        mark_cut()


def train_kinds(build, kinds, task, cfg=TrainConfig(), callback=None, workers=1):
    """Train build(kind) for each kind from the same seed, batches and budget: {kind: (model on the CPU, History)}.

    `callback(kind, epoch, model)` runs at every epoch. A kind that a Stop came before is left out of the result.
    `workers` models train at once, each in its own thread on one core: the numbers are those of one after
    another, as each model's steps run in order in its own thread. The shared loop of notebooks 04, 05, 11 and 13.
    """
    check_train_config(cfg)
    models = {}
    for kind in kinds:  # built one after another: the global seed gives each the same initial weights
        with seeded(cfg.seed):
            models[kind] = build(kind)

    def fit(kind):
        hook = None if callback is None else (lambda epoch, m: callback(kind, epoch, m))
        try:
            hist = train(models[kind], task, cfg, callback=hook)
        except Stopped:  # checkpoint() has marked the run cut: nothing cached keeps this result
            return None  # a Stop came before this kind began: it is left out
        return models[kind].cpu().eval(), hist

    out = dict(zip(models, side_by_side(fit, list(models), workers)))
    return {kind: trained for kind, trained in out.items() if trained is not None}


def time_training_step(build, task, batch, what, repeats=5):
    """Median time of one training step (forward, backward, Adam) of build() on `batch` = (x, y),
    on the CPU and on the GPU side by side (helpers.time_devices). Introduced in notebook 01."""

    def make_work(device):
        with seeded(0):
            model = build().to(device)
        opt = torch.optim.Adam(model.parameters())
        x, y = (t.to(device) for t in batch)

        def step():
            loss = task.loss(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        return step
    return time_devices(make_work, what, repeats=repeats)
