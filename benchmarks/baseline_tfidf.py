"""The reference the recurrent models are measured against: TF-IDF + one-vs-rest logistic
regression on the same split, cleaning and K-fold scheme as `pytrain fit`.

    python benchmarks/baseline_tfidf.py [--data FILE] [--folds 5] [--seeds 0,1,2] [--C 10] [--nested 4]
                                        [--features words|words+chars]

For each seed: K models on K folds of the training part (the course split's 304 non-test texts),
thresholds tuned on the out-of-fold probabilities, the test part scored with the mean
probability of the K models, with fit's decision rule (at least one label per text). Prints test
macro F1 per threshold mode, and "predict every label"; `--nested 4` also the nested
cross-validation score of `python -m pytrain nested`, for comparison on the same footing.

Features: `words` (the default), TF-IDF of the cleaned words; `words+chars`, the strongest linear
model measured here: TF-IDF of word 1-2-grams (in >= 2 texts) beside TF-IDF of character 2-5-grams
within words (in >= 2 texts, the 300,000 most frequent), about 5 times slower.
"""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

import numpy as np
from scipy.sparse import hstack
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold

from pytrain import metrics
from pytrain.cleaning import Cleaner, CleaningConfig
from pytrain.config import MAX_SEED
from pytrain.data import LabelSet, find_data, read_tsv, split_indices
from pytrain.errors import UserError

FEATURES = ("words", "words+chars")


def vectorizers(features: str) -> list[TfidfVectorizer]:
    if features not in FEATURES:
        raise ValueError(f"features must be one of {', '.join(FEATURES)}, not {features!r}")
    if features == "words":
        return [TfidfVectorizer(token_pattern=r"\S+", sublinear_tf=True)]
    return [
        TfidfVectorizer(token_pattern=r"\S+", sublinear_tf=True, ngram_range=(1, 2), min_df=2),
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2, max_features=300_000),
    ]


def fold_ensemble(
    texts: np.ndarray, y: np.ndarray, test: np.ndarray, folds: int, seed: int, c: float, features: str = "words"
):
    """(out-of-fold probabilities of the training texts, mean test probabilities)."""
    held_out, test_probs = np.zeros(y.shape), np.zeros((len(test), y.shape[1]))
    for fit_idx, out_idx in KFold(folds, shuffle=True, random_state=seed).split(texts):
        vecs = vectorizers(features)
        x = hstack([v.fit_transform(texts[fit_idx]) for v in vecs]).tocsr()
        x_out = hstack([v.transform(texts[out_idx]) for v in vecs]).tocsr()
        x_test = hstack([v.transform(test) for v in vecs]).tocsr()
        for j in np.flatnonzero(y[fit_idx].sum(0) > 0):  # a label with no positive here stays at 0
            lr = LogisticRegression(C=c, class_weight="balanced", max_iter=5000).fit(x, y[fit_idx, j])
            held_out[out_idx, j] = lr.predict_proba(x_out)[:, 1]
            test_probs[:, j] += lr.predict_proba(x_test)[:, 1] / folds
    return held_out, test_probs


def decisions(corpus, y: np.ndarray, fit_idx: np.ndarray, eval_idx: np.ndarray, args, seed: int) -> dict:
    """{threshold mode: decisions on `eval_idx`}, everything learned from `fit_idx` alone, as `fit` does."""
    cleaner = Cleaner(CleaningConfig()).fit([corpus.texts[i] for i in fit_idx])
    texts = np.array(cleaner.transform_all(corpus.texts), dtype=object)
    held_out, probs = fold_ensemble(
        texts[fit_idx], y[fit_idx], texts[eval_idx], args.folds, seed, args.C, args.features
    )
    out = {}
    for mode in metrics.THRESHOLD_MODES:
        th = metrics.tune_thresholds(y[fit_idx], held_out, mode)
        out[mode] = metrics.predict(probs, th, args.at_least_one)
    return out


