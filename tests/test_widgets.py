import time

import matplotlib.pyplot as plt
import pytest

import helpers
from helpers.core.train import checkpoint


def fake_experiment(calls, seconds=0.0):
    """An experiment that takes `seconds` in small steps a Stop can end, and refuses length 13."""
    def run(length, epochs):
        calls.append((length, epochs))
        if length == 13:
            raise ValueError("length 13 is unlucky")
        for _ in range(round(seconds / 0.01)):
            checkpoint()
            time.sleep(0.01)
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
    panel = helpers.Panel(fake_experiment(calls, seconds=1.0), describe, length=(2, 50, 10), epochs=(1, 5, 2))
    start = time.perf_counter()
    for length in range(11, 18):  # seven arrow-key nudges, 50 ms apart
        panel.length.value = length
        time.sleep(0.05)
    panel.wait()
    assert calls[1:] == [(17, 2)] and panel.text == "length 17, epochs 2"
    assert time.perf_counter() - start < 2.5  # the nudges, the settling time and one run of 1 s


def test_changes_during_a_run_end_it_and_the_latest_values_run_once():
    calls = []
    panel = helpers.Panel(fake_experiment(calls, seconds=2.0), describe, length=(2, 50, 10), epochs=(1, 5, 2))
    start = time.perf_counter()
    for length in (20, 30, 40):  # each one arrives while the run before it is going
        panel.length.value = length
        time.sleep(0.6)
    panel.wait()
    seconds = time.perf_counter() - start
    assert calls[1:] == [(20, 2), (30, 2), (40, 2)] and panel.text == "length 40, epochs 2" and panel.runs == 2
    assert seconds < 4.5  # 1.2 s of changes, then one whole run: not three whole runs (6 s)


def test_stop_ends_the_run_at_once_and_keeps_the_last_result():
    calls = []
    panel = helpers.Panel(fake_experiment(calls), describe, length=(2, 50, 10), epochs=(1, 5, 2))
    panel.run_fn = fake_experiment(calls, seconds=30.0)
    panel.length.value = 25
    time.sleep(0.8)
    assert panel.running and panel.button.description == "Stop" and calls[-1] == (25, 2)
    start = time.perf_counter()
    panel.button.click()  # the button says Stop: this is Stop
    panel.wait()
    assert time.perf_counter() - start < 0.5
    assert panel.last_message == "stopped before anything could be shown: the previous result is kept"
    assert panel.text == "length 10, epochs 2" and panel.button.description == "Run" and not panel.running


def test_figures_drawn_in_a_run_become_the_panels_pngs_and_are_closed():
    def show(result):
        plt.plot([1, 2, 3])
        plt.show()  # in a panel's run this is collected, not sent to whichever cell is current
        plt.figure()
        plt.plot([3, 2, 1])  # left open: collected too
        return "two figures"
    plt.close("all")
    panel = helpers.Panel(fake_experiment([]), show, length=(2, 50, 10), epochs=(1, 5, 2))
    assert len(panel.figures) == 2 and plt.get_fignums() == []
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
    panel = helpers.amnesia_panel(length=(2, 30, 4), epochs=(1, 5, 1))
    first = panel.text
    assert first.startswith("Length 4, 1 epochs at most") and "Transformer:          answers" in first
    panel.length.value = 6
    panel.wait()
    assert panel.text.startswith("Length 6, 1 epochs at most") and panel.result.length == 6
    assert panel.text != first


def test_amnesia_panel_draws_what_its_show_draws():
    from helpers.view.figures import show_verdicts
    curves = helpers.amnesia_panel(length=(2, 30, 4), epochs=(1, 5, 1))
    verdicts = helpers.amnesia_panel(length=(2, 30, 4), epochs=(1, 5, 1), show=show_verdicts)
    assert len(curves.figures) == 2 and len(verdicts.figures) == 1  # curves + attention; one bar chart
    assert verdicts.text == curves.text == curves.result.summary()  # the same run, the same summary
    assert verdicts.figures[0] != curves.figures[0]


def test_a_stopped_amnesia_run_shows_what_the_models_learned():
    panel = helpers.amnesia_panel(length=(2, 60, 30), epochs=(1, 50, 1))
    panel.epochs.value = 50  # the recurrent models would train for about a minute
    time.sleep(2.5)
    start = time.perf_counter()
    panel.stop()
    panel.wait()
    assert time.perf_counter() - start < 2.0
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


def test_estimate_seconds_grows_with_the_work():
    short, long = helpers.estimate_seconds(20, 1), helpers.estimate_seconds(20, 40)
    assert 0 < short < long and long / short == pytest.approx(40, rel=0.5)
    with pytest.raises(ValueError, match="length must be an integer from 2"):
        helpers.estimate_seconds(1, 1)
