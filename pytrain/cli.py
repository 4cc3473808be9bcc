"""Command line: `python -m pytrain {fit,compare,nested,predict,evaluate,bpe,data}`.

Each command imports what it needs when it runs: `--help`, `bpe` and `data` never load torch
or scikit-learn. Errors a user can fix print one line and exit with status 2."""

from __future__ import annotations

import argparse
import os
import sys

from pytrain.config import add_fit_options, fit_config_from_args, flag
from pytrain.errors import ConfigError, UserError


def cmd_fit(args: argparse.Namespace) -> None:
    from pytrain.fit import fit

    cfg = fit_config_from_args(args)
    run = fit(cfg)
    r = run.result
    print(f"run folder: {run.run_dir}")
    print(
        f"model {cfg.model} x{cfg.layers} (hidden {r.hidden}), tokenizer {cfg.tokenizer} "
        f"(vocab {r.vocab_size}), {r.parameters:,} parameters without embeddings, device {r.device}"
    )
    if cfg.match_params == "rnn":
        from pytrain.fit import rnn_reference
        from pytrain.models import count_parameters

        rnn = rnn_reference(cfg, r.vocab_size, len(r.thresholds))
        print(
            f"parameters matched: {cfg.model} {r.parameters:,} vs one-layer RNN at hidden {cfg.rnn_hidden} "
            f"{count_parameters(rnn):,} (embeddings excluded)"
        )
    epochs = ", ".join(map(str, r.best_epochs))
    if cfg.folds > 1:
        print(
            f"ensemble of {cfg.folds} models, best epochs {epochs}, out-of-fold macro F1 "
            f"{r.held_out_macro_f1:.4f}, {r.train_seconds:.1f}s"
        )
    else:
        print(f"best epoch {epochs}/{r.epochs_run}, {r.train_seconds:.1f}s")
    empty = ", ".join(f"{n} {part}" for part, n in r.empty_texts.items() if n)
    if empty:
        print(f"texts left without a word by cleaning: {empty}")
    t = r.test
    print(
        f"test macro F1 {t.macro_f1:.4f} (labels present: {t.macro_f1_present:.4f}), "
        f"micro F1 {t.micro_f1:.4f}, subset accuracy {t.subset_accuracy:.4f}"
    )
    if r.test_unseen and r.test_unseen.texts < t.texts:
        print(f"test macro F1 on the {r.test_unseen.texts} texts not in the training part {r.test_unseen.macro_f1:.4f}")


def cmd_convert(args: argparse.Namespace) -> None:
    from pytrain.data import convert_csv
    from pytrain.files import check_writable_file

    rename = {}
    for item in args.rename_label or []:
        old, sep, new = item.partition("=")
        if not sep or not old.strip() or not new.strip():
            raise UserError(f"--rename-label {item!r}: expected OLD=NEW")
        rename[old.strip()] = new.strip()
    check_writable_file(args.output)
    n = convert_csv(args.input, args.output, rename)
    print(f"wrote {n} rows to {args.output}")


def build_parser() -> argparse.ArgumentParser:
    from pytrain.compare import add_compare_parser
    from pytrain.nested import add_nested_parser
    from pytrain.predict import add_predict_parsers

    parser = argparse.ArgumentParser(prog="python -m pytrain", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("fit", help="train a model (a fold ensemble by default) and report test macro F1")
    add_fit_options(p)
    p.set_defaults(func=cmd_fit)
    add_compare_parser(sub)
    add_nested_parser(sub)
    add_predict_parsers(sub)

    from bpe_rs.cli import add_commands

    bpe = sub.add_parser("bpe", help="train, apply or invert a bpe_rs tokenizer (as python -m bpe_rs)")
    add_commands(bpe.add_subparsers(dest="bpe_command", required=True))

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
    if args.command == "bpe":
        from bpe_rs.cli import run

        return run(args)
    try:
        args.func(args)
        sys.stdout.flush()
    except ConfigError as e:
        print(f"error: {flag(e.field)} {e.value}: {e.problem}", file=sys.stderr)
        return 2
    except UserError as e:
        print("error: " + " ".join(str(e).split()), file=sys.stderr)  # one line, whatever the message holds
        return 2
    except BrokenPipeError:
        # The reader went away (`... | head`): stop quietly, as command-line tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0
