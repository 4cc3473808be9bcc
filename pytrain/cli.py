"""Command line: `python -m pytrain {fit,compare,predict,evaluate,bpe,data}`."""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING

from pytrain.errors import UserError

if TYPE_CHECKING:
    from pytrain.train import FitConfig


def add_fit_options(p: argparse.ArgumentParser) -> None:
    from pytrain.train import FitConfig

    d = FitConfig()
    p.add_argument(
        "--data",
        help="course .tsv (default: $PYTRAIN_DATA, data/biotech_news.tsv, ../shared/data/biotech_news.tsv)",
    )
    p.add_argument("--model", choices=["rnn", "lstm", "attn"], default=d.model)
    p.add_argument("--tokenizer", choices=["word", "bpe"], default=d.tokenizer)
    p.add_argument("--vocab-size", type=int, default=d.vocab_size, help="BPE vocabulary size")
    p.add_argument("--min-count", type=int, help="word: min count of a word (1); bpe: min count of a pair (2)")
    p.add_argument("--embed-dim", type=int, default=d.embed_dim)
    p.add_argument(
        "--init-embeddings",
        choices=["svd", "random"],
        default=d.init_embeddings,
        help="start the embedding from PPMI-SVD vectors of the training texts, or from N(0, 1)",
    )
    p.add_argument("--hidden", type=int, default=d.hidden)
    p.add_argument("--layers", type=int, default=d.layers)
    p.add_argument("--attn-dim", type=int, help="attention size (attn model; default: hidden)")
    p.add_argument(
        "--pool",
        choices=["last", "mean", "max", "meanmax"],
        default=d.pool,
        help="text summary: the output at the true last token (the course formula), mean / max over tokens, "
        "or mean and max side by side",
    )
    p.add_argument(
        "--match-params",
        choices=["rnn"],
        help="choose the hidden size so the parameters match an RNN of --rnn-hidden",
    )
    p.add_argument("--rnn-hidden", type=int, default=d.rnn_hidden)
    p.add_argument("--dropout", type=float, default=d.dropout)
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--weight-decay", type=float, default=d.weight_decay)
    p.add_argument("--clip", type=float, default=d.clip, help="gradient norm clipping")
    p.add_argument("--patience", type=int, default=d.patience, help="early stopping patience (epochs)")
    p.add_argument(
        "--ema",
        type=float,
        default=d.ema,
        help="evaluate and keep a moving average of the weights with this decay, e.g. 0.95 (0: off)",
    )
    p.add_argument("--pos-weight-cap", type=float, default=d.pos_weight_cap)
    p.add_argument("--max-len", type=int, help="truncate texts to this many tokens (off by default)")
    p.add_argument(
        "--thresholds",
        choices=["fixed", "global", "per-label"],
        default=d.thresholds,
        help="decision thresholds, tuned on the out-of-fold (or validation) predictions",
    )
    p.add_argument(
        "--no-at-least-one",
        dest="at_least_one",
        action="store_false",
        help="keep texts where no label reaches its threshold label-less (by default they get the nearest label)",
    )
    p.add_argument(
        "--folds",
        type=int,
        default=d.folds,
        help="K > 1: train K models on K folds of the training part, tune thresholds on their out-of-fold "
        "predictions and average their probabilities; 1: one model with a validation part (--val-size)",
    )
    p.add_argument(
        "--fold-vocab",
        action="store_true",
        help="each fold model keeps only tokens in >= --min-df texts of its own training folds, so its "
        "held-out texts look like unseen ones (the thresholds are tuned on them)",
    )
    p.add_argument("--keep-stop-words", dest="stop_words", action="store_false")
    p.add_argument("--keep-numbers", dest="drop_numbers", action="store_false")
    p.add_argument("--min-df", type=int, default=d.min_df, help="drop words in fewer training documents")
    p.add_argument("--max-df", type=float, default=d.max_df, help="drop words in a larger fraction of them")
    p.add_argument("--test-size", type=float, default=d.test_size)
    p.add_argument("--split-seed", type=int, default=d.split_seed, help="random_state of the split")
    p.add_argument("--val-size", type=float, default=d.val_size, help="the validation part (--folds 1 only)")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default=d.device)
    p.add_argument("--no-bucket", dest="bucket", action="store_false", help="no length bucketing")
    p.add_argument("--limit", type=int, help="use only the first N rows")
    p.add_argument("--out", default=d.out, help="folder of run folders")
    p.add_argument("--name", help="run folder name (default: model-tokenizer-time)")
    p.add_argument("--no-progress", dest="progress", action="store_false")


def fit_config_from_args(args: argparse.Namespace) -> FitConfig:
    """The FitConfig of parsed `add_fit_options` arguments."""
    from pytrain.train import FitConfig

    return FitConfig(**{f.name: getattr(args, f.name) for f in fields(FitConfig) if hasattr(args, f.name)})


