"""Text classification with a word-level LSTM (ohgw.tasks.lstm). Texts are lower-cased and cut
into words (runs of letters and digits, with an apostrophe's suffix: "don't"); the vocabulary is
the `max_vocab` most frequent words of the training split alone seen at least `min_count` times
(id 0 pads, id 1 stands for any other word); each text becomes its first `max_len` word ids,
padded with 0 at the end. Subclasses give the raw (texts, labels) of the three splits: here
Debian's fortunes (the examples and labels of the fortunes TF-IDF task), and in
ohgw.tasks.hub_text IMDB and AG News."""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import numpy as np

from ohgw.errors import ConfigError
from ohgw.tasks.base import Task, as_tensors, stratified_split
from ohgw.tasks.features import check_fortunes, read_fortunes
from ohgw.tasks.lstm import PAD, EmbeddingNoise, LSTMClassifier

UNKNOWN = 1
WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def tokenize(text: str) -> list[str]:
    return WORD.findall(text.lower())


def vocabulary(texts: list[list[str]], max_vocab: int, min_count: int) -> dict[str, int]:
    """word -> id (2, 3, ... by falling frequency, ties by the word) of the tokenised texts."""
    counts = Counter(w for words in texts for w in words)
    kept = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))[:max_vocab]
    return {w: i + 2 for i, w in enumerate(kept)}


def encode(texts: list[list[str]], vocab: dict[str, int], max_len: int) -> np.ndarray:
    """(N, max_len) int64 ids: each text's first max_len words, then PAD."""
    out = np.full((len(texts), max_len), PAD, dtype=np.int64)
    for row, words in zip(out, texts):
        ids = [vocab.get(w, UNKNOWN) for w in words[:max_len]]
        row[: len(ids)] = ids
    return out


class TextTask(Task):
    live_rates = ("dropout",)

    def __init__(self, max_len: int, max_vocab: int, min_count: int, noise_std: float, **kwargs):
        super().__init__(**kwargs)
        if min(int(max_len), int(max_vocab), int(min_count)) < 1:
            raise ConfigError(f"task {self.name}: max_len, max_vocab and min_count must be >= 1, got "
                              f"{max_len}, {max_vocab}, {min_count}")
        self.max_len, self.max_vocab, self.min_count = int(max_len), int(max_vocab), int(min_count)
        self.noise_std = float(noise_std)

    def texts(self):
        """((texts, int64 labels) of train, validation, test): arrays of strings and of labels."""
        raise NotImplementedError

    def splits(self):
        raw = self.texts()
        words = [[tokenize(t) for t in texts] for texts, _ in raw]
        vocab = vocabulary(words[0], self.max_vocab, self.min_count)
        return as_tensors(*((encode(w, vocab, self.max_len), y) for w, (_, y) in zip(words, raw)))

    def classes(self) -> int:
        """Known once the data is read: from the training labels."""
        (_, y), *_ = self.cached_splits()
        return int(y.max()) + 1

    def network(self, embed: int = 64, units: int = 64, layers: int = 1, dropout: float = 0.0):
        if any(int(v) != v or v < 1 for v in (embed, units, layers)):
            raise ConfigError(f"task {self.name}: embed, units and layers must be integers >= 1, got "
                              f"{embed}, {units}, {layers}")
        # the embedding has a row per possible id; a small training split may fill fewer
        return LSTMClassifier(self.max_vocab + 2, int(embed), int(units), int(layers), dropout, self.classes())

    def augmentation(self):
        return EmbeddingNoise(self.noise_std)


class FortunesLSTMTask(TextTask):
    """Which fortune file a fortune comes from (the fortunes task's examples, labels and
    stratified split), from its words in order."""

    def __init__(self, data_dir: str, min_per_class: int, split=(0.6, 0.2, 0.2), **kwargs):
        super().__init__(**kwargs)
        self.data_dir, self.min_per_class, self.split = Path(data_dir), int(min_per_class), tuple(split)

    def check_data(self):
        check_fortunes(self.data_dir)

    def texts(self):
        texts, labels = read_fortunes(self.data_dir, self.min_per_class)
        _, val_frac, test_frac = self.split
        return [(texts[i], labels[i]) for i in stratified_split(labels, val_frac, test_frac, self.data_seed)]
