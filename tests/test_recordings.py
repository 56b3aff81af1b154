"""Every recording in data/reference/ that a notebook draws was made with the settings the live code uses now:
changing a timed function's settings (or the recorder's plan) without recording again fails here."""
import copy
import json
from dataclasses import replace

import pytest

from helpers import record
from helpers.core.paths import REFERENCE_DIR
from helpers.lessons import race

DRAWN = sorted(p for p in REFERENCE_DIR.glob("*.json") if record.read(p).get("format") == record.FORMAT)


def test_the_notebooks_draw_recordings():
    assert {record.read(p)["kind"] for p in DRAWN} >= {"race", "scaling", "amnesia", "bottleneck", "linear", "capacity"}


@pytest.mark.parametrize("path", DRAWN, ids=lambda p: p.name)
def test_recording_matches_the_live_settings(path):
    rec = record.read(path)
    assert rec["complete"], f"{path.name} is unfinished"
    assert record.settings_mismatch(rec) == [], f"{path.name} was made with other settings: record it again"


@pytest.mark.parametrize("path", DRAWN, ids=lambda p: p.name)
def test_recording_names_the_commit_that_made_it(path):
    prov = record.read(path)["provenance"]
    commit = prov.get("commit", "unknown")
    assert len(commit) == 40 and all(c in "0123456789abcdef" for c in commit), (
        f"{path.name} was made by code no commit holds ({commit!r}): record it again from a clean checkout")
    assert prov["cpu_capability"] and prov["cpu_threads"] >= 1


@pytest.mark.parametrize("kind", ["race", "scaling"])
def test_race_and_sweep_recordings_carry_their_provenance(kind):
    for rec in record.load(kind):
        prov = rec["provenance"]
        assert prov["commit"] != "unknown" and len(prov["commit"].split("+")[0]) == 40
        assert set(prov["tf32"]) == {"matmul", "cudnn"} and prov["sdpa_kernel"]
        assert prov["cpu_threads"] == rec["settings"]["threads"]
        assert {"torch", "numpy", "python", "load_average"} <= set(prov)


def test_an_altered_setting_is_detected():
    rec = record.read(REFERENCE_DIR / "race_cpu.json")
    altered = copy.deepcopy(rec)
    altered["settings"]["configs"][0]["warmup"] += 1
    assert record.settings_mismatch(altered) == ["settings.configs[0].warmup: recorded 2, live 1"]
    altered = copy.deepcopy(rec)
    altered["settings"]["threads"] = 2
    assert record.settings_mismatch(altered) == ["settings.threads: recorded 2, live 1"]


def test_a_changed_live_default_is_detected(monkeypatch):
    rec = record.read(REFERENCE_DIR / "race_cpu.json")
    plan = record.race_plan

    def new_plan(device, quick=False):
        return [replace(c, repeats=c.repeats + 2) for c in plan(device, quick)]
    monkeypatch.setattr(record, "race_plan", new_plan)
    found = record.settings_mismatch(rec)
    assert found and all(".repeats: recorded 5, live 7" in line for line in found)


def test_a_new_setting_of_the_timed_function_is_detected(monkeypatch):
    rec = json.loads(json.dumps(record.read(REFERENCE_DIR / "race_cpu.json")))
    del rec["settings"]["configs"][1]["tf32"]  # as a recording made before the switch existed
    assert record.settings_mismatch(rec) == ["settings.configs[1].tf32: recorded '(absent)', live False"]
    assert race.RaceConfig().tf32 is False


def test_settings_mismatch_refuses_an_unknown_kind():
    with pytest.raises(ValueError, match="rec must be a recording of kind"):
        record.settings_mismatch({"kind": "bench", "provenance": {"device": "cpu"}, "settings": {}})
