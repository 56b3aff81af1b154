import html
import re
import threading
import time

import matplotlib.pyplot as plt
import pytest
import torch

import helpers
from helpers.core.train import checkpoint


def fake_experiment(calls, seconds=0.0, started=None, finished=None):
    """An experiment that takes `seconds` in small steps a Stop can end, and refuses length 13; `started` (an
    Event) is set once it runs, `finished` (a list) gets the values of every run that went to its end."""
    def run(length, epochs):
        calls.append((length, epochs))
        if started is not None:
            started.set()
        if length == 13:
            raise ValueError("length 13 is unlucky")
        for _ in range(round(seconds / 0.01)):
            checkpoint()
            time.sleep(0.01)
        if finished is not None:
            finished.append((length, epochs))
        return {"length": length, "epochs": epochs}
    return run


def describe(result):
    return f"length {result['length']}, epochs {result['epochs']}"


def test_panel_runs_at_once_and_on_every_change():
    calls = []
    panel = helpers.Panel(fake_experiment(calls), describe, length=(2, 50, 10), epochs=(1, 5, 2))
    assert calls == [(10, 2)] and panel.text == "length 10, epochs 2"  # the first run is done in the cell
    panel.length.value = 30
    panel.wait()
    assert panel.result == {"length": 30, "epochs": 2} and panel.text == "length 30, epochs 2"
    panel.button.click()
    panel.wait()
    assert calls[-1] == (30, 2) and panel.runs == 3 and panel.button.description == "Run"
    assert panel.stop_button.disabled  # Stop is live only while a run is going


def test_panel_refuses_bad_values_and_stays_usable():
    calls = []
    panel = helpers.Panel(fake_experiment(calls), str, length=(2, 50, 10), epochs=(1, 5, 2))
    assert panel.run(length=500) is None
    assert "length must be from 2 to 50, got 500" in panel.last_message and "color:#b00020" in panel.message.value
    assert panel.run(width=3) is None and "unknown control 'width'" in panel.last_message
    panel.length.value = 999  # a slider clamps to its range
    panel.wait()
    assert panel.length.value == 50 and panel.result["length"] == 50
    panel.length.value = 13  # the experiment itself refuses
    panel.wait()
    assert "refused: length 13 is unlucky" in panel.last_message
    assert panel.result["length"] == 50  # the last good result is kept
    panel.length.value = 20
    panel.wait()
    assert panel.result["length"] == 20 and panel.last_message.startswith("done in")


def test_a_starting_value_out_of_range_is_refused_not_clipped():
    calls = []  # a notebook parameter (papermill -p LENGTH 500) that the slider could not hold
    with pytest.raises(ValueError, match="length must be an integer from 2 to 50, got 500"):
        helpers.Panel(fake_experiment(calls), str, length=(2, 50, 500), epochs=(1, 5, 2))
    with pytest.raises(ValueError, match="epochs must be an integer from 1 to 5, got 2.5"):
        helpers.Panel(fake_experiment(calls), str, length=(2, 50, 10), epochs=(1, 5, 2.5))
    assert calls == []


def test_a_burst_of_changes_costs_one_run_with_the_last_values():
    calls = []
    panel = helpers.Panel(fake_experiment(calls), describe, length=(2, 50, 10), epochs=(1, 5, 2))
    panel.SETTLE = 2.0  # this panel's settling time, 40 times the nudges' gap: a busy machine cannot split the burst
    for length in range(11, 18):  # seven arrow-key nudges, 50 ms apart
        panel.length.value = length
        time.sleep(0.05)
    panel.wait()
    assert calls[1:] == [(17, 2)] and panel.text == "length 17, epochs 2"  # one run, with the last values
    assert panel.runs == 2 and not panel.running


def test_changes_during_a_run_end_it_and_the_latest_values_run_once():
    calls, finished = [], []
    panel = helpers.Panel(fake_experiment(calls), describe, length=(2, 50, 10), epochs=(1, 5, 2))
    for length in (20, 30, 40):  # each one arrives while the run before it is going
        started = threading.Event()
        panel.run_fn = fake_experiment(calls, seconds=30.0 if length < 40 else 0.2, started=started, finished=finished)
        panel.length.value = length
        assert started.wait(10)
    panel.wait()
    assert calls[1:] == [(20, 2), (30, 2), (40, 2)] and panel.text == "length 40, epochs 2" and panel.runs == 2
    assert finished == [(40, 2)]  # the superseded runs ended at their next step, not after their 30 s


def test_stop_ends_the_run_at_once_and_keeps_the_last_result():
    calls, finished, started = [], [], threading.Event()
    panel = helpers.Panel(fake_experiment(calls), describe, length=(2, 50, 10), epochs=(1, 5, 2))
    panel.run_fn = fake_experiment(calls, seconds=30.0, started=started, finished=finished)
    panel.length.value = 25
    assert started.wait(10)
    assert panel.running and not panel.stop_button.disabled and calls[-1] == (25, 2)
    panel.stop_button.click()
    panel.wait()
    assert finished == []  # ended at its next step, not after 30 s
    assert panel.last_message == "stopped before anything could be shown: the previous result is kept"
    assert panel.text == "length 10, epochs 2"
    assert panel.stop_button.disabled and not panel.running


