"""Where the fixed state loses (notebook 14, part 3): associative recall, k key-value pairs and then one key, held
first by a hand-built d×d matrix state and by a key-value cache, then learned by a one-layer matrix memory and a
one-layer Transformer at two widths as the pairs grow past the state's width."""
import math

import torch
import torch.nn.functional as F

from ..core.assoc import AssocConfig, AssociativeRecall, PairEmbedding
from ..core.checks import check_int
from ..core.jobs import run_jobs
from ..core.models import ModelConfig, TransformerModel
from ..core.train import TrainConfig, seeded, train
from .linear import MatrixMemoryModel

SHARP = 4.0  # the cache's softmax reads scores k·q·SHARP·√d: sharp enough to pick the one matching key


def hand_built_recall(task, width, seed=0):
    """Held-out accuracy on an AssociativeRecall task of two hand-built memories with random unit key and value
    vectors of `width`: the (width × width) matrix state Σ v_i·k_iᵀ read by the question's key, and the key-value
    cache (all P keys and values kept) read by softmax attention -> (matrix accuracy, cache accuracy) (notebook 14)."""
    d = check_int("width", width, 2, 4096)
    gen = torch.Generator().manual_seed(seed)
    key_vec = F.normalize(torch.randn(task.cfg.n_keys, d, generator=gen), dim=-1)    # (n_keys, d)
    value_vec = F.normalize(torch.randn(task.cfg.n_values, d, generator=gen), dim=-1)  # (n_values, d)
    key_ids, value_ids, asked = task.split(task.test_x)                              # (n, P), (n, P), (n,)
    keys, values, q = key_vec[key_ids], value_vec[value_ids], key_vec[asked]         # (n, P, d), (n, P, d), (n, d)
    S = values.transpose(1, 2) @ keys                                                # (n, d, d): Σ v_i·k_iᵀ
    from_state = (S @ q[..., None])[..., 0]                                          # (n, d)
    weights = (SHARP * math.sqrt(d) * (keys @ q[..., None])[..., 0]).softmax(-1)     # (n, P)
    from_cache = (weights[:, None, :] @ values)[:, 0]                                # (n, d)
    y = task.test_y
    return tuple(((read @ value_vec.T).argmax(-1) == y).float().mean().item() for read in (from_state, from_cache))


# ------------------------------------------------------------------------------------- the trained memories

PAIRS = (2, 4, 8, 16, 32)  # pairs per string, recorded
WIDTHS = (16, 64)          # d: one head, so the matrix memory's state is d×d
KEYS, VALUES = 64, 16      # the alphabets: 64 keys cannot all be orthogonal in 16 dimensions, they can in 64
EPOCHS = 40                # 40 × 32 steps of 64 new strings: the budget of every recorded run
KINDS = ("matrix", "transformer")
LRS = (TrainConfig.lr, 1e-2)  # the course's learning rate and a larger one, each model at both


def assoc_task(pairs, seed=0):
    """Fused associative recall with `pairs` pairs of KEYS keys and VALUES values, new strings at every step
    (notebook 14)."""
    return AssociativeRecall(AssocConfig(pairs=check_int("pairs", pairs, 1, KEYS), n_keys=KEYS, n_values=VALUES,
                                         seed=seed, fused=True))


def assoc_model(kind, width, task):
    """A one-layer, one-head matrix memory or Transformer of `width` for a fused task: pairs read by a PairEmbedding
    (notebook 14)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {list(KINDS)}, got {kind!r}")
    cfg = ModelConfig(vocab_size=task.vocab_size, n_out=task.n_classes, d_model=check_int("width", width, 2, 1024),
                      n_layers=1, n_heads=1, max_len=task.cfg.pairs + 1)
    model = (MatrixMemoryModel if kind == "matrix" else TransformerModel)(cfg)
    model.tok = PairEmbedding(task.cfg.n_keys, task.cfg.n_values, width)
    return model


def train_assoc(kind, width, pairs, epochs=EPOCHS, seed=0, lr=TrainConfig.lr, device=None):
    """Train assoc_model(kind, width) on assoc_task(pairs) from `seed`: (model, History) (notebook 14)."""
    task = assoc_task(pairs, seed)
    with seeded(seed):
        model = assoc_model(kind, width, task)
    hist = train(model, task, TrainConfig(epochs=epochs, seed=seed, lr=lr, device=device))
    return model.cpu().eval(), hist


def assoc_run(kind, width, pairs, lr, seed, epochs=EPOCHS, device=None):
    """One recorded run: held-out accuracy per epoch and at the end, parameters, seconds (notebook 14)."""
    model, hist = train_assoc(kind, width, pairs, epochs, seed, lr, device)
    return {"model": kind, "width": width, "pairs": pairs, "lr": lr, "seed": seed, "acc": round(hist.test_acc[-1], 4),
            "test_acc": [round(a, 4) for a in hist.test_acc], "seconds": round(hist.seconds, 2),
            "params": model.n_params()}


def capacity_settings(quick=False):
    """What the capacity recording holds as its settings (quick: a smoke test) (notebook 14)."""
    return {"pairs": [2] if quick else list(PAIRS), "widths": [16] if quick else list(WIDTHS),
            "models": list(KINDS), "learning_rates": [LRS[0]] if quick else list(LRS),
            "seeds": [0] if quick else [0, 1, 2], "epochs": 2 if quick else EPOCHS,
            "keys": KEYS, "values": VALUES, "layers": 1, "heads": 1, "fused_pairs": True, "fresh_strings": True,
            "steps_per_epoch": AssocConfig().n_train // AssocConfig().batch_size}


def record_capacity(device, path, quick=False, log=print, jobs=1):
    """`python -m helpers.record capacity [--jobs N]`: both models at every width, pairs count and learning rate,
    3 seeds, resumable, stored in the plan's order (notebook 14)."""
    from ..record import Recording
    s = capacity_settings(quick)
    rec = Recording("capacity", device, s, path)
    key = ("model", "width", "pairs", "lr", "seed")
    done = set(rec.resume(key=key))
    plan = [(kind, width, pairs, lr, seed) for seed in s["seeds"] for lr in s["learning_rates"]
            for width in s["widths"] for pairs in s["pairs"] for kind in s["models"]]
    todo = [run for run in plan if run not in done]
    for run in run_jobs(assoc_run, [(*run, s["epochs"], device) for run in
                                    sorted(todo, key=lambda r: -r[1] * r[2] if jobs > 1 else 0)], jobs):
        log(f"{run['model']:<12} width {run['width']:>3} pairs {run['pairs']:>3} lr {run['lr']} seed {run['seed']}: "
            f"{run['acc']:.1%} ({run['seconds']:.1f} s)")
        rec.add(run)
    order = {run: n for n, run in enumerate(plan)}
    rec.data["results"].sort(key=lambda r: order[tuple(r[k] for k in key)])
    return rec.finish()


def accuracy_table(runs, lr):
    """{(model, width): {pairs: (median, lowest, highest) held-out accuracy over seeds}} of the runs recorded at
    learning rate `lr` (notebook 14)."""
    table = {}
    for r in (r for r in runs if r["lr"] == lr):
        table.setdefault((r["model"], r["width"]), {}).setdefault(r["pairs"], []).append(r["acc"])
    return {key: {P: (sorted(a)[len(a) // 2], min(a), max(a)) for P, a in sorted(row.items())}
            for key, row in table.items()}


def acc_text(cell):
    """One cell of accuracy_table as text: '53% (41%-60%)', the median (lowest-highest) over the seeds (notebook 14)."""
    median, low, high = cell
    return f"{median:.0%} ({low:.0%}-{high:.0%})"
