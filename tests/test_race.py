"""The speed race (notebook 11): the torch ways agree with an independent computation, hand-written ways plug
in, the result table and its JSON round trip hold, and bad settings are refused."""
import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from helpers.core.counting import layer_flops
from helpers.core.timing import NO_GPU
from helpers.lessons import race as R

GPU = R.gpu_device() is not None


def oracle(p, layer):
    """The same layer by torch.func-free plain autograd on float64 tensors: F.lstm_cell and explicit softmax."""
    t = {k: torch.tensor(v, dtype=torch.float64, requires_grad=k != "g") for k, v in p.items()}
    if layer == "lstm":
        h = c = torch.zeros(1, t["x"].shape[1], dtype=torch.float64)
        hs = []
        for x_t in t["x"]:
            h, c = torch.lstm_cell(x_t[None], (h, c), t["W"], t["U"], t["b"], None)
            hs.append(h[0])
        y, names = torch.stack(hs), ("x", "W", "U", "b")
    else:
        q, k, v = t["x"] @ t["Wq"], t["x"] @ t["Wk"], t["x"] @ t["Wv"]
        y = F.softmax(q @ k.T / q.shape[1] ** 0.5, dim=-1) @ v @ t["Wo"]
        names = ("x", "Wq", "Wk", "Wv", "Wo")
    y.backward(t["g"])
    return y.detach().numpy(), {n: t[n].grad.numpy() for n in names}


@pytest.mark.parametrize("layer", R.LAYERS)
def test_torch_ways_match_an_independent_computation(layer):
    p = R.race_problem(words=25, d=6, dtype="float64")
    y_ref, g_ref = oracle(p, layer)
    for (way, _), (y, grads) in R.race_outputs(p, layers=(layer,)).items():
        tol = 5e-3 if way == "torch-gpu" else 1e-10
        np.testing.assert_allclose(y, y_ref, rtol=tol, atol=tol, err_msg=f"{way} {layer} output")
        assert grads.keys() == g_ref.keys()
        for name in grads:
            np.testing.assert_allclose(grads[name], g_ref[name], rtol=tol, atol=tol, err_msg=f"{way} gradient {name}")
        assert all(np.abs(g).max() > 1e-3 for g in grads.values())  # not trivially zero


def torch_as_numpy(layer, p):
    """A stand-in hand-written way: the CPU torch layer, its result converted to NumPy."""
    step = R.make_step("torch-cpu", layer, p)
    return lambda: R.as_numpy(step())


def test_race_times_a_handmade_way_beside_torch_and_reports_a_missing_gpu():
    result = R.run_race(words=30, d=4, repeats=2, warmup=0, handmade={"numpy": torch_as_numpy})
    assert result.config.ways == ("numpy", "torch-cpu", "torch-gpu")
    for way in ("numpy", "torch-cpu"):
        assert result.ratio(way) == result.seconds[way, "lstm"] / result.seconds[way, "attention"]
        assert result.tokens_per_s(way, "lstm") == pytest.approx(30 / result.seconds[way, "lstm"])
        assert len(result.runs[way, "attention"]) == 2
    text = str(result)
    assert "LSTM/Transformer" in text and "NumPy" in text and "pure Python" not in text
    if not GPU:
        assert result.ratio("torch-gpu") is None and NO_GPU in text.splitlines()[-1]
    again = R.RaceResult.from_dict(json.loads(json.dumps(result.to_dict())))
    assert again.seconds == result.seconds and str(again) == text


def test_python_repeats_apply_to_pure_python_only():
    handmade = {"python": torch_as_numpy, "numpy": torch_as_numpy}
    result = R.run_race(words=20, d=4, repeats=3, warmup=0, python_repeats=1, handmade=handmade,
                        ways=("python", "numpy"))
    assert [len(result.runs[w, "lstm"]) for w in ("python", "numpy")] == [1, 3]


@pytest.mark.parametrize("bad, message", [
    (dict(words=0), "words must be"), (dict(words=10**6), "words must be"), (dict(d=0), "d must be"),
    (dict(repeats=0), "repeats must be"), (dict(ways=("torch-cpu", "fortran")), "ways must be drawn from"),
    (dict(ways=("python",)), "written in notebook 11"), (dict(gpu_precision="int8"), "gpu_precision must be one of"),
    (dict(ways=("python",), handmade={"python": torch_as_numpy}, words=4000, d=16), "pure Python would take minutes"),
])
def test_race_refuses_bad_arguments(bad, message):
    with pytest.raises(ValueError, match=message):
        R.run_race(**{"words": 10, "d": 4, **bad})


