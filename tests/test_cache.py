"""No Stop, superseding change or Ctrl-C leaves anything cached that a later call returns: every cached trainer is
stopped before, during and after its first model, and the next call trains and answers."""
import ast
import json
from pathlib import Path

import pytest

import helpers
from helpers.core.train import Control, controlled
from helpers.lessons import amnesia, language, learning

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def stopping(moment):
    """A Control whose Stop comes `moment`: "before" the call, "during" the first model (after its first epoch),
    or "after" the first model (once a model has reported its last epoch)."""
    control = Control()
    seen = []

    def report(name, epoch, epochs):
        seen.append((name, epoch))
        if (moment == "during" and epoch == 1) or (moment == "after" and epoch == epochs):
            control.stop.set()
    control.report, control.seen = report, seen
    if moment == "before":
        control.stop.set()
    return control


def stopped_call(fn, moment, *args, **kwargs):
    """fn(*args, **kwargs) under a Control stopped at `moment`; a Stopped that escapes counts as no result."""
    with controlled(stopping(moment)):
        try:
            return fn(*args, **kwargs)
        except helpers.core.train.Stopped:
            return None


def assert_next_call_trains(fn, cut, *args, **kwargs):
    """After a cut call, the same call trains again (a new object) and that finished result is the one kept."""
    again = fn(*args, **kwargs)
    assert again is not cut
    assert fn(*args, **kwargs) is again  # finished: now it is cached
    return again


@pytest.mark.parametrize("moment", ["before", "during", "after"])
def test_train_variant_keeps_no_stopped_result(moment):
    amnesia.train_variant.cache_clear()
    cut = stopped_call(amnesia.train_variant, moment, "lstm", 6, 2)
    if moment == "before":
        assert cut.missing == ("lstm",)  # the reproduced bug: this empty result used to be cached
    done = assert_next_call_trains(amnesia.train_variant, cut, "lstm", 6, 2)
    assert done.missing == () and "lstm" in done.accuracy and not done.history["lstm"].interrupted


@pytest.mark.parametrize("moment", ["before", "during", "after"])
@pytest.mark.parametrize("workers", [1, 3])
def test_a_cached_train_kinds_keeps_no_half_result(moment, workers):
    task = helpers.LetterRecall(helpers.RecallConfig(length=5, n_train=128, n_test=64))

    @helpers.cache_finished()
    def pair(epochs):
        build = lambda kind: helpers.build_model(kind, helpers.ModelConfig(d_model=16, n_layers=1))  # noqa: E731
        return helpers.train_kinds(build, ("lstm", "transformer"), task, helpers.TrainConfig(epochs=epochs),
                                   workers=workers)
    cut = stopped_call(pair, moment, 3)
    done = assert_next_call_trains(pair, cut, 3)
    assert set(done) == {"lstm", "transformer"} and not any(h.interrupted for _, h in done.values())


def test_an_outer_cache_around_an_inner_one_is_cut_too():
    task = helpers.LetterRecall(helpers.RecallConfig(length=5, n_train=128, n_test=64))

    @helpers.cache_finished()
    def inner(epochs):
        with helpers.seeded(0):
            model = helpers.LSTMModel(helpers.ModelConfig(d_model=16, n_layers=1))
        return helpers.train(model, task, helpers.TrainConfig(epochs=epochs))

    @helpers.cache_finished()
    def outer(epochs):
        return inner(epochs), "and more work"
    cut = stopped_call(outer, "during", 2)
    assert cut[0].interrupted
    done = assert_next_call_trains(outer, cut, 2)
    assert not done[0].interrupted and done[0] is inner(2)


