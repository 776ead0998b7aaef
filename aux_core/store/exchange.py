"""Records in and out of the store: read record files of any kind, merge them (keys derived,
conflicts reported), and export a subset as shard files (what a GPU machine sends back)."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

from .. import records as R
from . import MergeReport, Store, compact, from_line, gzip_text, seal, shard_of, to_line, write_atomically


def read_records(paths) -> list[tuple[str, dict]]:
    """(source, record) from shards (*.jsonl.gz), JSON-lines files, single JSON records, and folders
    of them (a store, an export, or a local results cache)."""
    out = []
    for path in map(Path, paths):
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")
                           and p.name.endswith((".jsonl.gz", ".jsonl", ".json")))
            out += read_records(files)
            continue
        try:
            if path.name.endswith(".gz"):
                text = gzip.decompress(path.read_bytes()).decode()
            else:
                text = path.read_text()
        except (OSError, EOFError, UnicodeDecodeError, gzip.BadGzipFile) as err:
            raise ValueError(f"{path} cannot be read ({type(err).__name__}: {err})") from err
        if path.name.endswith(".json"):
            out.append((str(path), json.loads(text)))
        else:
            out += [(f"{path}:{i + 1}", from_line(ln)) for i, ln in enumerate(text.splitlines()) if ln.strip()]
    return out


def grid_labels() -> dict[str, dict]:
    """{key: labels} of every result a chapter's grids need, at the smallest profile that needs
    it (for records made before records carried labels)."""
    from ..experiments.chapters import CHAPTERS, needed
    owner = {}
    for profile in ("smoke", "tiny", "cpu", "gpu", "paper"):
        for chapter in CHAPTERS:
            for keys in needed(chapter, profile).values():
                for key in keys:
                    owner.setdefault(key, {"chapter": chapter, "profile": profile})
    return owner


def merge(paths, store: Store | None = None, replace: bool = False, label: str | None = None) -> MergeReport:
    """Add every record under `paths` to the store; a record failing the checksum it carries is
    refused (a cache record written before checksums existed has none and is accepted). `label`
    labels the records that carry none: "chapter/profile", or "grids" (the chapter and profile
    whose grids need the record; records no grid needs stay unlabelled)."""
    store = store if store is not None else Store()
    if label not in (None, "grids") and label.count("/") != 1:
        raise ValueError(f"label must be 'grids' or 'chapter/profile', got {label!r}")
    owners = grid_labels() if label == "grids" else {}
    good, report = [], MergeReport()
    for source, record in read_records(paths):
        if not isinstance(record, dict) or "config" not in record:
            report.invalid.append((source, "not a result record"))
        elif "content_sha256" in record and record["content_sha256"] != R.content_hash(record):
            report.invalid.append((source, "fails its content checksum"))
        else:
            if label and not (record.get("labels") or {}).get("chapter"):
                chapter, _, profile = label.partition("/")
                fixed = (owners.get(R.record_key(record)) if label == "grids"
                         else {"chapter": chapter, "profile": profile})
                record = {**record, "labels": fixed} if fixed else record
            good.append((source, record))
    result = store.add(good, replace=replace)
    result.invalid = report.invalid + result.invalid
    return result


def export(out: str | Path, only: list[str] | None = None, sources=None) -> list[Path]:
    """Write the records of the shards matching `only` (e.g. "wamal", "wamal/gpu"; all if
    None) from `sources` (default: the local results cache, then the store) as shard files
    under `out`: what a GPU machine sends back, one file per shard."""
    from ..cache import ResultsCache
    picked: dict[str, dict] = {}
    for source in sources if sources is not None else (ResultsCache().root, Store().root):
        if Path(source).exists():
            for _, record in read_records([source]):
                if isinstance(record, dict) and "config" in record:
                    sealed = seal(compact(record))
                    picked.setdefault(sealed["key"], sealed)
    shards: dict[str, list[dict]] = {}
    for record in picked.values():
        shard = shard_of(record)
        if only is None or any(shard == o or shard.startswith(o.rstrip("/") + "/") for o in only):
            shards.setdefault(shard, []).append(record)
    written = []
    for shard, batch in sorted(shards.items()):
        path = Path(out) / f"{shard}.jsonl.gz"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, gzip_text("\n".join(to_line(r) for r in sorted(batch, key=lambda r: r["key"])) + "\n"))
        written.append(path)
    return written
