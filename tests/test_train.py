from types import SimpleNamespace

import pytest
import torch

import helpers
from helpers import LetterRecall, RecallConfig, TrainConfig


def small_task(length=5):
    return LetterRecall(RecallConfig(length=length, n_train=512, n_test=128))


def run(kind, seed, epochs=2):
    helpers.seed_everything(seed)
    model = helpers.build_model(kind)
    return helpers.train(model, small_task(), TrainConfig(epochs=epochs, seed=seed)), model


def test_history_shape_and_learning():
    hist, _ = run("transformer", 0, epochs=3)
    assert hist.epochs == 3 and len(hist.test_acc) == 4 and len(hist.test_loss) == 4
    assert hist.test_acc[0] < 0.2 and hist.test_acc[-1] > 0.9  # from chance to learned
    assert hist.train_loss[-1] < hist.train_loss[0]


@pytest.mark.parametrize("kind", helpers.KINDS)
def test_same_seed_same_numbers(kind):
    (a, ma), (b, mb) = run(kind, 7), run(kind, 7)
    assert a.train_loss == b.train_loss and a.test_acc == b.test_acc
    assert all(torch.equal(p, q) for p, q in zip(ma.parameters(), mb.parameters()))
    c, _ = run(kind, 8)
    assert c.train_loss != a.train_loss


class InterruptedTask:
    """Wraps a task so that Ctrl-C arrives in the middle of the second epoch."""

    def __init__(self, task):
        self.task, self.epoch = task, 0

    def __getattr__(self, name):
        return getattr(self.task, name)

    def batches(self, gen):
        self.epoch += 1
        for i, batch in enumerate(self.task.batches(gen)):
            if self.epoch == 2 and i == 3:
                raise KeyboardInterrupt
            yield batch


def test_interrupt_keeps_what_was_learned():
    helpers.seed_everything(0)
    model = helpers.build_model("transformer")
    task = InterruptedTask(small_task())
    hist = helpers.train(model, task, TrainConfig(epochs=5))
    assert hist.interrupted and hist.epochs == 1 and len(hist.test_acc) == 2
    assert not model.training
    assert helpers.evaluate(model, task)[1] > 0.05  # still usable


def test_target_stops_at_the_first_epoch_that_reaches_it():
    helpers.seed_everything(0)
    model = helpers.build_model("transformer")
    hist = helpers.train(model, small_task(), TrainConfig(epochs=6, target=0.99))
    first = next(e for e, acc in enumerate(hist.test_acc) if acc >= 0.99)  # the oracle: the curve itself
    assert hist.solved_epoch == first == hist.epochs < 6 and len(hist.test_acc) == first + 1
    full, _ = run("transformer", 0, epochs=6)
    assert full.test_acc[:first + 1] == hist.test_acc and full.solved_epoch is None  # the same run, cut short


def test_patience_stops_at_the_first_plateau():
    helpers.seed_everything(0)
    hist = helpers.train(helpers.build_model("rnn"), small_task(length=12), TrainConfig(epochs=30, patience=2))
    acc = hist.test_acc
    # the oracle, from the curve itself: the first epoch e whose last 2 epochs rose less than 0.5 points
    first = next(e for e in range(2, len(acc)) if max(acc[e - 1:e + 1]) < max(acc[:e - 1]) + 0.005)
    assert hist.plateau_epoch == first == hist.epochs and hist.epochs < 30
    with pytest.raises(ValueError, match="patience must be an integer from 1 to 1000"):
        helpers.train(helpers.build_model("rnn"), small_task(), TrainConfig(patience=0))


def test_a_control_stops_the_loop_at_its_next_step_and_keeps_what_was_learned():
    reports = []
    control = helpers.Control(report=lambda name, epoch, epochs: reports.append((name, epoch, epochs)))

    def stop_after_first_epoch(epoch, model):
        if epoch == 1:
            control.stop.set()
    helpers.seed_everything(0)
    model = helpers.build_model("transformer")
    with helpers.controlled(control):
        hist = helpers.train(model, small_task(), TrainConfig(epochs=5), callback=stop_after_first_epoch)
    assert hist.interrupted and hist.epochs == 1 and len(hist.test_acc) == 2
    assert reports == [("TransformerModel", 0, 5), ("TransformerModel", 1, 5)]
    assert helpers.evaluate(model, small_task())[1] > 0.05  # it learned during its one epoch
    with helpers.controlled(control):  # stop is still set: the next training does not begin
        out = helpers.train_kinds(lambda kind: helpers.build_model(kind), ("rnn",), small_task(), TrainConfig(epochs=1))
    assert out == {}