def test_run_pressed_after_a_slider_move_never_stops_that_run():
    """Move a slider, then press Run (what a user does): the run the move started goes on to its end."""
    calls, finished, started = [], [], threading.Event()
    panel = helpers.Panel(fake_experiment(calls), describe, length=(2, 50, 10), epochs=(1, 5, 2))
    panel.run_fn = fake_experiment(calls, seconds=1.0, started=started, finished=finished)
    messages = []
    panel.message.observe(lambda change: messages.append(change["new"]), "value")
    panel.length.value = 41
    panel.button.click()  # during the settling time: the run is asked for already
    assert started.wait(10)
    panel.button.click()  # while it runs, with the same values
    panel.wait()
    assert calls[1:] == [(41, 2)] and finished == [(41, 2)] and panel.text == "length 41, epochs 2"
    assert sum("already running with these values" in m for m in messages) == 2
    assert panel.last_message.startswith("done in")


def test_figures_drawn_in_a_run_become_the_panels_pngs_and_never_enter_pyplot():
    def show(result):
        fig, ax = helpers.subplots(figsize=(3, 2))
        ax.plot([1, 2, 3])
        helpers.show()  # in a panel's run this does nothing: the panel shows what was collected
        _, ax = helpers.subplots()
        ax.plot([3, 2, 1])
        return "two figures"
    plt.close("all")
    mine = plt.figure()  # a figure of the student's own, open in pyplot
    panel = helpers.Panel(fake_experiment([]), show, length=(2, 50, 10), epochs=(1, 5, 2))
    assert len(panel.figures) == 2 and plt.get_fignums() == [mine.number]  # theirs untouched, the panel's never in
    plt.close("all")
    assert [o["data"]["image/png"] for o in panel.out.outputs] == panel.figures
    assert all(png.startswith("iVBORw0KGgo") for png in panel.figures)  # base64 of the PNG signature
    assert '<img src="data:image/png;base64,' in panel._repr_mimebundle_()["text/html"]


def test_a_failing_experiment_says_so_in_the_panel_and_the_panel_stays_usable():
    def run(length, epochs):
        if length == 7:
            raise RuntimeError("out of memory")
        return {"length": length, "epochs": epochs}
    panel = helpers.Panel(run, describe, length=(2, 50, 10), epochs=(1, 5, 2))
    panel.length.value = 7
    panel.wait()
    assert panel.last_message == "failed: RuntimeError: out of memory" and panel.text == "length 10, epochs 2"
    panel.length.value = 8
    panel.wait()
    assert panel.text == "length 8, epochs 2"


def test_amnesia_panel_shows_a_real_result_and_reruns():
    panel = helpers.amnesia_panel(length=(3, 30, 4), epochs=(1, 5, 1))
    first = panel.text
    assert first.startswith("Length 4, 1 epochs at most") and "Transformer:          answers" in first
    panel.length.value = 6
    panel.wait()
    assert panel.text.startswith("Length 6, 1 epochs at most") and panel.result.length == 6
    assert panel.text != first


def test_amnesia_panel_draws_what_its_show_draws():
    from helpers.view.figures import show_verdicts
    curves = helpers.amnesia_panel(length=(3, 30, 4), epochs=(1, 5, 1))
    verdicts = helpers.amnesia_panel(length=(3, 30, 4), epochs=(1, 5, 1), show=show_verdicts)
    assert len(curves.figures) == 2 and len(verdicts.figures) == 1  # curves + attention; one bar chart
    assert verdicts.text == curves.text == curves.result.summary()  # the same run, the same summary
    assert verdicts.figures[0] != curves.figures[0]


def test_a_stopped_amnesia_run_shows_what_the_models_learned():
    panel = helpers.amnesia_panel(length=(3, 60, 30), epochs=(1, 50, 1))
    messages, trained = [], threading.Event()
    panel.message.observe(lambda change: messages.append(html.unescape(change["new"])), "value")
    report = panel._progress
    panel._progress = lambda name, epoch, epochs: (report(name, epoch, epochs), epoch >= 1 and trained.set())
    panel.epochs.value = 50  # the recurrent models would train for about a minute
    assert trained.wait(120)
    panel.stop()
    panel.wait()
    said = [m for m in messages if "stopped after" in m]
    assert "shown below as soon as it is drawn" in said[0]  # said before the figures are drawn
    assert panel.last_message.startswith("stopped after") and panel.result.epochs == 50
    lstm = next(line for line in panel.text.splitlines() if line.startswith("LSTM: "))
    assert "stopped after" in lstm and "of 50 epochs" in lstm


def test_panel_without_auto_run_waits_for_run():
    calls = []
    panel = helpers.Panel(fake_experiment(calls), str, length=(2, 50, 10), epochs=(1, 5, 2), auto_run=False)
    assert calls == [] and panel.result is None and panel.last_message == ""
    panel.button.click()
    panel.wait()
    assert calls == [(10, 2)] and panel.last_message.startswith("done in")


