import math

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from matplotlib.colors import to_rgb
from matplotlib.patches import Arc

from helpers.core.counting import critical_path, fit_slope
from helpers.lessons import anatomy as A
from helpers.view import figures
from helpers.view.figures_anatomy import plot_counts, plot_layer_flops

SMALL = A.AnatomyConfig(d_model=8, n_heads=2)  # op counts do not depend on the width
NS = (8, 16, 32)


def test_critical_path_counts_the_longest_chain():
    x = torch.randn(3, requires_grad=True)
    unused = torch.randn(3, requires_grad=True)
    y = x * 2                # 1 op
    out = y.sin() + y.exp()  # 2 more on the longest chain
    assert critical_path(out, x) == 3
    assert critical_path(out, unused) is None


def test_recurrent_sequential_ops_grow_linearly_attention_stays_constant():
    ops = {kind: [A.sequential_ops(kind, n, SMALL) for n in NS] for kind in A.LAYER_TYPES}
    step = ops["recurrent"][1] - ops["recurrent"][0]
    assert step > 0 and ops["recurrent"][2] - ops["recurrent"][1] == 2 * step  # the same ops per extra token
    assert fit_slope(NS, ops["recurrent"]) > 0.85
    for kind in ("self-attention", "convolutional", "restricted"):
        assert len(set(ops[kind])) == 1, f"{kind}: {ops[kind]}"  # independent of n


def test_layers_needed_to_connect_token_1_to_the_last_output():
    for n in NS:
        assert A.layers_to_connect("self-attention", n, SMALL) == 1
        assert A.layers_to_connect("recurrent", n, SMALL) == 1
        assert A.layers_to_connect("convolutional", n, SMALL) == math.ceil(math.log(n, SMALL.kernel))
        assert A.layers_to_connect("restricted", n, SMALL) == math.ceil((n - 1) / SMALL.window)


def test_path_ops_grow_as_table_1_says():
    paths = {kind: [A.path_ops(kind, n, SMALL)[1] for n in NS] for kind in A.LAYER_TYPES}
    assert len(set(paths["self-attention"])) == 1
    assert fit_slope(NS, paths["recurrent"]) > 0.85
    assert fit_slope(NS, paths["restricted"]) > 0.85
    assert paths["convolutional"][0] < paths["convolutional"][1] < paths["convolutional"][2]
    assert fit_slope(NS, paths["convolutional"]) < 0.6  # logarithmic, well below linear


def test_reach_follows_each_layers_wiring():
    rows = A.reach("convolutional", 12, SMALL, layers=2)  # causal kernel 3, dilation 1 then 3
    assert rows[0].tolist() == [True] * 3 + [False] * 9
    assert rows[1].tolist() == [True] * 9 + [False] * 3
    rows = A.reach("restricted", 12, SMALL, layers=1)
    assert rows[0].tolist() == [True] * (SMALL.window + 1) + [False] * (11 - SMALL.window)
    assert A.reach("recurrent", 300, SMALL).all()  # float64: no influence underflows over 300 steps
    assert A.reach("self-attention", 12, SMALL).all()


def test_flops_from_shapes_match_torch_flop_counter():
    from torch.utils.flop_counter import FlopCounterMode
    for kind in A.LAYER_TYPES:
        layer, x = A.make_layer(kind, SMALL), torch.randn(1, 12, SMALL.d_model)
        with A.unfused(), torch.no_grad(), FlopCounterMode(display=False) as counter:
            layer(x)
        assert A.flops(kind, 12, SMALL)["total"] == counter.get_total_flops(), kind


def test_flops_grow_with_n_as_their_terms_say():
    ns = (64, 128, 256)
    att = [A.flops("self-attention", n) for n in ns]
    assert fit_slope(ns, [f["n²·d"] for f in att]) == pytest.approx(2.0)
    assert fit_slope(ns, [f["n·d²"] for f in att]) == pytest.approx(1.0)
    rec = [A.flops("recurrent", n) for n in ns]
    assert all(f["n²·d"] == 0 for f in rec)
    assert fit_slope(ns, [f["total"] for f in rec]) == pytest.approx(1.0)
    d = A.AnatomyConfig().d_model
    assert att[0]["n²·d"] == 4 * 64 ** 2 * d  # Q·Kᵀ and weights·V, 2 FLOPs per multiply-add each


