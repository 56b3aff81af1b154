"""The anatomy lesson's drawings (notebooks 03, 06, 07): one LSTM step as a picture, the LSTM's chain beside
attention's web, and attention as arcs from query to key."""
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.lines import Line2D
from matplotlib.patches import Arc

from ..core.checks import check_int
from .plots import COLORS, subplots


ROUTE = "k"  # token 1's route to the last output, in both drawings


def draw_chain_and_web(n, axes=None, causal=False):
    """The LSTM's chain beside attention's web, every output box coloured and numbered by the step at which it can
    be computed: h_t waits for h_(t-1), so the chain's boxes read 1, 2, ..., n; every y_t reads the inputs directly,
    so the web's all read 1. Token 1's route to the last output in ROUTE's colour (black). Introduced in notebook 06."""
    check_int("n", n, 2, 64)
    if axes is None:
        _, axes = subplots(1, 2, figsize=(11, 3.4))
    chain, web = axes
    xs = np.arange(n)
    cmap, labelled = plt.get_cmap("viridis"), n <= 12  # numbers and names in the boxes while they stay readable
    size = max(40, min(900, 9000 / n))                    # box area in points², smaller as n grows

    def boxes(ax, steps, name):
        ax.scatter(xs, np.zeros(n), s=size / 3, color="#bbbbbb", zorder=3)  # the inputs x_t
        ax.scatter(xs, np.ones(n), s=size, marker="s", c=[cmap((s - 1) / max(n - 1, 1)) for s in steps],
                   edgecolors="k", linewidths=0.6, zorder=3)
        if labelled:
            for t, step in zip(xs, steps):
                ax.annotate(str(step), (t, 1), ha="center", va="center", fontsize=10, zorder=4,
                            color="white" if (step - 1) / max(n - 1, 1) < 0.6 else "black")
                ax.annotate(f"{name}{t + 1}", (t, 1.3), ha="center", va="bottom", fontsize=10)
                ax.annotate(f"x{t + 1}", (t, -0.25), ha="center", va="top", fontsize=10)
        ax.set(xlim=(-0.8, n - 0.2), ylim=(-0.7, 1.8))
        ax.axis("off")

    boxes(chain, range(1, n + 1), "h")
    for t in xs:  # chain: input to state, state to the next state
        chain.plot([t, t], [0, 1], color="#999999", lw=1, zorder=1)
        if t + 1 < n and n <= 16:
            chain.annotate("", (t + 1 - 0.15, 1), (t + 0.15, 1),
                           arrowprops={"arrowstyle": "->", "color": COLORS["lstm"], "lw": 1.5})
    chain.plot([0, 0], [0, 1], color=ROUTE, lw=2.5, zorder=2)
    chain.set_title(f"recurrent: {n} dependent steps (h{n} waits for h{n - 1}, ...)", fontsize=11)
    boxes(web, [1] * n, "y")
    pairs = [(i, j) for j in xs for i in (xs[:j + 1] if causal else xs)]  # output j reads input i
    web.add_collection(LineCollection([[(i, 0), (j, 1)] for i, j in pairs], colors=COLORS["transformer"],
                                      linewidths=0.8, alpha=max(0.08, min(0.6, 6 / n)), zorder=1))
    web.plot([0, n - 1], [0, 1], color=ROUTE, lw=2.5, zorder=2)
    mask = ", causal mask" if causal else ""
    web.set_title(f"self-attention{mask}: all {n} outputs in step 1", fontsize=11)
    if not labelled:
        for ax, text in ((chain, f"box colour = step, 1 (dark) to {n} (light)"), (web, "every box: step 1 (dark)")):
            ax.text(0.5, -0.02, text, transform=ax.transAxes, ha="center", va="top", fontsize=10)
    else:
        for ax in axes:
            ax.text(0.5, -0.02, "number in a box = the step at which it can be computed", transform=ax.transAxes,
                    ha="center", va="top", fontsize=10)
    return axes


