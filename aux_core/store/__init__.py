"""The results store: every result the book shows, committed with the code (results/store/).
Its files are read and written here; `exchange` moves records in and out (merge, export) and
`cli` is `python -m aux_core.store`.

Layout: one gzip JSON-lines shard per chapter and profile, `<chapter>/<profile>.jsonl.gz`, one
record a line (`aux_core.records`), the key first. A shard larger than `PART_BYTES` continues in
parts `<profile>-2.jsonl.gz`, `-3`, ..., cut at record boundaries in the shard's order, so no
committed file grows past a few MB and an append rewrites only the last part. Long lists of
float32 numbers (the per-step logs, per-image weights) are packed as base64 float32, which loses
nothing: they were float32 on the device. Per-step logs are kept whole where a chapter reads them
(runs with a convergence threshold: LION-DG's steps-to-threshold) and thinned to at most
`STEP_ROWS` rows otherwise.

A record's key is derived from its content when it is added, never taken from its maker. The
same key with the same numbers is skipped; with other numbers it is a conflict, reported and
never overwritten (`replace=True` says otherwise explicitly).
"""
from __future__ import annotations

import base64
import contextlib
import fcntl
import gzip
import io
import json
import os
import re
import tempfile
import zlib
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import records as R
from .. import settings

STEP_ROWS = 512            # per-step log rows kept where no chapter reads every step
PACK_MIN = 32              # lists at least this long are packed
SIZE_LIMIT = 30 * 2 ** 20  # the whole store, in bytes (a test holds it to this)
PART_BYTES = 4 * 2 ** 20   # a shard's file, compressed, at most about this (a new part begins past it)
_PART = re.compile(r"-(\d+)$")  # the part number that follows a profile in a file's name
UNLABELLED = ("unlabelled", "any")
_INDEXES: dict[Path, tuple[tuple, dict]] = {}   # root -> (the shards' paths, mtimes and sizes, index)


# ----------------------------------------------------------------------------- the line format

def pack(obj):
    """Long homogeneous numeric lists as base64 arrays; lossless (float32-exact floats only)."""
    if isinstance(obj, dict):
        return {k: pack(v) for k, v in obj.items()}
    if isinstance(obj, list):
        if len(obj) >= PACK_MIN:
            if all(type(v) is float for v in obj):
                a = np.asarray(obj, dtype=np.float64)
                f = a.astype(np.float32)
                if np.array_equal(f.astype(np.float64), a, equal_nan=True):
                    return {"__f32__": base64.b64encode(f.tobytes()).decode()}
            elif all(type(v) is int for v in obj):
                a = np.asarray(obj)
                if a.dtype == np.int64 and a.min() >= -2 ** 31 and a.max() < 2 ** 31:
                    return {"__i32__": base64.b64encode(a.astype(np.int32).tobytes()).decode()}
        return [pack(v) for v in obj]
    return obj


