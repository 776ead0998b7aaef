"""The book builds from the results store and trains nothing: a notebook whose results are
stored runs with training switched off; one whose results are missing fails, is reported, and
gets a page that says so."""
import shutil

import papermill as pm
import pytest

from aux_core import book, settings
from conftest import needs_cifar10


@pytest.fixture
def private(tmp_path, monkeypatch):
    monkeypatch.setenv(settings.STORE_ENV, str(tmp_path / "store"))
    monkeypatch.setenv(settings.RESULTS_ENV, str(tmp_path / "results"))
    for name in (settings.NO_TRAINING_ENV, settings.PUBLISH_ENV, settings.LABELS_ENV):
        monkeypatch.setenv(name, "0" if name != settings.LABELS_ENV else "")
    monkeypatch.setattr(book, "CHAPTERS", tmp_path / "chapters")
    return tmp_path


@needs_cifar10
def test_the_driver_builds_a_page_from_the_store_and_reports_a_missing_one(private, monkeypatch, capsys):
    from aux_core.experiments import performance
    monkeypatch.setenv(settings.PUBLISH_ENV, "1")
    monkeypatch.setenv(settings.LABELS_ENV, "performance/smoke")
    performance.engine_check(2)                       # the page's one computed result, published
    monkeypatch.setenv(settings.PUBLISH_ENV, "0")
    shutil.rmtree(private / "results")                # only the store can serve it now
    assert book.main(["--only", "performance/speed", "--no-build"]) == 0
    page = (private / "chapters/performance/speed.ipynb").read_text()
    assert "max rel. difference" in page and "could not be built" not in page

    shutil.rmtree(private / "store")
    assert book.main(["--only", "performance/speed", "--no-build"]) == 1
    assert "FAILED performance/speed.ipynb" in capsys.readouterr().err
    page = (private / "chapters/performance/speed.ipynb").read_text()
    assert "could not be built from the results store" in page


@needs_cifar10
def test_a_notebook_refuses_to_train_where_training_is_switched_off(private, monkeypatch):
    from aux_core.experiments import pipeline
    from aux_core.runner import run_all
    nb, params = book.NOTEBOOKS / "pipeline/plain_vs_ds.ipynb", {"models": ["mlp6"]}
    monkeypatch.setenv(settings.NO_TRAINING_ENV, "1")
    with pytest.raises(pm.PapermillExecutionError, match="TrainingRefused"):
        book.execute(nb, "smoke", params)
    assert not (private / "results").exists() or not list((private / "results").rglob("*.json"))
    monkeypatch.setenv(settings.NO_TRAINING_ENV, "0")
    monkeypatch.setenv(settings.PUBLISH_ENV, "1")
    run_all(list(pipeline.grid("smoke", models=("mlp6",))["config"]), progress=False)
    shutil.rmtree(private / "results")
    monkeypatch.setenv(settings.PUBLISH_ENV, "0")
    monkeypatch.setenv(settings.NO_TRAINING_ENV, "1")
    book.execute(nb, "smoke", params)                 # every run from the store: nothing trains
    assert "4 from stored records" in (private / "chapters/pipeline/plain_vs_ds.ipynb").read_text()
