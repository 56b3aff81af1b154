import statistics

import pytest
import torch

import helpers
from helpers.lessons.amnesia import EPOCHS


@pytest.mark.slow  # trains the whole amnesia test (about 10 s)
def test_transformer_learns_recall_at_length_20_with_defaults():
    result = helpers.amnesia_test(length=20)
    print("\n" + result.summary())  # the LSTMs' accuracies are reported, whatever they are
    assert result.accuracy["transformer"] >= 0.99
    assert result.answer == result.string[0] and len(result.string.split()) == 20
    assert set(result.predictions) == set(result.accuracy) == set(result.history) == set(helpers.CONTESTANTS)
    assert result.predictions["transformer"] == result.answer
    assert result.attention.shape == (4, 20, 20)
    solved = result.solved["transformer"]
    assert result.history["transformer"].epochs == solved <= EPOCHS  # it stops once it reaches 99%
    lines = result.summary().splitlines()
    assert lines[0] == (f"Length 20, {EPOCHS} epochs at most (an epoch: 32 steps of 64 new strings; "
                        "a model stops once it reaches 99% held-out accuracy)")
    assert (f"Transformer:          answers {result.answer} (right), held-out accuracy 100.0%, "
            f"solved in {solved} epochs") in lines
    assert result.solved["lstm"] is None and result.history["lstm"].epochs == EPOCHS  # the lesson, at this budget
    assert result.solved["lstm_fb1"] is None
    assert lines[3].startswith("LSTM: ") and lines[3].endswith(f"not solved within {EPOCHS} epochs at this budget")
    params = result.params
    assert params["lstm"] == params["lstm_fb1"] and abs(params["transformer"] / params["lstm"] - 1) < 0.1
    assert all(s > 0 for s in result.seconds.values())


def test_size_params_matches_parameter_counts():
    for length in (20, 200):
        widths = {v: helpers.lessons.amnesia.contestant_config(v, length, "params").d_model
                  for v in helpers.lessons.amnesia.VARIANTS}
        counts = {v: helpers.build_model(helpers.lessons.amnesia.VARIANTS[v][0],
                                         helpers.lessons.amnesia.contestant_config(v, length, "params")).n_params()
                  for v in widths}
        assert widths["lstm"] == widths["lstm_fb1"] == 48
        assert all(abs(n / counts["lstm"] - 1) < 0.1 for n in counts.values()), counts
    assert helpers.lessons.amnesia.contestant_config("rnn", 20, "params").d_model > 48  # the RNN is widened
    with pytest.raises(ValueError, match="size must be one of"):
        helpers.amnesia_test(length=4, epochs=1, size="big")


def test_workers_side_by_side_give_the_numbers_of_one_after_another():
    a = helpers.amnesia_test(length=6, epochs=2, seed=1, workers=1, target=None)
    b = helpers.amnesia_test(length=6, epochs=2, seed=1, workers=3, target=None)
    for kind in helpers.CONTESTANTS:
        assert a.history[kind].train_loss == b.history[kind].train_loss
        assert a.history[kind].test_acc == b.history[kind].test_acc
    torch.testing.assert_close(a.attention, b.attention, rtol=0, atol=0)


def test_without_a_target_every_epoch_is_trained_and_the_verdict_says_so():
    result = helpers.amnesia_test(length=4, epochs=1, variants=("transformer",), target=None)
    assert result.verdict("transformer") == "trained for 1 epoch" and result.solved["transformer"] is None
    solved = helpers.amnesia_test(length=4, epochs=3, variants=("transformer",))
    n = solved.solved["transformer"]
    assert solved.verdict("transformer") == f"solved in {n} epoch{'s' * (n != 1)}"
    assert solved.history["transformer"].epochs == n


