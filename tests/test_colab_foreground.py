"""The panels' foreground mode (for front ends that do not show widget updates sent from a background thread): the
runs happen in the thread that asked, one per intent, and the mode is chosen by an option or COURSE_PANEL_MODE."""
import threading

import pytest

import helpers
from helpers.core.train import checkpoint
from helpers.view.panel import MODE_VARIABLE, panel_mode


def recording_experiment(events, during=None):
    """An experiment that logs (values, thread) when it starts and ends; `during(length)` is called mid-run, between
    two checkpoints, as a change or a click handled while it runs would be."""
    def run(length, epochs):
        events.append(("start", length, threading.current_thread().name))
        checkpoint()
        if during is not None:
            during(length)
        checkpoint()
        events.append(("end", length, threading.current_thread().name))
        return {"length": length, "epochs": epochs}
    return run


def describe(result):
    return f"length {result['length']}"


def test_the_mode_comes_from_the_option_then_the_environment(monkeypatch):
    monkeypatch.delenv(MODE_VARIABLE, raising=False)
    assert panel_mode() == "background" and panel_mode("foreground") == "foreground"
    monkeypatch.setenv(MODE_VARIABLE, "foreground")
    assert panel_mode() == "foreground" and panel_mode("background") == "background"  # the option wins
    monkeypatch.setenv(MODE_VARIABLE, "")
    assert panel_mode() == "background"  # empty is unset
    monkeypatch.setenv(MODE_VARIABLE, "front")
    with pytest.raises(ValueError, match="COURSE_PANEL_MODE must be one of background, foreground, got 'front'"):
        panel_mode()
    with pytest.raises(ValueError, match="mode must be one of background, foreground, got 'thread'"):
        helpers.Panel(recording_experiment([]), describe, length=(2, 50, 10), epochs=(1, 5, 2), mode="thread")


def test_foreground_runs_in_the_asking_thread_and_the_kernel_waits(monkeypatch):
    monkeypatch.setenv(MODE_VARIABLE, "foreground")
    events = []
    panel = helpers.Panel(recording_experiment(events), describe, length=(2, 50, 10), epochs=(1, 5, 2))
    assert panel.mode == "foreground"
    here = threading.current_thread().name
    panel.length.value = 20  # the handler returns only when the run has ended: nothing to wait for
    assert events == [("start", 10, here), ("end", 10, here), ("start", 20, here), ("end", 20, here)]
    assert panel.text == "length 20" and panel.runs == 2 and not panel.running and panel.stop_button.disabled
    panel.button.click()
    assert events[-2:] == [("start", 20, here), ("end", 20, here)] and panel.runs == 3
    assert not [t for t in threading.enumerate() if t.name == "panel-run"]  # no worker thread was started


def test_foreground_change_during_a_run_supersedes_it_with_one_run():
    events, panel = [], None

    def during(length):  # two slider moves and a Run press handled while the run at length 10 goes
        if length == 10 and panel is not None:
            panel.length.value = 30
            panel.length.value = 40
            panel.button.click()  # same values as asked for: "already running", no third run
    panel = helpers.Panel(recording_experiment(events, during), describe, length=(2, 50, 10), epochs=(1, 5, 2),
                          auto_run=False, mode="foreground")
    panel.button.click()
    assert [e[:2] for e in events] == [("start", 10), ("start", 40), ("end", 40)]  # 10 superseded, 30 never ran
    assert panel.text == "length 40" and panel.runs == 1
    assert "already running with these values" not in panel.last_message  # the last word is the finished run's
    assert not panel.running


def test_foreground_stop_during_a_run_keeps_what_was_learned():
    events, panel = [], None

    def during(length):
        panel.stop()
    panel = helpers.Panel(recording_experiment(events, during), describe, length=(2, 50, 10), epochs=(1, 5, 2),
                          auto_run=False, mode="foreground")
    panel.length.value = 12
    assert [e[:2] for e in events] == [("start", 12)]  # ended at its next checkpoint
    assert panel.result is None and "stopped before anything could be shown" in panel.last_message
    assert not panel.running and panel.stop_button.disabled


def test_the_lessons_panels_take_the_mode():
    panel = helpers.amnesia_panel(length=(3, 8, 5), epochs=(1, 2, 1), mode="foreground")
    assert panel.mode == "foreground" and panel.result is not None


def test_foreground_interrupt_between_runs_leaves_the_panel_usable(monkeypatch):
    events = []
    panel = helpers.Panel(recording_experiment(events), describe, length=(2, 50, 10), epochs=(1, 5, 2),
                          auto_run=False, mode="foreground")
    execute = panel._execute

    def interrupted(values, control, refuse=False):  # ■ lands outside the run itself, where nothing catches it
        raise KeyboardInterrupt
    monkeypatch.setattr(panel, "_execute", interrupted)
    with pytest.raises(KeyboardInterrupt, match="^$"):
        panel.length.value = 11
    assert not panel.running and panel.stop_button.disabled
    monkeypatch.setattr(panel, "_execute", execute)
    panel.length.value = 12
    assert [e[:2] for e in events] == [("start", 12), ("end", 12)] and panel.text == "length 12"