def arc_diagram(weights, tokens, ax=None, min_weight=0.05, color="#0072B2", future_color="#E69F00", title=None,
                top_k=None, fontsize=11):
    """Attention as arcs query -> key (width = weight, `future_color` when the key is later, named in a legend);
    dots = self-weight. Each query draws its arcs to the keys with weight >= `min_weight`, at most its `top_k`
    largest (None: all). Introduced in notebook 07."""
    w = np.asarray(weights, dtype=float)
    if w.ndim != 2 or w.shape != (len(tokens), len(tokens)):
        raise ValueError(f"weights must be a square grid of shape ({len(tokens)}, {len(tokens)}), got {w.shape}")
    if top_k is not None and (not isinstance(top_k, int) or top_k < 1):
        raise ValueError(f"top_k must be None or an int >= 1, got {top_k!r}")
    if ax is None:
        _, ax = subplots(figsize=(min(2 + 0.7 * len(tokens), 14), 3.2))
    T = len(tokens)
    for q in range(T):
        others = sorted((k for k in range(T) if k != q and w[q, k] >= min_weight), key=lambda k: -w[q, k])
        for k in others[:top_k]:
            span = abs(q - k)
            ax.add_patch(Arc(((q + k) / 2, 0), span, span * 0.9, theta1=0, theta2=180,
                             color=future_color if k > q else color,  # orange is pale: drawn stronger
                             lw=0.8 + 5 * w[q, k], alpha=min(1.0, (0.75 if k > q else 0.4) + w[q, k])))
    ax.scatter(range(T), np.zeros(T), s=20 + 300 * np.diag(w), color="#444444", zorder=3)
    ax.legend(handles=[Line2D([], [], color=color, lw=3, label="looks back (earlier key)"),
                       Line2D([], [], color=future_color, lw=3, label="looks ahead (later key)")],
              loc="upper left", ncol=2, fontsize=10, frameon=False)  # one row, in the headroom above the arcs
    for t, tok in enumerate(tokens):
        ax.annotate(tok, (t, -0.15), ha="right", va="top", rotation=60, fontsize=fontsize)
    ax.set(xlim=(-0.8, T - 0.2), ylim=(-1.2 - 0.1 * max(len(t) for t in tokens), 1.25 * max(1.0, 0.47 * (T - 1))),
           xticks=[], yticks=[])
    ax.axis("off")
    if title:
        ax.set_title(title)
    return ax


# the four kinds of layer of Table 1, as notebook 06 draws them: the LSTM's and the Transformer's colours for the
# recurrent layer and the self-attention block, two more for the layers no model of the course uses
LAYER_STYLES = {"self-attention": dict(color=COLORS["transformer"], marker="o", ls="-", ms=9, mfc="none", mew=1.5),
                "recurrent": dict(color=COLORS["lstm"], marker="s", ls="-", ms=5),
                "convolutional": dict(color="#009e73", marker="^", ls="-.", ms=6),
                "restricted": dict(color="#cc79a7", marker="x", ls="--", ms=8, mew=1.5)}


def _log_axes(ax, ns, title, unit):
    ax.set(xscale="log", yscale="log", xlabel="sequence length n (tokens, log scale)", ylabel=f"{unit} (log scale)",
           title=title)
    ax.set_xticks(ns, [str(n) for n in ns])
    ax.set_xticks([], minor=True)
    ax.grid(True, which="major", alpha=0.3)


def plot_counts(table, ns, kinds):
    """Table 1's two counts measured, against n (log-log): the sequential operations of one layer and the dependent
    operations from token 1 to output n; `table[kind, n]` is a row of anatomy.measure (notebook 06)."""
    fig, axes = subplots(1, 2, figsize=(11, 4.4), layout="constrained")
    for kind in kinds:
        for ax, key in zip(axes, ("sequential_ops", "path_ops")):
            ax.plot(ns, [table[kind, n][key] for n in ns], **LAYER_STYLES[kind], label=kind)
    _log_axes(axes[0], ns, "sequential ops of one layer", "dependent operations")
    _log_axes(axes[1], ns, "ops from token 1 to output n", "dependent operations")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=4, frameon=False)
    return fig


def plot_layer_flops(flops, ns, rule, d):
    """FLOPs of one layer against n (log-log): the LSTM layer, the Transformer block's n·d² and n²·d parts, the
    convolution, and the n at which the n²·d part reaches the recurrent layer; `flops[kind]` lists anatomy.flops
    per n, `rule` is anatomy.flop_crossover (notebook 06)."""
    fig, ax = subplots(figsize=(10, 4.4), layout="constrained")
    ax.plot(ns, [f["total"] for f in flops["recurrent"]], color=COLORS["lstm"], lw=7, alpha=0.3,
            label="recurrent (total)")
    ax.plot(ns, [f["n·d²"] for f in flops["self-attention"]], color=COLORS["transformer"], ls="--", marker="o", ms=9,
            mfc="none", label="self-attention: projections + MLP (n·d²),\n    equal to recurrent")
    ax.plot(ns, [f["n²·d"] for f in flops["self-attention"]], color=COLORS["transformer"], ls=":", marker="o", ms=5,
            label="self-attention: Q·Kᵀ and weights·V (n²·d)")
    ax.plot(ns, [f["total"] for f in flops["convolutional"]], **LAYER_STYLES["convolutional"],
            label="convolutional (total)")
    ax.axvline(rule["n"], color="k", lw=0.8, ls=":",
               label=f"n = {rule['per n·d²'] / rule['per n²·d']:.0f}·d = {rule['n']:.0f}:\n    n²·d part = recurrent")
    _log_axes(ax, ns, f"FLOPs of one layer (d = {d})", "FLOPs, forward pass")
    ax.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), frameon=False)
    return fig


