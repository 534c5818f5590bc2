#!/usr/bin/env bash
# The project's checks on the GPU machine (one NVIDIA GPU; Python 3.12 with torch, lightning,
# transformers, pandas, scipy, scikit-learn, matplotlib, statsmodels; no network, no Syne Tune,
# no Hydra, NumPy 2). Prepared beforehand on a machine with a network:
#   scripts/gpu_wheels.sh                       # the missing packages, into wheels/
#   scripts/gpu_data.sh                         # Fashion-MNIST's idx files and the Python docs, into data/
# Then, on the GPU machine, from the repository root (wheels/ and data/ carried along):
#   scripts/gpu_check.sh                        # ~6 min; every figure into $OUT/gpu_check.txt
# GPU_CHECK_PYTHON=.venv/bin/python skips the install (an environment that has it all).
# Each step says PASS/FAIL and goes on; the exit status is the number of failed steps.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-outputs/gpu_check}
mkdir -p "$out"
report="$out/gpu_check.txt"
venv=${GPU_CHECK_VENV:-/tmp/ohgw-gpu-venv}
data=${GPU_CHECK_DATA:-data/fashion-mnist}
docs=${GPU_CHECK_DOCS:-data/python-docs}
# GPT-2 small (124M) on 1024-token blocks, its BPE vocabulary trained on the docs (cached)
gpt2_small=("data_dir=$docs" "tokenizer_dir=$out/tokenizers" seq_len=1024 vocab_size=50257 batch_size=8
            network.n_layer=12 network.n_head=12 network.n_embd=768 network.n_positions=1024)
failed=0
: > "$report"

say() { echo "$*" | tee -a "$report"; }
step() {  # step NAME COMMAND...: run it, its output into the report, PASS/FAIL after it
    local name=$1; shift
    say ""; say "== $name: $*"; local t0=$SECONDS
    if "$@" >> "$report" 2>&1; then say "-- PASS $name ($((SECONDS - t0)) s)"
    else say "-- FAIL $name ($((SECONDS - t0)) s)"; failed=$((failed + 1)); fi
}

say "ohgw-bench GPU check, $(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse HEAD 2>/dev/null || echo unknown)"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader >> "$report" 2>&1 || true

# 1. A venv over the machine's packages with NumPy 1.26 in front (Syne Tune 0.13 breaks on NumPy 2),
#    the missing packages from wheels/, and this project itself; then torch, pandas and scipy must
#    still import and compute with NumPy 1.26.
install() {
    python3 -m venv --system-site-packages "$venv" &&
    "$venv/bin/pip" install --quiet --no-index --find-links wheels numpy==1.26.4 syne-tune==0.13.0 autograd \
        hydra-core==1.3.2 omegaconf==2.3.0 antlr4-python3-runtime==4.9.3 hydra-submitit-launcher==1.2.0 pytest-timeout &&
    "$venv/bin/pip" install --quiet --no-index --no-deps --no-build-isolation -e .
}
if [ -z "${GPU_CHECK_PYTHON:-}" ]; then
    step install install
    py="$venv/bin/python"
else  # an environment that has everything already (trying the script out elsewhere)
    py=$GPU_CHECK_PYTHON
fi
step numpy-1.26-with-the-machines-stack "$py" -c "
import numpy, torch, pandas, scipy.stats, sklearn, lightning, syne_tune
assert numpy.__version__.startswith('1.26'), numpy.__version__
x = torch.from_numpy(numpy.arange(6.0).reshape(2, 3)).cuda()
assert float((x @ x.T).sum().cpu()) == 125.0
assert pandas.DataFrame({'a': numpy.arange(3)}).a.sum() == 3 and scipy.stats.norm.cdf(0) == 0.5
print('numpy', numpy.__version__, 'torch', torch.__version__, 'cuda', torch.version.cuda,
      torch.cuda.get_device_name(), 'bf16', torch.cuda.is_bf16_supported())
"

# 2. The CUDA tests (hyper-gradients on the GPU against the CPU), and the unit tests there
step cuda-tests "$py" -m pytest -q -p no:cacheprovider tests/unit/test_lookahead.py tests/unit/test_images.py \
    tests/unit/test_mixed_space.py

# 3. Benchmark (a): training throughput of a harness trial against a bare loop, ResNet-20
step throughput-fp32 "$py" scripts/bench_throughput.py --device cuda --epochs 3 --repeats 2 \
    "task.data_dir=$data" task.train_size=20000 task.val_size=5000
step throughput-bf16 "$py" scripts/bench_throughput.py --device cuda --epochs 3 --repeats 2 \
    "task.data_dir=$data" task.train_size=20000 task.val_size=5000 task.precision=bf16

# 4. Benchmark (b): one warm-start against one training step, ResNet-20 and ResNet-50, on cuda
step warmstart-resnet20 "$py" scripts/bench_warmstart.py --tasks fashion_mnist --devices cuda --repeats 10 \
    "data_dir=$data"
step warmstart-resnet50 "$py" scripts/bench_warmstart.py --tasks fashion_mnist --devices cuda --repeats 5 \
    "data_dir=$data" network.arch=resnet50

# 4b. The language model: one warm-start against one training step, and tokens/s of a harness trial
#     against a bare loop (bf16), GPT-2 small (not yet run on a GPU: the first run may need fixes)
step warmstart-gpt2-small "$py" scripts/bench_warmstart.py --tasks lm --devices cuda --repeats 5 "${gpt2_small[@]}"
step throughput-gpt2-small "$py" scripts/bench_throughput.py --task lm --device cuda --epochs 3 --repeats 2 \
    $(printf 'task.%s ' "${gpt2_small[@]}") task.train_blocks=512 task.eval_blocks=64 task.precision=bf16

# 5. One short exp1-style replicate: 2 workers sharing the GPU, RandAugment + Cutout, bf16, the fork
#    server (which must never initialise CUDA itself), then its analysis: in-trial overhead (c)
step replicate "$py" run.py experiment=exp1_cpu device=cuda n_workers=2 "task.data_dir=$data" \
    task.train_size=10000 task.precision=bf16 task.channels_last=true budget.epochs=20 \
    "hydra.run.dir=$out/replicate" "rerun.root=$out"
step replicate-report "$py" -c "
import json, pandas as pd
r = json.load(open('$out/replicate/replicate.json')); f = pd.read_csv('$out/replicate/results.csv')
last = f.groupby('trial_id').tail(1)
print('status', r['status'], 'runtime', r['runtime']['accelerator'], r['runtime']['precision'], r['runtime']['gpus'])
print('epoch_s median', (f.groupby('trial_id').train_s.max() / f.groupby('trial_id').epoch.max()).median())
print('first_batch_s median', f.first_batch_s.median(), 'max', f.first_batch_s.max())
print('warm-start share of device-seconds %.3f%%' % (100 * last.ws_seconds.sum() / last.elapsed_s.sum()))
print('hyper-step peak MiB median', last.ws_peak_mb.median(), 'step peak MiB', last.step_peak_mb.median(),
      'trial peak MiB median', last.process_peak_mb.median())
assert r['status'] == 'complete'
"

say ""; say "failed steps: $failed"
exit "$failed"
