"""LSTM with Bahdanau (additive) attention inside the encoder.

There is no decoder: at step t the cell attends over its own earlier outputs h_1..h_{t-1},

    e_{t,j}  = v^T tanh(W_a h_j + U_a h_{t-1})          for j < t (and j a real token)
    alpha_t  = softmax_j(e_{t,j})
    c~_t     = sum_j alpha_{t,j} h_j                     (c~_1 = 0: nothing to attend to yet)

and the context enters every gate beside the input, i.e. the LSTM reads x_t (+) c~_t:

    [i f o g]_t = W x_t + C c~_t + U h_{t-1} + b,   then the LSTM update of lstm.py.

Memory is the point. Autograd through this loop would keep the (B, t, A) tanh of every
step: O(B T^2 A) for backward, 8.4 GB at B = 64, T = 512, A = 128. Here the keys W_a h_j are
written once, as each h_j is produced, into a preallocated (B, T, A) buffer, and the whole
recurrence is one `autograd.Function` with a hand-written backward through time that
recomputes each step's tanh instead of saving it. Saved for backward: h, c, gate
activations, contexts and keys (all O(T)) and the attention weights (B, T, T).
"""

from __future__ import annotations

import math

import torch
from torch import nn


class AttentionLSTMFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, xw, U, C, Wa, Ua, v, valid):
        """xw: (B, T, 4H) = W x_t + b for all steps; valid: (B, T) bool, False on padding."""
        B, T, G = xw.shape
        H, A = G // 4, Wa.shape[1]
        hs = xw.new_zeros(B, T, H)
        cs = xw.new_zeros(B, T, H)
        acts = xw.new_empty(B, T, G)  # sigmoid(i, f, o) and tanh(g)
        contexts = xw.new_zeros(B, T, H)
        keys = xw.new_empty(B, T, A)
        alphas = xw.new_zeros(B, T, T)
        scratch = xw.new_empty(B * T * A)
        v_sum = v.sum()
        h = xw.new_zeros(B, H)
        c = xw.new_zeros(B, H)
        for t in range(T):
            gates = torch.addmm(xw[:, t], h, U)
            if t > 0:
                score_sig = _scores_sigmoid(keys[:, :t], h @ Ua, scratch)
                e = (score_sig @ v).mul_(2).sub_(v_sum).masked_fill_(~valid[:, :t], float("-inf"))  # tanh(z) v
                alpha = torch.softmax(e, dim=1)
                alphas[:, t, :t] = alpha
                context = torch.bmm(alpha.unsqueeze(1), hs[:, :t]).squeeze(1)
                contexts[:, t] = context
                gates.addmm_(context, C)
            sig = torch.sigmoid(gates[:, : 3 * H])
            g = torch.tanh(gates[:, 3 * H :])
            i, f, o = sig.chunk(3, 1)
            c = torch.addcmul(f * c, i, g)
            h = o * torch.tanh(c)
            acts[:, t, : 3 * H] = sig
            acts[:, t, 3 * H :] = g
            cs[:, t] = c
            hs[:, t] = h
            torch.mm(h, Wa, out=keys[:, t])
        ctx.save_for_backward(U, C, Wa, Ua, v, hs, cs, acts, contexts, keys, alphas)
        return hs

    @staticmethod
    def backward(ctx, d_hs):
        U, C, Wa, Ua, v, hs, cs, acts, contexts, keys, alphas = ctx.saved_tensors
        B, T, H = hs.shape
        A = Wa.shape[1]
        d_xw = torch.empty_like(acts)
        # Gradients w.r.t. the keys, divided by the constant 4v: the factor is applied once, through
        # Wa_v below and at the end, instead of on a (B, t, A) tensor at every step.
        d_keys = torch.zeros_like(keys)  # filled by later steps' attention, read at step j
        v4 = 4 * v
        Wa_v = (v4.unsqueeze(1) * Wa.t()).contiguous()  # (A, H): row a of Wa^T scaled by 4 v_a
        d_hs_attn = torch.zeros_like(hs)  # gradient into h_j as an attention value
        d_q = torch.zeros(B, T, A, dtype=hs.dtype, device=hs.device)  # d(U_a h_{t-1}) per step
        d_v = torch.zeros_like(v)
        scratch = keys.new_empty(B * T * A)
        dh_next = hs.new_zeros(B, H)
        dc_next = hs.new_zeros(B, H)
        d_hs = d_hs.contiguous()
        for t in reversed(range(T)):
            # Every path into h_t is complete now: output, recurrence, attention value, key.
            dh = d_hs[:, t] + dh_next + d_hs_attn[:, t]
            dh.addmm_(d_keys[:, t], Wa_v)
            sig, g = acts[:, t, : 3 * H], acts[:, t, 3 * H :]
            i, f, o = sig.chunk(3, 1)
            tc = torch.tanh(cs[:, t])
            dc = dc_next + dh * o * (1 - tc * tc)
            c_prev = cs[:, t - 1] if t > 0 else torch.zeros_like(dc)
            d_gates = d_xw[:, t]
            d_gates[:, :H] = dc * g * i * (1 - i)
            d_gates[:, H : 2 * H] = dc * c_prev * f * (1 - f)
            d_gates[:, 2 * H : 3 * H] = dh * tc * o * (1 - o)
            d_gates[:, 3 * H :] = dc * i * (1 - g * g)
            dc_next = dc * f
            dh_next = d_gates @ U.t()
            if t == 0:
                continue
            # Attention backward: context = alpha @ h_{<t}; alpha = softmax(e); e = tanh(K + q) v.
            d_context = d_gates @ C.t()
            alpha = alphas[:, t, :t]
            d_hs_attn[:, :t].baddbmm_(alpha.unsqueeze(2), d_context.unsqueeze(1))
            d_alpha = torch.bmm(hs[:, :t], d_context.unsqueeze(2)).squeeze(2)
            d_e = alpha * (d_alpha - (alpha * d_alpha).sum(1, keepdim=True))
            score_sig = _scores_sigmoid(keys[:, :t], hs[:, t - 1] @ Ua, scratch)  # recomputed, not saved
            # S = tanh(z) = 2 score_sig - 1, so d_v = sum d_e S = 2 sum d_e score_sig - sum d_e.
            d_v += torch.bmm(d_e.unsqueeze(1), score_sig).sum((0, 1)).mul_(2).sub_(d_e.sum())
            # dZ = d_e (x) v * (1 - S^2) = d_e (x) 4v * sig (1 - sig); kept here without the 4v.
            dZ = score_sig.addcmul_(score_sig, score_sig, value=-1).mul_(d_e.unsqueeze(2))
            d_keys[:, :t] += dZ
            torch.mul(dZ.sum(1), v4, out=d_q[:, t])
            dh_next.addmm_(d_q[:, t], Ua.t())
        # Weight gradients as single products over all steps.
        h_prev = torch.cat([hs.new_zeros(B, 1, H), hs[:, :-1]], 1).reshape(B * T, H)
        d_flat = d_xw.reshape(B * T, 4 * H)
        d_U = h_prev.t() @ d_flat
        d_C = contexts.reshape(B * T, H).t() @ d_flat
        d_Wa = (hs.reshape(B * T, H).t() @ d_keys.reshape(B * T, A)).mul_(v4)
        d_Ua = h_prev.t() @ d_q.reshape(B * T, A)
        return d_xw, d_U, d_C, d_Wa, d_Ua, d_v, None


