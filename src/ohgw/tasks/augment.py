import torch
import torch.nn.functional as F

from ohgw.tasks.images import unit_float


class ImageAugment:
    """Random sub-pixel translation plus Gaussian noise, both scaled by `magnitude`, so the
    augmented batch is differentiable in the magnitude (uint8 images are first scaled to
    [0, 1]). The random draws do not depend on the magnitude: the same RNG state gives the same
    draws at every magnitude (paired trials and finite differences see identical noise)."""

    def __init__(self, max_shift: float, noise_std: float):
        self.max_shift = max_shift  # fraction of the image side at magnitude 1
        self.noise_std = noise_std

    def __call__(self, x: torch.Tensor, magnitude) -> torch.Tensor:
        # uint8 images as [0, 1] floats, of the magnitude's dtype where it is a tensor
        x = unit_float(x, magnitude.dtype if torch.is_tensor(magnitude) and magnitude.is_floating_point() else None)
        n = x.shape[0]
        direction = torch.rand(n, 2, dtype=x.dtype, device=x.device) * 2 - 1
        noise = torch.randn_like(x)
        # affine_grid works in [-1, 1]: a shift of 2 is the full image side
        shift = (magnitude * self.max_shift * 2) * direction
        eye = torch.eye(2, dtype=x.dtype, device=x.device).expand(n, 2, 2)
        theta = torch.cat([eye, shift.unsqueeze(-1)], dim=2)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        shifted = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        return shifted + (magnitude * self.noise_std) * noise
