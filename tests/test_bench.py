"""The speed race and the scaling sweep: the four ways agree, the clock and the counters make sense."""
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from helpers import bench
from helpers.bench import LAYERS, WAYS, RaceResult, ScaleConfig, race, race_outputs, race_problem

GPU = bench.gpu_device() is not None


@pytest.mark.parametrize("dtype, tol", [("float64", 1e-10), ("float32", 1e-4)])
def test_four_ways_compute_the_same_outputs_and_gradients(dtype, tol):
    p = race_problem(words=25, d=6, dtype=dtype)
    out = race_outputs(p)
    assert {w for w, _ in out} == set(WAYS if GPU else WAYS[:3])
    for layer in LAYERS:
        y_ref, g_ref = out["torch-cpu", layer]  # torch's autograd: the reference for the hand-written backward
        for way in WAYS:
            if (way, layer) not in out:
                continue
            y, grads = out[way, layer]
            tol = max(tol, 5e-3) if way == "torch-gpu" and dtype == "float32" else tol  # cuDNN may use TF32
            assert y.shape == (25, 6)
            np.testing.assert_allclose(y, y_ref, rtol=tol, atol=tol, err_msg=f"{way} {layer} output")
            assert grads.keys() == g_ref.keys()
            for name in grads:
                np.testing.assert_allclose(grads[name], g_ref[name], rtol=tol, atol=tol,
                                           err_msg=f"{way} {layer} gradient of {name}")


def test_gradients_are_not_trivially_zero():
    out = race_outputs(race_problem(words=12, d=4, dtype="float64"), ways=("numpy",))
    for layer in LAYERS:
        _, grads = out["numpy", layer]
        assert all(np.abs(g).max() > 1e-3 for g in grads.values())


def test_python_attention_rows_are_a_softmax():
    p = {k: v.tolist() for k, v in race_problem(words=10, d=4, dtype="float64").items()}
    y, _ = bench.attention_python(p)
    # with Wo = identity and v = x, y rows are convex combinations of x rows
    eye = np.eye(4).tolist()
    y, _ = bench.attention_python({**p, "Wv": eye, "Wo": eye})
    x = np.array(p["x"])
    assert np.all(np.array(y) <= x.max(0) + 1e-12) and np.all(np.array(y) >= x.min(0) - 1e-12)


def test_race_times_every_way_and_reports_a_missing_gpu():
    result = race(words=30, d=4, repeats=2, python_repeats=1, warmup=0)
    for way in ("python", "numpy", "torch-cpu"):
        assert result.ratio(way) > 0
        assert result.tokens_per_s(way, "lstm") == pytest.approx(30 / result.seconds[way, "lstm"])
        assert len(result.runs[way, "attention"]) == (1 if way == "python" else 2)
    text = str(result)
    assert "LSTM/Transformer" in text and "pure Python" in text
    if not GPU:
        assert result.ratio("torch-gpu") is None
        assert bench.NO_GPU in text.splitlines()[-1]
    again = RaceResult.from_dict(json.loads(json.dumps(result.to_dict())))
    assert again.seconds == result.seconds and str(again) == text


@pytest.mark.parametrize("bad", [dict(words=0), dict(words=10**6), dict(d=0), dict(repeats=0),
                                 dict(ways=("python", "fortran"))])
def test_race_refuses_bad_arguments(bad):
    with pytest.raises(ValueError):
        race(**{"words": 10, "d": 4, **bad})


def test_document_is_the_corpus():
    words = bench.document(12)
    assert len(words) == 12 and words[:2] == ["we", "propose"]


def test_flop_counts():
    # attention grows as n² at fixed width, the LSTM as n
    assert bench.layer_flops("lstm", 2000, 16) == 2 * bench.layer_flops("lstm", 1000, 16)
    big, small = bench.layer_flops("attention", 4000, 16), bench.layer_flops("attention", 2000, 16)
    assert 3.5 < big / small < 4


