"""The anatomy lesson's drawings (notebooks 06, 07): the LSTM's chain beside attention's web, and attention as
arcs from query to key."""
import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.patches import Arc

from ..core.checks import check_int
from .plots import subplots


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


def arc_diagram(weights, tokens, ax=None, min_weight=0.05, color="#0072B2", future_color="#E69F00", title=None,
                top_k=None, fontsize=11):
    """Attention as arcs query -> key (width = weight, `future_color` when the key is later); dots = self-weight.
    Each query draws its arcs to the keys with weight >= `min_weight`, at most its `top_k` largest (None: all).
    Introduced in notebook 07."""
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
                             color=future_color if k > q else color,
                             lw=0.8 + 5 * w[q, k], alpha=min(1.0, 0.4 + w[q, k])))
    ax.scatter(range(T), np.zeros(T), s=20 + 300 * np.diag(w), color="#444444", zorder=3)
    for t, tok in enumerate(tokens):
        ax.annotate(tok, (t, -0.15), ha="right", va="top", rotation=60, fontsize=fontsize)
    ax.set(xlim=(-0.8, T - 0.2), ylim=(-1.2 - 0.1 * max(len(t) for t in tokens), max(1.0, 0.47 * (T - 1))),
           xticks=[], yticks=[])
    ax.axis("off")
    if title:
        ax.set_title(title)
    return ax
