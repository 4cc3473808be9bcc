"""The training loop: a step whose gradient overflowed is skipped; an epoch of them is a divergence;
training windows are drawn anew each epoch."""

import itertools
from collections.abc import Callable

import numpy as np
import pytest
import torch

from pytrain import train
from pytrain.batching import EncodedDataset
from pytrain.config import FitConfig
from pytrain.errors import UserError
from pytrain.models import ModelConfig, RecurrentClassifier
from pytrain.train import train_model


def tiny_data(n: int = 120, seed: int = 0) -> EncodedDataset:
    rng = np.random.default_rng(seed)
    ids = [rng.integers(2, 20, size=rng.integers(3, 9)) for _ in range(n)]
    labels = (rng.random((n, 3)) < 0.4).astype(np.float32)
    return EncodedDataset(ids, labels)


def overflowing_model(overflows: Callable[[int], bool]) -> RecurrentClassifier:
    """A model whose recurrent weights get an infinite gradient at the (0-based) steps where
    `overflows(step)`."""
    torch.manual_seed(0)
    model = RecurrentClassifier(ModelConfig("rnn", 20, 3, embed_dim=4, hidden=5))
    steps = itertools.count()
    model.layers[0].U.register_hook(lambda g: g * float("inf") if overflows(next(steps)) else g)
    return model


def config(**kw) -> FitConfig:
    return FitConfig(**{"data": "unused.tsv", "batch_size": 8, "epochs": 2, "progress": False, "crop": 0, **kw})


def test_a_step_whose_gradient_overflowed_is_skipped_and_the_weights_stay_finite():
    data = tiny_data()
    model = overflowing_model(lambda step: step == 0)
    history = train_model(model, data, data, config(), torch.device("cpu"), seed=0)
    assert [r.skipped_steps for r in history] == [1, 0]
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert all(np.isfinite(r.train_loss) for r in history)


def test_an_epoch_of_overflowing_gradients_is_a_divergence():
    data = tiny_data()
    model = overflowing_model(lambda step: True)
    with pytest.raises(UserError, match=r"diverged in epoch 1 \(gradient not finite in 15 of 15 steps"):
        train_model(model, data, data, config(), torch.device("cpu"), seed=0)


def test_each_epoch_trains_on_new_windows_and_evaluates_whole_texts(monkeypatch):
    data = tiny_data()  # texts of 3 to 8 tokens
    trained_on, evaluated_on = [], []
    real_loader, real_predict = train.make_loader, train.predict_probs

    def loader(ds, *args):
        trained_on.append([s.tolist() for s in ds.ids])
        return real_loader(ds, *args)

    def predict(model, ds, device):
        evaluated_on.append(ds)
        return real_predict(model, ds, device)

    monkeypatch.setattr(train, "make_loader", loader)
    monkeypatch.setattr(train, "predict_probs", predict)
    model = RecurrentClassifier(ModelConfig("rnn", 20, 3, embed_dim=4, hidden=5))
    train_model(model, data, data, config(crop=4, epochs=3), torch.device("cpu"), seed=0)
    assert len(trained_on) == 3 and trained_on[0] != trained_on[1] != trained_on[2]  # new windows each epoch
    for epoch in trained_on:
        assert [len(w) for w in epoch] == [min(len(s), 4) for s in data.ids]
        for window, text in zip(epoch, data.ids, strict=True):
            assert any(window == text[a : a + len(window)].tolist() for a in range(len(text)))  # a run of the text
    assert all(e is data for e in evaluated_on)  # held-out texts are read whole
    trained_on.clear()
    train_model(model, data, data, config(crop=0, epochs=3), torch.device("cpu"), seed=0)
    assert trained_on == [[s.tolist() for s in data.ids]]  # crop 0: one loader over the whole texts
