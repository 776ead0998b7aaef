"""Build the book: execute every notebook with papermill for one profile, then Jupyter Book.

    python -m aux_core.book --profile cpu            # all notebooks, then the HTML book
    python -m aux_core.book --profile gpu --only lion_dg --no-build

Executed notebooks land in book/chapters/<same path as under notebooks/>; Jupyter Book
(execution off) publishes exactly those outputs. A notebook that fails leaves its previous
chapter untouched: papermill writes to a temporary file that replaces the chapter only on
success.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .cache import ResultsCache
from .profiles import PROFILES
from .settings import REPO_ROOT

NOTEBOOKS = REPO_ROOT / "notebooks"
BOOK = REPO_ROOT / "book"
CHAPTERS = BOOK / "chapters"


def notebooks(only: str | None = None) -> list[Path]:
    found = sorted(p for p in NOTEBOOKS.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    return [p for p in found if only is None or only in str(p.relative_to(NOTEBOOKS))]


def execute(notebook: Path, profile: str, extra: dict | None = None) -> float:
    """Run one notebook into its chapter; returns the wall time in seconds."""
    import papermill as pm

    out = CHAPTERS / notebook.relative_to(NOTEBOOKS)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=".tmp-", suffix=".ipynb")
    os.close(fd)
    t0 = time.perf_counter()
    try:
        pm.execute_notebook(str(notebook), tmp, parameters={"profile": profile, **(extra or {})},
                            cwd=str(notebook.parent), kernel_name="python3", progress_bar=False)
        os.replace(tmp, out)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return time.perf_counter() - t0


def record_timings(profile: str, timings: dict[str, float], trained: dict[str, int],
                   out_dir: Path = REPO_ROOT / "results" / "benchmarks") -> Path:
    """Merge notebook wall times into results/benchmarks/book-<profile>-<cpu|cuda>.json (committed:
    the book's performance page shows them). Each entry keeps the commit, device and date it
    was measured with and how many runs it trained (0: every result came from the cache);
    a notebook executed again replaces its entry."""
    import torch

    from .provenance import collect
    kind = "cuda" if torch.cuda.is_available() else "cpu"
    path = Path(out_dir) / f"book-{profile}-{kind}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    old = json.loads(path.read_text()) if path.exists() else {"profile": profile, "notebooks": {}}
    prov = collect(torch.device(kind), "", "")
    for name, seconds in timings.items():
        old["notebooks"][name] = {"seconds": round(seconds, 1), "runs_trained": trained[name],
                                  "git_commit": prov["git_commit"],
                                  "device": prov["device"], "measured_utc": prov["created_utc"]}
    old["total_s"] = round(sum(v["seconds"] for v in old["notebooks"].values()), 1)
    path.write_text(json.dumps(old, indent=1, sort_keys=True) + "\n")
    return path


def build_html() -> None:
    exe = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(exe) if exe.exists() else "jupyter-book", "build", str(BOOK)]
    subprocess.run(cmd, check=True, cwd=REPO_ROOT)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="cpu", choices=list(PROFILES), help="experiment sizes (default: cpu)")
    ap.add_argument("--only", help="run only notebooks whose path under notebooks/ contains this text")
    ap.add_argument("--no-build", action="store_true", help="execute notebooks but do not build the HTML")
    ap.add_argument("--no-execute", action="store_true", help="build the HTML from chapters already executed")
    args = ap.parse_args(argv)
    todo = [] if args.no_execute else notebooks(args.only)
    if args.only and not todo:
        ap.error(f"no notebook path contains {args.only!r}; notebooks: {[str(p.relative_to(NOTEBOOKS)) for p in notebooks()]}")
    timings, trained = {}, {}
    for nb in todo:
        name = str(nb.relative_to(NOTEBOOKS))
        print(f"[book] {name} (profile {args.profile}) ...", flush=True)
        before = len(ResultsCache().keys())
        try:
            timings[name] = execute(nb, args.profile)
            trained[name] = len(ResultsCache().keys()) - before
        except Exception as err:  # papermill names the failing cell; keep the message short
            print(f"[book] FAILED {name}: {type(err).__name__}: {str(err).strip().splitlines()[-1][:500]}", file=sys.stderr)
            return 1
        print(f"[book] {name} done in {timings[name]:.0f} s", flush=True)
        # after each notebook, so a book run killed hours in keeps the timings it measured
        record_timings(args.profile, {name: timings[name]}, {name: trained[name]})
    if not args.no_build:
        missing = [p for p in notebooks() if not (CHAPTERS / p.relative_to(NOTEBOOKS)).exists()]
        if missing:
            print(f"[book] not executed yet: {[str(m.relative_to(NOTEBOOKS)) for m in missing]}", file=sys.stderr)
            return 1
        build_html()
        print(f"[book] open {BOOK / '_build' / 'html' / 'index.html'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
