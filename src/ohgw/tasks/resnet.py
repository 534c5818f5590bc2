"""ResNets for 32x32 inputs, He-normal initialised (Kaiming normal, fan-out, as torchvision's):
- ResNet-20 (He et al., 2016, CIFAR variant with the parameter-free option-A shortcut):
  3 stages x 3 basic blocks, 16/32/64 channels, ~0.27 M parameters;
- ResNet-18 and ResNet-50 with the CIFAR stem (torchvision's networks, basic blocks and
  bottlenecks, with a 3x3 stride-1 first convolution and no max-pool: a 32x32 input reaches the
  last stage at 4x4), ~11.2 M and ~23.5 M parameters."""
import torch.nn.functional as F
from torch import nn

from ohgw.errors import ConfigError

ARCHS = ("resnet20", "resnet18", "resnet50")


class BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.pad = (c_out - c_in) // 2 if stride != 1 or c_in != c_out else 0

    def shortcut(self, x):
        if not self.pad:
            return x
        return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNet20(nn.Module):
    def __init__(self, num_classes: int = 10, in_channels: int = 3):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        blocks, c_in = [], 16
        for c_out, stride in ((16, 1), (32, 2), (64, 2)):
            for i in range(3):
                blocks.append(BasicBlock(c_in, c_out, stride if i == 0 else 1))
                c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(64, num_classes)
        he_normal(self)

    def forward(self, x):
        if x.shape[1] != self.stem[0].in_channels:  # grey images into the RGB architecture
            x = x.expand(-1, self.stem[0].in_channels, -1, -1)
        out = self.blocks(self.stem(x))
        return self.head(F.adaptive_avg_pool2d(out, 1).flatten(1))


class CifarStemResNet(nn.Module):
    """torchvision's `arch` (resnet18, resnet50) with the CIFAR stem."""

    def __init__(self, arch: str, num_classes: int = 10, in_channels: int = 3):
        super().__init__()
        import torchvision.models

        net = getattr(torchvision.models, arch)(weights=None, num_classes=num_classes)  # random init: no download
        net.conv1 = nn.Conv2d(in_channels, 64, 3, 1, 1, bias=False)
        net.maxpool = nn.Identity()
        self.net, self.in_channels = net, in_channels
        he_normal(self)

    def forward(self, x):
        if x.shape[1] != self.in_channels:
            x = x.expand(-1, self.in_channels, -1, -1)
        return self.net(x)


def he_normal(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def resnet(arch: str, num_classes: int, in_channels: int = 3) -> nn.Module:
    if arch not in ARCHS:
        raise ConfigError(f"network.arch must be one of {', '.join(ARCHS)}, got {arch!r}")
    return ResNet20(num_classes, in_channels) if arch == "resnet20" else CifarStemResNet(arch, num_classes, in_channels)
