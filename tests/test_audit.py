"""The statistics audit (aux_core.audit): each check on hand-worked examples with known answers,
the known cases of the four papers, the generated sentences and the link to the claims page."""
import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aux_core import audit
from aux_core import reference as ref
from aux_core.audit import recompute as ck
from aux_core.experiments import chapters, claims

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def rows():
    return audit.checks()


def _row(rows, paper, item):
    hit = rows[(rows["paper"] == paper) & (rows["item"] == item)]
    assert len(hit) == 1, (item, list(rows[rows["paper"] == paper]["item"]))
    return hit.iloc[0]


# ----------------------------------------------------------------------------- primitives

def test_printed_numbers_keep_their_precision_and_bounds():
    assert ck.printed("0.20").unit == pytest.approx(0.01) and ck.printed("1225").unit == 1
    assert ck.printed("0.00012").unit == pytest.approx(1e-5)
    zero = ck.printed("0.0", "printed as 0.0000")
    assert (zero.unit, zero.text) == (pytest.approx(1e-4), "0.0000")
    assert ck.printed("0.0001", "an upper bound, not a value").bound == "<"


def test_the_rounding_rule():
    p = ck.printed("0.0016")
    assert ck.rounds_to(0.00164, p) and ck.rounds_to(0.00155, p) and not ck.rounds_to(0.00166, p)
    assert ck.rounds_to(9e-6, ck.printed("0.0001", "upper bound")) and not ck.rounds_to(2e-4, ck.printed("0.0001",
                                                                                                         "upper bound"))
    assert ck.rounds_to(0.7, ck.printed("0.5", "a lower bound")) and not ck.rounds_to(0.4, ck.printed("0.5",
                                                                                                    "lower bound"))
    status, _ = ck.verdict(4.74, 4.30, 5.18, ck.printed("4.9"))      # face value off, rounded inputs reach it
    assert status == "consistent"
    assert ck.verdict(2.96, 2.95, 2.97, ck.printed("2.8"))[0] == "inconsistent"


def test_population_and_sample_sd_of_lion_dg_table6_he_seeds():
    seeds = [ref.value("lion_dg", "Table 6", s, "He-init") for s in ("seed=42", "seed=123", "seed=456")]
    sd0, sd1 = ck.sds(seeds)
    assert round(sd0, 2) == 1.03 and round(sd1, 2) == 1.26


def test_welch_from_summaries_gives_wamal_table7():
    ps = [ck.welch_p(0.7378, 0.0028, 0.7726, 0.0005, 3, 3), ck.welch_p(0.7726, 0.0005, 0.8022, 0.0023, 3, 3),
          ck.welch_p(0.7378, 0.0028, 0.8022, 0.0023, 3, 3)]
    assert ps[0] == pytest.approx(0.00164, abs=5e-6) and ps[1] == pytest.approx(0.00134, abs=5e-6)
    assert ps[2] == pytest.approx(9.35e-6, rel=0.01)
    p, df, (lo, hi) = ck.welch(0.7378, 0.0028, 0.7726, 0.0005, 3, 3)
    assert p == pytest.approx(ps[0]) and 2 < df < 3 and lo < -0.0348 < hi


def test_a_d_of_142_at_3_seeds_an_arm_gives_p_near_02():
    from aux_core import stats
    p = stats.p_from_cohens_d(1.42, 3, 3)
    assert 0.15 < p < 0.25
    d = ck.summary_sample(1.42, 1.0, 3), ck.summary_sample(0.0, 1.0, 3)
    assert ck.welch_p(1.42, 1.0, 0.0, 1.0, 3, 3) == pytest.approx(p)      # equal SDs and n: Welch's t is Student's
    assert ck.cohens_d(1.42, 1.0, 0.0, 1.0) == pytest.approx(1.42) and np.std(d[0], ddof=1) == pytest.approx(1.0)


def test_paired_p_range_covers_every_correlation():
    lo, hi = ck.paired_p_range(ck.printed("0.359"), ck.printed("0.005"), ck.printed("0.358"), ck.printed("0.010"), 10)
    assert lo < 0.7773 < hi          # the asymmetric paper's ViT 1x p is possible for a paired test
    lo, hi = ck.paired_p_range(ck.printed("0.3223"), ck.printed("0.0179"), ck.printed("0.2800"),
                               ck.printed("0.0062"), 10)
    assert hi < 0.0011               # its Table 9 samples=200 p is not, at any correlation


def test_grim_on_three_values_of_a_ten_item_scale():
    # each value is a count out of 10 items (steps of 0.1): a mean of 3 moves in steps of 1/30
    assert not ck.grim(ck.printed("0.52"), 3, 0.1).possible          # 15/30 = 0.50, 16/30 = 0.533: neither is 0.52
    g = ck.grim(ck.printed("0.53"), 3, 0.1)
    assert g.possible and g.informative
    assert not ck.grim(ck.printed("0.52"), 3, 0.001).informative     # a 1000-item scale: every 2-decimal mean exists


