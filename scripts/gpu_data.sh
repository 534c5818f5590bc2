#!/usr/bin/env bash
# The data scripts/gpu_check.sh reads on the GPU machine (no network), into DIR (default data/,
# git-ignored), ~45 MB: Fashion-MNIST's four idx files (Debian's dataset-fashion-mnist, ~30 MB),
# the Python documentation's reST sources (Debian python3-doc, ~11 MB) and GPT-2 small's BPE
# tokenizer trained on them (~2 MB; training it here saves the GPU machine's minutes).
#   scripts/gpu_data.sh [DIR] [FASHION_MNIST_DIR] [PYTHON_DOCS_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-data}")
src=${2:-/usr/share/datasets/fashion-mnist}
docs=${3:-/usr/share/doc/python3-doc/html/_sources}
py=${GPU_DATA_PYTHON:-.venv/bin/python}
mkdir -p "$out/fashion-mnist"
cp "$src"/*-ubyte.gz "$out/fashion-mnist/"
rm -rf "$out/python-docs" && mkdir -p "$out/python-docs"
(cd "$docs" && find . -name '*.rst.txt' -print0 | xargs -0 cp --parents -t "$out/python-docs")
"$py" scripts/gpu_lm_memory.py --prepare "data_dir=$out/python-docs" "tokenizer_dir=$out/tokenizers"
ls -l "$out/fashion-mnist"; echo "python-docs: $(find "$out/python-docs" -name '*.rst.txt' | wc -l) files"
du -sh "$out"
