"""Asymmetric training with heterogeneous losses (paper 1): its protocol, experiment grids and
the analyses its tables report, a module per job (`protocol`, `tables`, `landscape`, `verdicts`),
all read from here as one chapter module. The chapter's notebooks build on these functions, so two
notebooks that need the same run build the same `RunConfig` and share one cache record.

Protocol (Sections 3-4, Appendix C): AdamW at a constant learning rate, 200 epochs, seeds
42-51, the 50,000 training images split 80/20 into training and validation (stratified),
learning rate, weight decay and alpha from Table 13 (or the three-stage search of C.1,
`search_hparams`). The paper does not state the batch size or any augmentation; we use
batch 128 and none (its large generalisation gaps, up to 0.55, suggest none). Accuracy is the
final classifier's accuracy on the test split after the last epoch; the search selects on
the validation split. Comparisons are paired by seed (two-tailed paired t-test), as the paper.

Our readings where the paper is silent, all parameters of the functions below:
  * Tables 7-9 and 11-12 (few-shot, label noise) use each architecture's Table 1 setting:
    MLP at N = 1 and ViT-6L at N = 20 (Table 9 says 20x), with their Table 13 row; they train
    on the whole training pool (no validation split: nothing is selected) with batch
    min(128, training images).
  * Table 10 (CIFAR-10, N = 1) uses Table 13's N = 1 row; Table 16 (N = 3) the row of the
    nearest N on a log scale (N = 7), since its tuned values are not printed.
  * Convergence epoch (Table 3): the epoch of the best validation accuracy. Generalisation
    gap (Table 4): running training accuracy minus validation accuracy, at epochs 10, 50
    and 100 of the paper's 200, i.e. at 5%, 25% and 50% of a run of any length.
  * Attention (Table 14): the last block's class-token maps (`aux_core.analysis.attention`) at
    epochs 20, 60, 100 of 200 (10%, 30%, 50% of the run), ViT-6L at N = 20.
"""
from __future__ import annotations

import pandas as pd

from ...profiles import get_profile
from ..common import run_grid
from .cells import (MODELS, CHAPTER, PAPER_SEEDS, PAPER_EPOCHS, SEARCH_EPOCHS, BRANCHES, LANDSCAPE_BRANCHES, LR_GRID,
                    WD_GRID, ALPHA_GRID, SEARCH_WD, BATCH, VAL_FRACTION, ARMS, ALL_ARMS, GAP_FRACTIONS,
                    ATTENTION_FRACTIONS, FEW_SHOT, NOISE, NOISE_RATES, LANDSCAPE_SIZE, table13, check_arch, protocol,
                    table1_cells, cifar10_cells, all_active_cells, few_shot_cells, noise_cells, search_hparams,
                    SAME_DATA_TABLES, same_data_cells, paper_row)
from .landscape import (landscape_size, landscape_batch, landscape, landscape_config, TOTAL_LOSS_CONTROL,
                        TOTAL_LOSS_KIND, landscape_configs, landscape_grid, total_loss_control, landscape_changes,
                        landscape_from_config)
from .tables import (per_run, compare, identical_to, cosine_curves, cosine_summary, history, at_fraction, dynamics,
                     attention_table, beside_paper)
from ..presentation import mean_std_text
from .verdicts import (relative_gains, claims_ledger, same_data_ledger, summary, chapter_ledger, significant_rows,
                       row_text, same_data_runs, appendix_ledger)


def chapter_grids(profile: str) -> dict[str, pd.DataFrame | list[dict]]:
    """Every grid the chapter's notebooks train (cells) or compute (landscape configs) at their
    defaults, by name (NOTEBOOK_GRIDS says which notebook reads which)."""
    seeds = get_profile(profile, CHAPTER).seeds(PAPER_SEEDS)
    return {"table1": table1_cells(profile, seeds), "cifar10": cifar10_cells(profile, seeds),
            "few_shot": few_shot_cells(profile, seeds), "noise": noise_cells(profile, seeds),
            # the appendix tables on the paper's own data, judged on the findings page (the few-shot,
            # CIFAR-10 and noise pages' runs, with more seeds for the MLP where the profile affords them)
            **{SAME_DATA_TABLES[t]: c for t, c in same_data_cells(profile, PAPER_SEEDS).items()},
            "all_active": all_active_cells(profile, seeds),
            "landscapes": landscape_configs(profile, seeds) + landscape_configs(profile, seeds, **TOTAL_LOSS_CONTROL)}


NOTEBOOK_GRIDS = {"table1": ("table1",), "gradients": ("table1",), "dynamics": ("table1",), "attention": ("table1",),
                  "few_shot": ("few_shot",), "noise": ("noise",), "cifar10": ("cifar10",),
                  "all_active": ("all_active",), "landscape": ("landscapes",),
                  "overview": ("table1", "landscapes"),
                  "findings": ("table1", "landscapes", *SAME_DATA_TABLES.values()),
                  "statistics": ("table1", "cifar10", "few_shot", "noise", "all_active", "landscapes")}
LEDGER_NOTEBOOKS = ("overview", "findings")   # the notebooks that show the claims ledger (a test checks)


ANALYSES = {"landscape": landscape_from_config}   # analysis name -> compute(config, cache)


__all__ = ["all_active_cells", "ALL_ARMS", "ALPHA_GRID", "ANALYSES", "ARMS", "at_fraction", "ATTENTION_FRACTIONS",
           "attention_table", "BATCH", "BRANCHES", "CHAPTER", "chapter_grids", "chapter_ledger", "check_arch",
           "cifar10_cells", "claims_ledger", "compare", "cosine_curves", "cosine_summary", "dynamics", "FEW_SHOT",
           "few_shot_cells", "GAP_FRACTIONS", "history", "identical_to",
           "landscape", "landscape_batch",
           "LANDSCAPE_BRANCHES", "landscape_changes", "landscape_config", "landscape_configs",
           "landscape_from_config", "landscape_grid", "landscape_size", "LANDSCAPE_SIZE", "LEDGER_NOTEBOOKS",
           "LR_GRID", "mean_std_text", "MODELS", "NOISE", "noise_cells", "NOISE_RATES", "NOTEBOOK_GRIDS",
           "PAPER_EPOCHS", "PAPER_SEEDS", "paper_row", "per_run", "protocol", "relative_gains", "run_grid",
           "SEARCH_EPOCHS", "row_text", "SAME_DATA_TABLES", "same_data_cells", "same_data_ledger", "same_data_runs",
           "appendix_ledger", "search_hparams",
           "SEARCH_WD", "beside_paper", "significant_rows", "summary", "table13", "table1_cells",
           "TOTAL_LOSS_CONTROL", "total_loss_control", "TOTAL_LOSS_KIND", "VAL_FRACTION", "WD_GRID"]
