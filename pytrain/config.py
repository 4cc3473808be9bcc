"""The settings of `fit` (and of `compare` and `nested`, which run `fit`'s procedure): one
dataclass, its command-line options, and the checks that stop a bad value before any data is
read. Imports nothing heavy: `python -m pytrain --help` must stay fast."""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, fields

from pytrain.errors import ConfigError

MODELS = ("rnn", "lstm", "attn")
TOKENIZERS = ("word", "bpe")
POOLING = ("mean", "last")
INIT_EMBEDDINGS = ("svd", "random")
THRESHOLDS = ("fixed", "global", "per-label")
DEVICES = ("auto", "cpu", "cuda")
MAX_SEED = 2**32 - 1  # numpy's and scikit-learn's seeds are 32-bit


@dataclass
class FitConfig:
    data: str | None = None  # see data.find_data for the default
    model: str = "rnn"  # rnn | lstm | attn
    tokenizer: str = "word"  # word | bpe
    vocab_size: int = 4000  # bpe only
    min_count: int | None = None  # word: min word count (1); bpe: min pair count (2)
    bpe_dropout: float = 0.0  # bpe only: BPE-dropout on the training batches (0: off)
    embed_dim: int = 64
    init_embeddings: str = "svd"  # svd: PPMI-SVD vectors of the training texts (see embeddings.py) | random
    hidden: int = 128
    layers: int = 1
    attn_dim: int | None = None  # attn only; default: hidden
    pool: str = "mean"  # mean over the real tokens | last: h at the true last token (the course formula)
    match_params: str | None = None  # "rnn": hidden chosen so parameters ~ a 1-layer RNN's at rnn_hidden
    rnn_hidden: int = 128
    dropout: float = 0.3
    epochs: int = 100
    batch_size: int = 32
    max_tokens: int | None = None  # training batches: at most this many padded tokens (texts x longest)
    lr: float = 1e-2
    weight_decay: float = 0.0
    clip: float = 1.0
    patience: int = 20  # held-out F1 on a few dozen texts is noisy: stop late, keep the best
    pos_weight_cap: float = 30.0
    max_len: int | None = None
    crop: int = 128  # training only: a random window of this many tokens of each text, new each epoch (0: whole texts)
    thresholds: str = "global"  # fixed | global | per-label, tuned on held-out predictions
    at_least_one: bool = True  # a text where no label reaches its threshold gets the nearest one
    folds: int = 5  # K > 1: an ensemble of K models over K folds of the training part; 1: one model
    jobs: int | None = None  # CPU: fold models (compare: runs) trained at once, a process each; default: one per thread
    stop_words: bool = True
    drop_numbers: bool = True
    min_df: int = 2
    max_df: float = 0.5
    test_size: float = 0.2
    split_seed: int = 0  # the course split: train_test_split(test_size=0.2, random_state=0)
    val_size: float = 0.15  # folds=1 only: the validation part carved out of the training part
    seed: int = 0
    device: str = "auto"
    bucket: bool = True
    limit: int | None = None  # only the first N rows (quick looks, tests)
    out: str = "runs"
    name: str | None = None
    progress: bool = True

    def validate(self) -> FitConfig:
        """Raises `ConfigError` naming the first setting out of range; returns self."""
        for name, allowed in CHOICES.items():
            if getattr(self, name) not in allowed:
                raise ConfigError(name, getattr(self, name), f"choose one of {', '.join(map(str, allowed))}")
        for name, (low, high, closed_high) in RANGES.items():
            value = getattr(self, name)
            if value is None and name in OPTIONAL:
                continue
            _check_range(name, value, low, high, closed_high)
        if self.name is not None and (
            not self.name
            or self.name in (".", "..")
            or "/" in self.name
            or "\\" in self.name
            or self.name.startswith(".")
        ):
            raise ConfigError("name", self.name, "a run name is a plain folder name (no '/', not hidden)")
        if self.bpe_dropout > 0 and self.tokenizer != "bpe":
            raise ConfigError("bpe_dropout", self.bpe_dropout, "BPE-dropout needs the bpe tokenizer")
        if not self.out:
            raise ConfigError("out", self.out, "give a folder for the run folders")
        return self


