"""The training loop, and the fold ensemble built from it.

`train_model`: Adam on BCE with `pos_weight`, gradient clipping (a step whose gradient is not
finite is skipped), early stopping on held-out macro F1 with the best weights restored.
`train_members`: one model with a validation part (`folds=1`), or K models on K folds of the
training part, whose out-of-fold predictions cover every training text, so that the thresholds
are tuned on all of them."""

from __future__ import annotations

import copy
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from pytrain import metrics
from pytrain.batching import EncodedDataset, Resampler, budget_batches, collate, make_loader, random_windows
from pytrain.config import FitConfig
from pytrain.errors import ConfigError, UserError
from pytrain.models import Ensemble, ModelConfig, RecurrentClassifier
from pytrain.parallel import fork_map, jobs_for
from pytrain.results import EpochRecord

# An epoch whose gradient overflowed in more than this share of its steps has diverged.
MAX_SKIPPED = 0.1


@dataclass
class Predictions:
    probs: np.ndarray  # (texts, labels); for an ensemble (members, texts, labels), see metrics.predict
    labels: np.ndarray  # (texts, labels) multi-hot
    loss: float  # mean BCE, unweighted


@dataclass
class Trained:
    model: nn.Module  # one model, or an Ensemble of the fold models
    history: list[EpochRecord]
    held_out: Predictions  # out-of-fold (or validation) predictions, for the thresholds
    worker_peak_mb: float = 0.0  # fold workers' peak memory, the `jobs` largest added (0: none)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device", name, "no CUDA device is available here (use cpu or auto)")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def pos_weight(y: np.ndarray, cap: float) -> torch.Tensor:
    """Negatives / positives per label (1 where a label has no positive), capped."""
    pos = y.sum(0)
    w = np.where(pos > 0, (len(y) - pos) / np.maximum(pos, 1), 1.0)
    return torch.tensor(np.clip(w, 1.0, cap), dtype=torch.float32)


@torch.no_grad()
def predict_probs(
    model: nn.Module, ds: EncodedDataset, device: torch.device, max_tokens: int | None = None
) -> Predictions:
    """Probabilities, true labels and mean BCE (unweighted; an ensemble's mean probability) of
    every text of `ds`, in its order. An ensemble gives each member's probabilities.
    Texts go longest first (little padding), 32 a batch, or with `max_tokens` in batches of that
    token budget (memory bounded whatever the lengths: `predict`). Draws no random number (a
    DataLoader would draw its seed from torch's global generator and shift the training's
    dropout masks)."""
    model.eval()
    if max_tokens is None:  # no budget: 32 texts a batch, still sorted by length
        batches = budget_batches(ds.lengths(), max_tokens=2**62, max_texts=32)
    else:
        batches = budget_batches(ds.lengths(), max_tokens)
    members = len(model.members) if isinstance(model, Ensemble) else 0
    probs, loss = [], 0.0
    for rows in batches:
        batch = collate([ds[i] for i in rows]).to(device)
        p = (
            model.member_probs(batch.tokens, batch.lengths)
            if members
            else torch.sigmoid(model(batch.tokens, batch.lengths))
        )
        mean = p.mean(0) if members else p
        loss += nn.functional.binary_cross_entropy(mean, batch.labels, reduction="sum").item()
        probs.append(p.cpu().numpy())
    out = np.zeros((members, *ds.labels.shape) if members else ds.labels.shape, dtype=np.float32)
    if probs:
        out[..., np.concatenate(batches), :] = np.concatenate(probs, axis=-2)
    return Predictions(out, ds.labels, loss / max(ds.labels.size, 1))


