"""The claims summary across the four papers: the stacked ledgers, the tally and the sentences
generated from them (other verdicts give other text)."""
import pandas as pd

from aux_core import ledger
from aux_core.experiments import chapters, claims


def _frame(verdicts: dict[str, list[str]]) -> pd.DataFrame:
    rows = []
    for study, vs in verdicts.items():
        for i, v in enumerate(vs):
            rows.append({"study": study, "claim": f"{study} claim {i}", "source": "Table 1", "kind": "difference",
                         "paper": 1.0, "estimate": 0.5, "lo": 0.1, "hi": 0.9, "n": 3, "p": 0.01, "p_holm": 0.02,
                         "verdict": v, "reason": "too few seeds: 1 seed in an arm" if v == "not decidable" else "",
                         "profile": "tiny", "data": "cifar10"})
    return pd.DataFrame(rows, columns=["study", *ledger.COLUMNS])


def test_the_tally_counts_each_verdict_per_study_and_in_all():
    f = _frame({"LION-DG": ["reproduced", "contradicted", "inconclusive"], "DKS": ["inconclusive", "not decidable"]})
    t = claims.tally(f)
    assert list(t.columns[:len(ledger.VERDICTS)]) == list(ledger.VERDICTS)
    assert list(t.index) == ["LION-DG", "DKS", "all"]
    assert t.loc["all", "inconclusive"] == 2 and t.loc["LION-DG", "claims"] == 3 and t.loc["all", "claims"] == 5
    assert t.loc["DKS", "profile"] == "tiny"


def test_the_findings_are_generated_from_the_verdicts():
    a = claims.findings(_frame({"LION-DG": ["reproduced", "contradicted"], "DKS": ["inconclusive"]}))
    b = claims.findings(_frame({"LION-DG": ["inconclusive", "inconclusive"], "DKS": ["reproduced"]}))
    assert a != b
    assert a[0].startswith("Across the 2 ledgers below, 1 of the 3 claims was reproduced")
    assert "Reproduced: LION-DG claim 0" in a[1] and "Contradicted: LION-DG claim 1" in a[1]
    assert "Reproduced: DKS claim 0" in b[2] and "Contradicted" not in " ".join(b)
    c = claims.findings(_frame({"WAMAL": ["not decidable"]}), missing=["dks"])
    assert "1 claims could not be decided: 1 because too few seeds" in c[-2] and "DKS" in c[-1]
    assert claims.findings(_frame({})) == ["No chapter has a claims ledger in the results store yet."]
    collapsed = _frame({"DKS": ["contradicted"]}).assign(data="cifar10, 3 seeds; collapsed: 2 of 3 Original runs")
    assert "Contradicted: DKS claim 0 (collapsed: 2 of 3 Original runs)." in claims.findings(collapsed)[1]
    longer = collapsed.assign(data="cifar10, 3 seeds, 500 images; MLP 3 epochs; collapsed: 1 of 3 plain runs")
    assert "Contradicted: DKS claim 0 (collapsed: 1 of 3 plain runs)." in claims.findings(longer)[1]


def test_the_page_resolves_each_chapters_profile_itself():
    assert chapters.published_profile("claims", "summary") == claims.PUBLISHED
    assert claims.profiles("tiny") == {c: "tiny" for c in claims.PAPERS}
    shown = claims.shown(_frame({"LION-DG": ["reproduced"], "WAMAL": ["inconclusive"]}))
    assert list(shown.index.names) == ["study", "claim"] and list(shown["verdict"]) == ["reproduced", "inconclusive"]


def test_each_study_has_its_own_glue_name():
    names = [claims.glue_name(s) for s in [*claims.PAPERS.values(), claims.GPU_ROWS, claims.APPENDIX_ROWS]]
    assert names[:2] == ["claims_asymmetric_training", "claims_lion_dg"] and len(set(names)) == len(names)
    assert claims.glue_name(claims.GPU_ROWS) == "claims_wamal_gpu"