# name -> (low, high, whether high itself is allowed); low is always allowed.
_BIG = 1_000_000_000
RANGES: dict[str, tuple[float, float, bool]] = {
    "vocab_size": (8, 10_000_000, True),
    "min_count": (1, _BIG, True),
    "bpe_dropout": (0.0, 1.0, False),
    "embed_dim": (1, 65_536, True),
    "hidden": (1, 65_536, True),
    "layers": (1, 64, True),
    "attn_dim": (1, 65_536, True),
    "rnn_hidden": (1, 65_536, True),
    "dropout": (0.0, 1.0, False),
    "epochs": (1, 1_000_000, True),
    "batch_size": (1, 1_000_000, True),
    "max_tokens": (1, _BIG, True),
    "lr": (1e-12, 100.0, True),
    "weight_decay": (0.0, 100.0, True),
    "clip": (1e-12, 1e12, True),
    "patience": (1, 1_000_000, True),
    "pos_weight_cap": (1.0, 1e9, True),
    "max_len": (1, _BIG, True),
    "crop": (0, _BIG, True),
    "folds": (1, 1000, True),
    "jobs": (1, 1024, True),
    "min_df": (1, _BIG, True),
    "max_df": (1e-12, 1.0, True),
    "test_size": (1e-12, 1.0, False),
    "split_seed": (0, MAX_SEED, True),
    "val_size": (1e-12, 1.0, False),
    "seed": (0, MAX_SEED, True),
    "limit": (1, _BIG, True),
}
OPTIONAL = {"min_count", "attn_dim", "max_len", "max_tokens", "limit", "jobs"}
CHOICES: dict[str, tuple] = {
    "model": MODELS,
    "tokenizer": TOKENIZERS,
    "init_embeddings": INIT_EMBEDDINGS,
    "pool": POOLING,
    "match_params": (None, "rnn"),
    "thresholds": THRESHOLDS,
    "device": DEVICES,
}
_INTEGER = {
    "vocab_size",
    "min_count",
    "embed_dim",
    "hidden",
    "layers",
    "attn_dim",
    "rnn_hidden",
    "epochs",
    "batch_size",
    "max_tokens",
    "patience",
    "max_len",
    "crop",
    "folds",
    "jobs",
    "min_df",
    "split_seed",
    "seed",
    "limit",
}


def _check_range(name: str, value, low: float, high: float, closed_high: bool) -> None:
    integer = name in _INTEGER
    if isinstance(value, bool) or not isinstance(value, int if integer else (int, float)):
        raise ConfigError(name, value, "expected " + ("a whole number" if integer else "a number"))
    if not math.isfinite(value):
        raise ConfigError(name, value, "expected a finite number")
    if value < low or value > high or (value == high and not closed_high):
        upper = f"<= {_show(high)}" if closed_high else f"< {_show(high)}"
        lower = f">= {_show(low)}" if low > 1e-9 or low == 0 else "> 0"
        raise ConfigError(name, value, f"must be {lower} and {upper}")


def _show(x: float) -> str:
    return f"{int(x):,}" if float(x).is_integer() else f"{x:g}"


def parse_numbers(text: str, field: str) -> list[int]:
    """Comma-separated whole numbers (e.g. seeds), at least one."""
    try:
        values = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise ConfigError(field, text, "expected comma-separated whole numbers") from None
    if not values:
        raise ConfigError(field, text, "give at least one number")
    return values


def flag(field: str) -> str:
    """The command-line flag of a `FitConfig` field."""
    return "--" + field.replace("_", "-")


