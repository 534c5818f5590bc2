"""Word-level language modelling with GPT-2 (Hugging Face `transformers`, trained from scratch:
GPT2LMHeadModel built from a GPT2Config, random initialisation, nothing downloaded).

Data (ohgw.tasks.corpora): WikiText-103, or the Python documentation offline. 10% of the
training documents (seeded by data_seed) are the validation split; the test documents are held
out; the out-of-distribution split is an ordering drift: the first `ood_fraction` of the test
documents that have sections to reorder, each with its sections in a new order. A byte-level BPE
tokenizer (`tokenizers`) is trained on the training split alone and cached by a hash of its text
and settings. Tokens are packed into blocks of seq_len + 1 (inputs and next-token targets) held
as tensors on the training device. `token_noise` replaces that fraction of the training tokens with uniformly
drawn ones, fixed by data_seed (the same in every epoch and variant; validation, test and the
OOD split untouched).

The network's attention and residual dropouts are HyperDropout rates (`attn_dropout`,
`resid_dropout`; the embedding dropout follows resid_dropout), through an eager attention
written out so that its dropout is the module's and its double backward exists.
"""
from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ohgw.errors import ConfigError
from ohgw.hyperparams.dropout import HyperDropout
from ohgw.hyperparams.loss import rows as token_rows  # task.rows is WikiText's row counts
from ohgw.tasks.base import Task, as_tensors
from ohgw.tasks.corpora import check_python_docs, check_wikitext, read_corpus

EOS = "<|endoftext|>"
ATTENTION = "ohgw_eager"
ECE_BINS, ECE_TOP = 15, 10
# Logits per evaluation batch, at most: an evaluation batch holds them (bf16), their float32
# upcast and the log-softmax, ~10 bytes each, so ~1.3 GB. GPT-2 small at 1024 tokens has 51 M
# logits per block: 256 blocks at once would be ~130 GB, 2 blocks ~1 GB.
EVAL_LOGITS = 2 ** 27


