"""A word-level LSTM text classifier: token ids (N, T), padded with 0 at the end, in; class
logits out. Embedding, `layers` LSTM layers of `units`, the last layer's state at each
sequence's last token, a linear head. The dropout rate `dropout` is a HyperDropout (live) on the
embeddings, between LSTM layers and before the head.

The LSTM is written out (nn.LSTM's gate order and initialisation): cuDNN's fused LSTM has no
double backward, which the hyper-gradient of the augmentation's magnitude and of the dropout rate
needs, and the meta device (FLOP counts) runs it as it is. A padded position leaves the state as
it was, so the state after the last step is the one at the last token; a batch stops at its
longest sequence.

The augmentation is Gaussian noise on the word embeddings, of standard deviation aug_magnitude x
noise_std (embeddings start as N(0, 1) draws): the batch goes to the network as NoisyTokens, and
the draws do not depend on the magnitude, so the loss is differentiable in it (as FeatureNoise)."""
from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn

from ohgw.hyperparams.dropout import HyperDropout

PAD = 0


class NoisyTokens(NamedTuple):
    """Token ids and the standard deviation of the noise to add to their embeddings."""
    ids: torch.Tensor
    noise: object  # a float, or a tensor (the lookahead's magnitude)


class EmbeddingNoise:
    def __init__(self, noise_std: float):
        self.noise_std = noise_std

    def __call__(self, x: torch.Tensor, magnitude) -> NoisyTokens:
        return NoisyTokens(x, magnitude * self.noise_std)


class LSTMLayer(nn.Module):
    """One LSTM layer: gates i, f, g, o from the input (all steps in one product) and the state."""

    def __init__(self, n_in: int, units: int):
        super().__init__()
        self.units = units
        self.input = nn.Linear(n_in, 4 * units)
        self.recurrent = nn.Linear(units, 4 * units, bias=False)
        bound = 1 / math.sqrt(units)  # nn.LSTM's initialisation
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x (N, T, n_in), mask (N, T) (True at tokens): the states (N, T, units)."""
        gates_in = self.input(x)
        h = x.new_zeros(x.shape[0], self.units)
        c = torch.zeros_like(h)
        states = []
        for t in range(x.shape[1]):
            i, f, g, o = (gates_in[:, t] + self.recurrent(h)).chunk(4, dim=1)
            c_next = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h_next = torch.sigmoid(o) * torch.tanh(c_next)
            at_token = mask[:, t, None]
            c, h = torch.where(at_token, c_next, c), torch.where(at_token, h_next, h)
            states.append(h)
        return torch.stack(states, dim=1)


class LSTMClassifier(nn.Module):
    def __init__(self, vocab: int, embed: int, units: int, layers: int, dropout: float, classes: int):
        super().__init__()
        self.embed = nn.Embedding(vocab, embed, padding_idx=PAD)
        self.layers = nn.ModuleList(LSTMLayer(embed if i == 0 else units, units) for i in range(layers))
        self.dropouts = nn.ModuleList(HyperDropout("dropout", dropout) for _ in range(layers + 1))
        self.head = nn.Linear(units, classes)

    def forward(self, x):
        ids, noise = (x.ids, x.noise) if isinstance(x, NoisyTokens) else (x, None)
        mask = ids != PAD
        if not ids.is_meta:  # stop at the batch's longest sequence (the meta device counts every step)
            longest = max(1, int(mask.sum(1).max()))
            ids, mask = ids[:, :longest], mask[:, :longest]
        h = self.embed(ids)
        if noise is not None:
            h = h + noise * torch.randn_like(h)
        for layer, drop in zip(self.layers, self.dropouts):
            h = layer(drop(h), mask)
        return self.head(self.dropouts[-1](h[:, -1]))
