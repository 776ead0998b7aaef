"""The compute campaign: turn every GPU window and every spare CPU hour into published results.

    python -m aux_core.campaign plan --device cuda --budget-s 540          # what a window would run
    python -m aux_core.campaign run --device cuda --budget-s 540 --out DIR # run it; DIR: the records
    python -m aux_core.store merge DIR                                     # add them to the store
    python -m aux_core.campaign costs                                      # rebuild results/costs.json
    python -m aux_core.campaign wheels                                     # .whl/: what the GPU image lacks

`plan` is a priority queue over the chapters' own grids (`campaign.plan`), costed from the
records the store holds (`campaign.costs`); `run` self-tests the device, benchmarks it, and
works down the queue until the budget is spent, exporting as it goes (`campaign.run`).
It imports nothing beyond torch, numpy, pandas, scipy, matplotlib, seaborn, pillow and tqdm,
so it runs from the source tree on a GPU machine's own image (`PYTHONPATH=. python3 -m ...`);
the aggregated runs also need TorchJD, which that image lacks and a window carries as wheels
(`campaign.wheels`), or the self-test skips them.
"""
from .costs import CostTable
from .run import run_campaign, self_test

__all__ = ["CostTable", "run_campaign", "self_test"]   # the queue: aux_core.campaign.plan.plan / .queue
