"""experiment=exp2_cpu end to end, shortened: a PASHA replicate of the tiny GPT-2 on the Python
documentation reports perplexities, the OOD split and calibration after every epoch; the analysis
works on the minimised metric; the HotFlip attack raises the best model's perplexity."""
import json
import math

import pandas as pd
import pytest

from ohgw.analysis.attack import main as attack_main
from tests.helpers import run_cli

pytestmark = pytest.mark.slow

SHORT = ["task.max_epochs=5", "budget.epochs=10", "task.train_blocks=128", "task.eval_blocks=32"]


@pytest.fixture(scope="module")
def replicate(tmp_path_factory):
    from pathlib import Path

    if not Path("/usr/share/doc/python3-doc/html/_sources").is_dir():
        pytest.skip("needs Debian's python3-doc")
    out = tmp_path_factory.mktemp("exp2_cpu")
    done = run_cli("experiment=exp2_cpu", "warmstart=ohgw", *SHORT, f"task.tokenizer_dir={out / 'tok'}",
                   f"hydra.run.dir={out}", f"rerun.root={out}")
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def test_an_exp2_cpu_replicate_reports_perplexities_drift_and_calibration(replicate):
    record = json.loads((replicate / "replicate.json").read_text())
    assert record["status"] == "complete" and record["task"] == "lm" and record["scheduler"] == "pasha"
    assert (record["metric"], record["mode"], record["test_metric"]) == ("val_ppl", "min", "test_ppl")
    rows = pd.read_csv(replicate / "results.csv")
    assert (rows["val_ppl"] - rows["val_loss"].map(math.exp)).abs().max() < 1e-6 * rows["val_ppl"].max()
    assert (rows["ood_ppl"] > 1).all() and rows["val_ece_top10"].between(0, 1).all()
    # the best validation perplexity is the record's, and it fell below the untrained model's
    assert record["best_val"] == pytest.approx(rows["val_ppl"].min())
    assert record["best_val"] < rows.loc[rows["epoch"] == 1, "val_ppl"].max()
    # the six hyperparameters: the dropouts by the pathwise estimator, the rest by autograd
    trial = rows.iloc[-1]
    assert trial["hgvia_attn_dropout"] == trial["hgvia_resid_dropout"] == "pathwise"
    assert trial["hgvia_log_lr"] == trial["hgvia_warmup"] == "autograd"


def test_the_attack_raises_the_best_models_perplexity(replicate):
    assert attack_main([str(replicate), "--sequences", "8", "--flips", "3"]) == 0
    out = json.loads((replicate / "attack.json").read_text())
    assert out["sequences"] == 8 and out["tokens_changed"] <= 8 * 3
    assert out["tokens_changed"] > 0 and out["ppl_attacked"] > out["ppl_clean"]
    assert out["ppl_ratio"] == pytest.approx(out["ppl_attacked"] / out["ppl_clean"])


def test_the_analysis_reads_the_minimised_metric(replicate, tmp_path):
    from ohgw.analysis.__main__ import main as analyse

    assert analyse([str(replicate), "--out", str(tmp_path)]) == 0
    summary = pd.read_csv(tmp_path / "summary.csv")
    assert summary.loc[0, "best_val_median"] == pytest.approx(
        json.loads((replicate / "replicate.json").read_text())["best_val"])
    assert summary.loc[0, "best_ood_ppl_median"] > 1 and list(tmp_path.glob("ood_perplexity_lm_pasha.png"))
