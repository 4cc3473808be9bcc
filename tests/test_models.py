"""Hand-written RNN and LSTM against torch.nn given the same weights, padding, stacking,
parameter matching, and a tiny batch learned perfectly."""

import numpy as np
import pytest
import torch
from torch import nn

from pytrain.metrics import scores
from pytrain.models import ModelConfig, RecurrentClassifier, count_parameters, match_hidden, rnn
from pytrain.models.lstm import LSTMLayer
from pytrain.models.rnn import RNNLayer

B, T, E, H = 3, 7, 5, 6


def copy_rnn(ref: nn.RNN) -> RNNLayer:
    ours = RNNLayer(E, H)
    with torch.no_grad():
        ours.W.copy_(ref.weight_ih_l0.t())
        ours.U.copy_(ref.weight_hh_l0.t())
        ours.b.copy_(ref.bias_ih_l0 + ref.bias_hh_l0)
    return ours


def torch_lstm_order(w: torch.Tensor) -> torch.Tensor:
    """torch.nn.LSTM stacks gates as [i, f, g, o]; ours are [i, f, o, g]."""
    i, f, g, o = w.chunk(4, 0)
    return torch.cat([i, f, o, g], 0)


def copy_lstm(ref: nn.LSTM) -> LSTMLayer:
    ours = LSTMLayer(E, H)
    with torch.no_grad():
        ours.W.copy_(torch_lstm_order(ref.weight_ih_l0).t())
        ours.U.copy_(torch_lstm_order(ref.weight_hh_l0).t())
        ours.b.copy_(torch_lstm_order(ref.bias_ih_l0 + ref.bias_hh_l0))
    return ours


def compare_with_reference(ours, ref, grads, device, scale=1.0):
    ours, ref = ours.to(device), ref.to(device)
    x = torch.randn(B, T, E, device=device)
    x_ours, x_ref = x.clone().requires_grad_(), x.clone().requires_grad_()
    out_ours, (out_ref, *_) = ours(x_ours), ref(x_ref)
    assert (out_ours - out_ref).abs().max() < 1e-5
    w = torch.randn_like(out_ref) * scale
    (out_ours * w).sum().backward()
    (out_ref * w).sum().backward()
    assert (x_ours.grad - x_ref.grad).abs().max() < 1e-5 * scale
    for mine, theirs in grads():
        assert (mine - theirs).abs().max() < 1e-5 * scale


@pytest.mark.parametrize("scale, limit", [(1.0, float("inf")), (0.01, rnn.CARRY_LIMIT)])
def test_rnn_matches_torch_rnn(scale, limit, device, monkeypatch):
    """Exact with the derivative clamp lifted, and with it at gradients of a loss's usual size."""
    monkeypatch.setattr(rnn, "CARRY_LIMIT", limit)
    torch.manual_seed(0)
    ref = nn.RNN(E, H, batch_first=True)
    ours = copy_rnn(ref)
    compare_with_reference(
        ours,
        ref,
        lambda: [
            (ours.W.grad, ref.weight_ih_l0.grad.t()),
            (ours.U.grad, ref.weight_hh_l0.grad.t()),
            (ours.b.grad, ref.bias_ih_l0.grad),
        ],
        device,
        scale,
    )


def test_rnn_derivatives_stay_finite_where_backpropagation_through_time_explodes(device):
    """h_t = tanh(2 h_{t-1}) = 0 at every step, so tanh' = 1 and each step back doubles d:
    2^300 overflows float32 (torch.nn.RNN's gradient is infinite here). The clamp bounds it."""
    layer = RNNLayer(E, H).to(device)
    ref = nn.RNN(E, H, batch_first=True, bias=False).to(device)
    with torch.no_grad():
        for w in (layer.W, layer.b, ref.weight_ih_l0):
            w.zero_()
        for u in (layer.U, ref.weight_hh_l0):
            u.copy_(2 * torch.eye(H))
    x = torch.zeros(1, 300, E, device=device)
    ref(x)[0].sum().backward()
    assert not torch.isfinite(ref.weight_hh_l0.grad).all()
    layer(x).sum().backward()
    for p in (layer.W, layer.U, layer.b):
        assert torch.isfinite(p.grad).all()
    assert layer.b.grad.abs().max() <= 300 * rnn.CARRY_LIMIT


def test_lstm_matches_torch_lstm(device):
    torch.manual_seed(0)
    ref = nn.LSTM(E, H, batch_first=True)
    ours = copy_lstm(ref)
    compare_with_reference(
        ours,
        ref,
        lambda: [
            (ours.W.grad, torch_lstm_order(ref.weight_ih_l0.grad).t()),
            (ours.U.grad, torch_lstm_order(ref.weight_hh_l0.grad).t()),
            (ours.b.grad, torch_lstm_order(ref.bias_ih_l0.grad)),
        ],
        device,
    )


