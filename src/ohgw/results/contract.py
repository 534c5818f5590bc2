"""The results contract: every field a replicate leaves on disk, defined once, with a schema
version. Writers (the trial's reports, the tuner's recorder, the replicate record) and readers
(analysis, wandb runs, the trial's logger, the latency tool) name fields through this module.

A replicate's job directory holds:
- results.csv: one ROW per reported epoch of a trial, with the trial's WARMSTART record and
  the PER_HYPERPARAMETER columns of every searched hyperparameter;
- replicate.json: the RECORD.

Schema versions: 1 (before the registry: adjusted values in `ws_<name>`, the finite-difference
flag in `ws_fd_<name>`; read by upgrading, see ohgw.results.io), 2 (this module).
"""
from __future__ import annotations

from dataclasses import dataclass

SCHEMA_VERSION = 2
READABLE_VERSIONS = (1, 2)

# what differs between the replicates of one comparison (their records' `comparison` is equal)
PAIRING_FREE = ("seed", "warmstart")


@dataclass(frozen=True)
class Field:
    name: str
    doc: str


def _fields(*pairs) -> dict[str, Field]:
    return {name: Field(name, doc) for name, doc in pairs}


# -- results.csv: one row per reported epoch ------------------------------------------------
ROW = _fields(
    ("trial_id", "Syne Tune's trial id: 0, 1, ... in the order the trials started"),
    ("epoch", "epochs this trial has trained, from 1 (the schedulers' resource)"),
    ("decision", "the scheduler's decision on this report: CONTINUE, STOP or PAUSE"),
    ("wallclock_s", "seconds of the tuning loop when the row reached the tuner"),
    ("elapsed_s", "seconds of this trial's processes so far, start-up included, across pauses: "
                  "its device-seconds"),
    ("train_s", "seconds this trial spent inside training and validation epochs, across pauses"),
    ("train_steps", "optimizer steps this trial has taken, across pauses"),
    ("first_batch_s", "this process's start-up: from its launch to its first training epoch"),
    ("process_peak_mb", "the trial process's peak memory so far, MiB, its warm-start's included: CUDA "
                        "max-allocated on a GPU, the peak resident set (VmHWM) on CPU"),
    ("process_reserved_mb", "the trial process's peak memory reserved by CUDA's caching allocator so far, MiB "
                            "(what decides how many trials fit on a GPU); NaN on CPU"),
    ("train_loss", "mean training loss of the epoch (the training objective at psi')"),
    ("val_loss", "validation loss after the epoch (eval mode): the cross-entropy; a regression's mean squared "
                 "error"),
    ("val_acc", "validation accuracy after the epoch (examples, or tokens of sequences); not for a regression"),
    ("test_loss", "test loss after the epoch (as val_loss)"),
    ("test_acc", "test accuracy after the epoch"),
    # a regression (Task.loss_kind mse: task diabetes), on its standardised target, instead of accuracy
    ("val_mse", "validation mean squared error after the epoch"),
    ("val_rmse", "validation root mean squared error after the epoch, sqrt(val_mse)"),
    ("test_mse", "test mean squared error after the epoch"),
    ("test_rmse", "test root mean squared error after the epoch"),
    # classifiers (not the sequence tasks): scikit-learn's macro averages over the classes
    ("val_precision", "macro precision on validation after the epoch"),
    ("val_recall", "macro recall on validation after the epoch"),
    ("val_f1", "macro F1 on validation after the epoch"),
    ("test_precision", "macro precision on the test split after the epoch"),
    ("test_recall", "macro recall on the test split after the epoch"),
    ("test_f1", "macro F1 on the test split after the epoch"),
    # language modelling (task lm)
    ("val_ppl", "validation perplexity, exp(val_loss)"),
    ("test_ppl", "test perplexity, exp(test_loss)"),
    ("ood_loss", "cross-entropy on the out-of-distribution split (sections of held-out documents shuffled)"),
    ("ood_ppl", "perplexity on the out-of-distribution split"),
    ("val_ece_top10", "expected calibration error over the top-10 token probabilities on validation"),
)

