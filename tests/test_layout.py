import json

import numpy as np
import pytest

from spectrohar.cache.layout import (
    UNANNOTATED,
    participant_windows,
    spectrogram_dataset,
    window_dataset,
)

WINDOWS = {
    "sample_rate": 100,
    "window_length_s": 30,
    "window_step_s": 30,
    "rows_read": 6000,
    "hours_recorded": 0.5,
    "hours_annotated": 0.25,
}
STFT = {
    "n_fft": 120,
    "hop_length": 48,
    "window": "hann",
    "sample_rate": 100,
    "window_length_s": 30,
    "window_step_s": 30,
}


def two_windows(annotation=("sleep", "walking"), **attrs):
    return window_dataset(
        np.zeros((2, 3000, 3), np.float32),
        np.array(["2016-11-13T02:18", "2016-11-13T02:18:30"], "datetime64[s]"),
        list(annotation),
        **{**WINDOWS, **attrs},
    )


def test_the_window_store_says_what_it_holds():
    ds = participant_windows(two_windows(windows_dropped={"nan": np.int64(3)}), "P001", "a.csv")
    assert ds.acceleration.dims == ("window", "sample", "axis")
    assert ds.acceleration.attrs["units"] == "g"
    assert list(ds.axis.values) == ["x", "y", "z"]
    assert ds.window_start.dtype == np.dtype("datetime64[ns]")
    assert list(ds.participant.values) == ["P001", "P001"]
    # Every reason counted, as plain ints that the store's JSON attributes hold.
    assert ds.attrs["windows_dropped"] == {"incomplete": 0, "nan": 3, "infinite": 0}
    json.dumps(ds.attrs)
    assert ds.attrs["windows_kept"] == 2 and ds.attrs["windows_unannotated"] == 0
    assert ds.attrs["rows_read"] == 6000
    assert (ds.attrs["window_length_s"], ds.attrs["window_step_s"]) == (30, 30)
    assert (ds.attrs["hours_recorded"], ds.attrs["hours_annotated"]) == (0.5, 0.25)
    assert ds.attrs["participant"] == "P001" and ds.attrs["source"] == "a.csv"


def test_a_drop_reason_outside_the_layout_is_refused():
    with pytest.raises(ValueError, match=r"no such drop reason: \['missing'\]"):
        two_windows(windows_dropped={"nan": 1, "missing": 2})
    # Unannotated windows are kept, not dropped.
    with pytest.raises(ValueError, match=r"no such drop reason: \['unannotated'\]"):
        two_windows(windows_dropped={"unannotated": 1})


def test_unannotated_windows_are_kept_and_counted():
    ds = two_windows(annotation=[UNANNOTATED, "walking"], windows_dropped={})
    assert list(ds.annotation.values) == ["", "walking"]
    assert ds.attrs["windows_kept"] == 2 and ds.attrs["windows_unannotated"] == 1


def test_the_spectrogram_stores_axes_follow_from_the_stft():
    ds = spectrogram_dataset(
        np.zeros((2, 2, 61, 61), np.float16),
        channels=["x", "norm"],
        participant=["P001", "P002"],
        window_start=np.zeros(2, "datetime64[ns]"),
        annotation=["7030 sleeping;MET 0.95"] * 2,
        **STFT,
    )
    assert ds.spectrogram.dims == ("window", "channel", "frequency", "frame")
    assert ds.spectrogram.dtype == np.float16
    assert list(ds.channel.values) == ["x", "norm"] == ds.attrs["channels"]
    assert ds.frequency.attrs["units"] == "Hz" and ds.frame.attrs["units"] == "s"
    np.testing.assert_allclose(ds.frequency.values, np.arange(61) * 100 / 120)
    # The first 120-sample frame is centred 60 samples in; frames are 48 samples apart.
    np.testing.assert_allclose(ds.frame.values, 0.6 + 0.48 * np.arange(61))
    assert ds.attrs["n_fft"] == 120
    assert "label" not in ds.coords and "label_scheme" not in ds.attrs  # labels are not cached


def test_spectrograms_that_do_not_fit_the_stft_are_refused():
    with pytest.raises(ValueError, match="5 frequencies, but an n_fft of 120 gives 61"):
        spectrogram_dataset(
            np.zeros((1, 1, 5, 4)),
            channels=["x"],
            participant=["P001"],
            window_start=np.zeros(1, "datetime64[ns]"),
            annotation=["sleep"],
            **STFT,
        )
