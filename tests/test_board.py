"""The class board without a hub: what it accepts (deploy/board/schema.py), how it stores (storage.py), its rate
limit, helpers.board and the Share button on a laptop, and the board in the hub's configurations. The board with the
real hub, proxy and students is in test_board_hub.py."""
import importlib.util
import json
import sys
from pathlib import Path

import pytest
import yaml

import helpers
from helpers import board

ROOT = Path(__file__).resolve().parents[1]
BOARD = ROOT / "deploy" / "board"


def load(name):
    """A module of deploy/board/, as the service imports it (that folder on the path)."""
    sys.path.insert(0, str(BOARD))
    try:
        spec = importlib.util.spec_from_file_location(f"board_{name}", BOARD / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BOARD))


schema, storage, server = load("schema"), load("storage"), load("server")


def a_run(**changes):
    """A valid shared run, as helpers.board sends it."""
    run = {"notebook": "04", "model": "transformer", "length": 20, "epochs": 2, "seed": 0, "size": "width",
           "params": 40_000, "accuracy": 1.0, "solved_epoch": 2, "steps_to_90": 64, "seconds": 0.9,
           "torch": "2.13.0+cpu"}
    return run | changes


def test_a_valid_run_is_kept_and_a_name_in_it_is_dropped():
    assert schema.check_run(a_run()) == a_run() | {"accuracy": 1.0, "seconds": 0.9}
    assert "student" not in schema.check_run(a_run(student="bala"))  # the hub says who; the payload never does
    runs = schema.parse_share(json.dumps([a_run(), a_run(model="lstm", solved_epoch=None, steps_to_90=None)]).encode())
    assert [r["model"] for r in runs] == ["transformer", "lstm"]


@pytest.mark.parametrize("changes, message", [
    ({"length": 10**6}, r"length must be an integer from 3 to 200, got 1000000"),
    ({"length": 2}, r"length must be an integer from 3 to 200, got 2"),
    ({"epochs": 51}, r"epochs must be an integer from 1 to 50, got 51"),
    ({"accuracy": 1.5}, r"accuracy must be a number from 0 to 1, got 1.5"),
    ({"accuracy": float("nan")}, r"accuracy must be a number from 0 to 1, got nan"),
    ({"seconds": -1}, r"seconds must be a number from 0 to 86400, got -1"),
    ({"model": "gpt"}, r"model must be one of \['rnn', "),
    ({"notebook": "07"}, r"notebook must be one of \['01', '04', '05', '14'\], got '07'"),
    ({"size": "huge"}, r"size must be one of \['width', 'params', 'default'\]"),
    ({"solved_epoch": 3}, r"solved_epoch must be an integer from 0 to 2, got 3"),
    ({"steps_to_90": 65}, r"steps_to_90 must be an integer from 0 to 64, got 65"),
    ({"length": True}, r"length must be an integer from 3 to 200, got True"),
    ({"torch": "2.13; rm -rf /"}, r"torch must be a version such as"),
    ({"admin": True}, r"unknown field 'admin'"),
])
def test_a_run_out_of_the_panels_limits_is_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        schema.check_run(a_run(**changes))


@pytest.mark.parametrize("body, message", [
    (b"{not json", r"a share must be JSON"),
    (b"[]", r"a share must hold from 1 to 8 runs, got 0"),
    (json.dumps([a_run()] * 9).encode(), r"a share must be at most 4096 bytes|from 1 to 8 runs"),
    (b"x" * 2**20, r"a share must be at most 4096 bytes, got 1048576"),
    (b'"a string"', r"a run must be a JSON object, got str"),
    (json.dumps({k: v for k, v in a_run().items() if k != "accuracy"}).encode(), r"missing field 'accuracy'"),
])
def test_a_malformed_or_oversized_share_is_refused(body, message):
    with pytest.raises(ValueError, match=message):
        schema.parse_share(body)


