"""Image batches on the training device: RandAugment as torchvision defines it, with a
continuous magnitude; Cutout; per-image standardisation (the network's first layer, so that
training, validation, the lookahead and evaluation all see it); symmetric label noise.

Images are stored as uint8 (N, C, H, W) tensors and augmented a whole batch at a time, on
whatever device holds them (no per-example indexing and collation), as airbench keeps CIFAR-10
on the GPU."""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn
from torchvision.transforms import v2

from ohgw.errors import ConfigError

BINS = 31  # torchvision's num_magnitude_bins: magnitudes 0..30


def unit_float(x: torch.Tensor, dtype=None) -> torch.Tensor:
    """uint8 images as floats in [0, 1] (floats pass through), of `dtype` (default: PyTorch's)."""
    dtype = dtype or (x.dtype if x.is_floating_point() else torch.get_default_dtype())
    return x.to(dtype) / 255 if x.dtype == torch.uint8 else x.to(dtype)


class PerImageStandardize(nn.Module):
    """Each image to zero mean and unit variance over its pixels and channels (the study's
    per-image z-score), as floats of the network's dtype."""

    def __init__(self, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.register_buffer("dtype_of", torch.zeros(()), persistent=False)  # follows .double() etc.

    def forward(self, x):
        x = unit_float(x, self.dtype_of.dtype if not torch.is_autocast_enabled() else None)
        dims = tuple(range(1, x.dim()))
        mean, var = x.mean(dims, keepdim=True), x.var(dims, keepdim=True, unbiased=False)
        return (x - mean) / torch.sqrt(var + self.eps)


class RandAugment(v2.RandAugment):
    """torchvision's RandAugment (v2, uint8 batches: one draw of ops per call, applied to the
    whole batch) with a continuous magnitude in [0, 30]: each op's strength is interpolated
    linearly between torchvision's bins, so it equals torchvision's at whole bins and draws the
    same random numbers in the same order."""

    def __init__(self, num_ops: int = 2, magnitude: float = 9.0):
        super().__init__(num_ops=num_ops, magnitude=0, num_magnitude_bins=BINS)
        self.magnitude = float(magnitude)

    def forward(self, *inputs):
        # as v2.RandAugment.forward, with magnitudes[self.magnitude] interpolated
        from torchvision.transforms.v2._utils import get_size

        flat_inputs_with_spec, image = self._flatten_and_extract_image_or_video(inputs)
        height, width = get_size(image)
        for _ in range(self.num_ops):
            transform_id, (magnitudes_fn, signed) = self._get_random_item(self._AUGMENTATION_SPACE)
            magnitudes = magnitudes_fn(self.num_magnitude_bins, height, width)
            if magnitudes is not None:
                magnitude = interpolate(magnitudes, self.magnitude)
                if signed and torch.rand(()) <= 0.5:
                    magnitude *= -1
            else:
                magnitude = 0.0
            image = self._apply_image_or_video_transform(image, transform_id, magnitude,
                                                         interpolation=self.interpolation, fill=self._fill)
        return self._unflatten_and_insert_image_or_video(flat_inputs_with_spec, image)


def interpolate(magnitudes: torch.Tensor, at: float) -> float:
    """magnitudes[at] for a fractional bin `at`: linear between the neighbouring bins (rounded
    where the op takes an integer, as Posterize's bits)."""
    lo = min(int(math.floor(at)), len(magnitudes) - 1)
    hi = min(lo + 1, len(magnitudes) - 1)
    value = float(magnitudes[lo]) + (at - lo) * (float(magnitudes[hi]) - float(magnitudes[lo]))
    return float(round(value)) if not magnitudes.is_floating_point() else value


def cutout(x: torch.Tensor, size: int) -> torch.Tensor:
    """Each image with a size x size square set to zero at a uniformly drawn position that keeps
    it inside the image (a new tensor; the draws come from torch's RNG on x's device)."""
    n, _, h, w = x.shape
    if size <= 0:
        return x
    top = torch.randint(0, h - size + 1, (n, 1, 1), device=x.device)
    left = torch.randint(0, w - size + 1, (n, 1, 1), device=x.device)
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    inside = (rows >= top) & (rows < top + size) & (cols >= left) & (cols < left + size)
    return x.masked_fill(inside.unsqueeze(1), 0)


class RandAugmentCutout:
    """The study's training augmentation: RandAugment (2 ops) at magnitude m in [0, 1] (m x 30
    of torchvision's bins), then Cutout. The lookahead loss is piecewise constant in m on uint8
    images, so its hyper-gradient is a central difference of about one bin on the same draws
    (`fd_step`, a fraction of the [0, 1] range)."""
    differentiable = False
    fd_step = 1.0 / (BINS - 1)

    def __init__(self, num_ops: int = 2, cutout: int = 16):
        self.num_ops, self.cutout = int(num_ops), int(cutout)

    def __call__(self, x: torch.Tensor, magnitude) -> torch.Tensor:
        if x.is_meta:  # counting FLOPs: the ops cost nothing next to the network
            return x
        m = float(magnitude)
        if not 0.0 <= m <= 1.0:
            raise ConfigError(f"aug_magnitude {m} is outside [0, 1] (RandAugment's bins 0..{BINS - 1})")
        if x.dtype != torch.uint8:
            raise ValueError("RandAugment works on uint8 images (set the task's images to uint8)")
        return cutout(RandAugment(self.num_ops, m * (BINS - 1))(x), self.cutout)


def with_label_noise(y: torch.Tensor, rate: float, classes: int, seed: int) -> torch.Tensor:
    """round(rate x N) of the labels, drawn by `seed`, each moved to a uniformly drawn other
    class (the same flips for the same seed and labels)."""
    rng = np.random.default_rng([int(seed), 0x1abe1])
    out = y.clone()
    picked = rng.choice(len(y), size=int(round(rate * len(y))), replace=False)
    shift = rng.integers(1, classes, size=len(picked))  # 1..C-1: never the same class
    out[picked] = torch.as_tensor((y[picked].numpy() + shift) % classes, dtype=y.dtype)
    return out


AUGMENTATIONS = ("randaugment", "shift_noise")


def image_network(arch: str, classes: int, in_channels: int = 3) -> nn.Module:
    """The task's ResNet behind per-image standardisation (uint8 images in, logits out)."""
    from ohgw.tasks.resnet import resnet

    return nn.Sequential(PerImageStandardize(), resnet(arch, classes, in_channels))


def image_augmentation(kind: str, num_ops: int, cutout_size: int, max_shift: float, noise_std: float):
    """`randaugment`: the study's RandAugment + Cutout (magnitude by central difference);
    `shift_noise`: the differentiable sub-pixel shift + Gaussian noise (ohgw.tasks.augment)."""
    from ohgw.tasks.augment import ImageAugment

    if kind not in AUGMENTATIONS:
        raise ConfigError(f"task.augmentation must be one of {', '.join(AUGMENTATIONS)}, got {kind!r}")
    if kind == "randaugment":
        if not 0 <= cutout_size <= 32 or num_ops < 0:
            raise ConfigError(f"task.cutout must be in [0, 32] and task.randaugment_ops >= 0, got "
                              f"{cutout_size}, {num_ops}")
        return RandAugmentCutout(num_ops, cutout_size)
    return ImageAugment(max_shift=max_shift, noise_std=noise_std)
