"""The mathematical proof: the gradient that reaches each position, and the amnesia curve (held-out
accuracy against length). `python -m helpers.proof` records a sweep to data/reference/."""
import argparse
import functools
import json
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
import torch.nn.functional as F

from .device import device_name, pick_device
from .experiments import amnesia_test
from .models import ModelConfig, build_model
from .plots import COLORS
from .tasks import MAX_LENGTH, FirstLetterRecall, RecallConfig, check_int
from .train import MAX_EPOCHS, TrainConfig, seed_everything

VARIANTS = {  # name -> (model kind, forget-gate bias added at initialisation)
    "rnn": ("rnn", 0.0),
    "lstm": ("lstm", 0.0),
    "lstm_fb1": ("lstm", 1.0),
    "transformer": ("transformer", 0.0),
}
LABELS = {"rnn": "Plain RNN", "lstm": "LSTM", "lstm_fb1": "LSTM, forget bias 1", "transformer": "Transformer"}
STYLES = {"rnn": ("o-", COLORS["rnn"]), "lstm": ("s-", COLORS["lstm"]), "lstm_fb1": ("s--", "#ff7f0e"),
          "transformer": ("^-", COLORS["transformer"])}
REFERENCE_DIR = Path(__file__).resolve().parent.parent / "data" / "reference"
CHANCE = 1 / FirstLetterRecall.n_classes


def check_variant(variant):
    """Raise ValueError unless `variant` names one of VARIANTS; return its (kind, forget bias)."""
    if variant not in VARIANTS:
        raise ValueError(f"variant must be one of {list(VARIANTS)}, got {variant!r}")
    return VARIANTS[variant]


def initial_model(variant, seed=0):
    """The untrained model that `train_variant(variant, ..., seed)` starts from (same seed, same weights)."""
    kind, bias = check_variant(variant)
    seed_everything(seed)
    return build_model(kind, ModelConfig(forget_bias=bias))


def gradient_per_position(model, x, y):
    """‖∂loss/∂e_t‖ for every position t, where e = embed(x): (T,), averaged over the strings of x (B, T)."""
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
    """Geometric-mean factor by which the gradient shrinks per step back, over positions 1 .. T-1."""
    g = torch.as_tensor(grad[:-1], dtype=torch.float64)  # the last position has its own direct path
    return float(torch.exp((g[0].log() - g[-1].log()) / (len(g) - 1)))


@functools.lru_cache(maxsize=64)
def train_variant(variant, length, epochs, seed=0, device=None):
    """amnesia_test for one variant (cached, so the panel, the sweep and the tests share runs)."""
    kind, bias = check_variant(variant)
    return amnesia_test(length, epochs, seed, device, kinds=(kind,), model_cfg=ModelConfig(forget_bias=bias))


@dataclass
class GradientResult:
    """Per-position gradient norms at initialisation and after training, per variant, at one length."""
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
    """Gradient per position of each variant, before and after training at `length`, on held-out strings."""
    check_int("n_probe", n_probe, 1, RecallConfig.n_test)
    task = FirstLetterRecall(RecallConfig(length=check_int("length", length, 2, MAX_LENGTH), seed=seed))
    x, y = task.test_x[:n_probe], task.test_y[:n_probe]  # (n, T), (n,)
    result = GradientResult(length, epochs, tuple(variants))
    for v in variants:
        result.init[v] = gradient_per_position(initial_model(v, seed), x, y)
        result.runs[v] = train_variant(v, length, epochs, seed, device)
        result.trained[v] = gradient_per_position(result.runs[v].models[VARIANTS[v][0]], x, y)
    return result


