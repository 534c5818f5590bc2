"""CIFAR-10/100 tasks on fixture batches written in the real python-version format (pickled
dicts of 3072-byte rows), from real images: scikit-learn's digits, scaled to 32x32, with a
different value per colour plane so that the plane order is checked."""
import hashlib
import json
import pickle
import tarfile

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

import ohgw.tasks
from ohgw.errors import DataMissingError
from ohgw.tasks.cifar import LAYOUT
from tests.helpers import run_cli

PER_BATCH = 60


def planes(digit_images):
    """(N, 3, 32, 32) uint8: red = the digit, green = its negative, blue = half of it."""
    grey = np.kron(digit_images, np.ones((4, 4))) * (255 / 16)
    return np.stack([grey, 255 - grey, grey / 2], axis=1).astype(np.uint8)


def write_cifar(root, classes):
    """The batches of CIFAR-`classes` under root/<its directory>; returns the test images."""
    layout = LAYOUT[classes]
    digits = load_digits()
    images = planes(digits.images)
    labels = digits.target if classes == 10 else np.arange(len(images)) % 100
    out = root / layout["dir"]
    out.mkdir(parents=True)
    names = layout["train"] + layout["test"]
    per_file = PER_BATCH if classes == 10 else 400  # CIFAR-100 has one training file
    for i, name in enumerate(names):
        rows = slice(i * per_file, (i + 1) * per_file)
        batch = {b"data": images[rows].reshape(-1, 3072), layout["labels"]: labels[rows].tolist()}
        (out / name).write_bytes(pickle.dumps(batch))
    return images[(len(names) - 1) * per_file: len(names) * per_file], labels[(len(names) - 1) * per_file:len(names) * per_file]


def task(classes, root, **overrides):
    settings = {"root": str(root), "download": False, "val_size": 100 if classes == 100 else 50, **overrides}
    return ohgw.tasks.build(ohgw.tasks.config(f"cifar{classes}", **settings))


@pytest.mark.parametrize("classes", [10, 100])
def test_batches_are_read_plane_by_plane_and_split_without_touching_test(classes, tmp_path):
    test_images, test_labels = write_cifar(tmp_path, classes)
    t = task(classes, tmp_path)
    t.check_data()
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = t.splits()
    n_train = 5 * PER_BATCH if classes == 10 else 400
    assert x_train.shape == (n_train - len(y_val), 3, 32, 32) and len(y_val) == (50 if classes == 10 else 100)
    assert x_test.dtype == torch.uint8 and np.array_equal(x_test.numpy(), test_images)  # kept as uint8
    assert y_test.tolist() == list(test_labels)
    assert t.module()(x_test[:2]).shape == (2, classes)


def test_missing_batches_without_download_say_where_to_get_them(tmp_path):
    with pytest.raises(DataMissingError, match=r"CIFAR-10 not found .* task.download is false.*kriz/cifar.html"):
        task(10, tmp_path).check_data()


def _archive(tmp_path):
    src = tmp_path / "src"
    write_cifar(src, 10)
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(src / LAYOUT[10]["dir"], arcname=LAYOUT[10]["dir"])
    return archive, hashlib.md5(archive.read_bytes()).hexdigest()


def test_download_unpacks_the_archive_into_root_once_its_md5_matches(tmp_path):
    archive, md5 = _archive(tmp_path)
    root = tmp_path / "data"
    bad = task(10, root, download=True, url=archive.as_uri(), md5="0" * 32)
    with pytest.raises(DataMissingError, match="downloading .* failed"):
        bad.check_data()
    assert not (root / LAYOUT[10]["dir"]).exists() and list(root.iterdir()) == []  # nothing half-written
    good = task(10, root, download=True, url=archive.as_uri(), md5=md5)
    good.check_data()
    assert sorted(p.name for p in (root / LAYOUT[10]["dir"]).iterdir()) == sorted(LAYOUT[10]["train"] + LAYOUT[10]["test"])
    assert [p.name for p in root.iterdir()] == [LAYOUT[10]["dir"]]


def test_a_replicate_trains_on_cifar10(tmp_path):
    write_cifar(tmp_path / "data", 10)
    job = tmp_path / "job"
    done = run_cli("task=cifar10", f"task.root={tmp_path / 'data'}", "task.download=false", "task.val_size=50",
                   "task.batch_size=32", "experiment=smoke", f"hydra.run.dir={job}", f"rerun.root={tmp_path}")
    assert done.returncode == 0, done.stderr[-3000:]
    record = json.loads((job / "replicate.json").read_text())
    assert record["status"] == "complete" and record["task"] == "cifar10"
    assert record["budget_used"]["epochs"] == 6