def lstm_cell_diagram(ax=None):
    """One LSTM step as a picture, every name from the equations of notebook 03: the belt c runs along the top
    through one × (the forget gate f) and one + (the input gate i times the candidate g); the output gate o reads
    tanh(c_t) out as h_t. The three σ gates and the tanh candidate all read [h_(t-1), x_t]. Introduced in
    notebook 03."""
    if ax is None:
        _, ax = subplots(figsize=(10, 4.6))
    belt, wire, gate_y, read_y = 4.0, "#555555", 1.6, 0.6
    line = dict(color=wire, lw=1.6, zorder=1)

    def arrow(start, end, color=wire, lw=1.6):
        ax.annotate("", end, start, arrowprops={"arrowstyle": "-|>", "color": color, "lw": lw,
                                                "shrinkA": 0, "shrinkB": 0}, zorder=2)

    def node(x, y, text):  # a pointwise operation: ×, + or tanh
        ax.scatter([x], [y], s=900 if len(text) > 1 else 620, color="white", edgecolors="k", linewidths=1.2,
                   zorder=3)
        ax.text(x, y, text, ha="center", va="center", fontsize=12 if len(text) > 1 else 16, zorder=4)

    # the belt: c_(t-1) → × f → + (i ⊙ g) → c_t, in the LSTM's colour
    ax.plot([0.3, 9.7], [belt, belt], color=COLORS["lstm"], lw=4, zorder=1, solid_capstyle="butt")
    arrow((9.2, belt), (9.9, belt), COLORS["lstm"], 4)
    ax.text(0.2, belt, "$c_{t-1}$", ha="right", va="center", fontsize=14)
    ax.text(10.0, belt, "$c_t$", ha="left", va="center", fontsize=14)
    ax.text(5.0, belt + 0.45, "cell state c: the belt (one ×, one +)", ha="center", fontsize=12, color=COLORS["lstm"])
    # [h_(t-1), x_t] along the bottom, read by the three gates and the candidate
    ax.plot([0.3, 7.8], [read_y, read_y], **line)
    ax.text(0.2, read_y, "$h_{t-1}$", ha="right", va="center", fontsize=14)
    ax.plot([1.0, 1.0], [-0.5, read_y], **line)
    ax.text(1.0, -0.6, "$x_t$", ha="center", va="top", fontsize=14)
    ax.scatter([1.0], [read_y], s=30, color=wire, zorder=2)
    ax.text(4.8, read_y - 0.25, "all four boxes read both $h_{t-1}$ and $x_t$", ha="center", va="top",
            fontsize=11, color="#333333")
    gates = [(2.2, "σ", "$f_t$", "forget"), (3.9, "σ", "$i_t$", "input"), (5.7, "tanh", "$g_t$", "candidate"),
             (7.8, "σ", "$o_t$", "output")]
    for x, fn, name, role in gates:
        ax.plot([x, x], [read_y, gate_y - 0.3], **line)
        ax.add_patch(plt.Rectangle((x - 0.45, gate_y - 0.3), 0.9, 0.6, facecolor="#F0E442", edgecolor="k", zorder=3))
        ax.text(x, gate_y, fn, ha="center", va="center", fontsize=12 if len(fn) > 1 else 15, zorder=4)
        ax.text(x - 0.12, gate_y + 0.55, name, ha="right", va="center", fontsize=14)
        ax.text(x + 0.12, gate_y + 0.55, role, ha="left", va="center", fontsize=11, color="#333333")
    # forget: f_t × c_(t-1)
    arrow((2.2, gate_y + 0.3), (2.2, belt - 0.3))
    node(2.2, belt, "×")
    # input: i_t × g_t, added to the belt
    ax.plot([3.9, 3.9, 4.5], [gate_y + 0.3, 2.9, 2.9], **line)
    ax.plot([5.7, 5.7, 5.1], [gate_y + 0.3, 2.9, 2.9], **line)
    node(4.8, 2.9, "×")
    arrow((4.8, 3.2), (4.8, belt - 0.3))
    node(4.8, belt, "+")
    # output: h_t = o_t × tanh(c_t)
    ax.plot([9.05, 9.05], [belt, 3.4], **line)
    node(9.05, 3.0, "tanh")
    ax.plot([9.05, 9.05], [2.6, 1.95], **line)
    ax.plot([8.25, 8.75], [gate_y, gate_y], **line)
    node(9.05, gate_y, "×")
    ax.plot([9.05, 9.05, 9.7], [1.3, read_y, read_y], **line)
    arrow((9.2, read_y), (9.9, read_y))
    ax.text(10.0, read_y, "$h_t$", ha="left", va="center", fontsize=14)
    ax.set(xlim=(-0.7, 10.8), ylim=(-1.2, belt + 0.9))
    ax.set_aspect("equal")
    ax.axis("off")
    return ax
