"""Store integrity: every chunk is written and checksummed, and a missing or damaged chunk stops
its reader with one sentence naming the store, the array and the chunk."""

import re
import shutil

import google_crc32c
import numpy as np
import pytest
import xarray as xr
import zarr
from conftest import window_store, write_dictionary
from test_cache import as_labels, participant_stores
from test_spectrogram import stage
from test_train import sections

from spectrohar.cache import spectrogram
from spectrohar.cache.layout import AXES, spectrogram_dataset
from spectrohar.cache.reader import Spectrograms
from spectrohar.cache.stores import LAYOUT, open_spectrograms, open_store, reading, write_dataset
from spectrohar.cli import main
from spectrohar.errors import DataError
from spectrohar.evaluation import evaluate
from spectrohar.models import cnn
from spectrohar.report import pages as report
from spectrohar.settings import Labels, Report

CLASSES = ["sit-stand", "sleep", "walking"]
# A store per participant in 16-window chunks: c/0-c/2 of P001 (training), c/0 of P002
# (validation), c/0-c/1 of P101 (test).
PARTICIPANTS = ["P001"] * 48 + ["P002"] * 16 + ["P101"] * 32
# One quick epoch, the splits held in memory.
RULE = {"memory_mb": 8000, "threads": 2}
TRAIN_SETTINGS = {**RULE, **sections(max_epochs=1, batch_size=16)}
EVALUATE_SETTINGS = {**RULE, "device": "cpu", "labels": TRAIN_SETTINGS["labels"]}


def rebuild(path) -> str:
    """What the sentences say to do."""
    return (
        "the store is incomplete or damaged; delete it and rerun snakemake to rebuild it "
        f"(rm -r {path} && snakemake --cores 8)"
    )


def missing(path, array, chunk, count, total) -> str:
    """The whole sentence for `count` missing chunks of `array`, the first `chunk`."""
    absent = f"has no chunk {chunk} ({count} of {total} chunks missing)"
    return f"^{re.escape(f'{path}: array {array!r} {absent}: {rebuild(path)}')}$"


def damaged(path, array, chunk, reason="fails its crc32c checksum") -> str:
    """The whole sentence for a damaged `chunk` of `array`."""
    return f"^{re.escape(f'{path}: array {array!r} chunk {chunk} {reason}: {rebuild(path)}')}$"


def flip_bytes(path, start=None, count=64) -> None:
    """Invert `count` bytes of a file, from its middle unless `start` is given."""
    data = bytearray(path.read_bytes())
    start = len(data) // 2 - count // 2 if start is None else start
    data[start : start + count] = bytes(b ^ 0xFF for b in data[start : start + count])
    path.write_bytes(bytes(data))


def damage_header_under_a_valid_checksum(path) -> None:
    """Damage a chunk's Blosc header as a chunk written damaged would be: its crc32c matches."""
    compressed = bytearray(path.read_bytes()[:-4])
    compressed[:4] = b"\xff" * 4
    path.write_bytes(
        bytes(compressed) + np.uint32(google_crc32c.value(bytes(compressed))).tobytes()
    )


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    """Spectrogram stores whose class is a bright frequency band, a split table and the
    dictionary of the classes."""
    rng = np.random.default_rng(0)
    folder = tmp_path_factory.mktemp("pristine")
    y = rng.integers(0, 3, len(PARTICIPANTS))
    x = rng.normal(-6, 1, size=(len(y), 3, 61, 61)).astype(np.float32)
    for cls in range(3):
        x[y == cls, :, 10 + 15 * cls : 14 + 15 * cls] += 4
    stores = participant_stores(folder / "spectrograms", PARTICIPANTS, np.array(CLASSES)[y], x)
    split = folder / "split.csv"
    split.write_text("participant,set\nP001,train\nP002,validation\nP101,test\n")
    return stores, split, write_dictionary(folder / "dictionary.csv", {c: c for c in CLASSES})


@pytest.fixture
def stores(pristine, tmp_path):
    """A copy of the pristine stores, to damage."""
    folder = shutil.copytree(pristine[0][0].parent, tmp_path / "spectrograms")
    return [folder / path.name for path in pristine[0]]


@pytest.fixture
def store(stores):
    """The test participant's store, to damage."""
    return stores[-1]


@pytest.fixture(scope="module")
def checkpoint(pristine, tmp_path_factory):
    """A model trained for an epoch on the undamaged store."""
    folder = tmp_path_factory.mktemp("trained")
    cnn.fit(*pristine, folder / "model.pt", folder / "history.csv", **TRAIN_SETTINGS)
    return folder / "model.pt"


