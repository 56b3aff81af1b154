"""The race lesson's figures (notebook 11): seconds per way and layer, the LSTM-to-Transformer time ratio beside
what the multiply-adds predict, and the seconds of every training epoch."""
import math
import textwrap

import numpy as np
from matplotlib.ticker import MaxNLocator

from ..lessons.race import LAYER_NAMES, LAYERS, WAY_NAMES, WAYS, format_seconds, predicted_ratio
from ..lessons.amnesia import NAMES
from .plots import COLORS, MARKERS, STYLES, style, subplots


# The layers drawn in the colours, line styles and markers of their models (helpers.view.plots): the LSTM layer as the
# LSTM, both attention layers as the Transformer; the fused kernel (SDPA) apart by its dashed line and its marker.
LAYER_STYLES = {"lstm": style("lstm"), "attention": style("transformer"),
                "sdpa": {"color": COLORS["transformer"], "ls": "--", "marker": "v"}}
LAYER_COLORS = {layer: s["color"] for layer, s in LAYER_STYLES.items()}


def plot_race(sources, ncols=3):
    """Bars of median seconds per way and layer (log scale) with whiskers from the fastest to the slowest run, one
    panel per (label, RaceResult), every panel on the same y-range so that bars compare across panels; one legend
    below them (notebook 11)."""
    nrows = math.ceil(len(sources) / ncols)
    ncols = min(ncols, len(sources))
    fig, axes = subplots(nrows, ncols, figsize=(3.65 * ncols, 4.4 * nrows + 0.5), squeeze=False, sharey=True)
    for ax in axes.flat[len(sources):]:
        ax.axis("off")
    ran = [(result, [w for w in result.config.ways if result.ratio(w)]) for _, result in sources]
    times = [t for result, ways in ran for w in ways for layer in LAYERS
             for t in (result.runs.get((w, layer)) or [result.seconds[w, layer]])]
    for ax, (label, result), (_, ways) in zip(axes.flat, sources, ran):
        for j, layer in enumerate(LAYERS):
            secs = [result.seconds[w, layer] for w in ways]
            xs = np.arange(len(ways)) + (j - 0.5) * 0.4
            ax.bar(xs, secs, 0.4, color=LAYER_COLORS[layer], label=LAYER_NAMES[layer],
                   hatch="//" if layer == "lstm" else None, edgecolor="white")  # told apart without colour
            spans = np.array([[s - min(result.runs[w, layer]), max(result.runs[w, layer]) - s]
                              if result.runs.get((w, layer)) else [0, 0] for w, s in zip(ways, secs)]).T
            if ways:
                ax.errorbar(xs, secs, yerr=np.clip(spans, 0, None), fmt="none", ecolor="k", elinewidth=1,
                            capsize=3)  # whiskers from the fastest to the slowest run
            for x, s, top in zip(xs, secs, np.array(secs) + np.clip(spans[1], 0, None)):  # label above the whisker
                ax.text(x, top * 1.25, format_seconds(s), fontsize=10, rotation=90, ha="center", va="bottom")
        ax.set_yscale("log")
        ax.set_xlim(-0.6, max(len(w) for _, w in ran) - 0.4)  # bars of one width in every panel
        ax.set_xticks(range(len(ways)), [WAY_NAMES[w] for w in ways], fontsize=10)
        ax.set_title(f"{textwrap.fill(label, 40)}\n{result.config.words:,} words, width {result.config.d}", fontsize=10)
    if times:  # one y-range for every panel (sharey), with room above the tallest bar for its label
        axes[0, 0].set_ylim(min(times) / 3, max(times) * 40)
    for ax in axes[:, 0]:
        ax.set_ylabel("seconds, forward + backward\n(bar: median; whisker: min to max)", fontsize=10)
    handles, names = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, names, fontsize=10, loc="lower center", ncols=2, frameon=False)
    fig.tight_layout(rect=(0, 0.07 / nrows, 1, 1))
    return fig


def plot_ratios(sources):
    """LSTM time / Transformer time per way, one bar per (label, RaceResult); above 1 the Transformer wins. A dotted
    line per (words, width): the ratio the multiply-adds alone predict. Introduced in notebook 11."""
    fig, ax = subplots(figsize=(9, 4.4))
    width = 0.8 / len(sources)
    predicted = {}
    for k, (label, result) in enumerate(sources):
        ratios = [result.ratio(w) if w in result.config.ways and result.ratio(w) else np.nan for w in WAYS]
        grey = 0.2 + 0.6 * k / max(1, len(sources) - 1)  # sources in greys: the colours belong to the models
        bars = ax.bar(np.arange(len(WAYS)) + (k - (len(sources) - 1) / 2) * width, ratios, width, color=str(grey),
                      edgecolor="k", label=f"{label}, width {result.config.d}")
        ax.bar_label(bars, [f"{r:.2g}" if r == r else "" for r in ratios], fontsize=10, padding=1)
        predicted[result.config.words, result.config.d] = predicted_ratio(result.config.words, result.config.d)
    for (words, d), r in predicted.items():  # what the multiply-adds alone predict, the same for every way
        ax.axhline(r, color="k", ls=":", lw=1.2)
        ax.annotate(f"multiply-adds predict {r:.2g}\n({words:,} words, width {d})", (len(WAYS) - 0.55, r),
                    fontsize=10, va="bottom")
    for i, w in enumerate(WAYS):
        if not any(w in res.config.ways and res.ratio(w) for _, res in sources):
            ax.text(i, 2, "not run\nhere", ha="center", va="bottom", fontsize=10, color="0.4")
    ax.axhline(1, color="k", lw=0.8)
    ax.set_yscale("log")
    values = [v for _, res in sources for v in map(res.ratio, res.config.ways) if v] + list(predicted.values()) + [1]
    ax.set_ylim(min(values) / 2.5, max(values) * 3)
    ax.set_xlim(-0.6, len(WAYS) + 0.9)
    ax.set_xticks(range(len(WAYS)), [WAY_NAMES[w] for w in WAYS], fontsize=10)
    ax.set(ylabel="LSTM time / Transformer time (ratio)", title="above 1: the Transformer layer is faster")
    ax.legend(fontsize=10, loc="upper center", bbox_to_anchor=(0.5, -0.1))
    fig.tight_layout()
    return fig


def plot_epoch_seconds(pair):
    """Seconds of every training epoch (training + evaluation), per model (notebook 11)."""
    fig, ax = subplots(figsize=(5, 2.8))
    for kind, secs in pair.epoch_seconds.items():
        ax.plot(range(1, len(secs) + 1), secs, ms=5, color=COLORS.get(kind, "k"), ls=STYLES.get(kind, "-"),
                marker=MARKERS.get(kind, "o"),
                label=f"{NAMES.get(kind, kind)}: {sum(secs):.2f} s in all")
    ax.set(xlabel="epoch", ylabel="seconds per epoch", title="time per epoch", ylim=(0, None))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.legend(fontsize=10, loc="lower right")
    fig.tight_layout()
    return fig
