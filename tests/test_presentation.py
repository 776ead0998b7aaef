"""The one side-by-side table builder and its number formats, on hand-made frames."""
import numpy as np
import pandas as pd

from aux_core.experiments.presentation import Shown, interval_text, mean_std_text, number_text, p_text, side_by_side


def test_number_formats():
    assert mean_std_text(0.5, 0.25, 2) == "0.50 ± 0.25" and mean_std_text(0.5, np.nan, 1) == "0.5"
    assert mean_std_text(np.nan, 1.0) == "—" and mean_std_text(None, 1.0) == "—"
    assert interval_text(1.0, -0.5, 2.5, 1) == "+1.0 [-0.5, +2.5]" and interval_text(1.0, np.nan, np.nan, 1) == "+1.0"
    assert number_text(3.14159, 3) == "3.142" and number_text(2, 1, signed=True) == "+2.0"
    assert p_text(0.01234) == "0.0123" and p_text(3e-6) == "< 0.0001" and p_text(np.nan) == "—"


def test_side_by_side_joins_the_papers_rows_and_marks_the_missing():
    ours = pd.DataFrame({"arch": ["CNN", "MLP"], "mean": [0.5, 0.6], "std": [0.01, 0.02],
                         "estimate": [1.5, -0.2], "lo": [0.5, -1.0], "hi": [2.5, 0.6], "p": [0.01, 0.6],
                         "seeds": [3, 3]})
    paper = pd.DataFrame({"acc": [0.55], "acc_std": [0.005], "gain": [2.0]}, index=["N=1|CNN"])
    t = side_by_side(ours, paper, ["arch"],
                     [Shown("acc (%)", ("mean", "std"), ("acc", "acc_std"), 1, scale=100),
                      Shown("gain", ("estimate", "lo", "hi"), "gain", 1, signed=True), Shown("p", "p", p=True)],
                     paper_key=lambda r: f"N=1|{r['arch']}", keep=("seeds",))
    assert list(t.columns) == ["paper acc (%)", "ours acc (%)", "paper gain", "ours gain", "ours p", "seeds"]
    assert t.loc["CNN", "paper acc (%)"] == "55.0 ± 0.5" and t.loc["CNN", "ours acc (%)"] == "50.0 ± 1.0"
    assert t.loc["CNN", "ours gain"] == "+1.5 [+0.5, +2.5]" and t.loc["CNN", "paper gain"] == "+2.0"
    assert t.loc["MLP", "paper acc (%)"] == "—" and t.loc["MLP", "ours p"] == "0.6000" and t.loc["MLP", "seeds"] == 3


def test_side_by_side_reads_joined_paper_columns_without_a_paper_frame():
    ours = pd.DataFrame({"m": ["a"], "x": [1.0], "paper": [2.0]})
    t = side_by_side(ours, None, ["m"], [Shown("x", "x", "paper", 0)])
    assert t.loc["a"].tolist() == ["2", "1"]
