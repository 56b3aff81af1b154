"""Notebook 14's figures: the cost of remembering with the matrix memory beside notebook 05's contestants, the
capacity of a fixed state against a cache, and generation's memory and time per token."""
from .figures_amnesia import draw_steps
from .plots import COLORS, MARKERS, subplots

NAMES = {"lstm": "LSTM", "lstm_fb1": "LSTM, forget bias 1", "transformer": "Transformer", "matrix": "Matrix memory"}
STYLES = {kind: (MARKERS[kind], COLORS[kind]) for kind in NAMES}  # (marker, colour): the course's, per model


def plot_steps(runs, cap, ax=None, title=None):
    """Training steps to 90% against length (log-log), median and fewest-to-most over seeds; an arrow ↑ on the cap line:
    beyond the cap on most seeds (notebook 14)."""
    if ax is None:
        _, ax = subplots(figsize=(7.5, 4.2))
    draw_steps(ax, runs, cap, STYLES, NAMES, sizes=(6, 9))
    lengths = sorted({r["length"] for r in runs})
    ax.set(xscale="log", yscale="log", xlabel="string length (letters)", ylabel="training steps to 90% held-out",
           title=title or f"cost of remembering (↑ = beyond the cap, {cap:,} steps)")
    ax.set_xticks(lengths, [str(L) for L in lengths])
    ax.legend()
    return ax


def plot_capacity(table, chance, ax=None, legend=True):
    """Held-out accuracy against the pairs stored, median and fewest-to-most over seeds, one colour and marker per
    model, dashed at the narrow width: table = helpers.lessons.capacity.accuracy_table(runs); `legend`: draw the
    axes' own legend (False: the caller puts one for several axes) (notebook 14)."""
    if ax is None:
        _, ax = subplots(figsize=(7.5, 4.2))
    widths = sorted({width for _, width in table})
    for (kind, width), row in sorted(table.items()):
        pairs, (median, low, high) = list(row), zip(*row.values())
        marker, colour = STYLES[kind]
        state = f", state {width}×{width}" if kind == "matrix" else ""
        ax.errorbar(pairs, median, yerr=[[m - lo for m, lo in zip(median, low)], [h - m for m, h in zip(median, high)]],
                    marker=marker, color=colour, ls="--" if width == widths[0] else "-", capsize=3,
                    label=f"{NAMES[kind]}, d = {width}{state}")
    ax.axhline(chance, color="0.5", ls=":", lw=1, label=f"chance ({chance:.0%})")
    ax.set(xscale="log", xlabel="key-value pairs in the string", ylabel="held-out accuracy", ylim=(-0.02, 1.05),
           title="associative recall, trained: a fixed state against a cache that grows")
    ax.set_xticks(pairs, [str(p) for p in pairs])
    ax.minorticks_off()  # the pairs' own labels only
    if legend:
        ax.legend(loc="lower left")
    return ax
