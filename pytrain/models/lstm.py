"""LSTM layer, from the course formulas

    f_t = sigma(W_f x_t + U_f h_{t-1} + b_f)        forget gate
    i_t = sigma(W_i x_t + U_i h_{t-1} + b_i)        input gate
    o_t = sigma(W_o x_t + U_o h_{t-1} + b_o)        output gate
    g_t = tanh(W_c x_t + U_c h_{t-1} + b_c)         candidate cell
    c_t = f_t * c_{t-1} + i_t * g_t
    h_t = o_t * tanh(c_t),                          h_0 = c_0 = 0.

The four gates are fused into one matrix, in the order [i, f, o, g] so that one sigmoid
covers the three gates. The input projections of all steps are one product before the loop.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class LSTMLayer(nn.Module):
    def __init__(self, input_size: int, hidden_size: int):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.W = nn.Parameter(torch.empty(input_size, 4 * hidden_size))  # [W_i W_f W_o W_c]
        self.U = nn.Parameter(torch.empty(hidden_size, 4 * hidden_size))  # [U_i U_f U_o U_c]
        self.b = nn.Parameter(torch.empty(4 * hidden_size))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        k = 1.0 / math.sqrt(self.hidden_size)  # as torch.nn.LSTM
        for p in self.parameters():
            nn.init.uniform_(p, -k, k)
        with torch.no_grad():  # forget gate open at the start: gradients survive long texts
            self.b[self.hidden_size : 2 * self.hidden_size].fill_(1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (B, T, input) -> outputs h_1..h_T: (B, T, hidden)."""
        B, T, _ = x.shape
        H = self.hidden_size
        xw = torch.addmm(self.b, x.reshape(B * T, -1), self.W).view(B, T, 4 * H)
        h = x.new_zeros(B, H)
        c = x.new_zeros(B, H)
        outputs = []
        for xw_t in xw.unbind(1):
            gates = torch.addmm(xw_t, h, self.U)
            i, f, o = torch.sigmoid(gates[:, : 3 * H]).chunk(3, 1)
            g = torch.tanh(gates[:, 3 * H :])
            c = torch.addcmul(f * c, i, g)
            h = o * torch.tanh(c)
            outputs.append(h)
        return torch.stack(outputs, 1)