def _brute_sds(n, total, top=12):
    return {round(float(np.std(x, ddof=1)), 2) for x in itertools.product(range(top + 1), repeat=n) if sum(x) == total}


def test_grimmer_on_known_impossible_sds():
    mean = ck.printed("2.00")                       # three integers summing to 6
    possible = _brute_sds(3, 6)
    for sd, expected in (("1.50", False), ("1.58", False), ("2.00", True), ("1.00", True)):
        assert (float(sd) in possible) is expected
        assert ck.grimmer(mean, ck.printed(sd), 3, 1).possible is expected, sd
    # 1.58 fails on parity alone: Q = 17 would fit the SD, but a sum of squares has the parity of the sum (6)


def test_minimal_detectable_effect_matches_cohens_power_table():
    assert ck.mde(64, 64) == pytest.approx(0.50, abs=0.005)         # Cohen (1988): 64 a group for d = 0.5
    assert ck.power(0.5, 64, 64) == pytest.approx(0.80, abs=0.005)
    assert ck.mde(3, 3) == pytest.approx(3.07, abs=0.01) and ck.power(30.0, 3, 3) == pytest.approx(1.0)
    assert ck.mde(10) < ck.mde(5, 5) < ck.mde(3, 3)


# ----------------------------------------------------------------------------- the papers

def test_every_row_has_the_schema_and_a_status(rows):
    assert list(rows.columns) == list(ck.COLUMNS)
    assert set(rows["status"]) <= set(ck.STATUSES) and set(rows["paper"]) == set(ref.PAPERS)
    assert rows["source"].str.match(r"^[\w.-]+\.(txt|md):\d+").all() and (rows["reason"] != "").all()


def test_lion_dg_table1_sds_are_population_sds(rows):
    r = _row(rows, "lion_dg", "He-init SD (CIFAR-10 DenseNet-DS)")
    assert r["status"] == "inconsistent" and "ddof 0) 1.03" in r["reason"] and "1.26" in r["reason"]
    assert _row(rows, "lion_dg", "He-init mean (CIFAR-10 DenseNet-DS)")["status"] == "consistent"


def test_lion_dg_p_cannot_come_from_its_d(rows):
    r = _row(rows, "lion_dg", "p = 0.0076 with d = 1.42 at 3 seeds an arm")
    assert r["status"] == "inconsistent" and r["recomputed"].startswith("0.157")
    assert _row(rows, "lion_dg", "Hybrid sigma = 0.66 is the lowest")["status"] == "inconsistent"
    p = audit.power("lion_dg").iloc[0]
    assert not p["detectable"] and p["mde_d"] == pytest.approx(3.07, abs=0.01)


def test_asymmetric_appendix_e_against_table1(rows):
    r = _row(rows, "asymmetric", "all main results have p < 0.001")
    assert r["status"] == "inconsistent" and "0.7773" in r["reason"] and "N=1|ViT-6L" in r["reason"]
    assert _row(rows, "asymmetric", "all main results have large effect sizes (d >= 0.8)")["status"] == "inconsistent"


def test_asymmetric_plain_model_differs_across_n(rows):
    r = _row(rows, "asymmetric", "plain MLP across N")
    assert r["status"] == "inconsistent"
    assert r["reported"] == "0.232 (N=1), 0.234 (N=7), 0.233 (N=10), 0.232 (N=20)"


def test_wamal_table7_follows_from_table6(rows):
    for item in ("Single Task vs MAXL p (CIFAR-100-20)", "MAXL vs WAMAL p (CIFAR-100-20)",
                 "Single Task vs WAMAL p (CIFAR-100-20)"):
        assert _row(rows, "wamal", item)["status"] == "consistent", item
    assert _row(rows, "wamal", "Single Task vs MAXL p (CIFAR-100-20)")["recomputed"] == "0.00164"
    r = _row(rows, "wamal", "abstract: +2.8 pp over MAXL (CIFAR-100-20)")
    assert r["status"] == "inconsistent" and r["recomputed"] == "2.96"


def test_grim_is_reported_uninformative_where_granularity_is_fine(rows):
    grim = rows[rows["check"] == "GRIM"]
    assert len(grim) and (grim["status"] == "not checkable").all()
    assert grim["reason"].str.startswith("uninformative").all()


def test_tally_counts_each_status_per_paper(rows):
    t = audit.tally(rows)
    assert list(t.columns) == [*ck.STATUSES, "items"] and list(t.index) == [*audit.PAPERS.values(), "all"]
    assert t.loc["all", "items"] == len(rows) and t.loc["DKS", "inconsistent"] == 0


# ----------------------------------------------------------------------------- sentences and links

