"""The language-model task: corpora in WikiText's raw and parquet layouts (fixture files written
in those formats from real text), the cached tokenizer, token noise, the OOD split, the GPT-2's
hyper-gradients against central differences, and bad input."""
import shutil
from pathlib import Path

import pytest
import torch

import ohgw.tasks
from ohgw.errors import ConfigError, DataMissingError
from ohgw.tasks.corpora import REST_UNDERLINE
from tests.finite_differences import assert_matches_finite_differences
from tests.helpers import compose_config

DOCS = Path("/usr/share/doc/python3-doc/html/_sources")
HP = {"log_lr": -2.5, "log_wd": -2.0, "label_smoothing": 0.1, "attn_dropout": 0.2, "resid_dropout": 0.1,
      "warmup": 0.05}
TINY = {"seq_len": 16, "vocab_size": 300, "train_blocks": 16, "eval_blocks": 8, "batch_size": 4,
        "network": {"n_layer": 1, "n_head": 2, "n_embd": 16, "n_positions": 16}}


@pytest.fixture(scope="module")
def rst_sources(tmp_path_factory) -> Path:
    """40 real reST files of the Python documentation with sections to reorder (skips where
    python3-doc is missing)."""
    from ohgw.tasks.corpora import _rest_sections

    files = [f for f in sorted(DOCS.rglob("*.rst.txt")) if len(_rest_sections(f.read_text())) > 2][:40] \
        if DOCS.is_dir() else []
    if not files:
        pytest.skip("needs Debian's python3-doc")
    out = tmp_path_factory.mktemp("rst")
    for i, f in enumerate(files):
        shutil.copy(f, out / f"{i:02d}-{f.name}")
    return out


def wiki_articles(rst: Path, first: int, count: int) -> str:
    """Real text in WikiText's raw layout: one article per reST file, its headings as sections."""
    lines = []
    for f in sorted(rst.glob("*.rst.txt"))[first: first + count]:
        text = f.read_text().split("\n")
        lines += ["", f" = {f.stem} = ", ""]
        for i, line in enumerate(text):
            if i + 1 < len(text) and line.strip() and REST_UNDERLINE.match(text[i + 1]):
                lines += ["", f" = = {line.strip()} = = ", ""]
            elif line.strip() and not REST_UNDERLINE.match(line):
                lines.append(" " + line.strip())
    return "\n".join(lines) + "\n"


def lm(tmp_path, **overrides):
    return ohgw.tasks.build(ohgw.tasks.config("lm", tokenizer_dir=str(tmp_path / "tok"), **{**TINY, **overrides}))


@pytest.mark.parametrize("layout", ["raw", "parquet"])
def test_wikitext_reads_in_both_layouts_and_holds_out_validation_from_training(layout, rst_sources, tmp_path):
    data = tmp_path / "wikitext"
    data.mkdir()
    train, test = wiki_articles(rst_sources, 0, 30), wiki_articles(rst_sources, 30, 10)
    if layout == "raw":
        (data / "wiki.train.raw").write_text(train)
        (data / "wiki.test.raw").write_text(test)
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        (data / "wikitext-103-raw-v1").mkdir()
        for split, body in (("train", train), ("test", test)):
            lines = [line + "\n" for line in body.split("\n")]
            pq.write_table(pa.table({"text": lines}), data / "wikitext-103-raw-v1" / f"{split}-00000-of-00001.parquet")
    task = lm(tmp_path, corpus="wikitext103", data_dir=str(data))
    docs = task.documents()
    assert len(docs["train"]) + len(docs["val"]) == 30 and len(docs["test"]) == 10
    assert all(d[0].startswith(" = ") for d in docs["train"])  # each starts at its title
    train_text = {s for d in docs["train"] for s in d}
    assert not train_text & {s for d in docs["val"] for s in d}  # validation: other articles
    assert not train_text & {s for d in docs["ood"] for s in d}  # the OOD split: held-out articles
    # the OOD split: the first test article with sections to reorder, in a new order
    first = next(d for d in docs["test"] if len(d) > 2)
    assert len(docs["ood"]) == 1 and sorted(docs["ood"][0]) == sorted(first) and docs["ood"][0] != first


