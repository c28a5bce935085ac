"""The one look at the test participants: metrics of the predictions table's test rows."""

import json
from pathlib import Path

import pandas as pd
from sklearn import metrics as skm


def score(table: pd.DataFrame) -> dict:
    """Kappa, macro F1, accuracy, balanced accuracy, per-class scores, confusion matrix and kappa
    per participant (None where undefined: one class only) of a predictions table's rows."""
    true, predicted = table.label.to_numpy(), table.predicted.to_numpy()
    participants = table.participant.to_numpy()
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


def build(predictions, metrics, classification_report) -> None:
    """The score rule: the test rows' metrics, with the device that predicted them, and
    sklearn's classification report of them."""
    table = pd.read_parquet(predictions)
    test = table[table.set == "test"]
    scores = {**score(test), "device": table.attrs["device"]}
    Path(metrics).write_text(json.dumps(scores, indent=2))
    Path(classification_report).write_text(
        skm.classification_report(test.label, test.predicted, zero_division=0)
    )
