#!/usr/bin/env bash
# The project's check on the GPU machine: one NVIDIA GPU; the machine's own Python 3.12 with torch,
# lightning, transformers, pandas, scipy, scikit-learn, pytest and NumPy 2; no network; no Syne Tune,
# Hydra or omegaconf. Prepared beforehand on a machine with a network (both folders git-ignored):
#   scripts/gpu_wheels.sh          # the missing packages, pinned (scripts/gpu_requirements.txt), into wheels/
#   scripts/gpu_data.sh            # Fashion-MNIST, the Python docs, GPT-2 small's tokenizer, into data/
# Then on the GPU machine, from the repository root, with wheels/ and data/ carried along:
#   GPU_CHECK_COMMIT=<commit> scripts/gpu_check.sh           # ~5 min; at most GPU_CHECK_DEADLINE_S (420 s)
#   scripts/gpu_check.sh --only aa-pair,lm-memory              # a rerun of some steps (install always runs)
# And on CPU, in CI: scripts/gpu_check.sh --dry-run: the same install and every step, on the CPU at small
# sizes, so that nothing before the first CUDA call can fail on the machine.
#
# Install: no venv (a venv over the machine's, itself a venv, does not see its packages): the pinned
# wheels into a target folder, on PYTHONPATH in front of the machine's packages; this project from src/.
# Steps, most valuable first, each under its own time limit (cut to what the deadline leaves; a step
# that would get under 30 s is skipped). Each step's output goes to $OUT/logs/<step>.out and .err;
# its figures (stdout) are appended to $OUT/gpu_check.txt as soon as it ends, with PASS, FAIL or
# TIMEOUT and its seconds. Exit status: the number of steps that did not pass.
set -uo pipefail
cd "$(dirname "$0")/.."

dry_run=false; only=""
while [ $# -gt 0 ]; do
    case $1 in
        --dry-run) dry_run=true ;;
        --only) only=",$2,"; shift ;;
        *) echo "error: unknown argument $1 (--dry-run, --only STEP,STEP)" >&2; exit 2 ;;
    esac
    shift
done

py=${GPU_CHECK_PYTHON:-python3}          # the machine's own interpreter
out=${OUT:-outputs/gpu_check}
wheels=${GPU_CHECK_WHEELS:-wheels}
data=${GPU_CHECK_DATA:-data}
target=${GPU_CHECK_TARGET:-/tmp/ohgw-gpu-site}
also=${GPU_CHECK_ALSO:-}                  # more pins for the install (a NumPy 2 for a dry run)
fm=$data/fashion-mnist docs=$data/python-docs toks=$data/tokenizers
if $dry_run; then
    dev=cpu; deadline=${GPU_CHECK_DEADLINE_S:-1800}; slack=4
else
    dev=cuda; deadline=${GPU_CHECK_DEADLINE_S:-420}; slack=1
fi
mkdir -p "$out/logs"
report="$out/gpu_check.txt"
failed=0
: > "$report"
say() { echo "$*" | tee -a "$report"; }

step() {  # step NAME LIMIT_S COMMAND...: under min(LIMIT x slack, what the deadline leaves)
    local name=$1 limit=$(( $2 * slack )); shift 2
    if [ -n "$only" ] && [[ $only != *",$name,"* ]] && [ "$name" != install ] && [ "$name" != environment ]; then
        return
    fi
    local left=$(( deadline - SECONDS ))
    if [ "$left" -lt 30 ]; then say "-- SKIP $name (${left} s of the ${deadline} s left)"; failed=$((failed + 1)); return; fi
    [ "$limit" -gt "$left" ] && limit=$left
    say ""; say "== $name (limit ${limit} s): $*"
    local t0=$SECONDS rc
    timeout --kill-after=10 "$limit" "$@" > "$out/logs/$name.out" 2> "$out/logs/$name.err"; rc=$?
    cat "$out/logs/$name.out" >> "$report"
    if [ "$rc" -eq 0 ]; then say "-- PASS $name ($((SECONDS - t0)) s)"; return; fi
    tail -n 20 "$out/logs/$name.err" >> "$report"
    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then say "-- TIMEOUT $name ($((SECONDS - t0)) s)"
    else say "-- FAIL $name (exit $rc, $((SECONDS - t0)) s)"; fi
    failed=$((failed + 1))
}

