#!/usr/bin/env bash
# 1000 simulated replicates of one scheduler and variant at 16 workers, records and analysis included
# (docs/performance.md): two replay processes of 500 seeds each (one per core), then the analysis.
#   scripts/bench_simulate.sh TABLE OUT [SCHEDULER] [VARIANT]
set -euo pipefail
TABLE=$1
OUT=$2
SCHEDULER=${3:-asha}
VARIANT=${4:-baseline}
PY=${PYTHON:-python}
rm -rf "$OUT"
start=$(date +%s.%N)
for first in 0 500; do
  "$PY" -m ohgw.simulate.replay "$TABLE" --scheduler "$SCHEDULER" --variants "$VARIANT" --n-workers 16 \
    --seeds 500 --first-seed $first --out "$OUT" > "$OUT.replay$first.log" 2>&1 &
done
wait
replayed=$(date +%s.%N)
"$PY" -m ohgw.analysis "$OUT" --out "$OUT/analysis" > "$OUT.analysis.log" 2>&1
end=$(date +%s.%N)
awk -v n="$(find "$OUT" -name replicate.json | wc -l)" -v a="$start" -v b="$replayed" -v c="$end" \
  'BEGIN { printf "replicates: %d; replay %.1f s; analysis %.1f s; total %.1f s\n", n, b - a, c - b, c - a }' 
