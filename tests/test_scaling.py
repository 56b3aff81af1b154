"""The scaling sweep (notebook 12): memory kept for backward grows as the theory says, the fused layer equals
the explicit one, a kernel that cannot run is recorded, and bad settings are refused."""
import pytest
import torch

from helpers.core.counting import fit_power, fit_slope
from helpers.core.models import MultiHeadAttention
from helpers.lessons import scaling as S


def test_sweep_memory_grows_linearly_for_lstm_and_quadratically_for_explicit_attention():
    cfg = S.ScaleConfig(lengths=(128, 256, 512), d=8, repeats=1, warmup=0, matmul_n=64)
    result = S.sweep(cfg)
    assert len(result["points"]) == 9 and all(p["error"] is None for p in result["points"])
    lstm = fit_slope(*S.series(result, "lstm", "saved_bytes"))
    explicit = fit_slope(*S.series(result, "attention", "saved_bytes"))
    fused = fit_slope(*S.series(result, "sdpa", "saved_bytes"))
    assert 0.8 < lstm < 1.2
    assert 1.7 < explicit < 2.1
    assert fused < 1.5  # the fused kernel never stores the n × n weights
    assert result["peak_flops_per_s"] is None and result["matmul_flops_per_s"] > 0


@pytest.mark.parametrize("causal", [False, True])
def test_fused_attention_equals_the_explicit_one(causal):
    torch.manual_seed(0)
    explicit = S.build_layer("attention", S.ScaleConfig(d=16, heads=4))
    fused = S.build_layer("sdpa", S.ScaleConfig(d=16, heads=4))
    assert isinstance(fused, MultiHeadAttention) and fused.fused and not explicit.fused
    fused.load_state_dict(explicit.state_dict())
    x = torch.randn(2, 50, 16)  # (B, T, d)
    mask = torch.ones(50, 50, dtype=torch.bool).tril() if causal else None
    out, weights = fused(x, mask)
    assert weights is None  # the fused kernel never forms them
    torch.testing.assert_close(out, explicit(x, mask)[0], rtol=1e-5, atol=1e-5)


def test_a_kernel_that_cannot_run_is_recorded_not_raised():
    cfg = S.ScaleConfig(d=8, repeats=1, warmup=0)
    if not torch.cuda.is_available():  # cuDNN's attention exists only on an NVIDIA GPU
        point = S.measure_point("sdpa-cudnn", 16, cfg)
        assert point["median_s"] is None and "No viable backend" in point["error"]
    point = S.measure_point("sdpa-math", 16, cfg)  # the math kernel runs everywhere
    assert point["error"] is None and point["median_s"] == sorted(point["runs"])[0]


def test_sweep_refuses_bad_settings():
    with pytest.raises(ValueError, match="layers must be drawn from"):
        S.sweep(S.ScaleConfig(layers=("gru",)))
    with pytest.raises(ValueError, match=r"d \(10\) must be a multiple of heads \(4\)"):
        S.sweep(S.ScaleConfig(d=10, heads=4))
    with pytest.raises(ValueError, match="dtype must be"):
        S.sweep(S.ScaleConfig(dtype="int8"))
    with pytest.raises(ValueError, match="precision must be one of"):
        S.sweep(S.ScaleConfig(precision="int8"))
    with pytest.raises(ValueError, match="backend must be None or one of"):
        MultiHeadAttention(8, 2, backend="fortran")


def test_time_crossover_is_the_first_length_where_b_is_slower():
    result = {"points": [{"layer": layer, "n": n, "median_s": s} for layer, n, s in
                         [("lstm", 64, 2), ("attention", 64, 1), ("lstm", 128, 4), ("attention", 128, 5)]]}
    assert S.time_crossover(result) == 128
    assert S.time_crossover(result, "attention", "lstm") == 64


def synthetic(lengths, lstm, attention):
    """A sweep result whose times follow the given functions of n (no timing: the oracle is the function)."""
    return {"config": {"lengths": list(lengths), "d": 64, "batch": 1, "dtype": "float32", "device": "cpu"},
            "points": [{"layer": layer, "n": n, "median_s": f(n),
                        "saved_bytes": 8 * n * (n if layer == "attention" else 64), "flops_per_s": None, "error": None}
                       for n in lengths for layer, f in (("lstm", lstm), ("attention", attention))],
            "matmul_flops_per_s": 1e11, "peak_flops_per_s": None}


