# %% [markdown] tags=[]
# # LION-DG, audited by its own numbers
#
# Every p-value, standard deviation, confidence interval, effect size and relative improvement the paper reports is
# recomputed here from the paper's other numbers where they suffice (`aux_core.audit`, reading the printed numbers of
# `aux_core.reference`), and marked *consistent*, *inconsistent* or *not checkable*, with the reason and the line of
# the paper it was read from. The rounding rule: a recomputed value is consistent when it lies within half a unit of
# the printed last digit, or, where it starts from rounded inputs, when inputs inside their own rounding give the
# printed value; "p < x" is consistent when the recomputed p is below x. GRIM and GRIMMER test whether a mean and an SD
# are possible for n runs over the test set, and are reported as not checkable where the granularity is finer than
# the printed precision. Nothing is trained: the page runs in seconds.

# %% tags=["parameters"]
profile: str = "smoke"          # accepted for the book's driver; the audit is the same at every profile

# %% tags=["hide-output"]
import pandas as pd
from IPython.display import Markdown
from myst_nb import glue

from aux_core import audit
from aux_core import notebook as nb

nb.setup(globals(), "audit", "lion_dg")   # refuses unknown names and values before anything runs
rows = audit.checks("lion_dg")
power = audit.power("lion_dg")

# %% [markdown] tags=[]
# ## What the audit finds
#
# ```{glue:md} audit_lion_dg_findings
# :format: myst
# ```

# %% tags=["remove-output", "hide-input"]
lines = audit.findings(rows, power, "lion_dg")
glue("audit_lion_dg_findings", Markdown("\n\n".join(lines)), display=False)
Markdown("\n\n".join(lines))

# %% [markdown] tags=[]
# ## Every check

# %% tags=["hide-input"]
pd.set_option("display.max_colwidth", None)
pd.set_option("display.max_rows", None)
shown = audit.shown(rows)
glue("audit_lion_dg_checks", shown, display=False)
shown

# %% [markdown] tags=[]
# ## Significance claims and the smallest effect their design detects
#
# For each claim of significance, the minimal detectable effect: the smallest standardized difference (`mde_d`, and
# in the table's units `mde_raw`) that a two-sided t-test at the paper's level and number of runs detects with 80%
# power (noncentral t), beside the effect the paper's own summaries give (`effect_d`) and the power at it.

# %% tags=["hide-input"]
glue("audit_lion_dg_power", power, display=False)
power