def test_every_array_is_checksummed_and_every_chunk_written(tmp_path):
    # All zeros and empty strings, so every chunk of the window coordinates holds only its
    # fill value: zarr skips those.
    ds = spectrogram_dataset(
        np.zeros((40, 3, 5, 4)),
        channels=AXES,
        participant=[""] * 40,
        window_start=np.zeros(40, "datetime64[ns]"),
        annotation=[""] * 40,
        n_fft=8,
        hop_length=4,
        window="hann",
        sample_rate=100,
        window_length_s=0.2,
        window_step_s=0.2,
    )
    write_dataset(
        ds.chunk({"window": 16}), tmp_path / "z.zarr", chunks={"spectrogram": (16, 3, 5, 4)}
    )
    arrays = dict(zarr.open_group(tmp_path / "z.zarr", mode="r").arrays())
    assert sorted(arrays) == sorted(ds.variables)
    for name, array in arrays.items():
        assert isinstance(array.compressors[-1], zarr.codecs.Crc32cCodec), name
        assert array.nchunks_initialized == array.nchunks, name
    assert arrays["window_start"].nchunks == 3 and arrays["window_start"].metadata.fill_value == 0
    written = open_store(tmp_path / "z.zarr").load()
    assert set(written.attrs.pop("versions")) >= {"numpy", "zarr"}  # what write_dataset adds
    assert written.attrs.pop("layout") == LAYOUT
    xr.testing.assert_identical(written, ds)


@pytest.mark.filterwarnings("ignore:Consolidated metadata:UserWarning")
@pytest.mark.parametrize("layout", [None, LAYOUT - 1])
def test_a_store_of_an_older_layout_is_refused(store, layout):
    # Written before windows carried their step: its readers would miss window_step_s.
    attrs = zarr.open_group(store, mode="r+").attrs
    if layout is None:
        del attrs["layout"]
    else:
        attrs["layout"] = layout
    zarr.consolidate_metadata(store)
    with pytest.raises(DataError, match=f"layout {layout or 1}, written by an older spectrohar"):
        open_store(store)


@pytest.mark.parametrize(
    ("array", "chunk", "total"), [("spectrogram", "c/1/0/0/0", 2), ("participant", "c/0", 1)]
)
def test_a_store_with_a_missing_chunk_is_not_opened(store, array, chunk, total):
    (store / array / chunk).unlink()
    with pytest.raises(DataError, match=missing(store, array, chunk, 1, total)):
        open_store(store)


def test_every_missing_chunk_is_counted(store):
    for chunk in ("c/1/0/0/0", "c/0/0/0/0"):
        (store / "spectrogram" / chunk).unlink()
    with pytest.raises(DataError, match=missing(store, "spectrogram", "c/0/0/0/0", 2, 2)):
        open_store(store)


def read_with_xarray(stores):
    """The stores' spectrograms as the report and `spectrohar show` read them."""
    with reading(*stores):
        return open_spectrograms(stores).spectrogram.values


READERS = {
    "in memory": lambda stores: Spectrograms(
        stores, ["P101"], CLASSES, as_labels, memory_budget_mb=4000
    ),
    "streamed": lambda stores: list(
        Spectrograms(stores, ["P101"], CLASSES, as_labels, memory_budget_mb=0).batches(
            8, np.random.default_rng(0)
        )
    ),
    "xarray": read_with_xarray,
}


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (flip_bytes, "fails its crc32c checksum"),
        (lambda path: flip_bytes(path, start=0, count=16), "fails its crc32c checksum"),
        (damage_header_under_a_valid_checksum, "cannot be decompressed"),
    ],
    ids=["flipped bytes", "damaged header", "damaged header, valid checksum"],
)
def test_a_damaged_chunk_stops_the_read_naming_it(stores, store, reader, damage, reason):
    damage(store / "spectrogram" / "c/1/0/0/0")
    with pytest.raises(DataError, match=damaged(store, "spectrogram", "c/1/0/0/0", reason)):
        READERS[reader](stores)


def test_a_damaged_coordinate_chunk_stops_the_opening(store):
    flip_bytes(store / "participant" / "c/0", count=8)
    with pytest.raises(DataError, match=damaged(store, "participant", "c/0")):
        open_store(store)


def test_reading_leaves_other_errors_alone(store):
    with pytest.raises(ValueError, match="not a damaged chunk") as raised, reading(store):
        raise ValueError("not a damaged chunk")
    assert not isinstance(raised.value, DataError)


