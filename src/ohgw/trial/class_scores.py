"""Macro precision, recall and F1 of a classifier's predictions (scikit-learn's definitions):
the unweighted mean over the classes present in the targets or the predictions, a class never
predicted counting 0 precision. Reported beside accuracy, which hides a class the model ignores."""
from __future__ import annotations

import torch
from sklearn.metrics import precision_recall_fscore_support


def class_scores(split: str, predicted: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """{split}_precision, {split}_recall, {split}_f1 (macro)."""
    precision, recall, f1, _ = precision_recall_fscore_support(
        target.numpy(), predicted.numpy(), average="macro", zero_division=0)
    return {f"{split}_precision": float(precision), f"{split}_recall": float(recall), f"{split}_f1": float(f1)}
