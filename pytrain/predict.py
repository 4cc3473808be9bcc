"""Using a trained run: `predict` labels new texts, `evaluate` scores a labelled .tsv.
Both apply the run's own cleaning, tokenizer, label list and thresholds, and run on the CPU
(inference over a few thousand texts needs no GPU; the weights load on any machine)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

import numpy as np
import torch

from pytrain import metrics
from pytrain.batching import EncodedDataset, make_loader
from pytrain.data import normalise_text, read_tsv
from pytrain.errors import UserError

if TYPE_CHECKING:
    from pytrain.train import SavedRun


def probabilities(run: SavedRun, texts: list[str], batch_size: int = 32) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(label names, (N, labels) probabilities, thresholds) for raw texts, with a run from `load_run`."""
    from pytrain.train import predict_probs

    clean = run.cleaner.transform_all([normalise_text(t) for t in texts])
    labels = np.zeros((len(texts), len(run.labels)), np.float32)
    ds = EncodedDataset(run.tokenizer.encode_batch(clean), labels, run.max_len)
    probs, _, _ = predict_probs(run.model, make_loader(ds, batch_size, shuffle=False), torch.device("cpu"))
    return run.labels.names, probs, run.thresholds


def cmd_predict(args: argparse.Namespace) -> None:
    from pytrain.train import load_run

    run = load_run(args.run)  # a bad run folder is reported before any input is read
    if args.input == "-":
        lines = sys.stdin.read().splitlines()
    else:
        try:
            with open(args.input, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except (OSError, UnicodeDecodeError) as e:
            raise UserError(f"{args.input}: cannot read: {e}") from None
    texts = [t for t in lines if t.strip()]
    if not texts:
        raise UserError(f"{args.input}: no text to label (one text per line)")
    names, probs, _ = probabilities(run, texts)
    for text, p, d in zip(texts, probs, run.decide(probs), strict=True):
        chosen = [(names[j], p[j]) for j in np.flatnonzero(d)]
        if args.probs:
            print(
                json.dumps(
                    {
                        "text": text[:80],
                        "labels": {n: round(float(q), 4) for n, q in chosen},
                        "probabilities": {n: round(float(q), 4) for n, q in zip(names, p, strict=True)},
                    }
                )
            )
        else:
            print(", ".join(n for n, _ in chosen) or "(no label)")


def cmd_evaluate(args: argparse.Namespace) -> None:
    from pytrain.data import LabelSet
    from pytrain.train import load_run

    run = load_run(args.run)
    corpus = read_tsv(args.data)
    names, probs, _ = probabilities(run, corpus.texts)
    y, unknown = LabelSet(names).encode(corpus.labels)
    if unknown:
        print(f"labels not known to the run (ignored): {', '.join(sorted(unknown))}")
    s = metrics.scores(y, run.decide(probs), names)
    print(
        f"{len(corpus)} texts: macro F1 {s['macro_f1']:.4f} (labels present: {s['macro_f1_present']:.4f}), "
        f"micro F1 {s['micro_f1']:.4f}, subset accuracy {s['subset_accuracy']:.4f}"
    )
    for name, f1 in s["per_label_f1"].items():
        print(f"  {f1:.3f}  {name}")


def add_predict_parsers(sub) -> None:
    p = sub.add_parser("predict", help="label new texts with a trained run")
    p.add_argument("--run", required=True, help="a run folder written by fit")
    p.add_argument("--input", required=True, help="a file with one text per line, or - for stdin")
    p.add_argument("--probs", action="store_true", help="print probabilities as JSON lines")
    p.set_defaults(func=cmd_predict)
    p = sub.add_parser("evaluate", help="score a labelled .tsv with a trained run")
    p.add_argument("--run", required=True)
    p.add_argument("--data", required=True)
    p.set_defaults(func=cmd_evaluate)
