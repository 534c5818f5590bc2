#!/usr/bin/env bash
# Download, on a machine with a network, the wheels scripts/gpu_check.sh installs on the GPU
# machine (Python 3.12, x86-64, no network; it has torch, lightning, transformers, pandas, scipy,
# scikit-learn, matplotlib, statsmodels, but not these). Into wheels/ (git-ignored).
#   scripts/gpu_wheels.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-wheels}
mkdir -p "$dir"
pip=${PIP:-.venv/bin/pip}
# Syne Tune 0.13 needs numpy < 1.27 (it breaks on NumPy 2): the check runs in a venv over the
# machine's packages with numpy 1.26 in front (and verifies that torch, pandas, scipy still work)
"$pip" download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 --platform any -d "$dir" \
    numpy==1.26.4 syne-tune==0.13.0 dill sortedcontainers autograd hydra-core==1.3.2 omegaconf==2.3.0 \
    hydra-submitit-launcher==1.2.0 submitit cloudpickle typing-extensions PyYAML packaging pytest-timeout
# hydra's parser runtime is a source distribution only: build its (pure Python) wheel here
"$pip" wheel --quiet --no-deps -w "$dir" antlr4-python3-runtime==4.9.3
ls "$dir"
