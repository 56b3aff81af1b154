"""Experiments: the deck's amnesia test, trained and measured on the spot."""
from dataclasses import dataclass, field

import torch

from .device import pick_device
from .models import ModelConfig, build_model
from .tasks import MAX_LENGTH, FirstLetterRecall, RecallConfig, check_int, decode
from .train import MAX_EPOCHS, TrainConfig, seed_everything, time_training_steps, train

KINDS = ("rnn", "lstm", "transformer")
NAMES = {"rnn": "Plain RNN", "lstm": "LSTM", "transformer": "Transformer"}


@dataclass
class AmnesiaResult:
    """What the amnesia test measured, per model kind."""
    length: int
    epochs: int
    string: str                                      # an unseen test string, spaced: 'K N M ...'
    answer: str                                      # its first letter
    predictions: dict = field(default_factory=dict)  # kind -> the model's answer for `string`
    accuracy: dict = field(default_factory=dict)     # kind -> held-out accuracy after training
    history: dict = field(default_factory=dict)      # kind -> History (loss and accuracy per epoch)
    seconds: dict = field(default_factory=dict)      # kind -> training time in seconds
    params: dict = field(default_factory=dict)       # kind -> parameter count
    models: dict = field(default_factory=dict)       # kind -> the trained model (on the CPU)
    attention: torch.Tensor = None                   # Transformer, last layer, (H, T, T) on `string`

    def summary(self):
        """The deck's printout: the string, the true first letter, each model's answer and accuracy."""
        lines = [f"Length {self.length}, {self.epochs} epochs",
                 f"Test string (never seen in training): {self.string}",
                 f"True first letter: {self.answer}"]
        for kind in self.predictions:
            mark = "right" if self.predictions[kind] == self.answer else "wrong"
            stop = " (interrupted)" if self.history[kind].interrupted else ""
            lines.append(f"{NAMES[kind] + ':':<13} answers {self.predictions[kind]} ({mark}), "
                         f"held-out accuracy {self.accuracy[kind]:.1%}{stop}")
        return "\n".join(lines)


def amnesia_test(length=20, epochs=10, seed=0, device=None, kinds=KINDS, model_cfg=None, progress=False):
    """Train each model kind on first-letter recall at `length`, then ask it an unseen string."""
    check_int("length", length, 2, MAX_LENGTH)
    check_int("epochs", epochs, 1, MAX_EPOCHS)
    check_int("seed", seed, 0, 2**31 - 1)
    for kind in kinds:
        if kind not in KINDS:
            raise ValueError(f"kinds must be drawn from {list(KINDS)}, got {kind!r}")
    device = pick_device(device)
    task = FirstLetterRecall(RecallConfig(length=length, seed=seed))
    probe = task.test_x[:1]  # (1, L): the string shown to every model
    result = AmnesiaResult(length, epochs, decode(probe[0]), decode(probe[0, :1]))
    for kind in kinds:
        seed_everything(seed)  # the same initial weights for the same seed
        model = build_model(kind, model_cfg or ModelConfig())
        hist = train(model, task, TrainConfig(epochs=epochs, seed=seed, device=device, progress=progress))
        model.cpu()
        with torch.no_grad():
            if kind == "transformer":
                logits, weights = model(probe, return_attention=True)
                result.attention = weights[-1][0]  # (H, T, T)
            else:
                logits = model(probe)
        result.predictions[kind] = decode(task.answer_logits(logits).argmax(-1))
        result.accuracy[kind] = hist.test_acc[-1]
        result.history[kind] = hist
        result.seconds[kind] = hist.seconds
        result.params[kind] = model.n_params()
        result.models[kind] = model
    return result


def time_training_step(kind="transformer", length=20, batch_size=64, model_cfg=None, repeats=5):
    """Median time of one recall training step (forward, backward, Adam) on the CPU and on the GPU."""
    check_int("length", length, 2, MAX_LENGTH)
    check_int("batch_size", batch_size, 1, 4096)
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {list(KINDS)}, got {kind!r}")

    x = torch.randint(0, 26, (batch_size, length), generator=torch.Generator().manual_seed(0))  # (B, T)
    return time_training_steps(lambda: build_model(kind, model_cfg or ModelConfig()), FirstLetterRecall, (x, x[:, 0]),
                               f"one training step: {NAMES[kind]}, batch {batch_size}, length {length}", repeats)
