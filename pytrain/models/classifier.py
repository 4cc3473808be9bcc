"""Recurrent classifiers: embedding -> stacked hand-written layers -> a summary of the last
layer's outputs (their mean over the real tokens, or the output at the true last token) -> a
linear layer giving one logit per label.

Layer `l` reads the output sequence of layer `l - 1` and keeps its own state. Dropout: locked
(one mask per text and feature, for every step) on the embedded sequence, a plain one on the
summary. None between layers: at the narrow widths of equal-parameter stacks (38 units for two
LSTM layers) it slowed learning (docs/experiments.md).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from pytrain.config import MODELS, POOLING
from pytrain.models.attention import AttentionLSTMLayer
from pytrain.models.lstm import LSTMLayer
from pytrain.models.rnn import RNNLayer


@dataclass
class ModelConfig:
    kind: str  # rnn | lstm | attn
    vocab_size: int
    num_labels: int
    embed_dim: int = 64
    hidden: int = 128
    layers: int = 1
    dropout: float = 0.3
    attn_dim: int | None = None  # attention size A (attn only; default: hidden)
    pool: str = "mean"  # mean over the real tokens | last: h at the true last token (the course formula)

    def to_dict(self) -> dict:
        return asdict(self)


class RecurrentClassifier(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        if cfg.kind not in MODELS:
            raise ValueError(f"unknown model kind {cfg.kind!r} (choose from {', '.join(MODELS)})")
        if cfg.pool not in POOLING:
            raise ValueError(f"unknown pooling {cfg.pool!r} (choose from {', '.join(POOLING)})")
        if min(cfg.layers, cfg.hidden, cfg.embed_dim, cfg.vocab_size, cfg.num_labels) < 1:
            raise ValueError(f"layers, sizes and label count must be at least 1: {cfg}")
        self.cfg = cfg
        self.embedding = nn.Embedding(cfg.vocab_size, cfg.embed_dim, padding_idx=0)
        sizes = [cfg.embed_dim] + [cfg.hidden] * cfg.layers
        self.layers = nn.ModuleList(_layer(cfg, n_in, cfg.hidden) for n_in in sizes[:-1])
        self.dropout = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(cfg.hidden, cfg.num_labels)

    def encode(self, tokens: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """(B, T) ids -> (B, T, hidden) outputs of the last layer."""
        x = self.locked_dropout(self.embedding(tokens))
        for layer in self.layers:
            x = layer(x, valid) if isinstance(layer, AttentionLSTMLayer) else layer(x)
        return x

    def locked_dropout(self, x: torch.Tensor) -> torch.Tensor:
        """Dropout of a (B, T, features) sequence with one mask per text, shared by every step
        (variational dropout, Gal & Ghahramani 2016): a step's input loses the same features at
        every step, and T times fewer random numbers are drawn."""
        p = self.cfg.dropout
        if not self.training or p == 0:
            return x
        return x * x.new_empty(x.shape[0], 1, x.shape[2]).bernoulli_(1 - p).div_(1 - p)

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(B, T) ids and (B,) lengths -> (B, labels) logits."""
        valid = torch.arange(tokens.shape[1], device=tokens.device) < lengths.unsqueeze(1)
        out = self.encode(tokens, valid)
        if self.cfg.pool == "last":
            summary = out[torch.arange(out.shape[0], device=out.device), lengths - 1]
        else:
            summary = (out * valid.unsqueeze(2)).sum(1) / lengths.unsqueeze(1)
        return self.head(self.dropout(summary))

    def count_parameters(self, embeddings: bool = False) -> int:
        return sum(p.numel() for name, p in self.named_parameters() if embeddings or not name.startswith("embedding"))


class Ensemble(nn.Module):
    """Members of one configuration, trained on different folds. `member_probs` gives each
    member's probabilities, on which the decisions vote (metrics.predict); `forward` returns the
    logit of their mean, so an ensemble stands in wherever one model's logits go (the loss)."""

    def __init__(self, members: list[RecurrentClassifier]):
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.cfg = members[0].cfg
        self.members = nn.ModuleList(members)

    def member_probs(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """(members, B, labels) probabilities."""
        return torch.stack([torch.sigmoid(m(tokens, lengths)) for m in self.members])

    def forward(self, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return torch.logit(self.member_probs(tokens, lengths).mean(0), eps=1e-7)


def _layer(cfg: ModelConfig, n_in: int, hidden: int) -> nn.Module:
    if cfg.kind == "rnn":
        return RNNLayer(n_in, hidden)
    if cfg.kind == "lstm":
        return LSTMLayer(n_in, hidden)
    return AttentionLSTMLayer(n_in, hidden, cfg.attn_dim)


def count_parameters(cfg: ModelConfig) -> int:
    """Parameters without the embedding, counted on the meta device (nothing allocated)."""
    with torch.device("meta"):
        return RecurrentClassifier(cfg).count_parameters()


def match_hidden(target: ModelConfig, model: ModelConfig, minimum: int = 4, maximum: int = 4096) -> int:
    """The hidden size (>= minimum) at which `model` (its kind, layers, ... as given) has the
    parameter count, embeddings excluded, closest to `target`'s (the smaller size on ties)."""
    goal = count_parameters(target)

    def distance(h: int) -> int:
        return abs(count_parameters(ModelConfig(**{**model.to_dict(), "hidden": h})) - goal)

    # Parameter counts grow monotonically with the hidden size: stop once they pass the goal.
    best = minimum
    for h in range(minimum + 1, maximum + 1):
        if distance(h) >= distance(best):
            break
        best = h
    return best
