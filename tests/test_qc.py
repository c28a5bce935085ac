import numpy as np
import pandas as pd
from conftest import write_recording
from test_windows import build_store

from spectrohar.cache.qc import quality_table
from spectrohar.sources.labels import read_dictionary

SLEEP = "7030 sleeping;MET 0.95"


def test_the_table_accounts_for_every_window(tmp_path, rng):
    annotation = [SLEEP] * 6000 + ["walking"] * 3000 + ["no such annotation"] * 3000 + [None] * 3000
    acceleration = rng.normal(size=(15000, 3))
    acceleration[4000, 0] = np.nan
    good = write_recording(
        tmp_path / "P001.csv.gz", "2016-11-13 02:18:00", acceleration, annotation
    )
    bad = tmp_path / "P002.csv"
    bad.write_text("time,x,y,z,annotation\n2016-11-13 02:18:00.000000,1,2,x,\n")
    for path in (good, bad):
        participant = path.name[:4]
        build_store(path, tmp_path / f"{participant}.zarr", participant, on_error="skip")

    table = quality_table(
        [tmp_path / "P001.zarr", tmp_path / "P002.zarr"], read_dictionary(), "Willetts2018"
    )
    first, second = table.to_dict("records")
    calibration = {key: first.pop(key) for key in list(first) if key.startswith("calibration_")}
    assert not calibration["calibration_applied"]
    assert calibration["calibration_reason"] == (
        "off: a CSV recording (calibrate: auto calibrates device files)"
    )
    assert first == {
        "participant": "P001",
        "rows_read": 15000,
        "hours_recorded": round(15000 / 100 / 3600, 3),
        "hours_annotated": round(12000 / 100 / 3600, 3),
        "windows_kept": 4,  # sleep, walking, the unknown annotation and the unannotated one
        "unannotated": 1,
        "dropped_incomplete": 0,
        "dropped_nan": 1,
        "dropped_infinite": 0,
        "dropped_unknown_annotation": 1,
        "error": "",
        "label_sleep": 1,
        "label_walking": 1,
    }
    assert second["windows_kept"] == 0 and second["label_sleep"] == 0
    assert pd.isna(second["calibration_reason"])  # never read
    assert second["error"] == f"{bad}: line 2, column 'z': 'x' is not a number"