@pytest.mark.parametrize("kind", ["rnn", "lstm", "attn"])
@pytest.mark.parametrize("pool", ["last", "mean"])
def test_alone_and_padded_in_a_batch_give_the_same_output(kind, pool, device):
    torch.manual_seed(0)
    cfg = ModelConfig(kind, vocab_size=50, num_labels=4, hidden=8, layers=2, pool=pool)
    model = RecurrentClassifier(cfg).to(device).eval()
    short = torch.tensor([[5, 9, 3]], device=device)
    batch = torch.tensor([[5, 9, 3, 0, 0, 0], [7, 8, 9, 10, 11, 12]], device=device)
    alone = model(short, torch.tensor([3], device=device))
    padded = model(batch, torch.tensor([3, 6], device=device))
    assert (alone[0] - padded[0]).abs().max() < 1e-5


def test_mean_summary_is_the_mean_over_real_tokens_and_last_is_the_true_last_output():
    torch.manual_seed(0)
    tokens, lengths = torch.tensor([[4, 8, 15, 0], [16, 23, 42, 7]]), torch.tensor([3, 4])
    valid = torch.arange(4) < lengths.unsqueeze(1)
    for pool in ("mean", "last"):
        model = RecurrentClassifier(ModelConfig("rnn", 50, 3, embed_dim=6, hidden=5, pool=pool, dropout=0)).eval()
        out = model.encode(tokens, valid)
        rows = [out[b, : lengths[b]] for b in range(2)]  # the real tokens only, padding never counts
        summary = torch.stack([r.mean(0) if pool == "mean" else r[-1] for r in rows])
        assert torch.allclose(model(tokens, lengths), model.head(summary), atol=1e-6)


def test_two_layers_differ_from_one_and_read_the_first_layers_outputs():
    torch.manual_seed(0)
    one = RecurrentClassifier(ModelConfig("lstm", 50, 4, embed_dim=6, hidden=8, layers=1, dropout=0)).eval()
    two = RecurrentClassifier(ModelConfig("lstm", 50, 4, embed_dim=6, hidden=8, layers=2, dropout=0)).eval()
    two.embedding.load_state_dict(one.embedding.state_dict())
    two.layers[0].load_state_dict(one.layers[0].state_dict())
    tokens, lengths = torch.tensor([[1, 2, 3, 4]]), torch.tensor([4])
    valid = torch.ones(1, 4, dtype=torch.bool)
    assert not torch.allclose(one(tokens, lengths), two(tokens, lengths))
    first = one.encode(tokens, valid)  # layer 1's output sequence
    assert torch.allclose(two.encode(tokens, valid), two.layers[1](first), atol=1e-6)
    assert two.layers[1].input_size == 8  # the second layer reads hidden-size outputs, not embeddings


def test_parameter_counts_and_matching():
    rnn = ModelConfig("rnn", vocab_size=1000, num_labels=28, embed_dim=100, hidden=256)
    # W: 100x256, U: 256x256, b: 256, head: 256x28 + 28
    assert count_parameters(rnn) == 100 * 256 + 256 * 256 + 256 + 256 * 28 + 28
    h = match_hidden(rnn, ModelConfig("lstm", 1000, 28, 100))
    assert h >= 4
    lstm = lambda hidden: count_parameters(ModelConfig("lstm", 1000, 28, 100, hidden))  # noqa: E731
    target = count_parameters(rnn)
    assert abs(lstm(h) - target) <= min(abs(lstm(h - 1) - target), abs(lstm(h + 1) - target))
    real = RecurrentClassifier(ModelConfig("lstm", 1000, 28, 100, h)).count_parameters()
    assert real == lstm(h)
    assert match_hidden(ModelConfig("rnn", 1000, 28, 100, hidden=2), ModelConfig("lstm", 1000, 28, 100)) == 4


@pytest.mark.parametrize("kind", ["rnn", "lstm", "attn"])
def test_a_tiny_batch_is_learned_perfectly(kind):
    torch.manual_seed(0)
    tokens = torch.randint(2, 30, (8, 6))
    lengths = torch.tensor([6, 5, 4, 6, 3, 6, 2, 5])
    labels = torch.tensor(
        np.eye(4)[[0, 1, 2, 3, 0, 1, 2, 3]] + np.eye(4)[[1, 2, 3, 0, 2, 3, 0, 1]], dtype=torch.float32
    )
    model = RecurrentClassifier(ModelConfig(kind, vocab_size=30, num_labels=4, embed_dim=16, hidden=32, dropout=0))
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(150):
        opt.zero_grad()
        loss = nn.functional.binary_cross_entropy_with_logits(model(tokens, lengths), labels)
        loss.backward()
        opt.step()
    pred = (torch.sigmoid(model(tokens, lengths)) > 0.5).int().numpy()
    assert scores(labels.numpy(), pred).macro_f1 == 1.0
