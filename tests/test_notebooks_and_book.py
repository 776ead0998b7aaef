"""Notebook and book structure: one parameters cell, typed documented parameters, every
notebook in the table of contents, clear failure on a bad parameter, nothing half-written."""
import json

import numpy as np
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
    with pytest.raises(pm.PapermillExecutionError,
                       match="models=\\['resnet9000'\\] is not allowed: it must be a non-empty list, "
                             "each item one of: "):
        book.execute(nb, "smoke", {"models": ["resnet9000"]})
    assert list(tmp_path.rglob("*.ipynb")) == []


@pytest.mark.parametrize("nb, params, match", [
    ("lion_dg/table1", {"seed": 7, "threshold": -0.5},
     "unknown parameter\\(s\\) \\['seed'\\]; this notebook's parameters are: profile, seeds, "),
    ("lion_dg/table1", {"threshold": -0.5}, "threshold=-0.5 is not allowed: it must be a number in \\(0, 1\\]"),
    ("lion_dg/table1", {"seeds": "[7, 8]"},
     "parameter seeds must be a list, got '\\[7, 8\\]'; papermill's -p passes text, give a list as YAML: -y"),
    ("asymmetric/table1", {"archs": ["ResNet"]},
     "archs=\\['ResNet'\\] is not allowed: it must be a non-empty list, each item one of: MLP, CNN, ViT-6L"),
    ("dks/main_table", {"backbones": ["ResNet-33"]}, "each item one of: ResNet-32, ResNet-110, "),
    ("wamal/main_table", {"dataset": "MNIST"},
     "dataset='MNIST' is not allowed: it must be one of: CIFAR-10, CIFAR-100-20, SVHN"),
])
def test_bad_chapter_parameters_fail_before_training(tmp_path, monkeypatch, nb, params, match):
    """Unknown names (papermill only warns), wrong types and out-of-range values are refused by
    the notebook's first cell (aux_core.notebook.setup), before any training."""
    monkeypatch.setattr(book, "CHAPTERS", tmp_path)
    with pytest.raises(pm.PapermillExecutionError, match=match):
        book.execute(book.NOTEBOOKS / f"{nb}.ipynb", "smoke", params)
    assert list(tmp_path.rglob("*.ipynb")) == []


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: str(p.relative_to(book.NOTEBOOKS)))
def test_every_parameter_has_a_range_rule_and_setup_names_its_notebook(nb):
    """Each notebook calls aux_core.notebook.setup with its own chapter and name, and every
    declared parameter is checked by a shared rule or one the notebook passes."""
    from aux_core.notebook import RULES
    code = [c for c in json.loads(nb.read_text())["cells"] if c["cell_type"] == "code"]
    text = "".join("".join(c["source"]) for c in code)
    call = f'nb.setup(globals(), "{nb.parent.name}", "{nb.stem}"'
    assert call in text, f"{nb.name} does not call {call}"
    passed = text.split(call, 1)[1].split(")\n", 1)[0]
    for name in pm.inspect_notebook(str(nb)):
        assert name in RULES or f"{name}=" in passed, f"{nb.name}: parameter {name} has no range rule"


@pytest.mark.parametrize("name, value, match", [
    ("cifar100", "imagenet", "cifar100='imagenet' is not allowed: it must be one of: auto, cifar10, "),
    ("profile", "huge", "profile='huge' is not allowed: it must be one of: smoke, tiny, cpu, gpu, paper, published"),
    ("rates", [0.0, 1.0],
     r"rates=\[0.0, 1.0\] is not allowed: it must be a non-empty list, each item a number in \[0, 1\)"),
    ("noise_rates", [], r"noise_rates=\[\] is not allowed: it must be a non-empty list"),
    ("seeds", [1, 1], r"seeds=\[1, 1\] is not allowed: it must be a non-empty list of distinct integers >= 0"),
    ("grid", 1, "grid=1 is not allowed: it must be an integer >= 2"),
    ("tail", 0.0, r"tail=0.0 is not allowed: it must be a number in \(0, 1\]"),
    ("alpha_level", 1.5, r"alpha_level=1.5 is not allowed: it must be a number in \(0, 1\)"),
    ("r_values", [-1.0], r"r_values=\[-1.0\] is not allowed: it must be a non-empty list, each item a number >= 0"),
    ("check_seeds", 1, "check_seeds=1 is not allowed: it must be an integer >= 2"),
    ("adam_lrs", [0.0], r"adam_lrs=\[0.0\] is not allowed: it must be a non-empty list, each item a number > 0"),
    ("epochs", 2.5, "parameter epochs must be a int, got 2.5"),
])
def test_shared_rules_refuse_out_of_range_values(name, value, match):
    from aux_core import notebook
    typ = type(value) if not isinstance(value, float) or name != "epochs" else int
    with pytest.raises(notebook.ParameterError, match=match):
        notebook.check({"__annotations__": {name: typ}, name: value})


def test_parameter_checks_directly():
    from aux_core import notebook
    ns = {"__annotations__": {"threshold": float, "seeds": list, "flag": bool}, "threshold": 1, "seeds": [0],
          "flag": True, "np": np, "DATASETS": ("cifar10",), "In": ["", "# Parameters\nthreshold = 1\n"], "_": None}
    flag = notebook.anything()
    assert notebook.check(ns, flag=flag) == {"threshold": 1, "seeds": [0], "flag": True}   # an int is a float
    with pytest.raises(notebook.ParameterError, match=r"unknown parameter\(s\) \['tresh'\]"):
        notebook.check({**ns, "In": ["# Parameters\ntresh = 0.5\nthreshold = 1\n"], "tresh": 0.5}, flag=flag)
    with pytest.raises(notebook.ParameterError, match="flag must be a bool"):
        notebook.check({**ns, "flag": 1}, flag=flag)
    with pytest.raises(notebook.ParameterError, match="no range rule"):
        notebook.check({"__annotations__": {"mystery": int}, "mystery": 1})


