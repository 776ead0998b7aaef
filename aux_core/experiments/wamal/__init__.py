"""The WAMAL paper's experiments (weight-aware meta auxiliary learning, with MAXL, human
auxiliary labels and the single-task baseline): the protocol, its grids, and the tables,
curves, weight analyses and claims ledger the notebooks under notebooks/wamal/ show.

Protocol (Table 18 and Section 5.2): batch 100, primary SGD lr 0.01 (no momentum, no weight
decay: Table 18 lists none, and MAXL's release uses plain SGD), label-weight net SGD lr 1e-3
(ResNet-50: 1e-2) with weight decay 5e-4, both halved every 50 of 200 epochs, psi 5, r 5,
entropy 0.2, focal loss (gamma 2) on every head, pad-4 crop and horizontal flip. A profile
caps the epochs; the StepLR period keeps its share of the run (a quarter). Accuracy is the
top-1 test accuracy of the primary head at the end of training (the released code picks
the best epoch on the test set; we do not).

The paper's from-scratch rows are SVHN and CIFAR-100-20, which are not offline here: every
function takes the dataset as a parameter and runs CIFAR-10 (psi 5, no human row) unless
asked otherwise. Reference numbers come from `aux_core.reference` ("wamal").
"""
from __future__ import annotations

from ..common import run_grid
from . import cells, tables, verdicts
from .cells import *  # noqa: F403  (the chapter's one API: cells, tables and verdicts read from here)
from .tables import *  # noqa: F403
from .verdicts import *  # noqa: F403


NOTEBOOK_GRIDS = {"main_table": ("main", "resnet"), "backbones": ("backbones",), "range": ("ranges",),
                  "ablations": ("main", "weight_norm", "scale", "optimizers", "aux_set"), "weights": ("main",),
                  "cost": ("main", "aux_set"), "overview": ("main", "ranges", "optimizers", "weight_norm", "scale"),
                  "findings": ("main", "ranges", "optimizers", "weight_norm", "scale", "aux_set")}
LEDGER_NOTEBOOKS = ("overview", "findings")   # the notebooks that show the claims ledger (a test checks)
ANALYSES: dict = {}                            # analysis name -> compute(config, cache): none here


def main(argv=None) -> None:
    """The chapter's command line (`cli.main`)."""
    from .cli import main as cli_main
    cli_main(argv)


__all__ = [*cells.__all__, *tables.__all__, *verdicts.__all__, "run_grid", "NOTEBOOK_GRIDS",
           "LEDGER_NOTEBOOKS", "ANALYSES", "main"]
