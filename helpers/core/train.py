"""Training: one loop for every model and task (Adam, seeded, any device, interruptible)."""
import time
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from .checks import check_int
from .timing import pick_device, time_devices

MAX_EPOCHS = 1000  # the most epochs one call may ask for


@dataclass
class TrainConfig:
    """How train() runs: epochs, learning rate, seed, device, progress bar (notebook 01)."""
    epochs: int = 10        # passes over the training set
    lr: float = 3e-3        # Adam learning rate
    seed: int = 0           # seeds the weights and the batch order
    device: str = None      # "cpu", "cuda", "mps" or None for the best available
    progress: bool = False  # show a tqdm progress bar


@dataclass
class History:
    """Per-epoch record; test metrics start at epoch 0 (before any training) (notebook 01)."""
    train_loss: list = field(default_factory=list)  # mean training loss of epochs 1..E
    test_loss: list = field(default_factory=list)   # held-out loss at epochs 0..E
    test_acc: list = field(default_factory=list)    # held-out accuracy at epochs 0..E
    seconds: float = 0.0                            # wall time of the training steps
    interrupted: bool = False                       # stopped early by Ctrl-C / Stop

    @property
    def epochs(self):
        """Number of completed epochs."""
        return len(self.train_loss)


def seed_everything(seed):
    """Seed torch's global generator (weights, dropout); returns a generator for data order (notebook 01)."""
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


@torch.no_grad()
def evaluate(model, task, device=None):
    """(loss, accuracy) of `model` on the task's held-out set (notebook 01)."""
    device = device or next(model.parameters()).device
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


def train(model, task, cfg=TrainConfig(), callback=None):
    """Train `model` on `task` with Adam; Ctrl-C (or Stop) ends early and keeps what was learned.

    `callback(epoch, model)` runs after evaluation at every epoch, epoch 0 included. Introduced in notebook 01.
    """
    check_train_config(cfg)
    device = pick_device(cfg.device)
    gen = seed_everything(cfg.seed)
    model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    hist = History()

    def record(epoch):
        loss, acc = evaluate(model, task, device)
        hist.test_loss.append(loss)
        hist.test_acc.append(acc)
        if callback:
            callback(epoch, model)

    record(0)
    bar = tqdm(range(1, cfg.epochs + 1), desc=type(model).__name__, disable=not cfg.progress, leave=False)
    start = time.perf_counter()
    try:
        for epoch in bar:
            hist.train_loss.append(train_epoch(model, task, opt, gen, device))
            record(epoch)
            bar.set_postfix(loss=f"{hist.train_loss[-1]:.3f}", test_acc=f"{hist.test_acc[-1]:.2f}")
    except KeyboardInterrupt:
        hist.interrupted = True
    finally:
        bar.close()
        model.eval()
    hist.seconds = time.perf_counter() - start
    return hist


def train_kinds(build, kinds, task, cfg=TrainConfig(), callback=None):
    """Train build(kind) for each kind from the same seed, batches and budget: {kind: (model on the CPU, History)}.

    `callback(kind, epoch, model)` runs at every epoch. The shared loop of notebooks 04, 05, 11 and 13.
    """
    check_train_config(cfg)
    out = {}
    for kind in kinds:
        seed_everything(cfg.seed)  # the same initial weights for the same seed
        model = build(kind)
        hook = None if callback is None else (lambda epoch, m, kind=kind: callback(kind, epoch, m))
        hist = train(model, task, cfg, callback=hook)
        out[kind] = (model.cpu().eval(), hist)
    return out


def time_training_step(build, task, batch, what, repeats=5):
    """Median time of one training step (forward, backward, Adam) of build() on `batch` = (x, y),
    on the CPU and on the GPU side by side (helpers.time_devices). Introduced in notebook 01."""

    def make_work(device):
        seed_everything(0)
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
