"""experiment=exp1_cpu as a multirun with fewer seeds, shorter: RandAugment + Cutout on the
Fashion-MNIST ResNet-20, the baseline and one-step OHGW paired by seed, analysed at the end."""
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tests.helpers import ROOT

pytestmark = pytest.mark.slow


def test_exp1_cpu_with_two_seeds_completes_and_is_analysed(tmp_path):
    if not Path("/usr/share/datasets/fashion-mnist").is_dir():
        pytest.skip("needs Debian's dataset-fashion-mnist")
    sweep = tmp_path / "sweep"
    done = subprocess.run(
        [sys.executable, "run.py", "-m", "experiment=exp1_cpu", "warmstart=baseline,ohgw", "seed=0,1",
         "budget.epochs=6", "task.max_epochs=3", "task.train_size=256", "task.val_size=128", "task.test_size=128",
         f"hydra.sweep.dir={sweep}", f"rerun.root={tmp_path}"],
        cwd=ROOT, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    records = [json.loads(p.read_text()) for p in sorted(sweep.glob("*/replicate.json"))]
    assert len(records) == 4 and all(r["status"] == "complete" for r in records)
    assert {(r["warmstart"], r["seed"]) for r in records} == {(w, s) for w in ("baseline", "ohgw") for s in (0, 1)}
    for job in sweep.glob("*/replicate.json"):
        rows = pd.read_csv(job.parent / "results.csv")
        record = json.loads(job.read_text())
        if record["warmstart"] == "ohgw":
            # on uint8 images RandAugment's magnitude has a central-difference hyper-gradient
            assert (rows["hgvia_aug_magnitude"] == "central_difference").all()
            assert (rows["hgvia_log_lr"] == "autograd").all()
    paired = pd.read_csv(sweep / "analysis" / "paired.csv")
    assert paired.loc[0, "warmstart"] == "ohgw" and paired.loc[0, "n_pairs"] == 2
    assert "fashion_mnist/asha: ohgw (eta_h=0.001) vs baseline, 2 paired seeds" in done.stdout