def nested(corpus, y: np.ndarray, train: np.ndarray, args, seed: int) -> dict:
    """{threshold mode: pooled held-out decisions over `train`} (as `python -m pytrain nested`)."""
    pooled = {m: np.zeros((len(train), y.shape[1]), dtype=int) for m in metrics.THRESHOLD_MODES}
    for a, b in KFold(args.nested, shuffle=True, random_state=seed).split(train):
        for mode, d in decisions(corpus, y, train[a], train[b], args, seed).items():
            pooled[mode][b] = d
    return pooled


def fail(message: str) -> NoReturn:
    """Bad input: one line, status 2, before any work."""
    print(f"baseline_tfidf.py: error: {message}", file=sys.stderr)
    sys.exit(2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.error = fail  # argparse's own errors (an unknown option, a bad choice) as one line too
    ap.add_argument("--data")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--C", type=float, default=10.0, help="inverse L2 strength of the logistic regressions")
    ap.add_argument("--features", choices=FEATURES, default="words", help="see above")
    ap.add_argument("--no-at-least-one", dest="at_least_one", action="store_false", help="as fit's option")
    ap.add_argument(
        "--nested",
        type=int,
        metavar="OUTER",
        help="also score nested cross-validation over the training part with OUTER folds (as pytrain nested)",
    )
    args = ap.parse_args()
    if args.folds < 2:
        fail(f"--folds {args.folds}: must be at least 2")
    if not args.C > 0 or not np.isfinite(args.C):
        fail(f"--C {args.C}: must be a positive number")
    if args.nested is not None and args.nested < 2:
        fail(f"--nested {args.nested}: must be at least 2")
    try:
        seeds = [int(s) for s in args.seeds.split(",")]
    except ValueError:
        fail(f"--seeds {args.seeds!r}: must be integers joined by commas")
    if any(not 0 <= s <= MAX_SEED for s in seeds):
        fail(f"--seeds {args.seeds!r}: each seed must be in [0, 2**32)")
    try:
        corpus = read_tsv(find_data(args.data))
    except UserError as e:
        fail(str(e))
    labels = LabelSet.from_data(corpus.labels)
    y, _ = labels.encode(corpus.labels)
    split = split_indices(len(corpus.texts))
    train = np.sort(np.concatenate([split.train, split.val]))
    every = metrics.scores(y[split.test], np.ones_like(y[split.test])).macro_f1
    print(f"{len(train)} training texts, {len(split.test)} test texts, {len(labels)} labels")
    print(f"predict every label: test macro F1 {every:.3f}")
    # The test texts whose exact text is not in the training part (the data repeats some rows).
    seen = {corpus.texts[i] for i in train}
    unseen = np.array([corpus.texts[i] not in seen for i in split.test])
    print(f"{unseen.sum()} of the test texts are not in the training part")
    # Each part: (name, decisions for a seed, true labels, rows of them to score, named).
    parts = [("test", lambda seed: decisions(corpus, y, train, split.test, args, seed), y[split.test])]
    if args.nested:
        parts.append(
            (f"nested ({args.nested} outer folds)", lambda seed: nested(corpus, y, train, args, seed), y[train])
        )
    for part, run, truth in parts:
        scopes = {part: slice(None)}
        if part == "test":
            scopes["test texts not in the training part"] = unseen
        results = {(scope, m): [] for scope in scopes for m in metrics.THRESHOLD_MODES}
        for seed in seeds:
            for mode, d in run(seed).items():
                for scope, rows in scopes.items():
                    results[scope, mode].append(metrics.scores(truth[rows], d[rows]).macro_f1)
        for scope in scopes:
            print(
                f"TF-IDF ({args.features}) + logistic regression (C={args.C}), {args.folds}-fold ensemble, {scope}, "
                "macro F1 over seeds:"
            )
            for mode in metrics.THRESHOLD_MODES:
                values = results[scope, mode]
                spread = f"{np.mean(values):.3f} ± {np.std(values):.3f}"
                print(f"  thresholds {mode:<9}  {spread}   {np.round(values, 3).tolist()}")


if __name__ == "__main__":
    main()
