import math

import pytest
import torch

import helpers
from helpers.lessons.anatomy import softmax_saturation

DIMS = (2, 8, 32, 128, 512)


def test_unscaled_softmax_saturates_as_d_grows():
    top = softmax_saturation(DIMS, n_keys=16, scaled=False)
    assert all(a < b for a, b in zip(top, top[1:])), top  # the largest weight rises with d
    assert top[0] < 0.5 and top[-1] > 0.85, top           # from a spread to nearly one-hot


def test_scaling_by_sqrt_d_keeps_the_softmax_spread():
    top = softmax_saturation(DIMS, n_keys=16, scaled=True)
    assert max(top) - min(top) < 0.1, top
    assert max(top) < 0.4, top  # far from one-hot among 16 keys


def test_dot_products_of_random_vectors_spread_like_sqrt_d():
    torch.manual_seed(0)
    for d in (4, 64, 1024):
        q, k = torch.randn(2, 4000, d).unbind(0)
        std = (q * k).sum(-1).std().item()
        assert std == pytest.approx(math.sqrt(d), rel=0.05)


def test_course_attention_divides_by_sqrt_d():
    torch.manual_seed(0)
    q, k, v = torch.randn(3, 5, 64).unbind(0)  # (T, d) each
    _, weights = helpers.attention(q, k, v)
    assert torch.allclose(weights, (q @ k.T / 8).softmax(-1), atol=1e-6)


def test_saturation_refuses_bad_arguments():
    with pytest.raises(ValueError, match="n_keys"):
        softmax_saturation([4], n_keys=1)
    with pytest.raises(ValueError, match="d must be"):
        softmax_saturation([0])


def test_with_attention_changes_only_the_mixing():
    """with_attention(model, the model's own attention) gives the same logits; without √d it gives others."""
    import torch.nn.functional as F

    import helpers
    from helpers.lessons.memory import with_attention

    cfg = helpers.ModelConfig(d_model=16, n_layers=2, n_heads=2)
    x = torch.randint(0, 26, (3, 7), generator=torch.Generator().manual_seed(0))
    with helpers.seeded(0):
        model = helpers.TransformerModel(cfg)
    with torch.no_grad():
        before = model(x)
        same = with_attention(model, F.scaled_dot_product_attention)(x)
        changed = with_attention(model, lambda q, k, v: F.scaled_dot_product_attention(q, k, v, scale=1.0))(x)
    torch.testing.assert_close(same, before)
    assert not torch.allclose(changed, before, atol=1e-4)
    with pytest.raises(ValueError, match="attend"):
        with_attention(model, "softmax")
    with pytest.raises(ValueError, match="model"):
        with_attention(helpers.TransformerModel(helpers.ModelConfig(d_model=16, n_heads=2, causal=True)),
                       F.scaled_dot_product_attention)
