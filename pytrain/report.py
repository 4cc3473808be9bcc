"""Plots and the comparison report."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display needed
import matplotlib.pyplot as plt  # noqa: E402


def _save(fig, path: Path) -> None:
    """Writes through a temporary file so a half-written plot never replaces a good one."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    fig.savefig(tmp, dpi=120, bbox_inches="tight")
    plt.close(fig)
    tmp.replace(path)


def plot_curves(history: list[dict], path: Path, title: str = "") -> None:
    """Loss (train, validation) and validation F1 per epoch."""
    epochs = [h["epoch"] for h in history]
    fig, (ax_loss, ax_f1) = plt.subplots(1, 2, figsize=(10, 3.6))
    ax_loss.plot(epochs, [h["train_loss"] for h in history], "o-", label="train (weighted BCE)")
    ax_loss.plot(epochs, [h["val_loss"] for h in history], "o-", label="validation (BCE)")
    ax_loss.set(xlabel="epoch", ylabel="loss", title="loss")
    ax_loss.legend()
    ax_f1.plot(epochs, [h["val_macro_f1"] for h in history], "o-", label="macro F1")
    ax_f1.plot(epochs, [h["val_micro_f1"] for h in history], "o-", label="micro F1")
    ax_f1.set(xlabel="epoch", ylabel="F1", title="validation F1", ylim=(0, 1))
    ax_f1.legend()
    if title:
        fig.suptitle(title)
    _save(fig, path)
