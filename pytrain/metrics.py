"""Multi-label scores and decision thresholds."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import accuracy_score, f1_score

from pytrain.results import Scores

THRESHOLD_MODES = ("fixed", "global", "per-label")
GRID = np.round(np.arange(0.05, 0.951, 0.05), 2)


def scores(y_true: np.ndarray, y_pred: np.ndarray, names: list[str] | None = None) -> Scores:
    """Macro F1 over all labels (the course's number; a label absent from `y_true` and never
    predicted scores 0), macro F1 over the labels present, micro F1, subset accuracy, and
    per-label F1 when `names` are given."""
    y_true, y_pred = np.asarray(y_true, dtype=int), np.asarray(y_pred, dtype=int)
    if len(y_true) == 0:
        return Scores(0.0, 0.0, 0.0, 0.0, 0, 0, {n: 0.0 for n in names or []})
    present = y_true.sum(0) > 0
    per_label = f1_score(y_true, y_pred, average=None, zero_division=0)
    return Scores(
        macro_f1=float(f1_score(y_true, y_pred, average="macro", zero_division=0)),
        macro_f1_present=float(per_label[present].mean()) if present.any() else 0.0,
        micro_f1=float(f1_score(y_true, y_pred, average="micro", zero_division=0)),
        subset_accuracy=float(accuracy_score(y_true, y_pred)),
        labels_present=int(present.sum()),
        texts=len(y_true),
        per_label_f1={n: float(f) for n, f in zip(names, per_label, strict=True)} if names else {},
    )


def predict(probs: np.ndarray, thresholds: np.ndarray | float, at_least_one: bool = False) -> np.ndarray:
    """Multi-hot decisions from (texts, labels) probabilities: each label where its probability
    reaches its threshold. For an ensemble, `probs` is (members, texts, labels): each member
    decides with the thresholds (they were tuned on single members' out-of-fold predictions, so
    they fit single members, not the members' mean, which averaging pulls toward the middle) and
    a label is chosen where more than half of the members choose it. With `at_least_one` (every
    text of the course data has a label), a text where no label is chosen gets the one closest to
    it: the highest probability / threshold (averaged over the members)."""
    probs = np.asarray(probs)
    if probs.ndim == 3:
        pred = ((probs >= thresholds).mean(0) > 0.5).astype(int)
        closeness = (probs / thresholds).mean(0)
    else:
        pred = (probs >= thresholds).astype(int)
        closeness = probs / thresholds
    if at_least_one and pred.size:
        empty = pred.sum(1) == 0
        nearest = np.argmax(closeness, axis=1)
        pred[empty, nearest[empty]] = 1
    return pred


def f1_per_threshold(y_true: np.ndarray, probs: np.ndarray, grid: np.ndarray = GRID) -> np.ndarray:
    """(len(grid), labels) F1 of each label at each threshold, 0 where it is undefined
    (as sklearn's zero_division=0)."""
    y = y_true.astype(bool)[None]
    pred = probs[None] >= grid[:, None, None]
    tp = (pred & y).sum(1)
    fp = (pred & ~y).sum(1)
    fn = (~pred & y).sum(1)
    denom = 2 * tp + fp + fn
    return np.divide(2 * tp, denom, out=np.zeros(denom.shape), where=denom > 0)


def tune_thresholds(y_true: np.ndarray, probs: np.ndarray, mode: str) -> np.ndarray:
    """Thresholds chosen on validation data: `fixed` 0.5; `global` one value for all labels
    maximising macro F1; `per-label` each label's own best F1, falling back to the global
    value where the validation part has no positive example of the label."""
    n = y_true.shape[1]
    if mode not in THRESHOLD_MODES:
        raise ValueError(f"unknown threshold mode {mode!r}")
    if mode == "fixed":
        return np.full(n, 0.5)
    f1 = f1_per_threshold(y_true, probs)
    # Ties go to the threshold nearest 0.5: less tuned, less overfitted to a small validation part.
    closeness = -np.abs(GRID - 0.5) * 1e-9
    best_global = GRID[int(np.argmax(f1.mean(1) + closeness))]
    out = np.full(n, best_global)
    if mode == "per-label":
        present = y_true.sum(0) > 0
        out[present] = GRID[np.argmax(f1[:, present] + closeness[:, None], axis=0)]
    return out