def test_cache_finished_keeps_finished_runs_only():
    calls, control = [], helpers.Control()

    def stop_after_first_epoch(epoch, model):
        if epoch == 1:
            control.stop.set()

    @helpers.cache_finished(maxsize=2)
    def fit(epochs, seed=0):
        calls.append((epochs, seed))
        helpers.seed_everything(seed)
        return helpers.train(helpers.build_model("rnn"), small_task(), TrainConfig(epochs=epochs, seed=seed),
                             callback=stop_after_first_epoch)
    with helpers.controlled(control):
        stopped = fit(2)
        assert stopped.interrupted and stopped.epochs == 1
        with pytest.raises(helpers.core.train.Stopped):  # the stop is still set: a new training does not begin
            fit(3)
    control.stop.clear()
    first = fit(1)
    assert fit(1) is first and calls == [(2, 0), (3, 0), (1, 0)]
    assert not fit(2).interrupted and calls[-1] == (2, 0)  # asked again: trained again, to the end
    fit(3)
    fit(1)
    assert calls[-1] == (1, 0)  # at most two kept: the least recently used went


@pytest.mark.parametrize("cfg, message", [
    (TrainConfig(target=1.5), "target must be None or in"),
    (TrainConfig(epochs=0), "epochs must be an integer from 1 to 1000"),
    (TrainConfig(epochs=1001), "epochs must be an integer from 1 to 1000"),
    (TrainConfig(lr=0), "lr must be in"),
    (TrainConfig(device="tpu"), "device must be one of"),
])
def test_bad_training_arguments(cfg, message):
    with pytest.raises(ValueError, match=message):
        helpers.train(helpers.build_model("rnn"), small_task(), cfg)


def test_time_training_step_takes_real_adam_steps_on_the_batch():
    calls, built = [], []

    def loss(logits, y):
        calls.append(tuple(y.shape))
        return LetterRecall.loss(logits, y)

    def build():
        built.append(helpers.build_model("lstm", helpers.ModelConfig(d_model=8, n_layers=1)))
        return built[-1]

    x = torch.randint(0, 26, (4, 6), generator=torch.Generator().manual_seed(0))  # (B, T)
    timing = helpers.time_training_step(build, SimpleNamespace(loss=loss), (x, x[:, 0]), "a step", repeats=3)
    assert timing.what == "a step" and len(timing.rows[0]["runs"]) == 3
    assert calls == [(4,)] * 5  # two warm-up steps, then three timed ones
    helpers.seed_everything(0)
    start = helpers.build_model("lstm", helpers.ModelConfig(d_model=8, n_layers=1))
    assert all(not torch.equal(a, b) for a, b in zip(start.parameters(), built[0].parameters()))  # Adam moved them


def test_train_kinds_gives_each_kind_the_same_seed_and_budget():
    seen = []
    out = helpers.train_kinds(lambda kind: helpers.build_model(kind), ("rnn", "lstm"), small_task(),
                              TrainConfig(epochs=1, seed=3), callback=lambda kind, epoch, m: seen.append((kind, epoch)))
    assert seen == [("rnn", 0), ("rnn", 1), ("lstm", 0), ("lstm", 1)]
    for kind, (model, hist) in out.items():
        assert hist.epochs == 1 and not model.training and next(model.parameters()).device.type == "cpu"
        helpers.seed_everything(3)
        alone = helpers.train(helpers.build_model(kind), small_task(), TrainConfig(epochs=1, seed=3))
        assert alone.test_acc == hist.test_acc and alone.train_loss == hist.train_loss
    with pytest.raises(ValueError, match="workers must be an integer from 1 to 64"):
        helpers.train_kinds(lambda kind: helpers.build_model(kind), ("rnn", "lstm"), small_task(), workers=0)


def test_side_by_side_keeps_the_order_and_each_seeded_build_is_the_same_as_alone():
    def build_and_train(seed):
        with helpers.seeded(seed):
            model = helpers.build_model("lstm", helpers.ModelConfig(d_model=16, n_layers=1))
        hist = helpers.train(model, small_task(), TrainConfig(epochs=1, seed=seed))
        return hist.test_acc, [p.detach().clone() for p in model.parameters()]
    alone = [build_and_train(s) for s in (0, 1, 0, 2)]
    together = helpers.side_by_side(build_and_train, [0, 1, 0, 2], workers=4)
    for (acc_a, params_a), (acc_b, params_b) in zip(alone, together):
        assert acc_a == acc_b and all(torch.equal(p, q) for p, q in zip(params_a, params_b))
