"""The papers' reference numbers (aux_core/reference): file format, API and a few known values."""
import csv
import math
import re
from importlib import resources
from pathlib import Path

import pandas as pd
import pytest

from aux_core import reference as ref

COLUMNS = ["table", "dataset", "row", "column", "value", "std", "unit", "source", "note"]
UNITS = {
    "fraction", "percent", "percent_points", "percent_relative", "steps", "epoch", "p", "params", "M_params",
    "cosine", "ratio", "coefficient", "count", "samples", "seconds", "loss", "grad_norm", "score", "channels",
    "blocks", "stride", "pixels",
}
SOURCE_FILES = {
    "asymmetric": {"asymmetric-training-heterogeneous-losses.txt"},
    "lion_dg": {"lion-dg-tables.txt", "lion-dg-with-math.txt"},
    "wamal": {"wamal-weight-aware-meta-auxiliary-learning.txt"},
    "dks": {"dks-deeply-supervised-knowledge-synergy-supplement.txt", "dks-branch-designs.md"},
}
SOURCE_RE = re.compile(r"^[\w.-]+\.(txt|md):\d+$")
SHARED = Path(__file__).resolve().parents[2] / "shared"


def _raw(paper):
    text = resources.files("aux_core.reference").joinpath(f"{paper}.csv").read_text(encoding="utf-8")
    return list(csv.reader(text.splitlines()))


@pytest.mark.parametrize("paper", ref.PAPERS)
def test_csv_format(paper):
    rows = _raw(paper)
    assert rows[0] == COLUMNS
    body = rows[1:]
    assert len(body) > 20
    keys = set()
    for r in body:
        assert len(r) == len(COLUMNS), r
        d = dict(zip(COLUMNS, r))
        assert d["table"] and d["source"] and d["unit"] and d["row"] and d["column"], r
        assert d["unit"] in UNITS, r
        assert math.isfinite(float(d["value"])), r
        if d["std"]:
            assert float(d["std"]) >= 0, r
        for field in ("table", "dataset", "row", "column", "unit"):
            assert d[field] == d[field].strip(), r
        for part in d["source"].split("; "):
            assert SOURCE_RE.match(part), r
            assert part.split(":")[0] in SOURCE_FILES[paper], r
        key = (paper, d["table"], d["dataset"], d["row"], d["column"])
        assert key not in keys, f"duplicate {key}"
        keys.add(key)


@pytest.mark.parametrize("paper", ref.PAPERS)
def test_cited_lines_exist(paper):
    if not SHARED.is_dir():
        pytest.skip("the papers' extractions are not next to this checkout")
    lengths = {}
    for part in set("; ".join(ref.load(paper)["source"]).split("; ")):
        name, line = part.split(":")
        if name not in lengths:
            folder = "notes" if name.endswith(".md") else "papers"
            lengths[name] = len((SHARED / folder / name).read_text(encoding="utf-8").splitlines())
        assert 1 <= int(line) <= lengths[name], part


@pytest.mark.parametrize("paper", ref.PAPERS)
def test_load(paper):
    df = ref.load(paper)
    assert list(df.columns) == ["paper"] + COLUMNS
    assert (df["paper"] == paper).all()
    assert df["value"].dtype == float and df["std"].dtype == float
    assert df["value"].notna().all()
    assert not df.duplicated(["paper", "table", "dataset", "row", "column"]).any()
    first = df["value"].iloc[0]
    df.loc[0, "value"] = first + 1.0  # load() returns a copy: the cached data stays as it was
    assert ref.load(paper)["value"].iloc[0] == first


def test_unknown_paper_and_table():
    with pytest.raises(ValueError, match="asymmetric, lion_dg, wamal, dks"):
        ref.load("maxl")
    with pytest.raises(ValueError, match="Table 1, Table 2"):
        ref.table("lion_dg", "Table 99")
    with pytest.raises(ValueError, match="CIFAR-10"):
        ref.table("lion_dg", "Table 1", dataset="ImageNet")
    with pytest.raises(ValueError, match="lion_dg"):
        ref.value("LION-DG", "Table 1", "x", "y")


def test_value_errors():
    with pytest.raises(KeyError, match="N=20\\|ViT-6L"):
        ref.value("asymmetric", "Table 1", "N=20|ViT", "asymmetric")
    with pytest.raises(ValueError, match="dataset"):  # DenseNet-DS appears for CIFAR-10 and CIFAR-100
        ref.value("lion_dg", "Table 2", "DenseNet-DS", "He-init_acc")
    with pytest.raises(KeyError):  # printed as '—': not recorded
        ref.value("lion_dg", "Table 1", "DenseNet-DS|He-init", "speedup_pct", dataset="CIFAR-10")


