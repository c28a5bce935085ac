import numpy as np
import pytest
import torch
from test_cache import spectrogram_store

from spectrohar.cache import Windows
from spectrohar.model import build_model
from spectrohar.train import fit

CLASSES = ["a", "b", "c"]


def separable(path, n, rng, memory_budget_mb=4000):
    """A store of spectrogram-shaped noise whose class is a bright frequency band."""
    y = rng.integers(0, 3, n)
    x = rng.normal(-6, 1, size=(n, 3, 61, 61)).astype(np.float32)
    for cls in range(3):
        x[y == cls, :, 10 + 15 * cls : 14 + 15 * cls] += 4
    spectrogram_store(path, ["P001"] * n, np.array(CLASSES)[y], x, chunk=32)
    return Windows(path, ["P001"], CLASSES, memory_budget_mb=memory_budget_mb)


def test_fit_learns_and_keeps_the_best_validation_epoch(tmp_path, rng):
    torch.manual_seed(0)
    model = build_model("cnn", n_classes=3, in_channels=3, width=4)
    history, state, best_epoch = fit(
        model,
        separable(tmp_path / "train.zarr", 192, rng, memory_budget_mb=0),
        separable(tmp_path / "validation.zarr", 96, rng),
        max_epochs=4,
        batch_size=32,
        learning_rate=3e-3,
        patience=4,
        monitor="val_loss",
        device=torch.device("cpu"),
        seed=0,
    )
    assert list(history.epoch) == [1, 2, 3, 4]
    assert history.val_kappa.iloc[-1] > 0.8
    assert best_epoch == history.epoch[history.val_loss.idxmin()]
    assert history.selected.tolist() == [e == best_epoch for e in history.epoch]
    assert set(state) == set(model.state_dict())


def test_early_stopping_waits_patience_epochs(tmp_path, rng):
    torch.manual_seed(0)
    model = build_model("cnn", n_classes=3, in_channels=3, width=4)
    history, _, best_epoch = fit(
        model,
        separable(tmp_path / "train.zarr", 64, rng),
        separable(tmp_path / "validation.zarr", 32, rng),
        max_epochs=30,
        batch_size=32,
        learning_rate=0.0,
        patience=2,
        monitor="val_kappa",
        device=torch.device("cpu"),
        seed=0,
    )
    # With a zero learning rate nothing improves after the first epoch.
    assert best_epoch == 1 and len(history) == 3


@pytest.mark.parametrize("shape", [(61, 61), (61, 18), (101, 121)])  # 30 s, 10 s, 60 s windows
def test_the_cnn_gives_one_score_per_class(shape):
    model = build_model("cnn", n_classes=5, in_channels=3, width=4)
    assert model(torch.zeros(2, 3, *shape)).shape == (2, 5)