def test_a_path_that_is_no_store_is_one_sentence(tmp_path):
    with pytest.raises(
        DataError, match=rf"^{re.escape(str(tmp_path))}/nowhere.zarr: no such store$"
    ):
        open_store(tmp_path / "nowhere.zarr")
    (tmp_path / "folder").mkdir()
    with pytest.raises(DataError, match=r"folder: not a zarr store \(no zarr v3 group metadata\)$"):
        open_store(tmp_path / "folder")


def test_show_prints_the_sentence(store, capsys):
    flip_bytes(store / "spectrogram" / "c/0/0/0/0")
    folder, png = store.parent, store.parent.parent / "w.png"
    with pytest.raises(SystemExit) as exit:
        main(["show", str(folder), "--window", "70", "--output", str(png)])  # P101's 7th
    assert exit.value.code == 1
    sentence = capsys.readouterr().err.strip()
    assert re.match(
        damaged(store, "spectrogram", "c/0/0/0/0"), sentence.removeprefix("spectrohar: ")
    )
    assert not png.exists()


def test_the_spectrogram_stage_stops_at_a_damaged_window_chunk(tmp_path, rng):
    stores = [tmp_path / f"{p}.zarr" for p in ("P001", "P002")]
    for path in stores:
        window_store(path, path.stem, ["7030 sleeping;MET 0.95"] * 20, rng=rng)
    flip_bytes(stores[1] / "acceleration" / "c/1/0/0")
    with pytest.raises(DataError, match=damaged(stores[1], "acceleration", "c/1/0/0")):
        spectrogram.build(stores[1], tmp_path / "P002-spectrograms.zarr", threads=2, **stage())


def test_the_report_stops_at_a_damaged_example_window(stores, pristine, tmp_path):
    for chunk in (stores[0].parent).rglob("spectrogram/c/**/*"):  # whichever windows are drawn
        if chunk.is_file():
            flip_bytes(chunk)
    names = ("c.csv", "s.json", "h.csv", "m.json", "r.txt", "q.csv")
    comparison, selected, history, metrics, text, qc = (tmp_path / name for name in names)
    comparison.write_text("model,smoothing,n_windows,kappa\ncnn,none,1,0.5\n")
    history.write_text("epoch,selected\n1,True\n")
    selected.write_text('{"run": "cnn/none", "validation_kappa": {"cnn/none": 0.5}}')
    metrics.write_text('{"classes": ["sleep"]}')
    text.write_text("")
    qc.write_text("participant\nP001\n")
    html, examples = tmp_path / "report.html", tmp_path / "spectrogram_examples.png"
    with pytest.raises(DataError, match=damaged(stores[0], "spectrogram", "c/0/0/0/0")):
        report.build(
            stores,
            pristine[2],
            comparison,
            selected,
            {("cnn", "none"): metrics},
            [text],
            {"cnn": history},
            qc,
            {},
            html,
            {"spectrogram_examples": examples},
            report=Report(examples_per_class=2, seed=0),
            labels=Labels(scheme="Test", dictionary=None, unknown="error"),
            config={"compare": {"confidence": 0.95}},
        )
    assert not html.exists() and not examples.exists()


@pytest.mark.parametrize("damage", ["missing", "flipped"])
def test_training_and_prediction_stop_at_a_damaged_store(
    stores, store, pristine, checkpoint, tmp_path, damage
):
    if damage == "missing":  # a store with a missing chunk is not opened, whoever reads it
        (store / "spectrogram" / "c/1/0/0/0").unlink()
        train_error = predict_error = missing(store, "spectrogram", "c/1/0/0/0", 1, 2)
    else:
        for path in (stores[0], store):
            flip_bytes(path / "spectrogram" / "c/1/0/0/0")
        # Training reads the training and validation chunks only, prediction the validation
        # and test ones.
        train_error = damaged(stores[0], "spectrogram", "c/1/0/0/0")
        predict_error = damaged(store, "spectrogram", "c/1/0/0/0")
    split, dictionary = pristine[1:]
    model, history = tmp_path / "model.pt", tmp_path / "history.csv"
    with pytest.raises(DataError, match=train_error):
        cnn.fit(stores, split, dictionary, model, history, **TRAIN_SETTINGS)
    predictions = tmp_path / "predictions.parquet"
    with pytest.raises(DataError, match=predict_error):
        evaluate.build(
            "cnn", stores, split, dictionary, checkpoint, predictions, **EVALUATE_SETTINGS
        )
    assert not any(p.exists() for p in [model, history, tmp_path / "train-state.pt", predictions])
