import math
import statistics
import re

import pytest
import torch

from helpers.core.corpus import NextWord, Vocab, load_sentences, tokenize
from helpers.core.timing import NO_GPU
from helpers.core.train import evaluate
from helpers.lessons.language import (PROMPT, BestEpochs, Step, generate, generation_table, next_word_probs, recited,
                                      sentence_attention, sentences, showdown, time_lm_step,
                                      train_language_models, train_to_best, unigram_perplexity)
from helpers.view.widgets import showdown_panel


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread: these tiny models gain nothing from more, and a busy 2-core machine loses a lot."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def lms(one_thread):
    return train_language_models(epochs=4, seed=0)


def test_unigram_perplexity_counts_the_training_targets():
    train = [["a", "b", "."], ["a", "a", "."]]  # targets a b . a a . -> p(a)=3/6, p(b)=1/6, p(.)=2/6
    task = NextWord(train, [["b", "a", "."]], Vocab(train))
    assert unigram_perplexity(task) == pytest.approx((6 / 1 * 6 / 3 * 6 / 2) ** (1 / 3))


def test_language_models_beat_the_unigram_baseline(lms):
    assert 50 < lms.unigram < len(lms.vocab)  # better than uniform, far from good
    for kind, model in lms.models.items():
        assert lms.perplexity[kind] < lms.unigram, kind
        assert lms.perplexity[kind] == pytest.approx(math.exp(evaluate(model, lms.task)[0]), rel=1e-5)
        assert next(model.parameters()).device.type == "cpu" and not model.training
    assert abs(lms.params["lstm"] / lms.params["transformer"] - 1) < 0.05  # similar size
    assert "unigram baseline" in lms.summary() and "Transformer" in lms.summary()


def test_greedy_generation_shows_context_top5_and_the_chosen_word(lms):
    for model in lms.models.values():
        steps = generate(model, lms.vocab, PROMPT, steps=20, temperature=0.0)
        assert steps[0].context == "we propose a"
        assert steps[-1].word == "." or len(tokenize(steps[-1].context)) + 2 > model.cfg.max_len
        for step, after in zip(steps, steps[1:]):
            assert tokenize(after.context) == tokenize(step.context) + [step.word]
        for step in steps:
            probs = [p for _, p in step.top]
            assert len(step.top) == 5 and probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-6
            assert step.word == step.top[0][0] and step.prob == probs[0]
            assert step.word not in ("<pad>", "<s>")


def test_sampling_is_seeded_and_temperature_sharpens(lms):
    model = lms.models["transformer"]
    runs = [generate(model, lms.vocab, PROMPT, 10, temperature=1.5, seed=s) for s in (3, 3, 4)]
    assert runs[0] == runs[1] and runs[0] != runs[2]
    top1 = [generate(model, lms.vocab, PROMPT, 1, temperature=t)[0].top[0][1] for t in (0.5, 1.0, 2.0)]
    assert top1[0] > top1[1] > top1[2]
    assert generate(model, lms.vocab, PROMPT, 1, temperature=0.0)[0].top[0][1] == pytest.approx(top1[1])


