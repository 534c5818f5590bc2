"""scheduler=aux_net on real earlier records, for the tests: tests/fixtures/aux_net_v1/earlier holds
random search (3 trials of 2 epochs) on digits, breast_cancer, wine and iris over a mixed space
(log_lr, batch_size, layers as an int, dropout); aux/ one aux_net replicate on breast_cancer
trained from them. MIXED composes that space on breast_cancer under scheduler=aux_net; add
`scheduler.train_from=[...]` (TRAIN_FROM: all four tasks' records)."""
from tests.helpers import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "aux_net_v1"
EARLIER, AUX = FIXTURES / "earlier", FIXTURES / "aux"
MIXED = ("experiment=aux_net", "aux_net_task=breast_cancer", "scheduler=aux_net", "task.max_epochs=2",
         "+task.search_space.layers={type:int,low:2,high:4}",
         "+task.search_space.dropout={type:float,low:0.0,high:0.5}")
TRAIN_FROM = f"scheduler.train_from=[{EARLIER}]"