def train_model(
    model: nn.Module,
    train: EncodedDataset,
    val: EncodedDataset,
    cfg: FitConfig,
    device: torch.device,
    seed: int,
    fold: int = 0,
    desc: str = "",
    resample: Callable[[int], EncodedDataset] | None = None,
    report: Callable[[str, EpochRecord], None] | None = None,
) -> list[EpochRecord]:
    """Trains `model` in place and restores its best weights by `val` macro F1. Returns the history.
    `resample(epoch)`, when given, makes each epoch's training texts anew (BPE-dropout); with
    `cfg.crop`, each epoch trains on a new random window of each text (`val` is read whole).
    `report(desc, record)` is told of each epoch (by default, a line under the progress bar)."""
    new_texts_each_epoch = resample is not None or cfg.crop > 0
    if not new_texts_each_epoch:
        train_loader = make_loader(train, cfg.batch_size, seed, cfg.bucket, cfg.max_tokens)
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=pos_weight(train.labels, cfg.pos_weight_cap).to(device))
    # fused: one kernel per parameter; on CPU about 10x faster than the default loop for the
    # embedding table, which is updated densely each step.
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, fused=True)
    history: list[EpochRecord] = []
    best_f1, best_state, stale = -1.0, None, 0
    for epoch in range(1, cfg.epochs + 1):
        if new_texts_each_epoch:
            texts = resample(epoch) if resample is not None else train
            if cfg.crop:
                texts = random_windows(texts, cfg.crop, [seed, epoch])
            train_loader = make_loader(texts, cfg.batch_size, seed + epoch, cfg.bucket, cfg.max_tokens)
        model.train()
        start, total, seen, steps, skipped = time.perf_counter(), 0.0, 0, 0, 0
        bar = tqdm(train_loader, desc=f"{desc}epoch {epoch}/{cfg.epochs}", leave=False, disable=not cfg.progress)
        for batch in bar:
            batch = batch.to(device)
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(batch.tokens, batch.lengths), batch.labels)
            loss.backward()
            steps += 1
            # A gradient that overflowed (backpropagation through a long text can grow it step
            # by step) would turn every weight into NaN: skip that step, as AMP's GradScaler does.
            if not torch.isfinite(nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)):
                skipped += 1
                continue
            opt.step()
            total += loss.item() * len(batch.labels)
            seen += len(batch.labels)
            bar.set_postfix(loss=f"{total / seen:.4f}")
        if skipped > MAX_SKIPPED * steps:
            raise UserError(
                f"training diverged in epoch {epoch} (gradient not finite in {skipped} of {steps} steps): "
                "lower the learning rate"
            )
        seconds = time.perf_counter() - start
        held = predict_probs(model, val, device)
        th = metrics.tune_thresholds(held.labels, held.probs, cfg.thresholds)
        val_scores = metrics.scores(held.labels, metrics.predict(held.probs, th, cfg.at_least_one))
        record = EpochRecord(
            fold, epoch, total / max(seen, 1), held.loss, val_scores.macro_f1, val_scores.micro_f1, seconds, skipped
        )
        history.append(record)
        if report is not None:
            report(desc, record)
        elif cfg.progress:
            tqdm.write(_epoch_line(desc, record))
        if record.val_macro_f1 > best_f1:
            best_f1, best_state, stale = record.val_macro_f1, copy.deepcopy(model.state_dict()), 0
        else:
            stale += 1
            if stale >= cfg.patience:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    return history


def _epoch_line(desc: str, r: EpochRecord) -> str:
    return (
        f"{desc}epoch {r.epoch}: train loss {r.train_loss:.4f}  val loss {r.val_loss:.4f}  "
        f"val macro F1 {r.val_macro_f1:.4f}  ({r.seconds:.1f}s"
        + (f", {r.skipped_steps} steps skipped: gradient not finite)" if r.skipped_steps else ")")
    )


def new_model(mc: ModelConfig, vectors: torch.Tensor | None, device: torch.device) -> RecurrentClassifier:
    model = RecurrentClassifier(mc)
    if vectors is not None:
        with torch.no_grad():
            model.embedding.weight.copy_(vectors)
    return model.to(device)


def train_members(
    mc: ModelConfig,
    train: EncodedDataset,
    val: EncodedDataset,
    vectors: torch.Tensor | None,
    cfg: FitConfig,
    device: torch.device,
    resample: Resampler | None = None,
) -> Trained:
    """One model with the validation part (folds=1), or K models on K folds of `train`, `jobs`
    of them at a time (`parallel.jobs_for`). Each fold model starts from its own seed, so it is the
    same model whichever process trains it. `resample`, when given, re-encodes each epoch's
    training texts (BPE-dropout)."""
    from sklearn.model_selection import KFold

    if cfg.folds == 1:
        torch.manual_seed(cfg.seed)
        model = new_model(mc, vectors, device)
        every = np.arange(len(train))
        again = (lambda epoch: resample(every, 1000 * cfg.seed + epoch)) if resample else None
        history = train_model(model, train, val, cfg, device, cfg.seed, resample=again)
        return Trained(model, history, predict_probs(model, val, device))
    kfold = KFold(n_splits=cfg.folds, shuffle=True, random_state=cfg.seed)
    folds = [Fold(k, fit, out) for k, (fit, out) in enumerate(kfold.split(np.arange(len(train))))]
    job = FoldJob(mc, train, vectors, cfg, device, resample)
    jobs = jobs_for(device, cfg.jobs, cfg.folds)
    done, worker_peak_mb = ([job.run(fold) for fold in folds], 0.0) if jobs == 1 else _run_parallel(job, folds, jobs)
    held_out = np.zeros(train.labels.shape, dtype=np.float32)
    for fold, member in zip(folds, done, strict=True):
        held_out[fold.held_out] = member.held_out_probs
    history = [record for member in done for record in member.history]
    held = Predictions(held_out, train.labels, float("nan"))
    return Trained(Ensemble([m.model for m in done]), history, held, worker_peak_mb)


