"""Models and smoothings side by side: each metric of a predictions table's rows with a
percentile bootstrap interval over participants, as the Capture-24 benchmark reports them."""

import json
from pathlib import Path

import numpy as np
import pandas as pd

# The metrics of score.score, by the same names.
METRICS = ("kappa", "macro_f1", "accuracy", "balanced_accuracy")


def confusion_matrices(participant, label, predicted, classes) -> np.ndarray:
    """Confusion counts per participant (in order of first appearance), [participant, true,
    predicted] over `classes`; every label and prediction must be one of them."""
    participant = pd.factorize(np.asarray(participant, dtype=object))[0]
    index = pd.Index(classes)
    true, guess = index.get_indexer(np.asarray(label)), index.get_indexer(np.asarray(predicted))
    if (true < 0).any() or (guess < 0).any():
        raise ValueError(f"labels or predictions outside the classes {', '.join(classes)}")
    k = len(classes)
    counts = np.bincount(
        (participant * k + true) * k + guess, minlength=(participant.max() + 1) * k * k
    )
    return counts.reshape(-1, k, k)


def metrics_of(confusion) -> dict[str, np.ndarray]:
    """Each metric of METRICS from confusion matrices [..., true, predicted], as sklearn
    computes it from the windows: macro F1 averages the classes in the truth or the predictions,
    balanced accuracy those in the truth; kappa is NaN where chance agreement is 1."""
    confusion = np.asarray(confusion, dtype=float)
    n = confusion.sum(axis=(-2, -1))
    truth, predicted = confusion.sum(axis=-1), confusion.sum(axis=-2)
    correct = np.diagonal(confusion, axis1=-2, axis2=-1)
    hits = correct.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        chance = (truth * predicted).sum(axis=-1) / n**2
        kappa = (hits / n - chance) / (1 - chance)
        f1 = 2 * correct / (truth + predicted)  # 2 TP / (2 TP + FP + FN)
        recall = correct / truth
    present = (truth + predicted) > 0
    return {
        "kappa": np.where(chance < 1, kappa, np.nan),
        "macro_f1": np.where(present, f1, 0).sum(axis=-1) / present.sum(axis=-1),
        "accuracy": hits / n,
        "balanced_accuracy": np.where(truth > 0, recall, 0).sum(axis=-1) / (truth > 0).sum(axis=-1),
    }


def bootstrap_intervals(table, *, n_resamples=1000, seed, confidence=0.95) -> dict:
    """Estimate (on all rows) and percentile interval of each metric of METRICS over
    `n_resamples` resamples of the table's participants drawn with replacement, each resample
    scored on the pooled windows of the participants drawn (a participant drawn twice counts
    twice). Resamples where kappa is undefined (one class only) are left out of its interval.
    Also the numbers of windows and participants and the resampling settings."""
    if not len(table):
        raise ValueError("no windows to bootstrap")
    label, predicted = table.label.to_numpy(), table.predicted.to_numpy()
    classes = sorted(set(label) | set(predicted))
    per_participant = confusion_matrices(table.participant.to_numpy(), label, predicted, classes)
    n_participants = len(per_participant)
    rng = np.random.default_rng(seed)
    drawn = rng.integers(0, n_participants, size=(n_resamples, n_participants))
    # How often each resample drew each participant, then all resamples' matrices in one product.
    times = np.zeros((n_resamples, n_participants))
    np.add.at(times, (np.arange(n_resamples)[:, None], drawn), 1)
    resampled = metrics_of(np.tensordot(times, per_participant, axes=1))
    estimate = metrics_of(per_participant.sum(axis=0))
    tails = [(1 - confidence) / 2, (1 + confidence) / 2]
    intervals = {}
    for name in METRICS:
        low, high = np.nanquantile(resampled[name], tails)
        intervals[name] = {
            "estimate": float(estimate[name]),
            "low": float(low),
            "high": float(high),
        }
    return {
        **intervals,
        "n_windows": len(table),
        "n_participants": n_participants,
        "n_resamples": n_resamples,
        "confidence": confidence,
    }


def comparison_table(rows) -> pd.DataFrame:
    """One row per (model, smoothing, intervals) of `rows`, intervals as bootstrap_intervals
    gives them: model, smoothing, n_windows, n_participants and each metric with its low and high
    end; the confidence and number of resamples, which all rows must share, in the attrs."""
    rows = list(rows)
    settings = {(intervals["confidence"], intervals["n_resamples"]) for *_, intervals in rows}
    if len(settings) != 1:
        raise ValueError(f"rows need one confidence and number of resamples, not {settings}")
    records = []
    for model, smoothing, intervals in rows:
        record = {"model": model, "smoothing": smoothing}
        record |= {key: intervals[key] for key in ("n_windows", "n_participants")}
        for name in METRICS:
            m = intervals[name]
            record |= {name: m["estimate"], f"{name}_low": m["low"], f"{name}_high": m["high"]}
        records.append(record)
    table = pd.DataFrame.from_records(records)
    table.attrs = dict(zip(("confidence", "n_resamples"), settings.pop(), strict=True))
    return table


def build(metrics, runs, table) -> None:
    """The compare rule: the `metrics` files (metrics.json of the score rule) of the `runs`
    ((model, smoothing) each, in the same order), one row each, written as CSV."""
    rows = [
        (model, smoothing, json.loads(Path(path).read_text())["intervals"])
        for (model, smoothing), path in zip(runs, metrics, strict=True)
    ]
    comparison_table(rows).to_csv(table, index=False)
