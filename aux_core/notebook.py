"""What every notebook does first: check its parameters, pick its profile, label what it makes.

    p = nb.setup(globals(), "lion_dg", "table1")       # the first line after the imports

The parameters cell declares each parameter as a typed literal (`threshold: float = 0.7  # ...`);
papermill injects overrides as plain assignments in a cell of its own after it. `setup` then
refuses, before any training: a name the notebook does not declare (papermill itself only warns), a value of the wrong
type (a list given with -p, which passes text: lists go with -y), and a value out of range, by
the rule of its name in `RULES` or one the notebook passes (`dataset=one_of(...)`). Profile
"published" is resolved to the largest profile whose results this notebook needs are complete in
the results store. Records made from here on are labelled with the chapter and profile.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any, Callable

from . import settings
from .checks import is_int, is_number
from .data import DATASETS
from .profiles import PROFILES, Profile, get_profile

PUBLISHED = "published"


class ParameterError(ValueError):
    """A notebook parameter that is unknown, of the wrong type or out of range."""


@dataclass(frozen=True)
class Rule:
    text: str                      # what an allowed value is, for the message
    ok: Callable[[Any], bool]


def between(lo=None, hi=None, *, lo_open=False, hi_open=False, integer=False) -> Rule:
    kind = "an integer" if integer else "a number"
    parts = ([f"{'>' if lo_open else '>='} {lo}"] if lo is not None else []) + \
            ([f"{'<' if hi_open else '<='} {hi}"] if hi is not None else [])
    if lo is not None and hi is not None:
        text = f"{kind} in {'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}"
    else:
        text = f"{kind} {' and '.join(parts)}".strip()

    def ok(v):
        if not (is_int(v) if integer else is_number(v)):
            return False
        return ((lo is None or (v > lo if lo_open else v >= lo)) and
                (hi is None or (v < hi if hi_open else v <= hi)))
    return Rule(text, ok)


def one_of(*values) -> Rule:
    return Rule(f"one of: {', '.join(map(str, values))}", lambda v: v in values)


def each(rule: Rule) -> Rule:
    return Rule(f"a non-empty list, each item {rule.text}",
                lambda v: isinstance(v, (list, tuple)) and len(v) > 0 and all(rule.ok(x) for x in v))


def anything(text: str = "any value of the declared type") -> Rule:
    return Rule(text, lambda v: True)


def _seeds_ok(v) -> bool:
    try:
        get_profile("paper").seeds(v)
    except ValueError:
        return False
    return True


# The rule of each parameter name the notebooks share; a notebook passes the others to `setup`.
RULES: dict[str, Rule] = {
    "profile": one_of(*PROFILES, PUBLISHED),
    "book_profile": one_of(*PROFILES, PUBLISHED),
    "seeds": Rule("a non-empty list of distinct integers >= 0, e.g. [0, 1, 2]", _seeds_ok),
    "epochs": between(1, integer=True), "steps": between(1, integer=True),
    "search_epochs": between(1, integer=True), "growth_steps": between(1, integer=True),
    "samples": between(1, integer=True), "images": between(1, integer=True),
    "batch_size": between(1, integer=True), "n_branches": between(1, integer=True),
    "growth": between(1, integer=True), "grid": between(2, integer=True),
    "num_classes": between(2, integer=True), "check_seeds": between(2, integer=True),
    "threshold": between(0, 1, lo_open=True), "tail": between(0, 1, lo_open=True),
    "warmup_fraction": between(0, 1, lo_open=True), "alpha_level": between(0, 1, lo_open=True, hi_open=True),
    "alpha": between(0), "weight_decay": between(0),
    "span": between(0, lo_open=True), "lr": between(0, lo_open=True), "sgd_lr": between(0, lo_open=True),
    "rates": each(between(0, 1, hi_open=True)), "noise_rates": each(between(0, 1, hi_open=True)),
    "warmup_shares": each(between(0, 1, hi_open=True)),
    "r_values": each(between(0)), "adam_lrs": each(between(0, lo_open=True)),
    "cifar100": one_of("auto", *DATASETS),
    "gradinit": anything("true or false"), "scratch_resnet": anything("true or false"),
    "finetune": anything("true or false"),
}


def injected(namespace: dict) -> set[str]:
    """The names papermill assigned: its injected cell (in IPython's input history, `In`) starts
    with the line "# Parameters"."""
    names = set()
    for source in namespace.get("In", []):
        if source.lstrip().startswith("# Parameters"):
            for node in ast.parse(source).body:
                targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
                names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def check(namespace: dict, **rules: Rule) -> dict[str, Any]:
    """The declared parameters and their values, after refusing unknown names, wrong types and
    out-of-range values (ParameterError, naming the allowed values)."""
    declared: dict[str, type] = dict(namespace.get("__annotations__", {}))
    unknown = sorted(injected(namespace) - set(declared))
    if unknown:
        raise ParameterError(f"unknown parameter(s) {unknown}; this notebook's parameters are: "
                             f"{', '.join(declared)} (papermill -p NAME VALUE, lists with -y 'NAME: [1, 2]')")
    values = {}
    for name, typ in declared.items():
        value = namespace[name]
        if not _of_type(value, typ):
            hint = (f"; papermill's -p passes text, give a list as YAML: -y '{name}: [...]'"
                    if typ in (list, dict) and isinstance(value, str) else "")
            raise ParameterError(f"parameter {name} must be a {typ.__name__}, got {value!r}{hint}")
        rule = rules.get(name) or RULES.get(name)
        if rule is None:
            raise ParameterError(f"parameter {name} has no range rule: add it to aux_core.notebook.RULES "
                                 "or pass it to setup()")
        if not rule.ok(value):
            raise ParameterError(f"{name}={value!r} is not allowed: it must be {rule.text}")
        values[name] = value
    return values


def _of_type(value, typ) -> bool:
    if typ is float:
        return is_number(value)
    if typ is int:
        return is_int(value)
    if typ is bool:
        return isinstance(value, bool)
    return isinstance(value, typ)


def setup(namespace: dict, chapter: str, notebook: str, **rules: Rule) -> Profile | None:
    """Check the notebook's parameters (see `check`), resolve profile "published" in place,
    label new records with the chapter and profile, and return the profile (None for a page
    across chapters that resolves each chapter's published profile itself)."""
    check(namespace, **rules)
    profile = namespace.get("profile", "smoke")
    if profile == PUBLISHED:
        from .experiments.chapters import published_profile
        profile = published_profile(chapter, notebook)
        if profile is None:
            raise ParameterError(f"the results store holds no complete profile for {chapter}/{notebook}; run it at a "
                                 "profile instead (python -m aux_core.store summary says what is stored)")
        if profile == PUBLISHED:   # a page across chapters (the claims summary) resolves each one itself
            return None
        namespace["profile"] = profile
    settings.set_labels(chapter, profile)
    return get_profile(profile, chapter)
