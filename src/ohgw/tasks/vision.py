"""What the image-classification tasks on 32x32 images share (CIFAR-10/100, Fashion-MNIST):
uint8 images kept whole on the training device, a ResNet behind per-image standardisation
(`network.arch`: resnet20, resnet18 or resnet50), and the training augmentation as a task setting:
`randaugment` (the study's RandAugment + Cutout) or `shift_noise` (differentiable)."""
from __future__ import annotations

from ohgw.errors import ConfigError
from ohgw.tasks.base import Task, holdout_splits
from ohgw.tasks.images import image_augmentation, image_network


class ImageTask(Task):
    classes: int = 10
    in_channels: int = 3

    def __init__(self, val_size: int, train_size: int | None = None, test_size: int | None = None,
                 augmentation: str = "shift_noise", randaugment_ops: int = 2, cutout: int = 16,
                 max_shift: float = 0.125, noise_std: float = 0.15, **kwargs):
        super().__init__(**kwargs)
        self.val_size, self.train_size, self.test_size = int(val_size), train_size, test_size
        self.augmentation_kind, self.randaugment_ops, self.cutout = augmentation, int(randaugment_ops), int(cutout)
        self.max_shift, self.noise_std = float(max_shift), float(noise_std)
        self.augmentation()  # bad settings fail here, before any trial
        if augmentation == "randaugment":
            self._check_magnitude_range()

    def _check_magnitude_range(self):
        """RandAugment's magnitude is aug_magnitude x 30 of torchvision's bins 0..30."""
        name = "aug_magnitude"
        spec = self.space[name] if name in self.space else None
        low, high = (spec.low, spec.high) if spec is not None else (self.fixed.get(name, 0.0),) * 2
        if not 0.0 <= low <= high <= 1.0:
            raise ConfigError(f"task.{'search_space' if spec is not None else 'fixed'}.{name}: RandAugment's "
                              f"magnitude must lie in [0, 1] (x 30 = torchvision's bins 0..30), got "
                              f"{low}..{high}")

    def images(self, split: str):
        """(uint8 images (N, C, 32, 32), int64 labels) of the data set's train or test split."""
        raise NotImplementedError

    def splits(self):
        return holdout_splits(self.images("train"), self.images("test"), self.val_size, self.train_size,
                              self.data_seed, self.test_size)

    def network(self, arch: str = "resnet20"):
        return image_network(arch, self.classes, self.in_channels)

    def augmentation(self):
        return image_augmentation(self.augmentation_kind, self.randaugment_ops, self.cutout, self.max_shift,
                                  self.noise_std)
