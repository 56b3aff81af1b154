import helpers


def fake_experiment(calls):
    def run(length, epochs):
        calls.append((length, epochs))
        if length == 13:
            raise ValueError("length 13 is unlucky")
        return {"length": length, "epochs": epochs}
    return run


def test_panel_runs_at_once_and_on_every_change():
    calls = []
    panel = helpers.Panel(fake_experiment(calls), lambda r: f"length {r['length']}, epochs {r['epochs']}",
                          length=(2, 50, 10), epochs=(1, 5, 2))
    assert calls == [(10, 2)] and panel.text == "length 10, epochs 2"
    panel.length.value = 30
    assert panel.result == {"length": 30, "epochs": 2} and panel.text == "length 30, epochs 2"
    panel.button.click()
    assert calls[-1] == (30, 2) and panel.runs == 3 and not panel.button.disabled


def test_panel_refuses_bad_values_and_stays_usable():
    calls = []
    panel = helpers.Panel(fake_experiment(calls), lambda r: str(r), length=(2, 50, 10), epochs=(1, 5, 2))
    assert panel.run(length=500) is None
    assert "length must be from 2 to 50, got 500" in panel.last_message and "color:#b00020" in panel.message.value
    panel.length.value = 999  # a slider clamps to its range
    assert panel.length.value == 50 and panel.result["length"] == 50
    panel.length.value = 13  # the experiment itself refuses
    assert "refused: length 13 is unlucky" in panel.last_message
    assert panel.result["length"] == 50  # the last good result is kept
    panel.length.value = 20
    assert panel.result["length"] == 20 and panel.last_message.startswith("done in")


def test_amnesia_panel_shows_a_real_result_and_reruns():
    panel = helpers.amnesia_panel(length=(2, 30, 4), epochs=(1, 5, 1))
    first = panel.text
    assert "Length 4, 1 epochs" in first and "Transformer:  answers" in first
    panel.length.value = 6
    assert "Length 6, 1 epochs" in panel.text and panel.result.length == 6
    assert panel.text != first


def test_panel_without_auto_run_waits_for_run():
    calls = []
    panel = helpers.Panel(fake_experiment(calls), str, length=(2, 50, 10), epochs=(1, 5, 2), auto_run=False)
    assert calls == [] and panel.result is None and panel.last_message == ""
    panel.button.click()
    assert calls == [(10, 2)] and panel.last_message.startswith("done in")
