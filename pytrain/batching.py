"""Batches: a dataset of encoded texts, a `collate_fn` that pads each batch to its own
longest sequence, a sampler that groups texts of similar length (less padding), random windows
of the training texts, and batches cut by a token budget for inference (memory bounded whatever
the texts' lengths)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from pytrain.tokens import PAD_ID, UNK_ID, TextTokenizer


@dataclass
class Batch:
    tokens: torch.Tensor  # (B, T) int64, padded with PAD_ID
    lengths: torch.Tensor  # (B,) int64, true lengths (>= 1)
    labels: torch.Tensor  # (B, L) float32 multi-hot

    def to(self, device: torch.device) -> Batch:
        nb = device.type == "cuda"
        return Batch(self.tokens.to(device, non_blocking=nb), self.lengths.to(device), self.labels.to(device))


class EncodedDataset(Dataset):
    """Token id sequences with their label vectors. Sequences are cut to `max_len` if set;
    an empty sequence (everything cleaned away) becomes a single `<unk>` so every text has
    at least one step."""

    def __init__(self, ids: list[np.ndarray], labels: np.ndarray, max_len: int | None = None):
        if len(ids) != len(labels):
            raise ValueError(f"{len(ids)} sequences but {len(labels)} label rows")
        self.ids = [s[:max_len] if max_len else s for s in ids]
        self.ids = [s if len(s) else np.array([UNK_ID], dtype=np.int64) for s in self.ids]
        self.labels = np.asarray(labels, dtype=np.float32)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        return self.ids[i], self.labels[i]

    def subset(self, idx: np.ndarray) -> EncodedDataset:
        return EncodedDataset([self.ids[i] for i in idx], self.labels[idx])

    def lengths(self) -> np.ndarray:
        return np.array([len(s) for s in self.ids])

    def document_frequency(self, vocab_size: int) -> np.ndarray:
        """(vocab_size,) how many of these texts hold each token id."""
        if not self.ids:
            return np.zeros(vocab_size, dtype=np.int64)
        return np.bincount(np.concatenate([np.unique(s) for s in self.ids]), minlength=vocab_size)

    def keep_tokens(self, keep: np.ndarray) -> EncodedDataset:
        """The same texts with only the token ids where `keep` (a (vocab,) bool mask) is true."""
        return EncodedDataset([s[keep[s]] for s in self.ids], self.labels)


def collate(items: list[tuple[np.ndarray, np.ndarray]]) -> Batch:
    lengths = torch.tensor([len(ids) for ids, _ in items], dtype=torch.int64)
    tokens = torch.full((len(items), int(lengths.max())), PAD_ID, dtype=torch.int64)
    for row, (ids, _) in enumerate(items):
        tokens[row, : len(ids)] = torch.from_numpy(ids)
    labels = torch.from_numpy(np.stack([y for _, y in items]))
    return Batch(tokens, lengths, labels)


class BucketSampler(Sampler[list[int]]):
    """Yields batches of indices of similar length: shuffle, cut into pools of 50 batches,
    sort each pool by length, cut into batches of at most `batch_size` texts and, with
    `max_tokens`, at most that many padded tokens (texts x the batch's longest), then shuffle the
    batches. Seeded per epoch."""

    def __init__(
        self, lengths: np.ndarray, batch_size: int, seed: int = 0, pool: int = 50, max_tokens: int | None = None
    ):
        self.lengths, self.batch_size, self.seed, self.pool = lengths, batch_size, seed, pool
        self.max_tokens = max_tokens
        self.epoch = 0
        # With a token budget the number of batches depends on the draw: count one.
        budget = max_tokens is not None
        self._count = len(self._batches(np.random.default_rng(seed))) if budget else -(-len(lengths) // batch_size)

    def _batches(self, rng: np.random.Generator) -> list[list[int]]:
        order = rng.permutation(len(self.lengths))
        size = self.batch_size * self.pool
        batches = []
        for start in range(0, len(order), size):
            chunk = order[start : start + size]
            chunk = chunk[np.argsort(self.lengths[chunk], kind="stable")]
            if self.max_tokens is None:
                batches += [chunk[i : i + self.batch_size].tolist() for i in range(0, len(chunk), self.batch_size)]
            else:
                cut = budget_batches(self.lengths[chunk], self.max_tokens, self.batch_size)
                batches += [chunk[b].tolist() for b in cut]
        return batches

    def __iter__(self):
        rng = np.random.default_rng(self.seed + self.epoch)
        self.epoch += 1
        batches = self._batches(rng)
        yield from (batches[i] for i in rng.permutation(len(batches)))

    def __len__(self) -> int:
        return self._count


@dataclass
class Resampler:
    """BPE-dropout for the training batches: `resampler(rows, seed)` encodes those training texts
    anew, each merge skipped with probability `dropout` (seeded: the same call, the same ids)."""

    tokenizer: TextTokenizer
    texts: list[str]  # the cleaned training texts
    labels: np.ndarray  # their (texts, labels) multi-hot rows
    dropout: float
    max_len: int | None

    def __call__(self, rows: np.ndarray, seed: int) -> EncodedDataset:
        ids = self.tokenizer.encode_batch([self.texts[i] for i in rows], dropout=self.dropout, seed=seed)
        return EncodedDataset(ids, self.labels[rows], self.max_len)


def random_windows(ds: EncodedDataset, width: int, seed: int | list[int]) -> EncodedDataset:
    """The same texts, each longer than `width` tokens replaced by `width` consecutive tokens of
    it starting at a random place (seeded: the same call, the same windows)."""
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, np.maximum(ds.lengths() - width, 0) + 1)
    return EncodedDataset([s[a : a + width] for s, a in zip(ds.ids, starts, strict=True)], ds.labels)


def make_loader(
    ds: EncodedDataset, batch_size: int, seed: int = 0, bucket: bool = True, max_tokens: int | None = None
) -> DataLoader:
    """Shuffled training batches: length-bucketed (with an optional token budget), or plain."""
    if bucket:
        sampler = BucketSampler(ds.lengths(), batch_size, seed, max_tokens=max_tokens)
        return DataLoader(ds, batch_sampler=sampler, collate_fn=collate)
    gen = torch.Generator().manual_seed(seed)
    return DataLoader(ds, batch_size=batch_size, shuffle=True, collate_fn=collate, generator=gen)


def budget_batches(lengths: np.ndarray, max_tokens: int, max_texts: int = 256) -> list[np.ndarray]:
    """Indices sorted by length, longest first, cut into batches whose padded size (texts x the
    batch's longest) stays within `max_tokens` (a text longer than that gets a batch of its own)."""
    order = np.argsort(-np.asarray(lengths), kind="stable")
    batches, start = [], 0
    while start < len(order):
        longest = max(int(lengths[order[start]]), 1)
        size = int(min(max(max_tokens // longest, 1), max_texts))
        batches.append(order[start : start + size])
        start += size
    return batches
