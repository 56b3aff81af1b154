"""The amnesia lesson's figures (notebooks 01, 04, 05): the curves and verdicts of the amnesia test, the gradient
that reaches each position, the training steps that remembering costs, and recall at other lengths."""
import textwrap

import numpy as np
import seaborn as sns
from matplotlib.ticker import MaxNLocator, PercentFormatter

from ..core.tasks import RecallConfig
from ..lessons.amnesia import CHANCE, NAMES, chance_margin, steps_table
from .plots import COLORS, MARKERS, last_position_heatmap, plot_history, position_labels, show, subplots
from .plots import STYLES as LINES  # line style per contestant


def show_amnesia(result):
    """Draw an amnesia result (training curves, where the Transformer's last position looks); return its summary.
    Introduced in notebook 01."""
    plot_history({NAMES[v]: h for v, h in result.history.items()}, chance=CHANCE,
                 colors={NAMES[v]: COLORS[v] for v in result.history},
                 title=f"First-letter recall at length {result.length}")
    show()
    if result.attention is not None:
        last_position_heatmap(result.attention, position_labels(result.string),
                              "Transformer, last layer: where the last position looks")
        show()
    return result.summary()


def deck_printout(result):
    """An amnesia result in the deck's layout: the unseen string, its true first letter, then each model's answer
    (right or wrong), held-out accuracy and verdict. Introduced in notebook 04."""
    lines = [f"Test string (never seen in training): {result.string}", f"True first letter: {result.answer}", ""]
    for kind, answer in result.predictions.items():
        mark = "right" if answer == result.answer else "wrong"
        lines.append(f"{NAMES[kind] + ' answers:':<29}{answer} ({mark}) — "
                     f"held-out accuracy {result.accuracy[kind]:.1%}, {result.verdict(kind)}")
    if result.missing:  # a Stop came before these began
        lines.append("Not trained (stopped before they began): " + ", ".join(NAMES[k] for k in result.missing))
    return "\n".join(lines)


def show_verdicts(result):
    """Draw an amnesia result as its verdicts: each model's held-out accuracy as a bar with its verdict beneath, and
    beside it the bottom of the scale enlarged, where chance and 3 standard errors above chance are named on their
    lines; return its summary. The first taste of notebook 01 (04 draws the curves)."""
    n, chance = RecallConfig().n_test, CHANCE  # the held-out strings amnesia_test scores
    above = chance_margin(n, chance)           # 3 standard errors above a guesser's accuracy
    variants = list(result.accuracy)
    fig, (ax, zoom) = subplots(1, 2, figsize=(12, 4.2), gridspec_kw={"width_ratios": [2.2, 1]})
    for a, top in ((ax, 1.12), (zoom, 3 * above)):
        bars = a.bar(range(len(variants)), [result.accuracy[v] for v in variants], width=0.6,
                     color=[COLORS[v] for v in variants], edgecolor="k", lw=0.8)
        for bar, v in zip(bars, variants):
            bar.set_hatch(HATCHES.get(v))
        a.axhline(chance, color="k", lw=1.5, ls="--")
        a.axhline(above, color="k", lw=1.5, ls=":")
        a.set_ylim(0, top)
        a.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0 if a is ax else 1))
    for i, v in enumerate(variants):  # each bar's value above it, and never on the chance lines
        ax.text(i, max(result.accuracy[v], above) + 0.015, f"{result.accuracy[v]:.1%}", ha="center", va="bottom",
                fontsize=11)
    ax.set_xticks(range(len(variants)), [NAMES[v] + "\n" + textwrap.fill(result.verdict(v), 22) for v in variants])
    ax.set(ylabel=f"held-out accuracy ({n} strings)", title=f"First-letter recall at length {result.length}")
    zoom.set_xticks(range(len(variants)), [NAMES[v].replace(", ", ",\n") for v in variants])
    zoom.set_title(f"the bottom 0-{3 * above:.0%}, enlarged")
    for y, text, va in ((chance, f"chance\n{chance:.1%}\n(dashed)", "top"),
                        (above, f"3 standard errors\nabove chance\n{above:.1%} (dotted)", "bottom")):
        zoom.annotate(text, (1.02, y), xycoords=("axes fraction", "data"), ha="left", va=va, fontsize=11,
                      annotation_clip=False)
    fig.tight_layout()
    show()
    return result.summary()


