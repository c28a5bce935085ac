"""Hidden Markov model smoothing of per-window predictions, as in the Capture-24 benchmark.

The hidden states are the true classes; the observation of a window is the class the model
predicted for it. Start and transition probabilities are counted from the training participants'
label sequences, emissions from the validation participants' labels against the model's
predictions, and each run of contiguous windows is decoded with the Viterbi algorithm.

Order: every function here takes windows grouped by participant, each participant's windows in
increasing `window_start` (the order the windows and predict stages write them). A run is a
stretch of such windows, each starting exactly one step (the stores' `window_step_s`, the window
length unless windows overlap) after the one before it; the transitions are per step, so the
HMM file names the step and smooths only windows of that step.
"""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from spectrohar.cache.layout import window_length
from spectrohar.cache.stores import open_store
from spectrohar.errors import DataError
from spectrohar.evaluation.evaluate import table_classes
from spectrohar.evaluation.split import split_participants
from spectrohar.sources.labels import labelling

# Added to every start, transition and emission count (add-one, Laplace smoothing): a transition
# or a confusion never seen in the training or validation windows becomes unlikely, not
# impossible, so one unseen event cannot force the decoder off the only path that explains it.
# Against the tens of thousands of windows per class it barely moves the seen probabilities.
PSEUDO_COUNT = 1.0


@dataclass(frozen=True)
class HMM:
    """Probabilities over `classes`, in their order: `start[i]` of a run starting in class i,
    `transition[i, j]` of class j following class i, `emission[i, j]` of the model predicting
    class j for a window of class i."""

    classes: tuple
    start: np.ndarray
    transition: np.ndarray
    emission: np.ndarray


def contiguous_runs(participant, window_start, window_step_s) -> np.ndarray:
    """Run id (0, 1, ...) per window: a new run starts at a new participant or where a window does
    not start exactly `window_step_s` after the one before it. The windows must be grouped by
    participant and in increasing `window_start` within each (ValueError otherwise): the ids
    follow the given order, so that they line up with the caller's rows."""
    participant = pd.factorize(np.asarray(participant, dtype=object))[0]
    if not participant.size:
        return np.zeros(0, np.intp)
    step = np.diff(np.asarray(window_start, dtype="datetime64[ns]"))
    same_participant = participant[1:] == participant[:-1]
    if (same_participant & (step <= np.timedelta64(0, "ns"))).any():
        raise ValueError("windows out of order: a participant's window_start does not increase")
    # Grouped: one change of participant fewer than participants (factorize codes 0 ... n - 1).
    if (~same_participant).sum() != participant.max():
        raise ValueError("windows out of order: a participant's windows are not all together")
    new_run = ~same_participant | (step != window_length(window_step_s))
    return np.r_[0, np.cumsum(new_run)]


def _codes(values, classes) -> np.ndarray:
    """Position of each value in `classes`, -1 for a value outside them."""
    return pd.Index(classes).get_indexer(np.asarray(values, dtype=object))


def _normalised(counts) -> np.ndarray:
    """Counts plus the pseudo-count, as probabilities along the last axis."""
    counts = counts + PSEUDO_COUNT
    return counts / counts.sum(axis=-1, keepdims=True)


def fit_hmm(train_labels, train_runs, validation_labels, validation_predicted, classes) -> HMM:
    """The HMM over `classes`: start and transition probabilities counted from the training
    windows' labels within their runs (contiguous_runs), emissions from the validation windows'
    labels against the classes the model predicted for them.

    Emissions are the row-normalised confusion matrix of predicted classes, not the mean predicted
    probabilities per true class: the decoder observes the predicted class, and the confusion
    matrix estimates exactly how often each class is observed for each true class, whereas mean
    probabilities measure the model's confidence, which a class-weighted, uncalibrated network
    does not match to those frequencies.

    Windows whose label is outside `classes` cannot be a hidden state, so they are left out: no
    transition to or from them is counted, a run starting with one gives no start, and their
    validation predictions give no emission. Every prediction must be one of `classes`.
    """
    classes = tuple(classes)
    k = len(classes)
    state = _codes(train_labels, classes)
    runs = np.asarray(train_runs)
    starts = np.r_[True, runs[1:] != runs[:-1]] if runs.size else np.zeros(0, bool)
    first = state[starts]
    start = np.bincount(first[first >= 0], minlength=k)
    # A pair (previous, next) counts only inside one run and between windows of known classes.
    previous, following = state[:-1], state[1:]
    counted = ~starts[1:] & (previous >= 0) & (following >= 0)
    pairs = np.bincount(previous[counted] * k + following[counted], minlength=k * k)

    truth = _codes(validation_labels, classes)
    predicted = _codes(validation_predicted, classes)
    if (predicted < 0).any():
        raise ValueError(f"validation predictions outside the classes {', '.join(classes)}")
    known = truth >= 0
    confusion = np.bincount(truth[known] * k + predicted[known], minlength=k * k)
    return HMM(
        classes=classes,
        start=_normalised(start),
        transition=_normalised(pairs.reshape(k, k)),
        emission=_normalised(confusion.reshape(k, k)),
    )


