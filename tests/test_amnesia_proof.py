"""Tests of notebook 05's proof in helpers.lessons.amnesia, and of the recorded amnesia sweep it reads."""

import pytest
import torch
import torch.nn.functional as F

import helpers
from helpers import LetterRecall, RecallConfig, record
from helpers.lessons import amnesia as proof


def probe(length, n=64):
    """n held-out strings of `length` and their first letters."""
    task = LetterRecall(RecallConfig(length=length, seed=0))
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
        proof.steps_to_remember(lengths=(1,))
    with pytest.raises(ValueError, match="max_steps"):
        proof.steps_to_remember(lengths=(5,), max_steps=10)
    with pytest.raises(ValueError, match="variant"):
        proof.steps_to_remember(lengths=(5,), variants=("gru",))
    with pytest.raises(ValueError, match="target must be in"):
        proof.steps_to_remember(lengths=(5,), target=0)


def test_steps_to_remember_counts_the_steps_of_the_first_epoch_at_the_target():
    runs = proof.steps_to_remember(lengths=(5,), seeds=(0,), variants=("lstm", "transformer"), max_steps=96)
    for r in runs:
        first = next((e for e, a in enumerate(r["test_acc"]) if a >= 0.9), None)  # the oracle: its own curve
        assert r["steps"] == (None if first is None else first * 32)
        assert len(r["test_acc"]) == (first + 1 if first is not None else 96 // 32 + 1)
    skipped = proof.steps_to_remember(lengths=(5,), variants=("lstm", "transformer"), max_steps=96,
                                      done=[("lstm", 5, 0)])
    drop = lambda run: {k: v for k, v in run.items() if k != "seconds"}  # noqa: E731  (times vary)
    assert [r["model"] for r in skipped] == ["transformer"] and drop(skipped[0]) == drop(runs[1])


def test_steps_table_takes_the_median_over_seeds_and_counts_the_runs_beyond_the_cap():
    def runs(*steps):
        return [{"model": "lstm", "length": 20, "seed": i, "steps": s} for i, s in enumerate(steps)]
    assert proof.steps_table(runs(64, 896, 320))["lstm"][20] == (320, 64, 896, 0, 3)
    assert proof.steps_table(runs(64, None, 320))["lstm"][20] == (320, 64, 320, 1, 3)
    assert proof.steps_table(runs(64, None, None))["lstm"][20] == (None, 64, 64, 2, 3)
    assert proof.steps_table(runs(64, 128))["lstm"][20] == (96, 64, 128, 0, 2)
    assert proof.steps_table(runs(None, None))["lstm"][20] == (None, None, None, 2, 2)


def test_the_stored_recording_has_three_seeds_everywhere_and_tells_the_story_the_notebook_tells():
    rec = record.load("amnesia")[0]
    prov, s = rec["provenance"], rec["settings"]
    assert prov["date"] and prov["device_name"] and prov["torch"]
    assert len(s["seeds"]) >= 3 and max(s["lengths"]) >= 160
    table = proof.steps_table(rec["results"])
    assert set(table) <= set(s["variants"]) and {r["seed"] for r in rec["results"]} <= set(s["seeds"])
    for v in ("rnn", "lstm", "lstm_fb1", "transformer"):  # the first sitting's variants are whole
        assert all(table[v][L][4] == len(s["seeds"]) for L in s["lengths"]), v  # every seed at every length
    if rec["complete"]:
        assert all(table[v][L][4] == len(s["seeds"]) for v in s["variants"] for L in s["lengths"])
    assert table["lstm_fb3"][40][0] is not None and table["lstm_fb1"][40][0] is None  # forget bias 3 gets there
    assert all(table["transformer"][L][3] == 0 for L in s["lengths"])  # the Transformer got there every time
    fb1_at_20 = [r["steps"] for r in rec["results"] if r["model"] == "lstm_fb1" and r["length"] == 20]
    assert sum(st is not None for st in fb1_at_20) >= 2  # the LSTM at its best remembers at 20 on 2 of 3 seeds
    assert table["lstm"][20][3] >= 2  # at its default it does not, within the cap


@pytest.mark.slow  # trains a Transformer and tests it at four lengths (about 10 s)
def test_a_transformer_with_learned_positions_fails_at_twice_its_training_length():
    result = proof.position_transfer(train_length=20, test_lengths=(20, 40), position=-3)
    tf, lstm = result["accuracy"]["transformer"], result["accuracy"]["lstm"]
    assert tf[20] >= 0.99 and tf[40] < 0.5  # as measured: it answers the trained length only
    assert lstm[40] >= 0.9  # the LSTM's rule carries over


def test_gradient_figure_keeps_its_legend_off_the_lines_and_whole_positions_on_its_axis():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from helpers.view import figures
    length = 7
    result = proof.GradientResult(length, 1, ("rnn", "transformer"))
    for v in result.variants:
        result.init[v] = result.trained[v] = torch.logspace(-8, 0, length)
    fig = figures.plot_gradients(result)
    fig.canvas.draw()
    assert all(ax.get_legend() is None for ax in fig.axes)  # no legend inside a panel
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == [proof.NAMES[v] for v in result.variants]
    assert legend.get_window_extent().y1 <= min(ax.get_window_extent().y0 for ax in fig.axes)  # below the panels
    for ax in fig.axes:
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks)
    plt.close(fig)


