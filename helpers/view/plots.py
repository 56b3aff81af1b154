"""Plots: training curves and annotated attention heatmaps (matplotlib + seaborn, shown as PNG), and the figure
factory every drawing of the course goes through, so that a panel's background run owns its figures."""
import contextvars
import math
from contextlib import contextmanager

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from . import audit

# Text sizes for a projector (helpers.view.audit: nothing under 10 pt at the size shown); matplotlib's "small" is
# 0.83 of font.size, so 12 keeps it at 10.
COURSE_RC = {"font.size": 12, "axes.titlesize": 13, "axes.labelsize": 12, "xtick.labelsize": 11, "ytick.labelsize": 11,
             "legend.fontsize": 11, "legend.title_fontsize": 11, "figure.titlesize": 14}
plt.rcParams.update(COURSE_RC)
audit.install()  # only with COURSE_FIGURE_AUDIT set: every figure shown is checked for small text

_FIGURES = contextvars.ContextVar("collected_figures", default=None)  # the list collect_figures() fills, if any
FIGURE_KW = ("figsize", "dpi", "facecolor", "edgecolor", "layout")     # subplots() arguments that go to the Figure


@contextmanager
def collect_figures():
    """Inside the block (in this thread), subplots() makes plain matplotlib Figures, never entered in pyplot's
    registry, and appends them to the list it yields; show() does nothing. A panel draws this way in its
    background run, so a cell that runs meanwhile neither shows nor closes the panel's figures, and the panel
    takes none of the cell's (notebook 01)."""
    figures = []
    token = _FIGURES.set(figures)
    try:
        yield figures
    finally:
        _FIGURES.reset(token)


def subplots(nrows=1, ncols=1, **kwargs):
    """plt.subplots(nrows, ncols, **kwargs) in a cell; inside collect_figures() a Figure of its own, made with
    matplotlib's object API and collected: (figure, axes) either way (notebook 01)."""
    collected = _FIGURES.get()
    if collected is None:
        return plt.subplots(nrows, ncols, **kwargs)
    fig = Figure(**{k: kwargs.pop(k) for k in FIGURE_KW if k in kwargs})
    collected.append(fig)
    return fig, fig.subplots(nrows, ncols, **kwargs)


def show():
    """plt.show() in a cell; nothing inside collect_figures(), where the collector shows the figures (notebook 01)."""
    if _FIGURES.get() is None:
        plt.show()

# Model colours from Okabe and Ito's colour-blind-safe palette (2008; the LSTM with forget bias 1 in Paul Tol's wine),
# chosen so that every pair stays apart under simulated protan-, deuter- and tritanomaly (tests/test_presentation.py);
# each model also has its own line style and marker, so a figure reads without colour.
COLORS = {"rnn": "#999999", "lstm": "#D55E00", "lstm_fb1": "#882255", "transformer": "#0072B2",
          "matrix": "#000000"}                                                      # per contestant
STYLES = {"rnn": ":", "lstm": "-", "lstm_fb1": "--", "transformer": "-", "matrix": "-."}  # line style per contestant
MARKERS = {"rnn": "x", "lstm": "o", "lstm_fb1": "s", "transformer": "^", "matrix": "D"}   # marker per contestant
LABELS = {"Plain RNN": "rnn", "LSTM": "lstm", "LSTM, forget bias 1": "lstm_fb1", "Transformer": "transformer",
          "matrix memory": "matrix"}                                                # printed name -> contestant
BY_LABEL = {label: COLORS[kind] for label, kind in LABELS.items()}  # the same colours by the contestants' printed names


def style(kind):
    """{"color", "ls", "marker"} of a contestant, by kind ("lstm") or printed name ("LSTM"): pass as **style(kind)
    to ax.plot (notebook 01)."""
    kind = LABELS.get(kind, kind)
    if kind not in COLORS:
        raise ValueError(f"kind must be one of {sorted(COLORS)} or {sorted(LABELS)}, got {kind!r}")
    return {"color": COLORS[kind], "ls": STYLES[kind], "marker": MARKERS[kind]}


