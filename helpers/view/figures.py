"""The lessons' figures: one function per figure, drawing what helpers.lessons measured. Colours are
arguments or this module's own constants; nothing here changes helpers.view.plots.COLORS."""
import math
import textwrap

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.patches import Arc
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter, PercentFormatter

from ..core.checks import check_int
from ..core.counting import fit_slope
from ..core.tasks import RecallConfig
from ..lessons.amnesia import CHANCE, LABELS, NAMES, chance_margin, steps_table
from ..lessons.language import TOP_K, sentence_attention, sentences
from ..lessons.race import LAYER_NAMES, LAYERS, WAY_NAMES, WAYS, format_seconds, predicted_ratio
from ..lessons.scaling import SWEEP_NAMES, crossover_estimate, series
from .plots import COLORS, attention_heatmap, plot_history, position_labels, show, subplots


def show_amnesia(result):
    """Draw an amnesia result (training curves, where the Transformer's last position looks); return its summary.
    Introduced in notebook 01."""
    plot_history({NAMES[v]: h for v, h in result.history.items()}, chance=1 / 26,
                 colors={NAMES[v]: COLORS[v] for v in result.history},
                 title=f"First-letter recall at length {result.length}")
    show()
    if result.attention is not None:
        heads = result.attention[:, -1, :]  # (H, T): what the answering position attends to, per head
        width = min(2 + 0.5 * result.length, 14)
        _, ax = subplots(figsize=(width, 2.2))
        attention_heatmap(heads, [f"head {h + 1}" for h in range(len(heads))], position_labels(result.string),
                          ax=ax, annotate=result.length <= 16, vmax=1.0,
                          title="Transformer, last layer: where the last position looks")
        ax.set_ylabel("")
        show()
    return result.summary()


def show_verdicts(result):
    """Draw an amnesia result as its verdicts: each model's held-out accuracy as a bar with its verdict beneath, chance
    and 3 standard errors above chance; return its summary. The first taste of notebook 01 (04 draws the curves)."""
    n, chance = RecallConfig().n_test, CHANCE  # the held-out strings amnesia_test scores
    above = chance_margin(n, chance)           # 3 standard errors above a guesser's accuracy
    kinds = list(result.accuracy)
    _, ax = subplots(figsize=(8, 3.6))
    bars = ax.bar(range(len(kinds)), [result.accuracy[k] for k in kinds], color=[COLORS[k] for k in kinds], width=0.6)
    ax.bar_label(bars, [f"{result.accuracy[k]:.1%}" for k in kinds], padding=2, fontsize=10)
    ax.axhline(chance, color="k", lw=1, ls="--", label=f"chance ({chance:.1%})")
    ax.axhline(above, color="0.4", lw=1, ls=":", label=f"3 standard errors above chance ({above:.1%})")
    ax.set_xticks(range(len(kinds)), [NAMES[k] + "\n" + textwrap.fill(result.verdict(k), 24) for k in kinds])
    ax.set(ylabel=f"held-out accuracy ({n} strings)", ylim=(0, 1.12),
           title=f"First-letter recall at length {result.length}")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.legend(fontsize=9, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    show()
    return result.summary()


STYLES = {"rnn": ("o-", COLORS["rnn"]), "lstm": ("s-", COLORS["lstm"]), "lstm_fb1": ("s--", "#ff7f0e"),
          "transformer": ("^-", COLORS["transformer"])}


def plot_gradients(result):
    """Two log-scale panels, at initialisation and after training: ‖∂loss/∂e_t‖ against position t (notebook 05)."""
    fig, axes = subplots(1, 2, figsize=(11, 3.6), sharey=True)
    positions = np.arange(1, result.length + 1)
    for ax, grads, title in [(axes[0], result.init, "at initialisation"),
                             (axes[1], result.trained, f"after {result.epochs} epochs")]:
        for v in result.variants:
            marker, color = STYLES[v]
            ax.semilogy(positions, grads[v].clamp_min(1e-30), marker, ms=3, color=color, label=LABELS[v])
        ax.set(xlabel="position t (1 = the letter to recall)", title=title)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # positions are whole numbers
        ax.grid(True, which="major", alpha=0.3)
    axes[0].set_ylabel("‖∂loss/∂e_t‖ (log scale)")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", ncol=len(result.variants), fontsize=9,
               frameon=False)  # below the panels: no legend covers a line
    fig.suptitle(f"The gradient that reaches each position, length {result.length}")
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig


