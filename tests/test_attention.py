"""The memory-saving attention LSTM against a plain autograd implementation of the same
formulas, plus the properties of its attention weights."""

import pytest
import torch

from pytrain.models.attention import AttentionLSTMFunction, AttentionLSTMLayer


def reference_forward(layer: AttentionLSTMLayer, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """The formulas written plainly, step by step, differentiated by autograd."""
    B, T, _ = x.shape
    H = layer.hidden_size
    h = x.new_zeros(B, H)
    c = x.new_zeros(B, H)
    hs, keys = [], []
    for t in range(T):
        gates = x[:, t] @ layer.W + layer.b + h @ layer.U
        if t > 0:
            prev, K = torch.stack(hs, 1), torch.stack(keys, 1)
            e = torch.tanh(K + (h @ layer.Ua).unsqueeze(1)) @ layer.v
            alpha = torch.softmax(e.masked_fill(~valid[:, :t], float("-inf")), 1)
            gates = gates + (alpha.unsqueeze(2) * prev).sum(1) @ layer.C
        i, f, o = torch.sigmoid(gates[:, : 3 * H]).chunk(3, 1)
        g = torch.tanh(gates[:, 3 * H :])
        c = f * c + i * g
        h = o * torch.tanh(c)
        hs.append(h)
        keys.append(h @ layer.Wa)
    return torch.stack(hs, 1)


def make(dtype, B=3, T=9, E=5, H=6, A=4, device="cpu"):
    torch.manual_seed(1)
    layer = AttentionLSTMLayer(E, H, A).to(dtype).to(device)
    x = torch.randn(B, T, E, dtype=dtype).to(device)
    lengths = torch.tensor([T, 4, 1])[:B].to(device)
    valid = torch.arange(T, device=device) < lengths.unsqueeze(1)
    return layer, x, valid


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_same_values_and_gradients_as_plain_autograd(dtype, device):
    layer, x, valid = make(dtype, device=device)
    w = torch.randn(3, 9, 6, dtype=dtype, device=device)
    results = []
    for forward in (lambda xx: layer(xx, valid), lambda xx: reference_forward(layer, xx, valid)):
        layer.zero_grad()
        xx = x.clone().requires_grad_()
        out = forward(xx)
        (out * w).sum().backward()
        results.append([out.detach(), xx.grad] + [p.grad.clone() for p in layer.parameters()])
    for ours, ref in zip(*results, strict=True):
        assert (ours - ref).abs().max() < 1e-5


def test_gradcheck_double():
    layer, _, valid = make(torch.float64, B=2, T=5, E=3, H=3, A=2)
    xw = torch.randn(2, 5, 12, dtype=torch.float64, requires_grad=True)
    params = (layer.U, layer.C, layer.Wa, layer.Ua, layer.v)
    assert torch.autograd.gradcheck(lambda *a: AttentionLSTMFunction.apply(*a, valid), (xw, *params))


def test_attention_weights_are_causal_masked_and_normalised():
    layer, x, valid = make(torch.float32)
    alphas = layer.attention_weights(x, valid)  # (B, T, T): row t over j
    B, T, _ = alphas.shape
    future = torch.ones(T, T, dtype=torch.bool).triu()  # j >= t: not yet produced
    assert (alphas[:, future] == 0).all()
    padding = ~valid.unsqueeze(1).expand(B, T, T)
    assert (alphas[padding] == 0).all()
    sums = alphas.sum(2)
    assert torch.allclose(sums[:, 1:], torch.ones(B, T - 1))  # step 0 has nothing to attend to
    assert (sums[:, 0] == 0).all()


def test_padding_does_not_change_a_sequence():
    layer, x, valid = make(torch.float32)
    alone = layer(x[1:2, :4], valid[1:2, :4])
    in_batch = layer(x, valid)[1:2, :4]
    assert (alone - in_batch).abs().max() < 1e-6