say "ohgw-bench GPU check$($dry_run && echo ' (dry run, on CPU)'), $(date -u +%Y-%m-%dT%H:%M:%SZ), commit ${GPU_CHECK_COMMIT:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}"
$dry_run || nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader >> "$report" 2>&1

# what trials, the fork server and the tests import: the target first, then this project, then the machine's
export PYTHONPATH="$target:$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
# shellcheck disable=SC2086
step install 60 "$py" scripts/gpu_install.py "$wheels" "$target" ${also:+--also $also}
step environment 60 "$py" scripts/gpu_env.py "$target" --device "$dev"

# 1. A 2-worker replicate sharing the GPU: the fork server (it never initialises CUDA), the trials'
#    device, exp1's RandAugment + Cutout, bf16, the records; then its figures
small=(); $dry_run && small=(task.train_size=256 task.val_size=256 task.test_size=256 budget.epochs=3)
step replicate 150 "$py" run.py experiment=exp1_cpu "device=$dev" n_workers=2 warmstart=ohgw "task.data_dir=$fm" \
    task.train_size=4096 task.val_size=1024 task.test_size=1024 task.precision=bf16 task.channels_last=true \
    budget.epochs=12 "${small[@]}" "hydra.run.dir=$out/replicate" "rerun.root=$out/rerun"
step replicate-figures 30 "$py" scripts/gpu_replicate_report.py "$out/replicate"

# 2. The warm-start against a training step, alone on the GPU, in bf16 (the trial's precision), with
#    exp1's augmentation (RandAugment's magnitude by a central difference)
small=(); $dry_run && small=(--repeats 1 --rows 1 batch_size=16)
step warmstart 90 "$py" scripts/bench_warmstart.py --tasks fashion_mnist --devices "$dev" --precision bf16 \
    --repeats 5 --rows 2 "data_dir=$fm" augmentation=randaugment cutout=16 "${small[@]}"

# 3. The CUDA tests: hyper-gradients on the GPU against the CPU, the trial's peak memory, no host
#    sync between divergence checks, the autograd stand-in (they skip on CPU)
step cuda-tests 90 "$py" -m pytest -q -p no:cacheprovider -k cuda tests/unit/test_lookahead.py \
    tests/unit/test_cost.py tests/unit/test_divergence.py tests/unit/test_autograd_fallback.py

# 4. Throughput: a harness trial against a bare loop, ResNet-20, RandAugment, bf16
small=(); $dry_run && small=(--epochs 2 task.train_size=256 task.val_size=128)
step throughput 100 "$py" scripts/bench_throughput.py --device "$dev" --epochs 3 --repeats 1 "task.data_dir=$fm" \
    task.train_size=8192 task.val_size=1024 task.precision=bf16 task.channels_last=true "${small[@]}"

# 5. An A/A pair (baseline and aa, one worker, deterministic order and algorithms): identical on CPU
small=(); $dry_run && small=(task.train_size=256 task.val_size=256 task.test_size=256 budget.epochs=3)
step aa-pair 120 "$py" scripts/gpu_aa_pair.py "$out/aa" "device=$dev" deterministic=true experiment=exp1_cpu \
    "task.data_dir=$fm" task.train_size=2048 task.precision=bf16 budget.epochs=6 "${small[@]}"

# 6. exp2's memory: GPT-2 small, evaluation at 256 blocks of 1,024 tokens (in chunks), the warm-start
#    at batch 16, bf16
small=(); $dry_run && small=(seq_len=64 vocab_size=2048 batch_size=4 eval_blocks=32 train_blocks=16
                              network.n_layer=1 network.n_head=2 network.n_embd=32 network.n_positions=64)
step lm-memory 120 "$py" scripts/gpu_lm_memory.py --device "$dev" "data_dir=$docs" "tokenizer_dir=$toks" "${small[@]}"

# 7. Every scheduler on the machine's NumPy (CPU only, simulated time): compare with the CPU machines'
step schedulers 60 "$py" scripts/scheduler_probe.py

say ""; say "steps not passed: $failed ($SECONDS s in all)"
exit "$failed"
