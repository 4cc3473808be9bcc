"""`fit`: data -> cleaning -> tokens -> start vectors -> a fold ensemble (or one model) ->
thresholds tuned on held-out predictions -> one report on the test part -> a run folder.

Every statistic (cleaning, vocabulary, start vectors, thresholds) comes from the training part.
The test part is only read for the final scores. Scores are given twice: on the whole test
part (the course's number), and on the test texts whose exact text is not in the training part
(the data repeats some rows, and a model can score on those by memory)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import torch
from torch import nn

from pytrain import metrics
from pytrain.batching import EncodedDataset, Resampler
from pytrain.cleaning import Cleaner, CleaningConfig
from pytrain.config import FitConfig
from pytrain.data import LabelSet, Split, find_data, read_tsv, split_indices
from pytrain.errors import ConfigError, UserError
from pytrain.files import RunFolder
from pytrain.measure import PeakMemory
from pytrain.models import ModelConfig, count_parameters, match_hidden
from pytrain.results import FitResult, by_fold
from pytrain.tokens import TextTokenizer, build_tokenizer
from pytrain.train import Trained, pick_device, predict_probs, seed_everything, train_members


@dataclass
class Prepared:
    """Everything before the model: shared by `fit`, `compare`'s cells and `nested`'s folds."""

    data_path: Path
    labels: LabelSet
    split: Split
    cleaner: Cleaner
    tokenizer: TextTokenizer
    train: EncodedDataset
    val: EncodedDataset
    test: EncodedDataset
    vectors: torch.Tensor | None  # start vectors of the embedding (init_embeddings="svd")
    empty_texts: dict[str, int]  # texts that cleaning left without a word, per part
    test_unseen: np.ndarray  # (test texts,) bool: its text is not in the training part
    train_texts: list[str]  # the cleaned training texts (re-encoded each epoch with BPE-dropout)


def prepare(cfg: FitConfig, split: Split | None = None) -> Prepared:
    """Reads, splits (the course split unless `split` is given), cleans and tokenizes; statistics
    come from the training part only. Problems with the data are raised before any training."""
    path = find_data(cfg.data)
    corpus = read_tsv(path)
    texts, label_lists = corpus.texts[: cfg.limit], corpus.labels[: cfg.limit]
    labels = LabelSet.from_data(label_lists)
    if len(labels) == 0:
        raise UserError(f"{path}: no row has a label (the 'labels' column is empty everywhere)")
    y, _ = labels.encode(label_lists)
    split = split or split_indices(len(texts), cfg.test_size, cfg.split_seed, cfg.val_size)
    if cfg.folds > 1:  # the folds take the place of the validation part
        split = Split(np.sort(np.concatenate([split.train, split.val])), split.val[:0], split.test)
        if cfg.folds > len(split.train):
            raise ConfigError("folds", cfg.folds, f"more folds than the {len(split.train)} training texts")
    if not y[split.train].any():
        raise UserError(f"{path}: no text of the training part has a label")
    cleaner = Cleaner(CleaningConfig(cfg.stop_words, cfg.drop_numbers, cfg.min_df, cfg.max_df))
    cleaner.fit([texts[i] for i in split.train])
    clean = cleaner.transform_all(texts)
    empty = {name: sum(not clean[i] for i in idx) for name, idx in vars(split).items()}
    if empty["train"] == len(split.train):
        raise UserError(
            f"{path}: cleaning left every training text empty (min_df {cfg.min_df}, max_df {cfg.max_df}, "
            f"{len(split.train)} training texts): lower min_df or raise max_df"
        )
    tokenizer = build_tokenizer(
        cfg.tokenizer, [clean[i] for i in split.train], cfg.vocab_size, cfg.min_count, progress=cfg.progress
    )
    ids = tokenizer.encode_batch(clean)

    def part(idx: np.ndarray) -> EncodedDataset:
        return EncodedDataset([ids[i] for i in idx], y[idx], cfg.max_len)

    train = part(split.train)
    seen = {texts[i] for i in np.concatenate([split.train, split.val])}
    unseen = np.array([texts[i] not in seen for i in split.test], dtype=bool)
    vectors = initial_vectors(cfg, train.ids, tokenizer.vocab_size)
    train_texts = [clean[i] for i in split.train]
    return Prepared(
        path,
        labels,
        split,
        cleaner,
        tokenizer,
        train,
        part(split.val),
        part(split.test),
        vectors,
        empty,
        unseen,
        train_texts,
    )


def initial_vectors(cfg: FitConfig, train_ids: list[np.ndarray], vocab_size: int) -> torch.Tensor | None:
    if cfg.init_embeddings == "random":
        return None
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
    if cfg.match_params == "rnn" and (cfg.model, cfg.layers) != ("rnn", 1):
        mc.hidden = match_hidden(rnn_reference(cfg, mc.vocab_size, mc.num_labels), mc)
    return mc


def rnn_reference(cfg: FitConfig, vocab_size: int, num_labels: int) -> ModelConfig:
    """The one-layer RNN at `rnn_hidden` that `match_params="rnn"` matches."""
    return ModelConfig("rnn", vocab_size, num_labels, cfg.embed_dim, cfg.rnn_hidden, 1, cfg.dropout, None, cfg.pool)


@dataclass
class ModelRun:
    model: nn.Module  # one model, or the fold ensemble
    result: FitResult
    test_labels: np.ndarray  # (test texts, labels) multi-hot
    test_decisions: np.ndarray  # the same shape: the decisions scored in `result.test`


def run_model(cfg: FitConfig, prep: Prepared) -> ModelRun:
    """Trains a model (or a K-fold ensemble) on prepared data and scores it on the test part."""
    device = pick_device(cfg.device)
    seed_everything(cfg.seed)
    mc = model_config(cfg, prep)
    start = time.perf_counter()
    resample = None
    if cfg.bpe_dropout > 0:
        resample = Resampler(prep.tokenizer, prep.train_texts, prep.train.labels, cfg.bpe_dropout, cfg.max_len)
    with PeakMemory(device) as memory:
        trained: Trained = train_members(mc, prep.train, prep.val, prep.vectors, cfg, device, resample)
    train_seconds = time.perf_counter() - start

    held = trained.held_out
    thresholds = metrics.tune_thresholds(held.labels, held.probs, cfg.thresholds)
    held_scores = metrics.scores(held.labels, metrics.predict(held.probs, thresholds, cfg.at_least_one))
    test = predict_probs(trained.model, prep.test, device)
    decisions = metrics.predict(test.probs, thresholds, cfg.at_least_one)
    names = prep.labels.names
    unseen = prep.test_unseen
    parameters = count_parameters(mc)  # of one model; an ensemble has `folds` of them
    result = FitResult(
        test=metrics.scores(test.labels, decisions, names),
        test_unseen=metrics.scores(test.labels[unseen], decisions[unseen], names) if unseen.any() else None,
        held_out_macro_f1=held_scores.macro_f1,
        test_loss=test.loss,
        folds=cfg.folds,
        best_epochs=[max(f, key=lambda e: e.val_macro_f1).epoch for f in by_fold(trained.history)],
        train_seconds=train_seconds,
        peak_memory_mb=memory.peak_mb + trained.worker_peak_mb,
        device=str(device),
        parameters=parameters,
        parameters_with_embeddings=parameters + mc.vocab_size * mc.embed_dim,
        hidden=mc.hidden,
        vocab_size=prep.tokenizer.vocab_size,
        thresholds=dict(zip(names, thresholds.tolist(), strict=True)),
        sizes={"train": len(prep.train), "val": len(prep.val), "test": len(prep.test)},
        empty_texts=prep.empty_texts,
        history=trained.history,
    )
    return ModelRun(trained.model, result, test.labels, decisions)


@dataclass
class FitRun:
    run_dir: Path
    config: FitConfig
    result: FitResult


def fit(cfg: FitConfig) -> FitRun:
    """Checks the settings, claims the run folder, trains, and puts the finished folder in place.
    A failure leaves no folder behind; a finished run is never overwritten."""
    from pytrain.report import plot_curves
    from pytrain.runs import save_run

    cfg.validate()
    with claim_run_folder(cfg) as folder:
        prep = prepare(cfg)
        run = run_model(cfg, prep)
        save_run(folder.partial, cfg, prep, run.model, run.result)
        plot_curves(run.result.history, folder.partial / "curves.png", title=f"{cfg.model} / {cfg.tokenizer}")
        return FitRun(folder.commit(), cfg, run.result)


def claim_run_folder(cfg: FitConfig) -> RunFolder:
    """`out/name`, claimed before any work. Without a name: model-tokenizer-time, with a
    counter if that is taken."""
    if cfg.name:
        folder = RunFolder(cfg.out, cfg.name)
        folder.claim()
        return folder
    stem = f"{cfg.model}-{cfg.tokenizer}-{datetime.now():%Y%m%d-%H%M%S}"
    for n in range(1, 1000):
        folder = RunFolder(cfg.out, stem if n == 1 else f"{stem}-{n}")
        if not folder.final.exists() and not folder.partial.exists():
            folder.claim()
            return folder
    raise UserError(f"{cfg.out}: no free run name {stem}-N")
