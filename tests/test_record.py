"""The one recorder: every kind writes the same format with its provenance, runs with torch and NumPy alone,
and load() reads only recordings of the kind asked for."""
import json
import re
import subprocess
import sys

import pytest
import torch

from helpers import record

BLOCKED = "import sys\nfor m in ('matplotlib', 'seaborn', 'ipywidgets'): sys.modules[m] = None\n"


def run_recorder(*args):
    """python -m helpers.record ARGS in a fresh interpreter where matplotlib, seaborn and ipywidgets cannot load."""
    code = BLOCKED + (f"sys.argv = ['helpers.record', *{list(args)!r}]\n"
                      "import runpy\nrunpy.run_module('helpers.record', run_name='__main__')")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("kind", record.RECORDINGS)
def test_each_kind_writes_one_format_with_provenance_without_matplotlib(kind, tmp_path):
    done = run_recorder(kind, "--device", "cpu", "--quick", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    data = json.loads((tmp_path / f"{kind}_cpu.json").read_text())
    assert (data["format"], data["kind"], data["complete"]) == (record.FORMAT, kind, True)
    prov = data["provenance"]
    assert prov["command"] == f"python -m helpers.record {kind} --device cpu --quick --out {tmp_path}"
    assert prov["device"] == "cpu" and prov["torch"] == torch.__version__ and prov["wall_seconds"] >= 0
    assert prov["cpu_capability"] == torch.backends.cpu.get_cpu_capability() and prov["commit"]
    assert data["results"] and record.load(kind, tmp_path) == [data]
    assert record.label(data).startswith("recorded on ")


def test_quick_recordings_hold_what_the_notebooks_read(tmp_path):
    record.record_race("cpu", tmp_path / "race_cpu.json", quick=True, log=lambda *_: None)
    record.record_amnesia("cpu", tmp_path / "amnesia_cpu.json", quick=True, log=lambda *_: None)
    race = record.load("race", tmp_path)[0]["results"][0]
    assert race["config"]["words"] == 40 and {r["way"] for r in race["rows"]} == {"torch-cpu"}
    amnesia = record.load("amnesia", tmp_path)[0]
    keys = {(r["model"], r["length"], r["seed"]) for r in amnesia["results"]}
    assert keys == {(m, L, 0) for m in ("lstm", "transformer") for L in (5, 6)}
    assert amnesia["settings"]["variants"] == {"lstm": ["lstm", 0.0], "transformer": ["transformer", 0.0]}
    assert all(set(r) >= {"steps", "test_acc", "params", "seconds"} for r in amnesia["results"])


def test_an_unfinished_recording_with_the_same_settings_is_resumed(tmp_path):
    path = tmp_path / "amnesia_cpu.json"
    record.record_amnesia("cpu", path, quick=True, log=lambda *_: None)
    whole = json.loads(path.read_text())
    whole["complete"], whole["results"] = False, whole["results"][:3]  # as if it had stopped after 3 runs
    path.write_text(json.dumps(whole))
    said = []
    record.record_amnesia("cpu", path, quick=True, log=said.append)
    again = json.loads(path.read_text())
    assert said[0] == f"resuming {path}: 3 runs already recorded" and len(said) == 1 + 1  # one run measured
    assert again["complete"] and again["results"][:3] == whole["results"]
    assert len(again["results"]) == 4 and again["provenance"]["resumed_from"] == whole["provenance"]["date"]
    whole["settings"]["max_steps"] = 32  # other settings: started afresh, not mixed
    whole["complete"] = False
    path.write_text(json.dumps(whole))
    record.record_amnesia("cpu", path, quick=True, log=said.append)
    assert len(json.loads(path.read_text())["results"]) == 4 and not said[-1].startswith("resuming")


def test_load_skips_other_files_and_puts_a_gpu_first(tmp_path):
    def write(name, kind, device):
        (tmp_path / name).write_text(json.dumps({"format": record.FORMAT, "kind": kind, "results": [],
                                                 "provenance": {"device": device}}))
    write("race_cpu.json", "race", "cpu")
    write("race_cuda.json", "race", "cuda")
    write("scaling_cpu.json", "scaling", "cpu")
    (tmp_path / "notes.json").write_text(json.dumps({"device": "cpu", "sweep": []}))
    assert [r["provenance"]["device"] for r in record.load("race", tmp_path)] == ["cuda", "cpu"]
    with pytest.raises(ValueError, match="kind must be one of"):
        record.load("bench", tmp_path)


def test_a_busy_machine_is_named_in_the_label():
    rec = {"provenance": {"device_name": "CPU", "date": "2026-12-01", "cpu_threads": 2, "load_average": 5.0}}
    assert record.label(rec) == "recorded on CPU, 2026-12-01 (busy: load 5)"


def test_a_stopped_recording_keeps_what_it_measured(tmp_path):
    rec = record.Recording("amnesia", "cpu", {"lengths": [5]}, tmp_path / "a.json", command="test")
    rec.add({"model": "lstm", "accuracy": 0.5})
    data = json.loads((tmp_path / "a.json").read_text())
    assert data["complete"] is False and data["results"] == [{"model": "lstm", "accuracy": 0.5}]


def test_the_recorder_refuses_a_missing_or_unknown_device(tmp_path):
    with pytest.raises(ValueError, match="device must be 'cpu' or 'cuda'"):
        record.check_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="not available on this machine"):
            record.check_device("cuda")
        done = run_recorder("race", "--device", "cuda", "--out", str(tmp_path))
        assert done.returncode == 2 and "not available on this machine" in done.stderr


