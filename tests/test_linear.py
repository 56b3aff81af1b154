"""Notebook 14's helpers: linear attention parallel == recurrent, the gated form too, the decay matrix, the matrix
memory model trains, associative recall, generation with a cache and with a state."""
import pytest
import torch
import torch.nn.functional as F

from helpers import ModelConfig, TrainConfig, TransformerModel, seeded, train
from helpers.core.assoc import AssocConfig, AssociativeRecall
from helpers import record
from helpers.lessons import capacity as C
from helpers.lessons import linear as L


def rand(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_linear_attention_parallel_equals_recurrent():
    q, k, v = rand(2, 3, 9, 4, seed=1), rand(2, 3, 9, 4, seed=2), rand(2, 3, 9, 6, seed=3)
    torch.testing.assert_close(L.linear_attention_parallel(q, k, v), L.linear_attention_recurrent(q, k, v))


def test_linear_attention_first_output_is_first_value():
    q, k, v = rand(1, 5, 4, seed=1), rand(1, 5, 4, seed=2), rand(1, 5, 3, seed=3)
    torch.testing.assert_close(L.linear_attention_parallel(q, k, v)[:, 0], v[:, 0], rtol=1e-5, atol=1e-5)


def test_gated_parallel_equals_recurrent():
    q, k, v = rand(2, 3, 8, 4, seed=1), rand(2, 3, 8, 4, seed=2), rand(2, 3, 8, 5, seed=3)
    log_f, i = F.logsigmoid(rand(2, 3, 8, seed=4)), torch.sigmoid(rand(2, 3, 8, seed=5))
    torch.testing.assert_close(L.gated_parallel(q, k, v, log_f, i), L.gated_recurrent(q, k, v, log_f, i))


def test_decay_matrix_rows():
    f, i = torch.tensor([0.5, 0.8, 0.9], dtype=torch.float64), torch.tensor([1.0, 0.5, 0.25], dtype=torch.float64)
    D = L.decay_matrix(f.log(), i)
    expected = torch.tensor([[1.0, 0, 0], [0.8, 0.5, 0], [0.72, 0.45, 0.25]], dtype=torch.float64)
    torch.testing.assert_close(D, expected)


def test_model_parallel_equals_recurrent_and_generation_step():
    with seeded(0):
        model = L.MatrixMemoryModel(ModelConfig(d_model=16, n_heads=2)).eval()
    x = torch.randint(0, 26, (1, 7), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        full = model(x)
        torch.testing.assert_close(model.head(model.body(model.embed(x), recurrent=True)), full)
        step, states = L.generation_memory(model, 5)
        out = []
        for t in range(7):
            logits, states = L.matrix_step(model, x[:, t:t + 1], states)
            out.append(logits)
    torch.testing.assert_close(torch.cat(out, 1), full, rtol=1e-4, atol=1e-5)


def test_transformer_step_matches_causal_model_and_cache_grows():
    with seeded(0):
        model = TransformerModel(ModelConfig(d_model=16, n_heads=2, causal=True, max_len=32)).eval()
    x = torch.randint(0, 26, (1, 6), generator=torch.Generator().manual_seed(1))
    cache = [(torch.zeros(1, 2, 0, 8),) * 2 for _ in model.blocks]
    with torch.no_grad():
        out = []
        for t in range(6):
            logits, cache = L.transformer_step(model, x[:, t:t + 1], t, cache)
            out.append(logits)
        torch.testing.assert_close(torch.cat(out, 1), model(x), rtol=1e-4, atol=1e-5)
    assert L.memory_bytes(L.generation_memory(model, 20)[1]) == 2 * L.memory_bytes(L.generation_memory(model, 10)[1])
    with seeded(0):
        matrix = L.MatrixMemoryModel(ModelConfig(d_model=16, n_heads=2, max_len=32))
    assert L.memory_bytes(L.generation_memory(matrix, 20)[1]) == L.memory_bytes(L.generation_memory(matrix, 10)[1])


def test_matrix_model_trains_on_recall():
    model, hist = L.train_matrix(5, 3, seed=0, target=None, width=16)
    assert hist.test_acc[-1] > hist.test_acc[0] + 0.2


def test_associative_recall_shapes_and_perfect_lookup():
    task = AssociativeRecall(AssocConfig(pairs=5, n_train=64, n_test=32))
    assert task.test_x.shape == (32, 11) and task.test_y.shape == (32,) and task.vocab_size == 64 + 26
    keys = task.test_x[:, :-1:2]
    assert all(len(set(row)) == 5 for row in keys.tolist())  # distinct keys in a string
    x, y = next(iter(task.batches(torch.Generator().manual_seed(0))))
    assert x.shape == (64, 11) and y.shape == (64,)
    perfect = F.one_hot(task.lookup(task.test_x), 26).float()[:, None, :].expand(-1, 11, -1)  # (n, T, 26)
    assert task.accuracy(perfect, task.test_y) == 1.0 and task.loss(perfect * 100, task.test_y) < 1e-3


def test_matrix_model_learns_associative_recall_shape():
    task = AssociativeRecall(AssocConfig(pairs=2, n_keys=8, n_values=4, n_train=128, n_test=64))
    with seeded(0):
        model = L.MatrixMemoryModel(ModelConfig(vocab_size=task.vocab_size, n_out=4, d_model=16, n_heads=2))
    hist = train(model, task, TrainConfig(epochs=1))
    assert len(hist.test_acc) == 2 and 0 <= hist.test_acc[-1] <= 1


def test_hand_built_state_loses_past_its_width_cache_does_not():
    task = AssociativeRecall(AssocConfig(pairs=48, n_test=256))
    small, cache = C.hand_built_recall(task, 16)
    big, _ = C.hand_built_recall(task, 128)
    assert small < 0.7 < 0.95 < big and cache > 0.95
    fused = AssociativeRecall(AssocConfig(pairs=48, n_test=256, fused=True))  # the same strings, one token a pair
    assert C.hand_built_recall(fused, 16) == (small, cache)


def test_fused_pairs_are_the_same_strings_one_token_a_pair():
    plain, fused = (AssociativeRecall(AssocConfig(pairs=3, n_keys=8, n_values=5, n_test=16, fused=f))
                    for f in (False, True))
    assert fused.vocab_size == 8 * 5 + 8 and fused.test_x.shape == (16, 4)
    assert all(torch.equal(a, b) for a, b in zip(plain.split(plain.test_x), fused.split(fused.test_x)))
    torch.testing.assert_close(fused.lookup(fused.test_x), fused.test_y)
    embed = C.PairEmbedding(8, 5, 6)
    e = embed(torch.tensor([[2 * 5 + 3, 8 * 5 + 2]]))  # the pair (key 2, value 3), then the question: key 2
    torch.testing.assert_close(e[0, 0], embed.key.weight[2] + embed.value.weight[3])
    torch.testing.assert_close(e[0, 1], embed.key.weight[2] + embed.value.weight[5])  # 5: the 'ask' row


def test_one_trained_layer_learns_fused_recall_and_the_recording_runs(tmp_path):
    _, hist = C.train_assoc("transformer", 16, 4, epochs=6)
    assert hist.test_acc[-1] > hist.test_acc[0] + 0.3  # well above chance (1 in 16) after 192 steps
    path = C.record_capacity("cpu", tmp_path / "capacity_cpu.json", quick=True, log=lambda line: None)
    rec = record.read(path)
    assert rec["complete"] and [(r["model"], r["width"], r["pairs"]) for r in rec["results"]] == [
        ("matrix", 16, 2), ("transformer", 16, 2)]
    table = C.accuracy_table(rec["results"], C.LRS[0])
    assert set(table) == {("matrix", 16), ("transformer", 16)} and table["matrix", 16][2][0] == rec["results"][0]["acc"]


@pytest.mark.parametrize("call, match", [
    (lambda: L.linear_attention_parallel(rand(2, 4), rand(2, 5), rand(2, 3)), "q, k must be"),
    (lambda: L.gated_parallel(rand(4, 2), rand(4, 2), rand(4, 2), rand(3), rand(4)), "log_f and i must be"),
    (lambda: L.gated_recurrent(rand(4, 2), rand(4, 2), rand(4, 2), rand(4).abs(), rand(4)), "log_f must be"),
    (lambda: L.MatrixMemory(10, 4), "multiple of n_heads"),
    (lambda: AssociativeRecall(AssocConfig(pairs=9, n_keys=8)), "pairs must be an integer from 1 to 8"),
    (lambda: AssociativeRecall(AssocConfig(n_values=1)), "n_values must be"),
    (lambda: C.hand_built_recall(AssociativeRecall(AssocConfig(n_test=4)), 1), "width must be"),
    (lambda: C.assoc_model("lstm", 16, C.assoc_task(2)), "kind must be one of"),
    (lambda: C.assoc_task(65), "pairs must be an integer from 1 to 64"),
    (lambda: L.train_matrix(2, 1), "length must be"),
    (lambda: L.generation_memory(L.MatrixMemoryModel(ModelConfig(d_model=8, max_len=10)), 10), "n must be"),
    (lambda: L.matrix_steps_to_remember([5], jobs=0), "jobs must be"),
])
def test_bad_arguments_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_recording_with_two_jobs_equals_one_job_in_the_plans_order(tmp_path, monkeypatch):
    """`--jobs 2` trains in two processes: the same runs, curves included, stored in the plan's order."""
    monkeypatch.setattr(L, "linear_settings", lambda quick: {"lengths": [3, 5], "seeds": [0, 1], "max_steps": 64})
    one = L.record_linear("cpu", tmp_path / "one.json", log=lambda run: None)
    two = L.record_linear("cpu", tmp_path / "two.json", log=lambda run: None, jobs=2)
    runs = [[{k: v for k, v in r.items() if k != "seconds"} for r in record.read(p)["results"]] for p in (one, two)]
    assert runs[0] == runs[1]
    assert [(r["length"], r["seed"]) for r in runs[1]] == [(3, 0), (5, 0), (3, 1), (5, 1)]


def test_decay_weighted_rows_sum_to_one_and_are_causal():
    with seeded(0):
        model = L.MatrixMemoryModel(ModelConfig(d_model=16, max_len=8))
    x = torch.randint(2, 20, (1, 8))
    w = L.decay_weighted(model, x)
    assert w.dim() == 3 and w.shape[1:] == (8, 8)  # (H, T, T)
    torch.testing.assert_close(w.sum(-1), torch.ones(w.shape[:2]))
    assert torch.all(w.triu(1) == 0)
    with pytest.raises(ValueError, match="x must be"):
        L.decay_weighted(model, x[0])
    with pytest.raises(ValueError, match="model must be"):
        L.decay_weighted(TransformerModel(ModelConfig(d_model=16, max_len=8)), x)


def test_steps_and_accuracy_texts():
    assert L.steps_text((896, 608, 1376, 0, 3)) == "896 (608-1,376)"
    assert L.steps_text((64, 64, 64, 0, 3)) == "64"
    assert L.steps_text((None, None, None, 3, 3)) == "beyond the cap"
    assert L.steps_text((None, None, None, 2, 3)) == "beyond (2 of 3)"
    assert L.steps_text((96, 64, 128, 1, 3)) == "96 (64-128) +1 beyond"
    assert C.acc_text((0.53, 0.41, 0.6)) == "53% (41%-60%)"


def test_the_panel_estimate_grows_with_length_and_epochs():
    short, longer = L.estimate_seconds(10, 2), L.estimate_seconds(40, 4)
    assert 0 < short < longer