def test_document_is_the_corpus():
    words = R.document(12)
    assert len(words) == 12 and words[:2] == ["we", "propose"]


def test_attention_flops_match_torch_flop_counter():
    from torch.utils.flop_counter import FlopCounterMode
    p = {k: torch.from_numpy(v).requires_grad_(k != "g") for k, v in R.race_problem(words=50, d=8).items()}
    with FlopCounterMode(display=False) as counter:  # as in the race: the input and every weight get a gradient
        q, k, v = p["x"] @ p["Wq"], p["x"] @ p["Wk"], p["x"] @ p["Wv"]
        ((q @ k.T).softmax(-1) @ v @ p["Wo"]).backward(p["g"])
    assert layer_flops("attention", 50, 8) == counter.get_total_flops()


def test_lstm_flops_grow_linearly_and_attention_quadratically():
    assert layer_flops("lstm", 2000, 16) == 2 * layer_flops("lstm", 1000, 16)
    big, small = layer_flops("attention", 4000, 16), layer_flops("attention", 2000, 16)
    assert 3.5 < big / small < 4


def test_spread_is_min_median_max_of_the_runs_and_the_table_lists_them():
    result = R.RaceResult(R.RaceConfig(words=10, d=4, ways=("numpy", "torch-gpu")))
    result.runs = {("numpy", "lstm"): [0.003, 0.001, 0.002], ("numpy", "attention"): [0.5]}
    result.seconds = {("numpy", "lstm"): 0.002, ("numpy", "attention"): 0.5, ("torch-gpu", "lstm"): None}
    assert result.spread("numpy", "lstm") == (0.001, 0.002, 0.003)
    assert result.spread("numpy", "attention") == (0.5, 0.5, 0.5)
    assert result.spread("torch-gpu", "lstm") is None
    rows = result.spread_table().splitlines()
    assert len(rows) == 3
    assert rows[1].endswith("1.0 ms    2.0 ms    3.0 ms  3") and rows[2].endswith("500.0 ms  500.0 ms  500.0 ms  1")


def test_predicted_ratio_counts_multiply_adds_by_hand():
    for n, d in ((1000, 16), (1000, 256), (200, 8)):
        lstm = n * (2 * d) * (4 * d)        # per step (x_t, h_{t-1}) @ (2d, 4d)
        attn = 4 * n * d * d + 2 * n * n * d  # four projections, q·kᵀ and a·v
        assert R.predicted_ratio(n, d) == pytest.approx(lstm / attn)
    assert R.predicted_ratio(1000, 16) < 0.07  # the count favours the LSTM 16x


def test_deck_verdict_says_whether_the_deck_is_reversed():
    result = R.RaceResult(R.RaceConfig(words=1000, d=16, ways=("python",)))
    result.seconds = {("python", "lstm"): 0.2, ("python", "attention"): 3.0}
    assert "LSTM layer 15.0x faster: the deck's claim reversed" in R.deck_verdict(result)
    result.seconds = {("python", "lstm"): 0.4, ("python", "attention"): 0.2}
    assert "Transformer layer 2.0x faster: the same direction as the deck" in R.deck_verdict(result)
    assert "not tested" in R.deck_verdict(result, "numpy")


def test_autograd_nodes_counts_every_node_once():
    a = torch.ones(3, requires_grad=True)
    b = torch.ones(3, requires_grad=True)
    nodes = R.autograd_nodes(((a * b) + a).sum())
    assert nodes == {"SumBackward0": 1, "AddBackward0": 1, "MulBackward0": 1, "torch::autograd::AccumulateGrad": 2}


def test_lstm_settings_show_one_fused_kernel_or_the_steps_one_by_one():
    settings = R.lstm_settings(words=20, d=4, repeats=2)
    assert list(settings) == ["oneDNN on, 1 thread", "oneDNN off, 1 thread", "oneDNN on, 2 threads"]
    assert all(len(s["runs"]) == 2 for s in settings.values())
    off = settings["oneDNN off, 1 thread"]["nodes"]
    assert off["SigmoidBackward0"] == 3 * 20 and "MkldnnRnnLayerBackward0" not in off  # three sigmoid gates a step
    if torch.backends.mkldnn.is_available():
        assert settings["oneDNN on, 1 thread"]["nodes"].get("MkldnnRnnLayerBackward0") == 1
    assert torch.get_num_threads() == 1  # restored
    with pytest.raises(ValueError, match="repeats must be"):
        R.lstm_settings(words=5, d=2, repeats=0)


