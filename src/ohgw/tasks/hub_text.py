"""Text classification data sets in the parquet layout their Hugging Face hub pages serve, read
through `datasets` from a local directory (nothing is downloaded): IMDB (stanfordnlp/imdb,
plain_text/{train,test}-00000-of-00001.parquet; reviews, 0 negative / 1 positive) and AG News
(fancyzhx/ag_news, data/{train,test}-00000-of-00001.parquet; World, Sports, Business,
Sci/Tech), both with the columns `text` and `label`. Which files, and which hub repository
they come from, are the task's config (task.files, task.source). A stratified validation split
is held out of the training split; the test split is the data set's own. The word-level LSTM
classifier of ohgw.tasks.text trains on them."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ohgw.errors import ConfigError, DataMissingError
from ohgw.tasks.base import holdout
from ohgw.tasks.text import TextTask

SPLITS = ("train", "test")
COLUMNS = ("text", "label")


class HubTextTask(TextTask):
    def __init__(self, data_dir: str, source: str, files: dict, val_size: int, train_size: int | None = None,
                 test_size: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if sorted(files) != sorted(SPLITS):
            raise ConfigError(f"task.files must name the {' and '.join(SPLITS)} files, got {sorted(files)}")
        self.data_dir, self.source, self.files = Path(data_dir).expanduser(), source, dict(files)
        self.val_size, self.train_size, self.test_size = int(val_size), train_size, test_size

    def check_data(self):
        missing = [f for f in self.files.values() if not (self.data_dir / f).is_file()]
        if missing:
            raise DataMissingError(f"{self.name} not found in {self.data_dir} (missing {', '.join(missing)}): put "
                                   f"the parquet files of huggingface.co/datasets/{self.source} there in the hub's "
                                   f"layout, or set task.data_dir")

    def texts(self):
        from datasets import load_dataset

        data = load_dataset("parquet", data_files={s: str(self.data_dir / f) for s, f in self.files.items()})
        pairs = []
        for split in SPLITS:
            absent = [c for c in COLUMNS if c not in data[split].column_names]
            if absent:
                raise ConfigError(f"{self.data_dir / self.files[split]}: no column {', '.join(absent)} "
                                  f"(it has {', '.join(data[split].column_names)})")
            pairs.append((np.array(list(data[split]["text"]), dtype=object),
                          np.array(list(data[split]["label"]), dtype=np.int64)))
        return holdout(*pairs, self.val_size, self.train_size, self.data_seed, self.test_size)
