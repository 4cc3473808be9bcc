"""`compare`: the grid {RNN, LSTM, 2-layer LSTM, attention LSTM} x {word, BPE at several
vocabulary sizes}, every model with its hidden size chosen so that its parameters (embeddings
excluded) match the RNN's, trained with the same split, seeds and budget.

Results go to `runs/compare-<date>/`: report.md, results.json, f1.png and curves.png.
"""

from __future__ import annotations

import argparse
import statistics
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from pathlib import Path

from tqdm.auto import tqdm

from pytrain.data import write_json_atomic
from pytrain.errors import UserError

# (name, model kind, layers)
MODELS = [("RNN", "rnn", 1), ("LSTM", "lstm", 1), ("LSTM x2", "lstm", 2), ("LSTM+attention", "attn", 1)]
# Settings of --quick: the whole grid on a 2-core CPU within about 10 minutes (one model per
# cell instead of a fold ensemble). Options given on the command line win over these.
QUICK = {"epochs": 20, "patience": 12, "max_len": 160, "rnn_hidden": 256, "folds": 1}


@dataclass
class Cell:
    model: str  # display name
    kind: str
    layers: int
    tokenizer: str
    vocab_size: int | None  # BPE only


def grid(vocab_sizes: list[int]) -> list[Cell]:
    toks = [("word", None)] + [("bpe", v) for v in vocab_sizes]
    return [Cell(name, kind, layers, tok, v) for name, kind, layers in MODELS for tok, v in toks]


def run_grid(base, cells: list[Cell], seeds: list[int], cv: int | None) -> list[dict]:
    from pytrain.data import find_data, kfold_splits, read_tsv
    from pytrain.train import prepare, run_model

    splits = [None]
    if cv:
        n = len(read_tsv(find_data(base.data)).texts[: base.limit])
        splits = kfold_splits(n, cv, base.split_seed, base.val_size)
    plan = [(cell, seed, fold) for cell in cells for seed in seeds for fold in range(len(splits))]
    runs, prepared = [], {}
    for cell, seed, fold in tqdm(plan, desc="compare", unit="run"):
        cfg = replace(
            base,
            model=cell.kind,
            layers=cell.layers,
            tokenizer=cell.tokenizer,
            vocab_size=cell.vocab_size or base.vocab_size,
            match_params=None if (cell.kind, cell.layers) == ("rnn", 1) else "rnn",
            hidden=base.rnn_hidden,
            seed=seed,
            progress=False,
        )
        key = (cell.tokenizer, cell.vocab_size, fold)  # cleaning and tokenizing do not depend on the model
        if key not in prepared:
            prepared[key] = prepare(cfg, splits[fold])
        _, metrics, history = run_model(cfg, prepared[key])
        metrics.pop("per_label_f1")
        metrics.pop("thresholds")
        runs.append(
            {
                "cell": asdict(cell),
                "seed": seed,
                "fold": None if cv is None else fold,
                "metrics": metrics,
                "history": history,
            }
        )
        where = "" if cv is None else f" fold {fold}"
        tqdm.write(
            f"{cell.model:<15} {cell.tokenizer:<4} {cell.vocab_size or '':>5} seed {seed}{where}: "
            f"test macro F1 {metrics['macro_f1']:.4f}  ({metrics['train_seconds']:.0f}s)"
        )
    return runs


def summarise(runs: list[dict]) -> list[dict]:
    """One row per cell: means and standard deviations over seeds (and folds)."""
    rows: dict[tuple, dict] = {}
    for r in runs:
        key = tuple(r["cell"].values())
        rows.setdefault(key, {"cell": r["cell"], "runs": []})["runs"].append(r["metrics"])
    out = []
    for row in rows.values():
        ms = row["runs"]

        def stat(name: str, ms=ms) -> tuple[float, float]:
            vals = [m[name] for m in ms]
            return statistics.fmean(vals), statistics.pstdev(vals) if len(vals) > 1 else 0.0

        out.append(
            {
                **row["cell"],
                "n": len(ms),
                "parameters": ms[0]["parameters"],
                "hidden": ms[0]["hidden"],
                "vocab": ms[0]["vocab_size"],
                "device": ms[0]["device"],
                **{
                    k: stat(k)
                    for k in (
                        "best_epoch",
                        "macro_f1",
                        "macro_f1_present",
                        "micro_f1",
                        "subset_accuracy",
                        "train_seconds",
                        "seconds_per_epoch",
                        "peak_memory_mb",
                    )
                },
            }
        )
    return out


def cmd_compare(args: argparse.Namespace, fit_config) -> None:
    from pytrain.report import write_compare_report
    from pytrain.train import FitConfig

    # The options in QUICK have no parser default here: None means "not given on the command line".
    for key, quick in QUICK.items():
        if getattr(args, key) is None:
            setattr(args, key, quick if args.quick else getattr(FitConfig(), key))
    base = fit_config(args)
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    sizes = [int(s) for s in args.vocab_sizes.split(",") if s.strip()]
    if not seeds or not sizes:
        raise UserError("--seeds and --vocab-sizes need at least one number each")
    out = Path(base.out) / (base.name or f"compare-{datetime.now():%Y%m%d-%H%M%S}")
    if out.exists() and any(out.iterdir()):
        raise UserError(f"{out}: folder exists and is not empty (choose another --name)")
    runs = run_grid(base, grid(sizes), seeds, args.cv)
    rows = summarise(runs)
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "results.json", {"config": asdict(base), "seeds": seeds, "cv": args.cv, "runs": runs})
    write_compare_report(out, rows, runs, base, seeds, args.cv)
    print(f"report: {out / 'report.md'}")


def add_compare_parser(sub, add_fit_options, fit_config) -> None:
    p = sub.add_parser("compare", help="train the model x tokenizer grid and write a report")
    add_fit_options(p)
    p.set_defaults(**dict.fromkeys(QUICK))
    p.add_argument("--quick", action="store_true", help=f"a small budget for a CPU: {QUICK}")
    p.add_argument("--seeds", default="0", help="comma-separated seeds; each cell is repeated (mean and std)")
    p.add_argument("--cv", type=int, help="K-fold cross-validation over all rows instead of the course split")
    p.add_argument("--vocab-sizes", default="1000,4000", help="BPE vocabulary sizes (comma-separated)")
    p.set_defaults(func=lambda a: cmd_compare(a, fit_config))