def test_race_figures_show_the_spread_and_the_multiply_add_prediction():
    import matplotlib.pyplot as plt
    from helpers.view import figures
    result = R.RaceResult(R.RaceConfig(words=1000, d=16, ways=("numpy", "torch-gpu")))
    result.runs = {("numpy", "lstm"): [0.01, 0.02, 0.04], ("numpy", "attention"): [0.5, 0.5]}
    result.seconds = {("numpy", "lstm"): 0.02, ("numpy", "attention"): 0.5,
                      ("torch-gpu", "lstm"): None, ("torch-gpu", "attention"): None}
    fig = figures.plot_race([("synthetic", result)])
    bars = fig.axes[0].collections  # the whiskers: one LineCollection per layer, from the min to the max run
    assert [seg[:, 1].tolist() for seg in bars[0].get_segments()] == [[0.01, 0.04]]
    assert [seg[:, 1].tolist() for seg in bars[1].get_segments()] == [[0.5, 0.5]]
    plt.close(fig)
    fig = figures.plot_ratios([("synthetic", result)])
    dotted = [line.get_ydata()[0] for line in fig.axes[0].lines if line.get_linestyle() == ":"]
    assert dotted == [pytest.approx(R.predicted_ratio(1000, 16))]
    assert "not run\nhere" in [t.get_text() for t in fig.axes[0].texts]  # the GPU way, with no GPU in the result
    plt.close(fig)


def test_race_panels_share_one_y_range_so_bars_compare_across_panels():
    import matplotlib.pyplot as plt
    from helpers.view import figures
    fast, slow = (R.RaceResult(R.RaceConfig(words=1000, d=16, ways=("numpy",))) for _ in range(2))
    fast.seconds, fast.runs = {("numpy", "lstm"): 1e-3, ("numpy", "attention"): 2e-3}, {}
    slow.seconds, slow.runs = {("numpy", "lstm"): 1.0, ("numpy", "attention"): 3.0}, {}
    fig = figures.plot_race([("fast", fast), ("slow", slow)])
    assert fig.axes[0].get_ylim() == fig.axes[1].get_ylim()
    low, high = fig.axes[0].get_ylim()
    assert low < 1e-3 and high > 3.0 and fig.axes[0].get_yscale() == "log"
    assert [t.get_text() for t in fig.legends[0].texts] == ["LSTM", "Transformer"]  # one short legend
    plt.close(fig)


def test_estimate_grows_with_the_work_and_refuses_bad_input():
    default = R.estimate_seconds(1000, 16, True, 8)
    assert 25 < default < 45  # the notebook's default run: about 31 s measured, so the panel gives its estimate
    assert R.estimate_seconds(1000, 16, False, 8) < default < R.estimate_seconds(2000, 16, True, 8)
    assert R.estimate_seconds(390, 256, True, 30) > 30  # the panel warns before a long pure Python run
    with pytest.raises(ValueError, match="words"):
        R.estimate_seconds(0, 16)
    with pytest.raises(ValueError, match="epochs"):
        R.estimate_seconds(100, 16, True, -1)


def test_the_race_records_its_precision_and_runs_the_cpu_at_float32():
    result = R.run_race(words=20, d=4, ways=("torch-cpu",), repeats=1, warmup=0, gpu_precision="bfloat16")
    cfg = result.to_dict()["config"]
    assert cfg["gpu_precision"] == "bfloat16" and cfg["tf32"] is False  # the GPU way's settings, stored
    assert R.RaceResult.from_dict(json.loads(json.dumps(result.to_dict()))).config == result.config
    assert result.seconds["torch-cpu", "lstm"] > 0


def test_train_pair_trains_the_lstm_at_its_default_and_forget_bias_1_and_counts_parameters():
    from helpers.core.models import ModelConfig
    from helpers.core.tasks import LetterRecall, RecallConfig
    task = LetterRecall(RecallConfig(length=6, n_train=32, n_test=16, seed=0))
    pair = R.train_pair(task, ModelConfig(d_model=8, n_layers=1, n_heads=2), 1)
    assert list(pair.history) == ["lstm", "lstm_fb1", "transformer"]
    assert pair.parameters["lstm"] == pair.parameters["lstm_fb1"] == sum(
        p.numel() for p in pair.models["lstm"].parameters())
    forget = {k: (m.lstm.bias_ih_l0 + m.lstm.bias_hh_l0)[8:16].mean().item()  # torch's order: i, f, g, o
              for k, m in pair.models.items() if k != "transformer"}
    assert forget["lstm_fb1"] - forget["lstm"] > 0.5  # one epoch of 32 strings moves it far less than 1
    with pytest.raises(ValueError, match="variant must be one of"):
        R.train_pair(task, ModelConfig(d_model=8), 1, kinds=("gru",))
