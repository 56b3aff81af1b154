import math

import pytest
import torch
import torch.nn.functional as F

import helpers
from helpers import ModelConfig, build_model


@pytest.mark.parametrize("causal", [False, True])
def test_scratch_attention_matches_torch(causal):
    torch.manual_seed(0)
    q, k, v = torch.randn(3, 2, 4, 7, 16).unbind(0)  # (B, H, T, d) each
    mask = helpers.causal_mask(7) if causal else None
    out, weights = helpers.attention(q, k, v, mask)
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    assert torch.allclose(out, ref, atol=1e-5)
    assert torch.allclose(weights.sum(-1), torch.ones(2, 4, 7), atol=1e-6)
    if causal:
        assert weights[..., 0, 1:].abs().max() == 0  # the first position sees only itself


def test_scratch_lstm_cell_matches_torch_over_a_sequence():
    torch.manual_seed(0)
    ref = torch.nn.LSTMCell(5, 8)
    cell = helpers.LSTMCell.from_torch(ref)
    xs = torch.randn(30, 3, 5)  # (T, B, in)
    h = c = torch.zeros(3, 8)
    h_ref, c_ref = h, c
    for x in xs:
        h, c = cell(x, (h, c))
        h_ref, c_ref = ref(x, (h_ref, c_ref))
    assert torch.allclose(h, h_ref, atol=1e-6) and torch.allclose(c, c_ref, atol=1e-6)


def test_scratch_lstm_cell_matches_torch_lstm_layer():
    torch.manual_seed(1)
    ref = torch.nn.LSTM(4, 6, batch_first=True)
    cell = helpers.LSTMCell.from_torch(ref)
    xs = torch.randn(2, 12, 4)  # (B, T, in)
    h = c = torch.zeros(2, 6)
    outs = []
    for t in range(xs.size(1)):
        h, c = cell(xs[:, t], (h, c))
        outs.append(h)
    assert torch.allclose(torch.stack(outs, 1), ref(xs)[0], atol=1e-6)


def test_gates_match_what_torch_lstm_cell_does_with_them():
    # torch.nn.LSTMCell as the oracle: with c = 0 its new c is i·g and its h is o·tanh(i·g);
    # with c = 1 its new c grows by exactly the forget gate f
    torch.manual_seed(0)
    ref = torch.nn.LSTMCell(3, 4)
    cell = helpers.LSTMCell.from_torch(ref)
    x, h = torch.randn(5, 3), torch.randn(5, 4)
    gates = cell.gates(x, (h, torch.zeros(5, 4)))
    with torch.no_grad():
        h0, c0 = ref(x, (h, torch.zeros(5, 4)))
        _, c1 = ref(x, (h, torch.ones(5, 4)))
    torch.testing.assert_close(gates["input"] * gates["candidate"], c0)
    torch.testing.assert_close(gates["forget"], c1 - c0)
    torch.testing.assert_close(gates["output"], h0 / torch.tanh(c0))


@pytest.mark.parametrize("kind", helpers.KINDS)
def test_models_share_one_interface(kind):
    model = build_model(kind)
    x = torch.randint(0, 26, (3, 11))
    assert model(x).shape == (3, 11, 26)
    with pytest.raises(ValueError, match="length from 1 to 1024"):
        model(torch.zeros(1, 1025, dtype=torch.long))


def counted_by_hand(kind, d, layers, vocab=26, out=26, max_len=1024, mlp=2):
    """Parameters from the layers' formulas (weights and biases), not from the modules: an independent count."""
    ends = vocab * d + d * out + out  # token embedding, output head
    if kind in ("rnn", "lstm"):  # per layer and gate: input and hidden weights, two biases (torch's RNN and LSTM)
        gates = {"rnn": 1, "lstm": 4}[kind]
        return ends + layers * gates * (d * d + d * d + 2 * d)
    block = 2 * (2 * d) + (d * 3 * d + 3 * d) + (d * d + d) + (d * mlp * d + mlp * d) + (mlp * d * d + d)
    return ends + max_len * d + layers * block + 2 * d  # + position table, blocks (2 norms, qkv, proj, MLP), ln_f