HATCHES = {"lstm_fb1": "//"}  # the forget-bias LSTM hatched, told from the default LSTM without its colour


def last_look_heatmap(result, ax=None):
    """Where the Transformer's last (answering) position looks, mean over its heads: one heatmap row over the string's
    positions, its weights in percent where they reach 5%; returns the row (T,). The course's one drawing of it
    (notebook 01)."""
    look = result.attention[:, -1, :].mean(0)  # (T,): the answering position's row, mean over heads
    labels = position_labels(result.string)
    if ax is None:
        _, ax = subplots(figsize=(min(2.5 + 0.5 * len(labels), 14), 2.4))
    sns.heatmap(look[None].numpy(), ax=ax, cmap="Blues", vmin=0, vmax=1, xticklabels=labels,
                yticklabels=["last position"], cbar_kws={"label": "weight", "format": PercentFormatter(1.0)})
    for j, w in enumerate(look.tolist()):
        if w >= 0.05:
            ax.text(j + 0.5, 0.5, f"{w:.0%}", ha="center", va="center", fontsize=11,
                    color="white" if w > 0.5 else "black")
    ax.tick_params(axis="x", rotation=90)
    ax.tick_params(axis="y", rotation=0)
    ax.set(xlabel="key: the position looked at",
           title="Transformer, last layer, mean of its heads: one row of attention weights (sums to 100%)")
    return look


def attention_on_first(result):
    """One line: the share of the last position's attention that goes to position 1, per head (notebook 04)."""
    row = result.attention[:, -1, 0]  # (H,)
    return ("Transformer's last position -> position 1: "
            + ", ".join(f"head {h + 1} {w:.0%}" for h, w in enumerate(row.tolist())))


def show_curves(result):
    """Draw an amnesia result's training curves; return a header, the deck's printout and where the Transformer's
    last position looks (per head, in words): the amnesia panel of notebook 04, whose heatmap notebook 01 draws."""
    plot_history({NAMES[v]: h for v, h in result.history.items()}, chance=CHANCE,
                 colors={NAMES[v]: COLORS[v] for v in result.history},
                 title=f"First-letter recall at length {result.length}")
    show()
    lines = [f"Length {result.length}, {result.epochs} epochs", deck_printout(result)]
    if result.attention is not None:
        lines.append(attention_on_first(result))
    return "\n".join(lines)


def plot_answer_sources(result, strings):
    """For each model of an amnesia result, the share of `strings` (N, T) whose letter at position t equals the
    model's answer, as bars per position against chance; returns {variant: (N,) answers} (notebook 04)."""
    import torch
    with torch.no_grad():
        answers = {v: m(strings)[:, -1].argmax(-1) for v, m in result.models.items()}  # variant -> (N,)
    match = {v: (strings == a[:, None]).float().mean(0) for v, a in answers.items()}  # variant -> (T,)
    _, ax = subplots(figsize=(11, 3.6))
    width = 0.8 / len(match)
    positions = np.arange(1, strings.shape[1] + 1)
    for i, (v, m) in enumerate(match.items()):
        ax.bar(positions + (i - (len(match) - 1) / 2) * width, m.numpy(), width, color=COLORS[v],
               hatch=HATCHES.get(v), edgecolor="k", lw=0.4, label=NAMES[v])
    ax.axhline(CHANCE, color="k", ls="--", lw=1.2, label=f"chance ({CHANCE:.1%}, dashed)")
    ax.set(xlabel="position t (1 = the letter asked for)", ylabel="answers equal to the letter at t",
           title="Which position's letter does each model answer with?", ylim=(0, 1.02))
    if len(positions) <= 30:
        ax.set_xticks(positions)
    else:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # positions are whole numbers
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    show()
    return answers