class LMTask(Task):
    live_rates = ("attn_dropout", "resid_dropout")
    classifies = False

    def __init__(self, corpus: str, data_dir: str, seq_len: int, vocab_size: int, token_noise: float = 0.0,
                 ood_fraction: float = 0.05, val_fraction: float = 0.1, test_fraction: float = 0.1,
                 train_blocks: int | None = None, eval_blocks: int | None = None,
                 tokenizer_dir: str = "~/.cache/ohgw-bench/tokenizers", urls: dict | None = None,
                 rows: dict | None = None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= float(token_noise) < 1.0:
            raise ConfigError(f"task.token_noise must be in [0, 1), got {token_noise}")
        positions = self.hyperparameters.network.get("n_positions", seq_len)
        if int(seq_len) > int(positions):
            raise ConfigError(f"task.seq_len={seq_len} is above the model's positions (network.n_positions="
                              f"{positions})")
        self.corpus, self.data_dir = corpus, Path(data_dir).expanduser()
        self.seq_len, self.vocab_size, self.token_noise = int(seq_len), int(vocab_size), float(token_noise)
        self.ood_fraction, self.val_fraction, self.test_fraction = float(ood_fraction), float(val_fraction), float(test_fraction)
        self.train_blocks, self.eval_blocks = train_blocks, eval_blocks
        self.tokenizer_dir = Path(tokenizer_dir).expanduser()
        self.urls, self.rows = dict(urls or {}), dict(rows or {})

    # -- data ------------------------------------------------------------------------------------
    def check_data(self):
        if self.corpus == "python_docs":
            check_python_docs(self.data_dir)
        else:
            check_wikitext(self.data_dir, self.urls, self.rows)

    def documents(self) -> dict[str, list[list[str]]]:
        """train / val / test / ood documents (lists of sections)."""
        train, test = read_corpus(self.corpus, self.data_dir, self.urls, self.rows)
        rng = np.random.default_rng(self.data_seed)
        if test is None:  # one pool of files: hold out the test documents first
            order = rng.permutation(len(train))
            n_test = max(1, int(round(self.test_fraction * len(train))))
            test, train = [train[i] for i in order[:n_test]], [train[i] for i in order[n_test:]]
        order = rng.permutation(len(train))
        n_val = max(1, int(round(self.val_fraction * len(train))))
        val, train = [train[i] for i in order[:n_val]], [train[i] for i in order[n_val:]]
        n_ood = max(1, int(round(self.ood_fraction * len(test))))
        # a document with fewer than two sections after its preamble cannot drift: it would
        # repeat the test split's text (evaluated on a prefix of blocks, the same numbers)
        movable = [d for d in test if len(d) > 2][:n_ood]
        if not movable:
            raise ConfigError(f"task {self.name}: no test document has two sections to reorder (no OOD split)")
        ood = [shuffled_sections(d, rng) for d in movable]
        return {"train": train, "val": val, "test": test, "ood": ood}

    def splits(self):
        docs = self.documents()
        tokenizer = self.tokenizer("\n".join(text(d) for d in docs["train"]))
        eos = tokenizer.token_to_id(EOS)
        streams = {k: np.array([t for d in v for t in tokenizer.encode(text(d)).ids + [eos]], dtype=np.int64)
                   for k, v in docs.items()}
        if self.token_noise:
            streams["train"] = with_token_noise(streams["train"], self.token_noise, tokenizer.get_vocab_size(),
                                                self.data_seed)
        blocks = {k: self._blocks(s, self.train_blocks if k == "train" else self.eval_blocks)
                  for k, s in streams.items()}
        pairs = {k: as_tensors((b[:, :-1], b[:, 1:]))[0] for k, b in blocks.items()}
        return (pairs["train"], pairs["val"], pairs["test"]), {"ood": pairs["ood"]}

    def eval_batch_size(self, batch_size: int) -> int:
        """Blocks per evaluation batch: the default's, fewer where their logits (blocks x seq_len
        x vocabulary) would pass EVAL_LOGITS: the evaluation runs in chunks that fit."""
        return max(1, min(super().eval_batch_size(batch_size), EVAL_LOGITS // (self.seq_len * self.vocab_size)))

    def _blocks(self, stream: np.ndarray, limit: int | None) -> np.ndarray:
        n = len(stream) // (self.seq_len + 1)
        if n == 0:
            raise ConfigError(f"task {self.name}: a split has fewer than seq_len + 1 = {self.seq_len + 1} tokens")
        blocks = stream[: n * (self.seq_len + 1)].reshape(n, self.seq_len + 1)
        return blocks[: int(limit)] if limit is not None else blocks

    def tokenizer(self, train_text: str):
        """The byte-level BPE tokenizer of this training text and these settings: trained once,
        then read from its cache directory (keyed by a hash of both)."""
        from tokenizers import ByteLevelBPETokenizer, Tokenizer

        settings = {"vocab_size": self.vocab_size, "min_frequency": 2, "special": [EOS], "kind": "byte-level-bpe"}
        key = hashlib.sha256((json.dumps(settings, sort_keys=True) + "\0" + train_text).encode()).hexdigest()[:20]
        path = self.tokenizer_dir / key / "tokenizer.json"
        if not path.exists():
            trained = ByteLevelBPETokenizer()
            trained.train_from_iterator(train_text.split("\n"), vocab_size=self.vocab_size, min_frequency=2,
                                        special_tokens=[EOS])
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            trained.save(str(tmp))
            tmp.replace(path)  # array tasks racing never read a partial file
        return Tokenizer.from_file(str(path))

    # -- model -----------------------------------------------------------------------------------
    def network(self, n_layer: int = 2, n_head: int = 2, n_embd: int = 64, n_positions: int | None = None,
                attn_dropout: float = 0.1, resid_dropout: float = 0.1) -> nn.Module:
        # the embedding has vocab_size rows; a small corpus may train fewer BPE tokens
        return GPT2(self.vocab_size, int(n_layer), int(n_head), int(n_embd), int(n_positions or self.seq_len),
                    attn_dropout, resid_dropout)

    def augmentation(self):
        return None

    def epoch_metrics(self, module, datamodule, losses: dict) -> dict:
        """Perplexities of validation, test and the OOD split, and the calibration (ECE over the
        top-10 token probabilities) on validation."""
        ood_loss = module.evaluate(datamodule.extra_dataloaders()["ood"]).loss
        return {"val_ppl": math.exp(losses["val_loss"]), "test_ppl": math.exp(losses["test_loss"]),
                "ood_loss": ood_loss, "ood_ppl": math.exp(ood_loss),
                "val_ece_top10": expected_calibration_error(module, datamodule.val_dataloader())}


class GPT2(nn.Module):
    """GPT2LMHeadModel from a config (random init), token ids (N, T) in, logits (N, V, T) out:
    classes along dim 1, as F.cross_entropy takes them. Its dropouts are HyperDropout modules."""

    def __init__(self, vocab_size, n_layer, n_head, n_embd, n_positions, attn_dropout, resid_dropout):
        super().__init__()
        from transformers import GPT2Config, GPT2LMHeadModel
        from transformers.utils import logging as hf_logging

        register_attention()
        hf_logging.set_verbosity_error()  # bos/eos ids of the default config warn for a small vocabulary
        config = GPT2Config(vocab_size=vocab_size, n_positions=n_positions, n_embd=n_embd, n_layer=n_layer,
                            n_head=n_head, attn_pdrop=attn_dropout, resid_pdrop=resid_dropout,
                            embd_pdrop=resid_dropout, bos_token_id=0, eos_token_id=0,
                            attn_implementation=ATTENTION)
        self.model = GPT2LMHeadModel(config)
        for block in self.model.transformer.h:
            block.attn.attn_dropout = HyperDropout("attn_dropout", attn_dropout)
            block.attn.resid_dropout = HyperDropout("resid_dropout", resid_dropout)
            block.mlp.dropout = HyperDropout("resid_dropout", resid_dropout)
        self.model.transformer.drop = HyperDropout("resid_dropout", resid_dropout)

    def forward(self, x):
        # an explicit (all-ones) attention mask: without one, transformers looks for packed
        # sequences with .item(), which the meta device (FLOP counting) cannot do
        return self.model(input_ids=x, attention_mask=torch.ones_like(x), use_cache=False).logits.transpose(1, 2)


def _attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0, **kwargs):
    """GPT-2's eager attention with the module's own attention dropout (a HyperDropout, whose
    rate may be a tensor) instead of a functional dropout at a float rate."""
    scaling = query.size(-1) ** -0.5 if scaling is None else scaling
    weights = torch.matmul(query, key.transpose(-1, -2)) * scaling
    if attention_mask is not None:
        weights = weights + attention_mask
    weights = module.attn_dropout(torch.softmax(weights, dim=-1).type(value.dtype))
    return torch.matmul(weights, value).transpose(1, 2), weights


def register_attention() -> None:
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface

    AttentionInterface.register(ATTENTION, _attention)
    AttentionMaskInterface.register(ATTENTION, AttentionMaskInterface._global_mapping["eager"])


def text(document: list[str]) -> str:
    return "\n".join(document)


def shuffled_sections(document: list[str], rng: np.random.Generator) -> list[str]:
    """The document with its sections (after the preamble) in a new order: an ordering drift.
    A draw that leaves them in place is rotated by one instead."""
    head, sections = document[:1], list(document[1:])
    order = rng.permutation(len(sections))
    if (order == np.arange(len(sections))).all():
        order = np.roll(order, 1)
    return head + [sections[i] for i in order]


def with_token_noise(stream: np.ndarray, rate: float, vocab: int, seed: int) -> np.ndarray:
    """round(rate x N) token positions, drawn by `seed`, each replaced by a token drawn
    uniformly from the vocabulary (it may draw the same token)."""
    rng = np.random.default_rng([int(seed), 0x70ce])
    out = stream.copy()
    picked = rng.choice(len(stream), size=int(round(rate * len(stream))), replace=False)
    out[picked] = rng.integers(0, vocab, size=len(picked))
    return out


@torch.no_grad()
def expected_calibration_error(module, loader, top: int = ECE_TOP, bins: int = ECE_BINS) -> float:
    """ECE over the top-`top` token probabilities: every (probability, was it the target) pair
    of the `top` most probable next tokens at every position, binned by probability into `bins`
    equal bins; sum over bins of |fraction correct - mean probability| x the bin's share."""
    was_training = module.training
    module.eval()
    counts, conf, correct = np.zeros(bins), np.zeros(bins), np.zeros(bins)
    for x, y in loader:
        logits, y = token_rows(module(x.to(module.device)).float(), y.to(module.device))  # a row per position
        p, idx = torch.softmax(logits, dim=1).topk(top, dim=1)
        hit = (idx == y.unsqueeze(1)).flatten().cpu().numpy()
        p = p.flatten().cpu().numpy()
        b = np.minimum((p * bins).astype(int), bins - 1)
        counts += np.bincount(b, minlength=bins)
        conf += np.bincount(b, weights=p, minlength=bins)
        correct += np.bincount(b, weights=hit, minlength=bins)
    module.train(was_training)
    filled = counts > 0
    return float(np.sum(np.abs(correct[filled] - conf[filled])) / counts.sum())
