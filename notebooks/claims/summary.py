# %% [markdown] tags=[]
# # Every claim of the four papers, one table
#
# Each paper chapter judges the paper's headline claims in its own claims ledger (on its overview page); this
# page stacks the four ledgers, the WAMAL chapter's ledger of the committed H100 runs, and the asymmetric paper's
# appendix rows on CIFAR-10 (its findings page's second family), so that every claim can be read with its verdict in
# one place. The rules are the ledger kit's (`aux_core.ledger`), the same in every chapter:
#
# - *reproduced*: the 95% interval excludes zero on the paper's side and holds the paper's number (or, where the paper
#   states only a direction, the side alone); for a claim of no effect, the interval lies inside a stated margin;
# - *direction only*: the paper's side, but its number lies outside the interval;
# - *contradicted*: the interval excludes zero on the other side (or lies wholly outside the no-effect margin);
#   a share of runs (a collapse rate) is judged by Fisher's exact test, a ranking by the bootstrap probability over seeds
#   that it holds, a speed-up by Kaplan-Meier medians of censored times with a log-rank test;
# - *inconclusive*: an interval that decides neither;
# - *not decidable*: too little data (no runs at this profile, one seed, zero variance, arms too small for any outcome
#   to be significant) or a paper number that cannot be right as printed; the reason says which.
#
# p-values are Holm-corrected across each ledger's claims, and the verdicts use the corrected ones. Each row names the
# profile and the data it ran on: the book's profiles are far smaller than the papers' runs (see {doc}`../pipeline/store`),
# so a verdict holds at that scale only. The `audit` column names the printed numbers each claim rests on (its rows
# of the paper's tables) that the paper's own other numbers contradict ({doc}`../audit/summary`).

# %% tags=["parameters"]
profile: str = "smoke"          # published (each chapter at its overview page's profile) | smoke | tiny | cpu | gpu | paper

# %% tags=["hide-output"]
import pandas as pd
from IPython.display import Markdown
from myst_nb import glue

from aux_core import notebook as nb
from aux_core.experiments import claims

nb.setup(globals(), "claims", "summary")   # refuses unknown names and values before anything runs
at = claims.profiles(profile)
frame = claims.audited(claims.ledgers(profile))   # `audit`: flagged paper numbers each claim rests on
print(at)

# %% [markdown] tags=[]
# ## Verdicts per paper

# %% tags=["hide-input"]
tally = claims.tally(frame)
glue("claims_tally", tally, display=False)
tally

# %% [markdown] tags=[]
# ## What the ledgers say
#
# ```{glue:md} claims_findings
# :format: myst
# ```

# %% tags=["remove-output", "hide-input"]
lines = claims.findings(frame, missing=[c for c, p in at.items() if p is None])
glue("claims_findings", Markdown("\n\n".join(lines)), display=False)
glue("claims_headline", lines[0], display=False)   # the book's introduction quotes these
for study, line in zip(dict.fromkeys(frame["study"]), lines[1:]):
    glue(claims.glue_name(study), line.replace("**", ""), display=False)
Markdown("\n\n".join(lines))

# %% [markdown] tags=[]
# ## Every claim

# %% tags=["hide-input"]
pd.set_option("display.max_colwidth", None)
shown = claims.shown(frame)
glue("claims_ledger", shown, display=False)
shown