@pytest.mark.parametrize("paper,tab,row,col,ds,val", [
    ("asymmetric", "Table 1", "N=20|ViT-6L", "asymmetric", "CIFAR-100", 0.453),
    ("asymmetric", "Table 1", "N=1|CNN", "improvement_pct", None, -22.0),
    ("asymmetric", "Table 1", "N=10|CNN", "alpha", None, 1.0),
    ("asymmetric", "Table 2", "ViT-6L", "avg_sim", None, 0.1870),
    ("asymmetric", "Table 12", "noise=90%|MLP", "plain", None, 0.0360),
    ("asymmetric", "Table 8", "samples=20|MLP", "p_value", None, 0.2965),
    ("asymmetric", "Section 4.4.3", "N=20|ViT-6L", "object_coverage_asymmetric", None, 93.7),
    ("lion_dg", "Table 6", "seed=123", "He-init", None, 82.17),
    ("lion_dg", "Table 7", "mean", "ReZero", None, 1203),
    ("lion_dg", "Table 1", "ResNet-DS|LION-DG", "speedup_pct", "CIFAR-100", 11.3),
    ("lion_dg", "Table 3", "Dense Block 2", "channels", None, 84),
    ("lion_dg", "Table 4", "max_steps", "value", None, 3000),
    ("lion_dg", "Table 4", "learning_rate", "value", None, 0.001),
    ("wamal", "Table 1", "VGG16", "WAMAL", "CIFAR-100-20", 0.8022),
    ("wamal", "Table 6", "Human", "accuracy", None, 0.7464),
    ("wamal", "Table 9", "Single Task vs WAMAL", "p", None, 1.2e-5),
    ("wamal", "Table 12", "ResNet18", "ResNet50", None, 0.908),
    ("wamal", "Table 13", "r=5", "accuracy", None, 81.60),
    ("dks", "Main Table 1", "WRN-28-10", "DKS", None, 17.24),
    ("dks", "Supp. Table 1", "ResNet-1202|C4|conv1", "channels", None, 128),
    ("dks", "Supp. Table 2", "ResNet-32|C2|conv4_x", "channels", None, 128),
    ("dks", "Supp. Table 3", "WRN-28-10|C2|conv4_x", "channels", None, 1280),
    ("dks", "Supp. Table 4", "DenseNet-40-12|C3|conv4_x", "blocks", None, 6),
])
def test_known_values(paper, tab, row, col, ds, val):
    assert ref.value(paper, tab, row, col, dataset=ds) == pytest.approx(val, rel=1e-12)


def test_std_and_notes():
    t1 = ref.table("asymmetric", "Table 1", dataset="CIFAR-100")
    hit = t1[(t1["row"] == "N=20|ViT-6L") & (t1["column"] == "asymmetric")].iloc[0]
    assert hit["std"] == pytest.approx(0.013)
    p0 = t1[(t1["row"] == "N=20|ViT-6L") & (t1["column"] == "p_value")].iloc[0]
    assert p0["value"] == 0.0 and "printed as 0.0000" in p0["note"]
    t12 = ref.table("asymmetric", "Table 12")
    assert t12["note"].str.contains("Table 11").all()
    mt = ref.table("dks", "Main Table 1")
    assert mt[mt["row"] == "ResNet-32"]["note"].str.contains("not verified").all()
    assert mt[mt["row"] == "WRN-28-10"]["note"].str.contains("verified from the authors").all()


def test_table_filters():
    t = ref.table("lion_dg", "Table 1", dataset="CIFAR-100")
    assert set(t["dataset"]) == {"CIFAR-100"} and len(t) > 0
    assert set(ref.table("lion_dg", "Table 1")["dataset"]) == {"CIFAR-10", "CIFAR-100"}
    assert ref.tables("asymmetric")[:3] == ["Table 1", "Table 2", "Table 3"]
    assert {f"Table {i}" for i in range(1, 18)} <= set(ref.tables("asymmetric"))
    assert {f"Table {i}" for i in range(1, 9)} <= set(ref.tables("lion_dg"))


def test_wide():
    w = ref.wide("asymmetric", "Table 1")
    assert list(w.index[:3]) == ["N=1|MLP", "N=1|CNN", "N=1|ViT-6L"]
    assert list(w.columns) == ["plain", "plain_std", "asymmetric", "asymmetric_std", "alpha", "improvement_pct",
                               "p_value"]
    assert w.loc["N=20|ViT-6L", "asymmetric"] == pytest.approx(0.453)
    assert w.loc["N=20|ViT-6L", "asymmetric_std"] == pytest.approx(0.013)
    w6 = ref.wide("lion_dg", "Table 6")
    assert w6.shape == (4, 4) and "He-init_std" not in w6.columns
    assert w6.loc["mean"].tolist() == pytest.approx([81.11, 80.59, 80.91, 81.92])
    w1 = ref.wide("lion_dg", "Table 1")  # two datasets -> (dataset, row) index
    assert w1.index.names == ["dataset", "row"]
    assert w1.loc[("CIFAR-10", "DenseNet-DS|Hybrid"), "val_acc"] == pytest.approx(81.92)
    assert math.isnan(w1.loc[("CIFAR-10", "DenseNet-DS|He-init"), "speedup_pct"])
    w17 = ref.wide("asymmetric", "Table 17")
    assert list(w17.columns[:2]) == ["plain", "plain_std"]
    for paper in ref.PAPERS:  # every table pivots without collisions
        for tab in ref.tables(paper):
            assert isinstance(ref.wide(paper, tab), pd.DataFrame)


def test_internal_consistency():
    """Cross-checks that catch transcription slips: table means, repeated tables, relative changes."""
    w6 = ref.wide("lion_dg", "Table 6")
    for m in w6.columns:
        assert w6.loc[["seed=42", "seed=123", "seed=456"], m].mean() == pytest.approx(w6.loc["mean", m], abs=0.006)
    t2, t15 = ref.wide("asymmetric", "Table 2"), ref.wide("asymmetric", "Table 15")
    pd.testing.assert_frame_equal(t2, t15)
    a1, a13 = ref.wide("asymmetric", "Table 1"), ref.wide("asymmetric", "Table 13")
    assert (a1["alpha"] == a13["alpha"]).all()
    for tab in ("Table 1", "Table 7", "Table 9", "Table 10", "Table 11", "Table 12", "Table 16"):
        w = ref.wide("asymmetric", tab)
        calc = 100 * (w["asymmetric"] / w["plain"] - 1)
        assert (calc - w["improvement_pct"]).abs().max() < 0.6, tab
    w = ref.wide("wamal", "Table 1", dataset="CIFAR-100-20")
    assert w.loc["VGG16", "WAMAL"] == ref.value("wamal", "Table 6", "WAMAL", "accuracy")