def test_the_ood_split_reorders_sections_and_differs_from_the_test_split(rst_sources, tmp_path):
    task = lm(tmp_path, data_dir=str(rst_sources), ood_fraction=0.5)
    docs = task.documents()
    movable = [d for d in docs["test"] if len(d) > 2]
    assert len(docs["ood"]) == max(1, round(0.5 * len(docs["test"])))
    for ood, test in zip(docs["ood"], movable):
        assert ood[0] == test[0] and sorted(ood) == sorted(test) and ood != test
    (x_test, _), (x_ood, _) = task.cached_splits()[2], task.datamodule().splits["ood"]
    assert not torch.equal(x_test[: len(x_ood)], x_ood[: len(x_test)])


def test_the_tokenizer_is_cached_and_rebuilt_when_the_corpus_or_its_settings_change(rst_sources, tmp_path):
    task = lm(tmp_path, data_dir=str(rst_sources))
    first = task.tokenizer("some training text\nand more of it\n" * 50)
    cache = sorted((tmp_path / "tok").iterdir())
    assert len(cache) == 1
    stamp = (cache[0] / "tokenizer.json").stat().st_mtime_ns
    again = task.tokenizer("some training text\nand more of it\n" * 50)
    assert (cache[0] / "tokenizer.json").stat().st_mtime_ns == stamp  # reused, not retrained
    assert again.encode("more text").ids == first.encode("more text").ids
    task.tokenizer("other training text\n" * 50)  # another corpus
    lm(tmp_path, data_dir=str(rst_sources), vocab_size=280).tokenizer("some training text\nand more of it\n" * 50)
    assert len(list((tmp_path / "tok").iterdir())) == 3


def test_token_noise_replaces_that_fraction_of_training_tokens_only(rst_sources, tmp_path):
    settings = {"data_dir": str(rst_sources), "train_blocks": None, "eval_blocks": None}
    clean, noisy = (lm(tmp_path, token_noise=r, **settings).cached_splits() for r in (0.0, 0.15))
    (x, _), (xn, _) = clean[0], noisy[0]
    changed = (x != xn).float().mean().item()
    # 15% drawn; a draw equal to the old token (1/300) changes nothing
    assert abs(changed - 0.15 * (1 - 1 / 300)) <= 0.01
    assert torch.equal(noisy[0][0], lm(tmp_path, token_noise=0.15, **settings).cached_splits()[0][0])
    for split in (1, 2):  # validation and test untouched
        assert torch.equal(clean[split][0], noisy[split][0])


def test_every_differentiable_hyper_gradient_of_the_tiny_gpt2_matches_central_differences(rst_sources, tmp_path):
    from tests.conftest import small_float64

    module, train, val = small_float64("lm", 4, hparams=HP, tokenizer_dir=str(tmp_path / "tok"),
                                       data_dir=str(rst_sources), **{k: v for k, v in TINY.items() if k != "batch_size"})
    torch.manual_seed(1)
    from ohgw.warmstart import hypergradient

    grads = hypergradient(module, train, val, HP)
    assert set(grads) == set(HP) and grads.finite_difference == ()
    assert grads.methods["attn_dropout"] == grads.methods["resid_dropout"] == "pathwise"
    for name in HP:
        assert_matches_finite_differences(module, train, val, HP, name, grads[name])
    assert abs(grads["log_lr"]) > 1e-4 and abs(grads["warmup"]) > 1e-6


def test_epoch_metrics_give_perplexities_and_calibration(rst_sources, tmp_path):
    task = lm(tmp_path, data_dir=str(rst_sources))
    module, data = task.module(HP), task.datamodule()
    data.setup("fit")
    val_loss = module.evaluate(data.val_dataloader()).loss
    out = task.epoch_metrics(module, data, {"val_loss": val_loss, "test_loss": 5.0})
    assert out["val_ppl"] == pytest.approx(torch.tensor(val_loss).exp().item())
    assert out["ood_ppl"] > 1 and 0 <= out["val_ece_top10"] <= 1
    assert out["val_ppl"] > 100  # untrained over ~300 tokens: near the vocabulary's size


