"""Every headline claim of the four papers with its verdict, on one page: each paper chapter's
claims ledger (`chapter_ledger`, the overview page's), at the profile that overview is published
at, or at one profile for all of them.

    frame = claims.ledgers("published")     # one row per claim: `study` and the ledger kit's columns
    claims.tally(frame)                     # verdicts per study
    claims.findings(frame)                  # the page's sentences, generated from the frame
    claims.audited(frame)                   # adds `audit`: the statistics audit's flags on the cited tables

The page trains nothing of its own: its runs are the overviews' (the same cells, through the
results cache), so it is complete wherever they are.
"""
from __future__ import annotations

import pandas as pd

from .. import audit, ledger, settings
from . import chapters, wamal_h100

CHAPTER = "claims"
PUBLISHED = "published"
PAPERS = {"asymmetric": "Asymmetric training", "lion_dg": "LION-DG", "wamal": "WAMAL", "dks": "DKS"}
GPU_ROWS = "WAMAL (H100 runs)"   # the committed H100 runs, judged by the same ledger
# the asymmetric paper's appendix tables on CIFAR-10, its own data: a second family, corrected among themselves
APPENDIX_ROWS = "Asymmetric training (appendix on CIFAR-10)"
APPENDIX_NOTEBOOK = "findings"   # the page that shows that family; its published profile judges it here

NOTEBOOK_GRIDS = {"summary": ()}
LEDGER_NOTEBOOKS = ("summary",)   # the notebooks that show a claims ledger (a test checks)
ANALYSES: dict = {}


def chapter_grids(profile: str) -> dict:
    return {}   # the overviews' runs: each chapter's own grids hold them


def published_profile(notebook: str, store=None) -> str:
    """The page resolves each chapter's profile itself (see `profiles`)."""
    return PUBLISHED


def profiles(profile: str = PUBLISHED, store=None) -> dict[str, str | None]:
    """{chapter: the profile its ledger is judged at}: each overview's published profile (None
    where the store holds no complete one), or `profile` for all."""
    if profile == PUBLISHED:
        return {ch: chapters.published_profile(ch, "overview", store) for ch in PAPERS}
    return {ch: profile for ch in PAPERS}


def ledgers(profile: str = PUBLISHED, progress: bool = False, gpu: bool = True, appendix: bool = True,
            store=None) -> pd.DataFrame:
    """The four chapters' ledgers stacked, with a `study` column (the paper's name; the kit's
    `paper` column is the paper's value); with `gpu`, the WAMAL H100 runs' rows where the store
    holds them; with `appendix`, the asymmetric paper's second family (its findings page's). A
    chapter or family without a published profile is left out."""
    frames = []
    for ch, prof in profiles(profile, store).items():
        if prof is None:
            continue
        settings.set_labels(ch, prof)   # what a chapter trains here is labelled as its overview's
        frames.append(chapters.module(ch).chapter_ledger(prof, progress=progress).assign(study=PAPERS[ch]))
    if appendix:
        prof = chapters.published_profile("asymmetric", APPENDIX_NOTEBOOK, store) if profile == PUBLISHED else profile
        if prof is not None:
            settings.set_labels("asymmetric", prof)
            frames.append(chapters.module("asymmetric").appendix_ledger(prof, progress=progress)
                          .assign(study=APPENDIX_ROWS))
    if gpu:
        g = wamal_h100.ledger(store)
        if len(g):
            frames.append(g.assign(study=GPU_ROWS))
    if not frames:
        return pd.DataFrame(columns=["study", *ledger.COLUMNS])
    return pd.concat(frames, ignore_index=True)[["study", *ledger.COLUMNS]]


def glue_name(study: str) -> str:
    """The page's glue name for a study's sentence (the book's introduction quotes them)."""
    special = {GPU_ROWS: "wamal_gpu", APPENDIX_ROWS: "asymmetric_appendix"}
    return "claims_" + special.get(study, study.lower().replace(" ", "_").replace("-", "_"))