def test_stop_before_a_model_begins_leaves_it_out_and_says_so():
    control = helpers.Control()
    control.stop.set()
    with helpers.controlled(control):
        result = helpers.amnesia_test(length=6, epochs=2)
    assert result.missing == helpers.CONTESTANTS and result.predictions == {}
    assert "Not trained (stopped before they began): LSTM, LSTM, forget bias 1, Transformer" in result.summary()


def test_same_seed_same_result():
    a = helpers.amnesia_test(length=6, epochs=2, seed=5)
    b = helpers.amnesia_test(length=6, epochs=2, seed=5)
    assert a.string == b.string and a.predictions == b.predictions and a.accuracy == b.accuracy
    assert a.history["lstm"].train_loss == b.history["lstm"].train_loss


@pytest.mark.parametrize("kwargs, message", [
    ({"length": 1}, "length must be an integer from 3 to 1024"),
    ({"length": 1025}, "length must be an integer from 3 to 1024"),
    ({"epochs": 0}, "epochs must be an integer from 1 to 1000"),
    ({"seed": -1}, "seed must be an integer"),
    ({"device": "tpu"}, "device must be one of"),
    ({"variants": ("gru",)}, "variants must be drawn from"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        helpers.amnesia_test(**kwargs)


def test_time_recall_step_reports_cpu_and_gpu():
    timing = helpers.time_recall_step("lstm", length=8, batch_size=4, repeats=2)
    assert timing.what == "one training step: LSTM, batch 4, length 8"
    assert len(timing.rows[0]["runs"]) == 2 and timing.median("cpu") == statistics.median(timing.rows[0]["runs"])
    with pytest.raises(ValueError, match="variant must be one of"):
        helpers.time_recall_step("gru")


def _timing(cpu, gpu=None):
    """A Timing with one CPU row and, when `gpu` is given, one GPU row (seconds)."""
    rows = [{"device": "cpu", "name": "CPU, 1 thread", "median_s": cpu, "runs": [cpu]},
            {"device": "cuda", "name": "a GPU" if gpu else helpers.NO_GPU, "median_s": gpu,
             "runs": [gpu] if gpu else []}]
    return helpers.Timing("one training step", rows)


def test_step_sentence_without_a_gpu_says_so_and_names_any_gpu_recording(tmp_path):
    from helpers.lessons.amnesia import step_sentence
    timings = {"lstm": _timing(0.00587), "transformer": _timing(0.00938)}
    (tmp_path / "amnesia_cpu.json").write_text("{}")  # a CPU recording is not a GPU one
    assert step_sentence(timings, reference=tmp_path) == (
        "One training step on the CPU: LSTM: 5.9 ms; Transformer: 9.4 ms; no GPU on this machine, so what a GPU gains "
        "is not measured here (data/reference/ holds no GPU recording of the amnesia test).")
    (tmp_path / "amnesia_cuda.json").write_text("{}")
    assert step_sentence(timings, reference=tmp_path).endswith(
        "not measured here (notebook 05 plots the GPU recording amnesia_cuda.json).")


def test_step_sentence_with_a_gpu_says_faster_or_slower():
    from helpers.lessons.amnesia import step_sentence
    timings = {"lstm": _timing(0.006, 0.012), "transformer": _timing(0.009, 0.003)}
    assert step_sentence(timings) == (
        "One training step: LSTM: 6.0 ms on the CPU, 12.0 ms on the GPU (the GPU 2.0x slower); "
        "Transformer: 9.0 ms on the CPU, 3.0 ms on the GPU (the GPU 3.0x faster).")
    with pytest.raises(ValueError, match="at least one model"):
        step_sentence({})
    with pytest.raises(ValueError, match="variant must be one of"):
        step_sentence({"gru": _timing(0.001)})


def test_chance_margin_is_three_binomial_standard_errors_above_chance():
    from helpers.lessons.amnesia import chance_margin
    p, n = 1 / 26, 512
    sd = torch.distributions.Binomial(n, torch.tensor(p)).stddev / n  # the spread of a guesser's accuracy
    torch.testing.assert_close(torch.tensor(chance_margin(n)), p + 3 * sd, rtol=1e-6, atol=0)
    assert chance_margin(n, k=0) == pytest.approx(p) and chance_margin(4 * n) < chance_margin(n)
    with pytest.raises(ValueError, match="n must be an integer from 1"):
        chance_margin(0)


def test_the_panels_cheaper_checks_train_and_stop_the_same_and_end_on_every_held_out_string():
    """amnesia_test(eval_strings=n), the live panel's opt-in: the checks while training read n held-out strings (all
    of them once the few are within reach of the target), the last one all of them; the training, the stops, the
    answers and the final accuracies are those of the full checks (length 10: two models solve it on the way)."""
    full = helpers.amnesia_test(length=10, epochs=4, seed=0)
    few = helpers.amnesia_test(length=10, epochs=4, seed=0, eval_strings=64)
    assert {v for v, e in full.solved.items() if e is not None} >= {"lstm_fb1", "transformer"}
    assert few.accuracy == full.accuracy and few.predictions == full.predictions and few.solved == full.solved
    for v in full.history:
        assert few.history[v].train_loss == full.history[v].train_loss
        assert few.history[v].test_acc[-1] == full.history[v].test_acc[-1]
    with pytest.raises(ValueError, match="eval_strings must be an integer from 1 to 512, got 0"):
        helpers.amnesia_test(length=6, epochs=1, eval_strings=0)


def test_who_solved_names_each_set_of_solvers():
    from types import SimpleNamespace

    from helpers.lessons.amnesia import WHO_SOLVED, who_solved
    cases = {(None, None, None): "none of them", (None, None, 2): "only the Transformer",
             (None, 3, 2): "the Transformer and one LSTM", (1, None, 1): "the Transformer and one LSTM",
             (1, 2, 1): "all three", (None, 4, None): "an LSTM but not the Transformer"}
    for (lstm, fb1, transformer), answer in cases.items():
        result = SimpleNamespace(solved={"lstm": lstm, "lstm_fb1": fb1, "transformer": transformer})
        assert who_solved(result) == answer and answer in WHO_SOLVED


def test_the_amnesia_figures_of_notebooks_01_and_04():
    import matplotlib.pyplot as plt

    from helpers.view.figures_amnesia import plot_answer_sources, last_look_heatmap, show_curves, show_verdicts
    result = helpers.amnesia_test(length=6, epochs=1, seed=0)
    look = last_look_heatmap(result)  # (T,): one row of attention weights, summing to 1
    assert look.shape == (6,) and abs(float(look.sum()) - 1) < 1e-5
    plt.close("all")
    text = show_curves(result)  # the curves, and the summary the browser test reads
    assert text.startswith("Length 6, 1 epochs\nTest string") and "-> position 1: head 1 " in text.splitlines()[-1]
    assert show_verdicts(result) == result.summary()
    task = helpers.LetterRecall(helpers.RecallConfig(length=6, seed=0))
    answers = plot_answer_sources(result, task.test_x)
    assert set(answers) == set(result.models) and all(a.shape == (len(task.test_x),) for a in answers.values())
    plt.close("all")


def test_the_gradient_ratios_figure_divides_by_position_T_minus_1():
    import matplotlib.pyplot as plt

    from types import SimpleNamespace

    from helpers.view.figures_amnesia import plot_gradient_ratios
    g = torch.tensor([1e-3, 1e-2, 1e-1, 1.0, 5.0])  # position T (5.0) has its own path to the loss: left out
    fig = plot_gradient_ratios(SimpleNamespace(length=5, variants=["lstm"], init={"lstm": g}))
    line = fig.axes[0].lines[0]
    assert list(line.get_xdata()) == [1, 2, 3, 4] and line.get_ydata()[-1] == pytest.approx(1)
    assert line.get_ydata()[0] == pytest.approx(1e-3) and "T−1" in fig.axes[0].get_ylabel()
    plt.close(fig)