def test_the_store_replaces_a_students_own_repeat_only_and_survives_a_reopening(tmp_path):
    url = f"sqlite:///{tmp_path / 'board.sqlite'}"
    store = storage.open_store(url)
    assert store.current_round() == 1
    (first,) = store.put("asha", [a_run(accuracy=0.5)])
    store.put("bala", [a_run(accuracy=0.6)])
    assert store.put("asha", [a_run(accuracy=0.7)]) == [first]  # the same settings: asha's run replaced
    store.put("asha", [a_run(seed=1, accuracy=0.8)])              # another seed: a new run
    runs = store.runs()
    assert [(r["student"], r["accuracy"]) for r in runs] == [("asha", 0.7), ("bala", 0.6), ("asha", 0.8)]
    store.close()
    store = storage.open_store(url)  # a restart of the board
    assert [(r["id"], r["student"], r["accuracy"]) for r in store.runs()] == [(r["id"], r["student"], r["accuracy"])
                                                                              for r in runs]
    assert store.new_round("teacher") == 2 and store.runs() == []
    store.put("asha", [a_run()])
    assert len(store.runs(1)) == 3 and len(store.runs()) == 1  # earlier rounds stay stored
    assert store.delete([runs[1]["id"]]) == 1 and [r["student"] for r in store.runs(1)] == ["asha", "asha"]
    assert store.delete() == 1 and store.runs() == [] and len(store.runs(1)) == 2


def test_a_share_is_stored_all_or_none(tmp_path):
    store = storage.open_store(f"sqlite:///{tmp_path / 'board.sqlite'}")
    with pytest.raises(TypeError, match="not JSON serializable"):
        store.put("asha", [a_run(), a_run(seed=2, accuracy=object())])
    assert store.runs() == []


@pytest.mark.parametrize("url, message", [
    ("postgres://db/board", r"COURSE_BOARD_DB must be sqlite:/// and an absolute path"),
    ("sqlite:///relative.sqlite", r"COURSE_BOARD_DB must be sqlite:/// and an absolute path"),
    ("sqlite:////no/such/folder/board.sqlite", r"the folder /no/such/folder does not exist"),
])
def test_the_store_url_is_checked(url, message):
    with pytest.raises(ValueError, match=message):
        storage.open_store(url)


def test_the_rate_limit_is_per_student_and_refills():
    now = [0.0]
    bucket = server.Bucket(5, 1.0, clock=lambda: now[0])
    assert [bucket.take("asha") for _ in range(7)] == [True] * 5 + [False] * 2
    assert bucket.take("bala", 3) and not bucket.take("asha")  # bala has their own bucket
    now[0] = 2.0
    assert [bucket.take("asha") for _ in range(3)] == [True, True, False]


def test_the_notebooks_client_draws_as_the_board_page_does():
    assert board.STYLES == schema.STYLES
    from helpers.view.plots import COLORS
    assert all(board.STYLES[m][1] == COLORS[m] for m in COLORS)  # the course's palette


def test_without_the_course_hub_there_is_no_share_button_and_one_line_says_why(monkeypatch):
    monkeypatch.delenv("COURSE_BOARD_URL", raising=False)
    monkeypatch.delenv("JUPYTERHUB_API_TOKEN", raising=False)
    ok, why = board.available()
    assert not ok and why.startswith("no class board here: sharing needs the course's JupyterHub")
    with pytest.raises(board.BoardError, match="no class board here"):
        board.fetch()
    said = []
    board.share([a_run()], done=lambda message, ok: said.append((message, ok))).join(10)
    assert said == [(f"not shared: {why}", False)]
    panel = helpers.amnesia_panel(length=(3, 30, 4), epochs=(1, 5, 1), notebook="04")
    bar = panel.share_bar
    assert bar in panel.children and bar.button not in bar.children and bar.last_message == why
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "binder-token")  # Binder runs a hub too, not the course's
    assert board.available() == (False, "no class board: this JupyterHub is not the course's (no COURSE_BOARD_URL)")


def test_a_share_that_finds_no_board_says_so_and_the_panel_stays_usable(monkeypatch):
    monkeypatch.setenv("COURSE_BOARD_URL", "http://127.0.0.1:9/services/course-board/")  # nobody listens there
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "a-token")
    panel = helpers.amnesia_panel(length=(3, 30, 4), epochs=(1, 5, 1), notebook="04")
    bar = panel.share_bar
    assert bar.button in bar.children
    bar.press().join(30)
    assert bar.last_message.startswith("not shared: the board did not answer") and not bar.button.disabled
    runs = board.runs_of(panel.result, "04")
    assert [r["model"] for r in runs] == list(helpers.CONTESTANTS)
    assert all(schema.check_run(r) == r for r in runs)  # what the panel sends, the board accepts
    assert runs[0]["length"] == 4 and runs[0]["epochs"] == 1 and runs[0]["seed"] == 0
    panel.run(length=5)  # the panel goes on
    assert panel.result.length == 5


