"""Plots and the comparison report. Reads results (dataclasses and JSON), never trains."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display needed
import matplotlib.pyplot as plt  # noqa: E402

from pytrain.files import atomic_path, write_text_atomic  # noqa: E402
from pytrain.results import CellRun, CellSummary, EpochRecord, by_fold  # noqa: E402


def _save(fig, path: Path) -> None:
    """Writes through a temporary file so a half-written plot never replaces a good one."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, bbox_inches="tight", format=Path(path).suffix.lstrip("."))
    plt.close(fig)


def plot_curves(history: list[EpochRecord], path: Path, title: str = "") -> None:
    """Loss (train, held-out) and held-out F1 per epoch; one line per fold for an ensemble."""
    fig, (ax_loss, ax_f1) = plt.subplots(1, 2, figsize=(10, 3.6))
    folds = by_fold(history)
    for k, fold in enumerate(folds):
        epochs = [h.epoch for h in fold]
        names = ["train (weighted BCE)", "held out (BCE)", "macro F1", "micro F1"] if k == 0 else [None] * 4
        ax_loss.plot(epochs, [h.train_loss for h in fold], "-", color="C0", label=names[0])
        ax_loss.plot(epochs, [h.val_loss for h in fold], "-", color="C1", label=names[1])
        ax_f1.plot(epochs, [h.val_macro_f1 for h in fold], "-", color="C0", label=names[2])
        ax_f1.plot(epochs, [h.val_micro_f1 for h in fold], "-", color="C1", label=names[3])
    ax_loss.set(xlabel="epoch", ylabel="loss", title="loss")
    ax_loss.legend()
    held = "validation" if len(folds) == 1 else f"held-out fold ({len(folds)} folds)"
    ax_f1.set(xlabel="epoch", ylabel="F1", title=f"{held} F1", ylim=(0, 1))
    ax_f1.legend()
    if title:
        fig.suptitle(title)
    _save(fig, path)


def write_compare_report(out: Path, rows: list[CellSummary], runs: list[CellRun], cfg, seeds: list[int]) -> None:
    """report.md (the table), f1.png (grouped bars) and curves.png (held-out F1 per epoch)."""
    held_out = "validation" if cfg.folds == 1 else f"the out-of-fold predictions of a {cfg.folds}-model ensemble"
    lines = [
        "# Model x tokenizer comparison",
        "",
        f"Data: `{cfg.data or 'default'}`; the course split (test_size={cfg.test_size}, "
        f"random_state={cfg.split_seed}); seeds {', '.join(map(str, seeds))}; "
        f"budget: up to {cfg.epochs} epochs (patience {cfg.patience}), batch {cfg.batch_size}, lr {cfg.lr}, "
        f"embedding {cfg.embed_dim}, max length {cfg.max_len or 'none'}, pooling {cfg.pool}, "
        f"thresholds {cfg.thresholds} (tuned on {held_out})"
        f"{', at least one label per text' if cfg.at_least_one else ''}. Every model's hidden size is chosen so "
        f"that its parameters without embeddings match the RNN's (hidden {cfg.rnn_hidden}). Values are mean ± std "
        f"over {len(seeds)} seed(s). *Unseen*: macro F1 on the test texts whose text is not in the training part.",
        "",
        "| model | tokens | vocab | hidden | parameters (no emb.) | best epoch | test macro F1 | lowest seed "
        "| unseen macro F1 | macro F1 (labels present) | micro F1 | subset acc. | train s | s/epoch | peak MB "
        "| device |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        unseen = f"{r.macro_f1_unseen}" if r.macro_f1_unseen else "–"
        lines.append(
            f"| {r.cell.model} | {r.cell.tokens} | {r.vocab} | {r.hidden} | {r.parameters:,} | {r.best_epoch:.1f} "
            f"| {r.macro_f1} | {r.macro_f1.low:.3f} | {unseen} | {r.macro_f1_present} | {r.micro_f1} "
            f"| {r.subset_accuracy} "
            f"| {r.train_seconds:.0f} | {r.seconds_per_epoch:.1f} | {r.peak_memory_mb.mean:.0f} | {r.device} |"
        )
    lines += ["", "![macro F1](f1.png)", "", "![held-out F1 per epoch](curves.png)", ""]
    write_text_atomic(out / "report.md", "\n".join(lines))
    _plot_bars(rows, out / "f1.png")
    _plot_runs(runs, out / "curves.png")


def _plot_bars(rows: list[CellSummary], path: Path) -> None:
    models = list(dict.fromkeys(r.cell.model for r in rows))
    toks = list(dict.fromkeys(r.cell.tokens for r in rows))
    width = 0.8 / len(toks)
    fig, ax = plt.subplots(figsize=(max(6, 1.8 * len(models)), 4))
    for i, tok in enumerate(toks):
        cells = [next(r for r in rows if r.cell.model == m and r.cell.tokens == tok) for m in models]
        ax.bar(
            [j + i * width for j in range(len(models))],
            [c.macro_f1.mean for c in cells],
            width,
            yerr=[c.macro_f1.std for c in cells],
            capsize=3,
            label=tok,
        )
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(models))], models)
    ax.set(ylabel="test macro F1", title="test macro F1 (mean ± std)")
    ax.legend()
    _save(fig, path)


def _plot_runs(runs: list[CellRun], path: Path) -> None:
    """One line per run (per fold of an ensemble): colour by model, line style by tokenizer, one
    legend entry per grid cell."""
    models = list(dict.fromkeys(r.cell.model for r in runs))
    toks = list(dict.fromkeys(r.cell.tokens for r in runs))
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    styles = ["-", "--", ":", "-."]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    labelled = set()
    for r in runs:
        name = f"{r.cell.model} / {r.cell.tokens}"
        for fold in by_fold(r.result.history):
            ax.plot(
                [h.epoch for h in fold],
                [h.val_macro_f1 for h in fold],
                color=colours[models.index(r.cell.model) % len(colours)],
                linestyle=styles[toks.index(r.cell.tokens) % len(styles)],
                lw=1,
                alpha=0.8,
                label=None if name in labelled else name,
            )
            labelled.add(name)
    ax.set(xlabel="epoch", ylabel="held-out macro F1", title="held-out macro F1 per epoch (one line per model)")
    ax.legend(fontsize=7, ncol=2)
    _save(fig, path)