def test_the_stored_recordings_are_in_the_current_format():
    for kind in record.RECORDINGS:
        recs = record.load(kind)
        assert recs, f"no {kind} recording in data/reference/"
        for rec in recs:
            assert rec["provenance"]["command"].startswith("python -m helpers.")
            # an unfinished file only where the recorder resumes it and notebook 05 names the runs it lacks
            assert rec["complete"] or (kind == "amnesia" and rec["results"])


def test_a_corrupt_recording_is_refused_naming_the_file_not_started_over(tmp_path):
    path = tmp_path / "amnesia_cpu.json"
    path.write_text('{"format": "helpers.record/1", "kind": "amnesia", "results": [{"model": "ls')  # cut off
    rec = record.Recording("amnesia", "cpu", {"lengths": [5]}, path, command="test")
    with pytest.raises(ValueError, match=re.escape(f"{path} is not a readable recording")):
        rec.resume()
    with pytest.raises(ValueError, match=re.escape(f"{path} is not a readable recording")):
        record.load("amnesia", tmp_path)
    path.write_text("[]")
    with pytest.raises(ValueError, match="holds a JSON list, not an object"):
        rec.resume()
    assert record.Recording("amnesia", "cpu", {}, tmp_path / "none.json").resume() == []  # no file: a fresh start


def test_a_write_cut_before_its_replace_leaves_the_old_file_whole(tmp_path, monkeypatch):
    path = tmp_path / "a.json"
    rec = record.Recording("amnesia", "cpu", {"lengths": [5]}, path, command="test")
    rec.add({"model": "lstm", "accuracy": 0.5})
    before = path.read_text()

    def killed(src, dst):
        assert json.loads(open(src).read())["results"][-1] == {"model": "gru", "accuracy": 0.7}  # written in full
        raise KeyboardInterrupt("killed between the write and the replace")
    monkeypatch.setattr(record.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt, match="killed between the write and the replace"):
        rec.add({"model": "gru", "accuracy": 0.7})
    assert path.read_text() == before and [p.name for p in tmp_path.iterdir()] == ["a.json"]  # no temporary left
    monkeypatch.undo()
    rec.add()
    assert [r["model"] for r in json.loads(path.read_text())["results"]] == ["lstm", "gru"]


def test_a_finished_recording_is_extended_by_new_variants_only(tmp_path):
    path = tmp_path / "amnesia_cpu.json"
    old = {"lengths": [5], "variants": {"lstm": ["lstm", 0.0]}, "learning_rates": {}}
    first = record.Recording("amnesia", "cpu", old, path, command="test")
    first.add({"model": "lstm", "length": 5, "seed": 0})
    first.finish()
    new = {"lengths": [5], "variants": {"lstm": ["lstm", 0.0], "lstm_fb1_lr": ["lstm", 1.0]},
           "learning_rates": {"lstm_fb1_lr": 0.01}}
    assert record.Recording("amnesia", "cpu", new, path).resume(extends=("variants", "learning_rates")) == [
        ("lstm", 5, 0)]  # the old run is kept, only the new variant is to be measured
    assert record.Recording("amnesia", "cpu", new, path).resume() == []  # without `extends`: settings differ
    assert record.Recording("amnesia", "cpu", old, path).resume(extends=("variants",)) == []  # finished, nothing new
    changed = {**new, "variants": {"lstm": ["lstm", 1.0], "lstm_fb1_lr": ["lstm", 1.0]}}  # an old variant changed
    assert record.Recording("amnesia", "cpu", changed, path).resume(extends=("variants", "learning_rates")) == []
    dropped = {**new, "variants": {"lstm_fb1_lr": ["lstm", 1.0]}}  # an old variant gone
    assert record.Recording("amnesia", "cpu", dropped, path).resume(extends=("variants", "learning_rates")) == []
    longer = {**new, "lengths": [5, 10]}  # any other setting changed: afresh
    assert record.Recording("amnesia", "cpu", longer, path).resume(extends=("variants", "learning_rates")) == []
