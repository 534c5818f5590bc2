"""The image pipeline of the vision study: RandAugment equal to torchvision's at whole bins,
Cutout's square, per-image standardisation, label noise on the training labels only."""
import numpy as np
import pytest
import torch
from torchvision.transforms import v2

from ohgw.analysis.collect import task_label
import ohgw.tasks
from ohgw.errors import ConfigError, DataMissingError
from ohgw.hyperparams.dropout import HyperDropout
from ohgw.tasks.images import BINS, PerImageStandardize, RandAugment, cutout, interpolate


def images(n=16, seed=0):
    """Real images as uint8 CIFAR-shaped batches: scikit-learn's digits, scaled to 32x32, with
    a different value per colour plane."""
    from sklearn.datasets import load_digits

    grey = np.kron(load_digits().images[seed: seed + n], np.ones((4, 4))) * (255 / 16)
    return torch.from_numpy(np.stack([grey, 255 - grey, grey / 2], axis=1).astype(np.uint8))


@pytest.mark.parametrize("bin_", [0, 5, 9, 17, 30])
def test_randaugment_equals_torchvisions_at_whole_bins(bin_):
    x = images()
    for seed in range(12):  # enough draws to meet every op
        torch.manual_seed(seed)
        ours = RandAugment(num_ops=2, magnitude=float(bin_))(x)
        torch.manual_seed(seed)
        theirs = v2.RandAugment(num_ops=2, magnitude=bin_, num_magnitude_bins=BINS)(x)
        assert torch.equal(ours, theirs), (bin_, seed)


def test_magnitudes_between_bins_are_interpolated():
    rotate = torch.linspace(0.0, 30.0, BINS)
    assert interpolate(rotate, 9.0) == pytest.approx(9.0) and interpolate(rotate, 9.25) == pytest.approx(9.25)
    posterize = (8 - (torch.arange(BINS) / ((BINS - 1) / 4))).round().int()  # bits, integers
    assert interpolate(posterize, 3.0) == float(posterize[3]) and interpolate(posterize, 30.0) == 4.0
    assert interpolate(posterize, 5.6) in (float(posterize[5]), float(posterize[6]))


def test_cutout_zeroes_one_16_by_16_square_inside_each_image():
    x = torch.full((64, 3, 32, 32), 255, dtype=torch.uint8)
    torch.manual_seed(0)
    out = cutout(x, 16)
    zero = out == 0
    assert zero.all(dim=1).eq(zero.any(dim=1)).all()  # the same square in every channel
    corners = set()
    for mask in zero[:, 0]:
        rows, cols = mask.any(1).nonzero().flatten(), mask.any(0).nonzero().flatten()
        assert len(rows) == len(cols) == 16 and int(mask.sum()) == 256
        assert rows.max() - rows.min() == cols.max() - cols.min() == 15
        corners.add((int(rows.min()), int(cols.min())))
    assert len(corners) > 32  # drawn anew for each image


def test_per_image_standardisation():
    out = PerImageStandardize()(images(4)).double()
    assert torch.allclose(out.mean((1, 2, 3)), torch.zeros(4, dtype=torch.float64), atol=1e-5)
    assert torch.allclose(out.std((1, 2, 3), unbiased=False), torch.ones(4, dtype=torch.float64), atol=1e-3)
    assert PerImageStandardize().double()(images(1)).dtype == torch.float64


@pytest.mark.parametrize("task", ["digits", "tabular"])
def test_label_noise_moves_that_fraction_of_training_labels_only(task):
    clean = ohgw.tasks.build(ohgw.tasks.config(task)).cached_splits()
    noisy = ohgw.tasks.build(ohgw.tasks.config(task, label_noise=0.1)).cached_splits()
    again = ohgw.tasks.build(ohgw.tasks.config(task, label_noise=0.1)).cached_splits()
    (_, y), (_, y_noisy), (_, y_again) = clean[0], noisy[0], again[0]
    moved = y != y_noisy
    assert abs(moved.float().mean().item() - 0.1) <= 0.01
    assert torch.equal(y_noisy, y_again)  # the same flips for the same data_seed
    other = ohgw.tasks.build(ohgw.tasks.config(task, label_noise=0.1, data_seed=1)).cached_splits()
    assert not torch.equal(other[0][1], ohgw.tasks.build(ohgw.tasks.config(task, data_seed=1)).cached_splits()[0][1])
    for split in (1, 2):  # validation and test never change
        assert torch.equal(clean[split][1], noisy[split][1]) and torch.equal(clean[split][0], noisy[split][0])


