"""`fit`: data -> cleaning -> tokens -> batches -> hand-written models -> early stopping on
held-out macro F1 -> thresholds tuned on held-out predictions -> one report on the test part ->
a run folder with config, metrics, weights, tokenizer, labels and curves.

By default (`folds=5`) the training part is cut into K folds and K models are trained, each
stopped early on the fold it did not see: their out-of-fold predictions cover every training
text, so thresholds are tuned on all of them instead of a few dozen, and the test part is
scored with the members' mean probability. `folds=1` trains one model with a validation part."""

from __future__ import annotations

import copy
import json
import os
import random
import resource
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import torch
from sklearn.model_selection import KFold
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm.auto import tqdm

from pytrain import metrics
from pytrain.batching import EncodedDataset, make_loader
from pytrain.cleaning import Cleaner, CleaningConfig
from pytrain.data import LabelSet, Split, find_data, read_tsv, split_indices, write_json_atomic
from pytrain.errors import UserError
from pytrain.models import Ensemble, ModelConfig, RecurrentClassifier, count_parameters, match_hidden
from pytrain.tokens import TextTokenizer, build_tokenizer


@dataclass
class FitConfig:
    data: str | None = None  # see data.find_data for the default
    model: str = "rnn"  # rnn | lstm | attn
    tokenizer: str = "word"  # word | bpe
    vocab_size: int = 4000  # bpe only
    min_count: int | None = None  # word: min word count (1); bpe: min pair count (2)
    embed_dim: int = 64
    init_embeddings: str = "svd"  # svd: PPMI-SVD vectors of the training texts (see embeddings.py) | random
    hidden: int = 128
    layers: int = 1
    attn_dim: int | None = None
    pool: str = "mean"  # mean | max over the real tokens | last (h at the true last token: the course formula)
    match_params: str | None = None  # "rnn": hidden chosen so parameters ~ a 1-layer RNN's at rnn_hidden
    rnn_hidden: int = 128
    dropout: float = 0.3
    epochs: int = 50
    batch_size: int = 32
    lr: float = 1e-2
    weight_decay: float = 0.0
    clip: float = 1.0
    patience: int = 20  # validation F1 on a few dozen texts is noisy: stop late, keep the best
    ema: float = 0.0  # > 0: evaluate and keep a moving average of the weights with this decay
    pos_weight_cap: float = 30.0
    max_len: int | None = None
    thresholds: str = "global"  # fixed | global | per-label, tuned on held-out predictions
    at_least_one: bool = True  # a text where no label reaches its threshold gets the nearest one
    folds: int = 5  # K > 1: an ensemble of K models over K folds of the training part; 1: one model
    fold_vocab: bool = False  # each fold keeps only tokens in >= min_df texts of its fit part (see fold_parts)
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


@dataclass
class Prepared:
    """Everything before the model: shared by `fit` and the comparison grid."""

    data_path: Path
    labels: LabelSet
    split: Split
    cleaner: Cleaner
    tokenizer: TextTokenizer
    train: EncodedDataset
    val: EncodedDataset
    test: EncodedDataset
    vectors: torch.Tensor | None  # start vectors of the embedding (--init-embeddings svd), from the training part


