"""The one look at the test participants: predictions and metrics of the selected model."""

import json

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from spectrohar.errors import DataError
from spectrohar.models import build_model, load_saved, predict, resolve_device, split_windows


def score(true, predicted, participants) -> dict:
    """Kappa, macro F1, accuracy, balanced accuracy, per-class scores, confusion matrix and kappa
    per participant (None where undefined: one class only) of label arrays."""
    classes = sorted(set(true) | set(predicted))
    per_participant = {}
    for participant in sorted(set(participants)):
        mine = participants == participant
        one_class = len(set(true[mine]) | set(predicted[mine])) == 1
        per_participant[participant] = (
            None if one_class else float(skm.cohen_kappa_score(true[mine], predicted[mine]))
        )
    return {
        "kappa": skm.cohen_kappa_score(true, predicted),
        "macro_f1": skm.f1_score(true, predicted, average="macro", zero_division=0),
        "accuracy": skm.accuracy_score(true, predicted),
        "balanced_accuracy": skm.balanced_accuracy_score(true, predicted),
        "classes": classes,
        "confusion_matrix": skm.confusion_matrix(true, predicted, labels=classes).tolist(),
        "per_class": skm.classification_report(
            true, predicted, labels=classes, output_dict=True, zero_division=0
        ),
        "per_participant_kappa": per_participant,
        "n_windows": len(true),
    }


def build(
    spectrograms, split_table, checkpoint, predictions, metrics, report, *, device, memory_budget_mb
) -> None:
    """The evaluate rule: predict every test window, write predictions and metrics."""
    saved = load_saved(checkpoint, map_location="cpu")
    device = resolve_device(device)
    model = build_model(
        n_classes=len(saved["classes"]), in_channels=saved["in_channels"], **saved["model"]
    )
    model.load_state_dict(saved["state_dict"])
    model.to(device)

    test = split_windows(
        spectrograms, split_table, "test", saved["classes"], memory_budget_mb=memory_budget_mb
    )
    probabilities = predict(model, test, batch_size=1024, device=device).softmax(dim=1).numpy()
    non_finite = ~np.isfinite(probabilities).all(axis=1)
    if non_finite.any():  # argmax would quietly predict the first class
        first = test.coords.isel(window=np.flatnonzero(non_finite)[0])
        raise DataError(
            f"{spectrograms}: the model in {checkpoint} gives non-finite probabilities for "
            f"{non_finite.sum()} of {len(test)} test windows (the first: {first.participant.item()}"
            f" at {pd.Timestamp(first.window_start.item())}); check the store with "
            "`spectrohar inspect`"
        )

    classes = np.asarray(saved["classes"], dtype=object)
    table = pd.DataFrame(
        {
            "participant": test.coords.participant.values.astype(object),
            "window_start": test.coords.window_start.values,
            "label": test.coords.label.values.astype(object),
            "predicted": classes[probabilities.argmax(axis=1)],
        }
    )
    for i, name in enumerate(classes):
        table[f"probability_{name}"] = probabilities[:, i]
    table.to_parquet(predictions, index=False)

    scores = score(table.label.to_numpy(), table.predicted.to_numpy(), table.participant.to_numpy())
    scores["device"] = str(device)
    with open(metrics, "w") as f:
        json.dump(scores, f, indent=2)
    with open(report, "w") as f:
        f.write(skm.classification_report(table.label, table.predicted, zero_division=0))