def viterbi(log_start, log_transition, log_emission_of_each_window) -> np.ndarray:
    """The most probable state path (state indices) of an HMM with log start probabilities (k,),
    log transition matrix (k, k) and log likelihood of each window's observation (n, k)."""
    log_emission = np.asarray(log_emission_of_each_window)
    n, k = log_emission.shape
    if n == 0:
        return np.zeros(0, np.intp)
    score = log_start + log_emission[0]
    best_previous = np.zeros((n, k), np.intp)
    for t in range(1, n):
        candidates = score[:, None] + log_transition  # [from, to]
        best_previous[t] = candidates.argmax(axis=0)
        score = candidates.max(axis=0) + log_emission[t]
    path = np.empty(n, np.intp)
    path[-1] = score.argmax()
    for t in range(n - 1, 0, -1):
        path[t - 1] = best_previous[t, path[t]]
    return path


def smooth(hmm: HMM, predicted, runs) -> np.ndarray:
    """The smoothed class of each window: the Viterbi path of each run (a stretch of equal ids
    in `runs`) decoded on its own from the predicted classes, so no path crosses a gap.

    Labels are never read: a window whose label is outside the classes is decoded like any other
    from its prediction, and scores as wrong, as its unsmoothed prediction does."""
    observed = _codes(predicted, hmm.classes)
    if (observed < 0).any():
        raise ValueError(f"predictions outside the HMM's classes {', '.join(hmm.classes)}")
    runs = np.asarray(runs)
    log_start, log_transition = np.log(hmm.start), np.log(hmm.transition)
    log_emission = np.log(hmm.emission).T[observed]  # [window, state]
    bounds = np.flatnonzero(runs[1:] != runs[:-1]) + 1
    path = np.concatenate(
        [viterbi(log_start, log_transition, part) for part in np.split(log_emission, bounds)]
    )
    return np.asarray(hmm.classes, dtype=object)[path]


def build(predictions, window_stores, split_table, dictionary, smoothed, hmm_file, *, labels):
    """The smooth rule: a model's `predictions` table smoothed by the HMM fitted on the training
    participants' label sequences (from their window stores among `window_stores`, labelled under
    the `labels` settings with `dictionary`) and on the validation rows' predictions; written with
    `predicted` smoothed (the probabilities stay the model's), and the HMM as JSON."""
    table = pd.read_parquet(predictions)
    classes = table_classes(table)
    label = labelling(dictionary, labels)
    training = set(split_participants(split_table, "train"))
    sequences = []
    for path in window_stores:
        ds = open_store(path)  # its coordinates: no acceleration is read
        if ds.attrs["participant"] in training:
            window_length_s, window_step_s = ds.attrs["window_length_s"], ds.attrs["window_step_s"]
            sequences.append(
                pd.DataFrame(
                    {
                        "participant": ds.participant.values.astype(object),
                        "window_start": ds.window_start.values,
                        "label": label(ds.annotation.values),
                    }
                )
            )
    train = pd.concat(sequences, ignore_index=True)
    validation = table[table.set == "validation"]
    model = fit_hmm(
        train.label,
        contiguous_runs(train.participant, train.window_start, window_step_s),
        validation.label,
        validation.predicted,
        classes,
    )
    parts = []
    for _, rows in table.groupby("set", sort=False):
        runs = contiguous_runs(rows.participant, rows.window_start, window_step_s)
        parts.append(rows.assign(predicted=smooth(model, rows.predicted, runs)))
    out = pd.concat(parts)
    out.attrs = {**table.attrs, "smoothing": "hmm"}
    out.to_parquet(smoothed, index=False)
    Path(hmm_file).write_text(
        json.dumps(
            {
                "classes": list(model.classes),
                "window_length_s": window_length_s,
                "window_step_s": window_step_s,
                **{
                    name: getattr(model, name).tolist()
                    for name in ("start", "transition", "emission")
                },
            },
            indent=2,
        )
    )


def load_hmm(path, classes, window_length_s, window_step_s, model_file) -> HMM:
    """The HMM that the smooth rule saved at `path` (hmm.json), which must be over the `classes`
    and the `window_length_s` windows, `window_step_s` apart, of the model saved at
    `model_file`."""
    try:
        saved = json.loads(Path(path).read_text())
        saved_classes = saved["classes"]
        saved_windows = saved["window_length_s"], saved["window_step_s"]
        k = len(saved_classes)
        shapes = {"start": (k,), "transition": (k, k), "emission": (k, k)}
        arrays = {name: np.asarray(saved[name], float) for name in shapes}
        if not (
            all(isinstance(name, str) for name in saved_classes)
            and all(isinstance(value, int | float) for value in saved_windows)
            and all(arrays[name].shape == shape for name, shape in shapes.items())
            and all(((0 <= array) & (array <= 1)).all() for array in arrays.values())
        ):
            raise ValueError("its classes, windows and probabilities do not fit together")
    # OSError: unreadable; ValueError: no JSON (UnicodeDecodeError and JSONDecodeError are
    # ValueErrors) or no numbers; KeyError, TypeError: JSON of another shape.
    except (OSError, ValueError, KeyError, TypeError) as error:
        reason = f"{type(error).__name__}: {error}"  # not repr: a UnicodeDecodeError's is the file
        raise DataError(
            f"{path}: not read, as it is no HMM the smooth rule saved ({reason})"
        ) from None
    if saved_classes != list(classes) or saved_windows != (window_length_s, window_step_s):
        raise DataError(
            f"{path}: is an HMM over the classes {', '.join(saved_classes)} of "
            f"{saved_windows[0]:g} s windows every {saved_windows[1]:g} s, not over those of the "
            f"model in {model_file} ({', '.join(classes)} of {window_length_s:g} s windows every "
            f"{window_step_s:g} s)"
        )
    return HMM(classes=tuple(saved_classes), **arrays)
