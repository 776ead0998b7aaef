"""The chapter kit's typed grid cells: what a cell may carry, and every chapter's grids built from them."""
import numpy as np
import pandas as pd
import pytest

from aux_core.config import RunConfig
from aux_core.experiments import chapters
from aux_core.experiments.common import RESERVED, Cell, grid_frame, run_grid, schedule_text


def cfg(seed=0):
    return RunConfig(model="mlp6", method="plain", train_per_class=5, test_per_class=2, batch_size=10, steps=2,
                     epochs=None, seed=seed)


def test_a_grid_frame_has_the_cells_labels_then_the_constant_ones_then_config():
    frame = grid_frame([Cell(cfg(s), arm="plain", seed=np.int64(s)) for s in (0, 1)], dataset="CIFAR-10")
    assert list(frame.columns) == ["arm", "seed", "dataset", "config"]
    assert list(frame["seed"]) == [0, 1] and frame["config"].iloc[1].seed == 1
    assert list(grid_frame([]).columns) == ["config"]


def test_cells_refuse_what_a_table_could_not_group_by():
    with pytest.raises(TypeError, match="RunConfig"):
        Cell({"model": "mlp6"}, seed=0)
    with pytest.raises(ValueError, match="reserved"):
        Cell(cfg(), status="ok")
    with pytest.raises(TypeError, match="label 'hp' must be a str, int, float or bool"):
        Cell(cfg(), hp=(1e-3, 0.05))
    with pytest.raises(ValueError, match="same labels"):
        grid_frame([Cell(cfg(0), arm="plain"), Cell(cfg(1), arm="ds", seed=1)])
    with pytest.raises(ValueError, match="reserved"):
        grid_frame([Cell(cfg())], device="cuda")
    with pytest.raises(TypeError, match="RunConfig"):
        run_grid(pd.DataFrame({"config": [{"model": "mlp6"}]}), progress=False)
    assert "run_key" in RESERVED and "config" in RESERVED


@pytest.mark.parametrize("chapter", [c for c in chapters.CHAPTERS if c not in ("performance", "claims", "audit")])
def test_every_chapters_grids_are_typed_cells(chapter):
    """Each grid a chapter trains is a frame of RunConfigs with scalar labels and none of the
    per-run frame's own columns, so per_run_frame can add them without overwriting a label."""
    for name, grid in chapters.module(chapter).chapter_grids("smoke").items():
        if not isinstance(grid, pd.DataFrame):
            continue   # an analysis grid: records, not training runs
        assert all(isinstance(c, RunConfig) for c in grid["config"]), (chapter, name)
        labels = [c for c in grid.columns if c != "config"]
        assert not set(labels) & set(RESERVED), (chapter, name)
        for column in labels:
            assert grid[column].map(lambda v: isinstance(v, (str, int, float, bool, np.number))).all(), \
                (chapter, name, column)


def test_a_tables_line_says_how_the_learning_rate_moved_and_when_a_milestone_never_came():
    """DKS's one-epoch runs had milestones rounded to epoch 1: the lr never decayed, and the
    line says so; the same schedule at the paper's fractions of two epochs decays three times."""
    def text(epochs=2.0, **changes):   # a stored record's config: RunConfig's defaults, then the changes
        return schedule_text({**RunConfig(model="resnet32").to_dict(), **changes}, epochs)
    multistep = dict(lr=0.1, schedule="multistep", gamma=0.2)
    assert text(1.0, **multistep, milestones=(1, 1, 1)) == (
        "lr 0.1, no decay (its milestones fall at or past the run's end)")
    assert text(**multistep, milestones=(0.6, 1.2, 1.6)) == "lr 0.1, x0.2 at epochs 0.6, 1.2, 1.6"
    assert text(**multistep, milestones=(0.6, 2, 3), warmup_epochs=0.2) == (
        "lr 0.1 after a 0.2-epoch warm-up, x0.2 at epochs 0.6")
    assert text(lr=1e-3) == "lr 0.001 constant"
    assert text(lr=0.05, schedule="cosine") == "lr 0.05, cosine to 0"
    assert text(lr=0.1, schedule="step", step_size=30, gamma=0.1) == "lr 0.1, x0.1 every 30 epochs"


def test_a_sweeps_line_gives_its_learning_rates_range_when_only_the_rate_differs():
    from aux_core.config import RunResult
    from aux_core.experiments.common import describe

    def result(lr, schedule="constant", key=""):
        cfg = {**RunConfig(model="mlp6", epochs=None, steps=10, seed=0).to_dict(), "lr": lr, "schedule": schedule}
        return RunResult(cfg, "ok", {"epochs": 0.5, "steps": 10, "train_images": 100, "test_images": 20},
                         *(pd.DataFrame() for _ in range(3)), {"device": "cpu"}, key=key or f"{lr}{schedule}")
    assert "· lr 0.0001-0.01 constant ·" in describe([result(lr) for lr in (1e-3, 1e-4, 1e-2)])
    assert "· lr 0.001 constant; lr 0.01, cosine to 0 ·" in describe([result(1e-3), result(1e-2, "cosine")])
    assert "· 3 lr schedules ·" in describe([result(1e-3), result(1e-2, "cosine"), result(1e-4)])


def test_a_collapse_note_counts_the_collapsed_runs_of_each_arm_in_order():
    from aux_core.experiments.common import collapse_note, collapsed
    labels = ["DKS", "DKS", "DS", "DS", "plain"]
    flags = collapsed(["ok", "ok", "diverged", "ok", "ok"], [0.11, 0.5, np.nan, 0.6, 0.14], "cifar10")
    assert list(flags) == [1.0, 0.0, 1.0, 0.0, 1.0]          # 1.5 x chance (15%) or diverged
    assert collapse_note(labels, flags, ("DS", "DKS")) == "; collapsed: 1 of 2 DS, 1 of 2 DKS runs"
    assert collapse_note(labels, flags) == "; collapsed: 1 of 2 DKS, 1 of 2 DS, 1 of 1 plain runs"
    assert collapse_note(labels, np.zeros(5)) == ""
