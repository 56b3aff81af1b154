"""The learning lesson's figures (notebooks 09, 10): one attention grid annotated, the loss and the words right
per epoch, and the filmstrip of attention grids across training."""
from matplotlib.ticker import MaxNLocator

from ..core.checks import check_int
from .plots import COLORS, attention_heatmap, show, subplots


def show_deep_dive(dive, head=None):
    """Annotated heatmap of the grid with Σ per row; returns the text summary, without the grid as text (the
    heatmap shows it) (notebook 09)."""
    which = f"head {head}" if head else "mean over heads"
    attention_heatmap(dive.grid(head), dive.tokens, annotate=True, sums=True, vmax=1.0,
                      title=f"Layer {dive.layer}, {which}: softmax(QKᵀ/√d) per row, {len(dive.tokens) - 1} tokens")
    show()
    return (f"{dive.summary(head, table=False)}\nEach head against uniform attention over the visible keys "
            f"(rows from the 2nd word on):\n{dive.heads()}")


def plot_attention_times(lengths, timings, anchor=None):
    """Milliseconds per attention against the length, log-log, one line per device measured, and the n² guide line
    through the CPU point at `anchor` (the median length by default) (notebook 09)."""
    if len(lengths) != len(timings) or len(lengths) < 2:
        raise ValueError(f"lengths and timings must have the same length (at least 2), got {len(lengths)}, "
                         f"{len(timings)}")
    anchor = lengths[len(lengths) // 2] if anchor is None else anchor
    if anchor not in lengths:
        raise ValueError(f"anchor must be one of the lengths {list(lengths)}, got {anchor!r}")
    fig, ax = subplots(figsize=(9, 4.2))
    for device, line, name in (("cpu", "o-", "CPU"), ("cuda", "s--", "GPU")):
        times = [t.median(device) for t in timings]
        if all(times):
            ax.loglog(lengths, [s * 1e3 for s in times], line, color="black", label=name)
    scale = timings[list(lengths).index(anchor)].median("cpu") * 1e3 / anchor ** 2  # ms per n², through that point
    ax.loglog(lengths, [scale * n ** 2 for n in lengths], ":", color="#888888",
              label=f"∝ n², through the CPU point\nat length {anchor}")
    ax.set(xlabel="sequence length n (tokens)", ylabel="ms per attention (log scale)",
           title="Causal attention, 4 heads of 16")
    ax.set_xticks(lengths, [str(n) for n in lengths])  # the measured lengths, written out
    ax.minorticks_off()
    ax.legend(fontsize=10, loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)  # beside the plot, over no point
    fig.tight_layout()
    return fig


def plot_learning(demo):
    """Loss on the targets and the share of words right, per epoch, with the snapshot epochs marked (notebook 10)."""
    h, color = demo.history, COLORS["transformer"]
    fig, (ax_loss, ax_acc) = subplots(1, 2, figsize=(10, 3.8))
    ax_loss.plot(range(1, h.epochs + 1), h.train_loss, "-", color=color, label="training batch")
    ax_loss.plot(range(len(h.test_loss)), h.test_loss, ":", color=color, label="after the epoch")
    ax_acc.plot(range(len(h.test_acc)), h.test_acc, "-", color=color)
    for e in demo.outputs:
        ax_loss.axvline(e, color="#888", lw=0.6, ls="--", label="snapshot epoch" if e == min(demo.outputs) else None)
        ax_acc.axvline(e, color="#888", lw=0.6, ls="--")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy loss (nats, log scale)", title="loss on the target sentences",
                yscale="log")
    low, high = min(h.test_loss) / 2, max(h.test_loss) * 2
    ticks = [t for t in (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10) if low <= t <= high]
    ax_loss.set_yticks(ticks, [f"{t:g}" for t in ticks])
    ax_loss.minorticks_off()
    ax_acc.set(xlabel="epoch", ylabel="next words right (share)", ylim=(-0.02, 1.02),
               title="words right, given the right words before\n(teacher forced)")
    for ax in (ax_loss, ax_acc):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    fig.legend(*ax_loss.get_legend_handles_labels(), loc="lower center", ncol=3, fontsize=10, frameon=False)
    fig.tight_layout(rect=(0, 0.09, 1, 1))
    return fig


def filmstrip_epochs(demo, frames=3):
    """`frames` of the snapshot epochs, evenly spread from the first to the last (all of them when fewer)."""
    check_int("frames", frames, 1, 10)
    epochs = sorted(demo.attention)
    if len(epochs) <= frames:
        return epochs
    return sorted({epochs[round(i * (len(epochs) - 1) / max(frames - 1, 1))] for i in range(frames)})


def plot_filmstrip(demo, layer=1, head=None, frames=3):
    """The attention grid at `frames` snapshot epochs (first, middle, last), side by side on one colour scale (0 to
    1), large enough to read on a projector (notebook 10)."""
    L, H = next(iter(demo.attention.values())).shape[:2]
    check_int("layer", layer, 1, L)
    if head is not None:
        check_int("head", head, 1, H)
    epochs = filmstrip_epochs(demo, frames)
    fig, axes = subplots(1, len(epochs), figsize=(3.1 * len(epochs) + 1.0, 4.4), squeeze=False, layout="constrained")
    T = len(demo.tokens)
    for ax, e in zip(axes[0], epochs):
        w = demo.attention[e][layer - 1]  # (H, T, T)
        grid = w.mean(0) if head is None else w[head - 1]
        im = ax.imshow(grid.numpy(), cmap="Blues", vmin=0, vmax=1)
        ax.set_title(f"epoch {e}, loss {demo.history.test_loss[e]:.2f}", fontsize=11)
        ax.set_xticks(range(T), demo.tokens, rotation=90, fontsize=10)
        ax.set_yticks(range(T), demo.tokens if ax is axes[0, 0] else [""] * T, fontsize=10)
        if layer == L:  # the last layer's <s> row predicts the prompt word, which is given: no loss reads that row
            ax.get_yticklabels()[0].set_color("#999999")
    which = "mean over heads" if head is None else f"head {head}"
    axes[0, 0].set_ylabel(f"query (looking), layer {layer}, {which}")
    axes[0, len(epochs) // 2].set_xlabel("key (looked at)")
    fig.colorbar(im, ax=axes[0].tolist(), shrink=0.7, label="attention weight")
    return fig


def show_training(demo, layer=1):
    """Draw the curves and the filmstrip of `layer`; return the summary text (notebook 10)."""
    plot_learning(demo)
    show()
    plot_filmstrip(demo, layer)
    show()
    return demo.summary()
