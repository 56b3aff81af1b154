import statistics

import pytest
import torch
import torch.nn.functional as F

from helpers.core.corpus import Reproduce, corpus_vocab, tokenize, with_bos
from helpers.core.models import causal_mask
from helpers.core.corpus import load_sentences
from helpers.lessons.learning import (DECK_SENTENCE, TARGETS, deep_dive, greedy_decode, row_entropy, sentence_of_length,
                                      snapshot_epochs, time_attention, time_demo_step, torch_mha, training_demo)


@pytest.fixture(scope="module")
def demo():
    return training_demo()  # the defaults, as notebook 10 runs them


@pytest.fixture(scope="module")
def dive():
    return deep_dive(epochs=1)  # a briefly trained model is enough for the maths


def test_training_demo_reproduces_its_targets_at_the_default_epochs(demo):
    assert demo.final == demo.targets
    assert demo.targets[0] == "we propose a new simple network architecture, the transformer."
    assert demo.outputs[0] != demo.targets  # epoch 0 writes something else
    assert demo.history.test_loss[-1] < demo.history.test_loss[0] / 4
    assert demo.first_perfect is not None and demo.first_perfect <= demo.epochs


def test_training_demo_keeps_the_chosen_epochs(demo):
    assert list(demo.outputs) == list(snapshot_epochs(demo.epochs)) == list(demo.attention)
    L, H, T, _ = demo.attention[0].shape
    assert (L, H, T) == (2, 4, len(demo.tokens))
    assert torch.allclose(demo.attention[0].sum(-1), torch.ones(L, H, T), atol=1e-5)
    total = sum(len(tokenize(t)) - 1 for t in demo.targets)
    assert sum(demo.right[demo.epochs]) == total > sum(demo.right[0])
    assert "Σ" not in demo.table() and f"words right (greedy) {total}/{total}" in demo.table()


def test_training_demo_short_run_with_own_epochs():
    d = training_demo(epochs=3, length=4, n_sentences=2, show_epochs=(0, 3))
    assert list(d.outputs) == [0, 3]
    assert [len(tokenize(t)) for t in d.targets] == [4, 4]
    assert all(len(tokenize(o)) == 4 for o in d.outputs[3])


@pytest.mark.parametrize("kwargs, name", [({"epochs": 0}, "epochs"), ({"length": 1}, "length"),
                                          ({"n_sentences": 6}, "n_sentences"),
                                          ({"epochs": 5, "show_epochs": (0, 9)}, "show_epochs")])
def test_training_demo_refuses_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        training_demo(**kwargs)


def test_targets_need_known_and_distinct_first_words():
    with pytest.raises(ValueError, match="different words"):
        training_demo(epochs=1, targets=("We propose a net.", "We train a net."), n_sentences=2)
    with pytest.raises(ValueError, match="zebra"):
        training_demo(epochs=1, targets=("We propose a zebra.",), n_sentences=1)


def test_reproduce_never_asks_for_the_prompt_word():
    words = [tokenize(t) for t in TARGETS[:2]]
    task = Reproduce(words, words, corpus_vocab(), batch_size=2)
    assert (task.test_y[:, 0] == 0).all() and (task.test_y[:, 1] != 0).all()
    assert (task.test_x[:, 1] == corpus_vocab().encode([w[0] for w in words])).all()


def test_greedy_decode_extends_each_prompt(demo):
    prompts = torch.stack([with_bos(corpus_vocab(), "we"), with_bos(corpus_vocab(), "the")])  # (2, 2)
    ids = greedy_decode(demo.model, prompts, 5)
    assert ids.shape == (2, 7) and (ids[:, :2] == prompts).all()
    assert corpus_vocab().decode(ids[0, 1:]) == "we propose a new simple network"


def test_snapshot_epochs():
    assert snapshot_epochs(60) == (0, 15, 30, 45, 60)
    assert snapshot_epochs(2) == (0, 1, 2)


def test_deep_dive_grid_is_a_causal_softmax_of_q_k(dive):
    T = len(tokenize(DECK_SENTENCE)) + 1
    assert dive.tokens[0] == "<s>" and len(dive.tokens) == T and dive.weights.shape == (4, T, T)
    assert torch.allclose(dive.weights.sum(-1), torch.ones(4, T), atol=1e-5)
    assert (dive.weights.triu(1) == 0).all()
    scores = dive.q @ dive.k.transpose(-2, -1) / dive.q.size(-1) ** 0.5  # (H, T, T)
    ours = scores.masked_fill(~causal_mask(T), float("-inf")).softmax(-1)
    assert torch.allclose(ours, dive.weights, atol=1e-6)
    sdpa = F.scaled_dot_product_attention(dive.q, dive.k, dive.v, is_causal=True)
    assert torch.allclose(sdpa, dive.weights @ dive.v, atol=1e-5)