def plot_gradients(result):
    """Two log-scale panels, at initialisation and after training: ‖∂loss/∂e_t‖ against position t."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), sharey=True)
    positions = np.arange(1, result.length + 1)
    for ax, grads, title in [(axes[0], result.init, "at initialisation"),
                             (axes[1], result.trained, f"after {result.epochs} epochs")]:
        for v in result.variants:
            marker, color = STYLES[v]
            ax.semilogy(positions, grads[v].clamp_min(1e-30), marker, ms=3, color=color, label=LABELS[v])
        ax.set(xlabel="position t (1 = the letter to recall)", title=title)
        ax.grid(True, which="major", alpha=0.3)
    axes[0].set_ylabel("‖∂loss/∂e_t‖ (log scale)")
    axes[0].legend(fontsize=8)
    fig.suptitle(f"The gradient that reaches each position, length {result.length}")
    fig.tight_layout()
    return fig


def amnesia_curve(lengths=(5, 10, 20, 40, 80), epochs=2, seeds=(0,), variants=("rnn", "lstm", "transformer"),
                  device=None, log=None):
    """Held-out accuracy of every (variant, length, seed) at one training budget: a list of run records."""
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
    """{variant: {length: (mean, min, max) accuracy over seeds}}, after `epoch` epochs (None: the last)."""
    table = {}
    for r in runs:
        acc = r["accuracy"] if epoch is None else r["test_acc"][epoch]
        table.setdefault(r["model"], {}).setdefault(r["length"], []).append(acc)
    return {v: {L: (float(np.mean(a)), min(a), max(a)) for L, a in sorted(by_len.items())} for v, by_len in table.items()}


def plot_curve(runs, ax=None, title=None, epoch=None):
    """Held-out accuracy against length (log scale), one line per variant, min-max over seeds, chance dashed."""
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.6))
    for v, by_len in curve_table(runs, epoch).items():
        lengths = list(by_len)
        mean, low, high = (np.array([by_len[L][i] for L in lengths]) for i in range(3))
        marker, color = STYLES[v]
        ax.errorbar(lengths, mean, yerr=[mean - low, high - mean], fmt=marker, ms=4, capsize=3, color=color,
                    label=LABELS[v])
    ax.axhline(CHANCE, color="k", lw=0.8, ls=":", label=f"chance (1/26 = {CHANCE:.1%})")
    ax.set_xscale("log")
    lengths = sorted({r["length"] for r in runs})
    ax.set_xticks(lengths, [str(L) for L in lengths])
    ax.set_xticks([], minor=True)
    ax.set(xlabel="sequence length (log scale)", ylabel="held-out accuracy", ylim=(-0.03, 1.03), title=title)
    ax.legend(fontsize=8)
    return ax


def environment(device):
    """Date, device and package versions, for a recorded file."""
    device = torch.device(device)
    return {"date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
            "time_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "device": device.type, "device_name": device_name(device),
            "torch": torch.__version__, "cuda": torch.version.cuda,
            "cudnn": torch.backends.cudnn.version() if device.type == "cuda" else None,
            "python": platform.python_version(), "platform": platform.platform(), "cpu_threads": torch.get_num_threads()}


def default_path(device):
    """data/reference/amnesia_sweep_<device>.json for a torch device."""
    return REFERENCE_DIR / f"amnesia_sweep_{torch.device(device).type}.json"


def record_sweep(lengths, epochs, seeds, variants, device=None, path=None, log=print):
    """Run the sweep and write it, with date, device, versions and settings, as JSON; return the record."""
    device = pick_device(device)
    path = Path(path or default_path(device))
    record = {**environment(device), "complete": False,
              "settings": {"lengths": list(lengths), "epochs": epochs, "seeds": list(seeds),
                           "variants": {v: check_variant(v) for v in variants},
                           "recall": {k: v for k, v in asdict(RecallConfig()).items() if k not in ("length", "seed")},
                           "model": asdict(ModelConfig()), "lr": TrainConfig.lr},
              "runs": []}
    start, cpu_start = time.perf_counter(), time.process_time()

    def save(run):
        if run is not None:
            record["runs"].append(run)
            log(f"{run['model']:<12} length {run['length']:>4} seed {run['seed']}: "
                f"accuracy {run['accuracy']:.1%} ({run['seconds']:.1f} s)")
        record["wall_seconds"] = round(time.perf_counter() - start, 1)
        record["cpu_seconds"] = round(time.process_time() - cpu_start, 1)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record, indent=1) + "\n")  # rewritten after every run: a stopped sweep keeps its runs

    amnesia_curve(lengths, epochs, seeds, variants, device, log=save)
    record["complete"] = True
    save(None)
    return record


def load_sweep(path=None):
    """A recorded sweep: `path`, else the GPU one in data/reference/ if there is one, else the CPU one."""
    if path is None:
        found = sorted(REFERENCE_DIR.glob("amnesia_sweep_*.json"), key=lambda p: p.name.endswith("_cpu.json"))
        if not found:
            raise FileNotFoundError(f"no amnesia_sweep_*.json in {REFERENCE_DIR}; record one with python -m helpers.proof")
        path = found[0]
    return json.loads(Path(path).read_text())


def _ints(text):
    """'5,10,20' -> [5, 10, 20]."""
    return [int(v) for v in text.split(",") if v]


def main(argv=None):
    """Command line: record the full amnesia sweep on the best device here."""
    parser = argparse.ArgumentParser(prog="python -m helpers.proof", description=main.__doc__)
    parser.add_argument("--lengths", type=_ints, default=[5, 10, 20, 40, 80, 160, 320, 640, 1000])
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--seeds", type=_ints, default=[0, 1, 2])
    parser.add_argument("--models", type=lambda s: s.split(","), default=list(VARIANTS))
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when present)")
    parser.add_argument("--out", default=None, help="default: data/reference/amnesia_sweep_<device>.json")
    args = parser.parse_args(argv)
    record = record_sweep(args.lengths, args.epochs, args.seeds, args.models, args.device, args.out)
    print(f"wrote {args.out or default_path(record['device'])}: {len(record['runs'])} runs, "
          f"{record['wall_seconds']:.0f} s wall, {record['cpu_seconds']:.0f} s CPU")
    return record


if __name__ == "__main__":
    main(sys.argv[1:])
