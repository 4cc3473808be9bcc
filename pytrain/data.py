"""The corpus: finding and reading the course `.tsv`, multi-hot labels, the split, and
converting the dataset's original CSV into the course format."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from pytrain.errors import UserError

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
    lines = raw.split(b"\n")
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

    def save(self, path: Path) -> None:
        write_json_atomic(path, self.names)

    @classmethod
    def load(cls, path: Path) -> LabelSet:
        return cls(json.loads(Path(path).read_text()))


@dataclass
class Split:
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def split_indices(n: int, test_size: float = 0.2, random_state: int = 0, val_size: float = 0.15) -> Split:
    """The course split (`train_test_split(test_size=0.2, random_state=0)` on the rows), then a
    validation part carved out of the training part for early stopping and thresholds."""
    idx = np.arange(n)
    train, test = train_test_split(idx, test_size=test_size, random_state=random_state)
    train, val = train_test_split(train, test_size=val_size, random_state=random_state)
    return Split(np.sort(train), np.sort(val), np.sort(test))


def kfold_splits(n: int, k: int, random_state: int = 0, val_size: float = 0.15) -> list[Split]:
    """K folds over all rows: each fold is the test part once; validation is carved out of the rest."""
    from sklearn.model_selection import KFold

    if k < 2 or k > n:
        raise UserError(f"--cv {k}: needs 2 <= K <= {n} (the number of rows)")
    splits = []
    for rest, test in KFold(n_splits=k, shuffle=True, random_state=random_state).split(np.arange(n)):
        train, val = train_test_split(rest, test_size=val_size, random_state=random_state)
        splits.append(Split(np.sort(train), np.sort(val), np.sort(test)))
    return splits


_APOSTROPHES = re.compile(r"['\u2019\u2018`]")
_NON_WORD = re.compile(r"[\W_]+")


def normalise_text(text: str) -> str:
    """Course format: lowercase, apostrophes removed, other non-word characters as spaces."""
    text = _APOSTROPHES.sub("", text.lower())
    return " ".join(_NON_WORD.sub(" ", text).split())


def convert_csv(src: str | os.PathLike, dst: str | os.PathLike, rename: dict[str, str] | None = None) -> int:
    """Converts the dataset's CSV (Title, Content, ..., Label 1..5) to the course `.tsv`.
    Returns the number of rows written; `rename` maps label spellings (e.g. to merge variants)."""
    import pandas as pd

    src, dst = Path(src), Path(dst)
    try:
        df = pd.read_csv(src, dtype=str, keep_default_na=False)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError) as e:
        raise UserError(f"{src}: cannot read as CSV: {e}") from None
    label_cols = [c for c in df.columns if re.fullmatch(r"Label \d+", c)]
    if "Content" not in df.columns or not label_cols:
        raise UserError(f"{src}:1: expected a 'Content' column and 'Label 1'.. columns, found {list(df.columns)}")
    rename = rename or {}
    rows = ["text\tlabels"]
    for record, (content, *names) in enumerate(df[["Content", *label_cols]].itertuples(index=False, name=None), 1):
        text = normalise_text(content)
        if not text:
            raise UserError(f"{src}: record {record}: empty Content")
        names = [rename.get(x.strip(), x.strip()) for x in names if x.strip()]
        rows.append(f"{text}\t{LABEL_SEP.join(names)}")
    write_text_atomic(dst, "\n".join(rows) + "\n")
    return len(rows) - 1


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Writes to a temporary file beside `path`, then renames it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json_atomic(path: str | os.PathLike, obj) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")
