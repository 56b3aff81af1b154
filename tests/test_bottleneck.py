"""Tests of notebook 02's bottleneck in bits: bits held from the held-out loss, the end-of-training verdict, the
runs."""
import math

import pytest
import torch

from helpers.core.models import ModelConfig, build_model
from helpers.core.tasks import KBackConfig, KBackRecall
from helpers.core.train import evaluate
from helpers.lessons import bottleneck


def test_a_perfect_model_holds_every_bit_and_a_uniform_one_none():
    L = 20
    assert bottleneck.bits_held(0.0, L) == pytest.approx(L * math.log2(26))  # 94.01 bits
    assert bottleneck.bits_held(L * math.log(26), L) == pytest.approx(0.0, abs=1e-9)  # a uniform guess per letter
    assert bottleneck.bits_held(L * math.log(26) + 3.0, L) == 0.0  # worse than uniform: clipped, not negative


def test_bits_held_by_hand_one_letter_known_of_two():
    # two letters, the first known exactly (0 nats), the second uniform (ln 26 nats): log2 26 = 4.700 bits
    assert bottleneck.bits_held(math.log(26), 2) == pytest.approx(4.70044, abs=1e-5)
    per_string = bottleneck.bits_held(torch.tensor([0.0, math.log(26), 2 * math.log(26)]), 2)
    expected = torch.tensor([2 * math.log2(26), math.log2(26), 0.0], dtype=torch.float64)
    assert torch.allclose(per_string, expected, atol=1e-5)


@pytest.mark.parametrize("args, message", [((-0.1, 5), "ce_nats must be a cross-entropy of 0 or more"),
                                           ((1.0, 0), "length must be an integer from 1 to 64")])
def test_bits_held_refuses_bad_input(args, message):
    with pytest.raises(ValueError, match=message):
        bottleneck.bits_held(*args)


@pytest.mark.parametrize("kind, ask", [("lstm", "all"), ("lstm", "one"), ("transformer", "one")])
def test_string_ce_is_the_length_times_the_mean_loss_per_answer(kind, ask):
    task = KBackRecall(KBackConfig(length=6, ask=ask, per_k_test=8, n_train=64))
    torch.manual_seed(0)
    model = build_model(kind, ModelConfig(vocab_size=task.vocab_size, n_out=task.n_out, d_model=8, n_layers=1))
    loss, _ = evaluate(model, task, "cpu")  # balanced over k, so L × the mean is the sum over a string's letters
    assert bottleneck.string_ce(model, task) == pytest.approx(6 * loss, rel=1e-5)


def test_string_ce_of_a_model_that_knows_every_letter_is_near_zero():
    task = KBackRecall(KBackConfig(length=5, ask="all", per_k_test=4, n_train=16))

    class Oracle(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x):  # (B, L) -> (B, L, L·26): the k-th letter back, sure of it
            sure = torch.nn.functional.one_hot(x.flip(1), 26).float() * 50  # (B, L, 26)
            return sure.reshape(len(x), 1, -1).expand(-1, x.size(1), -1)

    ce = bottleneck.string_ce(Oracle(), task)
    assert ce < 1e-6 and bottleneck.bits_held(ce, 5) == pytest.approx(5 * math.log2(26))


def test_the_verdict_reads_the_loss_as_well_as_the_accuracy():
    flat_acc = [0.04] + [0.30] * 10
    assert bottleneck.verdict([3.2] + [2.0] * 10, flat_acc) == "plateau"
    falling = [3.2] + [2.0 - 0.02 * i for i in range(10)]  # accuracy flat, loss still 2% lower over the tail
    assert bottleneck.verdict(falling, flat_acc) == "still learning"
    assert bottleneck.verdict([3.2] + [2.0] * 10, flat_acc[:-1] + [0.31]) == "still learning"  # one point up
    assert bottleneck.verdict([3.2, 0.1], [0.04, 0.995]) == "whole string"


@pytest.mark.parametrize("args, message", [(([3.0], [0.1]), "must hold the same 2 or more epochs"),
                                           (([3.0, 2.0], [0.1]), "must hold the same 2 or more epochs")])
