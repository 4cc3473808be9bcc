"""`compare`: the grid {RNN, LSTM, 2-layer LSTM, attention LSTM} x {word, BPE at several
vocabulary sizes}, every model with its hidden size chosen so that its parameters (embeddings
excluded) match the RNN's, trained with the same split, seeds and budget.

Results go to `runs/compare-<date>/`: report.md, results.json, f1.png and curves.png.
"""

from __future__ import annotations

import argparse
import statistics
from dataclasses import asdict, replace
from datetime import datetime

from pytrain.config import FitConfig, add_fit_options, fit_config_from_args, parse_numbers
from pytrain.results import Cell, CellRun, CellSummary, FitResult, Stat

# (name, model kind, layers)
MODELS = [("RNN", "rnn", 1), ("LSTM", "lstm", 1), ("LSTM x2", "lstm", 2), ("LSTM+attention", "attn", 1)]
# Settings of --quick: the whole grid (12 runs, one seed) on the full course file in 13.5 min on
# a 2-core CPU: one model per cell instead of a fold ensemble, texts cut to 128 tokens (the
# attention cell's cost grows with the square of the length; no training windows within them),
# 25 epochs without early stopping (the curves still rise at the end; the best epoch's weights
# are kept). Options given on the command line win over these.
QUICK = {"epochs": 25, "patience": 25, "max_len": 128, "crop": 0, "rnn_hidden": 128, "folds": 1}


def grid(vocab_sizes: list[int]) -> list[Cell]:
    toks = [("word", None)] + [("bpe", v) for v in vocab_sizes]
    return [Cell(name, kind, layers, tok, v) for name, kind, layers in MODELS for tok, v in toks]


