"""What training and scoring return: plain dataclasses (no torch), saved as JSON in the run folder
and read back by `predict`, `compare` and the reports."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields


@dataclass
class Scores:
    """Multi-label scores of decisions against true labels."""

    macro_f1: float  # over all labels (sklearn average='macro'): the course's number
    macro_f1_present: float  # over the labels with a positive example
    micro_f1: float
    subset_accuracy: float
    labels_present: int
    texts: int
    per_label_f1: dict[str, float] = field(default_factory=dict)


@dataclass
class EpochRecord:
    fold: int  # 0 for a single model
    epoch: int
    train_loss: float  # weighted BCE, as optimised
    val_loss: float  # plain BCE on the held-out part
    val_macro_f1: float
    val_micro_f1: float
    seconds: float
    skipped_steps: int = 0  # steps skipped because the gradient was not finite


@dataclass
class FitResult:
    """One trained model (or fold ensemble) scored on the test part."""

    test: Scores
    # The test texts whose exact text is not in the training part (the data repeats some rows).
    test_unseen: Scores | None
    held_out_macro_f1: float  # out-of-fold (or validation) macro F1 at the tuned thresholds
    test_loss: float
    folds: int
    best_epochs: list[int]
    train_seconds: float
    peak_memory_mb: float
    device: str
    parameters: int  # of one model, embeddings excluded
    parameters_with_embeddings: int
    hidden: int
    vocab_size: int
    thresholds: dict[str, float]
    sizes: dict[str, int]  # texts in the train / val / test parts
    empty_texts: dict[str, int]  # texts that cleaning left without a word, per part
    history: list[EpochRecord]

    @property
    def epochs_run(self) -> int:
        return len(self.history)

    @property
    def best_epoch(self) -> float:
        return sum(self.best_epochs) / len(self.best_epochs) if self.best_epochs else 0.0

    @property
    def seconds_per_epoch(self) -> float:
        return self.train_seconds / max(self.epochs_run, 1)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> FitResult:
        known = {f.name for f in fields(cls)}
        missing = known - d.keys()
        if missing:
            raise ValueError(f"missing fields {sorted(missing)}")
        d = {k: v for k, v in d.items() if k in known}
        d["test"] = Scores(**d["test"])
        d["test_unseen"] = Scores(**d["test_unseen"]) if d["test_unseen"] else None
        d["history"] = [EpochRecord(**h) for h in d["history"]]
        return cls(**d)


def by_fold(history: list[EpochRecord]) -> list[list[EpochRecord]]:
    """The history split into one list per fold (one list for a single model)."""
    folds: dict[int, list[EpochRecord]] = {}
    for h in history:
        folds.setdefault(h.fold, []).append(h)
    return list(folds.values())


@dataclass(frozen=True)
class Cell:
    """One cell of the comparison grid."""

    model: str  # display name
    kind: str  # rnn | lstm | attn
    layers: int
    tokenizer: str  # word | bpe
    vocab_size: int | None  # BPE only

    @property
    def tokens(self) -> str:
        return self.tokenizer if self.tokenizer == "word" else f"bpe {self.vocab_size}"


@dataclass
class CellRun:
    cell: Cell
    seed: int
    result: FitResult


@dataclass
class Stat:
    mean: float
    std: float  # population std over the runs; 0 for one run
    low: float  # the lowest run

    def __format__(self, spec: str) -> str:
        spec = spec or ".3f"
        return f"{self.mean:{spec}} ± {self.std:{spec}}" if self.std else f"{self.mean:{spec}}"


@dataclass
class CellSummary:
    """A cell's runs (one per seed) in one row: means and standard deviations."""

    cell: Cell
    runs: int
    parameters: int
    hidden: int
    vocab: int
    device: str
    best_epoch: Stat
    macro_f1: Stat
    macro_f1_unseen: Stat | None  # on the test texts not in the training part
    macro_f1_present: Stat
    micro_f1: Stat
    subset_accuracy: Stat
    train_seconds: Stat
    seconds_per_epoch: Stat
    peak_memory_mb: Stat
