from types import SimpleNamespace

import pytest
import torch

import helpers
from helpers import FirstLetterRecall, RecallConfig, TrainConfig


def small_task(length=5):
    return FirstLetterRecall(RecallConfig(length=length, n_train=512, n_test=128))


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


@pytest.mark.parametrize("cfg, message", [
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
        return FirstLetterRecall.loss(logits, y)

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
