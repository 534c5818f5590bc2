"""The word-level LSTM text classifier: tokens, vocabulary and padding worked by hand; the
written-out LSTM against PyTorch's nn.LSTM; the embedding noise; the fortunes task (the TF-IDF
task's examples, labels and split) and a short training run."""
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch

import ohgw.tasks
from ohgw.tasks.base import stratified_split
from ohgw.tasks.features import read_fortunes
from ohgw.tasks.lstm import EmbeddingNoise, LSTMClassifier, LSTMLayer
from ohgw.tasks.text import UNKNOWN, encode, tokenize, vocabulary
from tests.helpers import fit

FORTUNES = Path("/usr/share/games/fortunes")
needs_fortunes = pytest.mark.skipif(not FORTUNES.is_dir(), reason="apt-get install fortunes")
SMALL = {"max_len": 16, "network": {"embed": 16, "units": 16}, "class_subset": [0, 1, 2]}


def test_words_vocabulary_and_padding_worked_by_hand():
    assert tokenize("Don't PANIC: 42 towels, 42!") == ["don't", "panic", "42", "towels", "42"]
    train = [["the", "cat", "sat"], ["the", "dog", "sat"], ["the", "cat"]]
    vocab = vocabulary(train, max_vocab=2, min_count=2)
    assert vocab == {"the": 2, "cat": 3}  # by falling count, ties by the word; "sat" cut by max_vocab
    assert vocabulary(train, max_vocab=10, min_count=2) == {"the": 2, "cat": 3, "sat": 4}
    ids = encode([["the", "cat", "ran", "the"], ["cat"], []], vocab, max_len=3)
    assert ids.tolist() == [[2, 3, UNKNOWN], [3, 0, 0], [0, 0, 0]]  # cut at max_len, padded with 0


def test_the_written_out_lstm_equals_pytorchs():
    torch.manual_seed(0)
    ours, reference = LSTMLayer(5, 7).double(), torch.nn.LSTM(5, 7, batch_first=True).double()
    with torch.no_grad():
        reference.weight_ih_l0.copy_(ours.input.weight)
        reference.bias_ih_l0.copy_(ours.input.bias)
        reference.weight_hh_l0.copy_(ours.recurrent.weight)
        reference.bias_hh_l0.zero_()
    x = torch.randn(3, 6, 5, dtype=torch.float64)
    states = ours(x, torch.ones(3, 6, dtype=torch.bool))
    assert torch.allclose(states, reference(x)[0], atol=1e-12)
    # a padded position keeps the state: the state at the end is the one at the last token
    lengths = torch.tensor([6, 4, 1])
    mask = torch.arange(6) < lengths[:, None]
    last = ours(x, mask)[:, -1]
    for i, n in enumerate(lengths):
        assert torch.allclose(last[i], reference(x[i:i + 1, :n])[0][0, -1], atol=1e-12)


def test_a_batch_stops_at_its_longest_sequence_and_padding_changes_nothing():
    torch.manual_seed(0)
    net = LSTMClassifier(vocab=20, embed=4, units=5, layers=2, dropout=0.0, classes=3).eval()
    ids = torch.tensor([[5, 6, 7, 0, 0, 0], [8, 9, 0, 0, 0, 0]])
    assert torch.equal(net(ids), net(ids[:, :3]))
    assert net(ids).shape == (2, 3)


def test_embedding_noise_draws_do_not_depend_on_the_magnitude_and_it_is_differentiable():
    torch.manual_seed(0)
    net = LSTMClassifier(vocab=20, embed=4, units=5, layers=1, dropout=0.0, classes=3)
    ids = torch.tensor([[5, 6, 7], [8, 9, 0]])
    noise = EmbeddingNoise(0.5)
    clean = net(ids)
    outputs = []
    for magnitude in (0.0, 1.0, 1.0):
        torch.manual_seed(1)
        outputs.append(net(noise(ids, magnitude)))
    assert torch.equal(outputs[0], clean) and torch.equal(outputs[1], outputs[2])
    assert not torch.allclose(outputs[1], clean)
    magnitude = torch.tensor(0.3, requires_grad=True)
    (grad,) = torch.autograd.grad(net(noise(ids, magnitude)).sum(), magnitude)
    assert grad != 0


@needs_fortunes
def test_fortunes_lstm_has_the_fortunes_tasks_examples_labels_and_split():
    task = ohgw.tasks.build(ohgw.tasks.config("fortunes_lstm"))
    texts, labels = read_fortunes(FORTUNES, 50)
    parts = stratified_split(labels, 0.2, 0.2, 0)
    assert sorted(np.concatenate(parts).tolist()) == list(range(len(labels)))  # disjoint, all used
    splits = task.cached_splits()
    tfidf = ohgw.tasks.build(ohgw.tasks.config("fortunes")).cached_splits()
    for (x, y), (_, y_tfidf), idx in zip(splits, tfidf, parts):
        assert x.shape == (len(idx), 48) and x.dtype == torch.int64
        assert torch.equal(y, y_tfidf) and y.tolist() == labels[idx].tolist()
    (x, _), (x_val, _), _ = splits
    assert int(x.max()) < 10002 and int(y.max()) == 38
    # the first fortune of the validation split, encoded with the training split's words
    first = tokenize(texts[parts[1][0]])[:48]
    assert int((x_val[0] > 0).sum()) == len(first) and (x_val[0, : len(first)] >= 1).all()


@needs_fortunes
def test_a_short_training_run_lowers_the_validation_loss():
    L.seed_everything(0, verbose=False)
    module, data = ohgw.tasks.load("fortunes_lstm", hparams={"log_lr": -2.0}, **SMALL)
    data.setup("fit")
    before = module.evaluate(data.val_dataloader())
    fit(module, data, epochs=1)
    after = module.evaluate(data.val_dataloader())
    assert after.loss < 0.98 * before.loss and after.means["acc"] > before.means["acc"]
