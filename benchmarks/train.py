"""Training throughput, in one process on one device: the tutorial's loop against the pipeline's.

(a) the tutorial's loop: batches of 32 drawn from in-memory windows, torch.stft per batch, the
    CNN at width 32, Adam;
(b) the pipeline's training epoch (`spectrohar.models.training.fit_network`) on the cached
    spectrograms of the same windows, held in memory (on a GPU: in device memory as float16), at
    --batch-size, with the levers asked for (--mixed-precision, --channels-last), so each is
    measured on its own.

    python benchmarks/train.py --windows 20000 --device auto

prints windows/s for each and the ratio (b)/(a). Windows are gravity plus noise; throughput does
not depend on what they show.
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from spectrohar.cache.layout import AXES, spectrogram_dataset
from spectrohar.cache.reader import Spectrograms
from spectrohar.cache.spectrogram import window_spectrograms
from spectrohar.cache.stores import write_dataset
from spectrohar.models.network import CNN
from spectrohar.models.training import fit_network, resolve_device

STFT = {"n_fft": 120, "hop_length": 48, "window": "hann"}
CLASSES = ["a", "b", "c", "d", "e", "f"]


def notebook_epoch(x, y, device, rng) -> float:
    """One epoch of the tutorial's loop; windows/s."""
    torch.manual_seed(0)
    model = CNN(n_classes=len(CLASSES), in_channels=3, width=32).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-4)
    window = torch.hann_window(120).to(device)
    start = time.perf_counter()
    order = rng.permutation(len(x))
    for i in range(0, len(x), 32):
        index = order[i : i + 32]
        batch = torch.from_numpy(np.transpose(x[index], (0, 2, 1)).astype("f4"))
        z = torch.stft(
            batch.reshape(-1, batch.shape[-1]).to(device),
            n_fft=120,
            hop_length=48,
            window=window,
            center=False,
            return_complex=True,
        )
        z = torch.log(z.abs() + 1e-16).view(*batch.shape[:2], *z.shape[1:])
        loss = F.cross_entropy(model(z), torch.from_numpy(y[index]).to(device))
        model.zero_grad()
        loss.backward()
        optimizer.step()
        loss.item()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return len(x) / (time.perf_counter() - start)


def as_labels(annotations):
    """The labelling of a store whose annotations are its labels."""
    return np.asarray(annotations, dtype=object)


def pipeline_epoch(store, device, batch_size, **levers) -> float:
    """One epoch of models.training.fit_network on the cache; windows/s of its training pass."""
    torch.manual_seed(0)
    model = CNN(n_classes=len(CLASSES), in_channels=3, width=32).to(device)
    # The stores' annotations are their labels; both splits held in memory.
    train, validation = (
        Spectrograms([store], [participant], CLASSES, as_labels, memory_budget_mb=2**20)
        for participant in ("P001", "P002")
    )
    history, _, _ = fit_network(
        model,
        train,
        validation,
        max_epochs=1,
        batch_size=batch_size,
        learning_rate=3e-4 * batch_size / 32,
        patience=1,
        monitor="val_loss",
        device=device,
        seed=0,
        **levers,
    )
    return history.windows_per_s.iloc[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=5000)
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--mixed-precision", action="store_true")
    parser.add_argument("--channels-last", action="store_true")
    args = parser.parse_args()
    device = resolve_device(args.device)
    rng = np.random.default_rng(0)
    x = (rng.normal(0, 0.05, (args.windows, 3000, 3)) + [0, 0, 1]).astype(np.float32)
    y = rng.integers(0, len(CLASSES), args.windows)
    with tempfile.TemporaryDirectory() as folder:
        store = Path(folder) / "spectrograms.zarr"
        n_validation = 256
        participants = ["P001"] * args.windows + ["P002"] * n_validation
        cache = window_spectrograms(
            np.concatenate([x, x[:n_validation]]),
            axes=AXES,
            channels=AXES,
            dtype=np.float32,
            **STFT,
        )
        labels = np.array(CLASSES)[np.concatenate([y, y[:n_validation]])]
        ds = spectrogram_dataset(
            cache,
            channels=AXES,
            participant=participants,
            window_start=np.zeros(len(cache), "datetime64[ns]"),
            annotation=labels,
            sample_rate=100,
            window_length_s=30,
            **STFT,
        )
        write_dataset(ds, store, chunks={"spectrogram": (256, 3, 61, 61)})
        notebook = notebook_epoch(x, y, device, rng)
        pipeline = pipeline_epoch(
            store,
            device,
            args.batch_size,
            mixed_precision=args.mixed_precision,
            channels_last=args.channels_last,
        )
    name = (
        torch.cuda.get_device_name()
        if device.type == "cuda"
        else f"cpu, {torch.get_num_threads()} threads"
    )
    print(f"device: {name}; {args.windows} windows, 3 x 61 x 61, CNN width 32")
    ratio = pipeline / notebook
    print(f"(a) notebook loop (batch 32): {notebook:.0f} windows/s")
    levers = f"mixed precision {args.mixed_precision}, channels-last {args.channels_last}"
    print(f"(b) pipeline (batch {args.batch_size}, {levers}): {pipeline:.0f} windows/s, ", end="")
    print(f"{ratio:.2f}x (a)")


if __name__ == "__main__":
    main()