@dataclass
class RunResult:
    run_dir: Path | None
    metrics: dict
    history: list[dict] = field(default_factory=list)


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda: no CUDA device is available here (use --device cpu or auto)")
    if name not in ("cpu", "cuda"):
        raise UserError(f"unknown device {name!r} (choose auto, cpu or cuda)")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def prepare(cfg: FitConfig, split: Split | None = None) -> Prepared:
    """Reads, splits (the course split unless `split` is given), cleans and tokenizes;
    statistics come from the training part only."""
    path = find_data(cfg.data)
    corpus = read_tsv(path)
    texts, label_lists = corpus.texts[: cfg.limit], corpus.labels[: cfg.limit]
    labels = LabelSet.from_data(label_lists)
    y, _ = labels.encode(label_lists)
    split = split or split_indices(len(texts), cfg.test_size, cfg.split_seed, cfg.val_size)
    if cfg.folds > 1:  # the folds take the place of the validation part
        split = Split(np.sort(np.concatenate([split.train, split.val])), split.val[:0], split.test)
    cleaner = Cleaner(CleaningConfig(cfg.stop_words, cfg.drop_numbers, cfg.min_df, cfg.max_df))
    cleaner.fit([texts[i] for i in split.train])
    clean = cleaner.transform_all(texts)
    tokenizer = build_tokenizer(
        cfg.tokenizer, [clean[i] for i in split.train], cfg.vocab_size, cfg.min_count, progress=cfg.progress
    )
    ids = tokenizer.encode_batch(clean)

    def part(idx: np.ndarray) -> EncodedDataset:
        return EncodedDataset([ids[i] for i in idx], y[idx], cfg.max_len)

    train = part(split.train)
    vectors = initial_vectors(cfg, train.ids, tokenizer.vocab_size)
    return Prepared(path, labels, split, cleaner, tokenizer, train, part(split.val), part(split.test), vectors)


def initial_vectors(cfg: FitConfig, train_ids: list[np.ndarray], vocab_size: int) -> torch.Tensor | None:
    if cfg.init_embeddings == "random":
        return None
    if cfg.init_embeddings != "svd":
        raise UserError(f"--init-embeddings: choose svd or random, got {cfg.init_embeddings!r}")
    from pytrain.embeddings import svd_vectors

    return torch.from_numpy(svd_vectors(train_ids, vocab_size, cfg.embed_dim))


def model_config(cfg: FitConfig, prep: Prepared) -> ModelConfig:
    mc = ModelConfig(
        kind=cfg.model,
        vocab_size=prep.tokenizer.vocab_size,
        num_labels=len(prep.labels),
        embed_dim=cfg.embed_dim,
        hidden=cfg.hidden,
        layers=cfg.layers,
        dropout=cfg.dropout,
        attn_dim=cfg.attn_dim,
        pool=cfg.pool,
    )
    if cfg.match_params == "rnn" and cfg.model != "rnn":
        # The reference is always the one-layer RNN of the course at --rnn-hidden.
        target = ModelConfig(**{**mc.to_dict(), "kind": "rnn", "hidden": cfg.rnn_hidden, "layers": 1})
        mc.hidden = match_hidden(target, mc)
    elif cfg.match_params not in (None, "rnn"):
        raise UserError(f"--match-params: only 'rnn' is supported, got {cfg.match_params!r}")
    return mc


def pos_weight(y: np.ndarray, cap: float) -> torch.Tensor:
    """Negatives / positives per label (1 where a label has no positive), capped."""
    pos = y.sum(0)
    w = np.where(pos > 0, (len(y) - pos) / np.maximum(pos, 1), 1.0)
    return torch.tensor(np.clip(w, 1.0, cap), dtype=torch.float32)


@torch.no_grad()
def predict_probs(model: nn.Module, loader, device: torch.device) -> tuple[np.ndarray, np.ndarray, float]:
    """Probabilities, true labels and mean BCE (unweighted) over a loader."""
    model.eval()
    probs, ys, loss, n = [], [], 0.0, 0
    for batch in loader:
        batch = batch.to(device)
        logits = model(batch.tokens, batch.lengths)
        loss += nn.functional.binary_cross_entropy_with_logits(logits, batch.labels, reduction="sum").item()
        n += batch.labels.numel()
        probs.append(torch.sigmoid(logits).cpu().numpy())
        ys.append(batch.labels.cpu().numpy())
    return np.concatenate(probs), np.concatenate(ys), loss / max(n, 1)


