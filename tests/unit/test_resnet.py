"""ResNet-18 with the CIFAR stem against torchvision's resnet18: the same layers but the first
convolution (3x3, stride 1, instead of 7x7, stride 2) and no max-pool, so a 32x32 image reaches
the last stage at 4x4; built through the image tasks by network.arch."""
import pytest
import torch
import torchvision

import ohgw.tasks
from ohgw.errors import ConfigError, DataMissingError
from ohgw.tasks.resnet import resnet


def n_parameters(module):
    return sum(p.numel() for p in module.parameters())


def test_resnet18_is_torchvisions_with_the_cifar_stem():
    net, reference = resnet("resnet18", 10), torchvision.models.resnet18(num_classes=10)
    ours = {n.removeprefix("net."): p.shape for n, p in net.named_parameters()}
    theirs = {n: p.shape for n, p in reference.named_parameters()}
    assert ours.keys() == theirs.keys()
    assert {k for k in ours if ours[k] != theirs[k]} == {"conv1.weight"} and ours["conv1.weight"] == (64, 3, 3, 3)
    # the stem's 7x7 kernels (3 x 64 x 49 weights) become 3x3 ones (3 x 64 x 9)
    assert n_parameters(net) == n_parameters(reference) - 3 * 64 * 49 + 3 * 64 * 9 == 11_173_962
    shapes = {}
    for stage in ("layer1", "layer4"):
        getattr(net.net, stage).register_forward_hook(lambda m, i, o, stage=stage: shapes.update({stage: o.shape}))
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert shapes == {"layer1": (2, 64, 32, 32), "layer4": (2, 512, 4, 4)}
    assert net(torch.randn(2, 1, 32, 32)).shape == (2, 10)  # grey images into the RGB network
    with pytest.raises(ConfigError, match="network.arch must be one of resnet20, resnet18, resnet50, got 'resnet34'"):
        resnet("resnet34", 10)


def test_resnet18_builds_through_the_image_tasks():
    cifar = ohgw.tasks.build(ohgw.tasks.config("cifar10", network={"arch": "resnet18"}))
    assert cifar.hparams()["arch"] == "resnet18"
    assert n_parameters(cifar.network(arch="resnet18")) == 11_173_962
    try:
        module, _ = ohgw.tasks.load("fashion_mnist", network={"arch": "resnet18"}, train_size=64)
    except DataMissingError as e:
        pytest.skip(str(e))
    assert n_parameters(module) == 11_173_962
    module.eval()
    assert module(torch.zeros(2, 1, 32, 32, dtype=torch.uint8)).shape == (2, 10)
