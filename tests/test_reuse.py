"""The helpers the notebooks share instead of repeating code: the last-position heatmap (notebooks 03, 04, 05, 06,
12), train_recall (notebooks 06, 08), the deck's printout (notebook 04) and CHANCE."""
import matplotlib.pyplot as plt
import pytest
import torch

import helpers
from helpers.core.models import attention
from helpers.core.train import History
from helpers.lessons import memory
from helpers.view.figures_amnesia import deck_printout
from helpers.view.plots import last_position_heatmap


def weights_of(heads, length, seed=0):
    """Causal attention weights (H, T, T) of random queries and keys, from torch's softmax."""
    gen = torch.Generator().manual_seed(seed)
    q, k = torch.randn(2, 1, heads, length, 8, generator=gen)       # (1, H, T, d) each
    scores = q @ k.transpose(-2, -1) / 8 ** 0.5                     # (1, H, T, T)
    future = torch.ones(length, length, dtype=torch.bool).triu(1)
    return scores.masked_fill(future, float("-inf")).softmax(-1)[0]  # (H, T, T)


def test_last_position_heatmap_draws_each_heads_last_row():
    w = weights_of(heads=3, length=7)
    _, ax = plt.subplots()
    heads = last_position_heatmap(w, helpers.position_labels("A B C D E F G"), "where the last position looks", ax=ax)
    drawn = torch.as_tensor(ax.collections[0].get_array()).reshape(3, 7)  # the heatmap's cells, row by row
    torch.testing.assert_close(drawn, w[:, -1, :].double())
    torch.testing.assert_close(heads, w[:, -1, :])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["head 1", "head 2", "head 3"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["A1", "B2", "C3", "D4", "E5", "F6", "G7"]
    assert ax.get_title() == "where the last position looks" and ax.get_ylabel() == ""
    assert ax.collections[0].get_clim() == (0.0, 1.0)  # one colour scale for every heatmap that is compared
    plt.close("all")


def test_last_position_heatmap_agrees_with_the_models_attention():
    """The row drawn is the one the course's attention() gives the last query (the answering position)."""
    gen = torch.Generator().manual_seed(1)
    q, k, v = torch.randn(3, 1, 2, 5, 4, generator=gen)  # (1, H, T, d) each
    _, weights = attention(q, k, v, helpers.causal_mask(5))
    expected = torch.nn.functional.scaled_dot_product_attention(q[..., -1:, :], k, torch.eye(5).expand(1, 2, 5, 5))
    _, ax = plt.subplots()
    last_position_heatmap(weights[0], list("abcde"), "t", ax=ax, vmax=None, ylabel=None)
    drawn = torch.as_tensor(ax.collections[0].get_array()).reshape(2, 5)
    torch.testing.assert_close(drawn.float(), expected[0, :, 0, :])  # softmax(q_T·kᵀ/√d) per head
    assert ax.get_ylabel() == "query (looking)"  # ylabel None keeps the heatmap's own
    plt.close("all")


def test_last_position_heatmap_sizes_its_own_figure():
    last_position_heatmap(weights_of(heads=2, length=20), [str(i) for i in range(20)], "t")
    fig = plt.gcf()
    assert tuple(fig.get_size_inches()) == (12.0, 2.2)  # min(2 + 0.5·T, 14) wide
    assert not fig.axes[0].texts                         # more than 16 positions: no values written
    plt.close("all")


def test_train_recall_is_the_notebooks_former_training():
    """The model notebooks 06 and 08 trained by hand: the same parameters, on the CPU, scored as evaluate() scores."""
    cfg = helpers.ModelConfig(d_model=16, n_layers=1, n_heads=1)
    model, history, task = memory.train_recall(6, 1, cfg, seed=3)
    by_hand = helpers.LetterRecall(helpers.RecallConfig(length=6, n_train=1024, seed=3))
    with helpers.seeded(3):
        reference = helpers.TransformerModel(cfg)
    helpers.train(reference, by_hand, helpers.TrainConfig(epochs=1, seed=3))
    for (name, p), q in zip(model.named_parameters(), reference.parameters()):
        torch.testing.assert_close(p, q, msg=name)
    assert next(model.parameters()).device.type == "cpu"
    torch.testing.assert_close(task.test_x, by_hand.test_x)
    with torch.no_grad():
        assert history.test_acc[-1] == helpers.evaluate(model, task)[1]


def test_train_recall_refuses_a_length_out_of_range():
    with pytest.raises(ValueError, match="length must be an integer from 3"):
        memory.train_recall(2, 1, helpers.ModelConfig(d_model=16, n_layers=1, n_heads=1))


def deck_result(missing=()):
    """An amnesia result written by hand: the LSTM wrong, the Transformer right and solved."""
    history = {"lstm": History(test_acc=[0.04, 0.05]), "transformer": History(test_acc=[0.04, 1.0])}
    return helpers.AmnesiaResult(length=3, epochs=2, string="K N M", answer="K", target=0.99,
                                 predictions={"lstm": "A", "transformer": "K"},
                                 accuracy={"lstm": 0.05, "transformer": 1.0},
                                 history=history, solved={"lstm": None, "transformer": 1}, missing=missing)


def test_deck_printout_keeps_the_decks_layout():
    assert deck_printout(deck_result()).splitlines() == [
        "Test string (never seen in training): K N M",
        "True first letter: K",
        "",
        "LSTM answers:                A (wrong) — held-out accuracy 5.0%, not solved within 2 epochs at this budget",
        "Transformer answers:         K (right) — held-out accuracy 100.0%, solved in 1 epoch"]


def test_deck_printout_says_what_the_summary_says():
    result = deck_result(missing=("lstm_fb1",))
    deck, summary = deck_printout(result).splitlines(), result.summary().splitlines()
    assert deck[:2] == summary[1:3] and deck[-1] == summary[-1]  # string, letter, the models a Stop came before
    for kind in result.predictions:  # the same answer, accuracy and verdict in another layout
        line = next(s for s in summary if s.startswith(helpers.NAMES[kind] + ":"))
        answer, rest = line.split(" answers ")[1].split(", ", 1)
        assert any(d.endswith(f"{answer} — {rest}") for d in deck), kind


def test_chance_is_a_guess_among_the_letters():
    assert helpers.CHANCE == 1 / len(helpers.LETTERS) == 1 / 26