def test_ctrl_c_inside_a_training_keeps_nothing():
    task = helpers.LetterRecall(helpers.RecallConfig(length=5, n_train=128, n_test=64))
    interrupt = {"at": 2}

    @helpers.cache_finished()
    def fit(epochs):
        with helpers.seeded(0):
            model = helpers.LSTMModel(helpers.ModelConfig(d_model=16, n_layers=1))

        def callback(epoch, model):
            if epoch == interrupt["at"]:
                raise KeyboardInterrupt  # what the kernel's ■ raises in the cell's thread
        return helpers.train(model, task, helpers.TrainConfig(epochs=epochs), callback=callback)
    cut = fit(4)
    assert cut.interrupted and cut.epochs == 2  # the interrupt came in epoch 2's evaluation
    interrupt["at"] = None
    done = assert_next_call_trains(fit, cut, 4)
    assert not done.interrupted and done.epochs == 4


@pytest.mark.parametrize("moment", ["before", "during", "after"])
def test_the_showdown_models_keep_no_stopped_result(moment):
    language.cached_language_models.cache_clear()
    cut = stopped_call(language.cached_language_models, moment, epochs=2, seed=0)
    done = assert_next_call_trains(language.cached_language_models, cut, epochs=2, seed=0)
    assert set(done.models) == set(language.LM_KINDS) and all(h.epochs == 2 for h in done.history.values())
    assert "LSTM" in language.showdown(steps=2, epochs=2).summary()  # and the showdown answers with them


@pytest.mark.parametrize("moment", ["before", "during"])
def test_the_attention_lesson_model_keeps_no_stopped_result(moment):
    learning.language_model.cache_clear()
    cut = stopped_call(learning.language_model, moment, epochs=2)
    done = assert_next_call_trains(learning.language_model, cut, epochs=2)
    assert done.history.epochs == 2 and not done.history.interrupted


def test_the_best_epoch_study_keeps_no_stopped_result():
    language.cached_best_epoch_study.cache_clear()
    assert stopped_call(language.cached_best_epoch_study, "before", seeds=(0,), max_epochs=1, patience=1) is None
    done = language.cached_best_epoch_study(seeds=(0,), max_epochs=1, patience=1)
    assert language.cached_best_epoch_study(seeds=(0,), max_epochs=1, patience=1) is done
    assert len(done.runs) == len(language.LM_KINDS)


def test_no_notebook_caches_a_training_with_lru_cache():
    """Every cache in the notebooks is helpers.cache_finished, which keeps no Stop-cut run (README)."""
    for path in NOTEBOOKS:
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] != "code":
                continue
            source = "".join(cell["source"])
            assert "lru_cache" not in source.replace("lru_cache that keeps no run", ""), path.name
            assert "functools.cache" not in source, path.name


def test_no_notebook_function_draws_through_pyplot():
    """A function in a notebook may run in a panel's background thread: it draws through helpers.subplots and
    helpers.show, never pyplot's registry (which a cell running meanwhile would show or close)."""
    stateful = {"subplots", "figure", "show", "gcf", "gca", "subplot", "close", "tight_layout", "colorbar"}
    for path in NOTEBOOKS:
        for index, cell in enumerate(json.loads(path.read_text())["cells"]):
            if cell["cell_type"] != "code":
                continue
            tree = ast.parse("".join(cell["source"]))
            for fn in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)):
                for node in ast.walk(fn):
                    if isinstance(node, ast.Attribute) and getattr(node.value, "id", None) == "plt":
                        assert node.attr not in stateful, f"{path.name} cell {index}: {fn.name} uses plt.{node.attr}"


def test_no_seed_is_set_outside_the_seed_lock():
    """torch's global generator is seeded only through helpers.seeded in the notebooks and helpers."""
    root = Path(__file__).resolve().parents[1]
    for path in sorted((root / "helpers").rglob("*.py")):
        text = path.read_text()
        for line in text.splitlines():
            if "torch.manual_seed(" in line and path.name != "train.py":
                pytest.fail(f"{path.relative_to(root)}: {line.strip()}")
    for path in NOTEBOOKS:
        for cell in json.loads(path.read_text())["cells"]:
            source = "".join(cell["source"]) if cell["cell_type"] == "code" else ""
            assert "torch.manual_seed(" not in source and "seed_everything(" not in source, path.name
