"""An A/A pair: the same replicate as `warmstart=baseline` and as `warmstart=aa` (the warm-start's
computation, no step), one worker, the deterministic decision order. The warm-start restores the
trial's RNG streams, so on CPU the two train identically (the noise floor is 0); on a GPU
non-deterministic kernels can make them differ. Prints how many (trial, epoch) rows agree
exactly and the largest differences; exit status 1 if a replicate failed.

    python scripts/gpu_aa_pair.py OUT_DIR [run.py overrides...]     # e.g. device=cuda deterministic=true
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ohgw.results.io import load_record, load_results

ROOT = Path(__file__).resolve().parents[1]
COMPARED = ("train_loss", "val_loss", "test_loss")


def replicate(out: Path, variant: str, overrides: list[str]):
    job = out / variant
    subprocess.run([sys.executable, str(ROOT / "run.py"), f"warmstart={variant}", "n_workers=1",
                    "tuner.order=deterministic", *overrides, f"hydra.run.dir={job}", f"rerun.root={out / 'rerun'}"],
                   check=True)
    record = load_record(job)
    return record, load_results(job, record).set_index(["trial_id", "epoch"]).sort_index()


def main(out: Path, overrides: list[str]) -> int:
    (base_record, base), (aa_record, aa) = (replicate(out, v, overrides) for v in ("baseline", "aa"))
    if "complete" != base_record["status"] or "complete" != aa_record["status"]:
        print(f"replicates: baseline {base_record['status']}, aa {aa_record['status']}")
        return 1
    rows = base.index.intersection(aa.index)
    metric = base_record["metric"]
    columns = [c for c in (*COMPARED, metric) if c in base and c in aa]
    same = (base.loc[rows, columns] == aa.loc[rows, columns]).all(axis=1)
    diffs = ", ".join(f"{c} {(base.loc[rows, c] - aa.loc[rows, c]).abs().max():.3g}" for c in columns)
    print(f"A/A pair on {base_record['runtime']['accelerator']} ({base_record['runtime']['precision']}, "
          f"deterministic {base_record['config'].get('deterministic')}): {len(rows)} (trial, epoch) rows in both "
          f"(baseline {len(base)}, aa {len(aa)}), {int(same.sum())} identical; largest differences: {diffs}; "
          f"best {metric} {base_record['best_val']:.4f} vs {aa_record['best_val']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), sys.argv[2:]))