def add_fit_options(p: argparse.ArgumentParser) -> None:
    d = FitConfig()
    p.add_argument(
        "--data",
        help="course .tsv (default: $PYTRAIN_DATA, data/biotech_news.tsv, ../shared/data/biotech_news.tsv)",
    )
    p.add_argument("--model", choices=MODELS, default=d.model)
    p.add_argument("--tokenizer", choices=TOKENIZERS, default=d.tokenizer)
    p.add_argument("--vocab-size", type=int, default=d.vocab_size, help="BPE vocabulary size")
    p.add_argument("--min-count", type=int, help="word: min count of a word (1); bpe: min count of a pair (2)")
    p.add_argument(
        "--bpe-dropout",
        type=float,
        default=d.bpe_dropout,
        help="BPE-dropout probability for the training batches, drawn anew each epoch (bpe only; 0: off)",
    )
    p.add_argument("--embed-dim", type=int, default=d.embed_dim)
    p.add_argument(
        "--init-embeddings",
        choices=INIT_EMBEDDINGS,
        default=d.init_embeddings,
        help="start the embedding from PPMI-SVD vectors of the training texts, or from N(0, 1)",
    )
    p.add_argument("--hidden", type=int, default=d.hidden)
    p.add_argument("--layers", type=int, default=d.layers)
    p.add_argument("--attn-dim", type=int, help="attention size (attn model; default: hidden)")
    p.add_argument(
        "--pool",
        choices=POOLING,
        default=d.pool,
        help="text summary: the mean over the real tokens, or the output at the true last token (the course formula)",
    )
    p.add_argument(
        "--match-params",
        choices=["rnn"],
        help="choose the hidden size so the parameters match a one-layer RNN of --rnn-hidden",
    )
    p.add_argument("--rnn-hidden", type=int, default=d.rnn_hidden)
    p.add_argument("--dropout", type=float, default=d.dropout)
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="texts per training batch, at most")
    p.add_argument(
        "--max-tokens",
        type=int,
        help="padded tokens per training batch, at most (texts x the batch's longest; off by default)",
    )
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--weight-decay", type=float, default=d.weight_decay)
    p.add_argument("--clip", type=float, default=d.clip, help="gradient norm clipping")
    p.add_argument("--patience", type=int, default=d.patience, help="early stopping patience (epochs)")
    p.add_argument("--pos-weight-cap", type=float, default=d.pos_weight_cap)
    p.add_argument("--max-len", type=int, help="truncate texts to this many tokens (off by default)")
    p.add_argument(
        "--crop",
        type=int,
        default=d.crop,
        help="train on a random window of this many tokens of each text, drawn anew each epoch; held-out "
        "and test texts are read whole (0: train on whole texts)",
    )
    p.add_argument(
        "--thresholds",
        choices=THRESHOLDS,
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
        "predictions, and choose a label where more than half of them choose it; 1: one model with a "
        "validation part (--val-size)",
    )
    p.add_argument(
        "--jobs",
        type=int,
        help="models trained at once on CPU (fit: the fold models; compare: the runs), each in its own "
        "process on one thread (default: as many as torch's threads; on a GPU one at a time)",
    )
    p.add_argument("--keep-stop-words", dest="stop_words", action="store_false")
    p.add_argument("--keep-numbers", dest="drop_numbers", action="store_false")
    p.add_argument("--min-df", type=int, default=d.min_df, help="drop words in fewer training documents")
    p.add_argument("--max-df", type=float, default=d.max_df, help="drop words in a larger fraction of them")
    p.add_argument("--test-size", type=float, default=d.test_size)
    p.add_argument("--split-seed", type=int, default=d.split_seed, help="random_state of the split")
    p.add_argument("--val-size", type=float, default=d.val_size, help="the validation part (--folds 1 only)")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--device", choices=DEVICES, default=d.device)
    p.add_argument("--no-bucket", dest="bucket", action="store_false", help="no length bucketing")
    p.add_argument("--limit", type=int, help="use only the first N rows")
    p.add_argument("--out", default=d.out, help="folder of run folders")
    p.add_argument("--name", help="run folder name (default: model-tokenizer-time)")
    p.add_argument("--no-progress", dest="progress", action="store_false")


def fit_config_from_args(args: argparse.Namespace) -> FitConfig:
    """The checked FitConfig of parsed `add_fit_options` arguments."""
    return FitConfig(**{f.name: getattr(args, f.name) for f in fields(FitConfig) if hasattr(args, f.name)}).validate()
