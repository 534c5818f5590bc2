"""Text corpora for language modelling, read through Hugging Face `datasets` from local files:

- `wikitext103`: WikiText-103 (raw), in either layout its distributions use: the raw files
  `wiki.train.raw` / `wiki.test.raw` (`load_dataset("text")`), or the hub's parquet files
  `wikitext-103-raw-v1/train-*.parquet` / `test-*.parquet` (column `text`). Articles start at a
  title line ` = Title = `; sections at ` = = Heading = = `. Where the files are missing and a
  network exists, the parquet files are downloaded from `urls` and verified by their row counts.
- `python_docs`: the Python documentation's reST sources (Debian python3-doc), one document per
  file; sections start at a heading (a line underlined with = - ~ ^ " ' or *).

Each corpus gives (training documents, test documents); a document is a list of sections, the
first one its preamble. The language-model task holds out 10% of the training documents for
validation and builds its out-of-distribution split from the test documents.
"""
from __future__ import annotations

import re
import shutil
import tempfile
import urllib.request
from pathlib import Path

from ohgw.errors import ConfigError, DataMissingError

CORPORA = ("wikitext103", "python_docs")
WIKI_RAW = {"train": "wiki.train.raw", "test": "wiki.test.raw"}
WIKI_PARQUET_DIR = "wikitext-103-raw-v1"
WIKI_TITLE = re.compile(r"^ = [^=].* = $")
WIKI_SECTION = re.compile(r"^ = = [^=].* = = $")
REST_UNDERLINE = re.compile(r"^([=\-~^\"'*#+])\1{2,}\s*$")


def read_corpus(kind: str, data_dir: Path, urls: dict | None = None, rows: dict | None = None):
    """(training documents, test documents), each a list of documents (lists of sections)."""
    if kind not in CORPORA:
        raise ConfigError(f"task.corpus must be one of {', '.join(CORPORA)}, got {kind!r}")
    if kind == "python_docs":
        return _python_docs(data_dir)
    return _wikitext(data_dir, urls or {}, rows or {})


# -- WikiText-103 ---------------------------------------------------------------------------------
def wikitext_files(data_dir: Path) -> dict[str, list[Path]] | None:
    """{split: files} in the raw layout, else the parquet layout; None if neither is complete."""
    raw = {s: [data_dir / n] for s, n in WIKI_RAW.items()}
    if all(p[0].is_file() for p in raw.values()):
        return raw
    parquet = {s: sorted((data_dir / WIKI_PARQUET_DIR).glob(f"{s}-*.parquet")) for s in WIKI_RAW}
    if all(parquet.values()):
        return parquet
    return None


def check_wikitext(data_dir: Path, urls: dict, rows: dict) -> None:
    if wikitext_files(data_dir) is not None:
        return
    why = "no task.urls to download from"
    if urls:
        try:
            download_parquet(data_dir, urls, rows)
            return
        except (OSError, ValueError) as e:  # offline, HTTP error, wrong rows
            why = f"downloading failed: {e}"
    raise DataMissingError(
        f"WikiText-103 not found in {data_dir} ({why}): put wiki.train.raw and wiki.test.raw (from "
        f"wikitext-103-raw-v1.zip) there, or the hub's parquet files under {data_dir / WIKI_PARQUET_DIR}/, "
        f"or set task.data_dir")


def download_parquet(data_dir: Path, urls: dict, rows: dict) -> None:
    """The hub's parquet files into <data_dir>/wikitext-103-raw-v1/, each verified (it reads as
    parquet with a `text` column and, where `rows` gives one, that many rows per split), moved
    into place in one rename."""
    import pyarrow.parquet as pq

    data_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".download-", dir=data_dir))
    try:
        for split, split_urls in urls.items():
            count = 0
            for url in split_urls:
                target = tmp / url.rsplit("/", 1)[-1]
                with urllib.request.urlopen(url, timeout=60) as response, open(target, "wb") as f:
                    shutil.copyfileobj(response, f)
                table = pq.read_table(target)
                if "text" not in table.column_names:
                    raise ValueError(f"{url} has no text column")
                count += table.num_rows
            if split in rows and count != int(rows[split]):
                raise ValueError(f"the {split} files hold {count} rows, WikiText-103 has {rows[split]}")
        (tmp).rename(data_dir / WIKI_PARQUET_DIR)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _wikitext(data_dir: Path, urls: dict, rows: dict):
    check_wikitext(data_dir, urls, rows)
    files = wikitext_files(data_dir)
    layout = "text" if files["train"][0].suffix == ".raw" else "parquet"
    return tuple(_articles(_lines(layout, files[split])) for split in ("train", "test"))


def _lines(layout: str, files: list[Path]) -> list[str]:
    from datasets import load_dataset

    for f in files:
        _check_text_file(f, parquet=layout == "parquet")
    data = load_dataset(layout, data_files=[str(f) for f in files], split="train",
                        **({"keep_linebreaks": True} if layout == "text" else {}))
    return [line.rstrip("\n") for line in data["text"]]


def _articles(lines: list[str]) -> list[list[str]]:
    """Articles as lists of sections: a title line starts an article, a section line a section."""
    docs: list[list[str]] = []
    for line in lines:
        if WIKI_TITLE.match(line) or not docs:
            docs.append([line])
        elif WIKI_SECTION.match(line):
            docs[-1].append(line)
        else:
            docs[-1][-1] += "\n" + line
    return [d for d in docs if "".join(d).strip()]


# -- the Python documentation ------------------------------------------------------------------
def python_docs_files(data_dir: Path) -> list[Path]:
    return sorted(data_dir.rglob("*.rst.txt")) if data_dir.is_dir() else []


def check_python_docs(data_dir: Path) -> None:
    if not python_docs_files(data_dir):
        raise DataMissingError(f"no *.rst.txt files below {data_dir}: install the Debian package "
                               "(apt-get install python3-doc) or set task.data_dir")


def _python_docs(data_dir: Path):
    check_python_docs(data_dir)
    docs = [_rest_sections(_read_text(f)) for f in python_docs_files(data_dir)]
    return docs, None  # the task splits the files into training and test documents


def _rest_sections(text: str) -> list[str]:
    """A reST document cut before each heading (a text line followed by an underline)."""
    lines = text.split("\n")
    sections, current = [], []
    for i, line in enumerate(lines):
        is_heading = (i + 1 < len(lines) and line.strip() and REST_UNDERLINE.match(lines[i + 1])
                      and len(lines[i + 1].rstrip()) >= len(line.rstrip()))
        if is_heading and current:
            sections.append("\n".join(current))
            current = []
        current.append(line)
    sections.append("\n".join(current))
    return [s for s in sections if s.strip()] or [text]


def _read_text(path: Path) -> str:
    _check_text_file(path)
    return path.read_text(encoding="utf-8")


def _check_text_file(path: Path, parquet: bool = False) -> None:
    """ConfigError naming a file that is empty or (for text) not UTF-8."""
    if path.stat().st_size == 0:
        raise ConfigError(f"corpus file {path} is empty")
    if not parquet:
        try:
            with open(path, encoding="utf-8") as f:
                while f.read(1 << 20):
                    pass
        except UnicodeDecodeError as e:
            raise ConfigError(f"corpus file {path} is not UTF-8 ({e.reason} at byte {e.start})") from None
