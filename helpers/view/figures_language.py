"""The language lesson's figures (notebook 13): validation perplexity per epoch and per seed, test perplexity with its
interval, the candidate words of each generation step, and the showdown's drawing."""
import numpy as np
from matplotlib.ticker import MaxNLocator

from ..lessons.amnesia import NAMES
from ..lessons.language import LM_KINDS, TOP_K, sentence_attention, sentences
from .plots import COLORS, MARKERS, attention_heatmap, plot_history, show, style, subplots


PERPLEXITY_TICKS = [5, 10, 20, 50, 100, 200]  # readable ticks on a log axis of perplexities


def tick_perplexity(ax, ticks=PERPLEXITY_TICKS):
    """Label a log-scale perplexity axis at `ticks` as plain numbers, no minor ticks (notebook 13)."""
    ax.set_yticks(ticks, [str(t) for t in ticks])
    ax.minorticks_off()


def plot_perplexity(lms):
    """Validation perplexity per epoch for both models, with the unigram baseline; returns the figure (notebook 13)."""
    fig, ax = subplots(figsize=(6.5, 3.4))
    for kind, h in lms.history.items():
        ppl = np.exp(h.test_loss)
        ax.plot(range(len(ppl)), ppl, ms=4, label=NAMES[kind], **style(kind))
        best = lms.best_epoch(kind)
        ax.plot(best, ppl[best], "*", ms=12, color=COLORS[kind])
    ax.axhline(lms.unigram, color="k", ls="--", lw=1, label="unigram baseline")
    ax.set(yscale="log", xlabel="epoch", ylabel="validation perplexity (log scale)",
           title="Validation perplexity (star = lowest)")
    low, high = ax.get_ylim()
    tick_perplexity(ax)
    ax.set_ylim(low, high)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)  # beside the curves
    fig.tight_layout()
    return fig


def plot_best_epochs(study, report=None):
    """Validation perplexity per epoch of every seed, each run's chosen epoch starred; beside it the test perplexity
    of each seed at that epoch and, given a PerplexityReport, the 95% interval of the seeds' mean (notebook 13)."""
    fig, (ax, ax_test) = subplots(1, 2, figsize=(10.5, 4.2), gridspec_kw={"width_ratios": [1.8, 1]})
    for r in study.runs:
        ppl = np.exp(r["val_loss"])
        ax.plot(range(len(ppl)), ppl, "-", lw=1, color=COLORS[r["kind"]], alpha=0.8,
                label=NAMES[r["kind"]] if r["seed"] == study.runs[0]["seed"] else None)
        ax.plot(r["best_epoch"], ppl[r["best_epoch"]], "*", ms=11, color=COLORS[r["kind"]])
    ax.set(yscale="log", ylim=(5, 60), xlabel="epoch", ylabel="validation perplexity (log scale)",
           title="Every seed, until validation stops falling\n(star = chosen epoch)")
    tick_perplexity(ax, [5, 6, 8, 10, 15, 20, 30, 40, 60])
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(loc="upper right", frameon=False)
    kinds = [k for k in LM_KINDS if study.best_epochs(k)]
    for i, kind in enumerate(kinds):
        ppl = study.test_perplexities(kind)
        ax_test.plot([i - 0.1] * len(ppl), ppl, MARKERS[kind], ms=7, color=COLORS[kind], alpha=0.8,
                     label="each seed" if i == 0 else None)
        if report is not None:
            value, low, high = report.perplexity[NAMES[kind]]
            ax_test.errorbar(i + 0.1, value, [[value - low], [high - value]], fmt="s", ms=6, capsize=5,
                             color=COLORS[kind], mfc="white", label="seeds' mean, 95% interval" if i == 0 else None)
    ax_test.set(xticks=range(len(kinds)), xlim=(-0.6, len(kinds) - 0.4), ylabel="test perplexity, chosen epoch",
                title="Test sentences\n(never used for a choice)")
    ax_test.set_xticklabels([NAMES[k] for k in kinds])
    low, high = ax_test.get_ylim()
    ax_test.set_ylim(low, high + 0.3 * (high - low))  # room for the legend above the bars
    ax_test.legend(loc="upper center", frameon=False)
    fig.tight_layout()
    return fig


CANDIDATE_CHARS = 9  # a longer candidate word is cut to fit its grid cell at a readable size ("convolut…")


def _short(word, chars=CANDIDATE_CHARS):
    return word if len(word) <= chars else word[:chars - 1] + "…"


def plot_candidates(runs):
    """Per model, a grid step x rank coloured by probability, the chosen word boxed; returns the figure. Each word is
    drawn at 10 pt; the chosen word and the word read are whole, the other candidates cut to CANDIDATE_CHARS (the
    printed table has them whole). Introduced in notebook 13."""
    n = max(len(r) for r in runs.values())
    fig, axes = subplots(1, len(runs), figsize=(5.5 * len(runs), 0.55 * n + 1.3), squeeze=False)
    for ax, (name, steps) in zip(axes[0], runs.items()):
        grid = np.full((n, TOP_K), np.nan)
        for t, step in enumerate(steps):
            grid[t, :len(step.top)] = [p for _, p in step.top]
        ax.imshow(grid, cmap="Blues", vmin=0, vmax=1, aspect="auto")
        for t, step in enumerate(steps):
            for r, (word, p) in enumerate(step.top):
                chosen = word == step.word
                ax.text(r, t, f"{word if chosen else _short(word)}\n{p:.2f}", ha="center", va="center", fontsize=10,
                        linespacing=0.95,
                        color="white" if p > 0.6 else "black", fontweight="bold" if chosen else "normal",
                        bbox={"fill": False, "edgecolor": "crimson", "lw": 1.5, "pad": 1} if chosen else None)
        row_labels = [f"…{s.context.split()[-1]} ▸" if s.context else "<s> ▸" for s in steps]
        ax.set_yticks(range(len(steps)), row_labels, fontsize=10)
        ax.set_xticks(range(TOP_K), [f"#{r + 1}" for r in range(TOP_K)], fontsize=10)
        ax.set_xlabel("rank of the candidate", fontsize=10)
        ax.set_title(f"{name}: top {TOP_K} per step", fontsize=11)
    axes[0][0].set_ylabel("step (the last word read)", fontsize=10)
    fig.tight_layout()
    return fig


def show_showdown(result):
    """Draw a Showdown (curves, perplexity, candidates, the Transformer's attention); return its summary.
    Introduced in notebook 13."""
    lms = result.lms
    plot_history({NAMES[k]: lms.history[k] for k in lms.models},
                 title=f"Language models on data/corpus, {lms.epochs} epochs (held-out = validation part)")
    show()
    plot_perplexity(lms)
    show()
    plot_candidates(result.runs)
    show()
    if "transformer" in lms.models:
        text = sentences(result.runs[NAMES["transformer"]])[0]  # its first sentence
        weights, labels = sentence_attention(lms.models["transformer"], lms.vocab, text)
        attention_heatmap(weights, labels, annotate=False,
                          title="Transformer, last layer, mean over heads, on its own sentence")
        show()
    return result.summary()