def plot_history(histories, chance=None, title=None, colors=None):
    """Training loss and held-out accuracy per epoch for {name: History}, coloured by `colors` (name -> colour,
    default COLORS, by kind or printed name): one colour and marker per model in both panels, solid = training,
    dotted = held-out; one legend below the panels, so none covers a curve; returns the figure. Introduced in
    notebook 01."""
    colors = {**COLORS, **BY_LABEL} if colors is None else colors
    fig, (ax_loss, ax_acc) = subplots(1, 2, figsize=(11, 3.9))
    cycle = iter(plt.rcParams["axes.prop_cycle"].by_key()["color"])
    markers = iter("ov^sDx*")
    for name, h in histories.items():
        color = colors.get(name) or next(cycle)  # a model without a set colour keeps one colour in both panels
        marker = MARKERS.get(LABELS.get(name, name)) or next(markers)  # and a marker of its own, read without colour
        every = max(1, h.epochs // 8)
        ax_loss.plot(range(1, h.epochs + 1), h.train_loss, "-", color=color, marker=marker, ms=5, markevery=every,
                     label=f"{name}: training")
        ax_loss.plot(range(len(h.test_loss)), h.test_loss, ":", color=color, label=f"{name}: held-out")
        ax_acc.plot(range(len(h.test_acc)), h.test_acc, ":", marker=marker, ms=5, markevery=every, color=color)
    if chance is not None:
        ax_acc.axhline(chance, color="k", lw=0.8, ls="--", label=f"chance ({chance:.1%})")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss (nats)", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="held-out accuracy", ylim=(-0.02, 1.02), title="held-out accuracy")
    ax_acc.yaxis.set_major_formatter(PercentFormatter(1.0))
    for ax in (ax_loss, ax_acc):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    handles, labels = ax_loss.get_legend_handles_labels()
    extra = ax_acc.get_legend_handles_labels()
    fig.legend(handles + extra[0], labels + extra[1], loc="lower center", ncol=min(4, len(labels) + len(extra[1])),
               frameon=False)
    if title:
        fig.suptitle(title)
    rows = math.ceil((len(labels) + len(extra[1])) / 4)  # legend rows below the panels
    fig.tight_layout(rect=(0, 0.06 + 0.06 * rows, 1, 1))
    return fig


def attention_heatmap(weights, rows, cols=None, ax=None, annotate=None, sums=False, title=None, cmap="Blues",
                      vmax=None):
    """Heatmap of a (T_q, T_k) weight grid with tokens on both axes; values written when small. Heatmaps that are
    compared pass one `vmax` (1.0 for attention weights), so one colour means one value in all (notebook 01)."""
    w = np.asarray(weights, dtype=float)
    cols = rows if cols is None else cols
    if w.ndim != 2 or w.shape != (len(rows), len(cols)):
        raise ValueError(f"weights must be a 2-D grid of shape ({len(rows)}, {len(cols)}), got {w.shape}")
    if annotate is None:
        annotate = max(w.shape) <= 12
    if ax is None:
        size = min(1.2 + 0.55 * len(cols), 13)
        _, ax = subplots(figsize=(size + (1.2 if sums else 0), min(1 + 0.45 * len(rows), 11)))
    labels = [f"{r}  Σ={s:.2f}" for r, s in zip(rows, w.sum(1))] if sums else list(rows)
    sns.heatmap(w, ax=ax, cmap=cmap, vmin=0, vmax=max(w.max(), 1e-9) if vmax is None else vmax, annot=annotate,
                fmt=".2f", annot_kws={"fontsize": audit.MIN_PT}, xticklabels=list(cols), yticklabels=labels,
                cbar_kws={"label": "attention weight"}, square=False)
    ax.set_xlabel("key (looked at)")
    ax.set_ylabel("query (looking)")
    ax.tick_params(axis="x", rotation=90)
    ax.tick_params(axis="y", rotation=0)
    if title:
        ax.set_title(title)
    return ax


def last_position_heatmap(attention, labels, title, ax=None, figsize=None, annotate=None, vmax=1.0, ylabel=""):
    """Where the last (answering) position looks, one heatmap row per head, drawn on `ax` (notebook 03)."""
    heads = attention[:, -1, :]  # (H, T): what the answering position attends to, per head
    T = heads.shape[-1]
    if ax is None:  # a figure of its own, as wide as the string unless `figsize` says otherwise
        _, ax = subplots(figsize=figsize or (min(2 + 0.5 * T, 14), 2.2))
    attention_heatmap(heads, [f"head {h + 1}" for h in range(len(heads))], labels, ax=ax,
                      annotate=T <= 16 if annotate is None else annotate, vmax=vmax, title=title)
    if ylabel is not None:  # "" (default) drops the axis label; None keeps the heatmap's "query (looking)"
        ax.set_ylabel(ylabel)
    return heads


def position_labels(string):
    """'K N M' -> ['K1', 'N2', 'M3']: each letter with its 1-based position (notebook 01)."""
    return [f"{c}{i}" for i, c in enumerate(string.split(), start=1)]