# -- results.csv: the trial's warm-start record, the same on every row of the trial --------
WARMSTART = _fields(
    ("ws_status", "baseline (nothing to do), applied, skipped_nan (non-finite hyper-gradient: "
                  "trained with x) or no_continuous (nothing the variant could move)"),
    ("ws_steps_applied", "hyper-steps applied"),
    ("ws_steps_nan", "hyper-steps skipped for a non-finite hyper-gradient"),
    ("ws_seconds", "seconds of the trial's warm-start, all hyper-steps, its start-up (ws_startup_s) left out"),
    ("ws_startup_s", "seconds of the first hyper-step's start-up run on two examples (the process's first "
                     "double backward: thread pools, caches; on a GPU, CUDA's libraries and kernels), 0 without "
                     "a warm-start"),
    ("ws_fd_fallback", "hyperparameters whose hyper-gradient autograd could not take (an op without a double "
                       "backward): a central difference stood in (hgvia_<name>); 0 normally"),
    ("ws_flops", "FLOPs of the trial's warm-start (counted on the meta device)"),
    ("ws_peak_mb", "peak memory of one hyper-step above the level before it, MiB"),
    ("step_seconds", "seconds of one normal training step of this trial (the yardstick), the same optimizer "
                     "step in every variant"),
    ("step_flops", "FLOPs of one training step (forward and backward)"),
    ("step_peak_mb", "peak memory of one normal training step above the level before it, MiB"),
)

# -- results.csv: per searched hyperparameter <name> -----------------------------------------
SAMPLED, ADJUSTED, HYPERGRADIENT, HG_METHOD = "hp_", "psi_", "hg_", "hgvia_"
PER_HYPERPARAMETER = {
    SAMPLED: "the sampled value x, as the scheduler proposed it",
    ADJUSTED: "psi': the value the trial trained with after its warm-start (x where nothing moved "
              "it: the baseline, a discrete hyperparameter)",
    HYPERGRADIENT: "dF/du at x, u the search-space scale (the first hyper-step's); NaN where none "
                   "was computed",
    HG_METHOD: "how hg_ was obtained: autograd, pathwise (a dropout rate, masks held fixed) or "
               "central_difference; empty where none was computed",
}
WARMSTART_STATUSES = ("baseline", "applied", "skipped_nan", "no_continuous")