@pytest.mark.parametrize("kind", helpers.KINDS)
@pytest.mark.parametrize("d, layers", [(64, 2), (48, 1), (32, 3)])
def test_n_params_is_the_layers_formula(kind, d, layers):
    cfg = helpers.ModelConfig(d_model=d, n_layers=layers)
    assert build_model(kind, cfg).n_params() == counted_by_hand(kind, d, layers)


def test_lstm_and_transformer_are_comparable_in_size():
    lstm, transformer = build_model("lstm").n_params(), build_model("transformer")
    body = transformer.n_params() - transformer.pos.weight.numel()  # without the position table
    assert 0.8 < body / lstm < 1.25


def test_transformer_returns_attention_per_layer():
    model = build_model("transformer", ModelConfig(n_layers=3, n_heads=2))
    logits, weights = model(torch.randint(0, 26, (2, 9)), return_attention=True)
    assert logits.shape == (2, 9, 26) and len(weights) == 3
    assert weights[0].shape == (2, 2, 9, 9)
    assert torch.allclose(weights[-1].sum(-1), torch.ones(2, 2, 9), atol=1e-5)


def test_causal_transformer_ignores_the_future():
    torch.manual_seed(0)
    model = build_model("transformer", ModelConfig(causal=True)).eval()
    x = torch.randint(0, 26, (1, 10))
    y = x.clone()
    y[0, 7:] = (y[0, 7:] + 1) % 26  # change only the future of position 6
    assert torch.allclose(model(x)[0, :7], model(y)[0, :7], atol=1e-6)


def test_forget_bias_is_added():
    d = 64
    torch.manual_seed(0)
    biased = build_model("lstm", ModelConfig(forget_bias=1.0))
    torch.manual_seed(0)
    plain = build_model("lstm", ModelConfig(forget_bias=0.0))
    diff = biased.lstm.bias_ih_l0 - plain.lstm.bias_ih_l0
    assert torch.allclose(diff[d:2 * d], torch.ones(d)) and diff[:d].abs().max() == 0


def test_bad_model_arguments():
    with pytest.raises(ValueError, match="kind must be one of"):
        build_model("gru")
    with pytest.raises(ValueError, match="multiple of n_heads"):
        build_model("transformer", ModelConfig(d_model=30, n_heads=4))


@pytest.mark.parametrize("causal", [False, True])
def test_padding_mask_makes_padded_sequences_equal_to_the_unpadded(causal):
    cfg = ModelConfig(vocab_size=10, n_out=10, d_model=16, n_layers=2, n_heads=2, causal=causal, pad_id=0)
    torch.manual_seed(0)
    model = helpers.TransformerModel(cfg).eval()
    x = torch.tensor([[3, 5, 7, 2, 0, 0, 0]])  # 4 real tokens, right-padded with id 0
    with torch.no_grad():
        padded, weights = model(x, return_attention=True)
        short = model(x[:, :4])  # the oracle: the same sentence with no padding at all
    torch.testing.assert_close(padded[:, :4], short)
    assert all(w[..., :4, 4:].abs().max() == 0 for w in weights)  # no real query looks at padding
    if not causal:  # without the padding mask, the unmasked model's real positions do look at it
        plain = helpers.TransformerModel(ModelConfig(**{**cfg.__dict__, "pad_id": None})).eval()
        plain.load_state_dict(model.state_dict())
        with torch.no_grad():
            assert not torch.allclose(plain(x)[:, :4], short, atol=1e-4)


def test_learned_positions_stay_the_default_with_the_same_parameters_and_outputs():
    torch.manual_seed(0)
    model = build_model("transformer", ModelConfig(d_model=16, n_heads=4, max_len=12))
    x = torch.randint(0, 26, (3, 10), generator=torch.Generator().manual_seed(1))  # (B, T)
    with torch.no_grad():
        y = model(x)
    assert ModelConfig().positions == "learned"
    assert len(model.state_dict()) == 30 and "pos.weight" in model.state_dict() and model.n_params() == 5530
    # the values this seed gave before the positions option existed
    assert y[0, 0, :3].tolist() == pytest.approx([0.0085191242, -0.0168402940, -1.5954099894], abs=1e-6)
    assert float(y.abs().sum()) == pytest.approx(377.48169, abs=1e-3)