def test_relative_data_and_results_folders_resolve_against_the_repository(monkeypatch, tmp_path):
    from aux_core import settings
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(settings.DATA_ENV, "data")
    monkeypatch.setenv(settings.STORE_ENV, "results/store")
    assert settings.data_dir() == settings.REPO_ROOT / "data"
    assert settings.store_dir() == settings.REPO_ROOT / "results" / "store"
    monkeypatch.setenv(settings.DATA_ENV, str(tmp_path))
    assert settings.data_dir() == tmp_path


def test_unknown_profile_is_refused():
    with pytest.raises(SystemExit):
        book.main(["--profile", "huge", "--no-build"])


def test_chapter_timings_merge_per_notebook_with_provenance(tmp_path):
    path = book.record_timings("cpu", {"a/x.ipynb": 10.04, "b/y.ipynb": 5.0}, {"a/x.ipynb": 3, "b/y.ipynb": 0},
                               tmp_path)
    book.record_timings("cpu", {"a/x.ipynb": 2.0}, {"a/x.ipynb": 0}, tmp_path)  # re-executed from the cache
    record = json.loads(path.read_text())
    assert path.name.startswith("book-cpu-") and record["total_s"] == 7.0
    assert record["notebooks"]["a/x.ipynb"]["runs_trained"] == 0 and record["notebooks"]["b/y.ipynb"]["seconds"] == 5.0
    assert {"git_commit", "device", "measured_utc"} <= set(record["notebooks"]["b/y.ipynb"])


@pytest.mark.parametrize("seeds", [3, "012", [], [0, -1], [1, 1], [0.5]])
def test_a_bad_seeds_parameter_names_the_expected_form(seeds):
    from aux_core.profiles import get_profile
    with pytest.raises(ValueError,
                       match=r"seeds must be (a non-empty list of|distinct) integers >= 0, e.g. \[0, 1, 2\]"):
        get_profile("cpu").seeds(seeds)
    assert get_profile("cpu").seeds([5, 6, 7, 8]) == [5, 6, 7] and get_profile("paper").seeds(range(4)) == [0, 1, 2, 3]


def test_a_profile_budgets_training_images_and_chapters_size_their_own():
    from aux_core.profiles import PROFILES, get_profile
    cpu = get_profile("cpu")
    assert cpu.epochs(200, model="mlp6", n_train=50_000) == 8 and cpu.epochs(200, model="cnn6", n_train=50_000) == 1
    assert cpu.epochs(200, model="vit6", n_train=1_000) == 80 and cpu.epochs(3, model="vit6", n_train=10) == 3
    assert get_profile("tiny").epochs(200, model="mlp6", n_train=50_000) == 3   # no image budget: the epoch cap
    wamal = get_profile("cpu", "wamal")   # VGG16 meta-learning at cpu keeps tiny's sizes
    assert (wamal.train_per_class, wamal.max_epochs, wamal.max_images) == (100, 3, None)
    assert get_profile("cpu", "lion_dg") == cpu and get_profile("paper", "wamal") == PROFILES["paper"]
    dks = get_profile("cpu", "dks")       # a ResNet-32 two epochs, with the milestones at the paper's fractions
    assert dks.epochs(200, model="resnet32", n_train=50_000) == 2 and dks.epochs(200, model="cnn6", n_train=50_000) == 1
    assert get_profile("cpu", "asymmetric").sized("branches", (1, 7, 10, 20)) == (1, 20)
    assert get_profile("cpu", "asymmetric").sized("branches", (7,)) == (7,)   # none kept: the first asked for


PAPER_DEFAULTS = {"seeds": "PAPER_SEEDS", "epochs": "PAPER_EPOCHS", "steps": "PAPER_STEPS", "alpha": "ALPHA",
                  "threshold": "THRESHOLD", "r_values": "R_GRID", "adam_lrs": "ADAM_LRS",
                  "search_epochs": "SEARCH_EPOCHS"}


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_a_parameter_the_paper_fixes_defaults_to_its_one_home_in_the_chapter_module(nb):
    """The parameters cell must hold literals (papermill), so the paper's value lives in the
    chapter module and each notebook's default is checked against it."""
    import ast
    import importlib
    try:
        mod = importlib.import_module(f"aux_core.experiments.{nb.parent.name}")
    except ImportError:
        pytest.skip(f"no chapter module for {nb.parent.name}")
    cell = next(c for c in json.loads(nb.read_text())["cells"] if "parameters" in c["metadata"].get("tags", []))
    for node in ast.parse("".join(cell["source"])).body:
        name = node.target.id if isinstance(node, ast.AnnAssign) else None
        if name in PAPER_DEFAULTS and hasattr(mod, PAPER_DEFAULTS[name]):
            home = getattr(mod, PAPER_DEFAULTS[name])
            value = ast.literal_eval(node.value)
            assert (list(value) == list(home)) if isinstance(home, (list, tuple)) else value == home, \
                f"{nb.name}: {name} = {value!r} but {mod.__name__}.{PAPER_DEFAULTS[name]} = {home!r}"