@pytest.mark.parametrize("cfg", [SMALL, A.AnatomyConfig(d_model=12, n_heads=3)])
def test_flop_crossover_is_where_attention_stops_being_cheaper_than_recurrence(cfg):
    rule = A.flop_crossover(cfg)
    assert (rule["per n²·d"], rule["per n·d²"]) == (4, 16)  # 2 products x 2 FLOPs; 4 gates x (W, U) x 2 FLOPs
    cheaper = [n for n in range(2, 8 * cfg.d_model)  # the oracle: compare the two counts at every n
               if A.flops("self-attention", n, cfg)["n²·d"] < A.flops("recurrent", n, cfg)["total"]]
    assert cheaper == list(range(2, round(rule["n"])))  # cheaper exactly while n < (b/a)·d
    assert rule["n"] == 4 * cfg.d_model


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="kind must be one of"):
        A.make_layer("lstm")
    with pytest.raises(ValueError, match="n must be an integer from 2"):
        A.sequential_ops("recurrent", 1)
    with pytest.raises(ValueError, match="multiple of n_heads"):
        A.make_layer("self-attention", A.AnatomyConfig(d_model=10, n_heads=4))
    with pytest.raises(ValueError, match="positive numbers"):
        fit_slope([1, 2], [0, 1])


def test_growth_exponent_reads_the_power():
    assert fit_slope([1, 2, 4], [3, 6, 12]) == pytest.approx(1.0)
    assert fit_slope([1, 2, 4], [5, 5, 5]) == pytest.approx(0.0)


def test_drawings():
    axes = figures.draw_chain_and_web(5)
    chain, web = axes
    assert len(web.collections[-1].get_segments()) == 25  # every output reads every input
    causal = figures.draw_chain_and_web(5, causal=True)[1]
    assert len(causal.collections[-1].get_segments()) == 15  # only the past: 5·6/2
    chain_steps, web_steps = ([t.get_text() for t in ax.texts if t.get_text().isdigit()] for ax in axes)  # in boxes
    assert chain_steps == ["1", "2", "3", "4", "5"] and web_steps == ["1"] * 5  # n dependent steps against 1
    plt.close("all")
    table = {(r["kind"], r["n"]): r for r in A.measure(A.LAYER_TYPES, (8, 16), A.AnatomyConfig(d_model=8, n_heads=2))}
    fig = plot_counts(table, (8, 16), A.LAYER_TYPES)
    assert [len(ax.lines) for ax in fig.axes] == [4, 4]
    D = A.AnatomyConfig()
    fl = {kind: [A.flops(kind, n, D) for n in (16, 64)] for kind in A.LAYER_TYPES}
    fig = plot_layer_flops(fl, (16, 64), A.flop_crossover(D), D.d_model)
    assert len(fig.axes[0].get_legend().get_texts()) == 5
    w = np.array([[0.7, 0.3, 0.0], [0.5, 0.5, 0.0], [0.2, 0.01, 0.79]])
    ax = figures.arc_diagram(w, ["a", "b", "c"], color="blue", future_color="orange")
    arcs = [p for p in ax.patches if isinstance(p, Arc)]
    assert len(arcs) == 3  # 0.3, 0.5 and 0.2; 0.01 is below min_weight
    orange = to_rgb("orange")
    assert sum(tuple(p.get_edgecolor()[:3]) == orange for p in arcs) == 1  # only a looks ahead (at b)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["looks back (earlier key)",
                                                              "looks ahead (later key)"]
    w3 = np.array([[0.4, 0.35, 0.25], [0.3, 0.4, 0.3], [0.3, 0.3, 0.4]])
    top = figures.arc_diagram(w3, ["a", "b", "c"], top_k=1)
    assert len([p for p in top.patches if isinstance(p, Arc)]) == 3  # one arc per query: its largest other key
    with pytest.raises(ValueError, match="square grid"):
        figures.arc_diagram(np.ones((2, 3)), ["a", "b"])
    with pytest.raises(ValueError, match="top_k"):
        figures.arc_diagram(w3, ["a", "b", "c"], top_k=0)
    plt.close("all")


def test_the_lstm_cell_diagram_names_every_term_of_the_equations():
    ax = figures.lstm_cell_diagram()
    texts = {t.get_text() for t in ax.texts}
    assert {"$c_{t-1}$", "$c_t$", "$h_{t-1}$", "$h_t$", "$x_t$", "$f_t$", "$i_t$", "$g_t$", "$o_t$"} <= texts
    gates = sorted((t.get_position()[0], t.get_text()) for t in ax.texts if t.get_text() in ("σ", "tanh")
                   and any(p.contains_point(ax.transData.transform(t.get_position())) for p in ax.patches))
    assert [g for _, g in gates] == ["σ", "σ", "tanh", "σ"]  # f, i, g, o: three sigmoid gates and a tanh candidate
    belt = ax.lines[0].get_ydata()[0]
    on_belt = sorted((t.get_position()[0], t.get_text()) for t in ax.texts if t.get_position()[1] == belt
                     and t.get_text() in ("×", "+", "tanh"))
    assert [op for _, op in on_belt] == ["×", "+"]  # the belt meets one multiplication and one addition only
    plt.close("all")