def train_model(
    model: nn.Module,
    train: EncodedDataset,
    val: EncodedDataset,
    cfg: FitConfig,
    device: torch.device,
    seed: int,
    desc: str = "",
) -> list[dict]:
    """Adam + BCE with pos_weight + clipping; early stopping on `val` macro F1 with the
    best weights restored. Returns the per-epoch history."""
    train_loader = make_loader(train, cfg.batch_size, shuffle=True, seed=seed, bucket=cfg.bucket)
    val_loader = make_loader(val, cfg.batch_size, shuffle=False)
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=pos_weight(train.labels, cfg.pos_weight_cap).to(device))
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    # The moving average of the weights is what gets evaluated and kept: on a few hundred texts the
    # raw weights swing from step to step and validation F1 with them.
    ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema)) if cfg.ema > 0 else None
    evaluated = ema.module if ema else model
    history, best_f1, best_state, stale = [], -1.0, None, 0
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        start, total, seen = time.perf_counter(), 0.0, 0
        bar = tqdm(train_loader, desc=f"{desc}epoch {epoch}/{cfg.epochs}", leave=False, disable=not cfg.progress)
        for batch in bar:
            batch = batch.to(device)
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(batch.tokens, batch.lengths), batch.labels)
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), cfg.clip)
            opt.step()
            if ema:
                ema.update_parameters(model)
            total += loss.item() * len(batch.labels)
            seen += len(batch.labels)
            bar.set_postfix(loss=f"{total / seen:.4f}")
        seconds = time.perf_counter() - start
        probs, y, val_loss = predict_probs(evaluated, val_loader, device)
        th = metrics.tune_thresholds(y, probs, cfg.thresholds)
        val = metrics.scores(y, metrics.predict(probs, th, cfg.at_least_one))
        history.append(
            {
                "epoch": epoch,
                "train_loss": total / max(seen, 1),
                "val_loss": val_loss,
                "val_macro_f1": val["macro_f1"],
                "val_micro_f1": val["micro_f1"],
                "seconds": seconds,
            }
        )
        if cfg.progress:
            tqdm.write(
                f"{desc}epoch {epoch}: train loss {total / max(seen, 1):.4f}  val loss {val_loss:.4f}  "
                f"val macro F1 {val['macro_f1']:.4f}  ({seconds:.1f}s)"
            )
        if val["macro_f1"] > best_f1:
            best_f1, best_state, stale = val["macro_f1"], copy.deepcopy(evaluated.state_dict()), 0
        else:
            stale += 1
            if stale >= cfg.patience:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    return history


# The kernel's view of this process's memory on Linux (procfs, not a file of the user's):
# the second field is the resident set size in pages. Elsewhere it does not exist.
_STATM = Path("/proc/self/statm")