def test_a_share_before_any_result_is_refused_with_a_message(monkeypatch):
    monkeypatch.setenv("COURSE_BOARD_URL", "http://127.0.0.1:9/services/course-board/")
    monkeypatch.setenv("JUPYTERHUB_API_TOKEN", "a-token")
    panel = helpers.Panel(lambda length, epochs: None, lambda r: "", length=(3, 10, 3), epochs=(1, 2, 1),
                          auto_run=False)
    from helpers.view.widgets import share_bar
    bar = share_bar(panel, "05")
    assert bar.press() is None and bar.last_message == "nothing to share yet: run the panel first"


def load_config(monkeypatch, tmp_path, mode):
    """deploy/jupyterhub_config.py as JupyterHub loads it in `mode`."""
    from traitlets.config import Config
    for name in [n for n in list(__import__("os").environ) if n.startswith(("COURSE_", "OAUTH"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("COURSE_HUB_MODE", mode)
    monkeypatch.setenv("COURSE_HUB_STATE", str(tmp_path / mode))
    config = Config()
    path = ROOT / "deploy" / "jupyterhub_config.py"
    exec(compile(path.read_text(), str(path), "exec"), {"get_config": lambda: config, "__file__": str(path)})
    return config


@pytest.mark.parametrize("mode", ["local", "server"])
def test_the_hub_starts_the_board_in_both_modes(monkeypatch, tmp_path, mode):
    config = load_config(monkeypatch, tmp_path, mode)
    (service,) = [s for s in config.JupyterHub.services if s["name"] == "course-board"]
    assert service["command"][1] == str(BOARD / "server.py") and service["url"] == "http://127.0.0.1:8181"
    assert service["environment"]["COURSE_BOARD_DB"] == f"sqlite:///{tmp_path / mode / 'board.sqlite'}"
    roles = {r["name"]: r for r in config.JupyterHub.load_roles}
    assert "access:services!service=course-board" in roles["user"]["scopes"]
    assert roles["course-board"]["scopes"] == ["read:users"]
    assert "access:services!service=course-board" in config.Spawner.server_token_scopes
    assert config.Spawner.environment["COURSE_BOARD_URL"] == "http://127.0.0.1:8181/services/course-board/"
    monkeypatch.setenv("COURSE_BOARD_PORT", "80")
    with pytest.raises(ValueError, match="COURSE_BOARD_PORT must be a number from 1024 to 65535, got '80'"):
        exec(compile((ROOT / "deploy" / "jupyterhub_config.py").read_text(), "config", "exec"),
             {"get_config": lambda: type(config)(), "__file__": str(ROOT / "deploy" / "jupyterhub_config.py")})


def test_zero_to_jupyterhub_runs_the_board_too():
    values = yaml.safe_load((ROOT / "deploy" / "z2jh" / "config.yaml").read_text())
    service = values["hub"]["services"]["course-board"]
    assert service["command"][-1] == values["hub"]["extraFiles"]["board-server"]["mountPath"]
    assert service["url"].endswith(":8181") and service["environment"]["COURSE_BOARD_PORT"] == "8181"
    assert service["environment"]["COURSE_BOARD_DB"] == "sqlite:////srv/jupyterhub/board.sqlite"  # the hub's volume
    assert values["singleuser"]["extraEnv"]["COURSE_BOARD_URL"] == "http://hub:8181/services/course-board/"
    roles = values["hub"]["loadRoles"]
    assert "access:services!service=course-board" in roles["user"]["scopes"]


def test_notebook_05s_and_14s_panels_give_runs_the_board_accepts():
    from helpers.lessons import amnesia as proof
    grads = proof.gradient_experiment(length=5, epochs=1, variants=("rnn", "lstm_fb1", "transformer"))
    runs = board.runs_of(grads, "05", seed=0)
    assert [r["model"] for r in runs] == ["rnn", "lstm_fb1", "transformer"]
    assert all(schema.check_run(r) == r and r["size"] == "default" for r in runs)
    r = grads.runs["transformer"]
    histories = {"Transformer": r.history["transformer"], "Matrix memory": r.history["transformer"]}
    fourteen = {"length": 5, "epochs": 1, "histories": histories, "params": {"Transformer": 10, "Matrix memory": 12}}
    runs = board.runs_of(fourteen, "14", seed=3)  # notebook 14's run() returns this dict
    assert [(r["model"], r["params"], r["seed"]) for r in runs] == [("transformer", 10, 3), ("matrix", 12, 3)]
    assert all(schema.check_run(r) == r for r in runs)