def test_a_long_run_says_its_estimate_when_it_starts():
    panel = helpers.Panel(fake_experiment([]), describe, length=(2, 50, 10), epochs=(1, 5, 2), auto_run=False,
                          estimate=lambda length, epochs: 12.0 * length)
    messages = []
    panel.message.observe(lambda change: messages.append(change["new"]), "value")
    panel.run(length=4)
    assert "about 48 s at most, Stop ends it early" in messages[0]
    panel.run(length=2)
    assert "about" not in messages[-2]  # 24 s: short enough to say nothing


def test_a_failing_estimate_is_said_in_the_panel_and_the_next_run_works():
    def estimate(length, epochs):
        if length == 9:
            raise RuntimeError("no clock")
        return 1.0
    panel = helpers.Panel(fake_experiment([]), describe, length=(2, 50, 10), epochs=(1, 5, 2), estimate=estimate)
    panel.length.value = 9
    panel.wait()
    assert panel.last_message == "failed: RuntimeError: no clock" and not panel.running
    panel.length.value = 8
    panel.wait()
    assert panel.text == "length 8, epochs 2"


def test_estimate_seconds_grows_with_the_work_and_times_only_short_steps():
    timed = []

    def timer(variant, length, size):
        timed.append(length)
        return 0.01
    one, forty = helpers.estimate_seconds(20, 1, timer=timer), helpers.estimate_seconds(20, 40, timer=timer)
    steps = lambda epochs: epochs * 2048 // 64 + (epochs + 1) * (512 // 64) // 3  # noqa: E731 -- evaluations a third
    assert (one, forty) == (pytest.approx(0.01 * steps(1)), pytest.approx(0.01 * steps(40)))  # a step per step
    from helpers.lessons.amnesia import ESTIMATE_LENGTH, step_seconds
    timed.clear()
    longest = helpers.estimate_seconds(1024, 1000, timer=lambda v, n, s: timer(v, n, s) and step_seconds(v, n, s))
    assert timed == [ESTIMATE_LENGTH] * 3 and longest > 1000  # three short real steps, however long the run asked
    recurrent, attention = (helpers.estimate_seconds(64, 1, variants=(v,), timer=timer)
                            for v in ("lstm", "transformer"))
    assert attention / recurrent == pytest.approx(2)  # a recurrent step grows with n, an attention step with n²
    with pytest.raises(ValueError, match="length must be an integer from 3"):
        helpers.estimate_seconds(2, 1)


def test_a_cell_run_beside_a_background_run_changes_neither_numbers_nor_figures():
    """A cell that seeds, draws random numbers and plots with pyplot while a panel trains in the background: the
    panel's result is the one a quiet run gives, the cell's numbers are its seed's, and each keeps its figures."""
    panel = helpers.amnesia_panel(length=(3, 30, 5), epochs=(1, 5, 2))
    quiet = panel.run(length=6)
    quiet_text, quiet_figures = panel.text, len(panel.figures)
    with helpers.seeded(123):
        expected = torch.randn(8)
    plt.close("all")
    panel.length.value = 5
    panel.wait()
    panel.length.value = 6  # the same run as `quiet`, now in the background
    mine, draws = [], 0
    while panel.running or draws == 0:
        with helpers.seeded(123):
            assert torch.equal(torch.randn(8), expected)  # the cell's own seed gives the cell's own numbers
            helpers.build_model("transformer", helpers.ModelConfig(d_model=16))  # and builds a model meanwhile
        if draws < 5:
            fig = plt.figure()
            plt.plot([draws, draws + 1])
            mine.append(fig.number)
        draws += 1
        time.sleep(0.01)
    panel.wait()
    assert panel.text == quiet_text and panel.result.accuracy == quiet.accuracy  # the background run's numbers
    assert len(panel.figures) == quiet_figures == 2  # the panel took none of the cell's figures
    assert plt.get_fignums() == mine  # and the cell's figures are all its own, none closed or added
    plt.close("all")


def test_a_long_run_without_an_estimate_extrapolates_its_first_model():
    panel = helpers.Panel(fake_experiment([]), describe, length=(2, 50, 10), epochs=(1, 5, 2), auto_run=False)
    panel._started, panel._reported, panel._estimate, panel._first_name = time.perf_counter() - 20, 0.0, None, None
    panel._progress("Transformer", 2, 20)
    assert re.fullmatch(r"running… Transformer epoch 2/20, 20 s of about 20\d s", panel.last_message)
    panel._reported = 0.0
    panel._progress("LSTM", 1, 20)  # a second model: its time is not the first one's
    assert panel.last_message == "running… LSTM epoch 1/20, 20 s"
    panel._started, panel._reported, panel._first_name = time.perf_counter() - 1, 0.0, None
    panel._progress("Transformer", 1, 20)  # about 20 s in all: short, nothing said
    assert panel.last_message == "running… Transformer epoch 1/20, 1 s"
