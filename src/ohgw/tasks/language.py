"""Byte-level language modelling on the Python documentation's reST sources (Debian
python3-doc: 497 files, 11 M characters, WikiText-2 scale) with a small causal Transformer.
Files are split 80/10/10 (seeded), each split's bytes cut into windows of `seq_len` + 1:
the model reads the first `seq_len` bytes and predicts each next one. val_acc is next-byte
accuracy. The augmentation is Gaussian noise on the one-hot input bytes, so it is
differentiable in its magnitude like the image tasks' (the draws do not depend on it)."""
import math
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ohgw.errors import DataMissingError
from ohgw.tasks.base import Task, as_tensors

VOCAB = 256  # bytes


class TokenNoise:
    def __init__(self, noise_std: float):
        self.noise_std = noise_std

    def __call__(self, x: torch.Tensor, magnitude) -> torch.Tensor:
        # one-hot by scatter (it also runs on the meta device, for FLOP counts)
        dtype = magnitude.dtype if torch.is_tensor(magnitude) else torch.get_default_dtype()
        one_hot = torch.zeros(*x.shape, VOCAB, dtype=dtype, device=x.device).scatter_(-1, x.unsqueeze(-1), 1.0)
        return one_hot + (magnitude * self.noise_std) * torch.randn_like(one_hot)


class Block(nn.Module):
    """Pre-norm Transformer block. Attention is written out: PyTorch's fused attention
    kernels have no double backward, which the augmentation's hyper-gradient needs."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.qkv, self.out = nn.Linear(width, 3 * width), nn.Linear(width, width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

    def forward(self, h):
        n, t, w = h.shape
        q, k, v = (a.reshape(n, t, self.heads, -1).transpose(1, 2) for a in self.qkv(self.norm1(h)).chunk(3, -1))
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
        causal = torch.ones(t, t, dtype=torch.bool, device=h.device).triu(1)
        attn = scores.masked_fill(causal, float("-inf")).softmax(-1) @ v
        h = h + self.out(attn.transpose(1, 2).reshape(n, t, w))
        return h + self.mlp(self.norm2(h))


class ByteTransformer(nn.Module):
    """Input: byte ids (N, T), or (N, T, 256) rows of (noisy) one-hot bytes; output: logits
    (N, 256, T), classes along dim 1 as F.cross_entropy wants them."""

    def __init__(self, seq_len: int, width: int, depth: int, heads: int):
        super().__init__()
        self.embed = nn.Parameter(torch.randn(VOCAB, width) * 0.02)
        self.position = nn.Parameter(torch.randn(seq_len, width) * 0.02)
        self.blocks = nn.Sequential(*(Block(width, heads) for _ in range(depth)))
        self.norm, self.head = nn.LayerNorm(width), nn.Linear(width, VOCAB)

    def forward(self, x):
        h = self.embed[x] if not x.is_floating_point() else x @ self.embed
        h = self.blocks(h + self.position[: h.shape[1]])
        return self.head(self.norm(h)).transpose(1, 2)


class PythonDocsTask(Task):
    classifies = False  # next-byte prediction

    def __init__(self, data_dir: str, seq_len: int, noise_std: float, split=(0.8, 0.1, 0.1),
                 train_size: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.data_dir = Path(data_dir)
        self.seq_len = int(seq_len)
        self.noise_std, self.split, self.train_size = float(noise_std), tuple(split), train_size

    def _files(self) -> list[Path]:
        return sorted(self.data_dir.rglob("*.rst.txt")) if self.data_dir.is_dir() else []

    def check_data(self):
        if not self._files():
            raise DataMissingError(f"no *.rst.txt files below {self.data_dir}: install the Debian package "
                                   "(apt-get install python3-doc) or set task.data_dir")

    def splits(self):
        files = self._files()
        order = np.random.default_rng(self.data_seed).permutation(len(files))
        cuts = np.cumsum([int(round(f * len(files))) for f in self.split[:2]])
        parts = [self._windows([files[i] for i in idx]) for idx in np.split(order, cuts)]
        if self.train_size is not None:
            parts[0] = parts[0][: int(self.train_size)]
        return as_tensors(*((w[:, :-1], w[:, 1:]) for w in parts))

    def _windows(self, files) -> np.ndarray:
        data = np.frombuffer(b"".join(f.read_bytes() for f in files), dtype=np.uint8).astype(np.int64)
        n = len(data) // (self.seq_len + 1)
        return data[: n * (self.seq_len + 1)].reshape(n, self.seq_len + 1)

    def network(self, width: int = 128, depth: int = 2, heads: int = 4):
        return ByteTransformer(self.seq_len, int(width), int(depth), int(heads))

    def augmentation(self):
        return TokenNoise(self.noise_std)
