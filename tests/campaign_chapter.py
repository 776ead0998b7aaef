"""A toy chapter for the campaign's tests: three tiny grids (one behind the claims ledger, one
table, one analysis), real CIFAR-10 runs of a few steps. `install()` makes
`aux_core.experiments.chapters.module("toy")` return it (in this process only)."""
import os
import sys
import time

from aux_core.experiments import chapters as chapters_lib
from aux_core.experiments.common import Cell, grid_frame
from aux_core.records import make_key
from aux_core.config import RunConfig

SEEDS = (0, 1)


def tiny(method="plain", seed=0, steps=2):
    return RunConfig(model="mlp6", method=method, method_options={"alpha": 0.3} if method == "ds" else {},
                     train_per_class=5, test_per_class=2, batch_size=10, steps=steps, epochs=None, seed=seed)


def chapter_grids(profile):
    return {"claims_grid": grid_frame(Cell(tiny("ds", s), seed=s) for s in SEEDS),
            "table_grid": grid_frame(Cell(tiny("plain", s, steps=3), seed=s) for s in SEEDS),
            "figure_grid": [{"analysis": "toy_sum", "dataset": "cifar10", "n": n} for n in (3, 4)]}


NOTEBOOK_GRIDS = {"findings": ("claims_grid",), "table": ("table_grid",), "figure": ("figure_grid",)}
LEDGER_NOTEBOOKS = ("findings",)


def toy_sum(config, cache):
    """A cheap analysis; TOY_SUM_SLEEP_S makes it slow, so a test can kill a campaign while it runs."""
    from aux_core.data import load_dataset
    time.sleep(float(os.environ.get("TOY_SUM_SLEEP_S", "0")))
    checksum = load_dataset("cifar10").checksum
    return cache.get_or_compute(make_key(config, checksum), lambda: {
        "kind": "analysis", "config": config, "rows": [{"sum": sum(range(config["n"]))}],
        "provenance": {"wall_time_s": 0.01, "device": "cpu: test", "data_checksum": checksum}})[0]


ANALYSES = {"toy_sum": toy_sum}


def install(monkeypatch=None):
    real = chapters_lib.module
    me = sys.modules[__name__]

    def module(chapter):
        return me if chapter == "toy" else real(chapter)
    if monkeypatch is not None:
        monkeypatch.setattr(chapters_lib, "module", module)
    else:
        chapters_lib.module = module
    chapters_lib.grids.cache_clear()
    chapters_lib.needed.cache_clear()