def cell_config(base: FitConfig, cell: Cell, seed: int) -> FitConfig:
    return replace(
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


def run_grid(base: FitConfig, cells: list[Cell], seeds: list[int]) -> list[CellRun]:
    """Every cell with every seed. On CPU the runs go `base.jobs` at a time (default: one per
    thread), each in a forked process of one thread, the costliest first; their fold models,
    if any, then train in turn."""
    from tqdm.auto import tqdm

    from pytrain.fit import prepare
    from pytrain.parallel import fork_map, jobs_for
    from pytrain.train import pick_device

    tasks = [(c, s) for c in cells for s in seeds]
    prepared = {}
    for cell, seed in tasks:  # cleaning and tokenizing do not depend on the model
        if _key(cell) not in prepared:
            prepared[_key(cell)] = prepare(cell_config(base, cell, seed))
    jobs = jobs_for(pick_device(base.device), base.jobs, len(tasks))
    order = sorted(range(len(tasks)), key=lambda i: -_cost(tasks[i][0]))
    bar = tqdm(total=len(tasks), desc=f"compare, {jobs} at a time", unit="run")

    def done(i: int, result: FitResult) -> None:
        cell, seed = tasks[order[i]]
        unseen = f", unseen {result.test_unseen.macro_f1:.4f}" if result.test_unseen else ""
        bar.update()
        tqdm.write(
            f"{cell.model:<15} {cell.tokens:<9} seed {seed}: test macro F1 {result.test.macro_f1:.4f}{unseen} "
            f"({result.train_seconds:.0f}s)"
        )

    with bar:
        results = fork_map(_run_cell, [tasks[i] for i in order], jobs, (base, prepared, jobs), on_done=done)
    by_task = dict(zip(order, results, strict=True))
    return [CellRun(cell, seed, by_task[i]) for i, (cell, seed) in enumerate(tasks)]


def _key(cell: Cell) -> tuple:
    return cell.tokenizer, cell.vocab_size


def _cost(cell: Cell) -> int:
    """A rough rank of a cell's training time, to start the longest runs first (`--quick` on the
    course file, at equal parameters: RNN 30 s, LSTM 85 s, 2-layer LSTM 140 s, attention 265 s)."""
    return {"rnn": 1, "lstm": 3, "attn": 9}[cell.kind] * cell.layers


def _run_cell(shared: tuple, task: tuple[Cell, int], report) -> FitResult:
    from pytrain.fit import run_model

    base, prepared, jobs = shared
    cell, seed = task
    cfg = cell_config(base, cell, seed)
    if jobs > 1:  # the runs already fill the cores: a run's folds train in turn
        cfg = replace(cfg, jobs=1)
    return run_model(cfg, prepared[_key(cell)]).result


def _stat(values: list[float]) -> Stat:
    return Stat(statistics.fmean(values), statistics.pstdev(values) if len(values) > 1 else 0.0, min(values))


def summarise(runs: list[CellRun]) -> list[CellSummary]:
    """One row per cell, in grid order: means and standard deviations over seeds."""
    by_cell: dict[Cell, list[CellRun]] = {}
    for r in runs:
        by_cell.setdefault(r.cell, []).append(r)
    rows = []
    for cell, cell_runs in by_cell.items():
        res = [r.result for r in cell_runs]
        unseen = [r.test_unseen.macro_f1 for r in res if r.test_unseen]
        rows.append(
            CellSummary(
                cell=cell,
                runs=len(res),
                parameters=res[0].parameters,
                hidden=res[0].hidden,
                vocab=res[0].vocab_size,
                device=res[0].device,
                best_epoch=_stat([r.best_epoch for r in res]),
                macro_f1=_stat([r.test.macro_f1 for r in res]),
                macro_f1_unseen=_stat(unseen) if len(unseen) == len(res) else None,
                macro_f1_present=_stat([r.test.macro_f1_present for r in res]),
                micro_f1=_stat([r.test.micro_f1 for r in res]),
                subset_accuracy=_stat([r.test.subset_accuracy for r in res]),
                train_seconds=_stat([r.train_seconds for r in res]),
                seconds_per_epoch=_stat([r.seconds_per_epoch for r in res]),
                peak_memory_mb=_stat([r.peak_memory_mb for r in res]),
            )
        )
    return rows


def cmd_compare(args: argparse.Namespace) -> None:
    from pytrain.files import write_json_atomic
    from pytrain.fit import claim_run_folder
    from pytrain.report import write_compare_report

    # The options in QUICK have no parser default here: None means "not given on the command line".
    for key, quick in QUICK.items():
        if getattr(args, key) is None:
            setattr(args, key, quick if args.quick else getattr(FitConfig(), key))
    base = fit_config_from_args(args)
    seeds = parse_numbers(args.seeds, "seeds")
    sizes = parse_numbers(args.vocab_sizes, "vocab_sizes")
    for seed in seeds:
        replace(base, seed=seed).validate()
    for size in sizes:
        replace(base, vocab_size=size).validate()
    if base.name is None:
        base = replace(base, name=f"compare-{datetime.now():%Y%m%d-%H%M%S}")
    with claim_run_folder(base) as folder:  # refused before any work if taken or not writable
        runs = run_grid(base, grid(sizes), seeds)
        results = {"config": asdict(base), "seeds": seeds, "runs": [asdict(r) for r in runs]}
        write_json_atomic(folder.partial / "results.json", results)
        write_compare_report(folder.partial, summarise(runs), runs, base, seeds)
        out = folder.commit()
    print(f"report: {out / 'report.md'}")


def add_compare_parser(sub) -> None:
    p = sub.add_parser("compare", help="train the model x tokenizer grid and write a report")
    add_fit_options(p)
    p.set_defaults(**dict.fromkeys(QUICK))
    p.add_argument("--quick", action="store_true", help=f"a small budget for a CPU: {QUICK}")
    p.add_argument("--seeds", default="0", help="comma-separated seeds; each cell is repeated (mean and std)")
    p.add_argument("--vocab-sizes", default="1000,4000", help="BPE vocabulary sizes (comma-separated)")
    p.set_defaults(func=cmd_compare)
