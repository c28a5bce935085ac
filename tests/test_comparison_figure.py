"""The comparison figure: a marker per row and panel, bars ending at the intervals."""

import io

import numpy as np
import pandas as pd

from spectrohar.report.figures import plot_comparison

METRICS = ["kappa", "macro_f1", "accuracy", "balanced_accuracy"]


def comparison():
    """Three rows in comparison_table's layout, one with a kappa outside its interval (a
    percentile interval need not hold its estimate)."""
    table = pd.DataFrame(
        {
            "model": ["cnn", "cnn", "resnet"],
            "smoothing": ["none", "hmm", "hmm"],
            "n_windows": [150_000, 150_000, 149_000],
            "n_participants": [51, 51, 50],
        }
    )
    for i, name in enumerate(METRICS):
        estimate = np.array([0.60, 0.75, 0.80]) + 0.01 * i
        table[name] = estimate
        table[f"{name}_low"] = estimate - [0.03, 0.02, 0.04]
        table[f"{name}_high"] = estimate + [0.02, 0.03, 0.01]
    table.loc[2, "kappa_low"] = 0.81
    table.attrs = {"confidence": 0.95, "n_resamples": 1000}
    return table


def test_a_marker_per_row_and_bars_ending_at_the_intervals():
    table = comparison()
    fig = plot_comparison(table)
    axes = fig.axes
    assert len(axes) == len(METRICS)
    for ax, name in zip(axes, METRICS, strict=True):
        (markers,) = ax.lines
        np.testing.assert_allclose(markers.get_xdata(), table[name])
        np.testing.assert_allclose(markers.get_ydata(), [0, 1, 2])
        (bars,) = ax.collections
        ends = np.array([segment[:, 0] for segment in bars.get_segments()])
        np.testing.assert_allclose(ends, table[[f"{name}_low", f"{name}_high"]].to_numpy())
        rows = np.array([segment[:, 1] for segment in bars.get_segments()])
        np.testing.assert_allclose(rows, [[0, 0], [1, 1], [2, 2]])
        # The first row on top.
        assert ax.get_ylim() == (2.5, -0.5)
    labels = [tick.get_text() for tick in axes[0].get_yticklabels()]
    assert [label.splitlines()[0] for label in labels] == [
        "cnn + none",
        "cnn + hmm",
        "resnet + hmm",
    ]
    assert "50 participants, 149,000 windows" in labels[2]
    assert "95% percentile" in fig.get_suptitle()
    fig.savefig(io.BytesIO(), format="png")  # draws, whatever the backend
