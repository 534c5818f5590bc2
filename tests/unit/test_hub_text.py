"""IMDB and AG News read through `datasets` from parquet files in the layouts their Hugging Face
hub pages serve (fixtures in tests/fixtures/hub_text, written by its write.py): the splits, the
labels, a vocabulary of the training split alone, the missing-data line, a short training run."""
from pathlib import Path

import lightning as L
import pyarrow.parquet as pq
import pytest
import torch

import ohgw.tasks
from ohgw.errors import DataMissingError
from ohgw.tasks.text import UNKNOWN
from tests.helpers import fit, run_cli

FIXTURES = Path(__file__).parents[1] / "fixtures" / "hub_text"
SMALL = {"max_len": 16, "val_size": 4, "network": {"embed": 8, "units": 8}}


def hub_task(name, **overrides):
    return ohgw.tasks.build(ohgw.tasks.config(name, **{"data_dir": str(FIXTURES / name), **SMALL, **overrides}))


def rows(name, split):
    task = hub_task(name)
    table = pq.read_table(task.data_dir / task.files[split])
    return table.column("text").to_pylist(), table.column("label").to_pylist()


@pytest.mark.parametrize("name, classes, n_train, n_test", [("imdb", 2, 12, 6), ("ag_news", 4, 16, 8)])
def test_the_hub_layout_is_read_into_disjoint_stratified_splits(name, classes, n_train, n_test):
    task = hub_task(name)
    (train_texts, y_train), (val_texts, y_val), (test_texts, y_test) = task.texts()
    texts, labels = rows(name, "train")
    assert sorted([*train_texts, *val_texts]) == sorted(texts)  # the training file, split in two
    assert not set(train_texts) & set(val_texts)
    assert len(val_texts) == 4 and sorted(y_val.tolist()) == sorted([c for c in range(classes)] * (4 // classes))
    assert list(test_texts) == rows(name, "test")[0] and y_test.tolist() == rows(name, "test")[1]
    assert all(labels[texts.index(t)] == y for t, y in zip(train_texts, y_train))  # labels kept with texts
    (x, y), (x_val, _), (x_test, _) = task.cached_splits()
    assert x.shape == (n_train - 4, 16) and x_test.shape == (n_test, 16) and x.dtype == torch.int64
    assert task.classes() == classes


def test_the_vocabulary_is_the_training_splits_alone():
    task = hub_task("imdb")
    _, _, (test_texts, _) = task.texts()
    (x, _), _, (x_test, _) = task.cached_splits()
    # "zeppelin" occurs twice, in test reviews only: an unknown word there, not a word of its own
    row = next(i for i, t in enumerate(test_texts) if "zeppelin" in t)
    assert UNKNOWN in x_test[row].tolist() and int(x_test.max()) <= int(x.max())


def test_missing_files_are_one_line_saying_where_to_put_them(tmp_path):
    task = hub_task("ag_news", data_dir=str(tmp_path))
    with pytest.raises(DataMissingError) as missing:
        task.cached_splits()
    assert str(missing.value) == (
        f"ag_news not found in {tmp_path} (missing data/train-00000-of-00001.parquet, "
        f"data/test-00000-of-00001.parquet): put the parquet files of huggingface.co/datasets/fancyzhx/ag_news "
        f"there in the hub's layout, or set task.data_dir")


@pytest.mark.slow
def test_the_cli_refuses_a_missing_data_set_with_exit_status_2(tmp_path):
    done = run_cli("task=imdb", f"task.data_dir={tmp_path}", f"hydra.run.dir={tmp_path}/run")
    assert done.returncode == 2 and done.stderr.strip().splitlines()[-1].startswith("error: imdb not found in")


@pytest.mark.parametrize("name", ["imdb", "ag_news"])
def test_a_short_training_run_lowers_the_training_loss(name):
    L.seed_everything(0, verbose=False)
    task = hub_task(name, batch_size=4)
    module, data = task.module({"log_lr": -1.0, "aug_magnitude": 0.0}), task.datamodule()
    data.setup("fit")
    before = module.evaluate(data.train_dataloader())
    fit(module, data, epochs=8)
    assert module.evaluate(data.train_dataloader()).loss < 0.8 * before.loss