def test_sweep_memory_grows_linearly_for_lstm_and_quadratically_for_explicit_attention():
    cfg = ScaleConfig(lengths=(128, 256, 512), d=8, repeats=1, warmup=0, matmul_n=64)
    result = bench.sweep(cfg)
    assert len(result["points"]) == 9 and all(p["error"] is None for p in result["points"])
    lstm = bench.fit_slope(*bench.series(result, "lstm", "saved_bytes"))
    explicit = bench.fit_slope(*bench.series(result, "attention", "saved_bytes"))
    fused = bench.fit_slope(*bench.series(result, "sdpa", "saved_bytes"))
    assert 0.8 < lstm < 1.2
    assert 1.7 < explicit < 2.1
    assert fused < 1.5  # the fused kernel never stores the n × n weights
    assert result["peak_flops_per_s"] is None and result["matmul_flops_per_s"] > 0


def test_sdpa_layer_equals_the_explicit_layer():
    torch.manual_seed(0)
    explicit = bench.build_layer("attention", ScaleConfig(d=16, heads=4))
    fused = bench.build_layer("sdpa", ScaleConfig(d=16, heads=4))
    fused.load_state_dict(explicit.state_dict())
    x = torch.randn(2, 50, 16)  # (B, T, d)
    torch.testing.assert_close(fused(x)[0], explicit(x)[0], rtol=1e-5, atol=1e-5)


def test_a_kernel_that_cannot_run_is_recorded_not_raised():
    point = bench.measure_point("sdpa-efficient", 16, ScaleConfig(d=8, repeats=1, warmup=0))
    if point["error"] is None:  # this build has the kernel: then it was timed
        assert point["median_s"] > 0
    else:
        assert point["median_s"] is None


def test_sweep_refuses_bad_settings():
    with pytest.raises(ValueError):
        bench.sweep(ScaleConfig(layers=("gru",)))
    with pytest.raises(ValueError):
        bench.sweep(ScaleConfig(d=10, heads=4))
    with pytest.raises(ValueError):
        bench.sweep(ScaleConfig(dtype="int8"))


def test_slope_and_crossover():
    assert bench.fit_slope([64, 128, 256], [1, 4, 16]) == pytest.approx(2)
    result = {"points": [{"layer": l, "n": n, "median_s": s} for l, n, s in
                         [("lstm", 64, 2), ("attention", 64, 1), ("lstm", 128, 4), ("attention", 128, 5)]]}
    assert bench.crossover(result) == 128


def test_record_writes_a_reference_file_without_matplotlib(tmp_path):
    # a fresh interpreter where matplotlib, seaborn, ipywidgets and tqdm cannot be imported runs the file
    blocked = "import sys, runpy\nfor m in ('matplotlib', 'seaborn', 'ipywidgets', 'tqdm'): sys.modules[m] = None\n"
    argv = ["bench.py", "--device", "cpu", "--quick", "--out", str(tmp_path)]
    code = blocked + f"sys.argv = {argv!r}\nrunpy.run_path({bench.__file__!r}, run_name='__main__')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    data = json.loads((tmp_path / "cpu.json").read_text())
    for key in ("date", "device_name", "torch", "cuda", "race", "scaling"):
        assert key in data
    assert data["race"][0]["config"]["words"] == 40
    assert {p["layer"] for p in data["scaling"][0]["points"]} == {"lstm", "attention", "sdpa"}
    (tmp_path / "other_notebook.json").write_text(json.dumps({"device": "cpu", "sweep": []}))
    refs = bench.load_references(tmp_path)  # another notebook's file in the same folder is left out
    assert len(refs) == 1 and bench.recorded_label(refs[0]).startswith("recorded on ")


def test_record_refuses_an_unknown_device(tmp_path):
    with pytest.raises(ValueError):
        bench.record("tpu", tmp_path)
