"""The corpus: finding and reading the course `.tsv`, multi-hot labels, the split, and
converting the dataset's original CSV into the course format."""

from __future__ import annotations

import csv
import io
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pytrain.errors import UserError
from pytrain.files import write_text_atomic

ENV_VAR = "PYTRAIN_DATA"
# Looked for in this order after --data and $PYTRAIN_DATA (relative to the working directory).
DEFAULT_LOCATIONS = ("data/biotech_news.tsv", "../shared/data/biotech_news.tsv")
LABEL_SEP = ", "
WHERE_TO_GET = (
    "get biotech_news.tsv (the course file, or the test split of Knowledgator's "
    "events_classification_biotech converted with `python -m pytrain data convert`) and put it at "
    "data/biotech_news.tsv, or pass --data PATH, or set PYTRAIN_DATA"
)


def find_data(path: str | os.PathLike | None = None) -> Path:
    """The data file: `path` if given, else $PYTRAIN_DATA, else the first default that exists."""
    if path is not None:
        candidates = [Path(path)]
    elif os.environ.get(ENV_VAR):
        candidates = [Path(os.environ[ENV_VAR])]
    else:
        candidates = [Path(p) for p in DEFAULT_LOCATIONS]
    for c in candidates:
        if c.is_file():
            return c
    looked = ", ".join(str(c) for c in candidates)
    raise UserError(f"no data file found (looked at {looked}): {WHERE_TO_GET}")


@dataclass
class Corpus:
    texts: list[str]
    labels: list[list[str]]
    path: Path

    def __len__(self) -> int:
        return len(self.texts)


def read_tsv(path: str | os.PathLike) -> Corpus:
    """Reads a `text<TAB>labels` file; every problem is reported with its file and line."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise UserError(f"{path}: cannot read: {e.strerror or e}") from None
    lines = raw.removeprefix(b"\xef\xbb\xbf").split(b"\n")  # a UTF-8 byte order mark is not part of the header
    header = _decode(path, 1, lines[0]).rstrip("\r").split("\t")
    for col in ("text", "labels"):
        if col not in header:
            raise UserError(f"{path}:1: no '{col}' column in the header (found {header})")
    t_col, l_col = header.index("text"), header.index("labels")
    texts, labels = [], []
    for n, line in enumerate(lines[1:], start=2):
        row = _decode(path, n, line).rstrip("\r")
        if not row.strip():
            continue
        fields = row.split("\t")
        if len(fields) != len(header):
            raise UserError(f"{path}:{n}: expected {len(header)} tab-separated fields, found {len(fields)}")
        text = fields[t_col].strip()
        if not text:
            raise UserError(f"{path}:{n}: empty text")
        texts.append(text)
        labels.append([x.strip() for x in fields[l_col].split(LABEL_SEP.strip()) if x.strip()])
    if not texts:
        raise UserError(f"{path}: no rows after the header")
    return Corpus(texts, labels, path)


def _decode(path: Path, line_no: int, line: bytes) -> str:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError as e:
        raise UserError(f"{path}:{line_no}: not valid UTF-8 (byte {e.start})") from None


class LabelSet:
    """The sorted label names found in the data, and their multi-hot encoding."""

    def __init__(self, names: list[str]):
        self.names = sorted(set(names))
        self.index = {n: i for i, n in enumerate(self.names)}

    @classmethod
    def from_data(cls, labels: list[list[str]]) -> LabelSet:
        return cls([x for row in labels for x in row])

    def __len__(self) -> int:
        return len(self.names)

    def encode(self, labels: list[list[str]]) -> tuple[np.ndarray, set[str]]:
        """Multi-hot matrix (rows x labels) and the set of names this label set has never seen."""
        y = np.zeros((len(labels), len(self.names)), dtype=np.float32)
        unknown = set()
        for r, row in enumerate(labels):
            for name in row:
                if name in self.index:
                    y[r, self.index[name]] = 1.0
                else:
                    unknown.add(name)
        return y, unknown


@dataclass
class Split:
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def split_indices(n: int, test_size: float = 0.2, random_state: int = 0, val_size: float = 0.15) -> Split:
    """The course split (`train_test_split(test_size=0.2, random_state=0)` on the rows), then a
    validation part carved out of the training part for early stopping and thresholds."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(n)
    n_test = math.ceil(test_size * n)  # as scikit-learn counts it
    if n_test < 1 or n - n_test < 2:
        raise UserError(f"{n} rows with test_size {test_size}: the split needs at least 1 test and 2 training rows")
    train, test = train_test_split(idx, test_size=test_size, random_state=random_state)
    n_val = math.ceil(val_size * len(train))
    if n_val >= len(train):
        raise UserError(f"{len(train)} training rows with val_size {val_size}: nothing left to train on")
    train, val = train_test_split(train, test_size=val_size, random_state=random_state)
    return Split(np.sort(train), np.sort(val), np.sort(test))


_APOSTROPHES = re.compile(r"['\u2019\u2018`]")
_NON_WORD = re.compile(r"[\W_]+")


def normalise_text(text: str) -> str:
    """Course format: lowercase, apostrophes removed, other non-word characters as spaces."""
    text = _APOSTROPHES.sub("", text.lower())
    return " ".join(_NON_WORD.sub(" ", text).split())


def convert_csv(src: str | os.PathLike, dst: str | os.PathLike, rename: dict[str, str] | None = None) -> int:
    """Converts the dataset's CSV (Title, Content, ..., Label 1..5) to the course `.tsv`.
    Returns the number of rows written; `rename` maps label spellings (e.g. to merge variants).
    A label that the course format cannot hold (a tab, a line break or a comma inside it) is
    refused with its record number."""
    src = Path(src)
    try:
        text = src.read_bytes().decode("utf-8-sig")
    except OSError as e:
        raise UserError(f"{src}: cannot read: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise UserError(f"{src}: not valid UTF-8 (byte {e.start})") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
        if header is None:
            raise UserError(f"{src}: empty file (expected a header with 'Content' and 'Label 1'.. columns)")
        label_cols = [i for i, c in enumerate(header) if re.fullmatch(r"Label \d+", c)]
        if "Content" not in header or not label_cols:
            raise UserError(f"{src}:1: expected a 'Content' column and 'Label 1'.. columns, found {header}")
        content = header.index("Content")
        rename = rename or {}
        rows = ["text\tlabels"]
        for record, fields in enumerate(reader, 1):
            if not fields:
                continue
            where = f"{src}: record {record} (line {reader.line_num})"
            if len(fields) != len(header):
                raise UserError(f"{where}: expected {len(header)} fields, found {len(fields)}")
            text = normalise_text(fields[content])
            if not text:
                raise UserError(f"{where}: empty Content")
            names = [rename.get(fields[i].strip(), fields[i].strip()) for i in label_cols if fields[i].strip()]
            for name in names:
                if any(ch in name for ch in "\t\n\r,"):
                    raise UserError(
                        f"{where}: label {name!r} holds a tab, a line break or a comma, which the course "
                        f"format cannot hold (labels are joined by {LABEL_SEP!r}); respell it with --rename-label"
                    )
            rows.append(f"{text}\t{LABEL_SEP.join(names)}")
    except csv.Error as e:
        raise UserError(f"{src}:{reader.line_num}: not a valid CSV: {e}") from None
    if len(rows) == 1:
        raise UserError(f"{src}: no records after the header")
    write_text_atomic(dst, "\n".join(rows) + "\n")
    return len(rows) - 1