def test_deep_dive_prefix_is_the_top_left_of_the_grid(dive):
    short = deep_dive(length=4, epochs=1)
    assert short.tokens == dive.tokens[:5]
    assert torch.allclose(short.weights, dive.weights[:, :5, :5], atol=1e-6)


def test_deep_dive_matches_torch_multihead_attention(dive):
    mha = torch_mha(dive.attn)
    T = len(dive.tokens)
    out, w = mha(dive.x[None], dive.x[None], dive.x[None], attn_mask=~causal_mask(T), average_attn_weights=False)
    assert torch.allclose(out[0], dive.output, atol=1e-5)
    assert torch.allclose(w[0], dive.weights, atol=1e-5)


def test_deep_dive_table_and_summary(dive):
    lines = dive.table(head=2).splitlines()
    assert len(lines) == len(dive.tokens) + 1 and "Σ" in lines[0]
    assert all(line.endswith("1.00") for line in lines[1:])
    assert "gives" in dive.summary() and "head 3" in dive.summary(3)
    short = dive.summary(3, table=False)  # the key each word looks at most, without the grid the heatmap shows
    assert "gives" in short and "Σ" not in short and short.splitlines()[1:] == [
        line for line in dive.summary(3).splitlines() if "gives" in line or line.startswith("Where")]


@pytest.mark.parametrize("kwargs, name", [({"length": 0}, "length"), ({"length": 12}, "length"),
                                          ({"layer": 3}, "layer"), ({"sentence": "We propose a zebra."}, "zebra")])
def test_deep_dive_refuses_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        deep_dive(epochs=1, **kwargs)


def test_deep_dive_grid_refuses_a_missing_head(dive):
    with pytest.raises(ValueError, match="head"):
        dive.grid(5)


def test_time_attention_times_the_cpu():
    timing = time_attention(16, repeats=3)
    assert [r["device"] for r in timing.rows] == ["cpu", "cuda"]  # the GPU row is there, with or without a GPU
    cpu = timing.rows[0]
    assert len(cpu["runs"]) == 3 and cpu["median_s"] == statistics.median(cpu["runs"])


def test_time_demo_step_times_the_cpu():
    timing = time_demo_step(length=4, n_sentences=1, repeats=2)
    assert timing.what == "one training step: 1 target(s) of 4 tokens"
    assert len(timing.rows[0]["runs"]) == 2 and timing.median("cpu") == statistics.median(timing.rows[0]["runs"])


def test_row_entropy_is_ln_n_for_a_uniform_row_and_0_for_a_one_hot_row():
    rows = torch.tensor([[0.25, 0.25, 0.25, 0.25], [1.0, 0.0, 0.0, 0.0], [0.5, 0.5, 0.0, 0.0]])
    assert torch.allclose(row_entropy(rows), torch.tensor([4.0, 1.0, 2.0]).log())
    p = torch.softmax(torch.randn(3, 5, 7, generator=torch.Generator().manual_seed(0)), -1)
    assert torch.allclose(row_entropy(p), torch.distributions.Categorical(probs=p).entropy(), atol=1e-6)


def test_sentence_of_length_gives_the_deck_sentence_or_a_held_out_one_of_that_length():
    held = {" ".join(s) for s in load_sentences("heldout")}
    lengths = sorted({len(s) for s in load_sentences("heldout")})
    assert sentence_of_length(len(tokenize(DECK_SENTENCE))) == DECK_SENTENCE
    for n in range(lengths[0], lengths[-1] + 1):
        words = tokenize(sentence_of_length(n))
        if n != len(tokenize(DECK_SENTENCE)):
            assert " ".join(words) in held  # never trained on
            assert len(words) == (n if n in lengths else max(m for m in lengths if m < n))
    with pytest.raises(ValueError, match="length"):
        sentence_of_length(lengths[-1] + 1)


def test_heads_report_compares_each_head_with_uniform_attention(dive):
    text = dive.heads().splitlines()
    T = len(dive.tokens)
    uniform = sum(torch.log(torch.tensor(i + 1.0)).item() for i in range(2, T)) / (T - 2)  # row i sees i + 1 keys
    assert text[0].startswith(f"uniform attention: entropy {uniform:.2f} nats")
    assert len(text) == 1 + len(dive.weights)
    ent = row_entropy(dive.weights[0, 2:]).mean()
    assert text[1].startswith(f"head 1: entropy {ent:.2f} nats ({ent / uniform:.0%} of uniform)")
    before = sum(dive.weights[0, i, i - 1].item() for i in range(2, T)) / (T - 2)
    assert f"; {before:.0%} before," in text[1]
