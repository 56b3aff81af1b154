import matplotlib.pyplot as plt
import numpy as np
import pytest

import helpers


def test_heatmap_labels_and_sums():
    w = np.array([[0.5, 0.5], [0.25, 0.75]])
    ax = helpers.attention_heatmap(w, ["a", "b"], sums=True)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["a", "b"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a  Σ=1.00", "b  Σ=1.00"]
    assert [t.get_text() for t in ax.texts] == ["0.50", "0.50", "0.25", "0.75"]  # small grids are annotated
    plt.close("all")


def test_heatmap_refuses_a_wrong_shape():
    with pytest.raises(ValueError, match=r"shape \(3, 3\)"):
        helpers.attention_heatmap(np.ones((2, 2)), ["a", "b", "c"])


def test_plot_history_draws_both_panels():
    h = helpers.History(train_loss=[2.0, 1.0], test_loss=[3.0, 2.0, 1.0], test_acc=[0.0, 0.5, 1.0])
    fig = helpers.plot_history({"lstm": h}, chance=1 / 26)
    loss_ax, acc_ax = fig.axes
    assert len(loss_ax.lines) == 2 and len(acc_ax.lines) == 2  # accuracy + chance
    assert list(acc_ax.lines[0].get_ydata()) == [0.0, 0.5, 1.0]
    assert acc_ax.get_legend() is None and loss_ax.get_legend() is None  # one legend, below the panels
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["lstm: training", "lstm: held-out", "chance (3.8%)"]
    plt.close("all")


def test_plot_history_keeps_one_colour_per_model_and_whole_epochs():
    h = helpers.History(train_loss=[2.0, 1.5, 1.0], test_loss=[3.0, 2.0, 1.5, 1.0], test_acc=[0.0, 0.4, 0.6, 0.9])
    fig = helpers.plot_history({"masked": h, "unmasked": h})  # names without a set colour
    loss_ax, acc_ax = fig.axes

    def colour(ax, i):
        return ax.lines[i].get_color()
    assert colour(loss_ax, 0) == colour(loss_ax, 1) == colour(acc_ax, 0)        # masked: train, held-out, accuracy
    assert colour(loss_ax, 2) == colour(loss_ax, 3) == colour(acc_ax, 1) != colour(acc_ax, 0)
    fig.canvas.draw()
    assert all(float(t).is_integer() for t in acc_ax.get_xticks())
    plt.close("all")


def test_compared_heatmaps_share_one_colour_scale():
    ax = helpers.attention_heatmap(np.array([[0.2, 0.1], [0.3, 0.1]]), ["a", "b"], vmax=1.0)
    assert ax.collections[0].get_clim() == (0.0, 1.0)
    plt.close("all")
