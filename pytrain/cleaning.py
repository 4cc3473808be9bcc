"""Text cleaning: stop words, numbers, and words too rare or too frequent by document
frequency. Every statistic comes from the training texts only (`fit`), then the same
rules are applied to validation, test and new texts (`transform`)."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

from pytrain.files import write_json_atomic


@dataclass
class CleaningConfig:
    stop_words: bool = True  # scikit-learn's English list (ships with the package)
    drop_numbers: bool = True  # tokens containing a digit: "2021", "7", "covid19"
    min_df: int = 2  # keep a word only if it is in at least this many training documents
    max_df: float = 0.5  # ... and in at most this fraction of them


class Cleaner:
    def __init__(self, config: CleaningConfig | None = None, keep: set[str] | None = None):
        self.config = config or CleaningConfig()
        self.keep = keep  # the words that survive; None until fitted

    def fit(self, texts: list[str]) -> Cleaner:
        cfg = self.config
        df = Counter(w for t in texts for w in set(t.split()))
        max_docs = cfg.max_df * len(texts)
        self.keep = {
            w
            for w, n in df.items()
            if cfg.min_df <= n <= max_docs
            and not (cfg.stop_words and w in ENGLISH_STOP_WORDS)
            and not (cfg.drop_numbers and any(ch.isdigit() for ch in w))
        }
        return self

    def transform(self, text: str, limit: int | None = None) -> str:
        """The kept words of `text`; with `limit`, only its first `limit` kept words."""
        if self.keep is None:
            raise RuntimeError("Cleaner.transform called before fit")
        kept = (w for w in text.split() if w in self.keep)
        return " ".join(kept if limit is None else itertools.islice(kept, limit))

    def transform_all(self, texts: list[str], limit: int | None = None) -> list[str]:
        return [self.transform(t, limit) for t in texts]

    def save(self, path: Path) -> None:
        write_json_atomic(path, {"config": asdict(self.config), "keep": sorted(self.keep or ())})

    @classmethod
    def load(cls, path: Path) -> Cleaner:
        d = json.loads(Path(path).read_text())
        return cls(CleaningConfig(**d["config"]), set(d["keep"]))
