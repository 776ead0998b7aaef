# %% [markdown] tags=[]
# # The four papers, audited by their own numbers
#
# No reproduction in this field checks whether a paper's reported statistics agree with its own tables. This part of
# the book does, for each of the four papers ({doc}`asymmetric`, {doc}`lion_dg`, {doc}`wamal`, {doc}`dks`): every
# reported p-value, standard deviation, confidence interval, effect size and relative improvement is recomputed from
# the paper's own numbers where they suffice, and marked *consistent*, *inconsistent* or *not checkable*. The rounding
# rule: a recomputed value is consistent when it lies within half a unit of the printed last digit, or, where it
# starts from rounded inputs, when inputs inside their own rounding give the printed value; "p < x" is consistent when
# the recomputed p is below x. Welch tests and intervals come from means, SDs and n (`scipy.stats`); a paired test,
# whose correlation is not printed, is checked against the range of p that any correlation allows; GRIM and GRIMMER
# test whether a mean and an SD are possible for n runs over the test set; each significance claim is set beside the
# smallest effect its design detects with 80% power. Nothing is trained.

# %% tags=["parameters"]
profile: str = "smoke"          # accepted for the book's driver; the audit is the same at every profile

# %% tags=["hide-output"]
import pandas as pd
from IPython.display import Markdown
from myst_nb import glue

from aux_core import audit
from aux_core import notebook as nb

nb.setup(globals(), "audit", "summary")   # refuses unknown names and values before anything runs
rows = audit.checks()
power = audit.power()

# %% [markdown] tags=[]
# ## Items per status and paper

# %% tags=["hide-input"]
tally = audit.tally(rows)
glue("audit_tally", tally, display=False)
tally

# %% [markdown] tags=[]
# ## What the audit finds
#
# ```{glue:md} audit_findings
# :format: myst
# ```

# %% tags=["remove-output", "hide-input"]
lines = audit.findings(rows, power)
glue("audit_findings", Markdown("\n\n".join(lines)), display=False)
glue("audit_headline", lines[0], display=False)
Markdown("\n\n".join(lines))

# %% [markdown] tags=[]
# ## Every inconsistent item
#
# The chapters' claims that cite a table holding one of these numbers carry it in the `audit` column of
# {doc}`../claims/summary` (`aux_core.audit.flagged` maps a paper's table and row to its flagged items).

# %% tags=["hide-input"]
pd.set_option("display.max_colwidth", None)
bad = audit.inconsistent(rows)
glue("audit_inconsistent", bad, display=False)
bad

# %% [markdown] tags=[]
# ## Significance claims below their design's detectable effect

# %% tags=["hide-input"]
low = power[~power["detectable"]]
glue("audit_underpowered", low, display=False)
low