def test_the_findings_change_with_the_results(rows):
    power = audit.power()
    a = audit.findings(rows, power)
    changed = rows.copy()
    changed.loc[changed["item"] == "plain MLP across N", "status"] = "consistent"
    b = audit.findings(changed, power)
    assert a != b and "plain MLP across N" in a[1] and "plain MLP across N" not in b[1]
    assert a[0].startswith(f"The audit recomputed {len(rows)} reported numbers of the 4 papers")
    c = audit.findings(rows, power.assign(detectable=True))
    assert "below it" in a[-1] and "below it" not in c[-1]
    assert audit.findings(rows.iloc[:0], power) == ["The audit has no items to report."]


def test_flagged_maps_a_table_and_row_to_its_items(rows):
    assert set(audit.flagged("lion_dg", "Table 8", frame=rows)["row"]) == {"LION-DG speedup",
                                                                          "Hybrid best consistency"}
    assert len(audit.flagged("lion_dg", "Table 8", "LION-DG speedup", frame=rows)) == 1
    assert audit.flagged("dks", "Main Table 1", frame=rows).empty
    assert "Table 8: p = 0.0076" in audit.for_keys("lion_dg", [("Table 8", "LION-DG speedup")], rows)
    with pytest.raises(ValueError, match="no row 'LION-DG'"):      # rows match whole, not by prefix
        audit.for_keys("lion_dg", [("Table 8", "LION-DG")], rows)
    # Table 1's CIFAR-10 DenseNet-DS rows print population SDs; their speed-ups are not flagged,
    # so a claim on the speed-up alone (the item words) is not linked to the SD's flag
    both = audit.for_keys("lion_dg", [("Table 1", "DenseNet-DS|LION-DG")], rows)
    assert both == "Table 1: LION-DG SD (CIFAR-10 DenseNet-DS)"
    assert audit.for_keys("lion_dg", [("Table 1", "DenseNet-DS|LION-DG", "speed-up")], rows) == ""
    two = [("Table 7", "std", "Fixup"), ("Table 7", "std", "Fixup"), ("Table 7", "std", "ReZero")]
    assert audit.for_keys("lion_dg", two, rows).split("; ") == ["Table 7: Fixup std of steps",
                                                                "Table 7: ReZero std of steps"]   # each once


def test_the_claims_page_carries_the_audit_flags(rows):
    frame = pd.DataFrame([{"study": "LION-DG", "claim": "significant", "rests_on": (("Table 8", "LION-DG speedup"),)},
                          {"study": "LION-DG", "claim": "best", "rests_on": (("Table 8", "LION-DG speedup", "d ="),)},
                          {"study": "DKS", "claim": "lower error", "rests_on": (("Main Table 1", "ResNet-32"),)},
                          {"study": claims.GPU_ROWS, "claim": "x", "rests_on": (("Abstract", "WAMAL vs MAXL"),)},
                          {"study": "WAMAL", "claim": "y", "rests_on": ()}])
    out = claims.audited(frame, rows)
    assert "Table 8: p = 0.0076" in out.loc[0, "audit"] and out.loc[1, "audit"] == out.loc[0, "audit"]
    assert out.loc[2, "audit"] == "" and out.loc[4, "audit"] == ""
    assert out.loc[3, "audit"] == "abstract: +2.8 pp over MAXL (CIFAR-100-20)"   # the H100 rows are WAMAL's
    full = pd.DataFrame([{**{c: "" for c in ("study", *claims.ledger.COLUMNS)}, "study": "LION-DG", "claim": "c",
                          "source": "Table 8", "estimate": 1.0, "lo": 0.0, "hi": 2.0, "p": 0.01, "p_holm": 0.02,
                          "paper": 1.0, "rests_on": (("Table 8", "LION-DG speedup"),)}])
    assert "Table 8" in claims.shown(claims.audited(full, rows))["audit"].iloc[0]


def test_the_audit_is_a_chapter_that_trains_nothing():
    from aux_core.experiments import audit as chapter
    assert "audit" in chapters.CHAPTERS and chapter.chapter_grids("paper") == {}
    pages = {p.stem for p in (REPO / "notebooks" / "audit").glob("*.ipynb")}
    assert pages == set(chapter.NOTEBOOK_GRIDS) == {*ref.PAPERS, "summary"}
    assert chapters.published_profile("audit", "summary") == "smoke"



def test_a_key_that_names_no_row_of_the_paper_is_refused(rows):
    """A key with a typo would silently never flag, so it fails at once, naming the paper's tables."""
    with pytest.raises(ValueError, match="no row 'LION-DG speed-up' in Table 8 of lion_dg"):
        audit.for_keys("lion_dg", [("Table 8", "LION-DG speed-up")], rows)
    with pytest.raises(ValueError, match="Table 99"):
        audit.for_keys("lion_dg", [("Table 99", "x")], rows)
