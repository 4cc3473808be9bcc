"""Tokenizers behind one small interface: words (a vocabulary with a minimum count) or
`bpe_rs` subwords. Both reserve `<pad>` = 0 and `<unk>` = 1 and encode to int64 arrays."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Protocol

import numpy as np
from tqdm.auto import tqdm

import bpe_rs
from pytrain.errors import UserError
from pytrain.files import write_json_atomic

PAD_ID, UNK_ID = 0, 1
assert (bpe_rs.PAD_ID, bpe_rs.UNK_ID) == (PAD_ID, UNK_ID)


@contextmanager
def merge_progress(desc: str, enabled: bool = True, leave: bool = True) -> Iterator[Callable[[int, int], None]]:
    """A tqdm bar over BPE merges, as the `progress(done, total)` callback bpe_rs training takes."""
    bar = tqdm(total=0, desc=desc, unit="merge", disable=not enabled, leave=leave)

    def report(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    try:
        yield report
    finally:
        bar.close()


class TextTokenizer(Protocol):
    kind: str

    @property
    def vocab_size(self) -> int: ...

    def encode_batch(self, texts: list[str]) -> list[np.ndarray]: ...

    def save(self, path: Path) -> None: ...


class WordTokenizer:
    """Whitespace words; words seen fewer than `min_count` times in training become `<unk>`."""

    kind = "word"

    def __init__(self, vocab: list[str]):
        self.vocab = vocab
        self.index = {w: i for i, w in enumerate(vocab)}

    @classmethod
    def fit(cls, texts: list[str], min_count: int = 1) -> WordTokenizer:
        counts = Counter(w for t in texts for w in t.split())
        # Most frequent first, then alphabetical: deterministic ids.
        words = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
        return cls(["<pad>", "<unk>", *words])

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    def encode_batch(self, texts: list[str]) -> list[np.ndarray]:
        get = self.index.get
        return [np.fromiter((get(w, UNK_ID) for w in t.split()), dtype=np.int64) for t in texts]

    def save(self, path: Path) -> None:
        write_json_atomic(path, {"format": "pytrain-words", "version": 1, "vocab": self.vocab})


class BpeTokenizer:
    """Subwords from `bpe_rs`, trained on the (cleaned) training texts."""

    kind = "bpe"

    def __init__(self, tok: bpe_rs.Tokenizer):
        self.tok = tok

    @classmethod
    def fit(cls, texts: list[str], vocab_size: int, min_frequency: int = 2, progress: bool = True):
        with merge_progress("bpe merges", enabled=progress, leave=False) as report:
            tok = bpe_rs.Tokenizer.train(texts, vocab_size=vocab_size, min_frequency=min_frequency, progress=report)
        return cls(tok)

    @property
    def vocab_size(self) -> int:
        return self.tok.vocab_size

    def encode_batch(self, texts: list[str], dropout: float = 0.0, seed: int = 0) -> list[np.ndarray]:
        """Ids of each text; with `dropout`, BPE-dropout drawn from `seed` (for training batches)."""
        ids, offsets = self.tok.encode_batch_flat(texts, dropout=dropout, seed=seed)
        return np.split(ids.astype(np.int64), offsets[1:-1])

    def save(self, path: Path) -> None:
        self.tok.save(str(path))


def build_tokenizer(
    kind: str, texts: list[str], vocab_size: int = 8000, min_count: int | None = None, progress: bool = True
) -> TextTokenizer:
    """`min_count`: a word's minimum count (word, default 1) or a pair's (bpe, default 2)."""
    if kind == "word":
        return WordTokenizer.fit(texts, min_count=min_count or 1)
    if kind == "bpe":
        return BpeTokenizer.fit(texts, vocab_size=vocab_size, min_frequency=min_count or 2, progress=progress)
    raise UserError(f"unknown tokenizer {kind!r} (choose word or bpe)")


def load_tokenizer(path: Path) -> TextTokenizer:
    try:
        head = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise UserError(f"{path}: cannot read tokenizer: {e}") from None
    fmt = head.get("format") if isinstance(head, dict) else None
    if fmt == "pytrain-words":
        vocab = head.get("vocab")
        if not isinstance(vocab, list) or vocab[:2] != ["<pad>", "<unk>"] or not all(isinstance(w, str) for w in vocab):
            raise UserError(f"{path}: 'vocab' must be a list of words starting with <pad>, <unk>")
        return WordTokenizer(vocab)
    if fmt == "bpe_rs":
        try:
            return BpeTokenizer(bpe_rs.Tokenizer.load(str(path)))
        except (OSError, ValueError) as e:
            raise UserError(str(e)) from None
    raise UserError(f"{path}: unknown tokenizer format {fmt!r}")
