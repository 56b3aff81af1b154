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
from helpers.lessons.selection import (PerplexityReport, bootstrap_perplexity, interval, sentence_losses, split_task,
                                       unigram_sentence_losses)
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
    two = {"A": runs["A"] * 3}
    short = generation_table(two, first=1)
    assert "step 1" in short and "step 2" not in short and "steps 2 to 3: in the panel's third figure" in short
    assert "A:            we propose a new new new  (unfinished, not in train.txt)" in short  # the sentences, whole
    with pytest.raises(ValueError, match="first"):
        generation_table(runs, first=0)


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


def test_split_task_keeps_validation_and_test_apart_and_whole():
    task, (test_x, test_y) = split_task()
    full = load_sentences("heldout")
    assert len(task.test_y) + len(test_y) == len(full) and abs(len(task.test_y) - len(test_y)) <= 1
    assert task.max_len == max(map(len, load_sentences("train") + full))  # the same padding as corpus_task
    def decode(y):
        return [tuple(task.vocab.itos[i] for i in row if i != 0) for row in y.tolist()]
    assert decode(task.test_y) == [tuple(s) for s in full[0::2]] and decode(test_y) == [tuple(s) for s in full[1::2]]
    real = test_y[:, 1:] != 0
    assert torch.equal(test_x[:, 1:][real], test_y[:, :-1][real])  # the input is the target shifted by one


def test_sentence_losses_sum_to_the_mean_loss_that_evaluate_reports(lms):
    task = lms.task
    for model in lms.models.values():
        nll = sentence_losses(model, task.test_x, task.test_y)
        assert nll.shape == (len(task.test_y),) and torch.all(nll > 0)
        assert nll.sum().item() / (task.test_y != 0).sum().item() == pytest.approx(evaluate(model, task)[0], rel=1e-5)
    nll = unigram_sentence_losses(task, task.test_y)
    assert math.exp(nll.sum().item() / (task.test_y != 0).sum().item()) == pytest.approx(unigram_perplexity(task))


def test_bootstrap_is_paired_seeded_and_resamples_whole_sentences():
    nll = torch.tensor([[1.0, 4.0, 9.0], [1.0, 1.0, 1.0]], dtype=torch.float64)  # per token: 1, 2, 3 and 1, 1/2, 1/3
    tokens = torch.tensor([1, 2, 3], dtype=torch.float64)
    boot = bootstrap_perplexity(nll, tokens, resamples=500, seed=1)
    assert boot.shape == (2, 500) and torch.equal(boot, bootstrap_perplexity(nll, tokens, resamples=500, seed=1))
    gen = torch.Generator().manual_seed(1)
    idx = torch.randint(3, (500, 3), generator=gen)  # the sentences drawn, the same for both rows
    assert torch.allclose(boot[1], torch.exp(3.0 / tokens[idx].sum(-1)))
    assert torch.allclose(boot[0], torch.exp(nll[0][idx].sum(-1) / tokens[idx].sum(-1)))
    assert boot[0].min() >= math.exp(1) - 1e-9 and boot[0].max() <= math.exp(3) + 1e-9  # between the sentences' own
    low, high = interval(boot[0])
    assert math.exp(1) <= low < high <= math.exp(3)
    with pytest.raises(ValueError, match=r"nll must be \(models, sentences\)"):
        bootstrap_perplexity(nll[0], tokens)
    with pytest.raises(ValueError, match="resamples must be"):
        bootstrap_perplexity(nll, tokens, resamples=0)
    with pytest.raises(ValueError, match="level must be in"):
        interval(boot[0], level=1.0)


def test_train_to_best_stops_after_patience_epochs_without_a_lower_validation_loss():
    run = train_to_best("transformer", seed=0, max_epochs=6, patience=2)
    losses = run["val_loss"]
    best = min(range(len(losses)), key=losses.__getitem__)
    assert run["best_epoch"] == best
    assert len(losses) - 1 == 6 or len(losses) - 1 - best == 2  # the cap, or exactly `patience` epochs past the best
    assert all(losses[e] > losses[best] for e in range(best + 1, len(losses)))
    first = train_language_models(epochs=2, seed=0, kinds=("transformer",)).history["transformer"].test_loss
    assert losses[:3] == pytest.approx(first, rel=1e-6)  # the same weights and batches as the showdown's training
    assert len(run["test_nll"]) == len(split_task()[1][1]) and min(run["test_nll"]) > 0
    with pytest.raises(ValueError, match="kind must be one of"):
        train_to_best("rnn")