def test_sinusoids_follow_the_papers_formula():
    pe = helpers.core.models.sinusoids(7, 6)  # (T, d)
    for t in range(7):
        for i in range(3):
            angle = t / 10000 ** (2 * i / 6)
            assert pe[t, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-6)
            assert pe[t, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-6)
    assert helpers.core.models.sinusoids(4, 5).shape == (4, 5)  # an odd width keeps its last sine


def test_alibi_bias_for_a_small_case_by_hand():
    bias = helpers.core.models.alibi_bias(2, 3)  # (H, T, T); slopes 2^-4 and 2^-8 for two heads
    m1, m2 = 1 / 16, 1 / 256
    by_hand = torch.tensor([[[0, -1, -2], [-1, 0, -1], [-2, -1, 0]]], dtype=torch.float32)
    assert torch.equal(bias, torch.cat([m1 * by_hand, m2 * by_hand]))
    assert helpers.core.models.alibi_slopes(8).tolist() == [2.0 ** -k for k in range(1, 9)]  # the paper's 8 heads


@pytest.mark.parametrize("positions", ["sinusoidal", "alibi", "rope"])
def test_other_positions_add_no_parameters_and_agree_fused_and_scratch(positions):
    cfg = ModelConfig(d_model=16, n_heads=4, max_len=12, positions=positions)
    torch.manual_seed(0)
    model = build_model("transformer", cfg)
    assert model.n_params() == 5530 - 12 * 16  # the learned table's rows are gone
    x = torch.randint(0, 26, (3, 10), generator=torch.Generator().manual_seed(1))  # (B, T)
    with torch.no_grad():
        y = model(x)
        for block in model.blocks:
            block.attn.fused = True
        assert torch.allclose(model(x), y, atol=1e-5)
    if positions in ("alibi", "rope"):  # no position vector: the order reaches the model only through the scores
        assert torch.equal(model.embed(x), model.tok(x))


def test_alibi_bias_enters_the_scores_before_the_causal_mask():
    torch.manual_seed(0)
    q, k, v = torch.randn(3, 1, 2, 4, 8).unbind(0)  # (B, H, T, d) each
    bias = helpers.core.models.alibi_bias(2, 4)
    _, weights = helpers.attention(q, k, v, helpers.causal_mask(4), bias)
    scores = (q @ k.transpose(-2, -1) / math.sqrt(8) + bias).masked_fill(~helpers.causal_mask(4), float("-inf"))
    assert torch.allclose(weights, scores.softmax(-1), atol=1e-6)
    assert weights[..., 0, 1:].abs().max() == 0


def test_bad_positions_name_the_choices():
    with pytest.raises(ValueError, match="positions must be one of"):
        build_model("transformer", ModelConfig(positions="relative"))


def test_rope_rotates_by_the_position_so_scores_see_only_distances():
    x = torch.tensor([[1.0, 0.0]]).repeat(3, 1)  # (T, d): the same vector at positions 0, 1, 2
    rotated = helpers.core.models.rotate(x)
    for t in range(3):  # d = 2: one pair, angle t / 10000^0 = t radians
        assert rotated[t].tolist() == pytest.approx([math.cos(t), math.sin(t)], abs=1e-6)
    torch.manual_seed(0)
    q, k = torch.randn(2, 1, 8)  # one query and one key vector, width 8
    qs, ks = helpers.core.models.rotate(q.repeat(9, 1)), helpers.core.models.rotate(k.repeat(9, 1))  # (T, 8)
    assert float(qs[5] @ ks[3]) == pytest.approx(float(qs[7] @ ks[5]), abs=1e-5)  # distance 2 either way
    assert float(qs[5] @ ks[3]) != pytest.approx(float(qs[5] @ ks[4]), abs=1e-3)
    with pytest.raises(ValueError, match="even head width"):
        build_model("transformer", ModelConfig(d_model=12, n_heads=4, positions="rope"))
