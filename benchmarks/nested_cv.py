"""What `fit` would score on texts it never saw, estimated without touching the test part:
nested cross-validation over the course split's training part.

    python benchmarks/nested_cv.py [fit options] [--outer 4] [--seeds 0]
    python benchmarks/nested_cv.py --pool meanmax --hidden 256

The training part (304 texts here) is cut into `--outer` folds. For each, `fit`'s whole
procedure (cleaning, tokenizer, start vectors, the K-fold ensemble, thresholds tuned on its
out-of-fold predictions) runs on the other folds, and the ensemble labels the held-out fold
as it would the test part. The held-out decisions of all folds are pooled into one macro F1
over every training text: four times the test part's size, so choices made on it are less at
the mercy of a few rare labels than choices made on 77 test texts, and they never see those.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np
from sklearn.model_selection import KFold, train_test_split

from pytrain import metrics
from pytrain.batching import make_loader
from pytrain.cli import add_fit_options, fit_config_from_args
from pytrain.data import Split, find_data, read_tsv, split_indices
from pytrain.train import FitConfig, pick_device, predict_probs, prepare, run_model


def nested_decisions(cfg: FitConfig, outer: int) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """(true labels, held-out decisions) over the whole training part, and each fold's macro F1."""
    n = len(read_tsv(find_data(cfg.data)).texts[: cfg.limit])
    course = split_indices(n, cfg.test_size, cfg.split_seed, cfg.val_size)
    train = np.sort(np.concatenate([course.train, course.val]))
    ys, decisions, per_fold = [], [], []
    for k, (a, b) in enumerate(KFold(outer, shuffle=True, random_state=cfg.seed).split(train)):
        # The held-out fold plays the test part: statistics, ensemble and thresholds come from the rest.
        fit_part, val = train[a], train[:0]
        if cfg.folds == 1:  # one model needs its validation part, carved out as fit does
            fit_part, val = train_test_split(fit_part, test_size=cfg.val_size, random_state=cfg.split_seed)
        prep = prepare(cfg, Split(np.sort(fit_part), np.sort(val), train[b]))
        model, result, _ = run_model(replace(cfg, seed=cfg.seed + 1000 * k), prep)
        loader = make_loader(prep.test, cfg.batch_size, False)
        probs, y, _ = predict_probs(model, loader, pick_device(cfg.device))
        thresholds = np.array([result["thresholds"][name] for name in prep.labels.names])
        ys.append(y)
        decisions.append(metrics.predict(probs, thresholds, cfg.at_least_one))
        per_fold.append(result["macro_f1"])
        print(f"  outer fold {k + 1}/{outer}: macro F1 {result['macro_f1']:.3f}", flush=True)
    return np.concatenate(ys), np.concatenate(decisions), per_fold


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_fit_options(ap)
    ap.add_argument("--outer", type=int, default=4, help="outer folds over the training part")
    ap.add_argument("--seeds", default="0", help="comma-separated seeds (folds, starts and order)")
    args = ap.parse_args()
    if args.outer < 2:
        ap.error(f"--outer {args.outer}: needs at least 2 folds")
    base = fit_config_from_args(args)
    pooled = []
    for seed in [int(s) for s in args.seeds.split(",")]:
        start = time.perf_counter()
        y, decisions, per_fold = nested_decisions(replace(base, seed=seed, progress=False), args.outer)
        s = metrics.scores(y, decisions)
        pooled.append(s["macro_f1"])
        print(
            f"seed {seed}: pooled held-out macro F1 {s['macro_f1']:.3f} (mean of folds {np.mean(per_fold):.3f}), "
            f"micro F1 {s['micro_f1']:.3f}, subset accuracy {s['subset_accuracy']:.3f}, "
            f"{time.perf_counter() - start:.0f}s",
            flush=True,
        )
    print(f"nested macro F1 over seeds: {np.mean(pooled):.3f} ± {np.std(pooled):.3f}  {np.round(pooled, 3).tolist()}")


if __name__ == "__main__":
    main()
