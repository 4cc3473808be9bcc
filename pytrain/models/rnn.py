"""Elman RNN layer, from the formula

    h_t = tanh(W x_t + U h_{t-1} + b),    h_0 = 0,

and its gradient by backpropagation through time, written out (autograd would record and
replay two small operations per step plus one U-gradient product per step):

    d_t  = (dL/dh_t + d_{t+1} U^T) * (1 - h_t^2)     (d_{T+1} = 0)
    dL/d(W x_t + b) = d_t,    dL/dU = sum_t h_{t-1}^T d_t.

The input projections W x_t + b of all steps are one matrix product before the loop (autograd
takes care of W, b and x); the loop is one in-place `addmm_` and one sigmoid per step forward
(tanh through sigmoid, see `ElmanRecurrence`), and one `addmm_`, one multiply and one clamp per
step backward. dL/dU is one product over all steps.

Each d_t is clamped to [-CARRY_LIMIT, CARRY_LIMIT] (derivative clipping, Graves 2013,
"Generating sequences with recurrent neural networks"). Where h stays away from +-1, d grows by up
to |U| per step back. One RNN trained on the course file's training part (min_df 5) reached
|U| = 30 and a largest d of 2e12 by epoch 48; runs like it overflowed float32 and diverged. The
clamp keeps every derivative finite; below the limit (losses averaged over texts and labels stay
far below it in ordinary steps) the gradient is exact.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.autograd.function import once_differentiable

CARRY_LIMIT = 1.0  # |d_t| at most this, element by element


class RNNLayer(nn.Module):
    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.W = nn.Parameter(torch.empty(input_size, hidden_size))  # x_t -> hidden
        self.U = nn.Parameter(torch.empty(hidden_size, hidden_size))  # h_{t-1} -> hidden
        self.b = nn.Parameter(torch.empty(hidden_size))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        k = 1.0 / math.sqrt(self.hidden_size)  # as torch.nn.RNN
        for p in self.parameters():
            nn.init.uniform_(p, -k, k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, T, input) -> outputs h_1..h_T: (B, T, hidden)."""
        B, T, _ = x.shape
        # Time-major, so that each step reads and writes one contiguous block.
        xw = torch.addmm(self.b, x.transpose(0, 1).reshape(T * B, -1), self.W).view(T, B, -1)
        return ElmanRecurrence.apply(xw, self.U).transpose(0, 1)


class ElmanRecurrence(torch.autograd.Function):
    """(T, B, H) input projections a_t = W x_t + b and U -> (T, B, H) states h_t.

    On CPU, torch's tanh costs several times its sigmoid, so the loop runs on
    s_t = sigmoid(2 z_t), with tanh(z) = 2 sigmoid(2z) - 1: since h_{t-1} = 2 s_{t-1} - 1,
    2 z_t = 2 (a_t - 1^T U) + 4 s_{t-1} U, one `addmm` and one in-place sigmoid per step
    (s_0 = 1/2 gives h_0 = 0). h = 2 s - 1 is formed once for all steps."""

    @staticmethod
    def forward(ctx, xw: torch.Tensor, U: torch.Tensor) -> torch.Tensor:
        T, B, H = xw.shape
        s_all = (xw - U.sum(0)).mul_(2)  # 2 (a_t - 1^T U); each step adds 4 s_{t-1} U in place
        s = xw.new_full((B, H), 0.5)
        # unbind: all steps' views made in one call, not one indexing call per step.
        for s_t in s_all.unbind(0):
            s = s_t.addmm_(s, U, alpha=4).sigmoid_()
        h_all = s_all.mul_(2).sub_(1)
        ctx.save_for_backward(h_all, U)
        return h_all

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h_all, U = ctx.saved_tensors
        T, B, H = h_all.shape
        slope = 1 - h_all * h_all  # tanh' at every step
        d = grad_h.clone(memory_format=torch.contiguous_format)  # dL/dh_t; d_{t+1} U^T added in place
        d_next = h_all.new_zeros(B, H)  # d_{t+1}
        U_t = U.t()
        for d_t, slope_t in reversed(list(zip(d.unbind(0), slope.unbind(0), strict=True))):
            d_next = d_t.addmm_(d_next, U_t).mul_(slope_t).clamp_(-CARRY_LIMIT, CARRY_LIMIT)
        grad_U = h_all[:-1].reshape(-1, H).t() @ d[1:].reshape(-1, H)  # h_0 = 0 adds nothing
        return d, grad_U