def unpack(obj):
    if isinstance(obj, dict):
        if len(obj) == 1 and ("__f32__" in obj or "__i32__" in obj):
            kind, text = next(iter(obj.items()))
            dtype = np.float32 if kind == "__f32__" else np.int32
            return np.frombuffer(base64.b64decode(text), dtype=dtype).tolist()
        return {k: unpack(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [unpack(v) for v in obj]
    return obj


def to_line(record: dict) -> str:
    body = {"key": record["key"], **{k: v for k, v in record.items() if k != "key"}}
    return json.dumps(pack(body), allow_nan=True, separators=(",", ":"), default=list)


def from_line(line: str) -> dict:
    return unpack(json.loads(line))


def _line_key(line: str) -> str:
    # lines start with {"key":"<64 hex>" (to_line writes the key first): no JSON parse to index
    if line.startswith('{"key":"') and line[72:73] == '"':
        return line[8:72]
    return json.loads(line)["key"]


# ----------------------------------------------------------------------------- records for the store

def compact(record: dict) -> dict:
    """The record as the store keeps it: per-step logs thinned where no chapter reads every step
    (idempotent; what was thinned is said in `compacted`)."""
    steps = record.get("steps")
    config = record.get("config", {})
    if not isinstance(steps, dict) or not steps or config.get("convergence_threshold") is not None:
        return record
    n = len(next(iter(steps.values())))
    if n <= STEP_ROWS:
        return record
    every = -(-n // STEP_ROWS)
    keep = list(range(every - 1, n, every))
    if keep[-1] != n - 1:
        keep.append(n - 1)
    thinned = {k: [v[i] for i in keep] for k, v in steps.items()}
    return {**record, "steps": thinned, "compacted": {"steps_every": every, "steps_logged": n}}


def seal(record: dict) -> dict:
    """The record with its derived key and content checksum, as stored and as read back."""
    body = json.loads(json.dumps({k: v for k, v in record.items() if k not in ("key", "content_sha256")},
                                 allow_nan=True, default=list))
    body.setdefault("kind", R.record_kind(body))
    body["key"] = R.record_key(body)
    body["content_sha256"] = R.content_hash(body)
    return body


def verified(record: dict) -> bool:
    return record.get("content_sha256") == R.content_hash(record) and record.get("key") == R.record_key(record)


def shard_of(record: dict) -> str:
    labels = record.get("labels") or {}
    chapter, profile = labels.get("chapter") or UNLABELLED[0], labels.get("profile") or UNLABELLED[1]
    return f"{chapter}/{profile}"


@dataclass
class MergeReport:
    added: int = 0
    same: int = 0
    replaced: int = 0
    conflicts: list = field(default_factory=list)   # (key, shard, what differs)
    invalid: list = field(default_factory=list)     # (source, why)

    def __str__(self) -> str:
        return (f"{self.added} added, {self.same} already stored, {self.replaced} replaced, "
                f"{len(self.conflicts)} conflicts, {len(self.invalid)} invalid")


# ----------------------------------------------------------------------------- the store

class Store:
    """The committed shards under `root`; read lazily, appended to under a per-shard lock."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else settings.store_dir()
        self._index: dict[str, tuple[str, str]] | None = None   # key -> (shard, line)

    def shards(self) -> list[Path]:
        return sorted(self.root.glob("*/*.jsonl.gz")) if self.root.is_dir() else []

    def shard_path(self, shard: str, part: int = 1) -> Path:
        return self.root / (f"{shard}.jsonl.gz" if part == 1 else f"{shard}-{part}.jsonl.gz")

    def shard_parts(self, shard: str) -> list[Path]:
        """The files of `shard` in order: its first part, then -2, -3, ..."""
        parts, part = [], 1
        while (path := self.shard_path(shard, part)).exists():
            parts.append(path)
            part += 1
        return parts

    def shard_name(self, path: Path) -> str:
        """The shard ("<chapter>/<profile>") a file of the store belongs to."""
        return _PART.sub("", str(path.relative_to(self.root)).removesuffix(".jsonl.gz"))

    def _lines(self, shard: str) -> list[str]:
        return [ln for path in self.shard_parts(shard)
                for ln in gzip.decompress(path.read_bytes()).decode().splitlines() if ln.strip()]

    def _rewrite(self, shard: str, lines: list[str]) -> None:
        """`shard` as `lines`, in parts of at most about PART_BYTES compressed (estimated line by line,
        so the cut does not depend on what was written before); an unchanged part keeps its bytes."""
        parts, size = [[]], 0
        for line in lines:
            cost = len(zlib.compress(line.encode(), 6))
            if parts[-1] and size + cost > PART_BYTES:
                parts.append([])
                size = 0
            parts[-1].append(line)
            size += cost
        old = self.shard_parts(shard)
        if lines:
            for n, part in enumerate(parts, start=1):
                path, data = self.shard_path(shard, n), gzip_text("\n".join(part) + "\n")
                if not (path.exists() and path.read_bytes() == data):
                    write_atomically(path, data)
        for path in old[len(parts) if lines else 0:]:
            path.unlink()

    def _load(self) -> dict[str, tuple[str, str]]:
        if self._index is None:
            # one index per process and state of the files: every ResultsCache() of a notebook shares it
            state = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in self.shards())
            if _INDEXES.get(self.root) is None or _INDEXES[self.root][0] != state:
                index = {}
                for path in self.shards():
                    shard = self.shard_name(path)
                    for line in gzip.decompress(path.read_bytes()).decode().splitlines():
                        if line.strip():
                            index.setdefault(_line_key(line), (shard, line))
                _INDEXES[self.root] = (state, index)
            self._index = _INDEXES[self.root][1]
        return self._index

    def reload(self) -> None:
        self._index = None

    def keys(self) -> list[str]:
        return sorted(self._load())

    def __contains__(self, key: str) -> bool:
        return key in self._load()

    def __len__(self) -> int:
        return len(self._load())

    def shard_for(self, key: str) -> str | None:
        hit = self._load().get(key)
        return hit[0] if hit else None

    def get(self, key: str) -> dict | None:
        """The stored record of `key`, checked against its checksum (None where it fails: the
        committed file is left alone, `verify` names it)."""
        hit = self._load().get(key)
        if hit is None:
            return None
        record = from_line(hit[1])
        if not verified(record):
            warnings.warn(f"results store: the record {key[:12]} in {hit[0]} fails its checksum or key; "
                          "run `python -m aux_core.store verify`", stacklevel=2)
            return None
        return record

    def shard_records(self, shard: str):
        """The verified records of one shard ("<chapter>/<profile>")."""
        for key, (where, _) in sorted(self._load().items()):
            if where == shard and (record := self.get(key)) is not None:
                yield record

    def records(self):
        for key in self.keys():
            record = self.get(key)
            if record is not None:
                yield record

    def size_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.shards())

    @contextlib.contextmanager
    def _locked(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_name(f".{path.name}.lock"), "a") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock.fileno(), fcntl.LOCK_UN)

    def add(self, records, shard: str | None = None, replace: bool = False) -> MergeReport:
        """Add `records` (each to `shard`, or to the shard of its labels). A record whose key is
        stored with the same numbers is skipped; with other numbers it is a conflict, kept out
        unless `replace`."""
        report, todo = MergeReport(), {}
        self.reload()                           # another process may have appended meanwhile
        index = self._load()
        for source, record in records:
            try:
                record = seal(compact(record))
            except (KeyError, TypeError, ValueError) as err:
                report.invalid.append((source, f"not a result record ({type(err).__name__}: {err})"))
                continue
            key = record["key"]
            old = self.get(key) if key in index else todo.get(key, (None, None))[1]
            if old is not None and R.same_numbers(old, record):
                report.same += 1
                continue
            if old is not None and not replace:
                report.conflicts.append((key, self.shard_for(key) or shard or shard_of(record),
                                         _difference(old, record)))
                continue
            if old is not None:
                report.replaced += 1
            else:
                report.added += 1
            todo[key] = (shard or self.shard_for(key) or shard_of(record), record)
        by_shard: dict[str, list[dict]] = {}
        for target, record in todo.values():
            by_shard.setdefault(target, []).append(record)
        for target, batch in sorted(by_shard.items()):
            self._write(target, batch)
        self.reload()
        return report

    def _write(self, shard: str, batch: list[dict]) -> None:
        new = {r["key"] for r in batch}
        with self._locked(self.shard_path(shard)):
            kept = [ln for ln in self._lines(shard) if _line_key(ln) not in new]
            # keys found in other shards (a replaced record) leave those shards
            for other in {self._load()[k][0] for k in new if k in self._load()} - {shard}:
                self._drop(other, new)
            self._rewrite(shard, kept + [to_line(r) for r in sorted(batch, key=lambda r: r["key"])])

    def _drop(self, shard: str, keys: set[str]) -> None:
        self._rewrite(shard, [ln for ln in self._lines(shard) if _line_key(ln) not in keys])

    def remove(self, keys) -> int:
        """Take the records of `keys` out of the store (a profile resized: its old runs no
        grid needs); how many were stored."""
        index, keys = self._load(), set(keys)
        by_shard: dict[str, set[str]] = {}
        for key in keys & set(index):
            by_shard.setdefault(index[key][0], set()).add(key)
        for shard, gone in by_shard.items():
            with self._locked(self.shard_path(shard)):
                self._drop(shard, gone)
        self.reload()
        return sum(map(len, by_shard.values()))

    def move(self, shard: str, target: str) -> int:
        """Move a shard's records to `target` ("<chapter>/<profile>"), relabelled (a profile
        renamed: its results keep their numbers and keys); how many moved."""
        chapter, _, profile = target.partition("/")
        batch = [seal({**r, "labels": {**(r.get("labels") or {}), "chapter": chapter, "profile": profile}})
                 for r in self.shard_records(shard)]
        if batch:
            self._write(target, batch)
        self.reload()
        return len(batch)

    def verify(self) -> list[tuple[str, str]]:
        """(shard, key) of every stored line that fails its checksum or whose key is not its own."""
        bad = []
        for key, (shard, line) in self._load().items():
            record = from_line(line)
            if not verified(record) or record["key"] != key:
                bad.append((shard, key))
        return bad


def gzip_text(text: str) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0, filename="") as f:  # same content, same bytes
        f.write(text.encode())
    return buf.getvalue()


def write_atomically(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".gz")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)   # mkstemp's 0600 would follow the file into git
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def _difference(old: dict, new: dict) -> str:
    a, b = R.numbers(old), R.numbers(new)
    fields = sorted(k for k in set(a) | set(b) if R.canonical(a.get(k)) != R.canonical(b.get(k)))
    metrics = [k for k in sorted(set(a.get("metrics", {})) | set(b.get("metrics", {})))
               if R.canonical(a.get("metrics", {}).get(k)) != R.canonical(b.get("metrics", {}).get(k))]
    where = (old.get("provenance", {}).get("device", "?"), new.get("provenance", {}).get("device", "?"))
    return (f"differs in {', '.join(fields)}" + (f" (metrics {', '.join(metrics[:4])})" if metrics else "")
            + f"; stored from {where[0]}, new from {where[1]}")