STYLES = {**{v: (MARKERS[v] + LINES[v], COLORS[v]) for v in ("rnn", "lstm", "lstm_fb1", "transformer")},
          "lstm_fb3": ("D-.", "#CC79A7"), "lstm_fb1_lr": ("v:", "#009E73")}  # (format, colour): plots' per contestant
# the Transformer's position schemes (ModelConfig.positions), as notebook 05 draws and names them
SCHEME_STYLES = {"learned": ("^-", COLORS["transformer"]), "sinusoidal": ("o--", "#2ca02c"),
                 "alibi": ("s-.", "#9467bd"), "rope": ("D-", "#E69F00")}
SCHEME_NAMES = {"learned": "learned absolute", "sinusoidal": "sinusoidal (Vaswani et al. 2017)",
                "alibi": "ALiBi (Press et al. 2022)", "rope": "RoPE (Su et al. 2021)"}


def plot_gradients(result):
    """Two log-scale panels, at initialisation and after training: ‖∂loss/∂e_t‖ against position t (notebook 05)."""
    fig, axes = subplots(1, 2, figsize=(11, 3.6), sharey=True)
    positions = np.arange(1, result.length + 1)
    for ax, grads, title in [(axes[0], result.init, "at initialisation"),
                             (axes[1], result.trained, f"after {result.epochs} epochs")]:
        for v in result.variants:
            marker, color = STYLES[v]
            ax.semilogy(positions, grads[v].clamp_min(1e-30), marker, ms=3, color=color, label=NAMES[v])
        ax.set(xlabel="position t (1 = the letter to recall)", title=title)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # positions are whole numbers
        ax.grid(True, which="major", alpha=0.3)
    axes[0].set_ylabel("‖∂loss/∂e_t‖ (log scale)")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", ncol=len(result.variants),
               frameon=False)  # below the panels: no legend covers a line
    fig.suptitle(f"The gradient that reaches each position, length {result.length}")
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def plot_gradient_ratios(result):
    """Each model against itself: ‖∂loss/∂e_t‖ / ‖∂loss/∂e_(T-1)‖ at initialisation, log scale, so no model's scale
    (LayerNorm, weights) enters the comparison; position T is left out, as it has its own direct path to the loss
    (notebook 05)."""
    fig, ax = subplots(figsize=(9, 3.6))
    positions = np.arange(1, result.length)  # 1 .. T-1
    for v in result.variants:
        marker, color = STYLES[v]
        g = result.init[v][:-1]  # drop position T
        ax.semilogy(positions, (g / g[-1]).clamp_min(1e-30), marker, ms=3, color=color, label=NAMES[v])
    ax.axhline(1, color="k", lw=0.8, ls=":")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # positions are whole numbers
    ax.set(xlabel="position t (1 = the letter to recall)", ylabel="gradient at t ÷ at T−1 (log)",
           title=f"Each model against itself: the gradient at t ÷ at position T−1, length {result.length}")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    return fig


def plot_schemes(result, ax=None):
    """Held-out accuracy at each test length of the Transformer with each position scheme, trained at one
    length: the mean over seeds and the range from the lowest to the highest (notebook 05)."""
    if ax is None:
        _, ax = subplots(figsize=(10, 4))
    for scheme, by_seed in result["accuracy"].items():
        marker, color = SCHEME_STYLES[scheme]
        acc = np.array([list(by_len.values()) for by_len in by_seed.values()])  # (seeds, lengths)
        lengths = list(next(iter(by_seed.values())))
        ax.plot(lengths, acc.mean(0), marker, ms=5, color=color, label=SCHEME_NAMES[scheme])
        ax.fill_between(lengths, acc.min(0), acc.max(0), color=color, alpha=0.15)
    length_axis(ax, lengths, result["train_length"])
    ax.set(title=f"Position schemes, the letter at position {result['position']}: mean and range over "
                 f"{len(next(iter(result['accuracy'].values())))} seeds")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    return ax