@pytest.mark.parametrize("prompt, message", [
    ("We propose a quantum blockchain", "unknown words (not in the course's corpus): quantum, blockchain"),
    ("We propose 3 nets!", "only letters"),
    ("  ", "from 1 to"),
    (" ".join(["we"] * 40), "from 1 to"),
])
def test_bad_prompts_raise_a_clear_value_error(lms, prompt, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        generate(lms.models["lstm"], lms.vocab, prompt)


@pytest.mark.parametrize("kwargs", [{"temperature": -0.1}, {"temperature": 9.0}, {"steps": 0}, {"seed": -1}])
def test_bad_generation_arguments_are_refused(lms, kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        generate(lms.models["lstm"], lms.vocab, PROMPT, **kwargs)


def test_text_box_bad_input_gets_the_message_and_keeps_the_result():
    panel = showdown_panel(length=(1, 17, 4), epochs=(1, 5, 1))
    first = panel.result
    assert first.prompt == PROMPT and set(first.runs) == {"LSTM", "Transformer"}
    panel.controls["prompt"].value = "We propose a quantum network"
    panel.wait()
    assert "unknown words" in panel.last_message and "quantum" in panel.last_message
    assert "color:#b00020" in panel.message.value and panel.result is first
    panel.controls["prompt"].value = "The Transformer"
    panel.wait()
    assert panel.last_message.startswith("done in") and panel.result.prompt == "The Transformer"
    panel.controls["temperature"].value = 1.0
    panel.wait()
    assert panel.result.temperature == 1.0 and panel.result.lms is first.lms  # cached: not retrained
    assert "Transformer:  the transformer" in panel.text


def test_attention_over_a_sentence_is_causal_and_sums_to_one(lms):
    weights, labels = sentence_attention(lms.models["transformer"], lms.vocab, "We propose a deep network, the ResNet.")
    assert labels == ["<s>"] + tokenize("We propose a deep network, the ResNet.")
    assert weights.shape == (len(labels), len(labels))
    assert torch.allclose(weights.sum(-1), torch.ones(len(labels)), atol=1e-5)
    assert torch.all(weights.triu(1) == 0)


def test_generation_table_lists_each_step_and_tells_recited_sentences():
    line = " ".join(load_sentences("train")[0])
    assert recited(line) and not recited("We propose a network, the LSTM.")
    runs = {"A": [Step("we propose a", [("deep", 0.5), ("new", 0.2)], "new", 0.2)],
            "B": [Step("we propose a", [("deep", 0.5), ("new", 0.2)], "simple", 0.01)]}
    text = generation_table(runs)
    assert "step 1" in text and "reads: we propose a" in text and "new             0.20 <-" in text
    assert "B drew 'simple' (p = 0.01), outside its top 2" in text
    assert "A:            we propose a new  (unfinished, not in train.txt)" in text


def test_timing_has_a_cpu_row_and_says_when_there_is_no_gpu():
    timing = time_lm_step("lstm", batch_size=8, repeats=2)
    assert "LSTM" in timing.what and "batch 8" in timing.what
    assert len(timing.rows[0]["runs"]) == 2 and timing.median("cpu") == statistics.median(timing.rows[0]["runs"])
    if not torch.cuda.is_available():
        assert NO_GPU in str(timing)
    with pytest.raises(ValueError, match="kind"):
        time_lm_step("rnn")


def test_showdown_refuses_bad_arguments_before_training():
    for kwargs, name in [({"steps": 0}, "steps"), ({"temperature": 7.0}, "temperature"),
                         ({"prompt": "We propose a teleporter"}, "teleporter"), ({"epochs": 0}, "epochs")]:
        with pytest.raises(ValueError, match=name):
            showdown(**kwargs)


def test_past_the_full_stop_writes_every_word_asked_for_starting_each_sentence_from_bos(lms):
    model = lms.models["transformer"]
    one = generate(model, lms.vocab, PROMPT, steps=40, temperature=0.0)
    many = generate(model, lms.vocab, PROMPT, steps=40, temperature=0.0, past_full_stop=True)
    assert len(many) == 40 and many[:len(one)] == one  # the first sentence is the one that stopped
    after = [i for i, step in enumerate(many[:-1]) if step.word == "."]
    assert after and all(many[i + 1].context == "" for i in after)  # a new sentence reads <s> alone
    alone = next_word_probs(model, [lms.vocab.stoi["<s>"]]).topk(5)  # what the model writes after <s> alone
    for i in after:
        assert [w for w, _ in many[i + 1].top] == [lms.vocab.itos[j] for j in alone.indices.tolist()]
    texts = sentences(many)
    assert texts[0] == " ".join(tokenize(sentences(one)[0])).replace(" ,", ",").replace(" .", ".")
    assert sum(t.endswith(".") for t in texts) == len(after) + (many[-1].word == ".")


def test_sentences_cuts_at_each_full_stop():
    steps = [Step("we", [], w, 1.0) for w in ["propose", "a", ".", "we", "train", "."]]
    assert sentences(steps) == ["we propose a.", "we train."]
    assert sentences(steps[:4]) == ["we propose a.", "we"]
    text = generation_table({"A": steps})
    assert "(unfinished" not in text and "finished sentences recited from train.txt: A 0 of 2" in text


def test_train_to_best_stops_after_patience_epochs_without_a_lower_held_out_loss():
    run = train_to_best("transformer", seed=0, max_epochs=6, patience=2)
    losses = run["test_loss"]
    best = min(range(len(losses)), key=losses.__getitem__)
    assert run["best_epoch"] == best
    assert len(losses) - 1 == 6 or len(losses) - 1 - best == 2  # the cap, or exactly `patience` epochs past the best
    assert all(losses[e] > losses[best] for e in range(best + 1, len(losses)))
    first = train_language_models(epochs=2, seed=0, kinds=("transformer",)).history["transformer"].test_loss
    assert losses[:3] == pytest.approx(first, rel=1e-6)  # the same weights and batches as the showdown's training
    with pytest.raises(ValueError, match="kind must be one of"):
        train_to_best("rnn")


def test_best_epochs_summary_gives_mean_and_range_per_kind():
    runs = [{"kind": k, "seed": s, "test_loss": [5.0, math.log(p), math.log(p) + 1], "best_epoch": 1, "seconds": 0.1}
            for k, s, p in [("lstm", 0, 8.0), ("lstm", 1, 10.0), ("transformer", 0, 7.0), ("transformer", 1, 7.5)]]
    study = BestEpochs(runs, max_epochs=3, patience=1, seconds=0.4)
    assert study.perplexities("lstm") == pytest.approx([8.0, 10.0]) and study.best_epochs("transformer") == [1, 1]
    text = study.summary()
    assert "LSTM         perplexity  9.00 (range 8.00 to 10.00) at epochs 1, 1" in text
    assert "Transformer  perplexity  7.25 (range 7.00 to 7.50)" in text and "seeds 0, 1" in text


def test_plot_best_epochs_draws_every_run_and_its_best_epoch():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from helpers.view.figures import plot_best_epochs
    runs = [{"kind": k, "seed": s, "test_loss": [3.0, 2.5, 2.0 + s / 10, 2.2], "best_epoch": 2, "seconds": 0.1}
            for k in ("lstm", "transformer") for s in (0, 1)]
    fig = plot_best_epochs(BestEpochs(runs, max_epochs=3, patience=1, seconds=0.4))
    curves, best = fig.axes
    stars = [line for line in curves.lines if line.get_marker() == "*"]
    assert len(curves.lines) == 2 * len(runs) and [tuple(s.get_xdata()) for s in stars] == [(2,)] * len(runs)
    assert [t.get_text() for t in best.get_xticklabels()] == ["LSTM", "Transformer"]
    plt.close(fig)
