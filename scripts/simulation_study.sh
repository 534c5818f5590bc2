#!/usr/bin/env bash
# The simulation study on a curves table (docs/results/simulation.md): every replay and analysis, from
# the table alone. Replays are deterministic (the table, the scheduler, the seed), so this rebuilds
# every simulated number of the report.
#   scripts/simulation_study.sh TABLE OUT        # SEEDS (verdict; 1000) SEEDS_WORKERS (SEEDS) SEEDS_DOSE (300) JOBS (2)
# TIMES (baseline): every variant replays on the baseline's epoch times plus its own warm-start seconds
# (ohgw.simulate.times; the recorded times carry the machine's load); TIMES=own: each variant's own.
# OUT/verdict/<scheduler>: ASHA, PASHA, Hyperband x baseline, A/A, OHGW at eta_h 1e-3, 4 workers
# OUT/workers/w<n>:        ASHA x baseline, A/A, OHGW at eta_h 1e-3, n = 1, 4, 8, 16, 64 workers
# OUT/dose/asha:           ASHA x every variant of the table (raw, normalized, random steps), 4 workers
# then python -m ohgw.analysis on each of them (OUT/<...>/analysis) and the trial-level pairs (OUT/pairs);
# with DEST set, ohgw.simulate.collect copies what the report commits there.
set -euo pipefail
TABLE=$1
OUT=$2
SEEDS=${SEEDS:-1000}
SEEDS_WORKERS=${SEEDS_WORKERS:-$SEEDS}
SEEDS_DOSE=${SEEDS_DOSE:-300}
TIMES=${TIMES:-baseline}
TIMES_ARG=$([ "$TIMES" = own ] || echo "--times $TIMES")
JOBS=${JOBS:-2}
PARTS=${PARTS:-verdict workers dose}  # which cells to run (the trial-level pairs always)
PY=${PYTHON:-python}
TREATED=ohgw-eta0.001   # the method as specified (eta_h = 1e-3, raw step)
ALL=$("$PY" -c "import json,sys; print(','.join(sorted(json.load(open(sys.argv[1]))['variants'])))" "$TABLE/ohgw_table.json")

cells() {  # scheduler workers variants seeds out, one replay command per line
  case " $PARTS " in *" verdict "*) for s in asha pasha hyperband; do echo "$s 4 baseline,aa,$TREATED $SEEDS $OUT/verdict/$s"; done;; esac
  case " $PARTS " in *" workers "*) for w in 1 4 8 16 64; do echo "asha $w baseline,aa,$TREATED $SEEDS_WORKERS $OUT/workers/w$w"; done;; esac
  case " $PARTS " in *" dose "*) echo "asha 4 $ALL $SEEDS_DOSE $OUT/dose/asha";; esac
}

# each cell's variants run as their own jobs, JOBS at once
cells | while read -r sched workers variants seeds out; do
  for v in ${variants//,/ }; do echo "$sched $workers $v $seeds $out"; done
done | xargs -P "$JOBS" -L 1 bash -c '"$0" -m ohgw.simulate.replay "'"$TABLE"'" --scheduler "$1" --n-workers "$2" \
  --variants "$3" --seeds "$4" --out "$5" '"$TIMES_ARG"' | tail -n 2 | head -n 1' "$PY"

cells | awk '{print $5}' | xargs -P "$JOBS" -I{} sh -c '"$0" -m ohgw.analysis "{}" --out "{}/analysis" > "{}/analysis.log" 2>&1 && tail -n 1 "{}/analysis.log"' "$PY"
"$PY" -m ohgw.simulate.pairs "$TABLE" --out "$OUT/pairs"
# what the report commits: each cell's summary.csv, paired.csv and every replicate's T@tau
if [ -n "${DEST:-}" ]; then
  "$PY" -m ohgw.simulate.collect "$OUT" "$DEST"
  mkdir -p "$DEST/pairs" && cp "$OUT/pairs/"*.csv "$DEST/pairs/"
fi
