#!/usr/bin/env bash
# Fashion-MNIST's four idx files (Debian's dataset-fashion-mnist, ~30 MB) into data/fashion-mnist/
# (git-ignored), to carry to the GPU machine for scripts/gpu_check.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
src=${1:-/usr/share/datasets/fashion-mnist}
mkdir -p data/fashion-mnist
cp "$src"/*-ubyte.gz data/fashion-mnist/
ls -l data/fashion-mnist