@dataclass
class Fold:
    k: int
    fitted: np.ndarray  # rows of the training part the model is fitted on
    held_out: np.ndarray  # the rest: early stopping, and the out-of-fold predictions


@dataclass
class Member:
    model: RecurrentClassifier
    history: list[EpochRecord]
    held_out_probs: np.ndarray  # (held-out texts, labels)


@dataclass
class FoldJob:
    """What every fold model shares; `run(fold)` trains one (picklable: it may run in a worker)."""

    mc: ModelConfig
    train: EncodedDataset
    vectors: torch.Tensor | None
    cfg: FitConfig
    device: torch.device
    resample: Resampler | None

    def run(self, fold: Fold, report: Callable[[str, EpochRecord], None] | None = None) -> Member:
        cfg, k = self.cfg, fold.k
        torch.manual_seed(cfg.seed + k)
        fit_part, out_part = self.train.subset(fold.fitted), self.train.subset(fold.held_out)
        model = new_model(self.mc, self.vectors, self.device)
        again = None
        if self.resample is not None:
            resample, rows = self.resample, fold.fitted

            def again(epoch: int) -> EncodedDataset:
                return resample(rows, 1000 * (cfg.seed + k) + epoch)

        desc = f"fold {k + 1}/{cfg.folds} "
        history = train_model(model, fit_part, out_part, cfg, self.device, cfg.seed + k, k, desc, again, report)
        return Member(model, history, predict_probs(model, out_part, self.device).probs)


def _run_parallel(job: FoldJob, folds: list[Fold], jobs: int) -> tuple[list[Member], float]:
    """Trains the folds in `jobs` forked processes of one thread each (`parallel.fork_map`);
    their epochs come back here, to the progress bar. Returns the members and the workers' peak
    memory (the `jobs` largest fold peaks added: those that can overlap)."""
    progress = job.cfg.progress
    bar = tqdm(
        total=len(folds) * job.cfg.epochs,
        desc=f"{len(folds)} folds, {jobs} at a time",
        unit="epoch",
        disable=not progress,
    )

    def on_report(message: tuple[str, EpochRecord]) -> None:
        bar.update()
        if progress:
            tqdm.write(_epoch_line(*message))

    def on_done(i: int, result: tuple) -> None:
        _, history, _, _ = result  # as _train_in_worker returns it
        bar.update(job.cfg.epochs - len(history))  # the epochs an early stop skipped

    quiet = replace(job, cfg=replace(job.cfg, progress=False))
    with bar:
        results = fork_map(_train_in_worker, folds, jobs, quiet, on_report, on_done)
    members = []
    for state, history, probs, _ in results:
        model = new_model(job.mc, None, job.device)
        model.load_state_dict({name: torch.from_numpy(value) for name, value in state.items()})
        members.append(Member(model, history, probs))
    return members, sum(sorted(peak for *_, peak in results)[-jobs:])


def _train_in_worker(
    job: FoldJob, fold: Fold, report: Callable
) -> tuple[dict[str, np.ndarray], list[EpochRecord], np.ndarray, float]:
    from pytrain.measure import PeakMemory

    with PeakMemory(job.device) as memory:
        member = job.run(fold, report=lambda desc, record: report((desc, record)))
    # numpy arrays travel by value; tensors would go through shared-memory handles
    state = {name: value.cpu().numpy() for name, value in member.model.state_dict().items()}
    return state, member.history, member.held_out_probs, memory.peak_mb