def fake_study():
    """Two seeds per kind: validation losses chosen at epoch 1, test losses of two sentences of 1 and 3 tokens."""
    runs = [{"kind": k, "seed": s, "val_loss": [5.0, math.log(p), math.log(p) + 1], "best_epoch": 1, "seconds": 0.1,
             "test_nll": [t, 3 * t]} for k, s, p, t in [("lstm", 0, 8.0, 2.0), ("lstm", 1, 10.0, 2.2),
                                                        ("transformer", 0, 7.0, 1.8), ("transformer", 1, 7.5, 2.0)]]
    return BestEpochs(runs, max_epochs=3, patience=1, seconds=0.4, tokens=[1, 3], unigram_nll=[4.0, 12.0],
                      validation=(2, 5))


def test_best_epochs_summary_gives_mean_and_range_per_kind():
    study = fake_study()
    assert study.validation_perplexities("lstm") == pytest.approx([8.0, 10.0])
    assert study.best_epochs("transformer") == [1, 1]
    assert study.test_perplexities("lstm") == pytest.approx([math.exp(2.0), math.exp(2.2)])
    text = study.summary()
    assert "LSTM         epochs 1, 1: validation perplexity  9.00 (range 8.00 to 10.00); test perplexity" in text
    assert "Transformer  epochs 1, 1: validation perplexity  7.25 (range 7.00 to 7.50)" in text and "seeds 0, 1" in text
    assert "validation: 2 sentences, 5 tokens" in text and "test: 2 sentences, 4 tokens" in text


def test_test_report_gives_the_seeds_mean_loss_and_paired_intervals():
    report = fake_study().test_report(resamples=200, seed=0)
    assert isinstance(report, PerplexityReport) and (report.sentences, report.tokens) == (2, 4)
    lstm, transformer = report.perplexity["LSTM"][0], report.perplexity["Transformer"][0]
    assert lstm == pytest.approx(math.exp(2.1)) and transformer == pytest.approx(math.exp(1.9))
    assert report.perplexity["unigram baseline"][0] == pytest.approx(math.exp(4.0))
    # every sentence's loss per token is the same within a run, so every resample keeps the same gap
    assert report.difference == pytest.approx((transformer - lstm,) * 3) and report.gap_holds
    assert report.ratio == pytest.approx((math.exp(-0.2),) * 3)
    assert "Transformer − LSTM" in report.summary() and "200 bootstrap resamples" in report.summary()


def test_plot_best_epochs_draws_every_run_and_its_best_epoch():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from helpers.view.figures import plot_best_epochs
    runs = [{"kind": k, "seed": s, "val_loss": [3.0, 2.5, 2.0 + s / 10, 2.2], "best_epoch": 2, "seconds": 0.1,
             "test_nll": [2.0 + s / 10, 2.1]} for k in ("lstm", "transformer") for s in (0, 1)]
    study = BestEpochs(runs, max_epochs=3, patience=1, seconds=0.4, tokens=[1, 1], unigram_nll=[4.0, 4.0])
    fig = plot_best_epochs(study, study.test_report(resamples=50))
    curves, test = fig.axes
    stars = [line for line in curves.lines if line.get_marker() == "*"]
    assert len(curves.lines) == 2 * len(runs) and [tuple(s.get_xdata()) for s in stars] == [(2,)] * len(runs)
    assert [t.get_text() for t in test.get_xticklabels()] == ["LSTM", "Transformer"]
    from helpers.view.plots import MARKERS
    dots = [line for line in test.lines if line.get_marker() in (MARKERS["lstm"], MARKERS["transformer"])]
    assert [tuple(d.get_ydata()) for d in dots] == [pytest.approx(tuple(study.test_perplexities(k)))
                                                    for k in ("lstm", "transformer")]
    assert len(test.containers) == 2  # one interval per model
    plt.close(fig)


def test_plot_perplexity_ticks_its_log_axis_at_readable_values(lms):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from helpers.view.figures import plot_perplexity
    fig = plot_perplexity(lms)
    ax = fig.axes[0]
    low, high = ax.get_ylim()
    shown = [t.get_text() for t, v in zip(ax.get_yticklabels(), ax.get_yticks()) if low <= v <= high]
    assert shown == [str(t) for t in [5, 10, 20, 50, 100, 200] if low <= t <= high] and "100" in shown
    assert [t.get_text() for t in ax.get_legend().get_texts()][:2] == ["LSTM", "Transformer"]
    plt.close(fig)


def test_the_showdown_estimate_scales_with_the_epochs_and_refuses_bad_input():
    from helpers.lessons.language import estimate_seconds
    one = estimate_seconds(15, 10, timer=lambda kind: 0.01)
    assert one == pytest.approx(2 * 0.01 * 10 * 12 * 4 / 3)  # two models, 12 batches of 32 of 369 sentences
    assert estimate_seconds(15, 20, timer=lambda kind: 0.01) == pytest.approx(2 * one)
    with pytest.raises(ValueError, match="epochs must be"):
        estimate_seconds(15, 0)
