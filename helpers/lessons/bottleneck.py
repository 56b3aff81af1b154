"""The bottleneck in bits (notebook 02): what a k-th-letter-back model's held-out loss says it holds of a random
string, a verdict on the end of training that reads the loss as well as the accuracy, and the sweep over widths
and seeds that `python -m helpers.record bottleneck` keeps in data/reference/bottleneck_cpu.json."""
import math
import time

import torch
import torch.nn.functional as F

from ..core.checks import check_choice, check_int, cpu_maker
from ..core.models import ModelConfig, build_model
from ..core.tasks import ASK, LETTERS, MAX_K, KBackConfig, KBackRecall
from ..core.train import TrainConfig, seeded, train

BITS_PER_LETTER = math.log2(len(LETTERS))  # a random letter out of 26: 4.70 bits
TAIL = 0.2         # the verdict reads the last 20% of the epochs
LOSS_DROP = 0.01   # still learning: the held-out loss fell by 1% or more over the tail
ACC_RISE = 0.005   # still learning: the held-out accuracy rose by 0.5 points or more over the tail
WHOLE = 0.99       # holds the whole string: held-out accuracy of 99% or more
KINDS = ("lstm", "transformer")


def bits_held(ce_nats, length):
    """L·log2 26 − (held-out cross-entropy summed over the string's L letters, in nats) / ln 2, clipped at 0: the
    bits of a random string the model holds and reads back (notebook 02). A tensor of CE gives one value each."""
    check_int("length", length, 1, MAX_K)
    ce = torch.as_tensor(ce_nats, dtype=torch.float64)
    if (ce < 0).any():
        raise ValueError(f"ce_nats must be a cross-entropy of 0 or more nats, got {ce_nats!r}")
    bits = (length * BITS_PER_LETTER - ce / math.log(2)).clamp(min=0)
    return bits.item() if bits.dim() == 0 else bits


@torch.no_grad()
def string_ce(model, task):
    """Held-out cross-entropy summed over a string's L letters, in nats (notebook 02): for ask="all" per string,
    then the mean; for ask="one" (one k asked per string) the mean of each k, summed over k."""
    model.eval()
    logits = task.answer_logits(model(task.test_x.to(next(model.parameters()).device))).cpu()
    if task.cfg.ask == "all":  # (N, L, 26)
        return F.cross_entropy(logits.transpose(1, 2), task.test_y, reduction="none").sum(1).mean().item()
    ce = F.cross_entropy(logits, task.test_y, reduction="none")  # (N,)
    per_k = torch.zeros(task.cfg.length).index_add_(0, task.test_k - 1, ce) / task.cfg.per_k_test  # (L,)
    return per_k.sum().item()


def verdict(test_loss, test_acc, tail=TAIL):
    """How a training ended, from its held-out loss and accuracy at epochs 0..E (notebook 02): "whole string"
    (accuracy ≥ 99%), "still learning" (over the last `tail` of the epochs the loss fell by ≥ 1% or the accuracy
    rose by ≥ 0.5 points: a count at this budget, not a capacity) or "plateau"."""
    if len(test_loss) != len(test_acc) or len(test_loss) < 2:
        raise ValueError(f"test_loss and test_acc must hold the same 2 or more epochs, got {len(test_loss)} and "
                         f"{len(test_acc)}")
    if not 0 < tail <= 1:
        raise ValueError(f"tail must be in (0, 1], got {tail!r}")
    if test_acc[-1] >= WHOLE:
        return "whole string"
    start = len(test_loss) - 1 - max(1, round(tail * (len(test_loss) - 1)))  # the epoch the tail starts from
    fell = (test_loss[start] - min(test_loss[start + 1:])) / test_loss[start]
    rose = max(test_acc[start + 1:]) - test_acc[start]
    return "still learning" if fell >= LOSS_DROP or rose >= ACC_RISE else "plateau"


def name(kind, d, ask="one"):
    """'LSTM d=16', 'Transformer d=64', 'LSTM d=64, all at once': a model's name in notebook 02 and the recording."""
    check_choice("kind", kind, KINDS)
    check_choice("ask", ask, ASK)
    return f"{'LSTM' if kind == 'lstm' else 'Transformer'} d={d}" + (", all at once" if ask == "all" else "")


def train_bits(kind, d, length, epochs, seed=0, ask="one", device=None):
    """Train one model on k-th-letter-back recall (new strings at every step) for exactly `epochs` epochs; return
    (row, history, model): the row holds its held-out accuracy, bits held, verdict and curves (notebook 02)."""
    check_int("d", d, 4, 1024)
    if d % 4:
        raise ValueError(f"d must be a multiple of 4 (the Transformer's 4 heads), got {d!r}")
    task = KBackRecall(KBackConfig(length=length, ask=ask, seed=seed, fresh=True))
    cfg = ModelConfig(vocab_size=task.vocab_size, n_out=task.n_out, d_model=d, n_layers=1)
    with seeded(seed):  # one seeded build at a time, whatever runs beside it
        model = build_model(check_choice("kind", kind, KINDS), cfg)
    start = time.perf_counter()
    hist = train(model, task, TrainConfig(epochs=epochs, seed=seed, device=device))
    per_k = task.accuracy_per_k(model)
    row = {"model": name(kind, d, ask), "kind": kind, "ask": ask, "d": d, "length": length, "seed": seed,
           "params": model.n_params(), "epochs": hist.epochs,
           "steps": hist.epochs * math.ceil(task.cfg.n_train / task.cfg.batch_size),
           "test_acc": round(per_k.mean().item(), 5), "bits": round(bits_held(string_ce(model, task), length), 3),
           "acc_per_k": [round(a, 5) for a in per_k.tolist()],
           "test_loss": [round(v, 5) for v in hist.test_loss], "test_acc_curve": [round(a, 5) for a in hist.test_acc],
           "seconds": round(time.perf_counter() - start, 1), "interrupted": hist.interrupted}
    row["verdict"] = "stopped" if hist.interrupted else verdict(hist.test_loss, hist.test_acc)  # a Stop: no verdict
    return row, hist, model.cpu()


