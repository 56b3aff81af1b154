"""Notebook 14's figures: the cost of remembering with the matrix memory beside notebook 05's contestants, the
capacity of a fixed state against a cache, and generation's memory and time per token."""
import numpy as np

from ..lessons.amnesia import steps_table
from .plots import subplots

# colour-blind-safe (Okabe-Ito for the new one), the contestants keep notebook 05's colours
STYLES = {"lstm": ("s", "#d62728"), "lstm_fb1": ("D", "#ff7f0e"), "transformer": ("o", "#1f77b4"),
          "matrix": ("P", "#009e73")}
NAMES = {"lstm": "LSTM", "lstm_fb1": "LSTM, forget bias 1", "transformer": "Transformer", "matrix": "Matrix memory"}


def plot_steps(runs, cap, ax=None, title=None):
    """Training steps to 90% against length (log-log), median and fewest-to-most over seeds; ▲ on the cap line:
    beyond the cap on most seeds (notebook 14)."""
    if ax is None:
        _, ax = subplots(figsize=(7.5, 4.2))
    table = steps_table(runs)
    for i, (v, by_len) in enumerate(table.items()):
        marker, color = STYLES[v]
        shift = 1 + 0.03 * (i - (len(table) - 1) / 2)  # side by side, so equal values stay visible
        done = [(L, m, lo, hi) for L, (m, lo, hi, beyond, n) in by_len.items() if m is not None]
        if done:
            L, m, lo, hi = (np.array(c, dtype=float) for c in zip(*done))
            ax.errorbar(L * shift, m, yerr=[m - lo, hi - m], fmt=marker, ms=6, capsize=3, color=color, label=NAMES[v])
        beyond = [L for L, (m, lo, hi, b, n) in by_len.items() if m is None]
        if beyond:
            ax.plot(np.array(beyond) * shift, [cap] * len(beyond), "^", ms=9, color=color, mfc="none",
                    label=None if done else NAMES[v])
    ax.axhline(cap, color="k", lw=0.8, ls=":")
    lengths = sorted({r["length"] for r in runs})
    ax.set(xscale="log", yscale="log", xlabel="string length (letters)", ylabel="training steps to 90% held-out",
           title=title or f"cost of remembering (▲ = beyond the cap, {cap:,} steps)")
    ax.set_xticks(lengths, [str(L) for L in lengths])
    ax.legend(fontsize=9)
    return ax


def plot_capacity(pairs, curves, ax=None):
    """Held-out accuracy against the number of pairs, one line per memory: curves = {label: [accuracy per pairs]}
    (notebook 14)."""
    if ax is None:
        _, ax = subplots(figsize=(7.5, 4.2))
    for (label, acc), (marker, ls) in zip(curves.items(), [("o", "-"), ("s", "-"), ("^", "--"), ("v", ":")]):
        ax.plot(pairs, acc, marker=marker, ls=ls, label=label)
    ax.set(xscale="log", xlabel="key-value pairs stored", ylabel="held-out accuracy", ylim=(-0.02, 1.05),
           title="associative recall: a fixed state against a cache that grows")
    ax.set_xticks(pairs, [str(p) for p in pairs])
    ax.legend(fontsize=9)
    return ax
