"""`nested`: what `fit` would score on texts it never saw, estimated without touching the test part.

The training part of the course split is cut into `outer` folds. For each, `fit`'s whole
procedure (cleaning, tokenizer, start vectors, the K-fold ensemble, thresholds tuned on its
out-of-fold predictions) runs on the other folds, and the result labels the held-out fold as it
would the test part. The held-out decisions of all folds are pooled into one macro F1 over every
training text: several times the test part's size, and choices made on it never see the test part.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, replace

import numpy as np

from pytrain.config import FitConfig, add_fit_options, fit_config_from_args, parse_numbers
from pytrain.errors import ConfigError
from pytrain.results import Scores


@dataclass
class NestedResult:
    labels: np.ndarray  # (training texts, labels): every text of the training part, fold by fold
    decisions: np.ndarray  # the same shape: each made by a model that never saw the text
    per_fold: list[float]  # each held-out fold's macro F1
    pooled: Scores


def nested_decisions(cfg: FitConfig, outer: int) -> NestedResult:
    from sklearn.model_selection import KFold, train_test_split

    from pytrain import metrics
    from pytrain.data import Split, find_data, read_tsv, split_indices
    from pytrain.fit import prepare, run_model

    n = len(read_tsv(find_data(cfg.data)).texts[: cfg.limit])
    course = split_indices(n, cfg.test_size, cfg.split_seed, cfg.val_size)
    train = np.sort(np.concatenate([course.train, course.val]))
    if not 2 <= outer <= len(train):
        raise ConfigError("outer", outer, f"needs 2 <= outer <= {len(train)} (the training texts)")
    ys, decisions, per_fold = [], [], []
    for k, (a, b) in enumerate(KFold(outer, shuffle=True, random_state=cfg.seed).split(train)):
        # The held-out fold plays the test part: statistics, ensemble and thresholds come from the rest.
        fit_part, val = train[a], train[:0]
        if cfg.folds == 1:  # one model needs its validation part, carved out as fit does
            fit_part, val = train_test_split(fit_part, test_size=cfg.val_size, random_state=cfg.split_seed)
        prep = prepare(cfg, Split(np.sort(fit_part), np.sort(val), train[b]))
        run = run_model(replace(cfg, seed=cfg.seed + 1000 * k), prep)
        ys.append(run.test_labels)
        decisions.append(run.test_decisions)
        per_fold.append(run.result.test.macro_f1)
        print(f"  outer fold {k + 1}/{outer}: macro F1 {per_fold[-1]:.3f}", flush=True)
    y, d = np.concatenate(ys), np.concatenate(decisions)
    return NestedResult(y, d, per_fold, metrics.scores(y, d))


def cmd_nested(args: argparse.Namespace) -> None:
    base = fit_config_from_args(args)
    seeds = parse_numbers(args.seeds, "seeds")
    for seed in seeds:
        replace(base, seed=seed).validate()
    pooled = []
    for seed in seeds:
        start = time.perf_counter()
        res = nested_decisions(replace(base, seed=seed, progress=False), args.outer)
        pooled.append(res.pooled.macro_f1)
        print(
            f"seed {seed}: pooled held-out macro F1 {res.pooled.macro_f1:.3f} (mean of folds "
            f"{np.mean(res.per_fold):.3f}), micro F1 {res.pooled.micro_f1:.3f}, subset accuracy "
            f"{res.pooled.subset_accuracy:.3f}, {time.perf_counter() - start:.0f}s",
            flush=True,
        )
    print(f"nested macro F1 over seeds: {np.mean(pooled):.3f} ± {np.std(pooled):.3f}  {np.round(pooled, 3).tolist()}")


def add_nested_parser(sub) -> None:
    p = sub.add_parser("nested", help="score fit's settings by nested cross-validation inside the training part")
    add_fit_options(p)
    p.add_argument("--outer", type=int, default=4, help="outer folds over the training part")
    p.add_argument("--seeds", default="0", help="comma-separated seeds (folds, starts and order)")
    p.set_defaults(func=cmd_nested)