def test_the_verdict_refuses_curves_it_cannot_read(args, message):
    with pytest.raises(ValueError, match=message):
        bottleneck.verdict(*args)


def test_a_tiny_run_gives_a_row_in_range_and_names_its_model():
    row, hist, model = bottleneck.train_bits("lstm", 8, 4, 2, seed=0, ask="one", device="cpu")
    assert row["model"] == "LSTM d=8" and row["params"] == model.n_params() and row["steps"] == 2 * 32
    assert 0 <= row["bits"] <= 4 * math.log2(26) and len(row["test_loss"]) == 3 == len(hist.test_acc)
    assert row["verdict"] == bottleneck.verdict(hist.test_loss, hist.test_acc)
    assert bottleneck.name("lstm", 64, "all") == "LSTM d=64, all at once"


@pytest.mark.parametrize("args, message", [(("lstm", 6, 4, 1), "d must be a multiple of 4"),
                                           (("gru", 8, 4, 1), "kind must be one of"),
                                           (("lstm", 2, 4, 1), "d must be an integer from 4 to 1024")])
def test_train_bits_refuses_bad_input(args, message):
    with pytest.raises(ValueError, match=message):
        bottleneck.train_bits(*args)


def test_summarise_gives_mean_and_range_over_seeds():
    rows = [{"model": "LSTM d=8", "length": 20, "d": 8, "params": 10, "bits": b, "test_acc": a, "verdict": v}
            for b, a, v in ((3.0, 0.1, "plateau"), (5.0, 0.2, "still learning"), (4.0, 0.3, "plateau"))]
    got = bottleneck.summarise(rows)["LSTM d=8", 20]
    assert got["bits"] == (4.0, 3.0, 5.0) and got["acc"] == pytest.approx((0.2, 0.1, 0.3)) and got["seeds"] == 3
    assert got["verdicts"] == ["plateau", "still learning", "plateau"]


def test_a_run_a_stop_cut_short_has_no_verdict_but_says_so():
    from helpers.core.train import Control, controlled
    control = Control()
    control.report = lambda name, epoch, epochs: control.stop.set() if epoch == 0 else None  # stop in epoch 1
    with controlled(control):
        row, hist, _ = bottleneck.train_bits("lstm", 8, 4, 3, device="cpu")
    assert hist.interrupted and len(hist.test_loss) == 1 and row["verdict"] == "stopped"


def test_the_panel_estimate_grows_with_length_and_epochs_and_refuses_bad_input():
    assert 30 < bottleneck.estimate_seconds(20, 60) < 120  # about a minute at the notebook's default
    estimate = bottleneck.estimate_seconds
    assert estimate(40, 60) > estimate(20, 60) > estimate(20, 30)
    with pytest.raises(ValueError, match="length"):
        bottleneck.estimate_seconds(1, 60)
    with pytest.raises(ValueError, match="epochs"):
        bottleneck.estimate_seconds(20, 0)


def test_the_recorded_table_twin_and_setup():
    row = {"model": "LSTM d=8", "length": 4, "seed": 0, "epochs": 2, "bits": 1.0}
    rec = {"settings": {"widths": [8], "lengths": [4], "seeds": [0], "runs": [["lstm", "one"]]},
           "results": [{**row, "d": 8, "params": 10, "test_acc": 0.5, "verdict": "plateau"}],
           "provenance": {"device": "cpu", "torch": "2.13.0+cpu", "cpu_capability": "AVX2", "cpu": "AMD EPYC"}}
    table = bottleneck.recorded_table(rec)
    assert "length 4 (the whole string: 18.8 bits)" in table and "1 plateau" in table and "LSTM d=8" in table
    assert bottleneck.twin(rec, row)["test_acc"] == 0.5
    assert bottleneck.twin(rec, {**row, "seed": 1}) is None
    assert bottleneck.same_setup(rec, "cpu", "2.13.0", "AVX2", maker="AMD")
    assert not bottleneck.same_setup(rec, "cuda", "2.13.0", "AVX2", maker="AMD")
    assert not bottleneck.same_setup(rec, "cpu", "2.13.0", "AVX2", maker="Intel")  # MKL's other kernels there