def test_bad_corpus_files_are_named(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "a.rst.txt").write_text("")
    with pytest.raises(ConfigError, match=f"corpus file {empty / 'a.rst.txt'} is empty"):
        lm(tmp_path, data_dir=str(empty)).cached_splits()
    latin = tmp_path / "latin"
    latin.mkdir()
    (latin / "b.rst.txt").write_bytes("caf\xe9 au lait\n".encode("latin-1"))
    with pytest.raises(ConfigError, match=f"corpus file {latin / 'b.rst.txt'} is not UTF-8"):
        lm(tmp_path, data_dir=str(latin)).cached_splits()
    with pytest.raises(DataMissingError, match="WikiText-103 not found in .* put wiki.train.raw"):
        lm(tmp_path, corpus="wikitext103", data_dir=str(tmp_path / "none")).check_data()


@pytest.mark.parametrize("overrides, says", [
    ({"tau": 0.9}, "a perplexity target is above 1"),
    ({"token_noise": 1.0}, "task.token_noise must be in [0, 1)"),
    ({"seq_len": 128}, "task.seq_len=128 is above the model's positions (network.n_positions=16)"),
])
def test_bad_settings_are_refused(overrides, says, tmp_path):
    with pytest.raises(ConfigError) as caught:
        lm(tmp_path, **overrides)
    assert says in str(caught.value)


def test_exp2_composes_with_its_gpt2_small_and_wikitext():
    cfg = compose_config("experiment=exp2")
    assert (cfg.task.corpus, cfg.task.seq_len, cfg.task.network.n_layer, cfg.task.network.n_embd) == \
        ("wikitext103", 1024, 12, 768)
    assert cfg.scheduler.name == "pasha" and cfg.task.tau == 30.0


def test_exp2s_evaluation_runs_in_chunks_of_two_blocks(tmp_path):
    # GPT-2 small's 50,257 logits at each of 1,024 positions: 256 blocks at once would be ~130 GB
    exp2 = compose_config("experiment=exp2").task
    task = ohgw.tasks.build(ohgw.tasks.config("lm", seq_len=exp2.seq_len, vocab_size=exp2.vocab_size,
                                              network=dict(exp2.network)))
    assert task.eval_batch_size(exp2.batch_size) == 2
    assert lm(tmp_path).eval_batch_size(32) == 256  # the tiny model's are small: as before


def test_the_chunked_evaluation_gives_the_unchunked_result(rst_sources, tmp_path, monkeypatch):
    import lightning as L

    import ohgw.tasks.lm as lm_module
    from ohgw.tasks.base import Batches

    task = lm(tmp_path, data_dir=str(rst_sources))
    monkeypatch.setattr(lm_module, "EVAL_LOGITS", 3 * task.seq_len * task.vocab_size)  # 3 blocks per batch
    torch.manual_seed(0)
    module, data = task.module(HP), task.datamodule()
    data.setup("fit")
    chunks, (x, y) = data.val_dataloader(), data.splits["val"]
    assert chunks.batch_size == 3 and len(y) == 8  # batches of 3, 3 and 2 blocks
    whole = Batches(x, y, len(y))
    chunked, unchunked = module.evaluate(chunks), module.evaluate(whole)
    assert chunked.loss == pytest.approx(unchunked.loss, rel=1e-6)
    assert chunked.means["acc"] == pytest.approx(unchunked.means["acc"], abs=1e-9)
    assert lm_module.expected_calibration_error(module, chunks) == \
        pytest.approx(lm_module.expected_calibration_error(module, whole), abs=1e-6)
    # Lightning's validation loop over the chunks: its means weighted by the chunks' sizes
    logged = L.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False,
                       accelerator="cpu").validate(module, datamodule=data, verbose=False)[0]
    assert logged["val_loss"] == pytest.approx(unchunked.loss, rel=1e-5)
    assert logged["val_acc"] == pytest.approx(unchunked.means["acc"], abs=1e-6)
