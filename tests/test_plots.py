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
    plt.close("all")
