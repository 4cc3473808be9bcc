"""The reference the recurrent models are measured against: TF-IDF + one-vs-rest logistic
regression on the same split, cleaning and K-fold scheme as `pytrain fit`.

    python benchmarks/baseline_tfidf.py [--data FILE] [--folds 5] [--seeds 0,1,2] [--C 10]

For each seed: K models on K folds of the training part (the course split's 304 non-test texts),
thresholds tuned on the out-of-fold probabilities, the test part scored with the mean
probability of the K models. Prints test macro F1 per threshold mode, and "predict every label".
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold

from pytrain import metrics
from pytrain.cleaning import Cleaner, CleaningConfig
from pytrain.data import LabelSet, find_data, read_tsv, split_indices


def fold_ensemble(texts: np.ndarray, y: np.ndarray, test: np.ndarray, folds: int, seed: int, c: float):
    """(out-of-fold probabilities of the training texts, mean test probabilities)."""
    held_out, test_probs = np.zeros(y.shape), np.zeros((len(test), y.shape[1]))
    for fit_idx, out_idx in KFold(folds, shuffle=True, random_state=seed).split(texts):
        vec = TfidfVectorizer(token_pattern=r"\S+", sublinear_tf=True)
        x = vec.fit_transform(texts[fit_idx])
        for j in np.flatnonzero(y[fit_idx].sum(0) > 0):  # a label with no positive here stays at 0
            lr = LogisticRegression(C=c, class_weight="balanced", max_iter=5000).fit(x, y[fit_idx, j])
            held_out[out_idx, j] = lr.predict_proba(vec.transform(texts[out_idx]))[:, 1]
            test_probs[:, j] += lr.predict_proba(vec.transform(test))[:, 1] / folds
    return held_out, test_probs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--C", type=float, default=10.0, help="inverse L2 strength of the logistic regressions")
    args = ap.parse_args()

    corpus = read_tsv(find_data(args.data))
    labels = LabelSet.from_data(corpus.labels)
    y, _ = labels.encode(corpus.labels)
    split = split_indices(len(corpus.texts))
    train = np.sort(np.concatenate([split.train, split.val]))
    cleaner = Cleaner(CleaningConfig()).fit([corpus.texts[i] for i in train])
    texts = np.array(cleaner.transform_all(corpus.texts), dtype=object)

    every = metrics.scores(y[split.test], np.ones_like(y[split.test]))["macro_f1"]
    print(f"{len(train)} training texts, {len(split.test)} test texts, {len(labels)} labels")
    print(f"predict every label: test macro F1 {every:.3f}")
    results: dict[str, list[float]] = {m: [] for m in metrics.THRESHOLD_MODES}
    for seed in [int(s) for s in args.seeds.split(",")]:
        held_out, test_probs = fold_ensemble(texts[train], y[train], texts[split.test], args.folds, seed, args.C)
        for mode in results:
            th = metrics.tune_thresholds(y[train], held_out, mode)
            results[mode].append(metrics.scores(y[split.test], metrics.predict(test_probs, th))["macro_f1"])
    print(f"TF-IDF + logistic regression (C={args.C}), {args.folds}-fold ensemble, test macro F1 over seeds:")
    for mode, values in results.items():
        print(f"  thresholds {mode:<9}  {np.mean(values):.3f} ± {np.std(values):.3f}   {np.round(values, 3).tolist()}")


if __name__ == "__main__":
    main()
