"""Tests of notebook 05's proof in helpers.lessons.amnesia, and of the recorded amnesia sweep it reads."""

import pytest
import torch
import torch.nn.functional as F

from helpers import FirstLetterRecall, RecallConfig, record
from helpers.lessons import amnesia as proof


def probe(length, n=64):
    """n held-out strings of `length` and their first letters."""
    task = FirstLetterRecall(RecallConfig(length=length, seed=0))
    return task.test_x[:n], task.test_y[:n]


def test_rnn_gradient_at_position_1_is_orders_of_magnitude_below_the_transformers_at_length_50():
    x, y = probe(50)
    rnn = proof.gradient_per_position(proof.initial_model("rnn"), x, y)
    transformer = proof.gradient_per_position(proof.initial_model("transformer"), x, y)
    assert rnn.shape == transformer.shape == (50,)
    assert rnn[0] < 1e-6 * transformer[0]     # the first letter: vanished
    assert rnn[-1] > 1e-2 * transformer[-1]   # the last letter, next to the loss: comparable


def test_rnn_gradient_shrinks_step_by_step_back_from_the_answer():
    x, y = probe(50)
    grad = proof.gradient_per_position(proof.initial_model("rnn"), x, y)
    assert grad[0] < grad[10] < grad[25] < grad[40] < grad[48]
    assert proof.decay_per_step(grad) < 0.8
    assert proof.decay_per_step(proof.gradient_per_position(proof.initial_model("transformer"), x, y)) > 0.9


def test_forget_bias_1_lets_far_more_gradient_reach_position_1():
    x, y = probe(50)
    default = proof.gradient_per_position(proof.initial_model("lstm"), x, y)
    biased = proof.gradient_per_position(proof.initial_model("lstm_fb1"), x, y)
    assert biased[0] > 100 * default[0]


def test_gradient_per_position_equals_autograd_through_the_whole_model_and_leaves_weights_alone():
    x, y = probe(12, n=8)
    model = proof.initial_model("transformer")
    model.eval()
    got = proof.gradient_per_position(model, x, y)
    assert all(p.grad is None for p in model.parameters())
    assert not model.training  # mode restored
    e = model.embed(x)
    e.retain_grad()
    F.cross_entropy(model.head(model.body(e))[:, -1], y, reduction="sum").backward()
    assert torch.allclose(got, e.grad.norm(dim=-1).mean(0))


def test_transformer_reaches_99_percent_at_length_40_where_the_plain_rnn_stays_near_chance():
    transformer = proof.train_variant("transformer", 40, 2).accuracy["transformer"]
    rnn = proof.train_variant("rnn", 40, 2).accuracy["rnn"]
    assert transformer >= 0.99
    assert rnn < 0.10  # chance is 1/26 = 3.8%


def test_initial_model_is_the_model_train_variant_starts_from():
    a, b = proof.initial_model("lstm_fb1", seed=3), proof.initial_model("lstm_fb1", seed=3)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    d = a.cfg.d_model
    assert a.lstm.bias_ih_l0[d:2 * d].mean() > 0.9  # forget slice shifted by +1 (init is within ±1/8)


def test_bad_arguments_raise_value_errors_naming_them():
    with pytest.raises(ValueError, match="variant"):
        proof.initial_model("gru")
    with pytest.raises(ValueError, match="length"):
        proof.amnesia_curve(lengths=(1,), epochs=1)
    with pytest.raises(ValueError, match="epochs"):
        proof.amnesia_curve(lengths=(5,), epochs=0)
    with pytest.raises(ValueError, match="variant"):
        proof.amnesia_curve(lengths=(5,), epochs=1, variants=("gru",))


def test_curve_table_averages_over_seeds_with_min_and_max():
    runs = [{"model": "lstm", "length": 5, "seed": s, "accuracy": a, "test_acc": [0.0, a]} for s, a in [(0, 0.2), (1, 0.6)]]
    assert proof.curve_table(runs) == {"lstm": {5: (pytest.approx(0.4), 0.2, 0.6)}}
    assert proof.curve_table(runs, epoch=0)["lstm"][5] == (0.0, 0.0, 0.0)


def test_the_stored_reference_sweep_is_complete_and_tells_the_same_story():
    rec = record.load("amnesia")[0]
    prov = rec["provenance"]
    assert rec["complete"] and prov["date"] and prov["device_name"] and prov["torch"]
    s = rec["settings"]
    assert len(rec["results"]) == len(s["lengths"]) * len(s["seeds"]) * len(s["variants"])
    table = proof.curve_table(rec["results"])
    assert all(table["transformer"][L][1] >= 0.99 for L in s["lengths"] if L <= 80)  # every seed
    assert all(table["rnn"][L][0] < 0.10 for L in s["lengths"] if L >= 40)
