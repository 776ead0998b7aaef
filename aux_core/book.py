"""Build the book: execute every notebook with papermill, then Jupyter Book.

    python -m aux_core.book                          # from the results store: trains nothing
    python -m aux_core.book --execute --profile cpu  # re-execute at a profile, training what is missing
    python -m aux_core.book --execute --profile cpu --publish --only lion_dg   # ... and store what it trains

From the store (the default, `make book`), each notebook runs at its *published profile*: the
largest profile whose results it needs are all in the committed results store
(`aux_core.experiments.chapters`), with training switched off, so a notebook that would train
fails instead. Executed notebooks land in book/chapters/<same path as under notebooks/>, and
Jupyter Book (execution off) publishes exactly those outputs. A notebook that fails is reported
and its page says so above the notebook's committed (smoke) outputs; the rest of the book
still builds, and the exit status is 1.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from . import settings
from .profiles import PROFILES
from .settings import REPO_ROOT

NOTEBOOKS = REPO_ROOT / "notebooks"
BOOK = REPO_ROOT / "book"
CHAPTERS = BOOK / "chapters"


def notebooks(only: str | None = None) -> list[Path]:
    found = sorted(p for p in NOTEBOOKS.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)
    return [p for p in found if only is None or only in str(p.relative_to(NOTEBOOKS))]


def execute(notebook: Path, profile: str, extra: dict | None = None, out_dir: Path | None = None) -> float:
    """Run one notebook into its chapter; returns the wall time in seconds. A failure leaves the
    previous chapter untouched (papermill writes to a temporary file renamed on success)."""
    import papermill as pm

    out = (out_dir or CHAPTERS) / notebook.relative_to(NOTEBOOKS)
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


def failed_page(notebook: Path, why: str, out_dir: Path | None = None) -> Path:
    """The chapter of a notebook that failed: the committed notebook (its smoke outputs, as CI
    ran them) under a banner that says so."""
    import nbformat
    nb = nbformat.read(notebook, as_version=4)
    title = next((c.source.splitlines()[0] for c in nb.cells if c.cell_type == "markdown" and c.source.strip()), "")
    banner = nbformat.v4.new_markdown_cell(
        f"{title}\n\n:::{{warning}}\nThis page could not be built from the results store: `{why}`. What follows is the "
        "notebook as committed, with the outputs of its `smoke` profile (20 images per class, 1 epoch), which CI "
        "executes: not results.\n:::")
    first = next((i for i, c in enumerate(nb.cells) if c.cell_type == "markdown"), None)
    if first is not None and title:
        nb.cells[first].source = "\n".join(nb.cells[first].source.splitlines()[1:])
    nb.cells.insert(0, banner)
    out = (out_dir or CHAPTERS) / notebook.relative_to(NOTEBOOKS)
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out)
    return out


def _short(err: BaseException) -> str:
    lines = [ln for ln in str(err).strip().splitlines() if ln.strip()]
    return f"{type(err).__name__}: {(lines[-1] if lines else '')[:400]}"


def _run_one(job: tuple[str, str, dict]) -> tuple[str, float | None, str]:
    """(notebook, seconds or None, error) in a worker process, with the environment it is given."""
    name, profile, env = job
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)     # the kernel inherits it
    try:
        return name, execute(NOTEBOOKS / name, profile), ""
    except Exception as err:  # papermill names the failing cell; keep the message short
        return name, None, _short(err)
    finally:
        for k, v in saved.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)


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


def published_profiles(todo: list[Path]) -> dict[str, str | None]:
    """{notebook: the profile it is shown at} from the committed store."""
    from .experiments.chapters import published_profile
    from .store import Store
    store = Store()
    out = {}
    for nb in todo:
        chapter, name = nb.parent.name, nb.stem
        out[str(nb.relative_to(NOTEBOOKS))] = published_profile(chapter, name, store)
    return out


def build_html() -> None:
    exe = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(exe) if exe.exists() else "jupyter-book", "build", str(BOOK)]
    subprocess.run(cmd, check=True, cwd=REPO_ROOT)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--execute", action="store_true",
                    help="re-execute at --profile, training what the store and the local cache lack")
    ap.add_argument("--profile", default="cpu", choices=list(PROFILES),
                    help="with --execute: experiment sizes (default: cpu)")
    ap.add_argument("--publish", action="store_true", help="with --execute: add what it trains to the results store")
    ap.add_argument("--only", help="run only notebooks whose path under notebooks/ contains this text")
    ap.add_argument("--workers", type=int, default=2, help="notebooks executed at once (default: 2)")
    ap.add_argument("--no-build", action="store_true", help="execute notebooks but do not build the HTML")
    ap.add_argument("--no-execute", action="store_true", help="build the HTML from chapters already executed")
    args = ap.parse_args(argv)
    if args.publish and not args.execute:
        ap.error("--publish needs --execute (a build from the store trains nothing to publish)")
    if args.workers < 1:
        ap.error(f"--workers must be >= 1, got {args.workers}")
    todo = [] if args.no_execute else notebooks(args.only)
    if args.only and not todo:
        ap.error(f"no notebook path contains {args.only!r}; "
                 f"notebooks: {[str(p.relative_to(NOTEBOOKS)) for p in notebooks()]}")

    failures = {}
    if args.execute:
        failures = _execute_at(todo, args.profile, args.publish, args.workers)
    elif todo:
        failures = _from_store(todo, args.workers)
    for name, why in failures.items():
        print(f"[book] FAILED {name}: {why}", file=sys.stderr)
        failed_page(NOTEBOOKS / name, why)
    if not args.no_build:
        missing = [p for p in notebooks() if not (CHAPTERS / p.relative_to(NOTEBOOKS)).exists()]
        if missing:
            print(f"[book] not executed yet: {[str(m.relative_to(NOTEBOOKS)) for m in missing]}", file=sys.stderr)
            return 1
        build_html()
        print(f"[book] open {BOOK / '_build' / 'html' / 'index.html'}")
    return 1 if failures else 0


def _from_store(todo: list[Path], workers: int) -> dict[str, str]:
    t0 = time.perf_counter()
    profiles = published_profiles(todo)
    print(f"[book] published profiles resolved in {time.perf_counter() - t0:.0f} s", flush=True)
    failures = {n: "the results store holds no complete profile for it" for n, p in profiles.items() if p is None}
    env = {settings.NO_TRAINING_ENV: "1", settings.PUBLISH_ENV: "0"}
    jobs = [(n, p, env) for n, p in profiles.items() if p is not None]
    timings = _run_jobs(jobs, workers, failures)
    (BOOK / "_build").mkdir(parents=True, exist_ok=True)
    (BOOK / "_build" / "timings.json").write_text(json.dumps({"profiles": profiles, "seconds": timings}, indent=1))
    return failures


def _execute_at(todo: list[Path], profile: str, publish: bool, workers: int) -> dict[str, str]:
    from .cache import ResultsCache
    env = {settings.PUBLISH_ENV: "1" if publish else "0", settings.NO_TRAINING_ENV: "0"}
    failures: dict[str, str] = {}
    for nb in todo:   # one at a time: notebooks of a chapter share runs, and their wall times are measured
        name = str(nb.relative_to(NOTEBOOKS))
        before = len(ResultsCache().keys())
        timings = _run_jobs([(name, profile, env)], 1, failures)
        if name in timings:
            # after each notebook, so a book run killed hours in keeps the timings it measured
            record_timings(profile, timings, {name: len(ResultsCache().keys()) - before})
    return failures


def _run_jobs(jobs: list[tuple[str, str, dict]], workers: int, failures: dict[str, str]) -> dict[str, float]:
    timings = {}
    if workers == 1 or len(jobs) <= 1:
        results = map(_run_one, jobs)
        pool = None
    else:
        import multiprocessing as mp
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"))
        results = pool.map(_run_one, jobs)
    profile_of = {j[0]: j[1] for j in jobs}
    try:
        for name, seconds, err in results:
            if seconds is None:
                failures[name] = err
            else:
                timings[name] = seconds
                print(f"[book] {name} (profile {profile_of[name]}) done in {seconds:.0f} s", flush=True)
    finally:
        if pool is not None:
            pool.shutdown()
    return timings



if __name__ == "__main__":
    sys.exit(main())
