"""Day timelines of predictions: the bands drawn, read back from the figure, against runs
worked out by hand, and a PNG rendered."""

import io

import matplotlib.image
import numpy as np
import pandas as pd
import pytest
from test_daily import CLASSES, TWO_DAYS

from spectrohar.report.figures import plot_timelines

# test_daily's two days (the 23:45 window crosses midnight, 01:15 and 01:45 are missing, the 22:15
# one is non-wear), then 6 March without a window.
WINDOWS = [*TWO_DAYS, ("2024-03-07 12:00", "light", False)]

# (row, state, from hour, to hour): one band per run of a day, merged across windows.
BANDS = {
    (0, "sedentary", 21.25, 22.25),
    (0, "non-wear", 22.25, 22.75),
    (0, "light", 22.75, 23.25),
    (0, "sleep", 23.25, 24.0),
    (1, "sleep", 0.0, 1.25),
    (1, "light", 2.25, 2.75),
    (1, "sedentary", 2.75, 3.25),
    (3, "light", 12.0, 12.5),
}


@pytest.fixture
def figure():
    start, predicted, non_wear = zip(*WINDOWS, strict=True)
    return plot_timelines(
        pd.to_datetime(list(start)).values,
        1800,
        np.array(predicted),
        np.array(non_wear),
        CLASSES,
        "P001",
    )


def test_each_day_draws_its_runs(figure):
    (ax,) = figure.axes
    assert drawn_bands(figure) == BANDS
    hatches = {c.get_label(): c.get_hatch() for c in ax.collections}
    assert hatches["non-wear"] and not any(hatches[cls] for cls in CLASSES if cls in hatches)
    days = [label.get_text() for label in ax.get_yticklabels()]
    assert days == ["Mon 2024-03-04", "Tue 2024-03-05", "Wed 2024-03-06", "Thu 2024-03-07"]
    assert ax.get_xlim() == (0, 24)


def test_one_colour_per_class_and_a_legend(figure):
    (ax,) = figure.axes
    colours = {}
    for collection in ax.collections:
        colours.setdefault(collection.get_label(), set()).add(tuple(collection.get_facecolor()[0]))
    assert all(len(c) == 1 for c in colours.values())
    assert len({c.pop() for c in colours.values()}) == len(colours)
    (legend,) = figure.legends
    assert [t.get_text() for t in legend.get_texts()] == [*CLASSES, "non-wear", "no data"]


def test_renders_a_png(figure):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    buffer.seek(0)
    image = matplotlib.image.imread(buffer, format="png")
    assert image.shape[0] > 100 and image.shape[1] > 500


def drawn_bands(figure) -> set:
    """The bands of a timeline: (row, state, from hour, to hour)."""
    (ax,) = figure.axes
    drawn = set()
    for collection in ax.collections:
        for path in collection.get_paths():
            (x0, y0), (x1, y1) = path.vertices.min(axis=0), path.vertices.max(axis=0)
            drawn.add((round((y0 + y1) / 2), collection.get_label(), round(x0, 9), round(x1, 9)))
    return drawn


def test_a_zones_days_are_drawn_on_its_wall_clock():
    # Sleep from 23:00 to 06:00 on London's clocks over their spring change, instant by instant.
    start = pd.date_range(
        pd.Timestamp("2024-03-30 23:00", tz="Europe/London"),
        pd.Timestamp("2024-03-31 06:00", tz="Europe/London"),
        freq="30min",
        inclusive="left",
    )
    figure = plot_timelines(
        start, 1800, np.array(["sleep"] * len(start)), np.zeros(len(start), bool), CLASSES, "P"
    )
    assert drawn_bands(figure) == {(0, "sleep", 23.0, 24.0), (1, "sleep", 0.0, 6.0)}
    days = [label.get_text() for label in figure.axes[0].get_yticklabels()]
    assert days == ["Sat 2024-03-30", "Sun 2024-03-31"]
