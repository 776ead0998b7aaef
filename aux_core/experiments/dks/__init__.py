"""The DKS paper's experiments (Sun et al., CVPR 2019, and its supplement): backbones, the
auxiliary-branch design tables, the CIFAR protocol and its grids, a module per job (`cells`,
`designs`, `tables`, `verdicts`), all read from here as one chapter module.

Protocol (the authors' CIFAR schedule): SGD momentum 0.9, lr 0.1, batch 128, 200 epochs,
lr x 0.2 at epochs 60, 120 and 160, weight decay 5e-4, pad-4 crop and horizontal flip. A
profile caps the epochs; the milestones keep their fractions of the run (30%, 60%, 80%).
Baseline: the backbone alone (`plain`); DS: cross-entropy on C1 and on the two DKS-designed
branches, all weights 1; DKS: DS plus the pairwise knowledge matching. The error reported is
the top-1 test error of C1 at the end of training, in percent.

The notebooks under notebooks/dks/ call these; the reference numbers come from
`aux_core.reference` ("dks").
"""
from __future__ import annotations

from ..common import dataset_for, run_grid
from . import cells, designs, tables, verdicts
from .cells import *  # noqa: F403  (the chapter's one API)
from .designs import *  # noqa: F403
from .tables import *  # noqa: F403
from .verdicts import *  # noqa: F403

NOTEBOOK_GRIDS = {"main_table": ("main",), "curves": ("main",), "ablation": ("ablation",), "gradients": ("gradients",),
                  "noise": ("noise",), "warmup": ("main", "warmup"),
                  "overview": ("main", "gradients", "ablation", "warmup"),
                  "findings": ("main", "gradients", "ablation", "warmup"), "designs": ()}
LEDGER_NOTEBOOKS = ("overview", "findings")   # the notebooks that show the claims ledger (a test checks)
ANALYSES: dict = {}                            # analysis name -> compute(config, cache): none here


__all__ = [*cells.__all__, *designs.__all__, *tables.__all__, *verdicts.__all__, "dataset_for", "run_grid",
           "NOTEBOOK_GRIDS", "LEDGER_NOTEBOOKS", "ANALYSES"]
