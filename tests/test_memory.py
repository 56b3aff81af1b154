"""Tests of notebook 02's helpers: the k-th-letter-back task, letters held, first-letter influence, graph depth."""
import pytest
import torch

import helpers
from helpers.core.counting import graph_depth
from helpers.core.tasks import MAX_K, KBackConfig, KBackRecall
from helpers.lessons.memory import first_letter_influence, letters_held


def test_question_answers_are_the_kth_letter_back():
    task = KBackRecall(KBackConfig(length=6, per_k_test=3, n_train=50))
    letters, question = task.test_x[:, :-1], task.test_x[:, -1]
    k = question - 26 + 1
    assert torch.equal(k, task.test_k)
    assert torch.equal(task.test_k, torch.arange(18) % 6 + 1)  # every k equally often
    assert torch.equal(task.test_y, letters[torch.arange(18), 6 - k])
    assert task.test_x.shape == (18, 7) and task.n_out == 26


def test_all_mode_uses_the_same_strings_and_reverses_them():
    one = KBackRecall(KBackConfig(length=5, per_k_test=4, n_train=40))
    every = KBackRecall(KBackConfig(length=5, per_k_test=4, n_train=40, ask="all"))
    assert torch.equal(every.test_x, one.test_x[:, :-1])
    assert torch.equal(every.test_y[:, 0], every.test_x[:, -1])  # k = 1 is the last letter
    assert torch.equal(every.test_y[:, 4], every.test_x[:, 0])
    assert every.n_out == 5 * 26


def test_training_strings_never_equal_a_test_string():
    task = KBackRecall(KBackConfig(length=2, per_k_test=100, n_train=500))  # short: collisions are certain
    test = {tuple(r) for r in task.test_x[:, :-1].tolist()}
    assert all(tuple(r) not in test for r in task.train_x[:, :-1].tolist())
    assert 0 < len(task.train_x) < 500


@pytest.mark.parametrize("field, value", [("length", 1), ("length", MAX_K + 1), ("ask", "some"), ("n_train", 0)])
def test_bad_config_is_refused(field, value):
    with pytest.raises(ValueError, match=field):
        KBackRecall(KBackConfig(**{field: value}))


def test_accuracy_per_k_of_an_oracle_and_of_a_constant():
    task = KBackRecall(KBackConfig(length=4, per_k_test=5, n_train=10))

    class Oracle(torch.nn.Module):  # knows the answer: one-hot logits of the k-th letter back
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x):
            k = x[:, -1] - 25
            answer = x[torch.arange(len(x)), -1 - k]
            return torch.nn.functional.one_hot(answer, 26).float()[:, None, :].expand(-1, x.size(1), -1)

    assert torch.equal(task.accuracy_per_k(Oracle()), torch.ones(4))
    assert letters_held(torch.ones(4)) == pytest.approx(4.0)
    assert letters_held(torch.full((4,), 1 / 26)) == pytest.approx(0.0, abs=1e-6)


def test_a_model_learns_the_last_letter_first():
    task = KBackRecall(KBackConfig(length=6, ask="all", n_train=512, per_k_test=16))
    helpers.seed_everything(0)
    model = helpers.build_model("lstm", helpers.ModelConfig(vocab_size=task.vocab_size, n_out=task.n_out,
                                                            d_model=32, n_layers=1))
    helpers.train(model, task, helpers.TrainConfig(epochs=4, lr=1e-2, device="cpu"))
    acc = task.accuracy_per_k(model)
    assert acc[0] > 0.5 > acc[-2]  # chance is 1/26


def test_first_letter_influence_persists_only_with_an_open_forget_gate():
    x = torch.randint(0, 26, (16, 30))
    influence = {}
    for bias in (-20.0, 20.0):  # forget gate shut (forgets at once) or wide open (keeps everything)
        helpers.seed_everything(0)
        model = helpers.build_model("lstm", helpers.ModelConfig(n_layers=1, forget_bias=bias))
        influence[bias] = first_letter_influence(model, x)
    assert influence[20.0].shape == (30,)
    assert (influence[20.0] > 0).all() and influence[-20.0][0] > 0
    assert influence[-20.0][-1] < 1e-6 < influence[20.0][-1]


def test_first_letter_influence_is_zero_without_a_first_letter_effect():
    helpers.seed_everything(0)
    model = helpers.build_model("lstm", helpers.ModelConfig(n_layers=1))
    with torch.no_grad():
        model.tok.weight.zero_()  # every letter looks the same to the LSTM
    assert first_letter_influence(model, torch.randint(0, 26, (4, 8))).abs().max() == 0


def test_graph_depth_counts_a_chain_and_is_flat_for_attention():
    a = torch.randn(3, requires_grad=True)
    b = a
    for _ in range(7):
        b = b * 2
    assert graph_depth(b) == 8  # seven multiplications and the leaf's accumulator
    block = helpers.TransformerModel(helpers.ModelConfig(d_model=8, n_heads=2, n_layers=1)).blocks[0]
    cell = helpers.LSTMCell(8, 8)

    def lstm_depth(T):
        x = torch.randn(1, T, 8)
        h = c = torch.zeros(1, 8)
        for t in range(T):
            h, c = cell(x[:, t], (h, c))
        return graph_depth(h)

    assert lstm_depth(20) - lstm_depth(10) == 2 * (lstm_depth(10) - lstm_depth(5))  # linear in T
    assert graph_depth(block(torch.randn(1, 5, 8))[0]) == graph_depth(block(torch.randn(1, 50, 8))[0])
    with pytest.raises(ValueError, match="require grad"):
        graph_depth(torch.randn(3))


def test_the_belt_panel_estimate_grows_and_refuses_bad_input():
    from helpers.lessons.memory import belt_estimate_seconds
    assert 5 < belt_estimate_seconds(16, 20) < 30  # the notebook's default: about 13 s
    assert belt_estimate_seconds(40, 60) > belt_estimate_seconds(16, 20)
    for length, epochs in ((1, 20), (16, 0), (16.5, 20)):
        with pytest.raises(ValueError):
            belt_estimate_seconds(length, epochs)
