"""Science tests for notebook 03: the scratch LSTM cell is torch's LSTM, its gates stay in range, the belt
(c = f·c + i·g) carries information as long as the forget gate is open, and training makes letter 1 last."""
import pytest
import torch

import helpers
from helpers.lessons.memory import first_letter_influence


def unroll(cell, x):
    """Run a helpers.LSTMCell over x (B, T, d): every step's h and the last (h, c)."""
    h = c = torch.zeros(x.size(0), cell.hidden_size)
    hs = []
    for t in range(x.size(1)):
        h, c = cell(x[:, t], (h, c))
        hs.append(h)
    return torch.stack(hs, dim=1), (h, c)


@pytest.mark.parametrize("source", ["lstm", "cell"])
def test_scratch_cell_equals_torch_over_a_whole_sequence(source):
    torch.manual_seed(0)
    x = torch.randn(4, 30, 8)  # (B, T, d)
    lstm = torch.nn.LSTM(8, 16, batch_first=True)
    if source == "cell":  # copy through an nn.LSTMCell holding the same weights
        cell = torch.nn.LSTMCell(8, 16)
        with torch.no_grad():
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(cell, name).copy_(getattr(lstm, name + "_l0"))
        scratch = helpers.LSTMCell.from_torch(cell)
    else:
        scratch = helpers.LSTMCell.from_torch(lstm)
    with torch.no_grad():
        expected, (h_last, c_last) = lstm(x)
        got, (h, c) = unroll(scratch, x)
    assert (got - expected).abs().max() < 1e-5
    assert torch.allclose(c, c_last[0], atol=1e-5) and torch.allclose(h, h_last[0], atol=1e-5)


def test_scratch_cell_matches_layer_0_of_a_trained_recall_model():
    task = helpers.LetterRecall(helpers.RecallConfig(length=6, n_train=256, n_test=64))
    helpers.seed_everything(0)
    model = helpers.LSTMModel(helpers.ModelConfig(n_layers=1, d_model=16, forget_bias=1.0))
    helpers.train(model, task, helpers.TrainConfig(epochs=2, device="cpu"))
    with torch.no_grad():
        e = model.embed(task.test_x[:8])  # (B, T, d)
        got, _ = unroll(helpers.LSTMCell.from_torch(model.lstm), e)
        assert (got - model.lstm(e)[0]).abs().max() < 1e-5


def test_gates_stay_in_their_ranges():
    torch.manual_seed(1)
    cell = helpers.LSTMCell(8, 16)
    with torch.no_grad():
        for p in cell.parameters():
            p.mul_(20)  # large weights drive the gates to their limits
        gates = cell.gates(torch.randn(64, 8), (torch.randn(64, 16), torch.randn(64, 16)))
    for name in ("input", "forget", "output"):
        assert 0 <= gates[name].min() and gates[name].max() <= 1
    assert gates["candidate"].abs().max() <= 1
    assert gates["forget"].min() < 0.01 and gates["forget"].max() > 0.99  # both ends are reached


def test_the_belt_keeps_c_when_the_forget_gate_is_open_and_nothing_gets_on():
    cell = helpers.LSTMCell(4, 3)
    with torch.no_grad():
        for p in cell.parameters():
            p.zero_()
        H = 3
        cell.W.bias[H:2 * H] = 50.0  # forget gate ≈ 1
        cell.W.bias[:H] = -50.0      # input gate ≈ 0
    c0 = torch.tensor([[0.5, -1.0, 2.0]])
    h, c = torch.zeros(1, 3), c0
    for _ in range(100):
        h, c = cell(torch.randn(1, 4), (h, c))
    assert torch.allclose(c, c0, atol=1e-4)                        # the belt carried c unchanged
    assert torch.allclose(h, torch.sigmoid(torch.tensor(0.0)) * torch.tanh(c0), atol=1e-4)


def test_training_makes_letter_1_last_to_the_end():
    task = helpers.LetterRecall(helpers.RecallConfig(length=8, n_train=512, n_test=128))
    helpers.seed_everything(0)
    model = helpers.LSTMModel(helpers.ModelConfig(n_layers=1, d_model=32, forget_bias=1.0))
    before = first_letter_influence(model, task.test_x)
    hist = helpers.train(model, task, helpers.TrainConfig(epochs=8, lr=1e-2, device="cpu"))
    after = first_letter_influence(model, task.test_x)
    assert hist.test_acc[-1] > 0.5      # far above chance (1/26)
    assert before[-1] < before[0]      # untrained: the first letter fades
    assert after[-1] > 10 * before[-1]  # trained: it still moves the state at the end
