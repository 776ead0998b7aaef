"""The statistics audit as a book part: one page per paper and a summary, each reading the
papers' printed numbers (aux_core.reference) through aux_core.audit. It trains nothing, so every
page is the same at every profile and runs in seconds."""
from __future__ import annotations

from ..audit import PAPERS

CHAPTER = "audit"
NOTEBOOK_GRIDS = {**{paper: () for paper in PAPERS}, "summary": ()}
LEDGER_NOTEBOOKS: tuple = ()   # no page shows a claims ledger (a test checks)
ANALYSES: dict = {}


def chapter_grids(profile: str) -> dict:
    return {}   # nothing to train or compute ahead: the audit reads the reference CSVs


def published_profile(notebook: str, store=None) -> str:
    """The pages need no results, so they are shown as what they are, at smoke."""
    return "smoke"