# -- replicate.json ----------------------------------------------------------------------------
RECORD = _fields(
    ("schema_version", "the version of this contract the replicate was written with"),
    ("status", "running (from before the first trial), then complete or failed; interrupted when a signal "
               "(Slurm's time limit, a preemption, Ctrl-C) ended it: resumed by the next launch"),
    ("error", "why it failed (type: message), else null"),
    ("task", "the task's name"),
    ("scheduler", "the scheduler's name"),
    ("warmstart", "the warm-start variant's name"),
    ("role", "what the variant is to the study, as its config declares it (warmstart.role): baseline, floor "
             "(the A/A control), positive_control, control or treatment; the analysis pairs and judges by it"),
    ("eta_h", "the variant's hyper-step size; null where it sets no step (baseline, controls)"),
    ("seed", "the replicate seed"),
    ("tau", "the target score of T@tau"),
    ("metric", "the results.csv column the schedulers and T@tau read"),
    ("test_metric", "the results.csv column of the same score on the test split"),
    ("mode", "max or min: whether a larger metric is better"),
    ("budget", "the budget asked for: epochs, trials, wallclock_s (null = no limit)"),
    ("budget_used", "what was used: epochs, trials, wallclock_s, device_s"),
    ("budget_overshoot", "epochs used beyond budget.epochs, and why (absent when none)"),
    ("n_trials", "trials started"),
    ("wallclock_s", "seconds of the tuning loop"),
    ("best_val", "best metric over all rows"),
    ("best_trial_id", "the trial of best_val"),
    ("best_epoch", "the epoch of best_val"),
    ("test_of_best", "test_metric at that row"),
    ("sampled_configs", "every trial's sampled configuration, in start order"),
    ("trial_status", "each trial's last status as Syne Tune saw it"),
    ("runtime", "workers, accelerator, GPUs, threads per trial, FLOPs profile: resolved on the "
                "machine that ran it"),
    ("started_at", "UTC time the replicate started"),
    ("finished_at", "UTC time it finished"),
    ("key", "hash of the resolved config minus rerun.ignore: equal keys are the same replicate"),
    ("comparison", "the key without seed and warm-start: replicates that may be compared"),
    ("replaces", "earlier unfinished or failed attempts this replicate redoes"),
    ("resumes", "each time the replicate went on from its saved tuner state after an interruption: when, "
                "from which status, the trials it took up again (list; absent if it ran straight through)"),
    ("checksums", "sha256 of each file the complete record vouches for (results.csv, trial_config.yaml, ...): "
                  "whatever reuses or analyses the replicate checks them first"),
    ("rung_levels", "the resource levels (epochs) at which the scheduler made its decisions, as it ran them; "
                    "null for a scheduler without rungs"),
    ("slurm", "Slurm job, array job, array task and restart count where it ran on Slurm"),
    ("simulated", "a replicate replayed in virtual time on recorded curves (ohgw.simulate.replay): the table "
                  "(path, sha256), the variant's curves it read, its training seeds, whose epoch times it ran on (times: "
                  "own, or the reference variant of ohgw.simulate.times), the real seconds it took; "
                  "absent for a real run. Its wallclock_s values are virtual seconds"),
    ("config", "the resolved Hydra config"),
    ("python", "the Python version"),
    ("git_commit", "the project's git commit, or unknown outside a checkout"),
    ("versions", "versions of torch, lightning and syne-tune"),
)
# -- attack.json (language models; python -m ohgw.analysis.attack) ---------------------------------
ATTACK = "attack.json"
ATTACK_FIELDS = _fields(
    ("trial_id", "the replicate's best trial, whose final model was attacked"),
    ("sequences", "test blocks attacked"),
    ("tokens_per_sequence", "input tokens of each (its next tokens are the targets, never changed)"),
    ("flips_per_sequence", "input tokens the attack may replace in each, at most"),
    ("tokens_changed", "input tokens replaced in all (a flip is kept only where it raises the loss)"),
    ("ppl_clean", "perplexity of the model on the blocks as they are"),
    ("ppl_attacked", "its perplexity on the same targets with the attacked inputs"),
    ("ppl_ratio", "ppl_attacked / ppl_clean"),
)

# what a reader needs of a record before it can use the replicate
REQUIRED_RECORD = ("status", "task", "scheduler", "warmstart", "eta_h", "seed", "tau", "metric",
                   "mode", "budget")
# what a reader needs in results.csv, besides the record's metric and test_metric columns
REQUIRED_ROW = ("trial_id", "epoch", "wallclock_s", "elapsed_s")


def describe(name: str) -> str | None:
    """The contract's one line on a results.csv column, or None if it defines none."""
    for fields in (ROW, WARMSTART):
        if name in fields:
            return fields[name].doc
    for prefix, doc in PER_HYPERPARAMETER.items():
        if name.startswith(prefix):
            return f"{doc} ({name[len(prefix):]})"
    return None


def column(prefix: str, name: str) -> str:
    """The results.csv column of hyperparameter `name` under `prefix` (SAMPLED, ...)."""
    return f"{prefix}{name}"


def hyperparameters(columns, prefix: str = SAMPLED) -> list[str]:
    """The hyperparameter names that have a `prefix` column, in column order."""
    return [c[len(prefix):] for c in columns if c.startswith(prefix)]


def values(row, names, prefix: str) -> dict:
    """{name: row[<prefix><name>]} for the names whose column the row has."""
    return {n: row[column(prefix, n)] for n in names if column(prefix, n) in row}


def test_metric(metric: str) -> str:
    """The test column of a validation metric: val_acc -> test_acc."""
    return "test_" + metric[len("val_"):] if metric.startswith("val_") else f"test_{metric}"
