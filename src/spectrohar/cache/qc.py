"""The quality table: per participant, rows read, hours recorded and annotated, windows kept
(unannotated among them) and dropped (and why), the device and its calibration, labels."""

import pandas as pd

from spectrohar.cache.layout import DROP_REASONS
from spectrohar.cache.stores import open_store
from spectrohar.cache.windows import device_and_calibration
from spectrohar.sources.labels import map_labels, read_dictionary


def quality_table(window_stores, dictionary: pd.DataFrame, scheme: str) -> pd.DataFrame:
    """One row per window store; label columns count windows per label under `scheme`, and
    `unannotated` the windows kept without an annotation (which have no label)."""
    rows = []
    for path in window_stores:
        ds = open_store(path)
        labels, unknown = map_labels(ds.annotation.values, dictionary, scheme, unknown="drop")
        dropped = ds.attrs["windows_dropped"]
        rows.append(
            {
                "participant": ds.attrs["participant"],
                "rows_read": ds.attrs["rows_read"],
                "hours_recorded": round(ds.attrs["hours_recorded"], 3),
                "hours_annotated": round(ds.attrs["hours_annotated"], 3),
                "windows_kept": ds.attrs["windows_kept"],
                "unannotated": ds.attrs["windows_unannotated"],
                **{f"dropped_{reason}": dropped[reason] for reason in DROP_REASONS},
                "dropped_unknown_annotation": sum(unknown.values()),
                "error": ds.attrs.get("error", ""),
                **device_and_calibration(ds.attrs),
                **pd.Series(labels).dropna().value_counts().add_prefix("label_").to_dict(),
            }
        )
    table = pd.DataFrame(rows)
    label_columns = sorted(c for c in table.columns if c.startswith("label_"))
    table[label_columns] = table[label_columns].fillna(0).astype(int)
    return table[[c for c in table.columns if not c.startswith("label_")] + label_columns]


def build(window_stores, dictionary, table, *, labels) -> None:
    """The qc rule: write the table, labels under the `labels` scheme, as CSV."""
    quality_table(window_stores, read_dictionary(dictionary), labels.scheme).to_csv(
        table, index=False
    )
