"""The scaling lesson's figures (notebook 12): time and memory against the length with fitted slopes, and the FLOP/s
achieved beside the device's best matmul rate."""
import math
import textwrap

import numpy as np
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from ..core.counting import fit_slope
from ..lessons.scaling import SWEEP_NAMES, crossover_estimate, series
from .figures_race import LAYER_COLORS, LAYER_STYLES
from .plots import subplots


SHORT_NAMES = {"lstm": "LSTM", "attention": "explicit attention", "sdpa": "SDPA (fused)"}  # legends of 12's figures


def plot_scaling(sources, layers=("lstm", "attention", "sdpa")):
    """Log-log time and memory against length with fitted slopes: one column per (label, sweep result); the time
    panel marks where explicit attention becomes slower than the LSTM, measured or extrapolated (notebook 12)."""
    fig, axes = subplots(2, len(sources), figsize=(min(11, 5.2 * len(sources)), 7.4), squeeze=False)
    for col, (label, result) in enumerate(sources):
        cfg = result["config"]
        for row, (key, unit, scale) in enumerate((("median_s", "seconds, forward + backward", 1),
                                                  ("peak_bytes" if cfg["device"] == "cuda" else "saved_bytes",
                                                   "MB", 1e-6))):
            ax = axes[row, col]
            drawn = []
            for layer in layers:
                ns, ys = series(result, layer, key)
                drawn += [y * scale for y in ys]
                if len(ns) >= 2:
                    slope = fit_slope(ns, ys, last=4)
                    name = SHORT_NAMES.get(layer, SWEEP_NAMES[layer].replace("attention, ", ""))
                    ax.loglog(ns, np.array(ys) * scale, ms=5, **LAYER_STYLES.get(layer, {"marker": "o"}),
                              label=f"{name}: slope {slope:.2f}")
            ax.set_xscale("log", base=2)
            ax.yaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.yaxis.set_minor_formatter(NullFormatter())
            ax.set_xlabel("sequence length n (tokens)")
            memory = "peak GPU memory, MB" if key == "peak_bytes" else "kept for backward, MB"
            ax.set_ylabel(unit if row == 0 else memory)
            if row == 0 and {"lstm", "attention"} <= set(layers):
                mark_crossover(ax, result, label)
            if drawn:  # room below the lines for the legend
                low, high = min(drawn), max(drawn)
                ax.set_ylim(low / (high / low) ** 0.6, high * (high / low) ** 0.2)
            ax.legend(fontsize=10, loc="lower right")
    fig.tight_layout()
    return fig


def mark_crossover(ax, result, label):
    """Mark on a time panel where explicit attention becomes slower than the LSTM, measured or extrapolated, and
    title it with `label` and the sweep's settings (notebook 12)."""
    cfg = result["config"]
    est = crossover_estimate(result, "lstm", "attention")
    if est["how"] == "measured":
        ax.axvline(est["n"], color="0.5", ls=":", lw=1.2)
        right = est["n"] > math.sqrt(min(cfg["lengths"]) * max(cfg["lengths"]))  # text left of the line
        ax.text(est["n"], 0.97, f" attention slower \n from n = {est['n']:,} ", fontsize=10, va="top",
                ha="right" if right else "left", color="0.3", transform=ax.get_xaxis_transform())
    elif est["how"] == "extrapolated":
        ax.text(0.02, 0.97, f"fitted lines meet at n ≈ {est['n']:,.0f}\n(extrapolated, beyond the sweep)",
                transform=ax.transAxes, fontsize=10, va="top", color="0.3")
    elif est["how"] == "unpredicted":
        ax.text(0.02, 0.97, "no crossover within the sweep;\nthe fit cannot predict one", transform=ax.transAxes,
                fontsize=10, va="top", color="0.3")
    low = f", autocast {cfg['precision']}" if cfg.get("precision", "float32") != "float32" else ""
    ax.set_title(f"{textwrap.fill(label, 44)}\n{cfg['dtype']}{low}, batch {cfg['batch']}, width {cfg['d']}, "
                 f"{cfg.get('heads', 1)} head{'s' * (cfg.get('heads', 1) > 1)}", fontsize=10)


def plot_flops(sources, layers=("lstm", "attention", "sdpa")):
    """Achieved FLOP/s against length, beside the device's best matmul rate and datasheet peak; the LSTM's last point
    says which fraction of that matmul rate it reached (notebook 12)."""
    fig, axes = subplots(1, len(sources), figsize=(min(11, 5.2 * len(sources)), 4.2), squeeze=False)
    for ax, (label, result) in zip(axes[0], sources):
        best = result["matmul_flops_per_s"]
        for layer in layers:
            ns, ys = series(result, layer, "flops_per_s")
            ax.loglog(ns, np.array(ys) / 1e9, ms=5, **LAYER_STYLES.get(layer, {"marker": "o"}),
                      label=SHORT_NAMES.get(layer, SWEEP_NAMES[layer]))
            if layer == "lstm" and ns:
                ax.annotate(f"{ys[-1] / best:.1%} of the matmul", (ns[-1], ys[-1] / 1e9), xytext=(-4, 6),
                            textcoords="offset points", ha="right", fontsize=10, color=LAYER_COLORS["lstm"])
        ax.axhline(best / 1e9, color="k", ls="--", lw=0.8, label="one large matmul, measured")
        if result.get("peak_flops_per_s"):
            ax.axhline(result["peak_flops_per_s"] / 1e9, color="k", lw=0.8, label="datasheet peak")
        ax.set_xscale("log", base=2)
        ax.set_ylim(top=best / 1e9 * 3)
        ax.yaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set(xlabel="sequence length n (tokens)", ylabel="GFLOP/s achieved")
        ax.set_title(f"{textwrap.fill(label, 44)}\n{result['config']['dtype']}", fontsize=10)
    handles, names = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, names, fontsize=10, loc="lower center", ncols=min(4, len(names)))
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    return fig
