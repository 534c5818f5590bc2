"""Every classifier's config declares `label_noise`, so that `task.label_noise=0.1` needs no `+`,
and its task moves that share of the training labels (validation and test untouched); the
image and tabular tasks' noise is tested with the images (test_images.py)."""
import pytest

from ohgw.errors import DataMissingError
from ohgw.tasks import build
from tests.helpers import ROOT, compose_config

TASKS = sorted(p.stem for p in (ROOT / "conf" / "task").glob("*.yaml"))
# not classifiers of one label per example: a regression, and two sequence models (token_noise is lm's)
WITHOUT_LABELS = {"diabetes", "lm", "python_docs"}


def test_every_classifier_declares_label_noise_at_zero():
    declares = {t for t in TASKS if "label_noise" in compose_config(f"task={t}").task}
    assert declares == set(TASKS) - WITHOUT_LABELS
    assert all(compose_config(f"task={t}").task.label_noise == 0.0 for t in declares)


@pytest.mark.parametrize("task", ["fortunes", "fortunes_lstm"])  # digits and tabular: tests/unit/test_images.py
def test_the_text_classifiers_move_that_share_of_the_training_labels(task):
    noisy = build(compose_config(f"task={task}", "task.label_noise=0.1").task)
    clean = build(compose_config(f"task={task}").task)
    try:
        (_, y_noisy), val_noisy, test_noisy = noisy.cached_splits()
    except DataMissingError as e:
        pytest.skip(str(e))
    (_, y_clean), val_clean, test_clean = clean.cached_splits()
    assert y_noisy.shape == y_clean.shape
    assert (y_noisy != y_clean).float().mean().item() == pytest.approx(0.1, abs=0.01)
    assert (val_noisy[1] == val_clean[1]).all() and (test_noisy[1] == test_clean[1]).all()