def tally(frame: pd.DataFrame) -> pd.DataFrame:
    """Claims per verdict for each study (rows) and in all, the verdicts in the kit's order."""
    t = pd.crosstab(frame["study"], frame["verdict"]).reindex(columns=list(ledger.VERDICTS), fill_value=0)
    t = t.reindex([p for p in dict.fromkeys(frame["study"])])
    t.loc["all"] = t.sum()
    t["claims"] = t.sum(axis=1)
    t["profile"] = [", ".join(sorted(set(frame.loc[frame["study"] == p, "profile"].astype(str)))) if p != "all" else ""
                    for p in t.index]
    return t


def audited(frame: pd.DataFrame, checks: pd.DataFrame | None = None) -> pd.DataFrame:
    """The stacked ledgers with an `audit` column: the items the statistics audit
    (aux_core.audit) flags inconsistent among the paper's numbers each claim rests on (its
    `rests_on` rows), empty where none. `checks`: the audit's rows (all papers' by default)."""
    checks = audit.checks() if checks is None else checks
    paper = {name: ch for ch, name in PAPERS.items()} | {GPU_ROWS: "wamal", APPENDIX_ROWS: "asymmetric"}
    parts = [audit.linked(g, paper[s], checks) if s in paper else g.assign(audit="")
             for s, g in frame.groupby("study", sort=False)]
    return pd.concat(parts).loc[frame.index] if parts else frame.assign(audit=[])


def shown(frame: pd.DataFrame) -> pd.DataFrame:
    """The stacked ledgers for reading (`ledger.shown`), indexed by study and claim, with the
    `audit` column where `audited` added it."""
    out = ledger.shown(frame).reset_index()
    out.insert(0, "study", frame["study"].to_numpy())
    return out.set_index(["study", "claim"])


def _count(values: pd.Series) -> str:
    counts = values.value_counts()
    return ", ".join(f"{counts[v]} {v}" for v in ledger.VERDICTS if v in counts) or "none"


def findings(frame: pd.DataFrame, missing=()) -> list[str]:
    """The page's paragraphs from the stacked ledgers: the count of each verdict, in all and per
    paper, and the claims reproduced and contradicted by name. `missing`: chapters left out."""
    if not len(frame):
        return ["No chapter has a claims ledger in the results store yet."]
    n_rep = int((frame["verdict"] == "reproduced").sum())
    lines = [f"Across the {frame['study'].nunique()} ledgers below, {n_rep} of the {len(frame)} claims "
             f"{'was' if n_rep == 1 else 'were'} reproduced "
             f"({_count(frame['verdict'])})."]
    for paper, g in frame.groupby("study", sort=False):
        prof = ", ".join(sorted(set(g["profile"].astype(str))))
        line = f"**{paper}** (at {prof}): {_count(g['verdict'])} of {len(g)}."
        for verdict in ("reproduced", "contradicted"):
            hit = g[g["verdict"] == verdict]
            # a verdict whose arms hold collapsed runs says so (the ledger's data column counts them)
            named = [c + (f" ({d[d.index('collapsed:'):]})" if "; collapsed:" in d else "")
                     for c, d in zip(hit["claim"], hit["data"].astype(str))]
            if named:
                line += f" {verdict.capitalize()}: " + "; ".join(named) + "."
        lines.append(line)
    undecided = frame[frame["verdict"] == "not decidable"]
    if len(undecided):
        reasons = undecided["reason"].str.split(":").str[0].str.split(";").str[0].value_counts()
        lines.append(f"{len(undecided)} claims could not be decided: " +
                     ", ".join(f"{n} because {r}" for r, n in reasons.items()) + ".")
    if missing:
        lines.append("Not in the table: " + ", ".join(PAPERS.get(m, m) for m in missing) +
                     " (the results store holds no complete profile of its overview).")
    return lines
