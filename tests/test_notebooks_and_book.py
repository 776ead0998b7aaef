"""Notebook and book structure: one parameters cell, typed documented parameters, every
notebook in the table of contents, clear failure on a bad parameter, nothing half-written."""
import json
from pathlib import Path

import papermill as pm
import pytest
import yaml

from aux_core import book

NOTEBOOKS = book.notebooks()


def test_there_are_notebooks():
    assert NOTEBOOKS


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: str(p.relative_to(book.NOTEBOOKS)))
def test_one_parameters_cell_with_profile_smoke_and_help(nb):
    cells = json.loads(nb.read_text())["cells"]
    tagged = [c for c in cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1
    params = pm.inspect_notebook(str(nb))
    assert params["profile"]["default"] == '"smoke"'
    for name, p in params.items():
        assert p["help"], f"parameter {name} has no comment"
        assert p["inferred_type_name"] != "None", f"parameter {name} has no inferable type"


def _toc_files(entries):
    for entry in entries:
        yield entry["file"]
        yield from _toc_files(entry.get("sections", []))


def test_every_notebook_is_in_the_table_of_contents():
    toc = yaml.safe_load((book.BOOK / "_toc.yml").read_text())
    files = {f for part in toc["parts"] for f in _toc_files(part["chapters"])}
    for nb in NOTEBOOKS:
        assert "chapters/" + str(nb.relative_to(book.NOTEBOOKS).with_suffix("")) in files
    for f in files:
        target = book.BOOK / f
        assert target.with_suffix(".md").exists() or f.startswith("chapters/"), f


def test_bad_parameter_fails_at_once_and_leaves_no_chapter(tmp_path, monkeypatch):
    monkeypatch.setattr(book, "CHAPTERS", tmp_path)
    nb = book.NOTEBOOKS / "pipeline" / "plain_vs_ds.ipynb"
    with pytest.raises(pm.PapermillExecutionError, match="available|not one of"):
        book.execute(nb, "smoke", {"models": ["resnet9000"]})
    assert list(tmp_path.rglob("*.ipynb")) == []


def test_lion_dg_bad_dataset_fails_before_training(tmp_path, monkeypatch):
    monkeypatch.setattr(book, "CHAPTERS", tmp_path)
    nb = book.NOTEBOOKS / "lion_dg" / "table1.ipynb"
    with pytest.raises(pm.PapermillExecutionError, match="cifar100 must be 'auto' or one of"):
        book.execute(nb, "smoke", {"cifar100": "imagenet"})
    assert list(tmp_path.rglob("*.ipynb")) == []


@pytest.mark.parametrize("nb, params, match", [
    ("asymmetric/table1", {"archs": ["ResNet"]}, "unknown architecture 'ResNet'; the paper's are: MLP, CNN, ViT-6L"),
    ("asymmetric/table1", {"hparams": "grid"}, "hparams='grid' is not one of: table13, search"),
    ("asymmetric/noise", {"rates": [0.0, 1.0]}, "label_noise must be in \\[0, 1\\)"),
    ("asymmetric/landscape", {"loss": "bce"}, "loss 'bce' is not one of: main, total"),
    ("dks/main_table", {"backbones": ["ResNet-33"]}, "unknown DKS backbone 'ResNet-33'; available: ResNet-32, "),
    ("dks/noise", {"noise_rates": [0.0, 1.0]}, "label_noise must be in \\[0, 1\\)"),
    ("dks/ablation", {"cifar100": "imagenet"}, "cifar100 must be 'auto' or one of"),
    ("wamal/main_table", {"dataset": "MNIST"}, "unknown WAMAL dataset 'MNIST'; available: CIFAR-10, CIFAR-100-20, SVHN"),
    ("wamal/range", {"r_values": [-1.0]}, "r must be a number >= 0"),
    ("wamal/cost", {"seeds": 3}, "seeds must be a non-empty list of integers >= 0"),
    ("wamal/backbones", {"backbones": ["VGG19"]}, "unknown WAMAL backbone 'VGG19'; available: VGG16, ResNet18, ResNet50"),
])
def test_bad_chapter_parameters_fail_before_training(tmp_path, monkeypatch, nb, params, match):
    monkeypatch.setattr(book, "CHAPTERS", tmp_path)
    with pytest.raises(pm.PapermillExecutionError, match=match):
        book.execute(book.NOTEBOOKS / f"{nb}.ipynb", "smoke", params)
    assert list(tmp_path.rglob("*.ipynb")) == []


def test_unknown_profile_is_refused():
    with pytest.raises(SystemExit):
        book.main(["--profile", "huge", "--no-build"])


def test_chapter_timings_merge_per_notebook_with_provenance(tmp_path):
    path = book.record_timings("cpu", {"a/x.ipynb": 10.04, "b/y.ipynb": 5.0}, {"a/x.ipynb": 3, "b/y.ipynb": 0}, tmp_path)
    book.record_timings("cpu", {"a/x.ipynb": 2.0}, {"a/x.ipynb": 0}, tmp_path)  # re-executed from the cache
    record = json.loads(path.read_text())
    assert path.name.startswith("book-cpu-") and record["total_s"] == 7.0
    assert record["notebooks"]["a/x.ipynb"]["runs_trained"] == 0 and record["notebooks"]["b/y.ipynb"]["seconds"] == 5.0
    assert {"git_commit", "device", "measured_utc"} <= set(record["notebooks"]["b/y.ipynb"])


@pytest.mark.parametrize("seeds", [3, "012", [], [0, -1], [1, 1], [0.5]])
def test_a_bad_seeds_parameter_names_the_expected_form(seeds):
    from aux_core.profiles import get_profile
    with pytest.raises(ValueError, match=r"seeds must be (a non-empty list of|distinct) integers >= 0, e.g. \[0, 1, 2\]"):
        get_profile("cpu").seeds(seeds)
    assert get_profile("cpu").seeds([5, 6, 7, 8]) == [5, 6, 7] and get_profile("paper").seeds(range(4)) == [0, 1, 2, 3]
