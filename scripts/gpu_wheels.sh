#!/usr/bin/env bash
# Download, on a machine with a network, the wheels scripts/gpu_check.sh installs on the GPU
# machine (no network; it has torch, lightning, transformers, pandas, scipy, scikit-learn, NumPy 2,
# PyYAML, packaging, typing-extensions, but not these): scripts/gpu_requirements.txt, pinned, no
# dependencies resolved (the machine has them). Into wheels/ (git-ignored), ~2 MB.
#   scripts/gpu_wheels.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-wheels}
mkdir -p "$dir"
pip=${PIP:-.venv/bin/pip}
reqs=$(grep -v '^#' scripts/gpu_requirements.txt | grep -v antlr4)
# shellcheck disable=SC2086
"$pip" download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform any -d "$dir" $reqs
# hydra's parser runtime is a source distribution only: build its (pure Python) wheel here
"$pip" wheel --quiet --no-deps -w "$dir" "$(grep '^antlr4' scripts/gpu_requirements.txt)"
ls "$dir"