def test_variants_at_other_learning_rates_train_apart():
    assert proof.shared_lr(("lstm", "lstm_fb3")) == helpers.TrainConfig.lr
    assert proof.shared_lr(("lstm_fb1_lr",)) == proof.LEARNING_RATES["lstm_fb1_lr"] == 1e-2
    with pytest.raises(ValueError, match="variants must share one learning rate"):
        proof.amnesia_test(5, 1, variants=("lstm_fb1", "lstm_fb1_lr"))
    assert proof.VARIANTS["lstm_fb3"] == ("lstm", 3.0) and proof.VARIANTS["lstm_fb1_lr"] == ("lstm", 1.0)


def test_finer_checks_see_the_same_run_sooner_or_at_the_same_step():
    coarse = proof.steps_to_remember(lengths=(20,), seeds=(0,), variants=("transformer",), max_steps=128)
    (fine,) = proof.finer_steps("transformer", lengths=(20,), seeds=(0,), every=8, max_steps=128)
    assert fine["every"] == 8 and fine["steps"] % 8 == 0
    assert coarse[0]["steps"] - 32 < fine["steps"] <= coarse[0]["steps"]  # same models, same strings
    with pytest.raises(ValueError, match="every must be"):
        proof.finer_steps("transformer", every=64)


def test_rope_answers_one_letter_beyond_the_trained_length_where_learned_positions_do_not():
    result = proof.positions_transfer(train_length=20, test_lengths=(20, 21), seeds=(0,), schemes=("learned", "rope"))
    assert set(result["solved"]) == {"learned", "rope"}
    learned, rope = result["accuracy"]["learned"][0], result["accuracy"]["rope"][0]
    assert learned[20] >= 0.99 and learned[21] < 0.5  # as measured: the trained length only
    assert rope[20] >= 0.9 and rope[21] >= 0.9       # distances: the same one letter further on
    with pytest.raises(ValueError, match="schemes must be drawn from"):
        proof.positions_transfer(schemes=("relative",))


def test_decay_per_step_skips_a_gradient_that_underflowed():
    grad = torch.tensor([0.0, 0.0, 1e-3, 1e-2, 1e-1, 1.0, 5.0])  # positions 1, 2 underflowed; T-1 = 1.0
    assert proof.decay_per_step(grad) == pytest.approx(0.1)
    assert proof.decay_per_step(torch.tensor([1e-4, 1e-3, 1e-2, 1e-1, 1.0, 9.0])) == pytest.approx(0.1)
    assert proof.decay_per_step(torch.tensor([0.0, 0.0, 1.0, 2.0])) == 0.0  # nothing left one step back
