"""Counting without a clock: the longest chain of dependent operations in an autograd graph, the memory
autograd keeps for the backward pass, matrix-product FLOPs, and the slope of a count against length."""
import numpy as np
import torch


def critical_path(out, leaf=None):
    """Longest chain of dependent autograd operations from `leaf` (None: any graph input) to `out`;
    None if `out` does not use `leaf`. Walks without recursion: an LSTM's chain is deeper than Python's stack.
    Introduced in notebook 02 (as graph_depth) and notebook 06."""
    if out.grad_fn is None:
        raise ValueError("out must be computed from tensors that require grad")
    memo, stack = {}, [(out.grad_fn, False)]
    while stack:
        fn, expanded = stack.pop()
        if fn in memo:
            continue
        children = [c for c, _ in fn.next_functions if c is not None]
        if (leaf is not None and getattr(fn, "variable", None) is leaf) or (leaf is None and not children):
            memo[fn] = 0
            continue
        if not expanded:
            stack.append((fn, True))
            stack.extend((c, False) for c in children if c not in memo)
            continue
        depths = [memo[c] for c in children if memo.get(c) is not None]
        memo[fn] = 1 + max(depths) if depths else None
    return memo[out.grad_fn]


def graph_depth(out):
    """Operations on the longest chain behind `out`, the graph input's accumulator included (notebook 02)."""
    return critical_path(out) + 1


def fit_power(ns, values, last=None):
    """(a, s) of values ≈ a·n^s, fitted on log-log axes over the `last` longest lengths (None: all) (notebook 12)."""
    ns, values = np.asarray(ns, float), np.asarray(values, float)
    if len(ns) != len(values):
        raise ValueError(f"ns and values must be equally long, got {len(ns)} and {len(values)}")
    if last is not None:
        ns, values = ns[-last:], values[-last:]
    if len(ns) < 2 or (ns <= 0).any() or (values <= 0).any():
        raise ValueError("ns and values must hold at least 2 positive numbers each")
    s, log_a = np.polyfit(np.log(ns), np.log(values), 1)
    return float(np.exp(log_a)), float(s)


def fit_slope(ns, values, last=None):
    """Slope of log(value) against log(n) over the `last` longest lengths (None: all): 0 = constant,
    1 = linear, 2 = quadratic. Introduced in notebook 06; notebook 12 fits the last four lengths."""
    return round(fit_power(ns, values, last)[1], 6) + 0.0  # + 0.0: no "-0.00"


def saved_bytes(fn):
    """Run fn() and return the bytes of the distinct tensors autograd kept for the backward pass (notebook 12)."""
    storages = {}

    def pack(t):
        s = t.untyped_storage()
        storages[s.data_ptr()] = s.nbytes()
        return t
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return sum(storages.values())


def layer_flops(layer, n, d, batch=1):
    """Floating-point operations of one forward + backward (matrix products only; backward = 2 × forward).
    Introduced in notebook 11."""
    if layer == "lstm":
        return 3 * batch * n * 2 * (2 * d) * (4 * d)  # per step (x_t, h_{t-1}) @ (2d, 4d)
    return 3 * batch * (8 * n * d * d + 4 * n * n * d)  # four (d, d) projections, q·kᵀ and a·v


