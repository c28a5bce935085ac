"""The one look at the test participants: metrics of a predictions table's test rows."""

import json
from pathlib import Path

import pandas as pd
from sklearn import metrics as skm

from spectrohar.evaluation.compare import bootstrap_intervals
from spectrohar.evaluation.split import read_table


def kappa(true, predicted) -> float | None:
    """Cohen's kappa, None where it is undefined: one class only among labels and predictions."""
    if len(set(true) | set(predicted)) == 1:
        return None
    return float(skm.cohen_kappa_score(true, predicted))


def score(table: pd.DataFrame) -> dict:
    """Kappa, macro F1, accuracy, balanced accuracy, per-class scores, confusion matrix and kappa
    per participant (None where undefined: one class only) of a predictions table's rows."""
    true, predicted = table.label.to_numpy(), table.predicted.to_numpy()
    participants = table.participant.to_numpy()
    classes = sorted(set(true) | set(predicted))
    per_participant = {
        participant: kappa(
            true[participants == participant], predicted[participants == participant]
        )
        for participant in sorted(set(participants))
    }
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


def group_scores(table: pd.DataFrame, participants: pd.DataFrame) -> dict:
    """Kappa of a predictions table's rows per group of each metadata column of `participants`
    (the split table: participant, set and metadata columns), with the group's participants and
    windows; kappa None where undefined (one class only)."""
    groups = {}
    for column in participants.columns.drop(["participant", "set"]):
        group_of = participants.set_index("participant")[column].astype(str)
        rows = []
        for group, members in table.groupby(table.participant.map(group_of)):
            rows.append(
                {
                    "group": group,
                    "participants": members.participant.nunique(),
                    "windows": len(members),
                    "kappa": kappa(members.label, members.predicted),
                }
            )
        groups[column] = rows
    return groups


def build(
    predictions, split_table, metrics, classification_report, *, resamples, confidence, seed
) -> None:
    """The score rule: the test rows' metrics, with bootstrap confidence intervals by participant
    (`resamples` seeded by `seed`, at `confidence`), per group of the split table's metadata
    columns, with the device that predicted them, and sklearn's classification report."""
    table = pd.read_parquet(predictions)
    test = table[table.set == "test"]
    participants = read_table(split_table)
    scores = {
        **score(test),
        "intervals": bootstrap_intervals(
            test, n_resamples=resamples, seed=seed, confidence=confidence
        ),
        "groups": group_scores(test, participants),
        "device": table.attrs["device"],
    }
    Path(metrics).write_text(json.dumps(scores, indent=2))
    Path(classification_report).write_text(
        skm.classification_report(test.label, test.predicted, zero_division=0)
    )
