"""Notebook 05's proof, its longer experiments: the training steps that remembering costs against the length
(the recording's sweep, `python -m helpers.record amnesia`), and where attention loses: recall at lengths never
trained on, with each way of telling the Transformer the positions (ModelConfig.positions)."""
import functools
from dataclasses import replace

from ..core.checks import check_int
from ..core.models import POSITIONS, build_model
from ..core.tasks import MAX_LENGTH, MIN_LENGTH, LetterRecall, RecallConfig
from ..core.timing import SIDE_BY_SIDE, pick_device
from ..core.train import TrainConfig, evaluate, side_by_side, train_kinds
from .amnesia import (LEARNING_RATES, TARGET, VARIANTS, amnesia_test, check_variant, contestant_config,
                      shared_lr)

STEPS_TARGET = 0.9      # the held-out accuracy that counts as "remembers" in the cost-of-remembering curve
STEPS_CAP = 3200        # the most training steps a model is given there (100 epochs of 32 steps of 64 strings)
STEPS_PER_EPOCH = 32    # held-out accuracy is measured after every 32 steps


def steps_to_remember(lengths=(5, 10, 20), seeds=(0,), variants=("rnn", "lstm", "lstm_fb1", "transformer"),
                      target=STEPS_TARGET, max_steps=STEPS_CAP, device=None, done=(), log=None):
    """The cost of remembering: for every (seed, length, variant), the training steps a contestant (width 48,
    new strings at every step) needs to reach `target` held-out accuracy, measured every 32 steps, or None when
    `max_steps` were not enough. Variants train side by side; (variant, length, seed) in `done` are skipped.
    A list of run records (notebook 05; `python -m helpers.record amnesia` keeps the long version)."""
    for length in lengths:
        check_int("length", length, MIN_LENGTH, MAX_LENGTH)
    for v in variants:
        check_variant(v)
    check_int("max_steps", max_steps, STEPS_PER_EPOCH, 10**6)
    if not 0 < target <= 1:
        raise ValueError(f"target must be in (0, 1], got {target!r}")
    runs, skip = [], set(map(tuple, done))
    for seed in seeds:
        for length in lengths:
            todo = tuple(v for v in variants if (v, length, seed) not in skip)
            groups = {}  # learning rate -> its variants: one amnesia_test each, the groups side by side
            for v in todo:
                groups.setdefault(LEARNING_RATES.get(v, TrainConfig.lr), []).append(v)
            train = functools.partial(amnesia_test, length, max_steps // STEPS_PER_EPOCH, seed, device, target=target)
            results = side_by_side(lambda group, train=train: train(variants=tuple(group)), list(groups.values()),
                                   workers=len(groups) or 1)
            for result in results:
                for v in result.history:
                    runs.append(run_record(result, v, length, seed))
                    if log:
                        log(runs[-1])
    return runs


def run_record(result, variant, length, seed):
    """One run of the cost of remembering as the recording keeps it (notebook 05)."""
    hist, solved = result.history[variant], result.solved[variant]
    return {"model": variant, "length": length, "seed": seed,
            "steps": None if solved is None else solved * STEPS_PER_EPOCH,
            "test_acc": [round(a, 4) for a in hist.test_acc], "seconds": round(hist.seconds, 2),
            "params": result.params[variant]}


def steps_table(runs):
    """{variant: {length: (median steps, fewest, most, seeds beyond the cap, seeds)}} over the seeds; the
    median counts a run beyond the cap as beyond every finished one, and is None when half or more are beyond
    (notebook 05)."""
    by = {}
    for r in runs:
        by.setdefault(r["model"], {}).setdefault(r["length"], []).append(r["steps"])
    table = {}
    for v, by_len in by.items():
        table[v] = {}
        for length, steps in sorted(by_len.items()):
            done = sorted(s for s in steps if s is not None)
            beyond = len(steps) - len(done)
            ranked = done + [None] * beyond  # beyond the cap sorts last
            low, high = ranked[(len(ranked) - 1) // 2], ranked[len(ranked) // 2]  # the middle one or two
            median = low if len(ranked) % 2 else (None if high is None else (low + high) / 2)
            table[v][length] = (median, done[0] if done else None, done[-1] if done else None, beyond, len(steps))
    return table


# ---------------------------------------------------------------- notebook 05: where attention loses

def position_transfer(train_length=20, test_lengths=(10, 15, 20, 21, 25, 30, 40, 80), position=-3, epochs=40,
                      seed=0, variants=("lstm", "transformer"), device=None):
    """Train each variant at `train_length` to answer the letter at `position` (-3: third from the end), then test
    it at other lengths: {"history": {variant: History}, "accuracy": {variant: {length: acc}}, "train_length",
    "position"}.
    The Transformer's position table is made long enough for every test length; rows beyond `train_length` are
    never trained (notebook 05)."""
    check_int("train_length", train_length, 4, MAX_LENGTH)
    for L in test_lengths:
        check_int("test length", L, max(abs(position), 2), MAX_LENGTH)
    longest = max(max(test_lengths), train_length)
    task = LetterRecall(RecallConfig(length=train_length, seed=seed, fresh=True, position=position))
    cfg = TrainConfig(epochs=epochs, seed=seed, device=pick_device(device), target=TARGET)
    configs = {v: replace(contestant_config(v, train_length), max_len=longest) for v in variants}
    trained = train_kinds(lambda v: build_model(VARIANTS[v][0], configs[v]), variants, task, cfg,
                          workers=SIDE_BY_SIDE)
    accuracy = {}
    for v, (model, _history) in trained.items():
        accuracy[v] = {L: evaluate(model, LetterRecall(RecallConfig(length=L, seed=seed + 1, position=position)))[1]
                       for L in test_lengths}
    return {"history": {v: h for v, (_, h) in trained.items()}, "accuracy": accuracy,
            "train_length": train_length, "position": position}


def positions_transfer(train_length=20, test_lengths=(10, 15, 20, 21, 25, 30, 40, 80), position=-3, epochs=40,
                       seeds=(0, 1, 2), schemes=POSITIONS, device=None):
    """The Transformer with each way of telling positions (ModelConfig.positions) trained at `train_length` to
    answer the letter at `position`, then tested at other lengths, per seed: {"accuracy": {scheme: {seed:
    {length: acc}}}, "solved": {scheme: {seed: epoch or None}}, "train_length", "position"} (notebook 05)."""
    check_int("train_length", train_length, 4, MAX_LENGTH)
    for L in test_lengths:
        check_int("test length", L, max(abs(position), 2), MAX_LENGTH)
    for scheme in schemes:
        if scheme not in POSITIONS:
            raise ValueError(f"schemes must be drawn from {list(POSITIONS)}, got {scheme!r}")
    cfg = replace(contestant_config("transformer", train_length), max_len=max(max(test_lengths), train_length))
    out = {"accuracy": {s: {} for s in schemes}, "solved": {s: {} for s in schemes},
           "train_length": train_length, "position": position}
    for seed in seeds:
        task = LetterRecall(RecallConfig(length=train_length, seed=seed, fresh=True, position=position))
        train_cfg = TrainConfig(epochs=epochs, seed=seed, device=pick_device(device), target=TARGET)
        trained = train_kinds(lambda s: build_model("transformer", replace(cfg, positions=s)), schemes, task,
                              train_cfg, workers=SIDE_BY_SIDE)
        for s, (model, hist) in trained.items():
            out["solved"][s][seed] = hist.solved_epoch
            out["accuracy"][s][seed] = {L: evaluate(model, LetterRecall(RecallConfig(length=L, seed=seed + 1,
                                                                                     position=position)))[1]
                                        for L in test_lengths}
    return out


def finer_steps(variant, lengths=(5, 20, 40), seeds=(0, 1, 2), every=8, max_steps=256, target=STEPS_TARGET,
                device=None):
    """steps_to_remember for one variant, held-out accuracy checked every `every` steps instead of 32: the same
    models and the same stream of new strings, so a count here is at most the one checked every 32 and more than
    it minus 32. Run records with "every" (notebook 05)."""
    check_variant(variant)
    check_int("every", every, 1, STEPS_PER_EPOCH)
    check_int("max_steps", max_steps, every, 10**6)
    runs = []
    for seed in seeds:
        for length in lengths:
            task = LetterRecall(RecallConfig(length=check_int("length", length, MIN_LENGTH, MAX_LENGTH), seed=seed,
                                             fresh=True, n_train=every * RecallConfig.batch_size))
            cfg = TrainConfig(epochs=max_steps // every, lr=shared_lr((variant,)), seed=seed,
                              device=pick_device(device), target=target)
            built = contestant_config(variant, length)
            trained = train_kinds(lambda v, c=built: build_model(VARIANTS[v][0], c), (variant,), task, cfg)
            solved = trained[variant][1].solved_epoch
            runs.append({"model": variant, "length": length, "seed": seed, "every": every,
                         "steps": None if solved is None else solved * every})
    return runs
