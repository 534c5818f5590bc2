#!/usr/bin/env bash
# Fashion-MNIST's four idx files (Debian's dataset-fashion-mnist, ~30 MB) into data/fashion-mnist/
# and the Python documentation's reST sources (Debian python3-doc, ~11 MB) into data/python-docs/
# (both git-ignored), to carry to the GPU machine for scripts/gpu_check.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
src=${1:-/usr/share/datasets/fashion-mnist}
mkdir -p data/fashion-mnist
cp "$src"/*-ubyte.gz data/fashion-mnist/
docs=${2:-/usr/share/doc/python3-doc/html/_sources}
rm -rf data/python-docs && mkdir -p data/python-docs
(cd "$docs" && find . -name '*.rst.txt' -print0 | xargs -0 cp --parents -t "$OLDPWD/data/python-docs")
ls -l data/fashion-mnist; echo "python-docs: $(find data/python-docs -name '*.rst.txt' | wc -l) files"
