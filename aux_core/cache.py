"""The local results cache, with the committed results store behind it.

A lookup reads this machine's cache (one JSON record per key, untracked) and then the store
(`aux_core.store`, committed); a new record goes into the cache, and into the store too when
publishing is switched on (AUX_CORE_PUBLISH=1). Keys are `aux_core.records.make_key`: the
result-affecting config, the data checksum and the numerics version, never the code version.

A record made by an older code version is served (it carries the numerics version of this
code) unless refreshing is switched on (AUX_CORE_REFRESH=1), when it counts as missing and is
retrained. Records are written to a temporary file and renamed into place, so a reader sees a
whole record or none; each carries the sha256 of its own content, and a cache record that
fails it (truncated, edited) is moved aside to `<key>.json.corrupt` and recomputed.
`lock(key)` is an advisory per-key lock (flock, released by the kernel when its holder dies,
SIGKILL included): processes that would compute the same key take turns.
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
import warnings
from pathlib import Path

from . import settings
from .provenance import is_stale
from .records import content_hash, make_key
from .store import Store

__all__ = ["ResultsCache", "TrainingRefused", "make_key", "content_hash"]


class TrainingRefused(LookupError):
    """A result is missing where training is switched off (AUX_CORE_NO_TRAINING=1: the book build)."""


class ResultsCache:
    def __init__(self, root: str | Path | None = None, store: Store | None | bool = True):
        self.root = Path(root) if root is not None else settings.results_dir() / "cache"
        self.store = Store() if store is True else (store if isinstance(store, Store) else None)

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict | None:
        """The record of `key` from this cache or the store, or None: missing, unreadable,
        failing its checksum, or made by an older code version while refreshing."""
        record = self.local(key)
        if record is None and self.store is not None:
            record = self.store.get(key)
        if record is not None and settings.refresh_stale() and is_stale(record):
            return None
        return record

    def local(self, key: str) -> dict | None:
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
        """Store `record` under `key` here (labelled with the chapter and profile it was made
        for), and in the store as well when publishing."""
        p = self.path(key)
        p.parent.mkdir(parents=True, exist_ok=True)
        body = {k: v for k, v in record.items() if k != "content_sha256"}
        body["labels"] = body.get("labels") or settings.labels()
        body["key"] = key
        body = json.loads(json.dumps(body, allow_nan=True, default=list))   # the record as a reader will see it
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
        if settings.publish() and self.store is not None:
            report = self.store.add([(str(p), body)])
            for k, shard, why in report.conflicts:
                warnings.warn(f"results store: not published, {k[:12]} is stored in {shard} with other numbers ({why})",
                              stacklevel=2)
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

    def get_or_compute(self, key: str, compute, what: str = "an analysis") -> tuple[dict, bool]:
        """(record, cached): the stored record, or `compute()`'s, stored first. For analyses that
        are not training runs (loss landscapes); `compute` returns a JSON-able dict."""
        record = self.get(key)
        if record is not None:
            return record, True
        refuse_training([what])
        with self.lock(key):
            record = self.get(key)        # another process may have computed it meanwhile
            if record is not None:
                return record, True
            self.put(key, compute())
        return self.get(key), False

    def __contains__(self, key: str) -> bool:
        return self.get(key) is not None

    def keys(self) -> list[str]:
        """The keys of this machine's cache (the store's are `self.store.keys()`)."""
        # a write killed half-way leaves a .tmp-*.json file behind: never a result
        return sorted(p.stem for p in self.root.glob("*/*.json") if not p.name.startswith("."))


def refuse_training(missing: list[str]) -> None:
    """Raise TrainingRefused, naming what is missing, where training is switched off."""
    if missing and not settings.training_allowed():
        shown = "; ".join(missing[:5]) + (f"; and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise TrainingRefused(
            f"{len(missing)} result(s) are in neither the results store nor the local cache, and training is "
            f"switched off ({settings.NO_TRAINING_ENV}=1): {shown}. Train them with this notebook at the same "
            f"profile (unset {settings.NO_TRAINING_ENV}), or build the book at a profile the store holds "
            "(`python -m aux_core.store summary`).")
