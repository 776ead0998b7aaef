"""The results cache: one JSON record per run, keyed by everything that changes a result.

key = sha256(canonical JSON of the config's result-affecting fields, code version, data
checksum). Records are written to a temporary file in the same folder and renamed into
place, so a reader sees a whole record or none. Each record carries its provenance and the
sha256 of its own content (`content_sha256`): a record that fails it (truncated, edited,
bit rot) is moved aside to `<key>.json.corrupt` and reported as a miss, so it is recomputed
and never returned. `lock(key)` is an advisory per-key lock (flock, released by the kernel
when its holder dies, SIGKILL included): processes that would compute the same key take
turns, and the second finds the first's record instead of training again.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path

from . import settings


def make_key(config: dict, code_version: str, data_checksum: str) -> str:
    payload = json.dumps({"config": config, "code": code_version, "data": data_checksum},
                         sort_keys=True, separators=(",", ":"), default=list)
    return hashlib.sha256(payload.encode()).hexdigest()


def content_hash(record: dict) -> str:
    """sha256 of a record's canonical JSON, without its own `content_sha256` field."""
    body = {k: v for k, v in record.items() if k != "content_sha256"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=True, default=list)
    return hashlib.sha256(text.encode()).hexdigest()


class ResultsCache:
    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else settings.results_dir() / "cache"

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict | None:
        """The record stored under `key`, or None: missing, unreadable, foreign (another
        key) or failing its checksum (then moved aside as `<key>.json.corrupt`)."""
        p = self.path(key)
        try:
            record = json.loads(p.read_text())
        except FileNotFoundError:
            return None
        except (json.JSONDecodeError, UnicodeDecodeError):
            self._quarantine(p, "unreadable")
            return None
        if not isinstance(record, dict) or record.get("key") != key:
            return None
        if record.get("content_sha256") != content_hash(record):
            self._quarantine(p, "its content does not match its checksum")
            return None
        return record

    def _quarantine(self, p: Path, why: str) -> None:
        warnings.warn(f"results cache: {p.name} is {why}; moved aside to {p.name}.corrupt and recomputed",
                      stacklevel=3)
        with contextlib.suppress(OSError):
            os.replace(p, p.with_name(p.name + ".corrupt"))

    def put(self, key: str, record: dict) -> Path:
        p = self.path(key)
        p.parent.mkdir(parents=True, exist_ok=True)
        body = {**{k: v for k, v in record.items() if k != "content_sha256"}, "key": key}
        text = json.dumps(body, allow_nan=True, default=list)
        body = json.loads(text)                 # the record as a reader will see it
        body["content_sha256"] = content_hash(body)
        fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(body, f, allow_nan=True)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, p)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return p

    def checkpoint_path(self, key: str) -> Path:
        """Where the run of `key` keeps its resumable checkpoint while it trains (removed once
        its record is stored)."""
        return self.root / "checkpoints" / f"{key}.pt"

    @contextlib.contextmanager
    def lock(self, key: str):
        """Hold the advisory lock of `key` (blocks while another process holds it)."""
        p = self.path(key).with_suffix(".lock")
        p.parent.mkdir(parents=True, exist_ok=True)
        with open(p, "a") as f:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)

    def add_checksums(self) -> int:
        """Give the records written before checksums existed their `content_sha256` (a one-off
        migration of a local cache; unreadable records are left alone). Returns how many."""
        n = 0
        for p in self.root.glob("*/*.json"):
            try:
                record = json.loads(p.read_text())
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue
            if isinstance(record, dict) and "key" in record and "content_sha256" not in record:
                self.put(record["key"], record)
                n += 1
        return n

    def get_or_compute(self, key: str, compute) -> tuple[dict, bool]:
        """(record, cached): the stored record, or `compute()`'s, stored first. For analyses that
        are not training runs (loss landscapes); `compute` returns a JSON-able dict."""
        record = self.get(key)
        if record is not None:
            return record, True
        with self.lock(key):
            record = self.get(key)        # another process may have computed it meanwhile
            if record is not None:
                return record, True
            self.put(key, compute())
        return self.get(key), False

    def __contains__(self, key: str) -> bool:
        return self.get(key) is not None

    def keys(self) -> list[str]:
        # a write killed half-way leaves a .tmp-*.json file behind: never a result
        return sorted(p.stem for p in self.root.glob("*/*.json") if not p.name.startswith("."))
