"""The language lesson's figures (notebook 13): held-out perplexity per epoch and per seed, the candidate words of
each generation step, and the showdown's drawing."""
import numpy as np
from matplotlib.ticker import MaxNLocator

from ..lessons.amnesia import NAMES
from ..lessons.language import TOP_K, sentence_attention, sentences
from .plots import COLORS, attention_heatmap, plot_history, show, subplots


def plot_perplexity(lms):
    """Held-out perplexity per epoch for both models, with the unigram baseline; returns the figure (notebook 13)."""
    fig, ax = subplots(figsize=(6.5, 3.4))
    for kind, h in lms.history.items():
        ppl = np.exp(h.test_loss)
        ax.plot(range(len(ppl)), ppl, "o-", ms=3, color=COLORS[kind], label=NAMES[kind])
        best = lms.best_epoch(kind)
        ax.plot(best, ppl[best], "*", ms=12, color=COLORS[kind])
    ax.axhline(lms.unigram, color="k", ls="--", lw=1, label="unigram baseline")
    ax.set(yscale="log", xlabel="epoch", ylabel="held-out perplexity (log scale)",
           title="Held-out perplexity (star = lowest)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)  # beside the curves
    fig.tight_layout()
    return fig


def plot_best_epochs(study):
    """Held-out perplexity per epoch of every seed, each run's best epoch starred; beside it the best perplexity
    of each seed and their range per model (notebook 13)."""
    fig, (ax, ax_best) = subplots(1, 2, figsize=(12, 3.8), gridspec_kw={"width_ratios": [2.2, 1]})
    for r in study.runs:
        ppl = np.exp(r["test_loss"])
        ax.plot(range(len(ppl)), ppl, "-", lw=1, color=COLORS[r["kind"]], alpha=0.8,
                label=NAMES[r["kind"]] if r["seed"] == study.runs[0]["seed"] else None)
        ax.plot(r["best_epoch"], ppl[r["best_epoch"]], "*", ms=11, color=COLORS[r["kind"]])
    ax.set(yscale="log", ylim=(5, 60), xlabel="epoch", ylabel="held-out perplexity (log scale)",
           title="Every seed, trained until its held-out loss stops falling (star = best epoch)")
    ax.set_yticks([6, 8, 10, 15, 20, 30, 40, 60], ["6", "8", "10", "15", "20", "30", "40", "60"])
    ax.minorticks_off()
    ax.title.set_fontsize(10)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=9, loc="upper right", frameon=False)
    kinds = [k for k in ("lstm", "transformer") if study.perplexities(k)]
    for i, kind in enumerate(kinds):
        ppl = study.perplexities(kind)
        ax_best.plot([i] * len(ppl), ppl, "o", ms=7, color=COLORS[kind], alpha=0.8)
        ax_best.plot([i - 0.15, i + 0.15], [min(ppl)] * 2, "-", color=COLORS[kind])
        ax_best.plot([i - 0.15, i + 0.15], [max(ppl)] * 2, "-", color=COLORS[kind])
        ax_best.plot([i, i], [min(ppl), max(ppl)], "-", color=COLORS[kind], lw=1)
    ax_best.set(xticks=range(len(kinds)), xlim=(-0.6, len(kinds) - 0.4), ylabel="perplexity at the best epoch",
                title="Best held-out perplexity: each seed and the range")
    ax_best.set_xticklabels([NAMES[k] for k in kinds])
    ax_best.title.set_fontsize(10)
    fig.tight_layout()
    return fig


def plot_candidates(runs):
    """Per model, a grid step x rank coloured by probability, the chosen word boxed; returns the figure.
    Introduced in notebook 13."""
    n = max(len(r) for r in runs.values())
    fig, axes = subplots(1, len(runs), figsize=(6.5 * len(runs), 0.5 * n + 1.2), squeeze=False)
    for ax, (name, steps) in zip(axes[0], runs.items()):
        grid = np.full((n, TOP_K), np.nan)
        for t, step in enumerate(steps):
            grid[t, :len(step.top)] = [p for _, p in step.top]
        ax.imshow(grid, cmap="Blues", vmin=0, vmax=1, aspect="auto")
        for t, step in enumerate(steps):
            for r, (word, p) in enumerate(step.top):
                chosen = word == step.word
                ax.text(r, t, f"{word}\n{p:.2f}", ha="center", va="center", fontsize=8,
                        color="white" if p > 0.6 else "black", fontweight="bold" if chosen else "normal",
                        bbox={"fill": False, "edgecolor": "#d62728", "lw": 1.5} if chosen else None)
        ax.set_yticks(range(len(steps)), [f"…{' '.join(s.context.split()[-2:])} ▸" if s.context else "<s> ▸" for s in steps], fontsize=8)
        ax.set_xticks(range(TOP_K), [f"#{r + 1}" for r in range(TOP_K)])
        ax.set(xlabel="rank of the candidate", ylabel="step (the last words read)")
        ax.set_title(f"{name}: top {TOP_K} next words per step (boxed = chosen)", fontsize=10)
    fig.tight_layout()
    return fig


def show_showdown(result):
    """Draw a Showdown (curves, perplexity, candidates, the Transformer's attention); return its summary.
    Introduced in notebook 13."""
    lms = result.lms
    plot_history({k: lms.history[k] for k in lms.models}, title=f"Language models on data/corpus, {lms.epochs} epochs")
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