def plan(quick=False):
    """What `python -m helpers.record bottleneck` measures (quick: a tiny smoke test): both models with a
    question token, and the LSTM answering all at once, at each width, length and seed, for 60 epochs."""
    if quick:
        return {"widths": [8], "lengths": [4], "seeds": [0], "epochs": 2,
                "runs": [["lstm", "one"], ["transformer", "one"]]}
    return {"widths": [8, 16, 32, 64], "lengths": [10, 20], "seeds": [0, 1, 2], "epochs": 60,
            "runs": [["lstm", "one"], ["transformer", "one"], ["lstm", "all"]]}


def sweep(settings, done=(), log=print, device="cpu"):
    """Train every (run, width, length, seed) of `settings` not in `done` (its (model, length, seed) keys) and
    pass each row to `log` (python -m helpers.record bottleneck, notebook 02)."""
    for length in sorted(settings["lengths"], reverse=True):  # the longest first: the notebook's default
        for d in settings["widths"]:
            for seed in settings["seeds"]:
                for kind, ask in settings["runs"]:
                    if (name(kind, d, ask), length, seed) not in set(done):
                        log(train_bits(kind, d, length, settings["epochs"], seed, ask, device)[0])


def summarise(rows):
    """Per (model, length), over seeds: {(model, length): {params, seeds, bits/acc mean, low, high, verdicts}}
    (notebook 02)."""
    groups = {}
    for r in rows:
        groups.setdefault((r["model"], r["length"]), []).append(r)
    out = {}
    for key, rs in groups.items():
        bits, acc = [r["bits"] for r in rs], [r["test_acc"] for r in rs]
        out[key] = {"params": rs[0]["params"], "d": rs[0]["d"], "seeds": len(rs),
                    "verdicts": [r["verdict"] for r in rs],
                    "bits": (sum(bits) / len(bits), min(bits), max(bits)),
                    "acc": (sum(acc) / len(acc), min(acc), max(acc))}
    return out


SECONDS_PER_EPOCH_LETTER = 0.045  # the panel's three models side by side: seconds per epoch and per letter, 2 cores


def estimate_seconds(length, epochs):
    """About how long notebook 02's panel takes to train its three models (both LSTMs and the Transformer side by
    side on a 2-core CPU, measured at length 20, 60 epochs: about a minute), in seconds."""
    check_int("length", length, 2, MAX_K)
    check_int("epochs", epochs, 1, 1000)
    return SECONDS_PER_EPOCH_LETTER * epochs * (length + 1)


def recorded_table(rec):
    """The recording's table, one block per length: parameters, accuracy and bits held as mean [lowest, highest]
    over the seeds, and how the runs ended (notebook 02)."""
    settings, stats = rec["settings"], summarise(rec["results"])
    runs = [name(kind, d, ask) for kind, ask in settings["runs"] for d in settings["widths"]]
    lines = []
    for length in settings["lengths"]:
        lines += [f"length {length} (the whole string: {length * BITS_PER_LETTER:.1f} bits)",
                  f"{'model':<24}{'params':>8}{'accuracy':>22}{'bits held':>22}   at the end"]
        for run in runs:
            s = stats[run, length]
            ends = ", ".join(f"{s['verdicts'].count(v)} {v}" for v in dict.fromkeys(s["verdicts"]))
            lines.append(f"{run:<24}{s['params']:>8,}{s['acc'][0]:>8.1%} [{s['acc'][1]:>5.1%}, {s['acc'][2]:>6.1%}]"
                         f"{s['bits'][0]:>8.1f} [{s['bits'][1]:>5.1f}, {s['bits'][2]:>5.1f}]   {ends}")
        lines.append("")
    return "\n".join(lines[:-1])


def twin(rec, row):
    """The recorded run with `row`'s model, length, seed and budget, or None (notebook 02)."""
    return next((r for r in rec["results"] if (r["model"], r["length"], r["seed"], r["epochs"]) ==
                 (row["model"], row["length"], row["seed"], row["epochs"])), None)


def same_setup(rec, device, torch_version, cpu_capability, maker=None):
    """True when this machine runs the recording's device kind, torch release and CPU kernels on a CPU of the same
    maker (None: this machine's): only then must a live run equal its recorded twin to the last digits shown
    (notebook 02)."""
    made = rec["provenance"]
    here = (device, torch_version.split("+")[0], cpu_capability, cpu_maker() if maker is None else maker)
    return here == (made["device"], made["torch"].split("+")[0], made["cpu_capability"], cpu_maker(made["cpu"]))
