"""A run folder: what `fit` leaves, and what `predict` and `evaluate` load.

    config.json     every setting, the data path, the model's shape, the longest training text
    metrics.json    the FitResult: test scores, thresholds, per-epoch history of every fold
    model.pt        the weights (all members of an ensemble)
    tokenizer.json  cleaner.json  labels.json
    curves.png      loss and held-out F1 per epoch (written by `fit`, not needed to load)

Loading checks every file and names the one that is missing, truncated or inconsistent."""

from __future__ import annotations

import json
import pickle
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from pytrain import metrics
from pytrain.cleaning import Cleaner, CleaningConfig
from pytrain.config import FitConfig
from pytrain.data import LabelSet
from pytrain.errors import UserError
from pytrain.files import atomic_path, write_json_atomic
from pytrain.models import Ensemble, ModelConfig, RecurrentClassifier
from pytrain.results import FitResult
from pytrain.tokens import TextTokenizer, load_tokenizer

RUN_FILES = ("config.json", "metrics.json", "model.pt", "tokenizer.json", "cleaner.json", "labels.json")


def save_run(folder: Path, cfg: FitConfig, prep, model: nn.Module, result: FitResult) -> None:
    """Writes a run's files into `folder` (the partial folder that `fit` renames into place)."""
    config = {
        **asdict(cfg),
        "data": str(prep.data_path),
        "model_config": model.cfg.to_dict(),
        "longest_training_text": int(prep.train.lengths().max()),
    }
    write_json_atomic(folder / "config.json", config)
    write_json_atomic(folder / "labels.json", prep.labels.names)
    prep.cleaner.save(folder / "cleaner.json")
    prep.tokenizer.save(folder / "tokenizer.json")
    members = len(model.members) if isinstance(model, Ensemble) else 0
    with atomic_path(folder / "model.pt") as tmp:
        torch.save({"model_config": model.cfg.to_dict(), "members": members, "state_dict": model.state_dict()}, tmp)
    write_json_atomic(folder / "metrics.json", result.to_dict())


@dataclass
class SavedRun:
    """What predicting with a run needs, as `fit` used it."""

    path: Path
    cleaner: Cleaner
    tokenizer: TextTokenizer
    labels: LabelSet
    model: nn.Module
    thresholds: np.ndarray
    # Texts are cut to this many tokens: the run's max_len, or its longest training text (the
    # model never saw a longer one, and a huge input would otherwise take memory without bound).
    max_len: int
    at_least_one: bool  # the decision rule the run was scored with
    result: FitResult

    def decide(self, probs: np.ndarray) -> np.ndarray:
        """Multi-hot decisions for `probs`, with the run's thresholds and decision rule."""
        return metrics.predict(probs, self.thresholds, self.at_least_one)


def load_run(path: str | Path) -> SavedRun:
    path = Path(path)
    if not path.is_dir():
        raise UserError(f"{path}: no such run folder")
    missing = [n for n in RUN_FILES if not (path / n).is_file()]
    if missing:
        raise UserError(f"{path}: not a complete run folder (missing {', '.join(missing)})")
    config = _json(path / "config.json", dict)
    names = _json(path / "labels.json", list)
    if not names or not all(isinstance(n, str) for n in names) or len(set(names)) != len(names):
        raise UserError(f"{path / 'labels.json'}: expected a list of distinct label names")
    labels = LabelSet(names)
    result = _field(path / "metrics.json", lambda: FitResult.from_dict(_json(path / "metrics.json", dict)))
    if set(result.thresholds) != set(names):
        raise UserError(
            f"{path / 'labels.json'}: its {len(names)} labels disagree with the {len(result.thresholds)} "
            "thresholds in metrics.json"
        )
    thresholds = _field(path / "metrics.json", lambda: np.array([float(result.thresholds[n]) for n in labels.names]))
    cleaner = _field(path / "cleaner.json", lambda: _cleaner(path / "cleaner.json"))
    tokenizer = load_tokenizer(path / "tokenizer.json")
    max_len = _field(path / "config.json", lambda: int(config["max_len"] or config["longest_training_text"]))
    at_least_one = _field(path / "config.json", lambda: bool(config["at_least_one"]))
    model = _model(path / "model.pt", len(labels), tokenizer.vocab_size)
    return SavedRun(path, cleaner, tokenizer, labels, model, thresholds, max_len, at_least_one, result)


def _json(file: Path, kind: type):
    try:
        value = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise UserError(f"{file}: cannot read: {e}") from None
    if not isinstance(value, kind):
        raise UserError(f"{file}: expected a JSON {kind.__name__}")
    return value


def _field(file: Path, get):
    """`get()`, with any missing or malformed entry reported as a problem of `file`."""
    try:
        return get()
    except UserError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise UserError(f"{file}: missing or malformed entry ({type(e).__name__}: {e})") from None


def _cleaner(file: Path) -> Cleaner:
    d = _json(file, dict)
    keep = d["keep"]
    if not isinstance(keep, list) or not all(isinstance(w, str) for w in keep):
        raise ValueError("'keep' is not a list of words")
    return Cleaner(CleaningConfig(**d["config"]), set(keep))


def _model(file: Path, num_labels: int, vocab_size: int) -> nn.Module:
    try:
        saved = torch.load(file, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError) as e:
        raise UserError(
            f"{file}: cannot read the weights (truncated or not a model file: {type(e).__name__})"
        ) from None
    try:
        mc = ModelConfig(**saved["model_config"])
        members = int(saved["members"])
        model = Ensemble([RecurrentClassifier(mc) for _ in range(members)]) if members else RecurrentClassifier(mc)
        model.load_state_dict(saved["state_dict"])
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise UserError(f"{file}: the weights do not fit the saved model shape: {str(e).splitlines()[0]}") from None
    if mc.num_labels != num_labels:
        raise UserError(f"{file}: the model has {mc.num_labels} outputs but labels.json lists {num_labels} labels")
    if mc.vocab_size != vocab_size:
        raise UserError(f"{file}: the model has {mc.vocab_size} embeddings but the tokenizer has {vocab_size} tokens")
    return model.eval()
