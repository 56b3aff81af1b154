"""Plots: training curves and annotated attention heatmaps (matplotlib + seaborn, shown as PNG)."""
import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

COLORS = {"rnn": "#8c8c8c", "lstm": "#d62728", "lstm_fb1": "#ff7f0e", "transformer": "#1f77b4"}  # per contestant


def plot_history(histories, chance=None, title=None, colors=None):
    """Training loss and held-out accuracy per epoch for {name: History}, coloured by `colors` (name -> colour,
    default COLORS); returns the figure. Introduced in notebook 01."""
    colors = COLORS if colors is None else colors
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.4))
    for name, h in histories.items():
        color = colors.get(name)
        ax_loss.plot(range(1, h.epochs + 1), h.train_loss, "-", color=color, label=f"{name} (train)")
        ax_loss.plot(range(len(h.test_loss)), h.test_loss, ":", color=color, label=f"{name} (held-out)")
        ax_acc.plot(range(len(h.test_acc)), h.test_acc, "o-", ms=3, color=color, label=name)
    if chance is not None:
        ax_acc.axhline(chance, color="k", lw=0.8, ls="--", label="chance")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="held-out accuracy", ylim=(-0.02, 1.02), title="accuracy")
    ax_loss.legend(fontsize=8)
    ax_acc.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def attention_heatmap(weights, rows, cols=None, ax=None, annotate=None, sums=False, title=None, cmap="Blues"):
    """Heatmap of a (T_q, T_k) weight grid with tokens on both axes; values written when small (notebook 01)."""
    w = np.asarray(weights, dtype=float)
    cols = rows if cols is None else cols
    if w.ndim != 2 or w.shape != (len(rows), len(cols)):
        raise ValueError(f"weights must be a 2-D grid of shape ({len(rows)}, {len(cols)}), got {w.shape}")
    if annotate is None:
        annotate = max(w.shape) <= 12
    if ax is None:
        size = min(1.2 + 0.55 * len(cols), 13)
        _, ax = plt.subplots(figsize=(size + (1.2 if sums else 0), min(1 + 0.45 * len(rows), 11)))
    labels = [f"{r}  Σ={s:.2f}" for r, s in zip(rows, w.sum(1))] if sums else list(rows)
    sns.heatmap(w, ax=ax, cmap=cmap, vmin=0, vmax=max(w.max(), 1e-9), annot=annotate, fmt=".2f",
                annot_kws={"fontsize": 8}, xticklabels=list(cols), yticklabels=labels,
                cbar_kws={"label": "attention weight"}, square=False)
    ax.set_xlabel("key (looked at)")
    ax.set_ylabel("query (looking)")
    ax.tick_params(axis="x", rotation=90)
    ax.tick_params(axis="y", rotation=0)
    if title:
        ax.set_title(title)
    return ax


def position_labels(string):
    """'K N M' -> ['K1', 'N2', 'M3']: each letter with its 1-based position (notebook 01)."""
    return [f"{c}{i}" for i, c in enumerate(string.split(), start=1)]