def length_axis(ax, lengths, train_length):
    """The test lengths on a log axis, a tick at each one; the trained length dashed, chance dotted; accuracy in %
    (notebook 05)."""
    ax.axvline(train_length, color="k", lw=0.8, ls="--", label=f"trained at length {train_length} (dashed)")
    ax.axhline(CHANCE, color="k", lw=0.8, ls=":", label="chance, 1/26 (dotted)")
    ax.set_xscale("log")
    ax.set_xticks(lengths, [str(L) for L in lengths])
    ax.set_xticks([], minor=True)
    ax.tick_params(axis="x", rotation=90)  # 20 and 21 side by side
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set(xlabel="test length (letters, log scale)", ylabel="held-out accuracy", ylim=(-0.03, 1.03))


def draw_steps(ax, runs, cap, styles, names, sizes=(5, 8)):
    """The points of plot_steps: per variant, the median over seeds with its fewest-to-most range, and an arrow ↑ on
    the cap line where the cap stopped most seeds; `sizes`: the points' and the arrows' (notebooks 05, 14)."""
    table = steps_table(runs)
    for i, (v, by_len) in enumerate(table.items()):
        marker, color = styles[v]
        shift = 1 + 0.03 * (i - (len(table) - 1) / 2)  # side by side, so equal values stay visible
        done = [(L, m, lo, hi) for L, (m, lo, hi, beyond, n) in by_len.items() if m is not None]
        if done:
            L, m, lo, hi = (np.array(c, dtype=float) for c in zip(*done))
            ax.errorbar(L * shift, m, yerr=[m - lo, hi - m], fmt=marker, ms=sizes[0], capsize=3, color=color,
                        label=names[v])
        beyond = [L for L, (m, lo, hi, b, n) in by_len.items() if m is None]
        if beyond:
            ax.plot(np.array(beyond) * shift, [cap] * len(beyond), ls="none", marker=r"$\uparrow$", ms=1.6 * sizes[1],
                    color=color, label=None if done else names[v])
    ax.axhline(cap, color="k", lw=0.8, ls=":")


def plot_steps(runs, cap, ax=None, title=None, legend=True):
    """The cost of remembering: training steps to the target against length (both log scale), the median over
    seeds with the fewest-to-most range; a run that the cap stopped is drawn on the cap line as an arrow, ↑
    "beyond the cap" (no model's marker is an arrow). Introduced in notebook 05."""
    if ax is None:
        _, ax = subplots(figsize=(7, 4))
    draw_steps(ax, runs, cap, STYLES, NAMES)
    ax.text(min(r["length"] for r in runs), cap * 1.15, f"↑ = beyond the cap ({cap:,} steps) on most seeds",
            fontsize=11, va="bottom")
    ax.set_xscale("log")
    ax.set_yscale("log")
    lengths = sorted({r["length"] for r in runs})
    ax.set_xticks(lengths, [str(L) for L in lengths])
    ax.set_xticks([], minor=True)
    ax.set_ylim(top=cap * 2.2)
    ax.set(xlabel="sequence length (log scale)", ylabel="training steps to reach 90% (log scale)", title=title)
    if legend:
        ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    return ax


def plot_transfer(result, ax=None):
    """Held-out accuracy at other lengths of models trained at one length (notebook 05)."""
    if ax is None:
        _, ax = subplots(figsize=(10, 4))
    for v, by_len in result["accuracy"].items():
        marker, color = STYLES[v]
        ax.plot(list(by_len), list(by_len.values()), marker, ms=6, color=color, label=NAMES[v])
    length_axis(ax, list(next(iter(result["accuracy"].values()))), result["train_length"])
    ax.set(title=f"The letter at position {result['position']} (from the end), trained at one length")
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    return ax