class PeakMemory:
    """Peak memory used by a block, above what was in use when it started: the CUDA
    allocator's peak on a GPU; on CPU the highest resident set size seen by a thread that
    samples it every 10 ms (the process's peak RSS where the system does not report it)."""

    def __init__(self, device: torch.device):
        self.device, self.peak_mb, self._stop = device, 0.0, threading.Event()
        self._thread: threading.Thread | None = None

    @staticmethod
    def _rss_mb() -> float | None:
        try:
            return int(_STATM.read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
        except OSError:
            return None

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self._top = max(self._top, self._rss_mb() or 0.0)

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
            self._base = torch.cuda.memory_allocated(self.device)
        elif (rss := self._rss_mb()) is not None:
            self._base = self._top = rss
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            self.peak_mb = (torch.cuda.max_memory_allocated(self.device) - self._base) / 2**20
        elif self._thread is None:
            self.peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        else:
            self._stop.set()
            self._thread.join()
            self.peak_mb = self._top - self._base


def new_model(mc: ModelConfig, vectors: torch.Tensor | None, device: torch.device) -> RecurrentClassifier:
    model = RecurrentClassifier(mc)
    if vectors is not None:
        with torch.no_grad():
            model.embedding.weight.copy_(vectors)
    return model.to(device)


def fold_parts(
    prep: Prepared, fit_idx: np.ndarray, out_idx: np.ndarray, cfg: FitConfig
) -> tuple[EncodedDataset, EncodedDataset]:
    """A fold's (fit, held-out) parts of the training part. The vocabulary was built on the whole
    training part, so a held-out text still holds words that only it and one other text use,
    words an unseen text would have lost in cleaning: its probabilities, and the thresholds tuned
    on them, would be those of richer texts than the test part's. With `fold_vocab`, tokens in
    fewer than `min_df` texts of the fit part are dropped from both parts, as cleaning on the fit
    part alone would have dropped them."""
    fit_part, out_part = prep.train.subset(fit_idx), prep.train.subset(out_idx)
    if not cfg.fold_vocab:
        return fit_part, out_part
    keep = fit_part.document_frequency(prep.tokenizer.vocab_size) >= max(cfg.min_df, 1)
    return fit_part.keep_tokens(keep), out_part.keep_tokens(keep)


def train_members(
    mc: ModelConfig, prep: Prepared, cfg: FitConfig, device: torch.device
) -> tuple[nn.Module, list[dict], np.ndarray, np.ndarray]:
    """One model with the validation part (folds=1), or K models on K folds of the training
    part. Returns the model (an Ensemble for K > 1), the history (entries tagged with their
    fold) and the held-out (probabilities, labels) the thresholds are tuned on."""
    if cfg.folds == 1:
        model = new_model(mc, prep.vectors, device)
        history = train_model(model, prep.train, prep.val, cfg, device, cfg.seed)
        probs, y, _ = predict_probs(model, make_loader(prep.val, cfg.batch_size, False), device)
        return model, [{"fold": 0, **h} for h in history], probs, y
    n = len(prep.train)
    if not 2 <= cfg.folds <= n:
        raise UserError(f"--folds {cfg.folds}: needs 1 (no folds) or 2 <= K <= {n} (the training texts)")
    members, history = [], []
    held_out = np.zeros(prep.train.labels.shape, dtype=np.float32)
    kfold = KFold(n_splits=cfg.folds, shuffle=True, random_state=cfg.seed)
    for k, (fit_idx, out_idx) in enumerate(kfold.split(np.arange(n))):
        fit_part, out_part = fold_parts(prep, fit_idx, out_idx, cfg)
        model = new_model(mc, prep.vectors, device)
        desc = f"fold {k + 1}/{cfg.folds} "
        history += [{"fold": k, **h} for h in train_model(model, fit_part, out_part, cfg, device, cfg.seed + k, desc)]
        held_out[out_idx] = predict_probs(model, make_loader(out_part, cfg.batch_size, False), device)[0]
        members.append(model)
    return Ensemble(members), history, held_out, prep.train.labels


def run_model(cfg: FitConfig, prep: Prepared) -> tuple[nn.Module, dict, list[dict]]:
    """Trains a model (or a K-fold ensemble) on prepared data and scores it on the test part."""
    device = pick_device(cfg.device)
    seed_everything(cfg.seed)
    mc = model_config(cfg, prep)
    start = time.perf_counter()
    with PeakMemory(device) as memory:
        model, history, held_probs, held_y = train_members(mc, prep, cfg, device)
    train_seconds = time.perf_counter() - start

    thresholds = metrics.tune_thresholds(held_y, held_probs, cfg.thresholds)
    held_out = metrics.scores(held_y, metrics.predict(held_probs, thresholds, cfg.at_least_one))
    probs, y, test_loss = predict_probs(model, make_loader(prep.test, cfg.batch_size, False), device)
    result = metrics.scores(y, metrics.predict(probs, thresholds, cfg.at_least_one), prep.labels.names)
    best_epochs = [max(h, key=lambda e: e["val_macro_f1"])["epoch"] for h in by_fold(history)]
    parameters = count_parameters(mc)  # of one model; an ensemble has `folds` of them
    result.update(
        {
            "test_loss": test_loss,
            "folds": cfg.folds,
            "best_epoch": float(np.mean(best_epochs)) if best_epochs else 0.0,
            "best_epochs": best_epochs,
            # Out-of-fold (or validation) macro F1 at the tuned thresholds: what the thresholds were fitted on.
            "val_macro_f1": held_out["macro_f1"],
            "epochs_run": len(history),
            "train_seconds": train_seconds,
            "seconds_per_epoch": train_seconds / max(len(history), 1),
            "peak_memory_mb": memory.peak_mb,
            "device": str(device),
            "parameters": parameters,
            "parameters_with_embeddings": parameters + mc.vocab_size * mc.embed_dim,
            "hidden": mc.hidden,
            "vocab_size": prep.tokenizer.vocab_size,
            "thresholds": dict(zip(prep.labels.names, thresholds.tolist(), strict=True)),
            "sizes": {"train": len(prep.train), "val": len(prep.val), "test": len(prep.test)},
        }
    )
    return model, result, history


def by_fold(history: list[dict]) -> list[list[dict]]:
    """The history split into one list per fold (one list for a single model)."""
    folds: dict[int, list[dict]] = {}
    for h in history:
        folds.setdefault(h["fold"], []).append(h)
    return list(folds.values())


def run_dir_for(cfg: FitConfig) -> Path:
    name = cfg.name or f"{cfg.model}-{cfg.tokenizer}-{datetime.now():%Y%m%d-%H%M%S}"
    path = Path(cfg.out) / name
    if path.exists() and any(path.iterdir()):
        raise UserError(f"{path}: run folder exists and is not empty (choose another --name)")
    return path


def save_run(path: Path, cfg: FitConfig, prep: Prepared, model: nn.Module, result: dict, history: list[dict]) -> None:
    from pytrain.report import plot_curves

    path.mkdir(parents=True, exist_ok=True)
    config = {**asdict(cfg), "data": str(prep.data_path), "model_config": model.cfg.to_dict()}
    write_json_atomic(path / "config.json", config)
    prep.labels.save(path / "labels.json")
    prep.cleaner.save(path / "cleaner.json")
    prep.tokenizer.save(path / "tokenizer.json")
    tmp = path / ".model.pt.tmp"
    members = len(model.members) if isinstance(model, Ensemble) else 0
    torch.save({"model_config": model.cfg.to_dict(), "members": members, "state_dict": model.state_dict()}, tmp)
    tmp.replace(path / "model.pt")
    plot_curves(history, path / "curves.png", title=f"{cfg.model} / {cfg.tokenizer}")
    write_json_atomic(path / "metrics.json", {"test": result, "history": history})


def fit(cfg: FitConfig) -> RunResult:
    path = run_dir_for(cfg)
    prep = prepare(cfg)
    model, result, history = run_model(cfg, prep)
    save_run(path, cfg, prep, model, result, history)
    return RunResult(path, result, history)


@dataclass
class SavedRun:
    """What predicting with a run needs, as `fit` used it."""

    cleaner: Cleaner
    tokenizer: TextTokenizer
    labels: LabelSet
    model: nn.Module
    thresholds: np.ndarray
    max_len: int | None  # texts were cut to this many tokens in training; predictions cut them alike
    at_least_one: bool  # the decision rule the run was scored with

    def decide(self, probs: np.ndarray) -> np.ndarray:
        """Multi-hot decisions for `probs`, with the run's thresholds and decision rule."""
        return metrics.predict(probs, self.thresholds, self.at_least_one)


def load_run(path: str | Path) -> SavedRun:
    from pytrain.tokens import load_tokenizer

    path = Path(path)
    needed = ["config.json", "labels.json", "cleaner.json", "tokenizer.json", "model.pt", "metrics.json"]
    missing = [n for n in needed if not (path / n).is_file()]
    if missing:
        raise UserError(f"{path}: not a complete run folder (missing {', '.join(missing)})")
    saved = torch.load(path / "model.pt", map_location="cpu", weights_only=True)
    mc = ModelConfig(**saved["model_config"])
    members = saved.get("members", 0)
    model = Ensemble([RecurrentClassifier(mc) for _ in range(members)]) if members else RecurrentClassifier(mc)
    model.load_state_dict(saved["state_dict"])
    model.eval()
    labels = LabelSet.load(path / "labels.json")
    th = json.loads((path / "metrics.json").read_text())["test"]["thresholds"]
    config = json.loads((path / "config.json").read_text())
    return SavedRun(
        Cleaner.load(path / "cleaner.json"),
        load_tokenizer(path / "tokenizer.json"),
        labels,
        model,
        np.array([th[n] for n in labels.names]),
        config.get("max_len"),
        config.get("at_least_one", False),  # runs written before the rule existed did without it
    )