def _scores_sigmoid(keys: torch.Tensor, q: torch.Tensor, buffer: torch.Tensor) -> torch.Tensor:
    """sigmoid(2 (keys + q)) for all earlier positions, in a contiguous view of `buffer`.
    tanh(z) = 2 sigmoid(2z) - 1, and on CPU torch's sigmoid is several times faster than its
    tanh; the callers fold the 2 and the -1 into cheaper (B, t) and (A,) work."""
    B, t, A = keys.shape
    out = buffer[: B * t * A].view(B, t, A)
    torch.add(q.mul(2).unsqueeze(1), keys, alpha=2, out=out)
    return out.sigmoid_()


class AttentionLSTMLayer(nn.Module):
    def __init__(self, input_size: int, hidden_size: int, attn_size: int | None = None):
        super().__init__()
        H, A = hidden_size, attn_size or hidden_size
        self.input_size, self.hidden_size, self.attn_size = input_size, H, A
        self.W = nn.Parameter(torch.empty(input_size, 4 * H))  # x_t -> gates [i f o g]
        self.C = nn.Parameter(torch.empty(H, 4 * H))  # context -> gates
        self.U = nn.Parameter(torch.empty(H, 4 * H))  # h_{t-1} -> gates
        self.b = nn.Parameter(torch.empty(4 * H))
        self.Wa = nn.Parameter(torch.empty(H, A))  # keys: W_a h_j
        self.Ua = nn.Parameter(torch.empty(H, A))  # query: U_a h_{t-1}
        self.v = nn.Parameter(torch.empty(A))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        k = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -k, k)
        with torch.no_grad():
            self.b[self.hidden_size : 2 * self.hidden_size].fill_(1.0)

    def forward(self, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """x: (B, T, input), valid: (B, T) bool -> outputs h_1..h_T: (B, T, hidden)."""
        B, T, _ = x.shape
        xw = torch.addmm(self.b, x.reshape(B * T, -1), self.W).view(B, T, -1)
        return AttentionLSTMFunction.apply(xw, self.U, self.C, self.Wa, self.Ua, self.v, valid)

    @torch.no_grad()
    def attention_weights(self, x: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """(B, T, T): row t holds the weights step t gave to steps j < t (for inspection)."""
        B, T, _ = x.shape
        xw = torch.addmm(self.b, x.reshape(B * T, -1), self.W).view(B, T, -1)
        ctx = _Saved()
        AttentionLSTMFunction.forward(ctx, xw, self.U, self.C, self.Wa, self.Ua, self.v, valid)
        return ctx.saved[-1]


class _Saved:
    """Stands in for autograd's ctx to read what the forward pass saves."""

    def save_for_backward(self, *tensors):
        self.saved = tensors