def plot_steps(runs, cap, ax=None, title=None, legend=True):
    """The cost of remembering: training steps to the target against length (both log scale), the median over
    seeds with the fewest-to-most range; a run that the cap stopped is drawn on the cap line as ▲ "beyond the
    cap". Introduced in notebook 05."""
    if ax is None:
        _, ax = subplots(figsize=(7, 4))
    table = steps_table(runs)
    for i, (v, by_len) in enumerate(table.items()):
        marker, color = STYLES[v]
        shift = 1 + 0.03 * (i - (len(table) - 1) / 2)  # side by side, so equal values stay visible
        done = [(L, m, lo, hi) for L, (m, lo, hi, beyond, n) in by_len.items() if m is not None]
        if done:
            L, m, lo, hi = (np.array(c, dtype=float) for c in zip(*done))
            ax.errorbar(L * shift, m, yerr=[m - lo, hi - m], fmt=marker, ms=5, capsize=3, color=color,
                        label=LABELS[v])
        beyond = [L for L, (m, lo, hi, b, n) in by_len.items() if m is None]
        if beyond:
            ax.plot(np.array(beyond) * shift, [cap] * len(beyond), "^", ms=8, color=color, mfc="none",
                    label=None if done else LABELS[v])
    ax.axhline(cap, color="k", lw=0.8, ls=":")
    ax.text(min(r["length"] for r in runs), cap * 1.15, f"▲ = beyond the cap ({cap:,} steps) on most seeds",
            fontsize=9, va="bottom")
    ax.set_xscale("log")
    ax.set_yscale("log")
    lengths = sorted({r["length"] for r in runs})
    ax.set_xticks(lengths, [str(L) for L in lengths])
    ax.set_xticks([], minor=True)
    ax.set_ylim(top=cap * 2.2)
    ax.set(xlabel="sequence length (log scale)", ylabel="training steps to reach 90% (log scale)", title=title)
    if legend:
        ax.legend(fontsize=9, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return ax


def plot_transfer(result, ax=None):
    """Held-out accuracy at other lengths of models trained at one length (notebook 05)."""
    if ax is None:
        _, ax = subplots(figsize=(7, 3.6))
    for v, by_len in result["accuracy"].items():
        marker, color = STYLES[v]
        ax.plot(list(by_len), list(by_len.values()), marker, ms=5, color=color, label=LABELS[v])
    ax.axvline(result["train_length"], color="k", lw=0.8, ls="--", label=f"trained at length {result['train_length']}")
    ax.axhline(1 / 26, color="k", lw=0.8, ls=":", label="chance (1/26)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # lengths are whole numbers
    ax.set(xlabel="test length (letters)", ylabel="held-out accuracy", ylim=(-0.03, 1.03),
           title=f"Answer the letter at position {result['position']} (from the end), trained at one length")
    ax.legend(fontsize=9, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return ax


def draw_chain_and_web(n, axes=None, causal=False):
    """The LSTM's chain x_t -> h_t -> h_(t+1) beside attention's web; token 1's route to the last output in red.
    Introduced in notebook 06."""
    check_int("n", n, 2, 64)
    if axes is None:
        _, axes = subplots(1, 2, figsize=(12, 3.2))
    chain, web = axes
    xs = np.arange(n)
    for ax, name in ((chain, "h"), (web, "y")):
        ax.scatter(xs, np.zeros(n), s=120, color="#cccccc", zorder=3)
        ax.scatter(xs, np.ones(n), s=120, color="#d62728" if ax is chain else "#1f77b4", zorder=3)
        if n <= 16:
            for t in xs:
                ax.annotate(f"x{t + 1}", (t, -0.22), ha="center", va="top", fontsize=8)
                ax.annotate(f"{name}{t + 1}", (t, 1.22), ha="center", va="bottom", fontsize=8)
        ax.set(xlim=(-0.7, n - 0.3), ylim=(-0.6, 1.6), xticks=[], yticks=[])
        ax.axis("off")
    for t in xs:  # chain: input to state, state to next state
        chain.plot([t, t], [0, 1], color="#999999", lw=1, zorder=1)
        if t + 1 < n:
            chain.annotate("", (t + 1 - 0.1, 1), (t + 0.1, 1),
                           arrowprops={"arrowstyle": "->", "color": "#d62728", "lw": 1.5})
    chain.plot([0, 0], [0, 1], color="#d62728", lw=2.5, zorder=2)
    chain.set_title(f"recurrent: token 1 reaches h{n} after {n - 1} dependent steps", fontsize=10)
    pairs = [(i, j) for j in xs for i in (xs[:j + 1] if causal else xs)]  # output j reads input i
    web.add_collection(LineCollection([[(i, 0), (j, 1)] for i, j in pairs], colors="#1f77b4",
                                      linewidths=0.8, alpha=max(0.08, min(0.6, 6 / n)), zorder=1))
    web.plot([0, n - 1], [0, 1], color="#d62728", lw=2.5, zorder=2)
    mask = ", causal mask" if causal else ""
    web.set_title(f"self-attention{mask}: token 1 reaches y{n} in one step", fontsize=10)
    return axes


def arc_diagram(weights, tokens, ax=None, min_weight=0.05, color="#1f77b4", future_color="#ff7f0e", title=None):
    """Attention as arcs query -> key (width = weight, `future_color` when the key is later); dots = self-weight.
    Introduced in notebook 07."""
    w = np.asarray(weights, dtype=float)
    if w.ndim != 2 or w.shape != (len(tokens), len(tokens)):
        raise ValueError(f"weights must be a square grid of shape ({len(tokens)}, {len(tokens)}), got {w.shape}")
    if ax is None:
        _, ax = subplots(figsize=(min(2 + 0.7 * len(tokens), 14), 3.2))
    T = len(tokens)
    for q in range(T):
        for k in range(T):
            if q != k and w[q, k] >= min_weight:
                span = abs(q - k)
                ax.add_patch(Arc(((q + k) / 2, 0), span, span * 0.9, theta1=0, theta2=180,
                                 color=future_color if k > q else color,
                                 lw=0.4 + 5 * w[q, k], alpha=min(1.0, 0.15 + w[q, k])))
    ax.scatter(range(T), np.zeros(T), s=20 + 300 * np.diag(w), color="#444444", zorder=3)
    for t, tok in enumerate(tokens):
        ax.annotate(tok, (t, -0.15), ha="right", va="top", rotation=45, fontsize=9)
    ax.set(xlim=(-0.8, T - 0.2), ylim=(-1.2 - 0.08 * max(len(t) for t in tokens), max(1.0, 0.47 * (T - 1))),
           xticks=[], yticks=[])
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def show_deep_dive(dive, head=None):
    """Annotated heatmap of the grid with Σ per row; returns the text summary (notebook 09)."""
    which = f"head {head}" if head else "mean over heads"
    attention_heatmap(dive.grid(head), dive.tokens, annotate=True, sums=True, vmax=1.0,
                      title=f"Layer {dive.layer}, {which}: softmax(QKᵀ/√d) per row, {len(dive.tokens) - 1} tokens")
    show()
    return f"{dive.summary(head)}\nEach head against uniform attention over the visible keys (rows from the 2nd word on):\n{dive.heads()}"


def plot_learning(demo):
    """Loss on the targets and the share of words right, per epoch, with the snapshot epochs marked (notebook 10)."""
    h = demo.history
    fig, (ax_loss, ax_acc) = subplots(1, 2, figsize=(10, 3.4))
    ax_loss.plot(range(1, h.epochs + 1), h.train_loss, "-", color="#1f77b4", label="training batch")
    ax_loss.plot(range(len(h.test_loss)), h.test_loss, ":", color="#1f77b4", label="after the epoch")
    ax_acc.plot(range(len(h.test_acc)), h.test_acc, "-", color="#1f77b4")
    for e in demo.outputs:
        ax_loss.axvline(e, color="#888", lw=0.6, ls="--", label="snapshot epoch" if e == min(demo.outputs) else None)
        ax_acc.axvline(e, color="#888", lw=0.6, ls="--")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss (nats, log scale)", title="loss on the target sentences",
                yscale="log")
    ticks = [t for t in (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10) if min(h.test_loss) / 2 <= t <= max(h.test_loss) * 2]
    ax_loss.set_yticks(ticks, [f"{t:g}" for t in ticks])
    ax_loss.minorticks_off()
    ax_acc.set(xlabel="epoch", ylabel="share of next words right (teacher forced)", ylim=(-0.02, 1.02),
               title="words right, given the right words before")
    for ax in (ax_loss, ax_acc):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    fig.legend(*ax_loss.get_legend_handles_labels(), loc="lower center", ncol=3, fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def plot_filmstrip(demo, layer=1, head=None):
    """One attention grid per snapshot epoch, side by side on one colour scale (0 to 1) (notebook 10)."""
    L, H = next(iter(demo.attention.values())).shape[:2]
    check_int("layer", layer, 1, L)
    if head is not None:
        check_int("head", head, 1, H)
    epochs = list(demo.attention)
    fig, axes = subplots(1, len(epochs), figsize=(2.6 * len(epochs) + 1.4, 3.6), squeeze=False, layout="constrained")
    T = len(demo.tokens)
    for ax, e in zip(axes[0], epochs):
        w = demo.attention[e][layer - 1]  # (H, T, T)
        grid = w.mean(0) if head is None else w[head - 1]
        im = ax.imshow(grid.numpy(), cmap="Blues", vmin=0, vmax=1)
        ax.set_title(f"epoch {e}\nloss {demo.history.test_loss[e]:.2f}", fontsize=9)
        ax.set_xticks(range(T), demo.tokens, rotation=90, fontsize=8)
        ax.set_yticks(range(T), demo.tokens if ax is axes[0, 0] else [""] * T, fontsize=8)
        if layer == L:  # the last layer's <s> row predicts the prompt word, which is given: no loss reads that row
            ax.get_yticklabels()[0].set_color("#999999")
    axes[0, 0].set(xlabel="key (looked at)", ylabel="query (looking)")
    which = "mean over heads" if head is None else f"head {head}"
    unread = ", grey row: no loss reads it" if layer == L else ""
    fig.suptitle(f"Attention on the first target, layer {layer} ({which}): rows look at columns{unread}", fontsize=10)
    fig.colorbar(im, ax=axes[0].tolist(), shrink=0.7, label="attention weight")
    return fig


def show_training(demo, layer=1):
    """Draw the curves and the filmstrip of `layer`; return the summary text (notebook 10)."""
    plot_learning(demo)
    show()
    plot_filmstrip(demo, layer)
    show()
    return demo.summary()


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


LAYER_COLORS = {"lstm": "#d62728", "attention": "#1f77b4", "sdpa": "#2ca02c"}  # LSTM red, Transformer blue


def plot_race(sources, ncols=3):
    """Bars of median seconds per way and layer (log scale) with whiskers from the fastest to the slowest run, one
    panel per (label, RaceResult) (notebook 11)."""
    nrows = math.ceil(len(sources) / ncols)
    ncols = min(ncols, len(sources))
    fig, axes = subplots(nrows, ncols, figsize=(4.6 * ncols, 4.4 * nrows), squeeze=False)
    for ax in axes.flat[len(sources):]:
        ax.axis("off")
    for ax, (label, result) in zip(axes.flat, sources):
        ways = [w for w in result.config.ways if result.ratio(w)]
        for j, layer in enumerate(LAYERS):
            secs = [result.seconds[w, layer] for w in ways]
            xs = np.arange(len(ways)) + (j - 0.5) * 0.4
            ax.bar(xs, secs, 0.4, color=LAYER_COLORS[layer], label=LAYER_NAMES[layer])
            spans = np.array([[s - min(result.runs[w, layer]), max(result.runs[w, layer]) - s]
                              if result.runs.get((w, layer)) else [0, 0] for w, s in zip(ways, secs)]).T
            ax.errorbar(xs, secs, yerr=np.clip(spans, 0, None), fmt="none", ecolor="k", elinewidth=1, capsize=3)  # min to max run
            for x, s, top in zip(xs, secs, np.array(secs) + np.clip(spans[1], 0, None)):  # label above the whisker
                ax.text(x, top * 1.25, format_seconds(s), fontsize=9, rotation=90, ha="center", va="bottom")
        ax.set_yscale("log")
        ax.set_ylim(top=max(max(result.runs.get((w, l)) or [result.seconds[w, l]]) for w in ways for l in LAYERS) * 40)
        ax.set_xticks(range(len(ways)), [WAY_NAMES[w] for w in ways], fontsize=9)
        ax.set_ylabel("seconds, forward + backward\n(bar: median; whisker: min to max)", fontsize=9)
        ax.set_title(f"{textwrap.fill(label, 40)}\n{result.config.words:,} words, width {result.config.d}", fontsize=9)
        ax.legend(fontsize=9, loc="upper center", ncols=2, bbox_to_anchor=(0.5, -0.12))
    fig.tight_layout()
    return fig


def plot_ratios(sources):
    """LSTM time / Transformer time per way, one bar per (label, RaceResult); above 1 the Transformer wins. A dotted
    line per (words, width): the ratio the multiply-adds alone predict. Introduced in notebook 11."""
    fig, ax = subplots(figsize=(9, 4.4))
    width = 0.8 / len(sources)
    predicted = {}
    for k, (label, result) in enumerate(sources):
        ratios = [result.ratio(w) if w in result.config.ways and result.ratio(w) else np.nan for w in WAYS]
        bars = ax.bar(np.arange(len(WAYS)) + (k - (len(sources) - 1) / 2) * width, ratios, width,
                      label=f"{label}, width {result.config.d}")
        ax.bar_label(bars, [f"{r:.2g}" if r == r else "" for r in ratios], fontsize=9, padding=1)
        predicted[result.config.words, result.config.d] = predicted_ratio(result.config.words, result.config.d)
    for (words, d), r in predicted.items():  # what the multiply-adds alone predict, the same for every way
        ax.axhline(r, color="k", ls=":", lw=1.2)
        ax.annotate(f"multiply-adds predict {r:.2g}\n({words:,} words, width {d})", (len(WAYS) - 0.55, r),
                    fontsize=9, va="bottom")
    for i, w in enumerate(WAYS):
        if not any(w in res.config.ways and res.ratio(w) for _, res in sources):
            ax.text(i, 2, "not run\nhere", ha="center", va="bottom", fontsize=9, color="0.4")
    ax.axhline(1, color="k", lw=0.8)
    ax.set_yscale("log")
    values = [v for _, res in sources for v in map(res.ratio, res.config.ways) if v] + list(predicted.values()) + [1]
    ax.set_ylim(min(values) / 2.5, max(values) * 3)
    ax.set_xlim(-0.6, len(WAYS) + 0.9)
    ax.set_xticks(range(len(WAYS)), [WAY_NAMES[w] for w in WAYS], fontsize=9)
    ax.set(ylabel="LSTM time / Transformer time (ratio)", title="above 1: the Transformer layer is faster")
    ax.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.1))
    fig.tight_layout()
    return fig


SHORT_NAMES = {"lstm": "LSTM", "attention": "explicit attention", "sdpa": "SDPA (fused)"}  # legends of 12's figures


def plot_scaling(sources, layers=("lstm", "attention", "sdpa")):
    """Log-log time and memory against length with fitted slopes: one column per (label, sweep result); the time
    panel marks where explicit attention becomes slower than the LSTM, measured or extrapolated (notebook 12)."""
    fig, axes = subplots(2, len(sources), figsize=(5.2 * len(sources), 7.4), squeeze=False)
    for col, (label, result) in enumerate(sources):
        cfg = result["config"]
        for row, (key, unit, scale) in enumerate((("median_s", "seconds, forward + backward", 1),
                                                  ("peak_bytes" if cfg["device"] == "cuda" else "saved_bytes",
                                                   "MB", 1e-6))):
            ax = axes[row, col]
            drawn = []
            for layer in layers:
                ns, ys = series(result, layer, key)
                drawn += [y * scale for y in ys]
                if len(ns) >= 2:
                    slope = fit_slope(ns, ys, last=4)
                    name = SHORT_NAMES.get(layer, SWEEP_NAMES[layer].replace("attention, ", ""))
                    ax.loglog(ns, np.array(ys) * scale, "o-", ms=4, color=LAYER_COLORS.get(layer),
                              label=f"{name}: slope {slope:.2f}")
            ax.set_xscale("log", base=2)
            ax.yaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.yaxis.set_minor_formatter(NullFormatter())
            ax.set_xlabel("sequence length n (tokens)")
            ax.set_ylabel(unit if row == 0 else ("peak GPU memory, MB" if key == "peak_bytes" else "kept for backward, MB"))
            if row == 0 and {"lstm", "attention"} <= set(layers):
                est = crossover_estimate(result, "lstm", "attention")
                if est["how"] == "measured":
                    ax.axvline(est["n"], color="0.5", ls=":", lw=1.2)
                    right = est["n"] > math.sqrt(min(cfg["lengths"]) * max(cfg["lengths"]))  # text left of the line
                    ax.text(est["n"], 0.97, f" attention slower \n from n = {est['n']:,} ", fontsize=9, va="top",
                            ha="right" if right else "left", color="0.3", transform=ax.get_xaxis_transform())
                elif est["how"] == "extrapolated":
                    ax.text(0.02, 0.97, f"fitted lines meet at n ≈ {est['n']:,.0f}\n(extrapolated, beyond the sweep)",
                            transform=ax.transAxes, fontsize=9, va="top", color="0.3")
                ax.set_title(f"{textwrap.fill(label, 44)}\n{cfg['dtype']}, batch {cfg['batch']}, width {cfg['d']}",
                             fontsize=9)
            if drawn:  # room below the lines for the legend
                low, high = min(drawn), max(drawn)
                ax.set_ylim(low / (high / low) ** 0.6, high * (high / low) ** 0.2)
            ax.legend(fontsize=9, loc="lower right")
    fig.tight_layout()
    return fig


def plot_flops(sources, layers=("lstm", "attention", "sdpa")):
    """Achieved FLOP/s against length, beside the device's best matmul rate and datasheet peak; the LSTM's last point
    says which fraction of that matmul rate it reached (notebook 12)."""
    fig, axes = subplots(1, len(sources), figsize=(5.2 * len(sources), 4.2), squeeze=False)
    for ax, (label, result) in zip(axes[0], sources):
        best = result["matmul_flops_per_s"]
        for layer in layers:
            ns, ys = series(result, layer, "flops_per_s")
            ax.loglog(ns, np.array(ys) / 1e9, "o-", ms=4, color=LAYER_COLORS.get(layer),
                      label=SHORT_NAMES.get(layer, SWEEP_NAMES[layer]))
            if layer == "lstm" and ns:
                ax.annotate(f"{ys[-1] / best:.1%} of the matmul", (ns[-1], ys[-1] / 1e9), xytext=(-4, 6),
                            textcoords="offset points", ha="right", fontsize=9, color=LAYER_COLORS["lstm"])
        ax.axhline(best / 1e9, color="k", ls="--", lw=0.8, label="one large matmul, measured")
        if result.get("peak_flops_per_s"):
            ax.axhline(result["peak_flops_per_s"] / 1e9, color="k", lw=0.8, label="datasheet peak")
        ax.set_xscale("log", base=2)
        ax.set_ylim(top=best / 1e9 * 3)
        ax.yaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set(xlabel="sequence length n (tokens)", ylabel="GFLOP/s achieved")
        ax.set_title(f"{textwrap.fill(label, 44)}\n{result['config']['dtype']}", fontsize=9)
    handles, names = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, names, fontsize=9, loc="lower center", ncols=min(4, len(names)))
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return fig


def plot_epoch_seconds(pair):
    """Seconds of every training epoch (training + evaluation), per model (notebook 11)."""
    fig, ax = subplots(figsize=(5, 2.8))
    for kind, secs in pair.epoch_seconds.items():
        layer = "lstm" if kind == "lstm" else "attention"
        ax.plot(range(1, len(secs) + 1), secs, "o-", ms=3, color=LAYER_COLORS[layer],
                label=f"{LAYER_NAMES[layer]}: {sum(secs):.1f} s in all")
    ax.set(xlabel="epoch", ylabel="seconds per epoch", title="time per epoch", ylim=(0, None))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=9, loc="lower right")
    fig.tight_layout()
    return fig