def test_randaugment_magnitude_outside_torchvisions_range_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"RandAugment's magnitude must lie in \[0, 1\]"):
        ohgw.tasks.build(ohgw.tasks.config("cifar10", root=str(tmp_path), download=False,
                                           search_space={"aug_magnitude": {"type": "float", "low": 0.0, "high": 1.5}}))
    with pytest.raises(ConfigError, match="label_noise must be in"):
        ohgw.tasks.build(ohgw.tasks.config("digits", label_noise=1.0))


@pytest.mark.parametrize("task, settings, subset", [("digits", {}, [3, 1, 7]), ("tabular", {"dataset": "wine"}, [2, 0])])
def test_a_class_subset_keeps_those_classes_relabelled_in_its_order(task, settings, subset):
    clean = ohgw.tasks.build(ohgw.tasks.config(task, **settings)).cached_splits()
    kept = ohgw.tasks.build(ohgw.tasks.config(task, class_subset=subset, **settings)).cached_splits()
    for (x, y), (x_kept, y_kept) in zip(clean, kept):
        assert sorted(y_kept.unique().tolist()) == list(range(len(subset)))
        for new, old in enumerate(subset):
            assert torch.equal(x_kept[y_kept == new], x[y == old])  # the same examples, in order
    noisy = ohgw.tasks.build(ohgw.tasks.config(task, class_subset=subset[:2], label_noise=0.2, **settings))
    assert set(noisy.cached_splits()[0][1].unique().tolist()) == {0, 1}  # noise moves labels within the subset


@pytest.mark.parametrize("subset, message", [
    ([1], "at least two distinct class labels"), ([1, 1], "at least two distinct"), ("12", "at least two"),
    ([1, 12], r"missing \[12\]")])
def test_a_bad_class_subset_is_one_clear_error(subset, message):
    with pytest.raises(ConfigError, match=message):
        ohgw.tasks.build(ohgw.tasks.config("digits", class_subset=subset)).cached_splits()


def test_a_train_fraction_keeps_a_stratified_part_of_the_training_split_only():
    (x, y), val, test = ohgw.tasks.build(ohgw.tasks.config("digits")).cached_splits()
    (x_few, y_few), val_few, test_few = ohgw.tasks.build(ohgw.tasks.config("digits", train_fraction=0.3)).cached_splits()
    assert len(y_few) == round(0.3 * len(y))
    assert torch.equal(val_few[0], val[0]) and torch.equal(test_few[1], test[1])  # validation and test untouched
    rows = {tuple(r.flatten().tolist()) for r in x}
    assert all(tuple(r.flatten().tolist()) in rows for r in x_few)  # a subset of the training examples
    counts, counts_few = torch.bincount(y, minlength=10), torch.bincount(y_few, minlength=10)
    assert (counts_few - 0.3 * counts).abs().max() <= 1  # stratified
    assert task_label({"task": "digits", "config": {"task": {"train_fraction": 0.3}}}) == "digits+train_fraction=0.3"
    with pytest.raises(ConfigError, match=r"task.train_fraction must be in \(0, 1\], got 0"):
        ohgw.tasks.build(ohgw.tasks.config("digits", train_fraction=0))


@pytest.mark.parametrize("layers", [2, 4])
def test_fashion_mnist_cnn_is_the_digits_cnn_with_its_layers_on_fashion_mnist_images(layers):
    try:
        task = ohgw.tasks.build(ohgw.tasks.config("fashion_mnist_cnn", train_size=64, val_size=64, test_size=64))
        (x, y), *_ = task.cached_splits()
    except DataMissingError as e:
        pytest.skip(str(e))
    net = task.module({"layers": layers, "dropout": 0.25}).net
    assert sum(isinstance(m, torch.nn.Conv2d) for m in net.modules()) == layers
    assert [m.p for m in net.modules() if isinstance(m, HyperDropout)] == [0.25]
    assert x.dtype == torch.uint8 and net(x[:4]).shape == (4, 10)
    with pytest.raises(ConfigError, match="network.arch must be cnn"):
        task.network(arch="resnet20")
