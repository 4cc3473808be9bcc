"""Elman RNN layer, from the formula

    h_t = tanh(W x_t + U h_{t-1} + b),    h_0 = 0.

The input projections W x_t + b of all steps are one matrix product before the loop;
the loop itself is one fused `addmm` and one `tanh` per step.
"""

from __future__ import annotations

import math

import torch
from torch import nn


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
        xw = torch.addmm(self.b, x.reshape(B * T, -1), self.W).view(B, T, -1)
        h = x.new_zeros(B, self.hidden_size)
        outputs = []
        # unbind: one view per step made once; indexing xw[:, t] inside the loop would make
        # backward accumulate T full-size gradient buffers.
        for xw_t in xw.unbind(1):
            h = torch.tanh(torch.addmm(xw_t, h, self.U))
            outputs.append(h)
        return torch.stack(outputs, 1)