def cmd_fit(args: argparse.Namespace) -> None:
    from pytrain.train import fit

    cfg = fit_config_from_args(args)
    res = fit(cfg)
    m = res.metrics
    print(f"run folder: {res.run_dir}")
    print(
        f"model {cfg.model} x{cfg.layers} (hidden {m['hidden']}), tokenizer {cfg.tokenizer} "
        f"(vocab {m['vocab_size']}), {m['parameters']:,} parameters without embeddings, device {m['device']}"
    )
    if cfg.match_params == "rnn":
        from pytrain.models import ModelConfig, count_parameters

        rnn = ModelConfig("rnn", m["vocab_size"], len(m["per_label_f1"]), cfg.embed_dim, cfg.rnn_hidden)
        print(
            f"parameters matched: {cfg.model} {m['parameters']:,} vs one-layer RNN at hidden {cfg.rnn_hidden} "
            f"{count_parameters(rnn):,} (embeddings excluded)"
        )
    if cfg.folds > 1:
        epochs = ", ".join(map(str, m["best_epochs"]))
        print(
            f"ensemble of {cfg.folds} models (per model: {m['parameters']:,} parameters), best epochs {epochs}, "
            f"out-of-fold macro F1 {m['val_macro_f1']:.4f}, {m['train_seconds']:.1f}s"
        )
    else:
        print(f"best epoch {m['best_epochs'][0]}/{m['epochs_run']}, {m['train_seconds']:.1f}s")
    print(
        f"test macro F1 {m['macro_f1']:.4f} (labels present: {m['macro_f1_present']:.4f}), "
        f"micro F1 {m['micro_f1']:.4f}, subset accuracy {m['subset_accuracy']:.4f}"
    )


def cmd_bpe_train(args: argparse.Namespace) -> None:
    import bpe_rs
    from pytrain.tokens import merge_progress

    for p in args.input:
        if not Path(p).is_file():
            raise UserError(f"{p}: no such file")
    size = sum(Path(p).stat().st_size for p in args.input)
    start = time.perf_counter()
    try:
        with merge_progress("merges") as report:
            tok = bpe_rs.Tokenizer.train_files(
                args.input,
                vocab_size=args.vocab_size,
                min_frequency=args.min_frequency,
                threads=args.threads,
                progress=report,
            )
    except (OSError, ValueError) as e:
        raise UserError(str(e)) from None
    seconds = time.perf_counter() - start
    tok.save(args.out)
    merges = tok.merges()
    print(f"corpus: {', '.join(args.input)} ({size / 1e6:.1f} MB)")
    print(f"vocabulary {tok.vocab_size} ({len(merges)} merges) in {seconds:.2f}s -> {args.out}")
    print("first merges: " + "  ".join(f"{a} + {b}" for a, b in merges[:10]))


def cmd_bpe_encode(args: argparse.Namespace) -> None:
    import bpe_rs

    try:
        tok = bpe_rs.Tokenizer.load(args.tokenizer)
        docs = bpe_rs.read_corpus(args.input)
    except (OSError, ValueError) as e:
        raise UserError(str(e)) from None
    start = time.perf_counter()
    ids, offsets = tok.encode_batch_flat(docs, threads=args.threads)
    seconds = time.perf_counter() - start
    chars = sum(len(" ".join(d.split())) for d in docs)
    unk = int((ids == bpe_rs.UNK_ID).sum())
    print(f"{len(docs)} documents, {chars:,} characters -> {len(ids):,} tokens in {seconds:.3f}s")
    print(
        f"compression: {chars / max(len(ids), 1):.2f} characters per token; "
        f"{len(ids) / max(len(docs), 1):.1f} tokens per document; {unk} <unk>"
    )


def cmd_convert(args: argparse.Namespace) -> None:
    from pytrain.data import convert_csv

    rename = {}
    for item in args.rename_label or []:
        old, sep, new = item.partition("=")
        if not sep:
            raise UserError(f"--rename-label {item!r}: expected OLD=NEW")
        rename[old] = new
    n = convert_csv(args.input, args.output, rename)
    print(f"wrote {n} rows to {args.output}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m pytrain", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("fit", help="train one model and report test macro F1")
    add_fit_options(p)
    p.set_defaults(func=cmd_fit)

    from pytrain.compare import add_compare_parser
    from pytrain.predict import add_predict_parsers

    add_compare_parser(sub, add_fit_options, fit_config_from_args)
    add_predict_parsers(sub)

    bpe = sub.add_parser("bpe", help="train or apply a bpe_rs tokenizer on a corpus").add_subparsers(
        dest="bpe_command", required=True
    )
    p = bpe.add_parser("train", help="learn merges from .txt (one document per line) or .tsv (text column)")
    p.add_argument("--input", nargs="+", required=True)
    p.add_argument("--vocab-size", type=int, required=True)
    p.add_argument("--min-frequency", type=int, default=2)
    p.add_argument("--threads", type=int, help="default: all cores")
    p.add_argument("--out", default="tokenizer.json")
    p.set_defaults(func=cmd_bpe_train)
    p = bpe.add_parser("encode", help="encode a corpus and report token counts and compression")
    p.add_argument("--tokenizer", required=True)
    p.add_argument("--input", required=True)
    p.add_argument("--threads", type=int)
    p.set_defaults(func=cmd_bpe_encode)

    data = sub.add_parser("data", help="data utilities").add_subparsers(dest="data_command", required=True)
    p = data.add_parser("convert", help="the dataset's CSV (Title, Content, Label 1..5) -> course .tsv")
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument(
        "--rename-label",
        action="append",
        metavar="OLD=NEW",
        help="respell a label, e.g. 'event organisation=event organization'",
    )
    p.set_defaults(func=cmd_convert)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0
