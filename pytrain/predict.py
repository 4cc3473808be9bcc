"""Using a trained run: `predict` labels new texts, `evaluate` scores a labelled .tsv.
Both apply the run's own cleaning, tokenizer, length limit, label list, thresholds and decision
rule, and run on the CPU (the weights load on any machine). Texts are batched by a token
budget, longest first, so memory stays bounded whatever the input's lengths."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

import numpy as np

from pytrain.data import normalise_text, read_tsv
from pytrain.errors import UserError

if TYPE_CHECKING:
    from pytrain.runs import SavedRun

MAX_TOKENS = 16_384  # tokens (texts x longest) per inference batch


def clean_texts(run: SavedRun, texts: list[str]) -> list[str]:
    """Raw texts as the run's training saw them: normalised and cleaned, keeping at most the run's
    length limit of words (each word is at least one token, and a huge text is never split into
    millions of strings). A text that keeps no word is labelled from <unk>."""
    return run.cleaner.transform_all([normalise_text(t) for t in texts], limit=run.max_len)


def probabilities(run: SavedRun, texts: list[str], max_tokens: int = MAX_TOKENS) -> np.ndarray:
    """(texts, labels) probabilities for raw texts, in their order; (members, texts, labels) for
    an ensemble (`run.decide` takes either)."""
    return probabilities_of_clean(run, clean_texts(run, texts), max_tokens)


def probabilities_of_clean(run: SavedRun, clean: list[str], max_tokens: int = MAX_TOKENS) -> np.ndarray:
    """`probabilities` of texts already passed through `clean_texts`."""
    import torch

    from pytrain.batching import EncodedDataset
    from pytrain.train import predict_probs

    ds = EncodedDataset(run.tokenizer.encode_batch(clean), np.zeros((len(clean), len(run.labels))), run.max_len)
    return predict_probs(run.model, ds, torch.device("cpu"), max_tokens).probs


def read_lines(source: str) -> list[str]:
    """The non-blank lines of a file, or of standard input for "-", decoded as strict UTF-8."""
    try:
        raw = sys.stdin.buffer.read() if source == "-" else open(source, "rb").read()  # noqa: SIM115
    except OSError as e:
        raise UserError(f"{source}: cannot read: {e.strerror or e}") from None
    name = "<stdin>" if source == "-" else source
    lines = raw.removeprefix(b"\xef\xbb\xbf").split(b"\n")
    texts = []
    for n, line in enumerate(lines, 1):
        try:
            text = line.decode("utf-8").rstrip("\r")
        except UnicodeDecodeError as e:
            raise UserError(f"{name}:{n}: not valid UTF-8 (byte {e.start})") from None
        if text.strip():
            texts.append(text)
    if not texts:
        raise UserError(f"{name}: no text to label (one text per line)")
    return texts


def cmd_predict(args: argparse.Namespace) -> None:
    from pytrain.runs import load_run

    run = load_run(args.run)  # a bad run folder is reported before any input is read
    texts = read_lines(args.input)
    clean = clean_texts(run, texts)
    probs = probabilities_of_clean(run, clean)
    empty = sum(not c for c in clean)
    if empty:
        print(f"note: {empty} of {len(texts)} texts keep no known word after cleaning", file=sys.stderr)
    names = run.labels.names
    shown = probs.mean(0) if probs.ndim == 3 else probs  # an ensemble shows its members' mean
    for text, p, d in zip(texts, shown, run.decide(probs), strict=True):
        chosen = [(names[j], p[j]) for j in np.flatnonzero(d)]
        if args.probs:
            record = {
                "text": text[:80],
                "labels": {n: round(float(q), 4) for n, q in chosen},
                "probabilities": {n: round(float(q), 4) for n, q in zip(names, p, strict=True)},
            }
            print(json.dumps(record))
        else:
            print(", ".join(n for n, _ in chosen) or "(no label)")


def cmd_evaluate(args: argparse.Namespace) -> None:
    from pytrain import metrics
    from pytrain.runs import load_run

    run = load_run(args.run)
    corpus = read_tsv(args.data)
    y, unknown = run.labels.encode(corpus.labels)
    if not any(corpus.labels):
        raise UserError(f"{args.data}: no row has a label: there is nothing to score against")
    clean = clean_texts(run, corpus.texts)
    probs = probabilities_of_clean(run, clean)
    if unknown:
        print(f"labels not known to the run (ignored): {', '.join(sorted(unknown))}")
    empty = sum(not c for c in clean)
    if empty:
        print(f"{empty} of {len(corpus)} texts keep no known word after cleaning")
    s = metrics.scores(y, run.decide(probs), run.labels.names)
    print(
        f"{len(corpus)} texts: macro F1 {s.macro_f1:.4f} (labels present: {s.macro_f1_present:.4f}), "
        f"micro F1 {s.micro_f1:.4f}, subset accuracy {s.subset_accuracy:.4f}"
    )
    for name, f1 in s.per_label_f1.items():
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
