"""Decision thresholds and the decision rule, against sklearn and by hand."""

import numpy as np
from sklearn.metrics import f1_score

from pytrain import metrics


def random_case(seed: int, n: int = 40, labels: int = 5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random((n, labels)) < 0.3).astype(int)
    probs = np.clip(0.4 * y + 0.6 * rng.random((n, labels)), 0, 1)
    return y, probs


def test_f1_per_threshold_matches_sklearn():
    y, probs = random_case(0)
    y[:, 4] = 0  # a label without positives: F1 0 wherever it is undefined
    table = metrics.f1_per_threshold(y, probs)
    for g, t in enumerate(metrics.GRID):
        expected = f1_score(y, (probs >= t).astype(int), average=None, zero_division=0)
        np.testing.assert_allclose(table[g], expected)


def test_global_threshold_maximises_macro_f1_and_per_label_falls_back_to_it():
    y, probs = random_case(1)
    y[:, 2] = 0
    glob = metrics.tune_thresholds(y, probs, "global")
    assert len(set(glob)) == 1
    best = max(metrics.scores(y, metrics.predict(probs, t)).macro_f1 for t in metrics.GRID)
    assert metrics.scores(y, metrics.predict(probs, glob)).macro_f1 == best
    per = metrics.tune_thresholds(y, probs, "per-label")
    assert per[2] == glob[2]  # no positive to tune on
    for j in (0, 1, 3, 4):
        f1s = [f1_score(y[:, j], probs[:, j] >= t, zero_division=0) for t in metrics.GRID]
        assert f1_score(y[:, j], probs[:, j] >= per[j], zero_division=0) == max(f1s)


def test_at_least_one_gives_a_labelless_text_its_nearest_label_only():
    probs = np.array([[0.1, 0.3, 0.2], [0.9, 0.1, 0.6], [0.0, 0.0, 0.0]])
    thresholds = np.array([0.5, 0.6, 0.25])
    plain = metrics.predict(probs, thresholds)
    assert plain.tolist() == [[0, 0, 0], [1, 0, 1], [0, 0, 0]]
    rule = metrics.predict(probs, thresholds, at_least_one=True)
    # Row 0: 0.2 / 0.25 = 0.8 is the nearest ratio (0.3 / 0.6 = 0.5 is the higher probability).
    assert rule.tolist() == [[0, 0, 1], [1, 0, 1], [1, 0, 0]]
    assert metrics.predict(probs, 0.5, at_least_one=True)[0].tolist() == [0, 1, 0]


def test_an_ensemble_decides_by_a_majority_of_its_members():
    thresholds = np.array([0.5, 0.8])
    members = np.array(
        [
            [[0.6, 0.9], [0.1, 0.1]],
            [[0.7, 0.1], [0.2, 0.3]],
            [[0.3, 0.85], [0.3, 0.7]],
        ]
    )  # (members, texts, labels)
    # Text 0: label 0 chosen by 2 of 3 members, label 1 by 2 of 3 (their mean, 0.62, is below 0.8).
    assert metrics.predict(members, thresholds).tolist() == [[1, 1], [0, 0]]
    assert metrics.predict(members.mean(0), thresholds).tolist() == [[1, 0], [0, 0]]
    # Text 1: nobody chooses anything; the nearest label by mean probability / threshold.
    assert metrics.predict(members, thresholds, at_least_one=True)[1].tolist() == [0, 1]  # 0.2/0.5 < 0.367/0.8
    two = members[:2]  # more than half of two members: both
    assert metrics.predict(two, thresholds).tolist() == [[1, 0], [0, 0]]