def test_fit_power_recovers_a_power_law():
    ns = [64, 128, 256, 512, 1024]
    a, s = fit_power(ns, [3 * n ** 1.5 for n in ns])
    assert a == pytest.approx(3) and s == pytest.approx(1.5)
    a, s = fit_power(ns, [1.0, 1.0, 2.0, 4.0, 8.0], last=3)  # only the last three: slope 1 through (1024, 8)
    assert s == pytest.approx(1) and a * 1024 == pytest.approx(8)
    with pytest.raises(ValueError, match="at least 2 positive numbers"):
        fit_power([64], [1.0])


def test_crossover_estimate_measures_extrapolates_or_says_unpredicted():
    lengths = (64, 128, 256, 512)
    # the lines 1e-2·n and 1e-5·n² meet at n = 1000: beyond this sweep, so extrapolated
    est = S.crossover_estimate(synthetic(lengths, lambda n: 1e-2 * n, lambda n: 1e-5 * n * n))
    assert est["how"] == "extrapolated" and est["n"] == pytest.approx(1000)
    assert est["slopes"] == pytest.approx((1, 2))
    longer = synthetic(lengths + (1024, 2048), lambda n: 1e-2 * n, lambda n: 1e-5 * n * n)
    assert S.crossover_estimate(longer) == {"n": 1024, "how": "measured", "slopes": pytest.approx((1, 2))}
    never = S.crossover_estimate(synthetic(lengths, lambda n: 1e-2 * n, lambda n: 1e-3 * n))
    assert never["how"] == "unpredicted" and never["n"] is None
    one = S.crossover_estimate(synthetic((64,), lambda n: 1.0, lambda n: 2.0))
    assert one == {"n": 64, "how": "measured", "slopes": None}
    assert S.crossover_estimate(synthetic((64,), lambda n: 2.0, lambda n: 1.0))["how"] == "unknown"


def test_scaling_figure_marks_the_crossover_measured_extrapolated_or_unpredicted():
    import matplotlib.pyplot as plt
    from helpers.view import figures
    lengths = (64, 128, 256, 512)
    for lengths_, attention, expected in (
            (lengths, lambda n: 1e-5 * n * n, "fitted lines meet at n ≈ 1,000\n(extrapolated, beyond the sweep)"),
            (lengths + (1024, 2048), lambda n: 1e-5 * n * n, " attention slower \n from n = 1,024 "),
            (lengths, lambda n: 1e-4 * n ** 0.5, "no crossover within the sweep;\nthe fit cannot predict one")):
        fig = figures.plot_scaling([("synthetic", synthetic(lengths_, lambda n: 1e-2 * n, attention))],
                                   layers=("lstm", "attention"))
        assert expected in [t.get_text() for t in fig.axes[0].texts]
        slope = "0.50" if expected.startswith("no crossover") else "2.00"
        assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["LSTM: slope 1.00",
                                                                                  f"explicit attention: slope {slope}"]
        plt.close(fig)


def test_the_sdpa_kernel_is_named_from_the_autograd_graph():
    q = torch.randn(1, 1, 16, 8, requires_grad=True)  # (B, H, T, d)
    with torch.nn.attention.sdpa_kernel(torch.nn.attention.SDPBackend.MATH):
        assert S.sdpa_kernel_used(torch.nn.functional.scaled_dot_product_attention(q, q, q)) == "math"
    assert S.sdpa_kernel_on("cpu") == "flash (CPU)"  # torch's CPU kernel for float32
    point = S.measure_point("sdpa", 16, S.ScaleConfig(d=8, repeats=1, warmup=0))
    assert point["kernel"] == "flash (CPU)" and "kernel" not in S.measure_point("lstm", 16, S.ScaleConfig(d=8))


def test_a_sweep_records_its_threads_and_runs_under_autocast_when_asked():
    cfg = S.ScaleConfig(lengths=(16,), d=8, layers=("attention",), repeats=1, warmup=0, matmul_n=32)
    out = S.sweep(cfg)
    assert out["threads"] == torch.get_num_threads() and out["tf32"] is None  # the switches act on CUDA only
    assert out["config"]["precision"] == "float32" and out["config"]["tf32"] is False
    low = S.sweep(S.ScaleConfig(**{**cfg.__dict__, "precision": "bfloat16"}))
    assert low["points"][0]["error"] is None and low["config"]["precision"] == "bfloat16"


def test_estimate_grows_with_length_epochs_and_training_length_and_refuses_bad_input():
    default = S.estimate_seconds(1024, 5, 32)
    assert default < 30 < S.estimate_seconds(4096, 20, 128) and S.estimate_seconds(2048, 5, 32) > default
    with pytest.raises(ValueError, match="train_length"):
        S.estimate_seconds(1024, 5, 0)
    with pytest.raises(ValueError, match="length"):
        S.estimate_seconds(-1, 5, 32)
