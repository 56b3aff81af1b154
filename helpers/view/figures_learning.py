"""The learning lesson's figures (notebooks 09, 10): one attention grid annotated, the loss and the words right
per epoch, and the filmstrip of attention grids across training."""
from matplotlib.ticker import MaxNLocator

from ..core.checks import check_int
from .plots import attention_heatmap, show, subplots


def show_deep_dive(dive, head=None):
    """Annotated heatmap of the grid with Σ per row; returns the text summary (notebook 09)."""
    which = f"head {head}" if head else "mean over heads"
    attention_heatmap(dive.grid(head), dive.tokens, annotate=True, sums=True, vmax=1.0,
                      title=f"Layer {dive.layer}, {which}: softmax(QKᵀ/√d) per row, {len(dive.tokens) - 1} tokens")
    show()
    return (f"{dive.summary(head)}\nEach head against uniform attention over the visible keys "
            f"(rows from the 2nd word on):\n{dive.heads()}")


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
    low, high = min(h.test_loss) / 2, max(h.test_loss) * 2
    ticks = [t for t in (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10) if low <= t <= high]
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
